// Read-only dumps of a ServiceTable: every service port with its frontends, its three
// backend sets and, per backend, its Maglev fill (entries held) and wheel slots.
//
// Control thread only (the table is immutable, so dumping a published one is safe while
// workers read it). Order is the table's: service ports by (ns, name, port), frontends and
// backends as built, so two dumps of equal tables are byte-identical.
#pragma once

#include <string>

#include "lb/fastpath/service_table.hpp"

namespace enidp::lb {

// Human-readable, one line per object:
//   default/web:http/TCP id=0 maglev flags=- affinity-timeout=10800s
//     frontend ClusterIP 10.96.0.10:80/TCP
//     internal: 2 backends maglev=16381 empty=reject
//       10.1.0.1:8080 id=0 remote ready weight=1 maglev=8191
//     external: = internal
// A provisional Maglev table (IncrementalBuilder with a fill budget) shows the size it will be
// upgraded to: "maglev=1009 (provisional, 16381 pending)"; the first line then ends with
// ", N provisional maglev tables".
std::string dump_text(const ServiceTable& table);

// The same as JSON (`indent` < 0: one line). A provisional set has "maglev_pending_size" (its
// full size), and the root "maglev_provisional_sets" counts them (both absent when none).
std::string dump_json(const ServiceTable& table, int indent = 2);

const char* frontend_kind_name(FrontendKind kind);

}  // namespace enidp::lb

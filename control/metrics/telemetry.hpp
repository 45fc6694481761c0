// DPDK telemetry commands for enidp's tables, next to DPDK's own (/ethdev/stats, ...), on the
// EAL's telemetry socket (/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2; usable with
// dpdk-telemetry.py):
//
//   /enidp/info        node, generation, workers, pods, ENIs, mempool use
//   /enidp/drops       packets dropped, by reason (every reason, zeros included)
//   /enidp/events      the events counters (local answers, Service and policy events)
//   /enidp/ports       port ids; "/enidp/ports,<id>" one port's counters and owner
//   /enidp/services    Service table sizes and generation
//   /enidp/conntrack   conntrack occupancy and counters
//   /enidp/policy      policy snapshot, rule counts, per-pod allowed/denied ("ns/pod/allowed";
//                      characters other than letters, digits, '_' and '/' become '_'), verdict log
//   /enidp/workers     per worker: loops, busy cycles, the longest loop gap
//
// The control thread hands in fresh counters (update(), about once a second); the EAL's
// telemetry thread answers from that copy under a mutex, so a command never touches the
// data path. Register once after EAL init.
#pragma once

#include <memory>
#include <mutex>

#include "dataplane/runtime/dataplane.hpp"

namespace enidp::metrics {

class Telemetry {
public:
    // Registers the commands (false, with `error`, when EAL refuses one).
    static bool register_commands(std::string& error);
    // Control thread.
    static void update(const dp::DataplaneCounters& c, const std::string& node);
};

}  // namespace enidp::metrics

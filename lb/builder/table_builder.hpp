// build_table: Kubernetes Services + EndpointSlices + this node → the immutable ServiceTable
// the workers translate by, plus what the runtime must do to LbState around publication.
//
// Control thread only. Pure apart from `ids` (StableIds), which it advances: ids of objects
// that are gone come back in `retired_*` and stay quarantined until ids.release_retired().
//
// The runtime's sequence: result = build_table(...); for each (id, status) in
// backend_status set LbState::backends[id].status; publish result.table (RCU); set the
// retired ids' status kRemoved, purge their conntrack flows, then ids.release_retired().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lb/builder/ids.hpp"
#include "lb/builder/maglev.hpp"
#include "lb/fastpath/service_table.hpp"
#include "lb/model/service.hpp"

namespace enidp::lb {

struct BuildOptions {
    uint32_t maglev_default_size = kMaglevDefaultSize;  // automatic Maglev size when it holds 100 × n
    uint64_t generation = 0;                            // copied into ServiceTable::generation
    // IncrementalBuilder only (build_table is always exact): Maglev fill time (µs, measured) a
    // build may spend before the sets that need a new table get a provisional one. 0 = no
    // budget: every table is filled at its full size at once. See IncrementalBuilder.
    uint32_t maglev_fill_budget_us = 0;
};

struct BuildResult {
    std::unique_ptr<ServiceTable> table;
    // "ns/name: field: message", one per skipped Service, in (ns, name) order. Everything
    // else is still in the table.
    std::vector<std::string> errors;
    // Every backend id, ascending, with the status it should now have: one per endpoint still
    // in its Service port's slices (first address, resolved port), whether or not it is in a
    // backend set. kReady when ready, else kServingTerminating (serving or not: the fast path
    // only needs "not ready" to send new SYNs elsewhere while established flows keep going).
    std::vector<std::pair<uint32_t, BackendStatus>> backend_status;
    // Ascending: ids of endpoints that left the slices, or whose Service or port went away.
    // Set kRemoved and purge their flows. A terminating endpoint is not retired (#81775).
    std::vector<uint32_t> retired_backends;
    std::vector<uint32_t> retired_ports;  // ascending
    // externalTrafficPolicy: Local Services: healthCheckNodePort → local ready endpoints
    // (the most over the Service's ports), for the HTTP health responder (200 when > 0).
    std::map<uint16_t, uint32_t> health_check_local_endpoints;
    // Selection tables (Maglev tables, wheels) taken over from `previous` instead of built.
    uint32_t shared_tables = 0;
};

// Rules (kube-proxy's where it has one):
// - ExternalName and headless Services are ignored; a Service with an invalid field is
//   skipped with an error; a frontend already taken by an earlier Service in (ns, name)
//   order is an error on the later one.
// - Frontends per port: clusterIPs (kClusterIp, by_vip), the nodePort of NodePort and
//   LoadBalancer Services (kNodePort, by_node_port keyed (0, nodePort, proto)), externalIPs
//   (kExternalIp), and the ingress IPs of LoadBalancer Services (kLoadBalancer).
// - Backend ids: every endpoint of the port (collect_endpoints) keeps its id while it is in
//   the slices, in a set or not (a terminating endpoint outside every set keeps its flows);
//   only endpoints gone from the slices are retired.
// - Backends: see collect_endpoints and categorize_endpoints (lb/builder/endpoints.hpp).
//   internal = iTP Local ? local : cluster; external = eTP Local (and externally
//   accessible) ? local : cluster; cluster = the cluster endpoints, or the local ones when
//   both policies are Local (kube-proxy then sends a local pod's traffic to the Local chain).
//   empty_action = kReject when the port has no usable endpoint at all, else kDrop.
// - Per set: a Maglev table when the algorithm is Maglev and count > 1 (identical sets of
//   one port share their range and tables), a weighted wheel (see wheel_slots) when the
//   algorithm is weighted. Each is an immutable chunk (ServiceTable::chunks).
//
// Incremental builds: `previous` is the table built last with the same `ids` (normally the
// published one; it must stay alive during the call, and sharing keeps its chunks alive as
// long as the new table). A set whose service port (same stable id) had a set with the same
// algorithm, table size and ordered (ip, port, weight) backends shares that set's chunk
// instead of filling a new Maglev table or wheel (BuildResult::shared_tables counts them).
// The result is identical to a build without `previous`; everything else is rebuilt.
BuildResult build_table(std::span<const Service> services, std::span<const EndpointSlice> slices, const NodeInfo& node,
                        const BuildOptions& options, StableIds& ids, const ServiceTable* previous = nullptr);

// build_table for a control loop that knows what changed: it holds the Services and slices,
// is told each change (set_* / remove_*), and build() re-plans only the Services whose
// Service object or EndpointSlices changed since the last build (plus, while two Services
// claim one frontend, those whose acceptance the change decides). Everything else is copied
// from the Service's last result: no endpoint categorisation, id look-up or Maglev fill, so
// a build costs O(changed Services) plus one copy of the table's flat arrays.
//
// The table equals build_table's on the same objects (same ports, frontends, backends,
// Maglev entries and wheels, errors and health checks, in the same order) except for which
// stable ids new objects get. Ids: `ids` must be used by this builder only (it retires ids
// one by one, never by begin_build/end_build). BuildResult::backend_status lists only the
// backends of the re-planned Services (the others' status is unchanged); retired ids are
// those of endpoints, ports and Services that went away, as in build_table.
//
// Progressive Maglev publication (options.maglev_fill_budget_us > 0): a build times its Maglev
// fills (steady_clock around each populate). Once they took the budget, a set that needs a new
// Maglev table larger than provisional_maglev_size(n) = next_prime(100 n) gets one of that size
// instead (still ≥ 100 × n entries: every backend holds ⌊M/n⌋ or ⌈M/n⌉ of them, and the
// Service is served with its whole backend set at once), marked BackendSet::maglev_full_size.
// Then every build spends what is left of its budget (all of it when nothing changed) upgrading
// provisional Services, in (ns, name) order, to their full size: only the Maglev tables change
// (same ids, backends, statuses; no re-plan, nothing in backend_status), and the result is the
// table of a build without a budget. Changed Services are emitted first, so an upgrade never
// holds a change back. Established flows are in conntrack and keep their backend; a new flow of
// an upgraded Service may map to another backend, as after any Maglev size change.
//
// Control thread only. Not copyable.
class IncrementalBuilder {
public:
    IncrementalBuilder(NodeInfo node, BuildOptions options, StableIds& ids);
    ~IncrementalBuilder();
    IncrementalBuilder(const IncrementalBuilder&) = delete;
    IncrementalBuilder& operator=(const IncrementalBuilder&) = delete;

    // Adds or replaces by (ns, name). A slice follows its kubernetes.io/service-name.
    void set_service(Service service);
    void remove_service(const std::string& ns, const std::string& name);
    void set_slice(EndpointSlice slice);
    void remove_slice(const std::string& ns, const std::string& name);
    // Forgets everything (the next build retires every id it handed out).
    void clear();
    // Replaces the node (name, zone, node IPs): the next build re-plans every Service.
    void set_node(NodeInfo node);

    // Whether a change arrived since the last build.
    bool pending() const;
    // The table of everything set so far; `options.generation` is replaced by `generation`.
    // `previous`: the table the last build() returned, when the caller still has it (it must
    // stay alive during the call; any other table, even of the same generation, is not patched). A build in which no Service came or went and each changed
    // Service kept its layout (as many ports, backends, tables and names, the same frontends:
    // an endpoint replaced, one turning terminating, a Maglev upgrade) then copies it and writes
    // the changed Services over their old place: flat array copies instead of re-assembling
    // every Service (Stats::patched). The result is the same table either way.
    //
    // `churn` (the caller sees changes arriving faster than it publishes): with a fill budget,
    // the changed Services' full-size Maglev fills stop after kChurnFillBudget instead of the
    // budget, and no provisional table is upgraded. A Maglev fill of a 16381-entry table costs
    // ~0.1 ms, so 10,000 changed Services a second would take the whole control CPU (the one the
    // API's threads decode updates on); provisional ones cost ~5 µs. Builds without churn upgrade
    // them afterwards.
    BuildResult build(uint64_t generation, const ServiceTable* previous = nullptr, bool churn = false);
    static constexpr uint32_t kChurnFillBudgetUs = 1000;

    struct Stats {
        size_t services = 0;     // Services held (with a Service object)
        size_t replanned = 0;    // re-planned by the last build
        bool full_acceptance = false;  // the last build re-checked every Service's frontends
        size_t provisional_filled = 0;  // provisional Maglev tables the last build filled
        size_t upgraded = 0;            // provisional Maglev tables the last build upgraded
        double maglev_fill_ms = 0;      // the last build's Maglev fill time (measured with a budget only)
        bool patched = false;           // the last build patched a copy of `previous` (see build())
    };
    const Stats& stats() const { return stats_; }
    // Provisional Maglev tables in the last build's table (distinct tables: identical sets of a
    // port share one). The next build upgrades some; 0 without a budget.
    size_t provisional() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    Stats stats_;
};

inline constexpr uint32_t kWheelMaxSize = 65536;

// The size of a provisional Maglev table for n backends: next_prime(100 n), the smallest that
// balances them evenly.
uint32_t provisional_maglev_size(uint32_t backends);

// Wheel slots per backend for `weights`: reduced by their gcd; when the total exceeds
// kWheelMaxSize, scaled down so it fits while every weight > 0 keeps at least one slot.
// All zero → all zero (the set is drained: select_backend returns kNone).
std::vector<uint32_t> wheel_slots(std::span<const uint16_t> weights);

}  // namespace enidp::lb

// The Service half of the reconciler: desired state (objects::Store) → lb/builder →
// Dataplane::set_services.
//
// Control thread only. sync() follows the store by generation (Store::models_since: only the
// Services and EndpointSlices changed since the last sync are read) and hands them to an
// lb::IncrementalBuilder, which re-plans only the Services they touch and copies the rest of
// the table; the result is published hitlessly (pointer swap, RCU-deferred free, conntrack
// purge of deleted endpoints, then the retired ids are released). Objects the builder rejects
// are reported and left out; the rest of the table is still published.
//
// Minimum sync period (kube-proxy's minSyncPeriod): a change that arrives less than
// `min_sync_period` after the last publication waits until that much time has passed, and
// every change that arrives meanwhile goes into the same publication. A change after a quiet
// spell is published at once. 0 = publish as soon as the previous publication is done (changes
// that arrive during a build still go into one publication together).
//
// Progressive Maglev publication (`maglev_fill_budget`, lb.maglev_fill_budget_ms): a build
// fills Maglev tables at their full size for that long, then gives the remaining Services that
// need a new table a provisional one (next_prime(100 × backends) entries: evenly balanced, the
// whole backend set served), so a bulk change is visible after about one budget of fills; see
// lb::IncrementalBuilder. realized_generation() is the store generation as soon as that table is
// published. While provisional tables remain, due() asks for a follow-up sync (one minimum sync
// period after the last publication); each upgrades what the budget allows, in a publication of
// its own, until none remain. A store change is never held back by them: it goes into the next
// build, ahead of the upgrades, which only get what its fills leave of the budget (a change
// arriving during an upgrade build waits for that build, about one budget). A new connection to
// an upgraded Service may pick another backend (any Maglev size change does that); established
// ones are in conntrack and keep theirs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "control/objects/store.hpp"
#include "dataplane/runtime/dataplane.hpp"
#include "lb/builder/table_builder.hpp"

namespace enidp::reconcile {

// An externalTrafficPolicy: Local Service's healthCheckNodePort and what it answers.
struct HealthCheck {
    std::string ns, name;
    uint32_t local_endpoints = 0;
};

struct SyncReport {
    bool rebuilt = false;
    bool deferred = false;  // the store moved but the minimum sync period holds the build back
    uint64_t store_generation = 0;
    uint64_t table_generation = 0;
    size_t services = 0, frontends = 0, backends = 0;
    size_t changes = 0;    // Service / EndpointSlice changes read from the store
    size_t replanned = 0;  // Services re-planned (the rest were copied)
    size_t retired_backends = 0;
    size_t provisional = 0;  // provisional Maglev tables in the published table
    size_t upgraded = 0;     // provisional Maglev tables this publication upgraded to their full size
    uint64_t purged_flows = 0;
    double build_ms = 0, publish_ms = 0;
    double read_ms = 0;     // of build_ms: reading the store's changes into the builder
    bool patched = false;   // the table was a patched copy of the last one (lb::IncrementalBuilder::build)
    bool churn = false;     // changes had waited for the minimum sync period: a churn build
    std::vector<std::string> errors;  // "ns/name: field: message" per Service left out
    std::map<uint16_t, HealthCheck> health_checks;  // by healthCheckNodePort (when rebuilt)
};

class ServiceReconciler {
public:
    using Clock = std::chrono::steady_clock;

    // The default Maglev fill budget per build (config: lb.maglev_fill_budget_ms).
    static constexpr std::chrono::milliseconds kDefaultMaglevFillBudget{100};

    ServiceReconciler(const objects::Store& store, dp::Dataplane& dataplane, lb::NodeInfo node,
                      uint32_t maglev_default_size, std::chrono::milliseconds min_sync_period = {},
                      std::chrono::milliseconds maglev_fill_budget = kDefaultMaglevFillBudget);

    // Rebuilds and publishes if the store's Services or EndpointSlices changed (or `force`,
    // which also skips the minimum sync period), or to upgrade provisional Maglev tables (once
    // the minimum sync period has passed). Never throws.
    SyncReport sync(bool force = false);
    // The store generation the data path reflects: the published table was built from it (other
    // kinds' changes do not need a publication and are realized at once).
    uint64_t realized_generation() const { return realized_; }
    // When a sync held back by the minimum sync period, or the next upgrade of provisional
    // Maglev tables, is due (nullopt: none is waiting).
    std::optional<Clock::time_point> due() const;
    // Provisional Maglev tables in the published table (0: every table has its full size).
    size_t provisional() const { return builder_.provisional(); }
    // The work of a publication nobody waits for, kept off the change → realized path: purges
    // the conntrack flows of the backends it removed (they are marked removed before the
    // publication, so the fast path already ignores those flows), then releases their ids, and
    // frees the table it replaced. The daemon calls it after answering the calls queued behind
    // the sync; sync() calls it first if it has not run. Returns the flows purged.
    uint64_t finish_publication();
    const lb::StableIds& ids() const { return ids_; }
    // UpdateNodeSettings: a new node (zone, node IPs) re-plans every Service in the next build
    // (call sync(true) for it to happen at once); a new minimum sync period holds from now.
    void set_node(lb::NodeInfo node) { builder_.set_node(std::move(node)); }
    void set_min_sync_period(std::chrono::milliseconds period) { min_sync_period_ = period; }

private:
    const objects::Store& store_;
    dp::Dataplane& dp_;
    lb::StableIds ids_;
    lb::IncrementalBuilder builder_;
    std::chrono::milliseconds min_sync_period_;
    std::map<std::pair<std::string, std::string>, uint16_t> health_check_ports_;  // Services with one
    uint64_t seen_ = 0;      // store generation read into builder_
    uint64_t realized_ = 0;  // store generation the published table was built from
    uint64_t table_generation_ = 0;
    bool first_ = true;
    bool waiting_ = false;   // a deferred sync is pending
    bool deferred_change_ = false;  // ... for a change (the next build is a churn build)
    Clock::time_point last_publish_{};
    bool unfinished_ = false;  // finish_publication() has work
    std::vector<uint32_t> retired_;  // ... backend ids the publication removed (their flows to purge)
    std::shared_ptr<const lb::ServiceTable> published_, replaced_;
};

}  // namespace enidp::reconcile

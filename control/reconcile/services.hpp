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
    uint64_t purged_flows = 0;
    double build_ms = 0, publish_ms = 0;
    std::vector<std::string> errors;  // "ns/name: field: message" per Service left out
    std::map<uint16_t, HealthCheck> health_checks;  // by healthCheckNodePort (when rebuilt)
};

class ServiceReconciler {
public:
    using Clock = std::chrono::steady_clock;

    ServiceReconciler(const objects::Store& store, dp::Dataplane& dataplane, lb::NodeInfo node,
                      uint32_t maglev_default_size, std::chrono::milliseconds min_sync_period = {});

    // Rebuilds and publishes if the store's Services or EndpointSlices changed (or `force`,
    // which also skips the minimum sync period). Never throws.
    SyncReport sync(bool force = false);
    // The store generation the data path reflects: the published table was built from it (other
    // kinds' changes do not need a publication and are realized at once).
    uint64_t realized_generation() const { return realized_; }
    // When a sync held back by the minimum sync period is due (nullopt: none is waiting).
    std::optional<Clock::time_point> due() const;
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
    Clock::time_point last_publish_{};
    bool unfinished_ = false;  // finish_publication() has work
    std::shared_ptr<const lb::ServiceTable> published_, replaced_;
};

}  // namespace enidp::reconcile

#include "control/reconcile/services.hpp"

#include <chrono>

namespace enidp::reconcile {

ServiceReconciler::ServiceReconciler(const objects::Store& store, dp::Dataplane& dataplane, lb::NodeInfo node,
                                     uint32_t maglev_default_size)
    : store_(store),
      dp_(dataplane),
      node_(std::move(node)),
      ids_(dataplane.lb_state().port_capacity, dataplane.lb_state().backend_capacity),
      maglev_default_size_(maglev_default_size) {}

SyncReport ServiceReconciler::sync(bool force) {
    SyncReport r;
    r.store_generation = store_.generation();
    if (!force && !first_ && r.store_generation == realized_) return r;
    first_ = false;
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const objects::Snapshot snap = store_.snapshot();
    lb::BuildOptions opt;
    opt.maglev_default_size = maglev_default_size_;
    opt.generation = ++table_generation_;
    // The published table stays alive on this (the only publishing) thread while we build:
    // its unchanged Maglev tables and wheels are shared, not rebuilt.
    lb::BuildResult b = lb::build_table(snap.services, snap.slices, node_, opt, ids_, &dp_.services());
    const auto t1 = clock::now();
    r.errors = std::move(b.errors);
    for (const auto& [port, n] : b.health_check_local_endpoints)
        for (const lb::Service& svc : snap.services)
            if (svc.health_check_node_port == port) r.health_checks[port] = HealthCheck{svc.ns, svc.name, n};
    r.services = snap.services.size();
    r.frontends = b.table->frontends.size();
    r.backends = b.table->backends.size();
    r.retired_backends = b.retired_backends.size();
    const uint64_t purged_before = dp_.conntrack().counters().purged;
    dp_.set_services(std::shared_ptr<const lb::ServiceTable>(std::move(b.table)), b.backend_status, b.retired_backends);
    ids_.release_retired();  // set_services purged the retired backends' flows
    r.purged_flows = dp_.conntrack().counters().purged - purged_before;
    const auto t2 = clock::now();
    r.build_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    r.publish_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    r.rebuilt = true;
    r.table_generation = opt.generation;
    realized_ = snap.generation;
    return r;
}

}  // namespace enidp::reconcile

#include "control/reconcile/services.hpp"

namespace enidp::reconcile {

namespace {

lb::BuildOptions options_for(uint32_t maglev_default_size, std::chrono::milliseconds maglev_fill_budget) {
    lb::BuildOptions o;
    o.maglev_default_size = maglev_default_size;
    o.maglev_fill_budget_us = static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(maglev_fill_budget).count());
    return o;
}

double ms_between(ServiceReconciler::Clock::time_point a, ServiceReconciler::Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

ServiceReconciler::ServiceReconciler(const objects::Store& store, dp::Dataplane& dataplane, lb::NodeInfo node,
                                     uint32_t maglev_default_size, std::chrono::milliseconds min_sync_period,
                                     std::chrono::milliseconds maglev_fill_budget)
    : store_(store),
      dp_(dataplane),
      ids_(dataplane.lb_state().port_capacity, dataplane.lb_state().backend_capacity),
      builder_(std::move(node), options_for(maglev_default_size, maglev_fill_budget), ids_),
      min_sync_period_(min_sync_period) {}

uint64_t ServiceReconciler::finish_publication() {
    if (!unfinished_) return 0;
    unfinished_ = false;
    const lb::LbState& st = dp_.lb_state();
    // Only a removed backend that still has flows needs the walk over the whole conntrack table
    // (every slot: ~1.5 ms at 262,144 flows, empty or not). Each flow is counted in its
    // backend's `active` from its insert to its erase, and the publication's grace period has
    // passed, so no worker can still add a flow to a removed backend: zero means none to find.
    // (An upgrade of provisional tables removes no backend at all.)
    bool purge = false;
    for (uint32_t id : retired_)
        if (id < st.backend_capacity && st.backends[id].active.load(std::memory_order_relaxed) != 0) {
            purge = true;
            break;
        }
    retired_.clear();
    const uint64_t purged = !purge ? 0 : dp_.conntrack().purge([&st](uint32_t id) {
        return id < st.backend_capacity && st.backends[id].status.load(std::memory_order_relaxed) ==
                                               static_cast<uint8_t>(lb::BackendStatus::kRemoved);
    });
    ids_.release_retired();
    replaced_.reset();
    return purged;
}

std::optional<ServiceReconciler::Clock::time_point> ServiceReconciler::due() const {
    if (!waiting_ && builder_.provisional() == 0) return std::nullopt;
    return last_publish_ + min_sync_period_;
}

SyncReport ServiceReconciler::sync(bool force) {
    SyncReport r;
    r.store_generation = store_.generation();
    const bool changed = r.store_generation != seen_;
    if (!force && !first_ && !changed && builder_.provisional() == 0) return r;
    const auto t0 = Clock::now();
    if (!force && !first_ && t0 < last_publish_ + min_sync_period_) {
        waiting_ = true;
        r.deferred = changed;  // (only upgrades waiting is not a deferred change)
        deferred_change_ = deferred_change_ || changed;
        return r;
    }
    waiting_ = false;
    // Churn: a change had to wait for the minimum sync period, i.e. changes arrive faster than
    // one publication per period. Its build spends little on Maglev fills (IncrementalBuilder).
    r.churn = deferred_change_;
    deferred_change_ = false;
    r.purged_flows = finish_publication();  // the last publication's, if the loop has not yet

    // What changed since the last sync; everything when the store forgot deletions we missed.
    static const std::vector<std::string> kKinds = {"Service", "EndpointSlice"};
    objects::ModelsSince changes = store_.models_since(seen_, kKinds);
    if (first_ || !changes.complete) {
        builder_.clear();
        health_check_ports_.clear();
        changes = store_.models_since(0, kKinds);
    }
    first_ = false;
    r.store_generation = changes.generation;
    r.changes = changes.changes.size();
    for (objects::ModelChange& c : changes.changes) {
        const auto key = std::make_pair(c.key.ns, c.key.name);
        if (c.key.kind == "Service") {
            health_check_ports_.erase(key);
            if (!c.model) {
                builder_.remove_service(c.key.ns, c.key.name);
                continue;
            }
            auto& svc = std::get<lb::Service>(*c.model);
            if (svc.health_check_node_port != 0) health_check_ports_[key] = svc.health_check_node_port;
            builder_.set_service(std::move(svc));
        } else if (!c.model) {
            builder_.remove_slice(c.key.ns, c.key.name);
        } else {
            builder_.set_slice(std::move(std::get<lb::EndpointSlice>(*c.model)));
        }
    }
    seen_ = changes.generation;
    r.read_ms = ms_between(t0, Clock::now());
    if (!force && !builder_.pending() && builder_.provisional() == 0) {
        realized_ = seen_;  // other kinds only: nothing for the Service table
        return r;
    }

    lb::BuildResult b = builder_.build(++table_generation_, published_.get(), r.churn);
    const auto t1 = Clock::now();
    r.errors = std::move(b.errors);
    for (const auto& [port, n] : b.health_check_local_endpoints)
        for (const auto& [svc, hc_port] : health_check_ports_)
            if (hc_port == port) r.health_checks.try_emplace(port, HealthCheck{svc.first, svc.second, n});
    r.services = builder_.stats().services;
    r.replanned = builder_.stats().replanned;
    r.frontends = b.table->frontends.size();
    r.backends = b.table->backends.size();
    r.retired_backends = b.retired_backends.size();
    r.provisional = builder_.provisional();
    r.upgraded = builder_.stats().upgraded;
    r.patched = builder_.stats().patched;
    retired_ = b.retired_backends;
    // Retired backends are marked removed with the other statuses, before the table is
    // published; their flows are purged and their ids released by finish_publication().
    for (uint32_t id : b.retired_backends) b.backend_status.emplace_back(id, lb::BackendStatus::kRemoved);
    replaced_ = std::move(published_);  // freed by finish_publication(), not on this path
    published_ = std::shared_ptr<const lb::ServiceTable>(std::move(b.table));
    dp_.set_services(published_, b.backend_status, {});
    unfinished_ = true;
    const auto t2 = Clock::now();
    r.build_ms = ms_between(t0, t1);
    r.publish_ms = ms_between(t1, t2);
    r.rebuilt = true;
    r.table_generation = table_generation_;
    realized_ = seen_;
    last_publish_ = t2;
    return r;
}

}  // namespace enidp::reconcile

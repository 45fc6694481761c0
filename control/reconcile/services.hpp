// The Service half of the reconciler: desired state (objects::Store) → lb/builder →
// Dataplane::set_services.
//
// Control thread only. sync() rebuilds the Service table when the store's generation has
// moved since the last build and publishes it hitlessly (pointer swap, RCU-deferred free,
// conntrack purge of deleted endpoints, then the retired ids are released). Objects the
// builder rejects are reported and left out; the rest of the table is still published.
#pragma once

#include <cstdint>
#include <map>
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
    uint64_t store_generation = 0;
    uint64_t table_generation = 0;
    size_t services = 0, frontends = 0, backends = 0;
    size_t retired_backends = 0;
    uint64_t purged_flows = 0;
    double build_ms = 0, publish_ms = 0;
    std::vector<std::string> errors;  // "ns/name: field: message" per Service left out
    std::map<uint16_t, HealthCheck> health_checks;  // by healthCheckNodePort (when rebuilt)
};

class ServiceReconciler {
public:
    ServiceReconciler(const objects::Store& store, dp::Dataplane& dataplane, lb::NodeInfo node,
                      uint32_t maglev_default_size);

    // Rebuilds and publishes if the store changed (or `force`). Never throws.
    SyncReport sync(bool force = false);
    uint64_t realized_generation() const { return realized_; }
    const lb::StableIds& ids() const { return ids_; }

private:
    const objects::Store& store_;
    dp::Dataplane& dp_;
    lb::NodeInfo node_;
    lb::StableIds ids_;
    uint32_t maglev_default_size_;
    uint64_t realized_ = 0;  // store generation the published table was built from
    uint64_t table_generation_ = 0;
    bool first_ = true;
};

}  // namespace enidp::reconcile

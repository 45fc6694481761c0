// The NetworkPolicy half of the reconciler: desired state (Pods, Namespaces,
// NetworkPolicies, PayloadPolicies in objects::Store) + the node's local pods →
// acl::compile → acl::SnapshotBuilder → Dataplane::set_policy.
//
// Control thread only. sync() recompiles only when an object of those kinds changed or the
// set of local pods changed. A compile or build error leaves the published snapshot in
// place (and is reported); with no NetworkPolicy and no PayloadPolicy left, the snapshot is
// withdrawn and nothing is enforced. A local pod with no Pod object in the store is compiled
// as a pod with its attachment's IP and no labels (so namespace-wide policies still select it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "acl/compiler/compiler.hpp"
#include "control/objects/store.hpp"
#include "dataplane/runtime/dataplane.hpp"

namespace enidp::reconcile {

struct PolicySyncReport {
    bool rebuilt = false;     // a new snapshot (or none) was published
    bool active = false;      // a policy snapshot is in force after this call
    uint64_t generation = 0;  // policy snapshot generation published
    size_t policies = 0, payload_policies = 0, local_pods = 0;
    size_t rules_ingress = 0, rules_egress = 0;
    double compile_ms = 0, build_ms = 0, publish_ms = 0;
    std::string error;                  // why nothing was published (compile / build / pattern errors)
    std::vector<std::string> warnings;  // inputs read leniently (see acl compiler)
};

class PolicyReconciler {
public:
    PolicyReconciler(const objects::Store& store, dp::Dataplane& dataplane) : store_(store), dp_(dataplane) {}

    PolicySyncReport sync(bool force = false);
    // The last successful compile (for per-pod dumps); empty before the first.
    const acl::CompiledPolicy& compiled() const { return compiled_; }

private:
    bool relevant_change();

    const objects::Store& store_;
    dp::Dataplane& dp_;
    uint64_t seen_generation_ = 0;
    std::vector<std::pair<std::string, uint32_t>> seen_pods_;
    uint64_t snapshot_generation_ = 0;
    bool first_ = true;
    acl::CompiledPolicy compiled_;
};

}  // namespace enidp::reconcile

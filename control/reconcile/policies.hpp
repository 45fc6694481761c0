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
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "acl/compiler/compiler.hpp"
#include "acl/offload/eni_offload.hpp"
#include "acl/offload/plan.hpp"
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

struct PolicyOptions {
    // rte_flow NIC drops on each pod's ENI (acl/offload): planned from the compiled policy,
    // stale rules removed before a snapshot is published and new ones added after it, so the
    // NIC never drops what the published software policy admits for longer than a publication.
    bool offload = false;
    uint32_t offload_max_rules = 256;
};

class PolicyReconciler {
public:
    PolicyReconciler(const objects::Store& store, dp::Dataplane& dataplane, PolicyOptions opts = {})
        : store_(store), dp_(dataplane), opts_(opts) {}
    ~PolicyReconciler();

    PolicySyncReport sync(bool force = false);
    // The last successful compile (for per-pod dumps); empty before the first.
    const acl::CompiledPolicy& compiled() const { return compiled_; }
    // The NIC offload per ENI port: each plan's reason and every rule's state (text).
    std::string offload_text() const;

private:
    bool relevant_change();
    // Plans for every local pod with an ENI (empty when offload is off or nothing is published).
    std::map<uint16_t, acl::OffloadPlan> plan_offload(const acl::CompiledPolicy& c) const;

    const objects::Store& store_;
    dp::Dataplane& dp_;
    uint64_t seen_generation_ = 0;
    std::vector<std::pair<std::string, uint32_t>> seen_pods_;
    uint64_t snapshot_generation_ = 0;
    bool first_ = true;
    acl::CompiledPolicy compiled_;
    PolicyOptions opts_;
    std::map<uint16_t, std::unique_ptr<acl::EniOffload>> offload_;  // by ENI port
};

}  // namespace enidp::reconcile

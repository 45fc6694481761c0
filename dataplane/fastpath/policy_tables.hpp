// What a dataplane Snapshot carries for NetworkPolicy: the published acl::PolicySnapshot,
// its 16-bit generation stamp for flows' verdict caches, and the per-worker counters that
// belong to that publication.
//
// Who may call: workers read through a published Snapshot and bump their own worker's
// counters; the runtime (control thread) allocates a PolicyPublication per set_policy,
// reads the counters, and folds them into totals by name once the publication is retired.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "acl/fastpath/policy_snapshot.hpp"
#include "dataplane/fastpath/counter.hpp"

namespace enidp::dp {

// One worker's counters for one policy publication. Indexed by the publication's policy
// index (acl RuleRef::policy), payload policy index and pod policy id.
struct PolicyCounters {
    uint32_t policies = 0, payload_policies = 0, pods = 0;
    std::unique_ptr<Counter[]> allowed_by_policy;   // flows a rule of the policy admitted
    std::unique_ptr<Counter[]> denied_by_payload;   // packets a payload policy denied
    std::unique_ptr<Counter[]> allowed_by_pod;      // flow decisions per local pod (both directions)
    std::unique_ptr<Counter[]> denied_by_pod;

    void allocate(uint32_t n_policies, uint32_t n_payload, uint32_t n_pods) {
        policies = n_policies;
        payload_policies = n_payload;
        pods = n_pods;
        allowed_by_policy = std::make_unique<Counter[]>(n_policies + 1);
        denied_by_payload = std::make_unique<Counter[]>(n_payload + 1);
        allowed_by_pod = std::make_unique<Counter[]>(n_pods + 1);
        denied_by_pod = std::make_unique<Counter[]>(n_pods + 1);
    }
    void allow_policy(uint32_t i) {
        if (i < policies) allowed_by_policy[i].inc();
    }
    void deny_payload(uint32_t i) {
        if (i < payload_policies) denied_by_payload[i].inc();
    }
    void pod_verdict(uint32_t pod, bool allowed) {
        if (pod >= pods) return;
        (allowed ? allowed_by_pod : denied_by_pod)[pod].inc();
    }
};

// A published policy state: the snapshot and its counters (one block per worker).
struct PolicyPublication {
    std::shared_ptr<const acl::PolicySnapshot> snapshot;
    std::vector<PolicyCounters> counters;  // [worker]
};

struct PolicyTables {
    const acl::PolicySnapshot* snap = nullptr;  // null: no NetworkPolicy / PayloadPolicy on the node
    uint16_t gen = 0;                           // never 0 while snap is set (0 = "never decided" in a Flow)
    PolicyCounters* counters = nullptr;         // [worker]; may be null (tests)

    bool active() const { return snap != nullptr; }
    static uint16_t stamp(uint64_t generation) { return static_cast<uint16_t>(generation % 65535 + 1); }
};

}  // namespace enidp::dp

// NetworkPolicy compiler: Kubernetes networking.k8s.io/v1 semantics on the acl model
// (acl/model/policy.hpp) → per local pod and direction, "isolated or not" and the allowed
// (remote prefix, protocol, port range, policy, rule) entries. docs/networkpolicy.md lists
// every semantic choice.
//
// Control thread only (allocates, may take milliseconds). Pure: no DPDK calls; the result
// goes to SnapshotBuilder (acl/compiler/snapshot_builder.hpp) to become rte_acl contexts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "acl/fastpath/policy_snapshot.hpp"
#include "acl/model/policy.hpp"

namespace enidp::acl {

// Everything the compiler reads: all Namespaces, all Pods of the cluster (remote pods are
// how selectors become IPs), all NetworkPolicies and PayloadPolicies.
struct ClusterState {
    std::vector<Namespace> namespaces;
    std::vector<Pod> pods;
    std::vector<NetworkPolicy> policies;
    std::vector<PayloadPolicy> payload_policies;
};

// A pod on this node, with the id the dataplane classifies it by.
struct LocalPod {
    std::string ns;
    std::string name;
    uint32_t id = 0;  // < kMaxPodId, unique
};

inline constexpr uint8_t kAnyProtocol = 0;  // an entry from a rule without ports

struct AllowEntry {
    uint32_t addr = 0;  // remote prefix, network order
    uint8_t prefix_len = 0;
    uint8_t protocol = kAnyProtocol;  // 6/17/132, or kAnyProtocol (every protocol, every port)
    uint16_t port_lo = 0;             // host order, inclusive
    uint16_t port_hi = 65535;
    uint32_t policy = 0;  // index into ClusterState::policies / CompiledPolicy::policy_names
    uint32_t rule = 0;    // index in the policy's ingress or egress list
};

struct DirectionRules {
    bool isolated = false;
    std::vector<uint32_t> selecting_policies;  // policies that isolate the pod in this direction
    std::vector<AllowEntry> entries;           // allow-list; deduplicated, first rule kept
    std::vector<uint32_t> payload_policies;    // PayloadPolicies selecting the pod in this direction
};

struct PodRules {
    uint32_t id = 0;
    std::string ns;
    std::string name;
    std::vector<uint32_t> ips;  // network order
    bool host_network = false;
    DirectionRules dir[kDirections];
    const DirectionRules& in(Direction d) const { return dir[static_cast<int>(d)]; }
};

struct CompiledPolicy {
    std::vector<std::string> policy_names;        // "ns/name", same order as ClusterState::policies
    std::vector<PodRules> pods;                   // one per LocalPod, same order
    std::vector<PayloadPolicy> payload_policies;  // copied from ClusterState (patterns, ports, actions)
    std::vector<std::string> warnings;            // input the API server would have rejected, and how it was read
};

struct CompileResult {
    bool ok = true;
    std::string error;  // when !ok: what is wrong, for a person
    CompiledPolicy policy;
};

// Control thread. Errors: a local pod missing from state.pods, a duplicate or too-large id.
CompileResult compile(const ClusterState& state, const std::vector<LocalPod>& local);

// Which directions a policy affects (policyTypes as given, or inferred: Ingress always,
// Egress when the egress list is non-empty — the API server's defaulting).
bool policy_affects(const NetworkPolicy& p, Direction d);

// metav1.LabelSelector semantics.
bool selector_matches(const LabelSelector& s, const std::map<std::string, std::string>& labels);

}  // namespace enidp::acl

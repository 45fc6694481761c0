// NetworkPolicy NIC offload, part 1: the planner. From a CompiledPolicy and one local pod
// (the pod that owns an ENI) it computes which stateless rte_flow rules can be put in that
// ENI's NIC without ever dropping a packet the software path (rte_acl in the workers,
// conntrack for replies and related ICMP errors) would have let through.
//
// Control thread only. Pure: no DPDK call, no allocation outside the returned plan's
// vectors. The result goes to EniOffload::sync (acl/offload/eni_offload.hpp).
//
// What is offloaded (docs/networkpolicy.md, "NIC offload (rte_flow)"):
//   * kBlock      — drop IPv4 src ∈ blocklist prefix, dst = a pod IP (any protocol).
//   * kExemptIcmp — IPv4 proto ICMP, dst = a pod IP → QUEUE (a terminating accept): ICMP
//                   errors of the pod's own connections come from routers no rule names.
//   * kPolicyDrop — drop IPv4 src ∈ prefix, dst = a pod IP, for every source that no
//                   ingress rule admits (new inbound) AND no egress rule admits (a reply
//                   source) AND no OffloadOptions::extra_allowed prefix covers. Only when
//                   the pod is isolated for ingress AND egress; otherwise any remote may be
//                   the source of a reply and only the blocklist is offloaded.
// Ports and protocols of the allow entries are ignored (a source admitted for one port is
// never dropped), so a named port or a port range only ever widens what stays in software.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "acl/compiler/cidr.hpp"
#include "acl/compiler/compiler.hpp"

namespace enidp::acl {

struct OffloadOptions {
    // Node blocklist: sources dropped whatever the policy says (replies included). Host
    // byte order. Nothing in software enforces it yet: the caller must, if it needs the
    // blocklist to hold when the NIC rejects a rule (EniOffload::state() says which).
    std::vector<Prefix> blocklist;
    // Sources the software path admits outside NetworkPolicy (node addresses, health
    // checkers, the ENI's SNAT address when it equals the pod IP, ...). Never dropped.
    std::vector<Prefix> extra_allowed;
    // At most this many rules per pod; beyond it only the blocklist is offloaded.
    size_t max_rules = 256;
    // rte_flow priorities used: base_priority .. base_priority + kPriorityTiers - 1
    // (net_tap: attr.priority must stay within its limit, see docs).
    uint32_t base_priority = 0;
    // Install the ICMP exemption (kExemptIcmp) before policy drops. Turn off only when the
    // software path is known to drop related ICMP errors from unlisted sources anyway.
    bool exempt_icmp = true;
    uint16_t icmp_queue = 0;  // QUEUE action of kExemptIcmp (must be < the port's RX queues)
};

enum class OffloadRuleKind : uint8_t { kBlock = 0, kExemptIcmp = 1, kPolicyDrop = 2 };
const char* to_string(OffloadRuleKind k);

// Priority layout (lower value = matched first): blocklist by prefix length, then the ICMP
// exemption, then policy drops by prefix length. One priority per (kind, prefix length) so
// every TC flower instance has a single mask (kernels before 4.20 need that).
inline constexpr uint32_t kPriorityTiers = 33 + 1 + 33;
inline constexpr uint32_t offload_priority(OffloadRuleKind k, uint8_t src_len) {
    switch (k) {
        case OffloadRuleKind::kBlock: return 32u - src_len;
        case OffloadRuleKind::kExemptIcmp: return 33u;
        case OffloadRuleKind::kPolicyDrop: return 34u + (32u - src_len);
    }
    return 0;
}

// One rte_flow rule: eth / ipv4 (src = src/src_len, dst = dst/32, proto) / end → action.
struct OffloadRule {
    // Declaration order is the sort order (kind, priority, src, dst, ...).
    OffloadRuleKind kind = OffloadRuleKind::kBlock;
    uint32_t priority = 0;   // rte_flow attr.priority (already includes base_priority)
    uint32_t src = 0;        // host order, masked
    uint32_t dst = 0;        // host order, the pod IP
    uint8_t src_len = 0;
    uint8_t proto = 0;       // 0 = any
    uint16_t queue = 0;      // kExemptIcmp only
    auto operator<=>(const OffloadRule&) const = default;
    bool operator==(const OffloadRule&) const = default;
    bool is_drop() const { return kind != OffloadRuleKind::kExemptIcmp; }
};
std::string to_string(const OffloadRule& r);  // "policy-drop 10.0.0.0/8 -> 10.1.0.5 prio 58"

struct OffloadPlan {
    uint32_t pod_id = 0;
    std::string pod;                 // "ns/name", for dumps
    bool policy_offloaded = false;   // kPolicyDrop/kExemptIcmp rules present
    std::string reason;              // why policy drops are absent or cut, for a person
    size_t droppable_prefixes = 0;   // complement of the admitted sources, per pod IP
    // Sorted (OffloadRule's operator<: kind, priority, src, dst). kPolicyDrop rules depend on every
    // kExemptIcmp rule of the plan: EniOffload never installs one without the others.
    std::vector<OffloadRule> rules;
};

// The plan for one local pod (by LocalPod::id). An unknown id gives an empty plan with a
// reason. Control thread.
OffloadPlan plan_eni_offload(const CompiledPolicy& compiled, uint32_t pod_id, const OffloadOptions& opts);
OffloadPlan plan_eni_offload(const PodRules& pod, const OffloadOptions& opts);

// Set arithmetic used by the planner (host order): the complement of the union of
// `allowed` within 0.0.0.0/0, as a minimal sorted list of disjoint prefixes. O(n log n).
std::vector<Prefix> complement_prefixes(std::vector<Prefix> allowed);
// Union of `prefixes` as a minimal sorted list of disjoint prefixes.
std::vector<Prefix> normalize_prefixes(std::vector<Prefix> prefixes);

}  // namespace enidp::acl

// PolicySnapshot: the immutable, published form of the compiled NetworkPolicy state — one
// rte_acl context per direction, per-pod isolation bits, and the table that turns an
// rte_acl userdata back into (policy, rule) for "which rule decided".
//
// Built by the control thread (acl/compiler/snapshot_builder.hpp), published by pointer
// swap, read by workers through acl/fastpath/classify.hpp, and destroyed by the control
// thread after an RCU grace period (the destructor calls rte_acl_free). Workers only call
// the const accessors marked "worker" below.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_acl.h>

namespace enidp::acl {

class PayloadSnapshot;  // acl/fastpath/payload.hpp

enum class Direction : uint8_t { kIngress = 0, kEgress = 1 };
inline constexpr int kDirections = 2;

// rte_acl input layout, shared by the builder (field definitions) and the classifier (key
// fill). rte_acl requires the first field to be one byte and reads each input_index group
// as 4 bytes; values are in network byte order in the key, host order in the rules.
struct alignas(4) AclKey {
    uint8_t proto;  // IP protocol
    uint8_t pad[3];
    uint32_t pod_id;     // big-endian local pod id
    uint32_t remote_ip;  // network order: source for ingress, destination for egress
    uint16_t dport;      // big-endian; local port for ingress, remote port for egress
    uint16_t sport;      // big-endian; the other port (no NetworkPolicy field uses it today)
};
static_assert(sizeof(AclKey) == 16);

enum AclField : uint8_t { kFieldProto, kFieldPod, kFieldRemoteIp, kFieldDport, kFieldSport, kAclFieldCount };

// What a rte_acl userdata stands for (userdata = index + 1; 0 means no match).
struct RuleRef {
    uint32_t policy = 0;  // index into PolicySnapshot::policy_names
    uint32_t rule = 0;    // index in the policy's ingress or egress list
    Direction direction = Direction::kIngress;
};

// Per-pod flag bits, indexed by pod id.
enum PodFlag : uint8_t {
    kPodKnown = 1u << 0,
    kPodIsolatedIngress = 1u << 1,
    kPodIsolatedEgress = 1u << 2,
};

// Pod ids are the dataplane's dense pod indices; the flag table is indexed directly.
inline constexpr uint32_t kMaxPodId = 1u << 20;

class PolicySnapshot {
public:
    PolicySnapshot() = default;
    ~PolicySnapshot();  // control thread, after the grace period: frees the rte_acl contexts
    PolicySnapshot(const PolicySnapshot&) = delete;
    PolicySnapshot& operator=(const PolicySnapshot&) = delete;

    // worker
    uint64_t generation() const { return generation_; }
    const rte_acl_ctx* context(Direction d) const { return ctx_[static_cast<int>(d)]; }
    uint8_t pod_flags(uint32_t pod_id) const { return pod_id < flags_.size() ? flags_[pod_id] : 0; }
    // worker: a verdict's rule id (0 = none) → what it stands for. Control side for names.
    const RuleRef* rule(uint32_t rule_id) const {
        return rule_id != 0 && rule_id <= rules_.size() ? &rules_[rule_id - 1] : nullptr;
    }

    // worker: the Hyperscan payload rules; null when no PayloadPolicy has patterns.
    const PayloadSnapshot* payload() const { return payload_.get(); }

    // control thread
    const std::vector<std::string>& policy_names() const { return policy_names_; }
    size_t acl_rule_count(Direction d) const { return acl_rules_[static_cast<int>(d)]; }
    std::string describe_rule(uint32_t rule_id) const;  // "ns/name ingress[2]" or "-"

private:
    friend class SnapshotBuilder;
    uint64_t generation_ = 0;
    rte_acl_ctx* ctx_[kDirections] = {nullptr, nullptr};
    size_t acl_rules_[kDirections] = {0, 0};
    std::vector<uint8_t> flags_;
    std::vector<RuleRef> rules_;
    std::vector<std::string> policy_names_;  // "ns/name"
    std::unique_ptr<PayloadSnapshot> payload_;
};

}  // namespace enidp::acl

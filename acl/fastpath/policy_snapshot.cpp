#include "acl/fastpath/policy_snapshot.hpp"

#include "acl/fastpath/payload.hpp"

namespace enidp::acl {

PolicySnapshot::~PolicySnapshot() {
    for (auto* c : ctx_) rte_acl_free(c);  // accepts nullptr
}

std::string PolicySnapshot::describe_rule(uint32_t rule_id) const {
    const RuleRef* r = rule(rule_id);
    if (r == nullptr) return "-";
    return policy_names_[r->policy] + (r->direction == Direction::kIngress ? " ingress[" : " egress[") +
           std::to_string(r->rule) + "]";
}

}  // namespace enidp::acl

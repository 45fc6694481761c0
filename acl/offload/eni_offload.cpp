#include "acl/offload/eni_offload.hpp"

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_flow.h>

#include <algorithm>
#include <cstring>

namespace enidp::acl {

namespace {

std::string flow_error_text(int rc, const rte_flow_error& e) {
    std::string s = e.message ? e.message : "(no message)";
    s += " (type " + std::to_string(static_cast<int>(e.type)) + ", " + std::strerror(rc < 0 ? -rc : rc) + ")";
    return s;
}

// eth / ipv4 src/len dst/32 [proto] / end  →  DROP | QUEUE
class EncodedRule {
public:
    explicit EncodedRule(const OffloadRule& r) {
        attr_.ingress = 1;
        attr_.priority = r.priority;
        uint32_t src = r.src;
        // A zero source address reads as "no source match" in net_tap (tap_flow.c only
        // adds the key when spec.src_addr != 0): give 0.0.0.0/len a host bit outside the
        // mask; rte_flow compares spec & mask, so the meaning is unchanged.
        if (src == 0 && r.src_len > 0 && r.src_len < 32) src = 1;
        spec_.hdr.src_addr = rte_cpu_to_be_32(src);
        mask_.hdr.src_addr = rte_cpu_to_be_32(prefix_mask(r.src_len));
        spec_.hdr.dst_addr = rte_cpu_to_be_32(r.dst);
        mask_.hdr.dst_addr = UINT32_MAX;
        spec_.hdr.next_proto_id = r.proto;
        mask_.hdr.next_proto_id = r.proto ? 0xff : 0;
        items_[0].type = RTE_FLOW_ITEM_TYPE_ETH;
        items_[1].type = RTE_FLOW_ITEM_TYPE_IPV4;
        items_[1].spec = &spec_;
        items_[1].mask = &mask_;
        items_[2].type = RTE_FLOW_ITEM_TYPE_END;
        if (r.is_drop()) {
            actions_[0].type = RTE_FLOW_ACTION_TYPE_DROP;
        } else {
            queue_.index = r.queue;
            actions_[0].type = RTE_FLOW_ACTION_TYPE_QUEUE;
            actions_[0].conf = &queue_;
        }
        actions_[1].type = RTE_FLOW_ACTION_TYPE_END;
    }
    const rte_flow_attr* attr() const { return &attr_; }
    const rte_flow_item* items() const { return items_; }
    const rte_flow_action* actions() const { return actions_; }

private:
    rte_flow_attr attr_{};
    rte_flow_item_ipv4 spec_{};
    rte_flow_item_ipv4 mask_{};
    rte_flow_item items_[3]{};
    rte_flow_action_queue queue_{};
    rte_flow_action actions_[2]{};
};

class RteFlowBackend final : public FlowBackend {
public:
    explicit RteFlowBackend(uint16_t port) : port_(port) {}
    bool validate(const OffloadRule& r, std::string& error) override {
        const EncodedRule e(r);
        rte_flow_error err{};
        const int rc = rte_flow_validate(port_, e.attr(), e.items(), e.actions(), &err);
        if (rc == 0) return true;
        error = flow_error_text(rc, err);
        return false;
    }
    rte_flow* create(const OffloadRule& r, std::string& error) override {
        const EncodedRule e(r);
        rte_flow_error err{};
        rte_flow* f = rte_flow_create(port_, e.attr(), e.items(), e.actions(), &err);
        if (!f) error = flow_error_text(-rte_errno, err);
        return f;
    }
    bool destroy(rte_flow* flow, std::string& error) override {
        rte_flow_error err{};
        const int rc = rte_flow_destroy(port_, flow, &err);
        if (rc == 0) return true;
        error = flow_error_text(rc, err);
        return false;
    }
    uint16_t port_id() const override { return port_; }

private:
    uint16_t port_;
};

bool policy_kind(OffloadRuleKind k) { return k != OffloadRuleKind::kBlock; }

}  // namespace

std::unique_ptr<FlowBackend> make_rte_flow_backend(uint16_t port_id) {
    return std::make_unique<RteFlowBackend>(port_id);
}

const char* to_string(RuleState s) { return s == RuleState::kOffloaded ? "offloaded" : "software"; }

EniOffload::EniOffload(uint16_t port_id) : EniOffload(make_rte_flow_backend(port_id)) {}

EniOffload::EniOffload(std::unique_ptr<FlowBackend> backend) : backend_(std::move(backend)) {
    state_.port_id = backend_->port_id();
}

EniOffload::~EniOffload() { flush(); }

void EniOffload::destroy(const OffloadRule& r) {
    auto it = installed_.find(r);
    if (it == installed_.end()) return;
    std::string err;
    if (backend_->destroy(it->second, err))
        ++state_.counters.destroyed;
    else
        ++state_.counters.destroy_failures;  // the PMD freed or lost it; nothing more to do
    installed_.erase(it);
}

// Destroys installed rules absent from `keep` (sorted). When an ICMP exemption goes, every
// installed policy drop goes with it (sync re-creates the wanted ones after the new
// exemption), so a drop never stays in the NIC without the exemption ahead of it.
void EniOffload::retire_stale(const std::vector<OffloadRule>& keep) {
    auto kept = [&](const OffloadRule& r) { return std::binary_search(keep.begin(), keep.end(), r); };
    bool exemption_goes = false;
    for (const auto& [r, f] : installed_)
        if (r.kind == OffloadRuleKind::kExemptIcmp && !kept(r)) exemption_goes = true;
    std::vector<OffloadRule> gone;
    for (const auto& [r, f] : installed_)
        if (r.is_drop() && (!kept(r) || (exemption_goes && r.kind == OffloadRuleKind::kPolicyDrop))) gone.push_back(r);
    for (const auto& [r, f] : installed_)
        if (!r.is_drop() && !kept(r)) gone.push_back(r);
    for (const OffloadRule& r : gone) destroy(r);  // drops first, then exemptions
}

void EniOffload::retire(const OffloadPlan& plan) {
    std::vector<OffloadRule> keep = plan.rules;
    std::sort(keep.begin(), keep.end());
    retire_stale(keep);
    std::erase_if(state_.rules, [&](const RuleStatus& s) { return !std::binary_search(keep.begin(), keep.end(), s.rule); });
    for (RuleStatus& s : state_.rules)
        if (s.state == RuleState::kOffloaded && !installed_.count(s.rule)) {
            s.state = RuleState::kSoftware;
            s.error = "retired with its ICMP exemption";
        }
    recount();
}

void EniOffload::sync(const OffloadPlan& plan) {
    ++state_.counters.syncs;
    retire(plan);
    state_.pod_id = plan.pod_id;
    state_.pod = plan.pod;
    state_.plan_reason = plan.reason;

    const size_t n = plan.rules.size();
    std::vector<RuleStatus> st(n);
    std::vector<bool> pending(n, false);
    // (2) validate everything new before creating anything
    for (size_t i = 0; i < n; ++i) {
        st[i].rule = plan.rules[i];
        if (installed_.count(plan.rules[i])) {
            st[i].state = RuleState::kOffloaded;
            continue;
        }
        if (auto f = failed_.find(plan.rules[i]); f != failed_.end()) {
            st[i].error = f->second;
            continue;
        }
        std::string err;
        if (backend_->validate(plan.rules[i], err)) {
            pending[i] = true;
        } else {
            ++state_.counters.validate_failures;
            st[i].error = "validate: " + err;
            failed_.emplace(plan.rules[i], st[i].error);
        }
    }
    auto create = [&](size_t i) {
        std::string err;
        rte_flow* f = backend_->create(plan.rules[i], err);
        pending[i] = false;
        if (!f) {
            ++state_.counters.create_failures;
            st[i].error = "create: " + err;
            failed_.emplace(plan.rules[i], st[i].error);
            return;
        }
        ++state_.counters.created;
        installed_.emplace(plan.rules[i], f);
        st[i].state = RuleState::kOffloaded;
    };
    // (3) the exemptions, all or no policy drop
    bool exemptions_in_nic = true;
    std::string missing;
    for (size_t i = 0; i < n; ++i) {
        if (plan.rules[i].kind != OffloadRuleKind::kExemptIcmp) continue;
        if (pending[i]) create(i);
        if (st[i].state != RuleState::kOffloaded) {
            exemptions_in_nic = false;
            missing = to_string(plan.rules[i]);
        }
    }
    if (!exemptions_in_nic) {
        for (size_t i = 0; i < n; ++i) {
            if (!policy_kind(plan.rules[i].kind)) continue;
            destroy(plan.rules[i]);
            pending[i] = false;
            if (st[i].state == RuleState::kOffloaded || st[i].error.empty()) {
                st[i].state = RuleState::kSoftware;
                st[i].error = "not installed: " + missing + " is not in the NIC";
            }
        }
    }
    // (4) drops; each is safe alone
    for (size_t i = 0; i < n; ++i)
        if (pending[i]) create(i);

    std::vector<OffloadRule> wanted = plan.rules;
    std::sort(wanted.begin(), wanted.end());
    std::erase_if(failed_, [&](const auto& f) { return !std::binary_search(wanted.begin(), wanted.end(), f.first); });
    state_.rules = std::move(st);
    state_.policy_in_nic = plan.policy_offloaded && exemptions_in_nic;
    for (const RuleStatus& s : state_.rules)
        if (policy_kind(s.rule.kind) && s.state != RuleState::kOffloaded) state_.policy_in_nic = false;
    recount();
}

void EniOffload::flush() {
    retire_stale({});
    state_.rules.clear();
    state_.policy_in_nic = false;
    recount();
}

void EniOffload::recount() {
    state_.counters.rules_offloaded = 0;
    state_.counters.rules_software = 0;
    for (const RuleStatus& s : state_.rules)
        ++(s.state == RuleState::kOffloaded ? state_.counters.rules_offloaded : state_.counters.rules_software);
}

std::string EniOffload::describe() const {
    const OffloadCounters& c = state_.counters;
    std::string s = "eni offload port " + std::to_string(state_.port_id) + " pod " + state_.pod + " (id " +
                    std::to_string(state_.pod_id) + "): " + std::to_string(c.rules_offloaded) + " offloaded, " +
                    std::to_string(c.rules_software) + " software, policy " +
                    (state_.policy_in_nic ? "in NIC" : "in software") + "\n";
    if (!state_.plan_reason.empty()) s += "  plan: " + state_.plan_reason + "\n";
    s += "  counters: validate_failures " + std::to_string(c.validate_failures) + " create_failures " +
         std::to_string(c.create_failures) + " destroy_failures " + std::to_string(c.destroy_failures) +
         " created " + std::to_string(c.created) + " destroyed " + std::to_string(c.destroyed) + " syncs " +
         std::to_string(c.syncs) + "\n";
    for (const RuleStatus& r : state_.rules) {
        s += "  " + to_string(r.rule) + ": " + to_string(r.state);
        if (!r.error.empty()) s += " (" + r.error + ")";
        s += "\n";
    }
    return s;
}

}  // namespace enidp::acl

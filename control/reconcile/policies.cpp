#include "control/reconcile/policies.hpp"

#include <chrono>
#include <set>

#include <rte_byteorder.h>
#include <rte_lcore.h>

#include "acl/compiler/cidr.hpp"
#include "acl/compiler/snapshot_builder.hpp"
#include "control/objects/convert.hpp"

namespace enidp::reconcile {

namespace {

bool policy_kind(const std::string& k) {
    return k == objects::kKindPod || k == objects::kKindNamespace || k == objects::kKindNetworkPolicy ||
           k == objects::kKindPayloadPolicy;
}

std::pair<std::string, std::string> split_key(const std::string& key) {
    const auto slash = key.find('/');
    if (slash == std::string::npos) return {"default", key};
    return {key.substr(0, slash), key.substr(slash + 1)};
}

}  // namespace

bool PolicyReconciler::relevant_change() {
    const objects::ChangesSince ch = store_.changes_since(seen_generation_);
    seen_generation_ = ch.generation;
    if (!ch.complete) return true;
    for (const objects::Change& c : ch.changes)
        if (policy_kind(c.key.kind)) return true;
    return false;
}

PolicyReconciler::~PolicyReconciler() = default;  // EniOffload flushes its rules

std::map<uint16_t, acl::OffloadPlan> PolicyReconciler::plan_offload(const acl::CompiledPolicy& c) const {
    std::map<uint16_t, acl::OffloadPlan> plans;
    if (!opts_.offload) return plans;
    acl::OffloadOptions o;
    o.max_rules = opts_.offload_max_rules;
    // Sources the software path admits outside NetworkPolicy: the node itself, and Service
    // backends answering flows SNATed to an ENI address (which may be the pod's own).
    const lb::ServiceTable& t = dp_.services();
    for (uint32_t ip : t.node_ips) o.extra_allowed.push_back(acl::make_prefix(rte_be_to_cpu_32(ip), 32));
    for (const lb::Backend& b : t.backends)
        if (!b.local) o.extra_allowed.push_back(acl::make_prefix(rte_be_to_cpu_32(b.ip), 32));
    const auto ports = dp_.pod_eni_ports();
    for (const acl::PodRules& p : c.pods) {
        auto it = ports.find(p.ns + "/" + p.name);
        if (it == ports.end()) continue;
        plans[it->second] = acl::plan_eni_offload(p, o);
    }
    return plans;
}

std::string PolicyReconciler::offload_text() const {
    if (!opts_.offload) return "offload: off (policy.offload)\n";
    std::string out;
    for (const auto& [port, off] : offload_) {
        const acl::OffloadState& st = off->state();
        out += "offload: ENI port " + std::to_string(port) + " pod " + st.pod + ": " +
               (st.policy_in_nic ? "policy drops in the NIC" : "policy in software") +
               (st.plan_reason.empty() ? "" : " (" + st.plan_reason + ")") + "\n";
        out += off->describe();
    }
    if (out.empty()) out = "offload: on, no ENI has a plan\n";
    return out;
}

PolicySyncReport PolicyReconciler::sync(bool force) {
    PolicySyncReport r;
    auto pods = dp_.policy_pods();
    const bool pods_changed = pods != seen_pods_;
    const bool changed = relevant_change();
    if (!force && !first_ && !pods_changed && !changed) {
        r.active = dp_.policy() != nullptr;
        return r;
    }
    first_ = false;
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const objects::Snapshot snap = store_.snapshot();
    r.policies = snap.policies.size();
    r.payload_policies = snap.payload_policies.size();
    r.local_pods = pods.size();
    if (snap.policies.empty() && snap.payload_policies.empty()) {
        seen_pods_ = std::move(pods);
        offload_.clear();  // NIC drops go before the software policy does
        if (dp_.policy() != nullptr) {
            dp_.set_policy(nullptr);
            r.rebuilt = true;
        }
        compiled_ = {};
        return r;
    }

    acl::ClusterState state;
    state.namespaces = snap.namespaces;
    state.pods = snap.pods;
    state.policies = snap.policies;
    state.payload_policies = snap.payload_policies;
    std::set<std::pair<std::string, std::string>> known;
    for (const acl::Pod& p : state.pods) known.emplace(p.ns, p.name);
    std::vector<acl::LocalPod> local;
    const auto specs = dp_.pod_ips();
    for (const auto& [key, id] : pods) {
        auto [ns, name] = split_key(key);
        if (!known.contains({ns, name})) {
            acl::Pod p;
            p.ns = ns;
            p.name = name;
            auto it = specs.find(key);
            if (it != specs.end()) p.ips = {it->second};
            state.pods.push_back(std::move(p));
        }
        local.push_back(acl::LocalPod{ns, name, id});
    }
    acl::CompileResult c = acl::compile(state, local);
    const auto t1 = clock::now();
    r.compile_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    if (!c.ok) {
        r.error = "NetworkPolicy compile failed: " + c.error;
        r.active = dp_.policy() != nullptr;
        return r;
    }
    r.warnings = c.policy.warnings;
    acl::BuildOptions opt;
    opt.socket_id = static_cast<int>(rte_socket_id());
    opt.workers = dp_.workers() == 0 ? 1 : dp_.workers();
    acl::BuildResult b = acl::SnapshotBuilder::build(c.policy, snapshot_generation_ + 1, opt);
    const auto t2 = clock::now();
    r.build_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    if (b.snapshot == nullptr) {
        r.error = "NetworkPolicy snapshot build failed: " + b.error;
        r.active = dp_.policy() != nullptr;
        return r;
    }
    ++snapshot_generation_;
    r.rules_ingress = b.snapshot->acl_rule_count(acl::Direction::kIngress);
    r.rules_egress = b.snapshot->acl_rule_count(acl::Direction::kEgress);
    // NIC rules the new policy no longer wants go first, new ones after the publication.
    const auto plans = plan_offload(c.policy);
    for (auto it = offload_.begin(); it != offload_.end();) {
        auto p = plans.find(it->first);
        if (p == plans.end()) {
            it = offload_.erase(it);
        } else {
            it->second->retire(p->second);
            ++it;
        }
    }
    dp_.set_policy(std::shared_ptr<const acl::PolicySnapshot>(std::move(b.snapshot)));
    for (const auto& [port, plan] : plans) {
        auto& off = offload_[port];
        if (off == nullptr) off = std::make_unique<acl::EniOffload>(port);
        off->sync(plan);
    }
    r.publish_ms = std::chrono::duration<double, std::milli>(clock::now() - t2).count();
    r.rebuilt = true;
    r.active = true;
    r.generation = snapshot_generation_;
    seen_pods_ = std::move(pods);
    compiled_ = std::move(c.policy);
    return r;
}

}  // namespace enidp::reconcile

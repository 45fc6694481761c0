// Node settings changed at run time: see node_settings.hpp.
#include "control/reconcile/node_settings.hpp"

#include <rte_byteorder.h>

namespace enidp::reconcile {

lb::NodeInfo node_info(const config::Config& cfg) {
    lb::NodeInfo n;
    n.name = cfg.node_name;
    n.zone = cfg.node_zone;
    for (const auto& ip : cfg.node_ips) n.node_ips.push_back(rte_cpu_to_be_32(ip.value));
    return n;
}

namespace {

std::string ip_list(const std::vector<config::Ipv4>& ips) {
    std::string s = "[";
    for (size_t i = 0; i < ips.size(); i++) s += (i ? ", " : "") + ips[i].to_string();
    return s + "]";
}

}  // namespace

std::string NodeSettingsControl::apply(const NodeSettingsChange& c) {
    std::string done;
    auto note = [&](const std::string& what, const std::string& from, const std::string& to) {
        done += (done.empty() ? "" : ", ") + what + " " + from + " -> " + to;
    };
    bool node_changed = false;
    if (c.zone && *c.zone != cfg_.node_zone) {
        note("zone", cfg_.node_zone.empty() ? "\"\"" : cfg_.node_zone, c.zone->empty() ? "\"\"" : *c.zone);
        cfg_.node_zone = *c.zone;
        node_changed = true;
    }
    if (c.node_ips) {
        std::vector<config::Ipv4> ips;
        for (uint32_t ip : *c.node_ips) ips.push_back(config::Ipv4{ip});
        if (ips != cfg_.node_ips) {
            note("node_ips", ip_list(cfg_.node_ips), ip_list(ips));
            cfg_.node_ips = std::move(ips);
            node_changed = true;
        }
    }
    // A numeric setting: true when it changed.
    auto set = [&](const char* what, const std::optional<uint32_t>& to, uint32_t& field) {
        if (!to || *to == field) return false;
        note(what, std::to_string(field), std::to_string(*to));
        field = *to;
        return true;
    };
    if (set("lb.min_sync_period_ms", c.min_sync_period_ms, cfg_.lb.min_sync_period_ms))
        services_.set_min_sync_period(std::chrono::milliseconds(cfg_.lb.min_sync_period_ms));
    // Both are evaluated: each change is noted and applied.
    const bool allow = set("policy.log_allow_one_in", c.log_allow_one_in, cfg_.policy.log_allow_one_in);
    const bool denies = set("policy.log_denies_per_second", c.log_denies_per_second, cfg_.policy.log_denies_per_second);
    const bool sampling = allow || denies;
    if (sampling) dp_.set_verdict_sampling(cfg_.policy.log_allow_one_in, cfg_.policy.log_denies_per_second);
    if (node_changed) {
        // Every Service is re-planned against the new node (local endpoints, topology hints,
        // NodePort frontends) by the control loop's next sync, at once; then the policies are
        // recompiled, since the NIC offload exemptions come from the published table's node IPs.
        services_.set_node(node_info(cfg_));
        service_rebuild_ = true;
        policy_recompile_ = policies_ != nullptr;
    }
    return done.empty() ? "no change" : done;
}

}  // namespace enidp::reconcile

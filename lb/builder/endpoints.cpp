#include "lb/builder/endpoints.hpp"

#include <arpa/inet.h>
#include <algorithm>

namespace enidp::lb {

namespace {

int condition_rank(const EndpointCandidate& c) { return c.ready ? 2 : (c.serving ? 1 : 0); }

template <typename Pred>
std::vector<uint32_t> filter(std::span<const EndpointCandidate> eps, Pred pred) {
    std::vector<uint32_t> out;
    for (uint32_t i = 0; i < eps.size(); ++i)
        if (pred(eps[i])) out.push_back(i);
    return out;
}

bool hinted_for(const EndpointCandidate& c, const std::string& zone) {
    const auto& hints = c.endpoint->hint_zones;
    return std::find(hints.begin(), hints.end(), zone) != hints.end();
}

}  // namespace

std::vector<EndpointCandidate> collect_endpoints(const ServicePortSpec& port, const NodeInfo& node,
                                                 std::span<const EndpointSlice* const> slices) {
    std::vector<EndpointCandidate> out;
    for (const EndpointSlice* slice : slices) {
        const EndpointPort* match = nullptr;
        for (const EndpointPort& p : slice->ports)
            if (p.name == port.name && p.protocol == port.protocol) match = &p;
        if (match == nullptr || !match->port || *match->port == 0) continue;
        for (const Endpoint& ep : slice->endpoints) {
            if (ep.addresses.empty()) continue;
            EndpointCandidate c;
            c.ip = ep.addresses.front();
            c.port = *match->port;
            c.ready = endpoint_ready(ep.conditions);
            c.serving = endpoint_serving(ep.conditions);
            c.terminating = endpoint_terminating(ep.conditions);
            c.local = !node.name.empty() && ep.node_name == node.name;
            c.endpoint = &ep;
            out.push_back(c);
        }
    }
    // Stable sort keeps slice order among duplicates; then keep the best of each run.
    std::stable_sort(out.begin(), out.end(), [](const EndpointCandidate& a, const EndpointCandidate& b) {
        const uint32_t ha = ntohl(a.ip), hb = ntohl(b.ip);
        return ha != hb ? ha < hb : a.port < b.port;
    });
    size_t n = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        if (n > 0 && out[n - 1].ip == out[i].ip && out[n - 1].port == out[i].port) {
            if (condition_rank(out[i]) > condition_rank(out[n - 1])) out[n - 1] = out[i];
            continue;
        }
        out[n++] = out[i];
    }
    out.resize(n);
    return out;
}

bool externally_accessible(const Service& svc, const ServicePortSpec& port) {
    const bool load_balancer = svc.type == ServiceType::kLoadBalancer;
    const bool node_port = port.node_port != 0 && (svc.type == ServiceType::kNodePort || load_balancer);
    return node_port || !svc.external_ips.empty() || (load_balancer && !svc.lb_ingress_ips.empty());
}

bool uses_cluster_endpoints(const Service& svc, const ServicePortSpec& port) {
    return svc.internal_policy == TrafficPolicy::kCluster ||
           (svc.external_policy == TrafficPolicy::kCluster && externally_accessible(svc, port));
}

bool uses_local_endpoints(const Service& svc, const ServicePortSpec& port) {
    return svc.internal_policy == TrafficPolicy::kLocal ||
           (svc.external_policy == TrafficPolicy::kLocal && externally_accessible(svc, port));
}

bool can_use_topology(const Service& svc, const NodeInfo& node, std::span<const EndpointCandidate> eps) {
    if (!svc.topology_aware || svc.internal_policy == TrafficPolicy::kLocal || node.zone.empty()) return false;
    bool zone_hinted = false;
    for (const EndpointCandidate& c : eps) {
        if (!c.ready) continue;
        if (c.endpoint->hint_zones.empty()) return false;
        if (hinted_for(c, node.zone)) zone_hinted = true;
    }
    return zone_hinted;
}

CategorizedEndpoints categorize_endpoints(const Service& svc, const ServicePortSpec& port, const NodeInfo& node,
                                          std::span<const EndpointCandidate> eps) {
    CategorizedEndpoints out;
    if (uses_cluster_endpoints(svc, port)) {
        out.topology_used = can_use_topology(svc, node, eps);
        out.cluster = filter(eps, [&](const EndpointCandidate& c) {
            return c.ready && (!out.topology_used || hinted_for(c, node.zone));
        });
        // No ready endpoint anywhere: fall back to terminating ones that still serve,
        // without topology (a best effort not to drop connections).
        if (out.cluster.empty()) {
            out.topology_used = false;
            out.cluster = filter(eps, [](const EndpointCandidate& c) { return c.serving && c.terminating; });
        }
        out.has_any = !out.cluster.empty();
    }
    if (!uses_local_endpoints(svc, port)) return out;

    bool local_ready = false, local_serving_terminating = false;
    for (const EndpointCandidate& c : eps) {
        if (c.ready) {
            out.has_any = true;
            local_ready |= c.local;
        } else if (c.serving && c.terminating) {
            out.has_any = true;
            local_serving_terminating |= c.local;
        }
    }
    if (local_ready) out.local = filter(eps, [](const EndpointCandidate& c) { return c.local && c.ready; });
    else if (local_serving_terminating)
        out.local = filter(eps, [](const EndpointCandidate& c) { return c.local && c.serving && c.terminating; });
    return out;
}

}  // namespace enidp::lb

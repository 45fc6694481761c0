#include "acl/compiler/compiler.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <unordered_map>

#include "acl/compiler/cidr.hpp"

namespace enidp::acl {

namespace {

constexpr const char* kNameLabel = "kubernetes.io/metadata.name";

bool requirement_matches(const LabelRequirement& r, const std::map<std::string, std::string>& labels) {
    const auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const auto in_values = [&] {
        return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    };
    switch (r.op) {
        case LabelRequirement::Op::kIn: return in_values();
        case LabelRequirement::Op::kNotIn: return !in_values();  // a missing key is "not in"
        case LabelRequirement::Op::kExists: return has;
        case LabelRequirement::Op::kDoesNotExist: return !has;
    }
    return false;
}

// One resolved element of from[]/to[]: a pod (selectors) or a prefix (ipBlock, or "all").
struct Target {
    const Pod* pod = nullptr;
    Prefix prefix;  // host order; used when pod == nullptr
};

struct PortSpec {
    uint8_t protocol = kAnyProtocol;
    uint16_t lo = 0, hi = 65535;
};

class Compiler {
public:
    Compiler(const ClusterState& s, CompiledPolicy& out) : s_(s), out_(out) {
        for (const auto& ns : s_.namespaces) {
            auto& labels = ns_labels_[ns.name];
            labels = ns.labels;
            labels.emplace(kNameLabel, ns.name);  // the API server always sets it
        }
        for (const auto& p : s_.pods) {
            if (!ns_labels_.contains(p.ns)) ns_labels_[p.ns] = {{kNameLabel, p.ns}};
            pod_by_key_[p.ns + "/" + p.name] = &p;
        }
        for (const auto& p : s_.policies) out_.policy_names.push_back(p.ns + "/" + p.name);
        out_.payload_policies = s_.payload_policies;
    }

    const Pod* find_pod(const std::string& ns, const std::string& name) const {
        const auto it = pod_by_key_.find(ns + "/" + name);
        return it == pod_by_key_.end() ? nullptr : it->second;
    }

    void compile_pod(const Pod& local, PodRules& pr) {
        for (int d = 0; d < kDirections; ++d) {
            const auto dir = static_cast<Direction>(d);
            DirectionRules& dr = pr.dir[d];
            for (uint32_t pi = 0; pi < s_.payload_policies.size(); ++pi) {
                const PayloadPolicy& pp = s_.payload_policies[pi];
                const bool dir_ok =
                    pp.direction == PayloadPolicy::Direction::kBoth ||
                    (pp.direction == PayloadPolicy::Direction::kIngress) == (dir == Direction::kIngress);
                if (!local.host_network && pp.ns == local.ns && dir_ok &&
                    selector_matches(pp.pod_selector, local.labels))
                    dr.payload_policies.push_back(pi);
            }
            std::set<std::tuple<uint32_t, uint8_t, uint8_t, uint16_t, uint16_t>> seen;
            for (uint32_t pi = 0; pi < s_.policies.size(); ++pi) {
                const NetworkPolicy& pol = s_.policies[pi];
                if (local.host_network || pol.ns != local.ns || !policy_affects(pol, dir) ||
                    !selector_matches(pol.pod_selector, local.labels))
                    continue;
                dr.isolated = true;
                dr.selecting_policies.push_back(pi);
                const auto& rules = dir == Direction::kIngress ? pol.ingress : pol.egress;
                if (!rules) continue;
                for (uint32_t ri = 0; ri < rules->size(); ++ri) {
                    for (const AllowEntry& e : rule_entries(pol, (*rules)[ri], dir, local)) {
                        if (!seen.emplace(e.addr, e.prefix_len, e.protocol, e.port_lo, e.port_hi).second) continue;
                        AllowEntry x = e;
                        x.policy = pi;
                        x.rule = ri;
                        dr.entries.push_back(x);
                    }
                }
            }
        }
    }

private:
    void warn(const NetworkPolicy& p, const std::string& what) {
        out_.warnings.push_back("networkpolicy " + p.ns + "/" + p.name + ": " + what);
    }

    bool pod_peer_eligible(const Pod& p) const { return !p.host_network && !p.ips.empty(); }

    void resolve_peer(const NetworkPolicy& pol, const Peer& peer, std::vector<Target>& out) {
        if (peer.ip_block) {
            if (peer.pod_selector || peer.namespace_selector)
                warn(pol,
                     "ipBlock together with a selector in one peer (rejected by the API server); using the ipBlock");
            const IpBlock& b = *peer.ip_block;
            std::vector<Prefix> except;
            for (const auto& [a, l] : b.except) except.push_back(make_prefix(ntohl(a), l));
            std::vector<Prefix> parts;
            subtract_prefixes(make_prefix(ntohl(b.addr), b.prefix_len), except, parts);
            for (const auto& pfx : parts) out.push_back({nullptr, pfx});
            return;
        }
        if (!peer.pod_selector && !peer.namespace_selector) {
            warn(pol, "a peer with no selector and no ipBlock (rejected by the API server); it matches nothing");
            return;
        }
        for (const Pod& p : s_.pods) {
            if (!pod_peer_eligible(p)) continue;
            if (peer.namespace_selector) {
                if (!selector_matches(*peer.namespace_selector, ns_labels_.at(p.ns))) continue;
            } else if (p.ns != pol.ns) {
                continue;
            }
            if (peer.pod_selector && !selector_matches(*peer.pod_selector, p.labels)) continue;
            out.push_back({&p, {}});
        }
    }

    // Port specs of one PolicyPort on destination pod `dst` (nullptr: not a known pod).
    static void resolve_port(const PolicyPort& pp, const Pod* dst, std::vector<PortSpec>& out) {
        const auto proto = static_cast<uint8_t>(pp.protocol);
        if (pp.port) {
            uint16_t hi = *pp.port;
            if (pp.end_port) {
                if (*pp.end_port < *pp.port) return;  // warned once in validate()
                hi = *pp.end_port;
            }
            out.push_back({proto, *pp.port, hi});
            return;
        }
        if (!pp.port_name.empty()) {
            if (dst == nullptr) return;
            for (const ContainerPort& cp : dst->ports)
                if (cp.name == pp.port_name && cp.protocol == pp.protocol) out.push_back({proto, cp.port, cp.port});
            return;
        }
        out.push_back({proto, 0, 65535});
    }

    std::vector<AllowEntry> rule_entries(const NetworkPolicy& pol, const Rule& rule, Direction dir, const Pod& local) {
        // Peers do not depend on the local pod: resolve each rule once per compile.
        auto [cached, fresh] = targets_.try_emplace(&rule);
        std::vector<Target>& targets = cached->second;
        if (fresh) {
            if (rule.peers.empty()) targets.push_back({nullptr, make_prefix(0, 0)});
            for (const Peer& peer : rule.peers) resolve_peer(pol, peer, targets);
            validate_ports(pol, rule);
        }
        const bool named = std::any_of(rule.ports.begin(), rule.ports.end(),
                                       [](const PolicyPort& p) { return !p.port && !p.port_name.empty(); });
        std::vector<AllowEntry> out;
        const auto emit = [&](uint32_t addr_host, uint8_t len, const Pod* dst) {
            std::vector<PortSpec> specs;
            if (rule.ports.empty()) specs.push_back({});
            for (const PolicyPort& pp : rule.ports) resolve_port(pp, dst, specs);
            for (const PortSpec& ps : specs) out.push_back({htonl(addr_host), len, ps.protocol, ps.lo, ps.hi, 0, 0});
        };
        for (const Target& t : targets) {
            if (t.pod != nullptr) {
                const Pod* dst = dir == Direction::kIngress ? &local : t.pod;
                for (uint32_t ip : t.pod->ips) emit(ntohl(ip), 32, dst);
                continue;
            }
            if (dir == Direction::kIngress || !named) {
                emit(t.prefix.addr, t.prefix.len, &local);  // egress without named ports ignores dst
                continue;
            }
            // Egress to a prefix with named ports: numeric/all-port specs apply to the whole
            // prefix; named ones only to known (non-host-network) pods inside it.
            std::vector<PortSpec> specs;
            for (const PolicyPort& pp : rule.ports)
                if (pp.port || pp.port_name.empty()) resolve_port(pp, nullptr, specs);
            for (const PortSpec& ps : specs)
                out.push_back({htonl(t.prefix.addr), t.prefix.len, ps.protocol, ps.lo, ps.hi, 0, 0});
            for (const Pod& p : s_.pods) {
                if (!pod_peer_eligible(p)) continue;
                for (uint32_t ip : p.ips) {
                    if (!prefix_contains(t.prefix, ntohl(ip))) continue;
                    std::vector<PortSpec> named_specs;
                    for (const PolicyPort& pp : rule.ports)
                        if (!pp.port && !pp.port_name.empty()) resolve_port(pp, &p, named_specs);
                    for (const PortSpec& ps : named_specs) out.push_back({ip, 32, ps.protocol, ps.lo, ps.hi, 0, 0});
                }
            }
        }
        return out;
    }

    void validate_ports(const NetworkPolicy& pol, const Rule& rule) {
        for (const PolicyPort& pp : rule.ports) {
            if (pp.end_port && !pp.port)
                warn(pol, "endPort without a numeric port (rejected by the API server); endPort ignored");
            if (pp.port && pp.end_port && *pp.end_port < *pp.port)
                warn(pol, "endPort " + std::to_string(*pp.end_port) + " < port " + std::to_string(*pp.port) +
                              " (rejected by the API server); the port entry matches nothing");
            if (pp.port && !pp.port_name.empty())
                warn(pol, "both a numeric and a named port in one entry; the numeric port is used");
        }
    }

    const ClusterState& s_;
    CompiledPolicy& out_;
    std::unordered_map<std::string, std::map<std::string, std::string>> ns_labels_;
    std::unordered_map<std::string, const Pod*> pod_by_key_;
    std::unordered_map<const Rule*, std::vector<Target>> targets_;
};

}  // namespace

bool selector_matches(const LabelSelector& s, const std::map<std::string, std::string>& labels) {
    for (const auto& [k, v] : s.match_labels) {
        const auto it = labels.find(k);
        if (it == labels.end() || it->second != v) return false;
    }
    for (const auto& r : s.match_expressions)
        if (!requirement_matches(r, labels)) return false;
    return true;
}

bool policy_affects(const NetworkPolicy& p, Direction d) {
    if (p.policy_types_given) return d == Direction::kIngress ? p.type_ingress : p.type_egress;
    return d == Direction::kIngress || (p.egress && !p.egress->empty());
}

CompileResult compile(const ClusterState& state, const std::vector<LocalPod>& local) {
    CompileResult res;
    Compiler c(state, res.policy);
    std::set<uint32_t> ids;
    for (const LocalPod& lp : local) {
        const Pod* pod = c.find_pod(lp.ns, lp.name);
        if (pod == nullptr)
            return {false, "local pod " + lp.ns + "/" + lp.name + " is not among the cluster's pods", {}};
        if (lp.id >= kMaxPodId)
            return {false,
                    "local pod " + lp.ns + "/" + lp.name + ": id " + std::to_string(lp.id) +
                        " >= " + std::to_string(kMaxPodId),
                    {}};
        if (!ids.insert(lp.id).second)
            return {false, "local pod " + lp.ns + "/" + lp.name + ": id " + std::to_string(lp.id) + " used twice", {}};
        PodRules pr;
        pr.id = lp.id;
        pr.ns = pod->ns;
        pr.name = pod->name;
        pr.ips = pod->ips;
        pr.host_network = pod->host_network;
        c.compile_pod(*pod, pr);
        res.policy.pods.push_back(std::move(pr));
    }
    return res;
}

}  // namespace enidp::acl

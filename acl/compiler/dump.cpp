#include "acl/compiler/dump.hpp"

#include <arpa/inet.h>

namespace enidp::acl {

namespace {

const char* direction_name(int d) { return d == 0 ? "ingress" : "egress"; }

std::string port_range(const AllowEntry& e) {
    if (e.port_lo == 0 && e.port_hi == 65535) return "*";
    if (e.port_lo == e.port_hi) return std::to_string(e.port_lo);
    return std::to_string(e.port_lo) + "-" + std::to_string(e.port_hi);
}

std::string ip_text(uint32_t addr_net) {
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &addr_net, buf, sizeof buf);
    return buf;
}

std::string ips_text(const PodRules& pod) {
    std::string s;
    for (uint32_t ip : pod.ips) s += (s.empty() ? "" : ",") + ip_text(ip);
    return s.empty() ? "-" : s;
}

std::string payload_text(const PayloadPolicy& p) {
    static const char* kActions[] = {"deny", "allow", "log"};
    std::string s = p.ns + "/" + p.name + " " + kActions[static_cast<int>(p.action)] + " ports";
    if (p.ports.empty()) s += " *";
    for (const PolicyPort& pp : p.ports)
        s += " " + protocol_name(static_cast<uint8_t>(pp.protocol)) + "/" +
             (pp.port ? std::to_string(*pp.port) + (pp.end_port ? "-" + std::to_string(*pp.end_port) : "")
              : pp.port_name.empty() ? "*"
                                     : pp.port_name);
    return s + " patterns " + std::to_string(p.patterns.size());
}

}  // namespace

std::string protocol_name(uint8_t protocol) {
    switch (protocol) {
        case 6: return "tcp";
        case 17: return "udp";
        case 132: return "sctp";
        case kAnyProtocol: return "any";
        default: return std::to_string(protocol);
    }
}

std::string format_prefix(uint32_t addr_net, uint8_t len) { return ip_text(addr_net) + "/" + std::to_string(len); }

std::string dump_pod_text(const CompiledPolicy& c, const PodRules& pod) {
    std::string out = "pod " + pod.ns + "/" + pod.name + " id " + std::to_string(pod.id) + " ips " + ips_text(pod) +
                      (pod.host_network ? " host-network" : "") + "\n";
    for (int d = 0; d < kDirections; ++d) {
        const DirectionRules& dr = pod.dir[d];
        out += std::string("  ") + direction_name(d) + ": ";
        if (!dr.isolated) {
            out += "not isolated (everything allowed)\n";
        } else {
            out += "isolated by";
            for (uint32_t p : dr.selecting_policies) out += " " + c.policy_names[p];
            out += dr.entries.empty() ? "; deny all\n" : "\n";
        }
        for (const AllowEntry& e : dr.entries)
            out += "    allow " + format_prefix(e.addr, e.prefix_len) + " " + protocol_name(e.protocol) + " " +
                   port_range(e) + "  " + c.policy_names[e.policy] + " " + direction_name(d) + "[" +
                   std::to_string(e.rule) + "]\n";
        for (uint32_t p : dr.payload_policies) out += "    payload " + payload_text(c.payload_policies[p]) + "\n";
    }
    return out;
}

nlohmann::json dump_pod_json(const CompiledPolicy& c, const PodRules& pod) {
    nlohmann::json j;
    j["pod"] = pod.ns + "/" + pod.name;
    j["id"] = pod.id;
    j["host_network"] = pod.host_network;
    auto& ips = j["ips"] = nlohmann::json::array();
    for (uint32_t ip : pod.ips) ips.push_back(ip_text(ip));
    for (int d = 0; d < kDirections; ++d) {
        const DirectionRules& dr = pod.dir[d];
        auto& jd = j[direction_name(d)];
        jd["isolated"] = dr.isolated;
        jd["policies"] = nlohmann::json::array();
        for (uint32_t p : dr.selecting_policies) jd["policies"].push_back(c.policy_names[p]);
        jd["allow"] = nlohmann::json::array();
        for (const AllowEntry& e : dr.entries)
            jd["allow"].push_back({{"remote", format_prefix(e.addr, e.prefix_len)},
                                   {"protocol", protocol_name(e.protocol)},
                                   {"port_lo", e.port_lo},
                                   {"port_hi", e.port_hi},
                                   {"policy", c.policy_names[e.policy]},
                                   {"rule", e.rule}});
        jd["payload"] = nlohmann::json::array();
        for (uint32_t p : dr.payload_policies) jd["payload"].push_back(payload_text(c.payload_policies[p]));
    }
    return j;
}

std::string trace_flow(const PolicySnapshot& snap, const FlowKey& key) {
    const Verdict v = classify_one(snap, key);
    std::string out = "pod " + std::to_string(key.pod_id) +
                      (key.direction == Direction::kIngress ? " ingress " : " egress ") + ip_text(key.remote_ip) + " " +
                      protocol_name(key.proto) + "/" + std::to_string(key.dport) + ": ";
    switch (v.reason) {
        case VerdictReason::kNotIsolated: out += "allow, not isolated"; break;
        case VerdictReason::kUnknownPod: out += "allow, pod not in the snapshot"; break;
        case VerdictReason::kAllowedByRule: out += "allow by " + snap.describe_rule(v.rule); break;
        case VerdictReason::kDefaultDeny: out += "deny, isolated and no rule matched"; break;
    }
    return out + " (generation " + std::to_string(snap.generation()) + ")";
}

}  // namespace enidp::acl

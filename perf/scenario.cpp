#include "perf/scenario.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <rte_byteorder.h>
#include <yaml-cpp/yaml.h>

#include "control/config/config.hpp"
#include "dataplane/fastpath/worker.hpp"

namespace enidp::perf {

namespace {

struct Bad {
    std::string message;
};

class Reader {
public:
    explicit Reader(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const YAML::Node& n, const std::string& what) const {
        const int line = n.Mark().line;  // -1 for a node with no position (an empty file)
        throw Bad{source_ + (line >= 0 ? ":" + std::to_string(line + 1) : std::string()) + ": " + what};
    }
    void only_keys(const YAML::Node& n, const std::string& where, std::initializer_list<const char*> keys) const {
        if (!n.IsMap()) fail(n, where + " must be a mapping");
        for (const auto& kv : n) {
            const auto k = kv.first.as<std::string>();
            bool known = false;
            for (const char* x : keys) known = known || k == x;
            if (!known) fail(kv.first, "unknown key \"" + k + "\" in " + where);
        }
    }
    template <typename T>
    T integer(const YAML::Node& n, const std::string& what, long long lo, long long hi) const {
        long long v;
        try {
            v = n.as<long long>();
        } catch (const YAML::Exception&) {
            fail(n, what + ": \"" + n.Scalar() + "\" is not an integer");
        }
        if (v < lo || v > hi) fail(n, what + ": " + std::to_string(v) + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
        return static_cast<T>(v);
    }
    rte_ether_addr mac(const YAML::Node& n, const std::string& what) const {
        auto m = config::parse_mac(n.Scalar());
        if (!m) fail(n, what + ": \"" + n.Scalar() + "\" is not a MAC address (expected xx:xx:xx:xx:xx:xx)");
        rte_ether_addr a;
        std::memcpy(a.addr_bytes, m->bytes.data(), RTE_ETHER_ADDR_LEN);
        return a;
    }
    uint32_t ipv4(const YAML::Node& n, const std::string& what) const {
        auto ip = config::parse_ipv4(n.Scalar());
        if (!ip) fail(n, what + ": \"" + n.Scalar() + "\" is not an IPv4 address");
        return rte_cpu_to_be_32(ip->value);
    }
    const YAML::Node required(const YAML::Node& map, const char* key, const std::string& where) const {
        const YAML::Node n = map[key];
        if (!n) fail(map, where + ": missing required key \"" + key + "\"");
        return n;
    }

private:
    std::string source_;
};

// `services:` — `count` ClusterIP Services on consecutive addresses from `cluster_ip`,
// each with `endpoints` remote endpoints on consecutive addresses from `endpoint_ip`.
void parse_services(const Reader& r, const YAML::Node& sv, Scenario& s) {
    const std::string w = "services";
    r.only_keys(sv, w, {"count", "cluster_ip", "port", "protocol", "target_port", "endpoints", "endpoint_ip", "algorithm",
                        "maglev_table_size"});
    const auto count = r.integer<uint32_t>(r.required(sv, "count", w), w + ".count", 1, 1u << 20);
    const uint32_t vip0 = rte_be_to_cpu_32(r.ipv4(r.required(sv, "cluster_ip", w), w + ".cluster_ip"));
    const uint16_t port = sv["port"] ? r.integer<uint16_t>(sv["port"], w + ".port", 1, 65535) : 80;
    const uint16_t target = sv["target_port"] ? r.integer<uint16_t>(sv["target_port"], w + ".target_port", 1, 65535) : 8080;
    const auto eps = sv["endpoints"] ? r.integer<uint32_t>(sv["endpoints"], w + ".endpoints", 0, 65535) : 1;
    const uint32_t ep0 = sv["endpoint_ip"] ? rte_be_to_cpu_32(r.ipv4(sv["endpoint_ip"], w + ".endpoint_ip"))
                                           : (10u << 24 | 128u << 16);
    lb::Protocol proto = lb::Protocol::kUdp;
    if (const YAML::Node pn = sv["protocol"]) {
        const std::string v = pn.Scalar();
        if (v == "tcp") proto = lb::Protocol::kTcp;
        else if (v == "udp") proto = lb::Protocol::kUdp;
        else if (v == "sctp") proto = lb::Protocol::kSctp;
        else r.fail(pn, w + ".protocol: expected tcp, udp or sctp");
    }
    lb::Algorithm algo = lb::Algorithm::kMaglev;
    if (const YAML::Node an = sv["algorithm"]) {
        static const std::pair<const char*, lb::Algorithm> kAlgos[] = {
            {"maglev", lb::Algorithm::kMaglev},         {"random", lb::Algorithm::kRandom},
            {"round-robin", lb::Algorithm::kRoundRobin}, {"weighted", lb::Algorithm::kWeighted},
            {"least-conn", lb::Algorithm::kLeastConn}};
        bool ok = false;
        for (const auto& [name, a] : kAlgos)
            if (an.Scalar() == name) {
                algo = a;
                ok = true;
            }
        if (!ok) r.fail(an, w + ".algorithm: expected maglev, random, round-robin, weighted or least-conn");
    }
    if (sv["maglev_table_size"])
        s.maglev_table_size = r.integer<uint32_t>(sv["maglev_table_size"], w + ".maglev_table_size", 3, 1u << 24);
    s.node.name = "perf-node";
    s.services.reserve(count);
    s.slices.reserve(count);
    for (uint32_t i = 0; i < count; i++) {
        lb::Service svc;
        svc.ns = "perf";
        svc.name = "svc-" + std::to_string(i);
        svc.cluster_ips = {rte_cpu_to_be_32(vip0 + i)};
        svc.ports = {lb::ServicePortSpec{"", proto, port, target, "", 0}};
        svc.algorithm = algo;
        lb::EndpointSlice sl;
        sl.ns = svc.ns;
        sl.name = svc.name + "-1";
        sl.service_name = svc.name;
        sl.ports = {lb::EndpointPort{"", proto, target}};
        for (uint32_t e = 0; e < eps; e++) {
            lb::Endpoint ep;
            ep.addresses = {rte_cpu_to_be_32(ep0 + i * eps + e)};
            ep.node_name = "other-node";
            sl.endpoints.push_back(ep);
        }
        s.services.push_back(std::move(svc));
        s.slices.push_back(std::move(sl));
    }
}

// `policies:` — see PolicySpec.
void parse_policies(const Reader& r, const YAML::Node& pv, Scenario& s) {
    const std::string w = "policies";
    r.only_keys(pv, w, {"count", "rules_per_policy", "select", "direction", "protocol", "peers", "peer_ip", "peer_prefix",
                        "port", "port_span", "admit", "admit_peer", "admit_port"});
    PolicySpec& ps = s.policies;
    ps.count = r.integer<uint32_t>(r.required(pv, "count", w), w + ".count", 1, 1u << 20);
    if (pv["rules_per_policy"])
        ps.rules_per_policy = r.integer<uint32_t>(pv["rules_per_policy"], w + ".rules_per_policy", 1, 1u << 16);
    if (uint64_t{ps.count} * ps.rules_per_policy > (1u << 20))
        r.fail(pv["count"], w + ": count × rules_per_policy must be at most 1048576");
    if (const YAML::Node sel = pv["select"]) {
        if (!sel.IsSequence() || sel.size() == 0) r.fail(sel, w + ".select: expected a non-empty list of pod names");
        for (size_t i = 0; i < sel.size(); i++) {
            const std::string name = sel[i].Scalar();
            bool found = false;
            for (const auto& p : s.pods) found = found || p.key == name;
            if (!found) r.fail(sel[i], w + ".select[" + std::to_string(i) + "]: no pod named \"" + name + "\"");
            ps.select.push_back(name);
        }
    } else if (s.pods.empty()) {
        r.fail(pv, w + ": the scenario has no pods to select");
    }
    if (const YAML::Node d = pv["direction"]) {
        const std::string v = d.Scalar();
        if (v == "egress") ps.ingress = false, ps.egress = true;
        else if (v == "ingress") ps.ingress = true, ps.egress = false;
        else if (v == "both") ps.ingress = ps.egress = true;
        else r.fail(d, w + ".direction: expected egress, ingress or both");
    }
    if (const YAML::Node pn = pv["protocol"]) {
        const std::string v = pn.Scalar();
        if (v == "tcp") ps.protocol = acl::Protocol::kTcp;
        else if (v == "udp") ps.protocol = acl::Protocol::kUdp;
        else if (v == "sctp") ps.protocol = acl::Protocol::kSctp;
        else r.fail(pn, w + ".protocol: expected tcp, udp or sctp");
    }
    if (const YAML::Node pn = pv["peers"]) {
        const std::string v = pn.Scalar();
        if (v == "ip_block") ps.peer_pods = false;
        else if (v == "pod") ps.peer_pods = true;
        else r.fail(pn, w + ".peers: expected ip_block or pod");
    }
    if (pv["peer_ip"]) ps.peer_ip = rte_be_to_cpu_32(r.ipv4(pv["peer_ip"], w + ".peer_ip"));
    if (pv["peer_prefix"]) ps.peer_prefix = r.integer<uint8_t>(pv["peer_prefix"], w + ".peer_prefix", 8, 32);
    if (pv["port"]) ps.port = r.integer<uint16_t>(pv["port"], w + ".port", 1, 65535);
    if (pv["port_span"]) ps.port_span = r.integer<uint32_t>(pv["port_span"], w + ".port_span", 1, 65535);
    if (uint64_t{ps.port} + ps.port_span - 1 > 65535) r.fail(pv["port_span"], w + ".port_span: port + port_span - 1 exceeds 65535");
    if (const YAML::Node a = pv["admit"]) {
        try {
            ps.admit = a.as<bool>();
        } catch (const YAML::Exception&) {
            r.fail(a, w + ".admit: expected true or false");
        }
    }
    if (const YAML::Node a = pv["admit_peer"]) {
        const std::string v = a.Scalar();
        const auto slash = v.find('/');
        auto ip = config::parse_ipv4(v.substr(0, slash));
        int len = 32;
        if (slash != std::string::npos) {
            try {
                size_t used = 0;
                len = std::stoi(v.substr(slash + 1), &used);
                if (used != v.size() - slash - 1) len = -1;
            } catch (const std::exception&) {
                len = -1;
            }
        }
        if (!ip || len < 0 || len > 32) r.fail(a, w + ".admit_peer: \"" + v + "\" is not an IPv4 CIDR (a.b.c.d/len)");
        ps.admit_prefix = static_cast<uint8_t>(len);
        ps.admit_ip = ip->value & (len == 0 ? 0u : ~0u << (32 - len));
    }
    if (pv["admit_port"]) ps.admit_port = r.integer<uint16_t>(pv["admit_port"], w + ".admit_port", 1, 65535);
}

Scenario parse(const YAML::Node& root, const std::string& source) {
    Reader r(source);
    Scenario s;
    s.source = source;
    s.runtime.idle_enabled = false;  // perf runs spin
    r.only_keys(root, "scenario",
                {"workers", "burst", "rx_desc", "tx_desc", "mbufs", "gateway_mac", "enis", "pods", "services", "policies",
                 "conntrack_max"});
    if (root["conntrack_max"])
        s.runtime.conntrack_max = r.integer<uint32_t>(root["conntrack_max"], "conntrack_max", 64, 64u << 20);
    if (root["workers"]) s.runtime.workers = r.integer<uint16_t>(root["workers"], "workers", 1, dp::kMaxWorkers);
    if (root["burst"]) s.runtime.burst = r.integer<uint16_t>(root["burst"], "burst", 1, dp::kMaxBurst);
    if (root["rx_desc"]) s.runtime.rx_desc = r.integer<uint16_t>(root["rx_desc"], "rx_desc", 64, 4096);
    if (root["tx_desc"]) s.runtime.tx_desc = r.integer<uint16_t>(root["tx_desc"], "tx_desc", 64, 4096);
    if (root["mbufs"]) s.runtime.mbufs = r.integer<uint32_t>(root["mbufs"], "mbufs", 1024, 4u << 20);
    s.runtime.gateway_mac = root["gateway_mac"] ? r.mac(root["gateway_mac"], "gateway_mac")
                                                : rte_ether_addr{{0x02, 0, 0, 0, 0, 0x01}};
    std::set<uint16_t> ports;
    auto take_port = [&](const YAML::Node& n, const std::string& what) {
        const auto p = r.integer<uint16_t>(n, what, 0, RTE_MAX_ETHPORTS - 1);
        if (!ports.insert(p).second) r.fail(n, what + ": port " + std::to_string(p) + " is used twice");
        return p;
    };
    const YAML::Node enis = r.required(root, "enis", "scenario");
    if (!enis.IsSequence() || enis.size() == 0) r.fail(enis, "enis: expected a non-empty list");
    for (size_t i = 0; i < enis.size(); i++) {
        const YAML::Node e = enis[i];
        const std::string w = "enis[" + std::to_string(i) + "]";
        r.only_keys(e, w, {"name", "port", "mac", "ip", "gateway", "gateway_mac", "queues"});
        dp::EniSpec es;
        es.name = r.required(e, "name", w).Scalar();
        es.existing_port = take_port(r.required(e, "port", w), w + ".port");
        es.mac = r.mac(r.required(e, "mac", w), w + ".mac");
        es.ip = r.ipv4(r.required(e, "ip", w), w + ".ip");
        es.gateway_ip = r.ipv4(r.required(e, "gateway", w), w + ".gateway");
        if (e["gateway_mac"]) es.gateway_mac = r.mac(e["gateway_mac"], w + ".gateway_mac");
        if (e["queues"]) es.queues = r.integer<uint16_t>(e["queues"], w + ".queues", 1, dp::kMaxQueuesPerPort);
        es.mtu = 0;  // leave the PMD's MTU alone
        s.enis.push_back(es);
    }
    if (const YAML::Node pods = root["pods"]) {
        if (!pods.IsSequence()) r.fail(pods, "pods: expected a list");
        for (size_t i = 0; i < pods.size(); i++) {
            const YAML::Node p = pods[i];
            const std::string w = "pods[" + std::to_string(i) + "]";
            r.only_keys(p, w, {"name", "port", "eni", "ip", "mac"});
            dp::PodSpec ps;
            ps.key = r.required(p, "name", w).Scalar();
            ps.kind = dp::PodPort::kExisting;
            ps.existing_port = take_port(r.required(p, "port", w), w + ".port");
            ps.eni = r.required(p, "eni", w).Scalar();
            bool found = false;
            for (const auto& e : s.enis) {
                if (e.name == ps.eni) {
                    found = true;
                    ps.ip = e.ip;
                }
            }
            if (!found) r.fail(p["eni"], w + ".eni: no ENI named \"" + ps.eni + "\"");
            if (p["ip"]) ps.ip = r.ipv4(p["ip"], w + ".ip");
            ps.mac = r.mac(r.required(p, "mac", w), w + ".mac");
            s.pods.push_back(ps);
        }
    }
    if (const YAML::Node sv = root["services"]) parse_services(r, sv, s);
    if (const YAML::Node pv = root["policies"]) parse_policies(r, pv, s);
    return s;
}

}  // namespace

PolicyCluster policy_cluster(const PolicySpec& spec, const std::vector<PolicyPod>& pods) {
    PolicyCluster c;
    auto split = [](const std::string& key) -> std::pair<std::string, std::string> {
        const auto slash = key.find('/');
        if (slash == std::string::npos) return {"default", key};
        return {key.substr(0, slash), key.substr(slash + 1)};
    };
    std::set<std::string> namespaces, selected_ns;
    for (const PolicyPod& lp : pods) {
        auto [ns, name] = split(lp.key);
        const bool selected = spec.select.empty() ||
                              std::find(spec.select.begin(), spec.select.end(), lp.key) != spec.select.end();
        acl::Pod p;
        p.ns = ns;
        p.name = name;
        p.ips = {lp.ip};
        p.labels = {{"enidp-perf/pod", name}};
        if (selected) {
            p.labels["enidp-perf/selected"] = "true";
            selected_ns.insert(ns);
        }
        namespaces.insert(ns);
        c.state.pods.push_back(std::move(p));
        c.local.push_back(acl::LocalPod{ns, name, lp.id});
    }
    const uint64_t total = uint64_t{spec.count} * spec.rules_per_policy;
    const uint64_t admit_at = total / 2;
    const uint32_t stride = spec.peer_prefix == 32 ? 1u : 1u << (32 - spec.peer_prefix);
    if (spec.peer_pods) {  // remote pods, one per rule, in their own namespace
        namespaces.insert("enidp-perf-peers");
        for (uint64_t k = 0; k < total; k++) {
            acl::Pod p;
            p.ns = "enidp-perf-peers";
            p.name = "peer-" + std::to_string(k);
            p.ips = {rte_cpu_to_be_32(spec.peer_ip + static_cast<uint32_t>(k))};
            p.labels = {{"enidp-perf/peer", std::to_string(k)}};
            p.node_name = "other-node";
            c.state.pods.push_back(std::move(p));
        }
    }
    for (const std::string& ns : namespaces)
        c.state.namespaces.push_back(acl::Namespace{ns, {{"kubernetes.io/metadata.name", ns}}});
    for (const std::string& ns : selected_ns) {
        uint64_t k = 0;
        for (uint32_t i = 0; i < spec.count; i++) {
            acl::NetworkPolicy np;
            np.ns = ns;
            np.name = "perf-" + std::to_string(i);
            np.pod_selector.match_labels = {{"enidp-perf/selected", "true"}};
            np.policy_types_given = true;
            np.type_ingress = spec.ingress;
            np.type_egress = spec.egress;
            std::vector<acl::Rule> rules;
            for (uint32_t j = 0; j < spec.rules_per_policy; j++, k++) {
                acl::Rule r;
                acl::PolicyPort pp;
                pp.protocol = spec.protocol;
                acl::Peer peer;
                if (spec.admit && k == admit_at) {
                    pp.port = spec.admit_port;
                    peer.ip_block = acl::IpBlock{rte_cpu_to_be_32(spec.admit_ip), spec.admit_prefix, {}};
                } else {
                    pp.port = static_cast<uint16_t>(spec.port + k % spec.port_span);
                    if (spec.peer_pods) {
                        peer.namespace_selector = acl::LabelSelector{{{"kubernetes.io/metadata.name", "enidp-perf-peers"}}, {}};
                        peer.pod_selector = acl::LabelSelector{{{"enidp-perf/peer", std::to_string(k)}}, {}};
                    } else {
                        peer.ip_block = acl::IpBlock{rte_cpu_to_be_32(spec.peer_ip + static_cast<uint32_t>(k) * stride),
                                                     spec.peer_prefix, {}};
                    }
                }
                r.ports = {pp};
                r.peers = {peer};
                rules.push_back(std::move(r));
            }
            if (spec.ingress) np.ingress = rules;
            if (spec.egress) np.egress = std::move(rules);
            c.state.policies.push_back(std::move(np));
        }
    }
    return c;
}

std::variant<Scenario, ScenarioError> parse_scenario(const std::string& yaml, const std::string& source) {
    try {
        return parse(YAML::Load(yaml), source);
    } catch (const Bad& b) {
        return ScenarioError{b.message};
    } catch (const YAML::Exception& e) {
        return ScenarioError{source + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg};
    }
}

std::variant<Scenario, ScenarioError> load_scenario(const std::string& path) {
    std::ifstream f(path);
    if (!f) return ScenarioError{"cannot read " + path + ": " + std::strerror(errno)};
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_scenario(ss.str(), path);
}

}  // namespace enidp::perf

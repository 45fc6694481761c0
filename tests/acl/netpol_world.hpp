// Test helper: the upstream netpol e2e world (namespaces x,y,z × pods a,b,c, ports 80/81 ×
// TCP/UDP/SCTP), policy builders, and probes driven through the real compiler, rte_acl
// snapshot and classify API. Control thread (test main); probes need EAL.
#pragma once

#include <arpa/inet.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "acl/compiler/compiler.hpp"
#include "acl/compiler/snapshot_builder.hpp"
#include "acl/fastpath/classify.hpp"
#include "dataplane/fastpath/policy_stage.hpp"

namespace enidp::acl::test {

inline uint32_t ip(const char* s) {
    uint32_t a = 0;
    inet_pton(AF_INET, s, &a);
    return a;
}

inline LabelSelector labels(std::map<std::string, std::string> m) { return {std::move(m), {}}; }

inline LabelSelector expr(std::string key, LabelRequirement::Op op, std::vector<std::string> values = {}) {
    LabelSelector s;
    s.match_expressions.push_back({std::move(key), op, std::move(values)});
    return s;
}

inline Peer pod_peer(LabelSelector s) { return {std::move(s), std::nullopt, std::nullopt}; }
inline Peer ns_peer(LabelSelector s) { return {std::nullopt, std::move(s), std::nullopt}; }
inline Peer ns_pod_peer(LabelSelector ns, LabelSelector pod) { return {std::move(pod), std::move(ns), std::nullopt}; }
inline Peer cidr_peer(const char* addr, uint8_t len, std::vector<std::pair<uint32_t, uint8_t>> except = {}) {
    return {std::nullopt, std::nullopt, IpBlock{ip(addr), len, std::move(except)}};
}

inline PolicyPort port(uint16_t p, Protocol proto = Protocol::kTcp) { return {proto, p, {}, std::nullopt}; }
inline PolicyPort port_range(uint16_t lo, uint16_t hi, Protocol proto = Protocol::kTcp) { return {proto, lo, {}, hi}; }
inline PolicyPort named_port(std::string name, Protocol proto = Protocol::kTcp) {
    return {proto, std::nullopt, std::move(name), std::nullopt};
}

// A policy with neither section; policyTypes left to inference.
inline NetworkPolicy bare_policy(std::string ns, std::string name, LabelSelector sel) {
    NetworkPolicy p;
    p.ns = std::move(ns);
    p.name = std::move(name);
    p.pod_selector = std::move(sel);
    return p;
}

inline NetworkPolicy ingress_policy(std::string ns, std::string name, LabelSelector sel, std::vector<Rule> rules) {
    NetworkPolicy p = bare_policy(std::move(ns), std::move(name), std::move(sel));
    p.ingress = std::move(rules);
    return p;
}

// policyTypes [Egress].
inline NetworkPolicy egress_policy(std::string ns, std::string name, LabelSelector sel, std::vector<Rule> rules) {
    NetworkPolicy p = bare_policy(std::move(ns), std::move(name), std::move(sel));
    p.egress = std::move(rules);
    p.policy_types_given = true;
    p.type_egress = true;
    return p;
}

inline const char* proto_name(Protocol p) { return p == Protocol::kTcp ? "TCP" : p == Protocol::kUdp ? "UDP" : "SCTP"; }

inline constexpr Protocol kProtocols[] = {Protocol::kTcp, Protocol::kUdp, Protocol::kSctp};
inline constexpr uint16_t kPorts[] = {80, 81};

// Namespaces x, y, z (label ns=<name>) with pods a, b, c (label pod=<name>), each serving
// 80 and 81 on TCP/UDP/SCTP under the upstream names serve-<port>-<proto>; pod a also
// names 80 "web", pod b names 81 "web" (a named port that resolves differently per pod).
// Plus one host-network pod x/h on the node IP 192.168.0.10.
struct World {
    ClusterState state;
    std::vector<LocalPod> local;

    World() {
        const char* nss[] = {"x", "y", "z"};
        const char* pods[] = {"a", "b", "c"};
        uint32_t id = 0;
        for (int n = 0; n < 3; ++n) {
            state.namespaces.push_back({nss[n], {{"ns", nss[n]}}});
            for (int p = 0; p < 3; ++p) {
                Pod pod;
                pod.ns = nss[n];
                pod.name = pods[p];
                pod.labels = {{"pod", pods[p]}};
                const std::string addr = "10.0." + std::to_string(n) + "." + std::to_string(p + 1);
                pod.ips = {ip(addr.c_str())};
                for (uint16_t port : kPorts)
                    for (Protocol proto : kProtocols) {
                        std::string pn = std::string("serve-") + std::to_string(port) + "-" + proto_name(proto);
                        for (auto& ch : pn) ch = static_cast<char>(tolower(ch));
                        pod.ports.push_back({pn, port, proto});
                    }
                if (p == 0) pod.ports.push_back({"web", 80, Protocol::kTcp});
                if (p == 1) pod.ports.push_back({"web", 81, Protocol::kTcp});
                state.pods.push_back(pod);
                local.push_back({pod.ns, pod.name, id++});
            }
        }
        Pod h;
        h.ns = "x";
        h.name = "h";
        h.labels = {{"pod", "h"}};
        h.ips = {ip("192.168.0.10")};
        h.host_network = true;
        h.ports = {{"web", 80, Protocol::kTcp}};
        state.pods.push_back(h);
        local.push_back({"x", "h", id++});
    }

    size_t index(const std::string& key) const {
        for (size_t i = 0; i < state.pods.size(); ++i)
            if (state.pods[i].ns + "/" + state.pods[i].name == key) return i;
        ADD_FAILURE() << "no pod " << key;
        return 0;
    }
};

struct Probe {
    size_t from, to;
    uint16_t port;
    Protocol proto;
};

// Compiled + built world; verdicts through classify_burst.
class Cluster {
public:
    explicit Cluster(const World& w) : w_(w) {
        CompileResult r = compile(w.state, w.local);
        EXPECT_TRUE(r.ok) << r.error;
        compiled_ = std::move(r.policy);
        BuildResult b = SnapshotBuilder::build(compiled_, 1);
        EXPECT_NE(b.snapshot, nullptr) << b.error;
        snap_ = std::move(b.snapshot);
        // The same world as the data path sees it: every pod but the host-network one is a
        // local pod with its policy id; decide_flow() is what the workers run per new flow.
        std::vector<std::pair<uint32_t, uint32_t>> by_ip;
        for (size_t i = 0; i < w.state.pods.size(); ++i) {
            const Pod& p = w.state.pods[i];
            if (p.host_network) continue;
            dp::PodEntry e;
            e.ip = p.ips[0];
            e.policy_id = w.local[i].id;
            by_ip.emplace_back(p.ips[0], static_cast<uint32_t>(dp_.pods.size()));
            dp_.pods.push_back(e);
        }
        dp_.pod_by_ip.build(by_ip);
        dp_.policy = dp::PolicyTables{snap_.get(), dp::PolicyTables::stamp(1), nullptr};
    }

    // The verdict the workers' policy stage reaches for the probe's first packet.
    bool allowed_fastpath(const Probe& p) const {
        const dp::PolicyDecision d = dp::decide_flow(dp_, w_.state.pods[p.from].ips[0], w_.state.pods[p.to].ips[0],
                                                     rte_cpu_to_be_16(p.port), static_cast<uint8_t>(p.proto));
        return d.allowed();
    }

    const CompiledPolicy& compiled() const { return compiled_; }
    const PolicySnapshot& snapshot() const { return *snap_; }

    // A connection from → to is allowed when the sender's egress and the receiver's
    // ingress both allow it; classified as one burst of two keys.
    bool allowed(const Probe& p, Verdict* out = nullptr) const {
        const Pod& src = w_.state.pods[p.from];
        const Pod& dst = w_.state.pods[p.to];
        FlowKey keys[2] = {
            {w_.local[p.from].id, dst.ips[0], p.port, static_cast<uint8_t>(p.proto), Direction::kEgress},
            {w_.local[p.to].id, src.ips[0], p.port, static_cast<uint8_t>(p.proto), Direction::kIngress},
        };
        Verdict v[2];
        const uint16_t denied = classify_burst(*snap_, keys, v, 2);
        if (out != nullptr) out[0] = v[0], out[1] = v[1];
        return denied == 0;
    }

private:
    const World& w_;
    CompiledPolicy compiled_;
    std::unique_ptr<PolicySnapshot> snap_;
    dp::Snapshot dp_;
};

}  // namespace enidp::acl::test

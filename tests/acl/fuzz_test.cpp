// Randomised NetworkPolicy worlds (seeded), every probe classified through the compiler,
// the rte_acl snapshot and classify_burst, compared with a reference evaluator written
// here straight from the networking.k8s.io/v1 text (no compiler code reused). Component
// suite (needs EAL).
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "acl/compiler/dump.hpp"
#include "tests/acl/netpol_world.hpp"

namespace enidp::acl::test {
namespace {

using Op = LabelRequirement::Op;

// ---- reference evaluator -------------------------------------------------------------

bool ref_selects(const LabelSelector& s, const std::map<std::string, std::string>& l) {
    for (const auto& [k, v] : s.match_labels)
        if (!l.contains(k) || l.at(k) != v) return false;
    for (const auto& r : s.match_expressions) {
        const bool has = l.contains(r.key);
        bool in = false;
        for (const auto& v : r.values) in = in || (has && l.at(r.key) == v);
        if (r.op == Op::kIn && !in) return false;
        if (r.op == Op::kNotIn && in) return false;
        if (r.op == Op::kExists && !has) return false;
        if (r.op == Op::kDoesNotExist && has) return false;
    }
    return true;
}

bool in_cidr(uint32_t ip_net, uint32_t net, uint8_t len) {
    const uint64_t span = 1ull << (32 - len);
    const uint64_t a = ntohl(ip_net), base = ntohl(net) & ~(span - 1);
    return a >= base && a < base + span;
}

struct Ref {
    const ClusterState& s;

    std::map<std::string, std::string> ns_labels(const std::string& ns) const {
        for (const auto& n : s.namespaces) {
            if (n.name != ns) continue;
            auto l = n.labels;
            l["kubernetes.io/metadata.name"] = ns;
            return l;
        }
        return {{"kubernetes.io/metadata.name", ns}};
    }

    // "remote" is the pod at remote_ip, or nullptr for an address outside the cluster.
    bool peer_matches(const NetworkPolicy& p, const Peer& peer, const Pod* remote, uint32_t remote_ip) const {
        if (peer.ip_block) {
            if (!in_cidr(remote_ip, peer.ip_block->addr, peer.ip_block->prefix_len)) return false;
            for (const auto& [a, l] : peer.ip_block->except)
                if (in_cidr(remote_ip, a, l)) return false;
            return true;
        }
        if (remote == nullptr || remote->host_network) return false;
        if (peer.namespace_selector ? !ref_selects(*peer.namespace_selector, ns_labels(remote->ns))
                                    : remote->ns != p.ns)
            return false;
        return !peer.pod_selector || ref_selects(*peer.pod_selector, remote->labels);
    }

    static bool port_matches(const PolicyPort& pp, const Pod* dst, uint16_t port, uint8_t proto) {
        if (proto != static_cast<uint8_t>(pp.protocol)) return false;
        if (pp.port) return port >= *pp.port && port <= (pp.end_port ? *pp.end_port : *pp.port);
        if (pp.port_name.empty()) return true;
        if (dst == nullptr || dst->host_network) return false;
        for (const auto& cp : dst->ports)
            if (cp.name == pp.port_name && cp.protocol == pp.protocol && cp.port == port) return true;
        return false;
    }

    bool allowed(Direction d, const Pod& local, const Pod* remote, uint32_t remote_ip, uint16_t port,
                 uint8_t proto) const {
        if (local.host_network) return true;
        bool isolated = false;
        for (const auto& p : s.policies) {
            if (p.ns != local.ns || !ref_selects(p.pod_selector, local.labels)) continue;
            const bool ingress_type = p.policy_types_given ? p.type_ingress : true;
            const bool egress_type = p.policy_types_given ? p.type_egress : (p.egress && !p.egress->empty());
            if (!(d == Direction::kIngress ? ingress_type : egress_type)) continue;
            isolated = true;
            const auto& rules = d == Direction::kIngress ? p.ingress : p.egress;
            if (!rules) continue;
            const Pod* dst = d == Direction::kIngress ? &local : remote;
            for (const Rule& r : *rules) {
                bool peer_ok = r.peers.empty();
                for (const Peer& peer : r.peers) peer_ok = peer_ok || peer_matches(p, peer, remote, remote_ip);
                bool port_ok = r.ports.empty();
                for (const PolicyPort& pp : r.ports) port_ok = port_ok || port_matches(pp, dst, port, proto);
                if (peer_ok && port_ok) return true;
            }
        }
        return !isolated;
    }
};

// ---- random worlds -------------------------------------------------------------------

class Gen {
public:
    explicit Gen(uint32_t seed) : rng_(seed) {}

    int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
    bool coin(int percent = 50) { return pick(100) < percent; }
    template <class T>
    const T& one(const std::vector<T>& v) {
        return v[static_cast<size_t>(pick(static_cast<int>(v.size())))];
    }

    std::map<std::string, std::string> labels_of(
        const std::vector<std::pair<std::string, std::vector<std::string>>>& vocab) {
        std::map<std::string, std::string> l;
        for (const auto& [k, vs] : vocab)
            if (coin(60)) l[k] = one(vs);
        return l;
    }

    LabelSelector selector(const std::vector<std::pair<std::string, std::vector<std::string>>>& vocab) {
        LabelSelector s;
        const int n = pick(3);
        for (int i = 0; i < n; ++i) {
            const auto& [k, vs] = vocab[static_cast<size_t>(pick(static_cast<int>(vocab.size())))];
            if (coin()) {
                s.match_labels[k] = one(vs);
            } else {
                LabelRequirement r{k, static_cast<Op>(pick(4)), {}};
                if (r.op == Op::kIn || r.op == Op::kNotIn)
                    for (int j = 0, m = 1 + pick(2); j < m; ++j) r.values.push_back(one(vs));
                s.match_expressions.push_back(r);
            }
        }
        return s;
    }

    Protocol proto() { return kProtocols[pick(3)]; }
    uint16_t port_number() { return one(std::vector<uint16_t>{53, 80, 81, 8080, 9000}); }

    ClusterState world() {
        ClusterState s;
        const std::vector<std::pair<std::string, std::vector<std::string>>> ns_vocab{{"env", {"prod", "dev"}},
                                                                                     {"team", {"a", "b"}}};
        const int nns = 2 + pick(3);
        for (int i = 0; i < nns; ++i) s.namespaces.push_back({"ns" + std::to_string(i), labels_of(ns_vocab)});
        const int npods = 6 + pick(9);
        for (int i = 0; i < npods; ++i) {
            Pod p;
            p.ns = "ns" + std::to_string(pick(nns + 1));  // ns<nns> has no Namespace object
            p.name = "p" + std::to_string(i);
            p.labels = labels_of(pod_vocab_);
            p.host_network = coin(12);
            const std::string a = p.host_network ? "192.168.0." + std::to_string(10 + i)
                                                 : "10.0." + std::to_string(pick(3)) + "." + std::to_string(10 + i);
            p.ips = {ip(a.c_str())};
            for (int j = 0, m = pick(4); j < m; ++j)
                p.ports.push_back({one(std::vector<std::string>{"web", "metrics", "dns"}), port_number(), proto()});
            s.pods.push_back(p);
        }
        const int npol = 1 + pick(5);
        for (int i = 0; i < npol; ++i) s.policies.push_back(policy(s, "pol" + std::to_string(i), nns, ns_vocab));
        return s;
    }

private:
    Peer peer(const ClusterState& s, const std::vector<std::pair<std::string, std::vector<std::string>>>& ns_vocab) {
        Peer p;
        switch (pick(4)) {
            case 0: p.pod_selector = selector(pod_vocab_); break;
            case 1: p.namespace_selector = selector(ns_vocab); break;
            case 2:
                p.pod_selector = selector(pod_vocab_);
                p.namespace_selector = selector(ns_vocab);
                break;
            default: {
                const Pod& some = s.pods[static_cast<size_t>(pick(static_cast<int>(s.pods.size())))];
                const uint8_t len = static_cast<uint8_t>(one(std::vector<int>{0, 8, 16, 24, 30, 32}));
                IpBlock b{some.ips[0], len, {}};
                if (len < 32 && coin(60))
                    b.except.push_back({some.ips[0], static_cast<uint8_t>(len + 1 + pick(32 - len))});
                if (len <= 16 && coin(30)) b.except.push_back({ip("10.0.1.0"), 24});
                p.ip_block = b;
            }
        }
        return p;
    }

    PolicyPort policy_port() {
        PolicyPort pp;
        pp.protocol = proto();
        switch (pick(4)) {
            case 0: pp.port = port_number(); break;
            case 1:
                pp.port = port_number();
                pp.end_port = static_cast<uint16_t>(*pp.port + pick(100));
                break;
            case 2: pp.port_name = one(std::vector<std::string>{"web", "metrics", "dns"}); break;
            default: break;  // every port of the protocol
        }
        return pp;
    }

    std::vector<Rule> rules(const ClusterState& s,
                            const std::vector<std::pair<std::string, std::vector<std::string>>>& ns_vocab) {
        std::vector<Rule> out;
        for (int i = 0, n = pick(4); i < n; ++i) {
            Rule r;
            for (int j = 0, m = pick(3); j < m; ++j) r.ports.push_back(policy_port());
            for (int j = 0, m = pick(3); j < m; ++j) r.peers.push_back(peer(s, ns_vocab));
            out.push_back(r);
        }
        return out;
    }

    NetworkPolicy policy(const ClusterState& s, std::string name, int nns,
                         const std::vector<std::pair<std::string, std::vector<std::string>>>& ns_vocab) {
        NetworkPolicy p;
        p.ns = "ns" + std::to_string(pick(nns + 1));
        p.name = std::move(name);
        p.pod_selector = coin(30) ? LabelSelector{} : selector(pod_vocab_);
        if (coin(70)) p.ingress = rules(s, ns_vocab);
        if (coin(50)) p.egress = rules(s, ns_vocab);
        if (coin(40)) {
            p.policy_types_given = true;
            p.type_ingress = coin(70);
            p.type_egress = coin(50);
        }
        return p;
    }

    std::mt19937 rng_;
    const std::vector<std::pair<std::string, std::vector<std::string>>> pod_vocab_{{"app", {"web", "db", "api"}},
                                                                                   {"tier", {"1", "2"}}};
};

TEST(NetpolFuzz, CompilerAndClassifierMatchTheReference) {
    const uint32_t base_seed = 20261202;
    size_t probes = 0, allowed = 0;
    for (uint32_t c = 0; c < 300; ++c) {
        Gen g(base_seed + c);
        const ClusterState s = g.world();
        std::vector<LocalPod> local;
        for (uint32_t i = 0; i < s.pods.size(); ++i) local.push_back({s.pods[i].ns, s.pods[i].name, i * 3 + 1});
        const CompileResult r = compile(s, local);
        ASSERT_TRUE(r.ok) << r.error;
        const BuildResult b = SnapshotBuilder::build(r.policy, c);
        ASSERT_NE(b.snapshot, nullptr) << b.error;
        const Ref ref{s};

        // Remote addresses: every pod, plus two outside the cluster.
        std::vector<std::pair<const Pod*, uint32_t>> remotes;
        for (const Pod& p : s.pods) remotes.push_back({&p, p.ips[0]});
        remotes.push_back({nullptr, ip("10.0.1.200")});
        remotes.push_back({nullptr, ip("172.16.5.5")});

        std::vector<FlowKey> keys;
        std::vector<bool> want;
        const std::pair<uint16_t, uint8_t> ports[] = {{53, 17},  {53, 6},   {80, 6},     {80, 132},  {81, 6}, {81, 17},
                                                      {8080, 6}, {8100, 6}, {9000, 132}, {9050, 17}, {0, 1}};
        for (size_t l = 0; l < s.pods.size(); ++l)
            for (const auto& [rp, rip] : remotes) {
                if (rp == &s.pods[l]) continue;
                for (int d = 0; d < kDirections; ++d)
                    for (const auto& [port, proto] : ports) {
                        keys.push_back({local[l].id, rip, port, proto, static_cast<Direction>(d)});
                        want.push_back(ref.allowed(static_cast<Direction>(d), s.pods[l], rp, rip, port, proto));
                    }
            }
        std::vector<Verdict> out(keys.size());
        for (size_t i = 0; i < keys.size(); i += 32)
            classify_burst(*b.snapshot, &keys[i], &out[i],
                           static_cast<uint16_t>(std::min<size_t>(32, keys.size() - i)));
        int wrong = 0;
        for (size_t i = 0; i < keys.size() && wrong < 5; ++i) {
            ++probes;
            allowed += want[i];
            if (out[i].allowed() == want[i]) continue;
            ++wrong;
            const FlowKey& k = keys[i];
            size_t l = 0;
            while (local[l].id != k.pod_id) ++l;
            ADD_FAILURE() << "seed " << base_seed + c << ": pod " << s.pods[l].ns << "/" << s.pods[l].name << " "
                          << (k.direction == Direction::kIngress ? "ingress from " : "egress to ")
                          << format_prefix(k.remote_ip, 32) << " proto " << int(k.proto) << " port " << k.dport
                          << ": got " << (out[i].allowed() ? "allow" : "deny") << " ("
                          << b.snapshot->describe_rule(out[i].rule) << "), reference says "
                          << (want[i] ? "allow" : "deny") << "\n"
                          << dump_pod_text(r.policy, r.policy.pods[l]);
        }
        if (wrong) break;
    }
    // The generator must exercise both outcomes substantially.
    EXPECT_GT(allowed, probes / 10);
    EXPECT_LT(allowed, probes - probes / 10);
    std::printf("fuzz: %zu probes, %zu allowed\n", probes, allowed);
}

}  // namespace
}  // namespace enidp::acl::test

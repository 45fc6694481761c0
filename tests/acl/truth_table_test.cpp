// Truth tables in the style of the upstream netpol e2e suite: namespaces x,y,z × pods
// a,b,c (+ host-network x/h) × ports 80/81 × TCP/UDP/SCTP, every probe classified through
// the real rte_acl snapshot and classify_burst, and decided again by the workers' policy
// stage (dp::decide_flow on a data-path Snapshot), which must agree. Component suite (EAL).
#include <functional>
#include <sstream>

#include <gtest/gtest.h>

#include "acl/compiler/dump.hpp"
#include "tests/acl/netpol_world.hpp"

namespace enidp::acl::test {
namespace {

using Op = LabelRequirement::Op;
using Expect = std::function<bool(const Pod& from, const Pod& to, uint16_t port, Protocol proto)>;

bool is(const Pod& p, const char* key) { return p.ns + "/" + p.name == key; }

// Probes every ordered pair of distinct pods on every port and protocol; on mismatch
// prints the reachability matrix of that (port, protocol) like the upstream suite.
void check(const World& w, const Expect& expect) {
    Cluster c(w);
    const auto& pods = w.state.pods;
    for (uint16_t port : kPorts) {
        for (Protocol proto : kProtocols) {
            int wrong = 0;
            std::ostringstream m;
            m << proto_name(proto) << "/" << port << " (rows: from, cols: to; . allow, X deny, * wrong)\n    ";
            for (const Pod& to : pods) m << to.ns << to.name << " ";
            m << "\n";
            for (size_t f = 0; f < pods.size(); ++f) {
                m << pods[f].ns << pods[f].name << "  ";
                for (size_t t = 0; t < pods.size(); ++t) {
                    if (f == t) {
                        m << " -  ";
                        continue;
                    }
                    const bool got = c.allowed({f, t, port, proto});
                    const bool want = expect(pods[f], pods[t], port, proto);
                    // The workers' own decision (dp::decide_flow) must agree with the classifier.
                    EXPECT_EQ(c.allowed_fastpath({f, t, port, proto}), got)
                        << pods[f].ns << "/" << pods[f].name << " -> " << pods[t].ns << "/" << pods[t].name << " "
                        << proto_name(proto) << "/" << port;
                    wrong += got != want;
                    m << " " << (got != want ? '*' : got ? '.' : 'X') << "  ";
                }
                m << "\n";
            }
            EXPECT_EQ(wrong, 0) << m.str();
        }
    }
}

bool real(const Pod& p) { return !p.host_network; }

TEST(NetpolTruthTable, NoPoliciesAllowsEverything) {
    World w;
    check(w, [](const Pod&, const Pod&, uint16_t, Protocol) { return true; });
}

TEST(NetpolTruthTable, DenyAllIngress) {
    World w;
    w.state.policies.push_back(ingress_policy("x", "deny-all", {}, {}));
    check(w, [](const Pod&, const Pod& to, uint16_t, Protocol) { return !(to.ns == "x" && real(to)); });
}

TEST(NetpolTruthTable, AllowAllIngressUnionedWithDenyAll) {
    World w;
    w.state.policies.push_back(ingress_policy("x", "deny-all", {}, {}));
    w.state.policies.push_back(ingress_policy("x", "allow-all", {}, {Rule{}}));
    check(w, [](const Pod&, const Pod&, uint16_t, Protocol) { return true; });
}

TEST(NetpolTruthTable, PodSelectorOnlyMeansPolicyNamespace) {
    World w;
    w.state.policies.push_back(
        ingress_policy("x", "a-from-b", labels({{"pod", "a"}}), {Rule{{}, {pod_peer(labels({{"pod", "b"}}))}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t, Protocol) { return !is(to, "x/a") || is(from, "x/b"); });
}

TEST(NetpolTruthTable, NamespaceSelector) {
    World w;
    w.state.policies.push_back(
        ingress_policy("x", "a-from-y", labels({{"pod", "a"}}), {Rule{{}, {ns_peer(labels({{"ns", "y"}}))}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t, Protocol) { return !is(to, "x/a") || from.ns == "y"; });
}

TEST(NetpolTruthTable, BothSelectorsInOnePeerAreAnd) {
    World w;
    w.state.policies.push_back(
        ingress_policy("x", "a-from-yb", labels({{"pod", "a"}}),
                       {Rule{{}, {ns_pod_peer(labels({{"ns", "y"}}), labels({{"pod", "b"}}))}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t, Protocol) { return !is(to, "x/a") || is(from, "y/b"); });
}

TEST(NetpolTruthTable, TwoPeersAreOr) {
    World w;
    w.state.policies.push_back(
        ingress_policy("x", "a-from-y-or-b", labels({{"pod", "a"}}),
                       {Rule{{}, {ns_peer(labels({{"ns", "y"}})), pod_peer(labels({{"pod", "b"}}))}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t, Protocol) {
        return !is(to, "x/a") || from.ns == "y" || is(from, "x/b");
    });
}

TEST(NetpolTruthTable, MatchExpressionIn) {
    World w;
    w.state.policies.push_back(ingress_policy("x", "a-from-yz", labels({{"pod", "a"}}),
                                              {Rule{{}, {ns_peer(expr("ns", Op::kIn, {"y", "z"}))}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t, Protocol) {
        return !is(to, "x/a") || (real(from) && from.ns != "x");
    });
}

TEST(NetpolTruthTable, MatchExpressionNotIn) {
    World w;
    // Selected pods: x/a and x/c (pod NotIn [b]); peers: pods of x other than b.
    w.state.policies.push_back(ingress_policy("x", "not-b", expr("pod", Op::kNotIn, {"b"}),
                                              {Rule{{}, {pod_peer(expr("pod", Op::kNotIn, {"b"}))}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t, Protocol) {
        const bool selected = to.ns == "x" && real(to) && to.name != "b";
        return !selected || (from.ns == "x" && real(from) && from.name != "b");
    });
}

TEST(NetpolTruthTable, MatchExpressionExistsAndDoesNotExist) {
    World w;
    w.state.namespaces[1].labels["team"] = "blue";  // y
    w.state.pods[0].labels["tier"] = "front";       // x/a
    // Ingress to pods with a tier label, from namespaces without a team label.
    w.state.policies.push_back(
        ingress_policy("x", "tier", expr("tier", Op::kExists), {Rule{{}, {ns_peer(expr("team", Op::kDoesNotExist))}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t, Protocol) {
        return !is(to, "x/a") || (real(from) && from.ns != "y");
    });
}

TEST(NetpolTruthTable, IpBlockWithExceptCoversPodIps) {
    World w;
    w.state.policies.push_back(ingress_policy("x", "cidr", labels({{"pod", "a"}}),
                                              {Rule{{}, {cidr_peer("10.0.1.0", 24, {{ip("10.0.1.2"), 32}})}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t, Protocol) {
        return !is(to, "x/a") || is(from, "y/a") || is(from, "y/c");
    });
}

TEST(NetpolTruthTable, EndPortRange) {
    World w;
    w.state.policies.push_back(ingress_policy("x", "range", labels({{"pod", "a"}}),
                                              {Rule{{port_range(81, 90), port_range(60, 80, Protocol::kUdp)}, {}}}));
    check(w, [](const Pod&, const Pod& to, uint16_t port, Protocol proto) {
        return !is(to, "x/a") || (proto == Protocol::kTcp && port == 81) || (proto == Protocol::kUdp && port == 80);
    });
}

TEST(NetpolTruthTable, NamedPortResolvesOnEachIngressPod) {
    World w;
    // "web" is TCP 80 on a, TCP 81 on b, absent on c (so c is deny-all).
    w.state.policies.push_back(ingress_policy("x", "web", {}, {Rule{{named_port("web")}, {}}}));
    check(w, [](const Pod&, const Pod& to, uint16_t port, Protocol proto) {
        if (to.ns != "x" || !real(to)) return true;
        if (proto != Protocol::kTcp) return false;
        return (to.name == "a" && port == 80) || (to.name == "b" && port == 81);
    });
}

TEST(NetpolTruthTable, NamedPortResolvesOnEachEgressDestination) {
    World w;
    w.state.policies.push_back(egress_policy("y", "web-out", labels({{"pod", "a"}}),
                                             {Rule{{named_port("web")}, {ns_peer(labels({{"ns", "x"}}))}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t port, Protocol proto) {
        if (!is(from, "y/a")) return true;
        return proto == Protocol::kTcp && ((is(to, "x/a") && port == 80) || (is(to, "x/b") && port == 81));
    });
}

TEST(NetpolTruthTable, NamedPortWithProtocolMustMatch) {
    World w;
    w.state.policies.push_back(ingress_policy(
        "x", "udp-81", labels({{"pod", "c"}}),
        {Rule{{named_port("serve-81-udp", Protocol::kUdp), named_port("serve-80-udp", Protocol::kSctp)}, {}}}));
    check(w, [](const Pod&, const Pod& to, uint16_t port, Protocol proto) {
        return !is(to, "x/c") || (proto == Protocol::kUdp && port == 81);
    });
}

TEST(NetpolTruthTable, Sctp) {
    World w;
    w.state.policies.push_back(
        ingress_policy("x", "sctp", labels({{"pod", "a"}}), {Rule{{port(80, Protocol::kSctp)}, {ns_peer({})}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t port, Protocol proto) {
        return !is(to, "x/a") || (real(from) && proto == Protocol::kSctp && port == 80);
    });
}

TEST(NetpolTruthTable, EgressOnlyLeavesIngressOpen) {
    World w;
    w.state.policies.push_back(
        egress_policy("x", "a-to-y80", labels({{"pod", "a"}}), {Rule{{port(80)}, {ns_peer(labels({{"ns", "y"}}))}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t port, Protocol proto) {
        return !is(from, "x/a") || (to.ns == "y" && port == 80 && proto == Protocol::kTcp);
    });
}

TEST(NetpolTruthTable, PolicyTypesInferredFromEgressRules) {
    World w;
    // No policyTypes, egress rules, no ingress section: Ingress (deny all) and Egress.
    NetworkPolicy p = bare_policy("x", "infer", labels({{"pod", "a"}}));
    p.egress = std::vector<Rule>{Rule{{}, {ns_peer(labels({{"ns", "z"}}))}}};
    w.state.policies.push_back(p);
    check(w, [](const Pod& from, const Pod& to, uint16_t, Protocol) {
        if (is(to, "x/a")) return false;
        return !is(from, "x/a") || to.ns == "z";
    });
}

TEST(NetpolTruthTable, EmptyEgressWithoutPolicyTypesIsIngressOnly) {
    World w;
    NetworkPolicy p = bare_policy("x", "infer-empty", labels({{"pod", "a"}}));
    p.egress = std::vector<Rule>{};  // `egress: []` without policyTypes: egress not affected
    w.state.policies.push_back(p);
    check(w, [](const Pod&, const Pod& to, uint16_t, Protocol) { return !is(to, "x/a"); });
}

TEST(NetpolTruthTable, PolicyTypesGivenIgnoreOtherSection) {
    World w;
    NetworkPolicy p = ingress_policy("x", "ingress-only", labels({{"pod", "a"}}), {Rule{}});
    p.egress = std::vector<Rule>{Rule{{port(9999)}, {}}};  // ignored: policyTypes [Ingress]
    p.policy_types_given = true;
    p.type_ingress = true;
    w.state.policies.push_back(p);
    check(w, [](const Pod&, const Pod&, uint16_t, Protocol) { return true; });
}

TEST(NetpolTruthTable, IngressAndEgressIndependent) {
    World w;
    w.state.policies.push_back(egress_policy("x", "a-no-egress", labels({{"pod", "a"}}), {}));
    w.state.policies.push_back(
        ingress_policy("x", "a-from-b", labels({{"pod", "a"}}), {Rule{{}, {pod_peer(labels({{"pod", "b"}}))}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t, Protocol) {
        if (is(from, "x/a")) return false;
        return !is(to, "x/a") || is(from, "x/b");
    });
}

TEST(NetpolTruthTable, MultiplePoliciesUnionAndReportTheDecidingRule) {
    World w;
    w.state.policies.push_back(
        ingress_policy("x", "p1", labels({{"pod", "a"}}), {Rule{{port(80)}, {pod_peer(labels({{"pod", "b"}}))}}}));
    w.state.policies.push_back(ingress_policy("x", "p2", labels({{"pod", "a"}}),
                                              {Rule{{port(81, Protocol::kUdp)}, {ns_peer(labels({{"ns", "y"}}))}},
                                               Rule{{port(81, Protocol::kSctp)}, {ns_peer(labels({{"ns", "z"}}))}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t port, Protocol proto) {
        if (!is(to, "x/a")) return true;
        return (is(from, "x/b") && port == 80 && proto == Protocol::kTcp) ||
               (from.ns == "y" && port == 81 && proto == Protocol::kUdp) ||
               (from.ns == "z" && port == 81 && proto == Protocol::kSctp);
    });
    Cluster c(w);
    Verdict v[2];
    ASSERT_TRUE(c.allowed({w.index("z/c"), w.index("x/a"), 81, Protocol::kSctp}, v));
    EXPECT_EQ(v[0].reason, VerdictReason::kNotIsolated);
    EXPECT_EQ(v[1].reason, VerdictReason::kAllowedByRule);
    EXPECT_EQ(c.snapshot().describe_rule(v[1].rule), "x/p2 ingress[1]");
    ASSERT_TRUE(c.allowed({w.index("x/b"), w.index("x/a"), 80, Protocol::kTcp}, v));
    EXPECT_EQ(c.snapshot().describe_rule(v[1].rule), "x/p1 ingress[0]");
    ASSERT_FALSE(c.allowed({w.index("x/c"), w.index("x/a"), 80, Protocol::kTcp}, v));
    EXPECT_EQ(v[1].reason, VerdictReason::kDefaultDeny);
    EXPECT_EQ(v[1].rule, 0u);
    const uint32_t xa = w.local[w.index("x/a")].id;
    EXPECT_EQ(trace_flow(c.snapshot(), {xa, ip("10.0.2.3"), 81, 132, Direction::kIngress}),
              "pod 0 ingress 10.0.2.3 sctp/81: allow by x/p2 ingress[1] (generation 1)");
    EXPECT_EQ(trace_flow(c.snapshot(), {xa, ip("10.0.2.3"), 81, 6, Direction::kIngress}),
              "pod 0 ingress 10.0.2.3 tcp/81: deny, isolated and no rule matched (generation 1)");
    EXPECT_EQ(trace_flow(c.snapshot(), {xa, ip("10.0.2.3"), 81, 6, Direction::kEgress}),
              "pod 0 egress 10.0.2.3 tcp/81: allow, not isolated (generation 1)");
}

TEST(NetpolTruthTable, HostNetworkPodsAreNeverSelectedAndOnlyMatchedByIpBlock) {
    World w;
    // Every pod of every namespace (both selectors empty) may reach x's pods on 80 ...
    w.state.policies.push_back(ingress_policy("x", "all-pods", {}, {Rule{{port(80)}, {ns_pod_peer({}, {})}}}));
    // ... and the node's network on 81.
    w.state.policies.push_back(ingress_policy("x", "node", {}, {Rule{{port(81)}, {cidr_peer("192.168.0.0", 24)}}}));
    check(w, [](const Pod& from, const Pod& to, uint16_t port, Protocol proto) {
        if (to.ns != "x" || !real(to)) return true;  // x/h is not selected by podSelector {}
        if (proto != Protocol::kTcp) return false;
        return real(from) ? port == 80 : port == 81;
    });
}

TEST(NetpolTruthTable, UnknownPodIdIsNotIsolated) {
    World w;
    w.state.policies.push_back(ingress_policy("x", "deny-all", {}, {}));
    Cluster c(w);
    const Verdict v = classify_one(c.snapshot(), {123456, ip("10.0.0.1"), 80, 6, Direction::kIngress});
    EXPECT_EQ(v.reason, VerdictReason::kUnknownPod);
    EXPECT_TRUE(v.allowed());
}

TEST(NetpolTruthTable, LargeBurstCrossesChunks) {
    World w;
    w.state.policies.push_back(
        ingress_policy("x", "a-from-y", labels({{"pod", "a"}}), {Rule{{port(80)}, {ns_peer(labels({{"ns", "y"}}))}}}));
    Cluster c(w);
    std::vector<FlowKey> keys;
    std::vector<bool> want;
    for (int i = 0; i < 200; ++i) {
        const bool from_y = i % 3 == 0;
        const uint32_t remote = from_y ? ip("10.0.1.2") : ip("10.0.2.2");
        keys.push_back({0, remote, static_cast<uint16_t>(i % 2 ? 80 : 81), 6,
                        i % 5 == 0 ? Direction::kEgress : Direction::kIngress});
        want.push_back(i % 5 == 0 || (from_y && i % 2));
    }
    std::vector<Verdict> out(keys.size());
    const uint16_t denied = classify_burst(c.snapshot(), keys.data(), out.data(), static_cast<uint16_t>(keys.size()));
    uint16_t want_denied = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
        EXPECT_EQ(out[i].allowed(), want[i]) << i;
        want_denied += !want[i];
    }
    EXPECT_EQ(denied, want_denied);
}

}  // namespace
}  // namespace enidp::acl::test

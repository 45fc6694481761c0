// Unit tests of the pure NetworkPolicy compiler (no EAL): selectors, prefix arithmetic,
// policyTypes inference, entries per pod, dumps and input errors.
#include <gtest/gtest.h>

#include "acl/compiler/cidr.hpp"
#include "acl/compiler/dump.hpp"
#include "tests/acl/netpol_world.hpp"

namespace enidp::acl::test {
namespace {

using Op = LabelRequirement::Op;

TEST(AclSelector, MatchLabelsAndEveryOperator) {
    const std::map<std::string, std::string> l{{"app", "web"}, {"tier", "front"}};
    EXPECT_TRUE(selector_matches({}, l));
    EXPECT_TRUE(selector_matches({}, {}));
    EXPECT_TRUE(selector_matches(labels({{"app", "web"}}), l));
    EXPECT_FALSE(selector_matches(labels({{"app", "web"}, {"x", "y"}}), l));
    EXPECT_TRUE(selector_matches(expr("app", Op::kIn, {"db", "web"}), l));
    EXPECT_FALSE(selector_matches(expr("app", Op::kIn, {"db"}), l));
    EXPECT_FALSE(selector_matches(expr("missing", Op::kIn, {"db"}), l));
    EXPECT_TRUE(selector_matches(expr("app", Op::kNotIn, {"db"}), l));
    EXPECT_FALSE(selector_matches(expr("app", Op::kNotIn, {"web"}), l));
    EXPECT_TRUE(selector_matches(expr("missing", Op::kNotIn, {"web"}), l));  // absent key is "not in"
    EXPECT_TRUE(selector_matches(expr("tier", Op::kExists), l));
    EXPECT_FALSE(selector_matches(expr("missing", Op::kExists), l));
    EXPECT_TRUE(selector_matches(expr("missing", Op::kDoesNotExist), l));
    EXPECT_FALSE(selector_matches(expr("tier", Op::kDoesNotExist), l));
    LabelSelector both = labels({{"app", "web"}});
    both.match_expressions.push_back({"tier", Op::kNotIn, {"front"}});
    EXPECT_FALSE(selector_matches(both, l));  // labels and expressions are ANDed
}

TEST(AclCidr, SubtractExcept) {
    std::vector<Prefix> out;
    subtract_prefixes(make_prefix(0x0a000000, 24), {make_prefix(0x0a000080, 25)}, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].addr, 0x0a000000u);
    EXPECT_EQ(out[0].len, 25);
    out.clear();
    subtract_prefixes(make_prefix(0x0a000000, 24), {make_prefix(0x0a000005, 32)}, out);
    EXPECT_EQ(out.size(), 8u);  // /25 /26 /27 /28 /29 /31 /32 /30 around .5
    uint64_t covered = 0;
    for (const auto& p : out) {
        EXPECT_FALSE(prefix_contains(p, 0x0a000005));
        covered += 1ull << (32 - p.len);
    }
    EXPECT_EQ(covered, 255u);
    out.clear();
    subtract_prefixes(make_prefix(0x0a000000, 24), {make_prefix(0x0a000000, 16)}, out);
    EXPECT_TRUE(out.empty());
    out.clear();
    subtract_prefixes(make_prefix(0x0a000000, 24), {make_prefix(0x0b000000, 24)}, out);  // outside: ignored
    ASSERT_EQ(out.size(), 1u);
    out.clear();
    subtract_prefixes(make_prefix(0, 0), {}, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].len, 0);
}

TEST(AclCompiler, PolicyTypesInference) {
    NetworkPolicy p;
    EXPECT_TRUE(policy_affects(p, Direction::kIngress));
    EXPECT_FALSE(policy_affects(p, Direction::kEgress));
    p.egress = std::vector<Rule>{};
    EXPECT_FALSE(policy_affects(p, Direction::kEgress));
    p.egress = std::vector<Rule>{Rule{}};
    EXPECT_TRUE(policy_affects(p, Direction::kEgress));
    p.policy_types_given = true;
    p.type_egress = true;
    EXPECT_FALSE(policy_affects(p, Direction::kIngress));
    EXPECT_TRUE(policy_affects(p, Direction::kEgress));
}

const PodRules& pod_rules(const CompiledPolicy& c, const std::string& key) {
    for (const auto& p : c.pods)
        if (p.ns + "/" + p.name == key) return p;
    throw std::runtime_error("no pod " + key);
}

TEST(AclCompiler, DenyAllVersusAllowAll) {
    World w;
    w.state.policies.push_back(ingress_policy("x", "deny", labels({{"pod", "a"}}), {}));
    w.state.policies.push_back(ingress_policy("y", "allow", labels({{"pod", "a"}}), {Rule{}}));
    const CompileResult r = compile(w.state, w.local);
    ASSERT_TRUE(r.ok) << r.error;
    const auto& xa = pod_rules(r.policy, "x/a").in(Direction::kIngress);
    EXPECT_TRUE(xa.isolated);
    EXPECT_TRUE(xa.entries.empty());
    const auto& ya = pod_rules(r.policy, "y/a").in(Direction::kIngress);
    EXPECT_TRUE(ya.isolated);
    ASSERT_EQ(ya.entries.size(), 1u);
    EXPECT_EQ(ya.entries[0].prefix_len, 0);
    EXPECT_EQ(ya.entries[0].protocol, kAnyProtocol);
    EXPECT_FALSE(pod_rules(r.policy, "x/b").in(Direction::kIngress).isolated);
    EXPECT_FALSE(pod_rules(r.policy, "x/a").in(Direction::kEgress).isolated);
}

TEST(AclCompiler, EgressNamedPortToIpBlockResolvesOnPodsInside) {
    World w;
    w.state.policies.push_back(egress_policy("x", "web", labels({{"pod", "c"}}),
                                             {Rule{{named_port("web"), port(53, Protocol::kUdp)},
                                                   {cidr_peer("10.0.1.0", 24), cidr_peer("192.168.0.0", 16)}}}));
    const CompileResult r = compile(w.state, w.local);
    ASSERT_TRUE(r.ok);
    std::vector<std::string> got;
    for (const auto& e : pod_rules(r.policy, "x/c").in(Direction::kEgress).entries)
        got.push_back(format_prefix(e.addr, e.prefix_len) + " " + protocol_name(e.protocol) + " " +
                      std::to_string(e.port_lo) + "-" + std::to_string(e.port_hi));
    // udp 53 to both blocks; "web" only on y/a (80) and y/b (81); the host-network pod's
    // ports are never used for named ports.
    EXPECT_EQ(got, (std::vector<std::string>{"10.0.1.0/24 udp 53-53", "10.0.1.1/32 tcp 80-80", "10.0.1.2/32 tcp 81-81",
                                             "192.168.0.0/16 udp 53-53"}));
}

TEST(AclCompiler, DumpTextAndJson) {
    World w;
    w.state.policies.push_back(ingress_policy("x", "p", labels({{"pod", "a"}}),
                                              {Rule{{port_range(80, 81)}, {pod_peer(labels({{"pod", "b"}}))}},
                                               Rule{{}, {cidr_peer("10.9.0.0", 16, {{ip("10.9.1.0"), 24}})}}}));
    const CompileResult r = compile(w.state, w.local);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(dump_pod_text(r.policy, pod_rules(r.policy, "x/a")),
              "pod x/a id 0 ips 10.0.0.1\n"
              "  ingress: isolated by x/p\n"
              "    allow 10.0.0.2/32 tcp 80-81  x/p ingress[0]\n"
              "    allow 10.9.0.0/24 any *  x/p ingress[1]\n"
              "    allow 10.9.2.0/23 any *  x/p ingress[1]\n"
              "    allow 10.9.4.0/22 any *  x/p ingress[1]\n"
              "    allow 10.9.8.0/21 any *  x/p ingress[1]\n"
              "    allow 10.9.16.0/20 any *  x/p ingress[1]\n"
              "    allow 10.9.32.0/19 any *  x/p ingress[1]\n"
              "    allow 10.9.64.0/18 any *  x/p ingress[1]\n"
              "    allow 10.9.128.0/17 any *  x/p ingress[1]\n"
              "  egress: not isolated (everything allowed)\n");
    const auto j = dump_pod_json(r.policy, pod_rules(r.policy, "x/a"));
    EXPECT_EQ(j["pod"], "x/a");
    EXPECT_EQ(j["ingress"]["isolated"], true);
    EXPECT_EQ(j["ingress"]["allow"][0]["remote"], "10.0.0.2/32");
    EXPECT_EQ(j["ingress"]["allow"][0]["port_hi"], 81);
    EXPECT_EQ(j["ingress"]["allow"][1]["policy"], "x/p");
    EXPECT_EQ(j["egress"]["isolated"], false);
    EXPECT_EQ(dump_pod_text(r.policy, pod_rules(r.policy, "y/a")),
              "pod y/a id 3 ips 10.0.1.1\n"
              "  ingress: not isolated (everything allowed)\n"
              "  egress: not isolated (everything allowed)\n");
}

TEST(AclCompiler, InputErrorsAndWarnings) {
    World w;
    auto local = w.local;
    local.push_back({"x", "nope", 99});
    EXPECT_FALSE(compile(w.state, local).ok);
    local = w.local;
    local[1].id = local[0].id;
    EXPECT_FALSE(compile(w.state, local).ok);
    local = w.local;
    local[0].id = kMaxPodId;
    EXPECT_FALSE(compile(w.state, local).ok);

    w.state.policies.push_back(
        ingress_policy("x", "bad", labels({{"pod", "a"}}), {Rule{{port_range(90, 80)}, {Peer{}}}}));
    const CompileResult r = compile(w.state, w.local);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.policy.warnings.size(), 2u);
    EXPECT_TRUE(pod_rules(r.policy, "x/a").in(Direction::kIngress).entries.empty());
}

TEST(AclCompiler, NamespaceWithoutObjectGetsItsNameLabel) {
    World w;
    w.state.namespaces.clear();  // only pods: the name label still selects
    w.state.policies.push_back(ingress_policy("x", "p", labels({{"pod", "a"}}),
                                              {Rule{{}, {ns_peer(labels({{"kubernetes.io/metadata.name", "z"}}))}}}));
    const CompileResult r = compile(w.state, w.local);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(pod_rules(r.policy, "x/a").in(Direction::kIngress).entries.size(), 3u);
}

}  // namespace
}  // namespace enidp::acl::test

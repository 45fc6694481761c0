// Unit tests of the NIC-offload planner (acl/offload/plan.hpp; pure, no EAL): when a pod's
// sources may be dropped in the NIC, the exact drop set (complement of every admitted
// source), except blocks, ports ignored, blocklist, cap, ICMP exemption, priorities.
#include <gtest/gtest.h>

#include <random>

#include "acl/offload/plan.hpp"
#include "tests/acl/netpol_world.hpp"

namespace enidp::acl::test {
namespace {

uint32_t hip(const char* s) { return ntohl(ip(s)); }
Prefix pfx(const char* s, uint8_t len) { return make_prefix(hip(s), len); }

bool matches(const OffloadRule& r, uint32_t src, uint32_t dst, uint8_t proto) {
    return r.dst == dst && (r.src_len == 0 || prefix_contains({r.src, r.src_len}, src)) && (!r.proto || r.proto == proto);
}

// What the NIC does with a packet under `plan`: first rule by priority decides.
bool nic_drops(const OffloadPlan& plan, uint32_t src, uint32_t dst, uint8_t proto = 6) {
    const OffloadRule* best = nullptr;
    for (const OffloadRule& r : plan.rules)
        if (matches(r, src, dst, proto) && (!best || r.priority < best->priority)) best = &r;
    return best && best->is_drop();
}

bool admitted_by(const PodRules& pod, uint32_t src) {
    for (int d = 0; d < kDirections; ++d)
        for (const AllowEntry& e : pod.dir[d].entries)
            if (prefix_contains(make_prefix(ntohl(e.addr), e.prefix_len), src)) return true;
    return false;
}

size_t count(const OffloadPlan& p, OffloadRuleKind k) {
    return static_cast<size_t>(std::count_if(p.rules.begin(), p.rules.end(), [&](const OffloadRule& r) { return r.kind == k; }));
}

CompiledPolicy compile_ok(const World& w) {
    CompileResult c = compile(w.state, w.local);
    EXPECT_TRUE(c.ok) << c.error;
    return c.policy;
}

const uint32_t kXa = 0;  // World: x/a is id 0, 10.0.0.1

TEST(AclOffloadPrefixes, ComplementAndNormalize) {
    EXPECT_TRUE(complement_prefixes({pfx("0.0.0.0", 0)}).empty());
    auto all = complement_prefixes({});
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].len, 0);
    // complement of 10.0.0.0/8 is 8 prefixes: 0/5 8/7 11/8 12/6 16/4 32/3 64/2 128/1
    auto c = complement_prefixes({pfx("10.0.0.0", 8)});
    EXPECT_EQ(c.size(), 8u);
    uint64_t covered = 0;
    for (const Prefix& p : c) {
        EXPECT_FALSE(prefix_covers(pfx("10.0.0.0", 8), p));
        covered += uint64_t{1} << (32 - p.len);
    }
    EXPECT_EQ(covered, (uint64_t{1} << 32) - (uint64_t{1} << 24));
    // overlapping and adjacent inputs merge
    auto n = normalize_prefixes({pfx("10.0.0.0", 25), pfx("10.0.0.128", 25), pfx("10.0.0.7", 32), pfx("10.0.0.0", 24)});
    ASSERT_EQ(n.size(), 1u);
    EXPECT_EQ(n[0].addr, hip("10.0.0.0"));
    EXPECT_EQ(n[0].len, 24);
    EXPECT_EQ(complement_prefixes({pfx("255.255.255.255", 32)}).back().addr, hip("255.255.255.254"));
}

TEST(AclOffloadPlan, EgressNotIsolatedOffloadsOnlyTheBlocklist) {
    World w;
    w.state.policies.push_back(ingress_policy("x", "in", labels({{"pod", "a"}}), {Rule{{}, {pod_peer(labels({{"pod", "b"}}))}}}));
    const CompiledPolicy c = compile_ok(w);
    OffloadOptions o;
    o.blocklist = {pfx("203.0.113.0", 24), pfx("203.0.113.7", 32)};
    const OffloadPlan p = plan_eni_offload(c, kXa, o);
    EXPECT_FALSE(p.policy_offloaded);
    EXPECT_NE(p.reason.find("egress"), std::string::npos) << p.reason;
    ASSERT_EQ(p.rules.size(), 1u);  // the /32 lies inside the /24
    EXPECT_EQ(p.rules[0].kind, OffloadRuleKind::kBlock);
    EXPECT_EQ(p.rules[0].dst, hip("10.0.0.1"));
    EXPECT_TRUE(nic_drops(p, hip("203.0.113.9"), hip("10.0.0.1")));
    EXPECT_FALSE(nic_drops(p, hip("198.51.100.1"), hip("10.0.0.1")));  // a reply source for all we know
    EXPECT_FALSE(nic_drops(p, hip("203.0.113.9"), hip("10.0.0.2")));   // another address on the ENI
}

TEST(AclOffloadPlan, IngressNotIsolatedOffloadsOnlyTheBlocklist) {
    World w;
    w.state.policies.push_back(egress_policy("x", "eg", labels({{"pod", "a"}}), {Rule{{}, {cidr_peer("10.0.0.0", 16)}}}));
    const OffloadPlan p = plan_eni_offload(compile_ok(w), kXa, {});
    EXPECT_FALSE(p.policy_offloaded);
    EXPECT_TRUE(p.rules.empty());
    EXPECT_NE(p.reason.find("ingress"), std::string::npos) << p.reason;
}

TEST(AclOffloadPlan, IsolatedBothWaysDropsExactlyWhatNoRuleAdmits) {
    World w;
    NetworkPolicy both = ingress_policy("x", "both", labels({{"pod", "a"}}),
                                        {Rule{{port(80)}, {pod_peer(labels({{"pod", "b"}}))}},
                                         Rule{{}, {cidr_peer("172.16.0.0", 12, {{ip("172.16.5.0"), 24}})}}});
    both.egress = std::vector<Rule>{Rule{{port(443)}, {cidr_peer("198.51.100.0", 24)}},
                                    Rule{{named_port("serve-81-udp", Protocol::kUdp)}, {ns_peer(labels({{"ns", "y"}}))}}};
    both.policy_types_given = true;
    both.type_ingress = both.type_egress = true;
    w.state.policies.push_back(both);
    const CompiledPolicy c = compile_ok(w);
    const PodRules& pod = c.pods[kXa];
    ASSERT_TRUE(pod.in(Direction::kIngress).isolated && pod.in(Direction::kEgress).isolated);
    const OffloadPlan p = plan_eni_offload(c, kXa, {});
    ASSERT_TRUE(p.policy_offloaded) << p.reason;
    EXPECT_EQ(count(p, OffloadRuleKind::kExemptIcmp), 1u);
    EXPECT_EQ(count(p, OffloadRuleKind::kPolicyDrop), p.droppable_prefixes);

    const uint32_t dst = hip("10.0.0.1");
    // ingress remotes (port 80 only, but ports do not matter), egress remotes (443 only)
    EXPECT_FALSE(nic_drops(p, hip("10.0.0.2"), dst));       // x/b, ingress tcp/80
    EXPECT_FALSE(nic_drops(p, hip("10.0.1.2"), dst));       // y/b, egress udp/81 named port (reply source)
    EXPECT_FALSE(nic_drops(p, hip("198.51.100.77"), dst));  // egress ipBlock, reply source
    EXPECT_FALSE(nic_drops(p, hip("172.31.0.1"), dst));
    EXPECT_TRUE(nic_drops(p, hip("172.16.5.9"), dst));      // the except hole, admitted by no other rule
    EXPECT_TRUE(nic_drops(p, hip("10.0.0.3"), dst));        // x/c: no rule
    EXPECT_TRUE(nic_drops(p, hip("8.8.8.8"), dst));
    EXPECT_FALSE(nic_drops(p, hip("8.8.8.8"), dst, 1));     // ICMP errors of the pod's connections pass
    EXPECT_FALSE(nic_drops(p, hip("8.8.8.8"), hip("10.0.0.9")));  // only dst = the pod's IP

    // exhaustive over random sources: dropped ⇔ admitted by no entry in either direction
    std::mt19937 rng(7);
    for (int i = 0; i < 20000; ++i) {
        uint32_t src = rng();
        if (i % 4 == 0) src = (hip("172.16.0.0") & 0xfff00000u) | (src & 0x000fffffu);
        if (i % 4 == 1) src = hip("10.0.0.0") | (src & 0xffff);
        ASSERT_EQ(nic_drops(p, src, dst), !admitted_by(pod, src)) << src;
    }
}

TEST(AclOffloadPlan, ExceptHoleCoveredByAnotherRuleIsNotDropped) {
    World w;
    NetworkPolicy both = ingress_policy("x", "both", labels({{"pod", "a"}}),
                                        {Rule{{}, {cidr_peer("172.16.0.0", 12, {{ip("172.16.5.0"), 24}})}}});
    both.egress = std::vector<Rule>{Rule{{port(53, Protocol::kUdp)}, {cidr_peer("172.16.5.128", 25)}}};
    both.policy_types_given = true;
    both.type_ingress = both.type_egress = true;
    w.state.policies.push_back(both);
    const OffloadPlan p = plan_eni_offload(compile_ok(w), kXa, {});
    const uint32_t dst = hip("10.0.0.1");
    EXPECT_TRUE(nic_drops(p, hip("172.16.5.1"), dst));     // in the hole, no other rule
    EXPECT_FALSE(nic_drops(p, hip("172.16.5.200"), dst));  // in the hole, but an egress destination
}

TEST(AclOffloadPlan, NamedPortMissingOnThePodAdmitsNobody) {
    World w;
    NetworkPolicy both = ingress_policy("x", "both", labels({{"pod", "a"}}),
                                        {Rule{{named_port("no-such-port")}, {pod_peer(labels({{"pod", "b"}}))}},
                                         Rule{{named_port("web")}, {pod_peer(labels({{"pod", "c"}}))}}});
    both.egress = std::vector<Rule>{};
    both.policy_types_given = true;
    both.type_ingress = both.type_egress = true;
    w.state.policies.push_back(both);
    const OffloadPlan p = plan_eni_offload(compile_ok(w), kXa, {});
    EXPECT_TRUE(nic_drops(p, hip("10.0.0.2"), hip("10.0.0.1")));   // software would deny every port too
    EXPECT_FALSE(nic_drops(p, hip("10.0.0.3"), hip("10.0.0.1")));  // x/a names "web": admitted
}

TEST(AclOffloadPlan, DenyAllDropsEverySourceButIcmp) {
    World w;
    NetworkPolicy deny = ingress_policy("x", "deny", labels({{"pod", "a"}}), {});
    deny.egress = std::vector<Rule>{};
    deny.policy_types_given = true;
    deny.type_ingress = deny.type_egress = true;
    w.state.policies.push_back(deny);
    OffloadOptions o;
    o.extra_allowed = {pfx("192.168.0.10", 32)};  // e.g. the node's address (kubelet probes)
    o.base_priority = 100;
    const OffloadPlan p = plan_eni_offload(compile_ok(w), kXa, o);
    EXPECT_TRUE(p.policy_offloaded);
    EXPECT_EQ(p.droppable_prefixes, 32u);  // complement of one /32
    EXPECT_FALSE(nic_drops(p, hip("192.168.0.10"), hip("10.0.0.1")));
    EXPECT_TRUE(nic_drops(p, hip("192.168.0.11"), hip("10.0.0.1")));
    for (const OffloadRule& r : p.rules) {
        EXPECT_GE(r.priority, 100u);
        EXPECT_LT(r.priority, 100u + kPriorityTiers);
        EXPECT_EQ(r.priority, 100u + offload_priority(r.kind, r.src_len));
    }
    o.exempt_icmp = false;
    const OffloadPlan q = plan_eni_offload(compile_ok(w), kXa, o);
    EXPECT_EQ(count(q, OffloadRuleKind::kExemptIcmp), 0u);
    EXPECT_TRUE(nic_drops(q, hip("8.8.8.8"), hip("10.0.0.1"), 1));
    // nothing admitted at all: one 0.0.0.0/0 drop
    o.extra_allowed.clear();
    const OffloadPlan r = plan_eni_offload(compile_ok(w), kXa, o);
    ASSERT_EQ(r.rules.size(), 1u);
    EXPECT_EQ(r.rules[0].src_len, 0);
}

TEST(AclOffloadPlan, CapKeepsOnlyTheBlocklist) {
    World w;
    NetworkPolicy both = ingress_policy("x", "both", labels({{"pod", "a"}}), {Rule{{}, {pod_peer(labels({}))}}});
    both.egress = std::vector<Rule>{};
    both.policy_types_given = true;
    both.type_ingress = both.type_egress = true;
    w.state.policies.push_back(both);
    OffloadOptions o;
    o.blocklist = {pfx("203.0.113.0", 24)};
    o.max_rules = 10;  // 3 pods' /32s need far more than 10 drops
    const OffloadPlan p = plan_eni_offload(compile_ok(w), kXa, o);
    EXPECT_FALSE(p.policy_offloaded);
    EXPECT_NE(p.reason.find("cap"), std::string::npos) << p.reason;
    ASSERT_EQ(p.rules.size(), 1u);
    EXPECT_EQ(p.rules[0].kind, OffloadRuleKind::kBlock);
    o.max_rules = 1000;
    EXPECT_TRUE(plan_eni_offload(compile_ok(w), kXa, o).policy_offloaded);
    o.blocklist = {pfx("1.0.0.0", 24), pfx("2.0.0.0", 24), pfx("3.0.0.0", 24)};
    o.max_rules = 2;
    const OffloadPlan b = plan_eni_offload(compile_ok(w), kXa, o);
    EXPECT_EQ(b.rules.size(), 2u);
    EXPECT_NE(b.reason.find("blocklist needs 3"), std::string::npos) << b.reason;
}

TEST(AclOffloadPlan, PodRulesEdgeCases) {
    PodRules pod;
    pod.id = 4;
    pod.ns = "n";
    pod.name = "p";
    pod.ips = {ip("10.1.0.5"), ip("10.1.0.6")};
    pod.dir[0].isolated = pod.dir[1].isolated = true;
    pod.dir[0].entries.push_back({ip("0.0.0.1"), 32});  // leaves 0.0.0.0/32 droppable: not expressible
    OffloadOptions o;
    o.blocklist = {pfx("0.0.0.0", 32), pfx("100.64.0.0", 10)};
    const OffloadPlan p = plan_eni_offload(pod, o);
    EXPECT_EQ(p.droppable_prefixes, 31u);  // 32 minus 0.0.0.0/32
    EXPECT_EQ(count(p, OffloadRuleKind::kBlock), 2u);   // one per pod IP
    EXPECT_EQ(count(p, OffloadRuleKind::kExemptIcmp), 2u);
    for (const OffloadRule& r : p.rules) EXPECT_FALSE(r.src == 0 && r.src_len == 32);
    // policy drops covered by a blocklisted prefix are not repeated
    for (const OffloadRule& r : p.rules) {
        if (r.kind == OffloadRuleKind::kPolicyDrop) {
            EXPECT_FALSE(prefix_covers(pfx("100.64.0.0", 10), {r.src, r.src_len}));
        }
    }
    EXPECT_TRUE(nic_drops(p, hip("100.64.1.1"), hip("10.1.0.6"), 1));  // blocklist beats the ICMP exemption
    EXPECT_TRUE(std::is_sorted(p.rules.begin(), p.rules.end(), [](const OffloadRule& a, const OffloadRule& b) {
        return std::tie(a.kind, a.priority) < std::tie(b.kind, b.priority);
    }));

    pod.host_network = true;
    const OffloadPlan h = plan_eni_offload(pod, o);
    EXPECT_FALSE(h.policy_offloaded);
    EXPECT_EQ(h.rules.size(), 2u);

    CompiledPolicy c;
    c.pods.push_back(pod);
    const OffloadPlan u = plan_eni_offload(c, 99, o);
    EXPECT_TRUE(u.rules.empty());
    EXPECT_NE(u.reason.find("99"), std::string::npos);
    EXPECT_EQ(to_string(p.rules.front()), "block 100.64.0.0/10 -> 10.1.0.5 prio 22");
}

}  // namespace
}  // namespace enidp::acl::test

// enidp-perf scenario files: the valid form and one message per mistake.
#include <gtest/gtest.h>

#include <rte_byteorder.h>

#include "perf/scenario.hpp"

namespace enidp::perf {
namespace {

constexpr const char* kValid = R"(workers: 1
burst: 32
gateway_mac: "02:00:00:00:00:01"
enis:
  - name: eni-a
    port: 1
    mac: "02:00:00:00:0e:00"
    ip: 10.0.0.10
    gateway: 10.0.0.1
    gateway_mac: "02:00:00:00:00:fe"
pods:
  - name: default/pod-a
    port: 0
    eni: eni-a
    mac: "02:00:00:00:00:10"
)";

TEST(Scenario, ValidFileMapsPortsToPodsAndEnis) {
    auto r = parse_scenario(kValid, "s.yaml");
    ASSERT_TRUE(std::holds_alternative<Scenario>(r)) << std::get<ScenarioError>(r).message;
    const auto& s = std::get<Scenario>(r);
    ASSERT_EQ(s.enis.size(), 1u);
    ASSERT_EQ(s.pods.size(), 1u);
    EXPECT_EQ(*s.enis[0].existing_port, 1);
    EXPECT_TRUE(s.enis[0].gateway_mac.has_value());
    EXPECT_EQ(*s.pods[0].existing_port, 0);
    EXPECT_EQ(s.pods[0].ip, rte_cpu_to_be_32(0x0a00000a));  // inherits the ENI's IP
    EXPECT_EQ(s.pods[0].kind, dp::PodPort::kExisting);
    EXPECT_FALSE(s.runtime.idle_enabled);
}

struct Bad {
    std::string from, to, want;
};

TEST(Scenario, EachMistakeNamesLineAndField) {
    const std::vector<Bad> cases = {
        {"workers: 1", "workers: 99", "s.yaml:1: workers: 99 is out of range"},
        {"burst: 32", "bursts: 32", "s.yaml:2: unknown key \"bursts\""},
        {"    port: 1\n", "    port: 0\n", "s.yaml:13: pods[0].port: port 0 is used twice"},
        {"mac: \"02:00:00:00:0e:00\"", "mac: \"02:00:00:0e:00\"", "s.yaml:7: enis[0].mac: \"02:00:00:0e:00\" is not a MAC"},
        {"gateway: 10.0.0.1", "gateway: 10.0.0", "s.yaml:9: enis[0].gateway: \"10.0.0\" is not an IPv4 address"},
        {"    eni: eni-a", "    eni: eni-b", "s.yaml:14: pods[0].eni: no ENI named \"eni-b\""},
        {"    port: 1\n", "    port: x\n", "s.yaml:6: enis[0].port: \"x\" is not an integer"},
        {"  - name: default/pod-a\n    port: 0\n", "  - port: 0\n", "missing required key \"name\""},
        {"pods:", "pods: [", "s.yaml:"},
    };
    for (const auto& c : cases) {
        std::string text = kValid;
        const auto at = text.find(c.from);
        ASSERT_NE(at, std::string::npos) << c.from;
        text.replace(at, c.from.size(), c.to);
        auto r = parse_scenario(text, "s.yaml");
        ASSERT_TRUE(std::holds_alternative<ScenarioError>(r)) << c.to;
        EXPECT_NE(std::get<ScenarioError>(r).message.find(c.want), std::string::npos)
            << "got: " << std::get<ScenarioError>(r).message << "\nwant: " << c.want;
    }
}

constexpr const char* kPolicies = R"(policies:
  count: 3
  rules_per_policy: 4
  select: [default/pod-a]
  direction: both
  protocol: tcp
  peers: ip_block
  peer_ip: 172.16.0.0
  peer_prefix: 24
  port: 2000
  port_span: 2
  admit: true
  admit_peer: 10.1.0.0/16
  admit_port: 8080
)";

TEST(Scenario, PoliciesSectionBecomesAClusterWithTheAdmittingRule) {
    auto r = parse_scenario(std::string(kValid) + kPolicies, "s.yaml");
    ASSERT_TRUE(std::holds_alternative<Scenario>(r)) << std::get<ScenarioError>(r).message;
    const PolicySpec& p = std::get<Scenario>(r).policies;
    EXPECT_EQ(p.count, 3u);
    EXPECT_EQ(p.rules_per_policy, 4u);
    EXPECT_TRUE(p.ingress);
    EXPECT_TRUE(p.egress);
    EXPECT_EQ(p.protocol, acl::Protocol::kTcp);
    EXPECT_EQ(p.peer_prefix, 24);
    EXPECT_EQ(p.admit_port, 8080);
    EXPECT_EQ(p.admit_ip, 10u << 24 | 1u << 16);
    const PolicyCluster c = policy_cluster(p, {{"default/pod-a", rte_cpu_to_be_32(0x0a00000a), 0}});
    ASSERT_EQ(c.state.policies.size(), 3u);
    ASSERT_EQ(c.local.size(), 1u);
    size_t rules = 0, admitting = 0;
    for (const auto& pol : c.state.policies) {
        ASSERT_TRUE(pol.egress.has_value());
        for (const auto& rule : *pol.egress) {
            rules++;
            for (const auto& peer : rule.peers)
                if (peer.ip_block && peer.ip_block->addr == rte_cpu_to_be_32(10u << 24 | 1u << 16) &&
                    peer.ip_block->prefix_len == 16 && !rule.ports.empty() && rule.ports[0].port == 8080)
                    admitting++;
        }
    }
    EXPECT_EQ(rules, 12u);
    EXPECT_EQ(admitting, 1u);  // exactly one rule admits the scenario's traffic
}

TEST(Scenario, PoliciesMistakesNameLineAndField) {
    for (const auto& [from, to, want] : std::vector<Bad>{
             {"direction: both", "direction: sideways", "s.yaml:20: policies.direction"},
             {"protocol: tcp", "protocol: icmp", "s.yaml:21: policies.protocol"},
             {"select: [default/pod-a]", "select: [default/pod-z]", "pod-z"},
             {"peer_prefix: 24", "peer_prefix: 33", "s.yaml:24: policies.peer_prefix"},
         }) {
        std::string text = std::string(kValid) + kPolicies;
        text.replace(text.find(from), from.size(), to);
        auto r = parse_scenario(text, "s.yaml");
        ASSERT_TRUE(std::holds_alternative<ScenarioError>(r)) << to;
        EXPECT_NE(std::get<ScenarioError>(r).message.find(want), std::string::npos)
            << "got: " << std::get<ScenarioError>(r).message << "\nwant: " << want;
    }
}

TEST(Scenario, MissingFileIsAnError) {
    auto r = load_scenario("/nonexistent/s.yaml");
    ASSERT_TRUE(std::holds_alternative<ScenarioError>(r));
    EXPECT_NE(std::get<ScenarioError>(r).message.find("cannot read /nonexistent/s.yaml"), std::string::npos);
}

}  // namespace
}  // namespace enidp::perf

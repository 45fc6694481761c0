// Endpoint categorisation (kube-proxy CategorizeEndpoints), table-driven.
#include "lb/builder/endpoints.hpp"

#include <gtest/gtest.h>

#include "lb/builder/names.hpp"
#include "tests/lb/fixtures.hpp"

namespace enidp::lb::test {
namespace {

struct Ep {
    const char* address;
    bool local;
    Cond cond;
    std::vector<std::string> hints = {};
};

struct Case {
    const char* name;
    TrafficPolicy internal = TrafficPolicy::kCluster;
    TrafficPolicy external = TrafficPolicy::kCluster;
    bool node_port = false;  // externally accessible
    bool topology = false;
    std::vector<Ep> eps;
    std::vector<std::string> cluster;
    std::vector<std::string> local;
    bool has_any = true;
    bool topology_used = false;
};

constexpr TrafficPolicy kC = TrafficPolicy::kCluster;
constexpr TrafficPolicy kL = TrafficPolicy::kLocal;

const std::vector<Case>& cases() {
    static const std::vector<Case> c = {
        {"cluster: ready local and remote, others ignored",
         kC,
         kC,
         false,
         false,
         {{"10.0.0.1", true, kReady},
          {"10.0.0.2", false, kReady},
          {"10.0.0.3", false, kServingTerminating},
          {"10.0.0.4", true, kTerminatingNotServing},
          {"10.0.0.5", false, kNotReady}},
         {"10.0.0.1", "10.0.0.2"},
         {}},
        {"cluster: no ready falls back to serving-terminating",
         kC,
         kC,
         false,
         false,
         {{"10.0.0.3", false, kServingTerminating},
          {"10.0.0.4", true, kServingTerminating},
          {"10.0.0.5", false, kTerminatingNotServing}},
         {"10.0.0.3", "10.0.0.4"},
         {}},
        {"cluster: only terminating-not-serving → none at all",
         kC,
         kC,
         false,
         false,
         {{"10.0.0.4", true, kTerminatingNotServing}, {"10.0.0.5", false, kNotReady}},
         {},
         {},
         false},
        {"cluster: nil conditions mean ready", kC, kC, false, false, {{"10.0.0.1", false, Cond{}}}, {"10.0.0.1"}, {}},
        {"cluster: serving nil follows ready=false",
         kC,
         kC,
         false,
         false,
         {{"10.0.0.1", false, Cond{false, std::nullopt, true}}},
         {},
         {},
         false},
        {"iTP Local: local ready only",
         kL,
         kC,
         false,
         false,
         {{"10.0.0.1", true, kReady}, {"10.0.0.2", false, kReady}, {"10.0.0.3", true, kServingTerminating}},
         {},
         {"10.0.0.1"}},
        {"iTP Local: local serving-terminating when no local ready",
         kL,
         kC,
         false,
         false,
         {{"10.0.0.2", false, kReady},
          {"10.0.0.3", true, kServingTerminating},
          {"10.0.0.4", true, kTerminatingNotServing}},
         {},
         {"10.0.0.3"}},
        {"iTP Local: remote only → empty local set, endpoints exist",
         kL,
         kC,
         false,
         false,
         {{"10.0.0.2", false, kReady}, {"10.0.0.3", false, kServingTerminating}},
         {},
         {},
         true},
        {"iTP Local: local terminating-not-serving → nothing",
         kL,
         kC,
         false,
         false,
         {{"10.0.0.4", true, kTerminatingNotServing}},
         {},
         {},
         false},
        {"iTP Local + externally accessible Cluster eTP uses both",
         kL,
         kC,
         true,
         false,
         {{"10.0.0.1", true, kReady}, {"10.0.0.2", false, kReady}},
         {"10.0.0.1", "10.0.0.2"},
         {"10.0.0.1"}},
        {"eTP Local externally accessible: both sets",
         kC,
         kL,
         true,
         false,
         {{"10.0.0.1", true, kReady}, {"10.0.0.2", false, kReady}, {"10.0.0.3", true, kServingTerminating}},
         {"10.0.0.1", "10.0.0.2"},
         {"10.0.0.1"}},
        {"eTP Local not externally accessible: Cluster only",
         kC,
         kL,
         false,
         false,
         {{"10.0.0.1", true, kReady}, {"10.0.0.2", false, kReady}},
         {"10.0.0.1", "10.0.0.2"},
         {}},
        {"eTP Local: remote ready, local serving-terminating",
         kC,
         kL,
         true,
         false,
         {{"10.0.0.2", false, kReady}, {"10.0.0.3", true, kServingTerminating}},
         {"10.0.0.2"},
         {"10.0.0.3"}},
        {"both Local, all remote → local empty but endpoints exist",
         kL,
         kL,
         true,
         false,
         {{"10.0.0.2", false, kReady}},
         {},
         {},
         true},
        {"topology usable: zone-a hints only",
         kC,
         kC,
         false,
         true,
         {{"10.0.0.1", false, kReady, {"zone-a"}},
          {"10.0.0.2", false, kReady, {"zone-b"}},
          {"10.0.0.3", true, kReady, {"zone-b", "zone-a"}},
          {"10.0.0.4", false, kNotReady}},
         {"10.0.0.1", "10.0.0.3"},
         {},
         true,
         true},
        {"topology unusable: a ready endpoint without hints",
         kC,
         kC,
         false,
         true,
         {{"10.0.0.1", false, kReady, {"zone-a"}}, {"10.0.0.2", false, kReady}},
         {"10.0.0.1", "10.0.0.2"},
         {}},
        {"topology unusable: no hint for the node's zone",
         kC,
         kC,
         false,
         true,
         {{"10.0.0.1", false, kReady, {"zone-b"}}, {"10.0.0.2", false, kReady, {"zone-c"}}},
         {"10.0.0.1", "10.0.0.2"},
         {}},
        {"topology unusable: Service not topology-aware",
         kC,
         kC,
         false,
         false,
         {{"10.0.0.1", false, kReady, {"zone-a"}}, {"10.0.0.2", false, kReady, {"zone-b"}}},
         {"10.0.0.1", "10.0.0.2"},
         {}},
        {"topology unusable: iTP Local",
         kL,
         kC,
         true,
         true,
         {{"10.0.0.1", false, kReady, {"zone-a"}}, {"10.0.0.2", true, kReady, {"zone-b"}}},
         {"10.0.0.1", "10.0.0.2"},
         {"10.0.0.2"}},
        {"topology fallback to serving-terminating ignores hints",
         kC,
         kC,
         false,
         true,
         {{"10.0.0.1", false, kServingTerminating, {"zone-b"}}, {"10.0.0.2", false, kServingTerminating}},
         {"10.0.0.1", "10.0.0.2"},
         {}},
    };
    return c;
}

std::vector<std::string> addresses(const std::vector<EndpointCandidate>& eps, const std::vector<uint32_t>& idx) {
    std::vector<std::string> out;
    for (uint32_t i : idx) out.push_back(ipv4_string(eps[i].ip));
    return out;
}

TEST(Endpoints, CategorizeTable) {
    const NodeInfo node = this_node();
    for (const Case& c : cases()) {
        SCOPED_TRACE(c.name);
        Service svc = cluster_ip_service("ns", "svc", "10.96.0.1", {tcp_port("http", 80, c.node_port ? 30080 : 0)});
        svc.type = c.node_port ? ServiceType::kNodePort : ServiceType::kClusterIP;
        svc.internal_policy = c.internal;
        svc.external_policy = c.external;
        svc.topology_aware = c.topology;
        std::vector<Endpoint> eps;
        for (const Ep& e : c.eps)
            eps.push_back(endpoint(e.address, e.local ? "node-a" : "node-b", e.cond, "", e.hints));
        const EndpointSlice s = slice("ns", "svc-1", "svc", {slice_port("http", 8080)}, eps);
        const EndpointSlice* slices[] = {&s};
        const auto cands = collect_endpoints(svc.ports[0], node, slices);
        const CategorizedEndpoints cat = categorize_endpoints(svc, svc.ports[0], node, cands);
        EXPECT_EQ(addresses(cands, cat.cluster), c.cluster);
        EXPECT_EQ(addresses(cands, cat.local), c.local);
        EXPECT_EQ(cat.has_any, c.has_any);
        EXPECT_EQ(cat.topology_used, c.topology_used);
    }
}

TEST(Endpoints, TopologyNeedsNodeZone) {
    Service svc = cluster_ip_service("ns", "svc", "10.96.0.1", {tcp_port("", 80)});
    svc.topology_aware = true;
    NodeInfo node = this_node();
    node.zone.clear();
    const EndpointSlice s =
        slice("ns", "s", "svc", {slice_port("", 80)}, {endpoint("10.0.0.1", "node-b", kReady, "", {"zone-a"})});
    const EndpointSlice* slices[] = {&s};
    const auto cands = collect_endpoints(svc.ports[0], node, slices);
    EXPECT_FALSE(can_use_topology(svc, node, cands));
    EXPECT_TRUE(can_use_topology(svc, this_node(), cands));
}

TEST(Endpoints, CollectResolvesPortsPerSliceAndDedupes) {
    const Service svc = cluster_ip_service("ns", "svc", "10.96.0.1", {tcp_port("http", 80)});
    const EndpointSlice a = slice("ns", "a", "svc", {slice_port("http", 8080)},
                                  {endpoint("10.0.0.2", "n", kNotReady), endpoint("10.0.0.1", "n")});
    const EndpointSlice b = slice("ns", "b", "svc", {slice_port("http", 8080)},
                                  {endpoint("10.0.0.2", "n", kReady)});  // duplicate, better conditions
    const EndpointSlice c = slice("ns", "c", "svc", {slice_port("http", std::nullopt)}, {endpoint("10.0.0.9", "n")});
    const EndpointSlice d =
        slice("ns", "d", "svc", {slice_port("http", 8080, Protocol::kUdp)}, {endpoint("10.0.0.8", "n")});
    const EndpointSlice* slices[] = {&a, &b, &c, &d};
    const auto cands = collect_endpoints(svc.ports[0], this_node(), slices);
    ASSERT_EQ(cands.size(), 2u);
    EXPECT_EQ(ipv4_string(cands[0].ip), "10.0.0.1");
    EXPECT_EQ(ipv4_string(cands[1].ip), "10.0.0.2");
    EXPECT_TRUE(cands[1].ready);
    EXPECT_EQ(cands[1].port, 8080);
}

}  // namespace
}  // namespace enidp::lb::test

// build_table: frontends, ports, traffic policies, errors, ids, Maglev and wheels.
#include "lb/builder/table_builder.hpp"

#include <gtest/gtest.h>

#include "tests/lb/fixtures.hpp"

namespace enidp::lb::test {
namespace {

constexpr uint8_t kTcp = 6;

BuildResult build(const std::vector<Service>& svcs, const std::vector<EndpointSlice>& slices, StableIds& ids,
                  BuildOptions options = {}) {
    return build_table(svcs, slices, this_node(), options, ids);
}

BuildResult build(const std::vector<Service>& svcs, const std::vector<EndpointSlice>& slices) {
    StableIds ids = big_ids();
    return build(svcs, slices, ids);
}

EndpointSlice web_slice(std::vector<Endpoint> eps, const std::string& svc = "web") {
    return slice("default", svc + "-abc", svc, {slice_port("http", 8080)}, std::move(eps));
}

TEST(BuildTable, FrontendsPerServiceType) {
    struct Case {
        const char* name;
        ServiceType type;
        bool headless;
        std::vector<FrontendKind> kinds;
    };
    const std::vector<Case> cases = {
        {"ClusterIP", ServiceType::kClusterIP, false, {FrontendKind::kClusterIp, FrontendKind::kExternalIp}},
        {"NodePort",
         ServiceType::kNodePort,
         false,
         {FrontendKind::kClusterIp, FrontendKind::kNodePort, FrontendKind::kExternalIp}},
        {"LoadBalancer",
         ServiceType::kLoadBalancer,
         false,
         {FrontendKind::kClusterIp, FrontendKind::kNodePort, FrontendKind::kExternalIp, FrontendKind::kLoadBalancer}},
        {"ExternalName", ServiceType::kExternalName, false, {}},
        {"headless", ServiceType::kClusterIP, true, {}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Service svc = cluster_ip_service("default", "web", "10.96.0.10", {tcp_port("http", 80, 30080)});
        svc.type = c.type;
        svc.headless = c.headless;
        svc.external_ips = {ip("203.0.113.5")};
        svc.lb_ingress_ips = {ip("198.51.100.7")};
        const BuildResult r = build({svc}, {web_slice({endpoint("10.1.0.1", "node-b")})});
        EXPECT_TRUE(r.errors.empty());
        std::vector<FrontendKind> kinds;
        for (const Frontend& f : r.table->frontends) kinds.push_back(f.kind);
        EXPECT_EQ(kinds, c.kinds);
        if (c.kinds.empty()) {
            EXPECT_TRUE(r.table->ports.empty());
            continue;
        }
        const ServiceTable& t = *r.table;
        ASSERT_EQ(t.ports.size(), 1u);
        EXPECT_EQ(t.names[t.ports[0].name], "default/web:http/TCP");
        const uint32_t fe = t.by_vip.find(FrontendMap::key(ip("10.96.0.10"), be16(80), kTcp));
        ASSERT_NE(fe, kNone);
        EXPECT_EQ(t.frontends[fe].kind, FrontendKind::kClusterIp);
        EXPECT_EQ(t.frontends[fe].port, be16(80));
        EXPECT_EQ(t.frontends[fe].service_port, 0u);
        EXPECT_NE(t.by_vip.find(FrontendMap::key(ip("203.0.113.5"), be16(80), kTcp)), kNone);
        EXPECT_EQ(t.by_vip.find(FrontendMap::key(ip("10.96.0.10"), be16(81), kTcp)), kNone);
        const bool has_node_port = c.type != ServiceType::kClusterIP;
        EXPECT_EQ(t.by_node_port.find(FrontendMap::key(0, be16(30080), kTcp)) != kNone, has_node_port);
        EXPECT_EQ(t.by_vip.find(FrontendMap::key(ip("198.51.100.7"), be16(80), kTcp)) != kNone,
                  c.type == ServiceType::kLoadBalancer);
        EXPECT_EQ(t.node_ips, std::vector<uint32_t>{ip("192.168.0.10")});
        EXPECT_EQ(t.backends.at(0).port, be16(8080));
        EXPECT_EQ(t.backends.at(0).ip, ip("10.1.0.1"));
    }
}

TEST(BuildTable, NamedTargetPortsResolvePerSlice) {
    ServicePortSpec p = tcp_port("http", 80);
    p.target_port = 0;
    p.target_port_name = "web";
    const Service svc = cluster_ip_service("default", "web", "10.96.0.10", {p});
    const std::vector<EndpointSlice> slices = {
        slice("default", "web-a", "web", {slice_port("http", 8080)}, {endpoint("10.1.0.1", "node-b")}),
        slice("default", "web-b", "web", {slice_port("http", 9090)}, {endpoint("10.1.0.2", "node-b")}),
        slice("default", "web-c", "web", {slice_port("metrics", 9100)}, {endpoint("10.1.0.3", "node-b")}),
        slice("default", "web-d", "web", {slice_port("http", std::nullopt)}, {endpoint("10.1.0.4", "node-b")}),
        slice("default", "other", "other", {slice_port("http", 7070)}, {endpoint("10.1.0.5", "node-b")}),
        slice("kube-system", "web-x", "web", {slice_port("http", 7070)}, {endpoint("10.1.0.6", "node-b")}),
    };
    const BuildResult r = build({svc}, slices);
    ASSERT_EQ(r.table->ports.size(), 1u);
    EXPECT_EQ(backends_of(*r.table, r.table->ports[0].internal),
              (std::vector<std::string>{"10.1.0.1:8080", "10.1.0.2:9090"}));
}

TEST(BuildTable, UnnamedPortNameAndMultiplePorts) {
    ServicePortSpec dns = tcp_port("dns", 53);
    dns.protocol = Protocol::kUdp;
    const Service one = cluster_ip_service("kube-system", "single", "10.96.0.11", {tcp_port("", 443)});
    const Service two = cluster_ip_service("kube-system", "dns", "10.96.0.12", {dns, tcp_port("dns-tcp", 53)});
    const BuildResult r = build({two, one}, {});
    ASSERT_EQ(r.table->names.size(), 3u);
    EXPECT_EQ(r.table->names[0], "kube-system/dns:dns/UDP");
    EXPECT_EQ(r.table->names[1], "kube-system/dns:dns-tcp/TCP");
    EXPECT_EQ(r.table->names[2], "kube-system/single:443/TCP");
    EXPECT_EQ(r.table->ports[0].protocol, 17);
    EXPECT_NE(r.table->by_vip.find(FrontendMap::key(ip("10.96.0.12"), be16(53), 17)), kNone);
}

// Traffic policies with local / remote endpoints in every condition.
TEST(BuildTable, TrafficPolicySets) {
    struct Case {
        const char* name;
        TrafficPolicy internal, external;
        std::vector<Endpoint> eps;
        std::vector<std::string> internal_set, external_set, cluster_set;
        EmptyAction empty;
    };
    const auto L = TrafficPolicy::kLocal;
    const auto C = TrafficPolicy::kCluster;
    const Endpoint local_ready = endpoint("10.1.0.1", "node-a");
    const Endpoint remote_ready = endpoint("10.1.0.2", "node-b");
    const Endpoint local_st = endpoint("10.1.0.3", "node-a", kServingTerminating);
    const Endpoint remote_st = endpoint("10.1.0.4", "node-b", kServingTerminating);
    const Endpoint local_tns = endpoint("10.1.0.5", "node-a", kTerminatingNotServing);
    const Endpoint remote_tns = endpoint("10.1.0.6", "node-b", kTerminatingNotServing);
    const std::vector<Case> cases = {
        {"Cluster/Cluster ready",
         C,
         C,
         {local_ready, remote_ready, local_st, local_tns},
         {"10.1.0.1:8080", "10.1.0.2:8080"},
         {"10.1.0.1:8080", "10.1.0.2:8080"},
         {"10.1.0.1:8080", "10.1.0.2:8080"},
         EmptyAction::kDrop},
        {"Cluster/Cluster serving-terminating only",
         C,
         C,
         {local_st, remote_st, remote_tns},
         {"10.1.0.3:8080", "10.1.0.4:8080"},
         {"10.1.0.3:8080", "10.1.0.4:8080"},
         {"10.1.0.3:8080", "10.1.0.4:8080"},
         EmptyAction::kDrop},
        {"Cluster/Cluster nothing usable → reject", C, C, {local_tns, remote_tns}, {}, {}, {}, EmptyAction::kReject},
        {"no endpoints at all → reject", C, L, {}, {}, {}, {}, EmptyAction::kReject},
        {"eTP Local",
         C,
         L,
         {local_ready, remote_ready, local_st},
         {"10.1.0.1:8080", "10.1.0.2:8080"},
         {"10.1.0.1:8080"},
         {"10.1.0.1:8080", "10.1.0.2:8080"},
         EmptyAction::kDrop},
        {"eTP Local, local only serving-terminating",
         C,
         L,
         {remote_ready, local_st, local_tns},
         {"10.1.0.2:8080"},
         {"10.1.0.3:8080"},
         {"10.1.0.2:8080"},
         EmptyAction::kDrop},
        {"eTP Local, no local endpoint → drop",
         C,
         L,
         {remote_ready, remote_st, local_tns},
         {"10.1.0.2:8080"},
         {},
         {"10.1.0.2:8080"},
         EmptyAction::kDrop},
        {"iTP Local",
         L,
         C,
         {local_ready, remote_ready},
         {"10.1.0.1:8080"},
         {"10.1.0.1:8080", "10.1.0.2:8080"},
         {"10.1.0.1:8080", "10.1.0.2:8080"},
         EmptyAction::kDrop},
        {"iTP Local, remote only → drop",
         L,
         C,
         {remote_ready},
         {},
         {"10.1.0.2:8080"},
         {"10.1.0.2:8080"},
         EmptyAction::kDrop},
        {"both Local: cluster set = local set",
         L,
         L,
         {local_ready, remote_ready},
         {"10.1.0.1:8080"},
         {"10.1.0.1:8080"},
         {"10.1.0.1:8080"},
         EmptyAction::kDrop},
        {"both Local, local terminating-not-serving only → reject",
         L,
         L,
         {local_tns, remote_tns},
         {},
         {},
         {},
         EmptyAction::kReject},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Service svc = cluster_ip_service("default", "web", "10.96.0.10", {tcp_port("http", 80, 30080)});
        svc.type = ServiceType::kNodePort;
        svc.internal_policy = c.internal;
        svc.external_policy = c.external;
        svc.health_check_node_port = 32000;
        const BuildResult r = build({svc}, {web_slice(c.eps)});
        ASSERT_TRUE(r.errors.empty()) << r.errors[0];
        const ServicePort& sp = r.table->ports.at(0);
        EXPECT_EQ(backends_of(*r.table, sp.internal), c.internal_set);
        EXPECT_EQ(backends_of(*r.table, sp.external), c.external_set);
        EXPECT_EQ(backends_of(*r.table, sp.cluster), c.cluster_set);
        for (const BackendSet* s : {&sp.internal, &sp.external, &sp.cluster})
            if (s->count == 0) {
                EXPECT_EQ(s->empty_action, c.empty);
            }
        EXPECT_EQ((sp.flags & kInternalLocal) != 0, c.internal == L);
        EXPECT_EQ((sp.flags & kExternalLocal) != 0, c.external == L);
        EXPECT_EQ(r.health_check_local_endpoints.count(32000), c.external == L ? 1u : 0u);
        // Status per live backend id: ready or serving-terminating.
        for (const auto& [id, status] : r.backend_status)
            for (const Backend& b : r.table->backends)
                if (b.id == id) {
                    EXPECT_EQ(status,
                              b.serving_terminating ? BackendStatus::kServingTerminating : BackendStatus::kReady);
                }
    }
}

TEST(BuildTable, HealthCheckCountsLocalReadyEndpoints) {
    Service svc = cluster_ip_service("default", "web", "10.96.0.10", {tcp_port("http", 80, 30080)});
    svc.type = ServiceType::kLoadBalancer;
    svc.external_policy = TrafficPolicy::kLocal;
    svc.health_check_node_port = 32000;
    Service other = svc;
    other.name = "zz-other";
    other.cluster_ips = {ip("10.96.0.11")};
    other.ports[0].node_port = 30081;
    const BuildResult r =
        build({svc, other},
              {web_slice({endpoint("10.1.0.1", "node-a"), endpoint("10.1.0.2", "node-a"),
                          endpoint("10.1.0.3", "node-a", kServingTerminating), endpoint("10.1.0.4", "node-b")})});
    EXPECT_EQ(r.health_check_local_endpoints, (std::map<uint16_t, uint32_t>{{32000, 2}}));
    EXPECT_EQ(r.table->ports.at(0).health_check_node_port, 32000);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0], "default/zz-other: spec.healthCheckNodePort: 32000 is already used by default/web");
}

TEST(BuildTable, DuplicateFrontendIsAnErrorOnTheLaterService) {
    const Service a = cluster_ip_service("a", "svc", "10.96.0.10", {tcp_port("http", 80)});
    const Service b = cluster_ip_service("b", "svc", "10.96.0.10", {tcp_port("http", 80)});
    Service c = cluster_ip_service("c", "svc", "10.96.0.12", {tcp_port("http", 80, 30080)});
    c.type = ServiceType::kNodePort;
    Service d = cluster_ip_service("d", "svc", "10.96.0.13", {tcp_port("http", 80, 30080)});
    d.type = ServiceType::kNodePort;
    Service e = cluster_ip_service("e", "svc", "10.96.0.14", {tcp_port("http", 80)});
    e.external_ips = {ip("10.96.0.14")};  // same as its own cluster IP
    const BuildResult r = build({e, d, c, b, a}, {});
    EXPECT_EQ(r.errors, (std::vector<std::string>{
                            "b/svc: spec.clusterIPs[0]: 10.96.0.10:80/TCP is already a frontend of a/svc",
                            "d/svc: spec.ports[0].nodePort: node port 30080/TCP is already a frontend of c/svc",
                            "e/svc: spec.externalIPs[0]: 10.96.0.14:80/TCP is already a frontend of e/svc",
                        }));
    ASSERT_EQ(r.table->names.size(), 2u);
    EXPECT_EQ(r.table->names[0], "a/svc:http/TCP");
    EXPECT_EQ(r.table->names[1], "c/svc:http/TCP");
}

TEST(BuildTable, InvalidServicesAreSkippedOthersBuild) {
    Service bad_size = cluster_ip_service("default", "bad-size", "10.96.0.1", {tcp_port("http", 80)});
    bad_size.maglev_table_size = 1000;
    Service small_size = cluster_ip_service("default", "small-size", "10.96.0.2", {tcp_port("http", 80)});
    small_size.maglev_table_size = 101;  // prime, but 100 × 2 backends = 200
    Service bad_weight = cluster_ip_service("default", "bad-weight", "10.96.0.3", {tcp_port("http", 80)});
    bad_weight.algorithm = Algorithm::kWeighted;
    bad_weight.endpoint_weights = {{"10.1.0.1", "heavy"}};
    Service no_ip = cluster_ip_service("default", "no-ip", "10.96.0.4", {tcp_port("http", 80)});
    no_ip.cluster_ips.clear();
    Service zero_port = cluster_ip_service("default", "zero-port", "10.96.0.5", {tcp_port("http", 0)});
    Service dup_port =
        cluster_ip_service("default", "dup-port", "10.96.0.6", {tcp_port("http", 80), tcp_port("http", 81)});
    Service good = cluster_ip_service("default", "good", "10.96.0.7", {tcp_port("http", 80)});
    good.maglev_table_size = 211;
    std::vector<EndpointSlice> slices;
    for (const char* name : {"bad-size", "small-size", "bad-weight", "good"})
        slices.push_back(web_slice({endpoint("10.1.0.1", "node-b"), endpoint("10.1.0.2", "node-b")}, name));
    const BuildResult r = build({bad_size, small_size, bad_weight, no_ip, zero_port, dup_port, good}, slices);
    EXPECT_EQ(r.errors, (std::vector<std::string>{
                            "default/bad-size: maglev_table_size: Maglev table size 1000 is not prime",
                            "default/bad-weight: endpoint_weights[10.1.0.1]: \"heavy\" is not an integer in 0..65535",
                            "default/dup-port: spec.ports[1].name: \"http\"/TCP duplicates spec.ports[0]",
                            "default/no-ip: spec.clusterIPs: a Service that is not headless needs a cluster IP",
                            "default/small-size: maglev_table_size: Maglev table size 101 is below 200 (100 x 2 "
                            "backends)",
                            "default/zero-port: spec.ports[0].port: must be 1..65535",
                        }));
    ASSERT_EQ(r.table->ports.size(), 1u);
    EXPECT_EQ(r.table->ports[0].internal.maglev_size, 211u);
}

TEST(BuildTable, MaglevTablesSharedBetweenIdenticalSets) {
    const Service svc = cluster_ip_service("default", "web", "10.96.0.10", {tcp_port("http", 80)});
    const BuildResult r = build({svc}, {web_slice({endpoint("10.1.0.1", "node-a"), endpoint("10.1.0.2", "node-b")})});
    const ServicePort& sp = r.table->ports.at(0);
    EXPECT_EQ(sp.internal.maglev_size, kMaglevDefaultSize);
    EXPECT_EQ(sp.external.maglev, sp.internal.maglev);
    EXPECT_EQ(sp.cluster.first, sp.internal.first);
    ASSERT_EQ(r.table->chunks.size(), 1u);
    EXPECT_EQ(r.table->chunks[0]->size(), kMaglevDefaultSize);
    EXPECT_EQ(r.table->chunks[0]->data(), sp.internal.maglev);
    EXPECT_EQ(r.table->backends.size(), 2u);
    for (uint16_t e : *r.table->chunks[0]) ASSERT_LT(e, 2u);

    // One backend: no table; other algorithms: no Maglev table.
    Service rr = svc;
    rr.algorithm = Algorithm::kRoundRobin;
    EXPECT_TRUE(build({rr}, {web_slice({endpoint("10.1.0.1", "n"), endpoint("10.1.0.2", "n")})}).table->chunks.empty());
    EXPECT_TRUE(build({svc}, {web_slice({endpoint("10.1.0.1", "n")})}).table->chunks.empty());

    // Small default size from the options.
    StableIds ids = big_ids();
    BuildOptions small;
    small.maglev_default_size = 1021;
    const BuildResult s = build({svc}, {web_slice({endpoint("10.1.0.1", "n"), endpoint("10.1.0.2", "n")})}, ids, small);
    EXPECT_EQ(s.table->ports.at(0).internal.maglev_size, 1021u);
}

TEST(BuildTable, WeightedWheel) {
    Service svc = cluster_ip_service("default", "web", "10.96.0.10", {tcp_port("http", 80)});
    svc.algorithm = Algorithm::kWeighted;
    svc.endpoint_weights = {{"10.1.0.1", "2"}, {"10.1.0.2", "4"}, {"10.1.0.3", "6"}, {"10.1.0.4", "0"}};
    const BuildResult r = build({svc}, {web_slice({endpoint("10.1.0.1", "n"), endpoint("10.1.0.2", "n"),
                                                   endpoint("10.1.0.3", "n"), endpoint("10.1.0.4", "n")})});
    const BackendSet& set = r.table->ports.at(0).internal;
    EXPECT_EQ(set.wheel_size, 6u);  // 2:4:6:0 reduced by gcd 2
    EXPECT_EQ(set.maglev_size, 0u);
    EXPECT_EQ(r.table->backends[set.first + 2].weight, 6);
    std::vector<uint32_t> slots(4, 0);
    for (uint32_t i = 0; i < set.wheel_size; ++i) ++slots[set.wheel[i]];
    EXPECT_EQ(slots, (std::vector<uint32_t>{1, 2, 3, 0}));
}

TEST(BuildTable, WheelSlotsCapKeepsEveryLiveBackend) {
    EXPECT_EQ(wheel_slots(std::vector<uint16_t>{3, 6, 9}), (std::vector<uint32_t>{1, 2, 3}));
    EXPECT_EQ(wheel_slots(std::vector<uint16_t>{0, 0}), (std::vector<uint32_t>{0, 0}));
    std::vector<uint16_t> w(2000, 1);
    w[0] = 65535;
    w[1] = 65534;
    w[2] = 0;
    const auto slots = wheel_slots(w);
    uint64_t total = 0;
    for (uint32_t s : slots) total += s;
    EXPECT_LE(total, kWheelMaxSize);
    EXPECT_EQ(slots[2], 0u);
    for (size_t i = 3; i < slots.size(); ++i) ASSERT_GE(slots[i], 1u);
    EXPECT_GT(slots[0], 10000u);
}

TEST(BuildTable, StableIdsAcrossBuildsAndRetirement) {
    StableIds ids = big_ids();
    const Service web = cluster_ip_service("default", "web", "10.96.0.10", {tcp_port("http", 80)});
    const Service api = cluster_ip_service("default", "api", "10.96.0.11", {tcp_port("http", 80)});
    const std::vector<EndpointSlice> slices = {
        web_slice({endpoint("10.1.0.1", "n"), endpoint("10.1.0.2", "n")}),
        web_slice({endpoint("10.2.0.1", "n")}, "api"),
    };
    const BuildResult r1 = build({web, api}, slices, ids);
    const ServicePort web1 = *port_named(*r1.table, "default/web:http/TCP");
    const ServicePort api1 = *port_named(*r1.table, "default/api:http/TCP");
    const uint32_t web_b2 = r1.table->backends[web1.internal.first + 1].id;
    EXPECT_EQ(r1.backend_status.size(), 3u);

    // Same input, reversed order: same ids.
    const BuildResult r2 = build({api, web}, {slices[1], slices[0]}, ids);
    EXPECT_EQ(port_named(*r2.table, "default/web:http/TCP")->id, web1.id);
    EXPECT_EQ(r2.table->backends[port_named(*r2.table, "default/web:http/TCP")->internal.first + 1].id, web_b2);
    EXPECT_TRUE(r2.retired_ports.empty() && r2.retired_backends.empty());

    // api goes, web loses 10.1.0.2: their ids are retired, the rest stay.
    const BuildResult r3 = build({web}, {web_slice({endpoint("10.1.0.1", "n")})}, ids);
    EXPECT_EQ(r3.retired_ports, std::vector<uint32_t>{api1.id});
    const uint32_t api_b = r1.table->backends[api1.internal.first].id;
    EXPECT_EQ(r3.retired_backends, (std::vector<uint32_t>{std::min(web_b2, api_b), std::max(web_b2, api_b)}));
    EXPECT_EQ(r3.table->ports.at(0).id, web1.id);
    EXPECT_EQ(r3.table->backends.at(0).id, r1.table->backends[web1.internal.first].id);

    // Until release_retired, a returning api gets fresh ids.
    const BuildResult r4 = build({web, api}, slices, ids);
    EXPECT_NE(port_named(*r4.table, "default/api:http/TCP")->id, api1.id);
    for (const Backend& b : r4.table->backends) EXPECT_TRUE(b.id != api_b && b.id != web_b2);
}

TEST(BuildTable, CapacityErrorsSkipTheService) {
    StableIds ids(1, 3);
    const Service a = cluster_ip_service("default", "a", "10.96.0.10", {tcp_port("http", 80)});
    const Service b = cluster_ip_service("default", "b", "10.96.0.11", {tcp_port("http", 80)});
    const Service c = cluster_ip_service("default", "c", "10.96.0.12", {tcp_port("http", 80)});
    const std::vector<EndpointSlice> slices = {
        web_slice({endpoint("10.1.0.1", "n"), endpoint("10.1.0.2", "n"), endpoint("10.1.0.3", "n"),
                   endpoint("10.1.0.4", "n")},
                  "a"),
        web_slice({endpoint("10.2.0.1", "n")}, "b"),
    };
    const BuildResult r = build({a, b, c}, slices, ids);
    EXPECT_EQ(r.errors, (std::vector<std::string>{
                            "default/a: endpoints: needs 4 new backend ids, 3 free (capacity 3)",
                            "default/c: spec.ports: needs 1 new service-port ids, 0 free (capacity 1)",
                        }));
    ASSERT_EQ(r.table->ports.size(), 1u);
    EXPECT_EQ(r.table->names[0], "default/b:http/TCP");
    EXPECT_EQ(ids.live_ports(), 1u);
    EXPECT_EQ(ids.live_backends(), 1u);
}

TEST(BuildTable, TopologyHintsFilterTheClusterSet) {
    Service svc = cluster_ip_service("default", "web", "10.96.0.10", {tcp_port("http", 80)});
    svc.topology_aware = true;
    const BuildResult r = build({svc}, {web_slice({endpoint("10.1.0.1", "node-b", kReady, "zone-a", {"zone-a"}),
                                                   endpoint("10.1.0.2", "node-c", kReady, "zone-b", {"zone-b"})})});
    EXPECT_EQ(backends_of(*r.table, r.table->ports.at(0).internal), std::vector<std::string>{"10.1.0.1:8080"});
    EXPECT_EQ(r.table->backends.size(), 1u);  // 10.1.0.2 is in no set
    // ... but it is still an endpoint of the Service: it has an id, ready.
    ASSERT_EQ(r.backend_status.size(), 2u);
    EXPECT_EQ(r.backend_status[0].second, BackendStatus::kReady);
    EXPECT_EQ(r.backend_status[1].second, BackendStatus::kReady);
}

// The status build_table asks for `id`, or kFree when it has none.
BackendStatus status_of(const BuildResult& r, uint32_t id) {
    for (const auto& [i, s] : r.backend_status)
        if (i == id) return s;
    return BackendStatus::kFree;
}

// Kubernetes #81775: an endpoint keeps its backend id while it is in the slices, in a set or
// not, so its established flows are not purged; only a deleted one is retired.
TEST(BuildTable, TerminatingEndpointsKeepTheirIdsUntilDeleted) {
    struct Case {
        const char* name;
        Cond old_conditions;  // the old backend's conditions once the new one is ready
    };
    for (const Case& c : {Case{"serving-terminating", kServingTerminating},
                          Case{"terminating-not-serving", kTerminatingNotServing}, Case{"not-ready", kNotReady}}) {
        SCOPED_TRACE(c.name);
        StableIds ids = big_ids();
        const Service web = cluster_ip_service("default", "web", "10.96.0.10", {tcp_port("http", 80)});
        const BuildResult r1 = build({web}, {web_slice({endpoint("10.1.0.1", "node-b")})}, ids);
        const uint32_t port_id = r1.table->ports.at(0).id;
        const uint32_t old_id = r1.table->backends.at(0).id;
        EXPECT_EQ(status_of(r1, old_id), BackendStatus::kReady);
        ids.release_retired();

        // A new pod is ready, the old one terminates: it leaves every set but keeps its id.
        const BuildResult r2 =
            build({web},
                  {web_slice({endpoint("10.1.0.1", "node-b", c.old_conditions), endpoint("10.1.0.2", "node-c")})}, ids);
        EXPECT_EQ(backends_of(*r2.table, r2.table->ports.at(0).internal), std::vector<std::string>{"10.1.0.2:8080"});
        EXPECT_TRUE(r2.retired_backends.empty());
        EXPECT_EQ(ids.find_backend(port_id, ip("10.1.0.1"), be16(8080)), old_id);
        EXPECT_EQ(status_of(r2, old_id), BackendStatus::kServingTerminating);
        const uint32_t new_id = r2.table->backends.at(0).id;
        EXPECT_NE(new_id, old_id);
        EXPECT_EQ(status_of(r2, new_id), BackendStatus::kReady);
        EXPECT_EQ(r2.backend_status.size(), 2u);
        ids.release_retired();

        // Deleted from the slice: now it is retired, the new one keeps its id.
        const BuildResult r3 = build({web}, {web_slice({endpoint("10.1.0.2", "node-c")})}, ids);
        EXPECT_EQ(r3.retired_backends, std::vector<uint32_t>{old_id});
        EXPECT_EQ(status_of(r3, old_id), BackendStatus::kFree);
        EXPECT_EQ(r3.table->backends.at(0).id, new_id);
        EXPECT_EQ(ids.find_backend(port_id, ip("10.1.0.1"), be16(8080)), kNone);
    }
}

TEST(BuildTable, EndpointsOfARemovedServiceOrPortAreRetired) {
    StableIds ids = big_ids();
    const Service two = cluster_ip_service("default", "web", "10.96.0.10", {tcp_port("http", 80), tcp_port("alt", 81)});
    const EndpointSlice s = slice("default", "web-abc", "web", {slice_port("http", 8080), slice_port("alt", 8081)},
                                  {endpoint("10.1.0.1", "node-b", kServingTerminating), endpoint("10.1.0.2", "n")});
    const BuildResult r1 = build({two}, {s}, ids);
    EXPECT_EQ(r1.backend_status.size(), 4u);  // 2 endpoints x 2 ports, the terminating ones in no set
    const uint32_t alt = port_named(*r1.table, "default/web:alt/TCP")->id;
    const uint32_t alt_old = ids.find_backend(alt, ip("10.1.0.1"), be16(8081));
    const uint32_t alt_new = ids.find_backend(alt, ip("10.1.0.2"), be16(8081));
    ASSERT_NE(alt_old, kNone);
    EXPECT_EQ(status_of(r1, alt_old), BackendStatus::kServingTerminating);

    // The port goes: both of its endpoints are retired, terminating or not.
    Service one = two;
    one.ports.pop_back();
    const BuildResult r2 = build({one}, {s}, ids);
    EXPECT_EQ(r2.retired_backends, (std::vector<uint32_t>{std::min(alt_old, alt_new), std::max(alt_old, alt_new)}));
    EXPECT_EQ(r2.backend_status.size(), 2u);

    // The Service goes: everything is retired.
    const BuildResult r3 = build({}, {s}, ids);
    EXPECT_EQ(r3.retired_backends.size(), 2u);
    EXPECT_TRUE(r3.backend_status.empty());
}

}  // namespace
}  // namespace enidp::lb::test

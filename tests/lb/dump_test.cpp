// Text and JSON dumps: content and determinism.
#include "lb/builder/dump.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/lb/fixtures.hpp"

namespace enidp::lb::test {
namespace {

BuildResult sample(StableIds& ids) {
    Service web = cluster_ip_service("default", "web", "10.96.0.10", {tcp_port("http", 80, 30080)});
    web.type = ServiceType::kNodePort;
    web.external_policy = TrafficPolicy::kLocal;
    web.health_check_node_port = 32000;
    web.affinity_client_ip = true;
    Service w = cluster_ip_service("default", "weighted", "10.96.0.11", {tcp_port("", 443)});
    w.algorithm = Algorithm::kWeighted;
    w.endpoint_weights = {{"10.2.0.1", "3"}};
    return build_table(std::vector<Service>{w, web},
                       std::vector<EndpointSlice>{
                           slice("default", "web-1", "web", {slice_port("http", 8080)},
                                 {endpoint("10.1.0.1", "node-a"), endpoint("10.1.0.2", "node-b"),
                                  endpoint("10.1.0.3", "node-b", kServingTerminating)}),
                           slice("default", "weighted-1", "weighted", {slice_port("", 8443)},
                                 {endpoint("10.2.0.1", "node-b"), endpoint("10.2.0.2", "node-b")}),
                       },
                       this_node(), BuildOptions{.maglev_default_size = 1021, .generation = 7}, ids);
}

TEST(Dump, TextShowsPortsFrontendsBackendsAndFill) {
    StableIds ids = big_ids();
    const BuildResult r = sample(ids);
    const std::string text = dump_text(*r.table);
    for (const char* want : {
             "generation 7: 2 service ports, 3 frontends, 5 backends, 1021 maglev entries, 4 wheel slots",
             "node IPs: 192.168.0.10",
             "default/web:http/TCP id=0 maglev flags=affinity-client-ip|external-local affinity-timeout=10800s "
             "health-check-node-port=32000",
             "  frontend ClusterIP 10.96.0.10:80/TCP",
             "  frontend NodePort *:30080/TCP",
             "  internal: 2 backends maglev=1021 empty=drop",
             "    10.1.0.1:8080 id=0 local ready weight=1 maglev=511",
             "    10.1.0.2:8080 id=1 remote ready weight=1 maglev=510",
             "  external: 1 backends empty=drop",
             "  cluster: = internal",
             "default/weighted:443/TCP id=1 weighted",
             // id 2 is the terminating 10.1.0.3: in no set, but it keeps an id while it exists.
             "    10.2.0.1:8443 id=3 remote ready weight=3 wheel=3",
             "    10.2.0.2:8443 id=4 remote ready weight=1 wheel=1",
         })
        EXPECT_NE(text.find(want), std::string::npos) << "missing: " << want << "\nin:\n" << text;
    EXPECT_EQ(text.find("10.1.0.3"), std::string::npos);  // serving-terminating, not used while others are ready
}

TEST(Dump, JsonHasTheSameContent) {
    StableIds ids = big_ids();
    const BuildResult r = sample(ids);
    const auto j = nlohmann::json::parse(dump_json(*r.table));
    EXPECT_EQ(j["generation"], 7);
    ASSERT_EQ(j["service_ports"].size(), 2u);
    const auto& web = j["service_ports"][0];
    EXPECT_EQ(web["name"], "default/web:http/TCP");
    EXPECT_EQ(web["frontends"][1]["kind"], "NodePort");
    EXPECT_EQ(web["frontends"][1]["port"], 30080);
    const auto& internal = web["sets"]["internal"];
    EXPECT_EQ(internal["maglev_size"], 1021);
    EXPECT_EQ(internal["backends"][0]["ip"], "10.1.0.1");
    EXPECT_EQ(internal["backends"][0]["port"], 8080);
    EXPECT_EQ(internal["backends"][0]["local"], true);
    EXPECT_EQ(
        internal["backends"][0]["maglev_entries"].get<int>() + internal["backends"][1]["maglev_entries"].get<int>(),
        1021);
    EXPECT_EQ(web["sets"]["cluster"]["same_as"], "internal");
    EXPECT_EQ(j["service_ports"][1]["sets"]["internal"]["backends"][0]["wheel_slots"], 3);
}

TEST(Dump, Deterministic) {
    StableIds a = big_ids(), b = big_ids();
    const BuildResult ra = sample(a), rb = sample(b);
    EXPECT_EQ(dump_text(*ra.table), dump_text(*rb.table));
    EXPECT_EQ(dump_json(*ra.table), dump_json(*rb.table));
    EXPECT_EQ(dump_json(*ra.table, -1).find('\n'), std::string::npos);
}

}  // namespace
}  // namespace enidp::lb::test

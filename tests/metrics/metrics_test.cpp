// control/metrics Metrics: exposition of a synthetic DataplaneCounters, monotonic counters
// across resets and port churn, the programming-latency histogram, generations.
#include "control/metrics/metrics.hpp"

#include <gtest/gtest.h>

#include "tests/metrics/exposition.hpp"

namespace enidp::metrics {
namespace {

using test::parse_exposition;

size_t idx(dp::Drop d) { return static_cast<size_t>(d); }
size_t idx(dp::Event e) { return static_cast<size_t>(e); }

dp::PortCounters port(uint16_t id, std::string device, std::string role, std::string owner, uint64_t rx, uint64_t tx) {
    dp::PortCounters p;
    p.port = id;
    p.device = std::move(device);
    p.role = std::move(role);
    p.owner = std::move(owner);
    p.link_up = true;
    p.rx_packets = rx;
    p.tx_packets = tx;
    p.rx_bytes = rx * 64;
    p.tx_bytes = tx * 64;
    p.rx_missed = 1;
    p.rx_errors = 2;
    p.tx_errors = 3;
    p.rx_nombuf = 4;
    return p;
}

dp::DataplaneCounters sample() {
    dp::DataplaneCounters c;
    c.generation = 7;
    c.ports.push_back(port(0, "net_tap0", "eni", "eni-a", 25, 7));
    c.ports.push_back(port(2, "virtio_user2", "pod", "demo/pod-a", 6, 6));
    c.ports[1].link_up = false;
    c.drops[idx(dp::Drop::kTxFull)] = 3;
    c.drops[idx(dp::Drop::kIpv6Unsupported)] = 30;
    c.events[idx(dp::Event::kToEni)] = 12;
    c.events[idx(dp::Event::kSvcNewFlow)] = 5;
    c.workers.push_back({.id = 0, .lcore = 1, .loops = 1000, .busy_loops = 10, .busy_cycles = 123456});
    c.workers.push_back({.id = 1, .lcore = 2, .loops = 900, .busy_loops = 0, .busy_cycles = 0});
    c.mempool_size = 8191;
    c.mempool_in_use = 191;
    c.mempool_available = 8000;
    c.lb.service_ports = 4;
    c.lb.frontends = 6;
    c.lb.backends = 9;
    c.lb.table_generation = 3;
    c.lb.affinity_entries = 2;
    auto& ct = c.lb.conntrack;
    ct.flows = 40;
    ct.capacity = 65536;
    ct.inserted = 50;
    ct.insert_failed = 1;
    ct.expired = 6;
    ct.evicted = 2;
    ct.purged = 1;
    ct.replaced = 1;
    ct.port_rewrites = 3;
    ct.gc_passes = 11;
    return c;
}

constexpr const char* kEniLabels = R"({device="net_tap0",owner="eni-a",port="0",role="eni"})";
constexpr const char* kPodLabels = R"({device="virtio_user2",owner="demo/pod-a",port="2",role="pod"})";

TEST(Metrics, ExpositionHasEverySeries) {
    Metrics m;
    m.update(sample());
    const std::string text = m.text();
    auto v = parse_exposition(text);

    const std::string eni = kEniLabels, pod = kPodLabels;
    EXPECT_EQ(v["enidp_port_rx_packets_total" + eni], 25);
    EXPECT_EQ(v["enidp_port_tx_packets_total" + eni], 7);
    EXPECT_EQ(v["enidp_port_rx_bytes_total" + eni], 25 * 64);
    EXPECT_EQ(v["enidp_port_tx_bytes_total" + eni], 7 * 64);
    EXPECT_EQ(v["enidp_port_rx_missed_total" + eni], 1);
    EXPECT_EQ(v["enidp_port_rx_errors_total" + eni], 2);
    EXPECT_EQ(v["enidp_port_tx_errors_total" + eni], 3);
    EXPECT_EQ(v["enidp_port_rx_nombuf_total" + eni], 4);
    EXPECT_EQ(v["enidp_port_link_up" + eni], 1);
    EXPECT_EQ(v["enidp_port_rx_packets_total" + pod], 6);
    EXPECT_EQ(v["enidp_port_link_up" + pod], 0);

    EXPECT_EQ(v[R"(enidp_drops_total{reason="tx_full"})"], 3);
    EXPECT_EQ(v[R"(enidp_drops_total{reason="ipv6_unsupported"})"], 30);
    // Every reason and event is present from the start, zero or not.
    for (const char* reason : dp::kDropNames)
        EXPECT_EQ(v.count(std::string("enidp_drops_total{reason=\"") + reason + "\"}"), 1u) << reason;
    for (const char* event : dp::kEventNames)
        EXPECT_EQ(v.count(std::string("enidp_events_total{event=\"") + event + "\"}"), 1u) << event;
    EXPECT_EQ(v[R"(enidp_drops_total{reason="l2_truncated"})"], 0);
    EXPECT_EQ(v[R"(enidp_events_total{event="to_eni"})"], 12);
    EXPECT_EQ(v[R"(enidp_events_total{event="service_new_flows"})"], 5);

    EXPECT_EQ(v[R"(enidp_worker_busy_cycles_total{worker="0"})"], 123456);
    EXPECT_EQ(v[R"(enidp_worker_loops_total{worker="1"})"], 900);
    EXPECT_EQ(v[R"(enidp_worker_busy_loops_total{worker="0"})"], 10);

    EXPECT_EQ(v[R"(enidp_mempool_mbufs{state="in_use"})"], 191);
    EXPECT_EQ(v[R"(enidp_mempool_mbufs{state="available"})"], 8000);
    EXPECT_EQ(v["enidp_mempool_size"], 8191);

    EXPECT_EQ(v["enidp_conntrack_flows"], 40);
    EXPECT_EQ(v["enidp_conntrack_capacity"], 65536);
    EXPECT_EQ(v[R"(enidp_conntrack_operations_total{op="inserted"})"], 50);
    EXPECT_EQ(v[R"(enidp_conntrack_operations_total{op="insert_failed"})"], 1);
    EXPECT_EQ(v[R"(enidp_conntrack_operations_total{op="expired"})"], 6);
    EXPECT_EQ(v[R"(enidp_conntrack_operations_total{op="evicted"})"], 2);
    EXPECT_EQ(v[R"(enidp_conntrack_operations_total{op="purged"})"], 1);
    EXPECT_EQ(v[R"(enidp_conntrack_operations_total{op="replaced"})"], 1);
    EXPECT_EQ(v["enidp_conntrack_port_rewrites_total"], 3);
    EXPECT_EQ(v["enidp_conntrack_gc_passes_total"], 11);

    EXPECT_EQ(v["enidp_services"], 4);
    EXPECT_EQ(v["enidp_service_frontends"], 6);
    EXPECT_EQ(v["enidp_service_backends"], 9);
    EXPECT_EQ(v["enidp_affinity_entries"], 2);
    EXPECT_EQ(v["enidp_service_table_generation"], 3);
    EXPECT_EQ(v["enidp_snapshot_generation"], 7);

    // Types and help are declared once per family.
    EXPECT_NE(text.find("# TYPE enidp_port_rx_packets_total counter\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE enidp_conntrack_flows gauge\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE enidp_network_programming_duration_seconds histogram\n"), std::string::npos);
    EXPECT_NE(text.find("# HELP enidp_drops_total "), std::string::npos);
}

TEST(Metrics, CountersStayMonotonicAcrossResets) {
    Metrics m;
    auto c = sample();
    const std::string tx_full = R"(enidp_drops_total{reason="tx_full"})";
    const std::string rx = std::string("enidp_port_rx_packets_total") + kEniLabels;
    const std::string inserted = R"(enidp_conntrack_operations_total{op="inserted"})";

    c.drops[idx(dp::Drop::kTxFull)] = 10;
    m.update(c);
    EXPECT_EQ(parse_exposition(m.text())[tx_full], 10);

    c.drops[idx(dp::Drop::kTxFull)] = 15;
    c.ports[0].rx_packets = 40;
    c.lb.conntrack.inserted = 70;
    m.update(c);
    auto v = parse_exposition(m.text());
    EXPECT_EQ(v[tx_full], 15);
    EXPECT_EQ(v[rx], 40);
    EXPECT_EQ(v[inserted], 70);

    // reset_counters: every source goes back; nothing is added, the new values are the base.
    c.drops[idx(dp::Drop::kTxFull)] = 4;
    c.ports[0].rx_packets = 5;
    c.lb.conntrack.inserted = 2;
    m.update(c);
    v = parse_exposition(m.text());
    EXPECT_EQ(v[tx_full], 15);
    EXPECT_EQ(v[rx], 40);
    EXPECT_EQ(v[inserted], 70);

    c.drops[idx(dp::Drop::kTxFull)] = 6;
    c.ports[0].rx_packets = 9;
    c.lb.conntrack.inserted = 3;
    m.update(c);
    v = parse_exposition(m.text());
    EXPECT_EQ(v[tx_full], 17);
    EXPECT_EQ(v[rx], 44);
    EXPECT_EQ(v[inserted], 71);

    // Gauges follow the source both ways.
    c.lb.conntrack.flows = 3;
    m.update(c);
    EXPECT_EQ(parse_exposition(m.text())["enidp_conntrack_flows"], 3);
}

TEST(Metrics, SeriesOfGonePortsAndWorkersAreRemoved) {
    Metrics m;
    auto c = sample();
    m.update(c);
    const std::string pod_rx = std::string("enidp_port_rx_packets_total") + kPodLabels;
    EXPECT_EQ(parse_exposition(m.text()).count(pod_rx), 1u);

    c.ports.pop_back();  // pod unplugged
    c.workers.pop_back();
    m.update(c);
    auto v = parse_exposition(m.text());
    EXPECT_EQ(v.count(pod_rx), 0u);
    EXPECT_EQ(v.count(R"(enidp_worker_loops_total{worker="1"})"), 0u);
    EXPECT_EQ(v.count(R"(enidp_worker_loops_total{worker="0"})"), 1u);

    // Plugged again: a new series counting from the port's own (new) counters.
    c.ports.push_back(port(2, "virtio_user2", "pod", "demo/pod-a", 2, 1));
    m.update(c);
    EXPECT_EQ(parse_exposition(m.text())[pod_rx], 2);
}

TEST(Metrics, PerServiceSeriesFollowTheTable) {
    Metrics m;
    dp::ServicePortCounters web;
    web.service = "demo/web:http/TCP";
    web.new_flows = 7;
    web.rejected = 0;
    web.active_flows = 3;
    dp::ServicePortCounters empty;
    empty.service = "demo/empty:tcp/TCP";
    empty.rejected = 2;
    m.update_services({web, empty});
    auto v = parse_exposition(m.text());
    EXPECT_EQ(v[R"(enidp_service_new_flows_total{service="demo/web:http/TCP"})"], 7);
    EXPECT_EQ(v[R"(enidp_service_active_flows{service="demo/web:http/TCP"})"], 3);
    EXPECT_EQ(v[R"(enidp_service_rejected_total{service="demo/empty:tcp/TCP"})"], 2);
    // A Service that leaves the table loses its series.
    web.new_flows = 9;
    m.update_services({web});
    v = parse_exposition(m.text());
    EXPECT_EQ(v[R"(enidp_service_new_flows_total{service="demo/web:http/TCP"})"], 9);
    EXPECT_EQ(v.count(R"(enidp_service_rejected_total{service="demo/empty:tcp/TCP"})"), 0u);
}

TEST(Metrics, ProgrammingLatencyHistogram) {
    const auto& b = Metrics::programming_buckets();
    ASSERT_FALSE(b.empty());
    EXPECT_DOUBLE_EQ(b.front(), 0.001);
    EXPECT_DOUBLE_EQ(b.back(), 10.0);
    for (size_t i = 1; i < b.size(); i++) EXPECT_LT(b[i - 1], b[i]);

    Metrics m;
    for (double s : {0.0005, 0.003, 0.003, 0.04, 0.7, 20.0}) m.observe(s);
    auto v = parse_exposition(m.text());
    const std::string h = "enidp_network_programming_duration_seconds";
    EXPECT_EQ(v[h + R"(_bucket{le="0.001"})"], 1);
    EXPECT_EQ(v[h + R"(_bucket{le="0.002"})"], 1);
    EXPECT_EQ(v[h + R"(_bucket{le="0.005"})"], 3);
    EXPECT_EQ(v[h + R"(_bucket{le="0.05"})"], 4);
    EXPECT_EQ(v[h + R"(_bucket{le="1"})"], 5);
    EXPECT_EQ(v[h + R"(_bucket{le="10"})"], 5);
    EXPECT_EQ(v[h + R"(_bucket{le="+Inf"})"], 6);
    EXPECT_EQ(v[h + "_count"], 6);
    EXPECT_NEAR(v[h + "_sum"], 0.0005 + 0.003 + 0.003 + 0.04 + 0.7 + 20.0, 1e-9);
    // One bucket line per bound plus +Inf.
    size_t buckets = 0;
    for (const auto& [series, value] : v)
        if (series.rfind(h + "_bucket{", 0) == 0) buckets++;
    EXPECT_EQ(buckets, b.size() + 1);
}

TEST(Metrics, Generations) {
    Metrics m;
    auto v = parse_exposition(m.text());
    EXPECT_EQ(v["enidp_desired_generation"], 0);
    EXPECT_EQ(v["enidp_realized_generation"], 0);
    m.set_generations(12, 11);
    v = parse_exposition(m.text());
    EXPECT_EQ(v["enidp_desired_generation"], 12);
    EXPECT_EQ(v["enidp_realized_generation"], 11);
}

TEST(Metrics, PublicationsByBuildAndChurn) {
    Metrics m;
    auto v = parse_exposition(m.text());
    for (const char* series : {"{build=\"patched\",churn=\"true\"}", "{build=\"patched\",churn=\"false\"}",
                               "{build=\"assembled\",churn=\"true\"}", "{build=\"assembled\",churn=\"false\"}"}) {
        const std::string name = std::string("enidp_service_table_publications_total") + series;
        ASSERT_EQ(v.count(name), 1u) << name << " is exposed from the start";
        EXPECT_EQ(v[name], 0);
    }
    m.count_publication(true, true);
    m.count_publication(true, true);
    m.count_publication(false, false);
    v = parse_exposition(m.text());
    EXPECT_EQ(v["enidp_service_table_publications_total{build=\"patched\",churn=\"true\"}"], 2);
    EXPECT_EQ(v["enidp_service_table_publications_total{build=\"assembled\",churn=\"false\"}"], 1);
    EXPECT_EQ(v["enidp_service_table_publications_total{build=\"patched\",churn=\"false\"}"], 0);
}

}  // namespace
}  // namespace enidp::metrics

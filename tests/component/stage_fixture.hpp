// The Service/policy stage fixture shared by lb_stage_test and policy_stage_test: a
// Snapshot with two pods (each owning an ENI), a real conntrack (rte_hash + RCU), Service
// tables built by lb/builder, and send() pushing one frame through dp::process_burst and
// checking every checksum of what comes out.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "dataplane/fastpath/pipeline.hpp"
#include "lb/builder/table_builder.hpp"
#include "tests/support/frames.hpp"

namespace enidp::test {
namespace {

using synth::PacketBuilder;

const auto kGwMac = mac("02:00:00:00:00:01");
const auto kEni0Mac = mac("02:00:00:00:0e:00");
const auto kEni1Mac = mac("02:00:00:00:0e:01");
const auto kVpcGwMac = mac("02:00:00:00:00:fe");
const auto kPod0Mac = mac("02:00:00:00:00:10");
const auto kPod1Mac = mac("02:00:00:00:00:11");
const uint32_t kPod0 = ip("10.0.0.10"), kPod1 = ip("10.0.0.11");
const uint32_t kVip = ip("10.96.0.10");
const uint32_t kRemote = ip("10.1.0.5"), kRemote2 = ip("10.1.0.6");
const uint32_t kNodeIp = ip("10.0.0.200");  // a secondary address of eni0 that serves NodePorts
const uint32_t kLbIp = ip("203.0.113.7");
const uint32_t kClient = ip("198.51.100.9");  // outside the VPC
constexpr uint16_t kPod0Port = 0, kEni0Port = 1, kPod1Port = 2, kEni1Port = 3;

struct CaptureSink {
    dp::WorkerStats st;
    std::vector<std::pair<uint16_t, rte_mbuf*>> out;
    std::vector<dp::Drop> drops;
    lb::LbWorker lbw;
    lb::LbWorker* lbwp = nullptr;  // the fixture's (persistent: its flow cache spans packets), else lbw
    dp::PolicyWorker* pw = nullptr;
    dp::WorkerStats& stats() { return st; }
    lb::LbWorker& lb_worker() { return lbwp != nullptr ? *lbwp : lbw; }
    dp::PolicyWorker& policy_worker() { return *pw; }
    void to_port(uint16_t port, rte_mbuf* m) { out.emplace_back(port, m); }
    void drop(rte_mbuf* m, dp::Drop d) {
        drops.push_back(d);
        st.drop(d);
        rte_pktmbuf_free(m);
    }
    void consumed(rte_mbuf* m) { rte_pktmbuf_free(m); }
    ~CaptureSink() {
        for (auto& [p, m] : out) rte_pktmbuf_free(m);
    }
};

// What came out of one packet.
struct Out {
    bool dropped = false;
    dp::Drop why = dp::Drop::kCount;
    uint16_t port = 0;
    std::vector<uint8_t> frame;
    dp::ParsedPacket p;
    uint32_t src() const { return rte_be_to_cpu_32(p.src_ip); }
    uint32_t dst() const { return rte_be_to_cpu_32(p.dst_ip); }
    uint16_t sport() const { return rte_be_to_cpu_16(p.src_port); }
    uint16_t dport() const { return rte_be_to_cpu_16(p.dst_port); }
};

// Unaligned reads of packet fields (UBSan-clean).
[[maybe_unused]] uint32_t load32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
[[maybe_unused]] uint16_t load16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

lb::Endpoint endpoint(uint32_t host_ip, const std::string& node, bool ready = true, bool serving = true,
                      bool terminating = false) {
    lb::Endpoint e;
    e.addresses = {rte_cpu_to_be_32(host_ip)};
    e.node_name = node;
    e.conditions.ready = ready;
    e.conditions.serving = serving;
    e.conditions.terminating = terminating;
    return e;
}

lb::Service service(const std::string& name, uint32_t cluster_ip, uint16_t port, lb::Protocol proto = lb::Protocol::kTcp) {
    lb::Service s;
    s.ns = "default";
    s.name = name;
    s.cluster_ips = {rte_cpu_to_be_32(cluster_ip)};
    lb::ServicePortSpec p;
    p.protocol = proto;
    p.port = port;
    p.target_port = 8080;
    s.ports = {p};
    return s;
}

lb::EndpointSlice slice(const std::string& svc, const std::string& name, std::vector<lb::Endpoint> eps,
                        uint16_t port = 8080, lb::Protocol proto = lb::Protocol::kTcp, const std::string& port_name = "") {
    lb::EndpointSlice s;
    s.ns = "default";
    s.name = name;
    s.service_name = svc;
    s.endpoints = std::move(eps);
    s.ports = {lb::EndpointPort{port_name, proto, port}};
    return s;
}

class LbStageTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        pool_ = rte_pktmbuf_pool_create("lb_stage_test", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
        ASSERT_NE(pool_, nullptr);
    }
    static void TearDownTestSuite() { rte_mempool_free(pool_); }

    void SetUp() override {
        static int seq = 0;
        seq++;
        const size_t sz = rte_rcu_qsbr_get_memsize(2);
        qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("lbt_qsbr", sz, RTE_CACHE_LINE_SIZE));
        ASSERT_EQ(rte_rcu_qsbr_init(qsbr_, 2), 0);
        rte_rcu_qsbr_thread_register(qsbr_, 1);
        lb::CtConfig cc;
        cc.name = "lbt" + std::to_string(seq);
        cc.max_flows = max_flows_;
        cc.qsbr = qsbr_;
        cc.control_rcu_id = 1;
        cc.snat_port_min = 61000;
        cc.snat_port_max = 65535;
        std::string err;
        ct_ = lb::Conntrack::create(cc, err);
        ASSERT_NE(ct_, nullptr) << err;
        ct_->bind_state(&state_);
        aff_ = lb::Affinity::create("lbta" + std::to_string(seq), 1024, 0, qsbr_, err);
        ASSERT_NE(aff_, nullptr) << err;

        snap_.gateway_mac = ether(kGwMac);
        eni0_gw_.set(ether(kVpcGwMac));
        eni1_gw_.set(ether(kVpcGwMac));
        snap_.enis = {dp::EniEntry{kEni0Port, ether(kEni0Mac), ip_be("10.0.0.10"), ip_be("10.0.0.1"), 0, &eni0_gw_},
                      dp::EniEntry{kEni1Port, ether(kEni1Mac), ip_be("10.0.0.11"), ip_be("10.0.0.1"), 1, &eni1_gw_}};
        snap_.pods = {dp::PodEntry{ip_be("10.0.0.10"), ether(kPod0Mac), kPod0Port, 0, true},
                      dp::PodEntry{ip_be("10.0.0.11"), ether(kPod1Mac), kPod1Port, 1, true}};
        snap_.ports[kPod0Port] = {dp::PortRole::kPod, 0};
        snap_.ports[kPod1Port] = {dp::PortRole::kPod, 1};
        snap_.ports[kEni0Port] = {dp::PortRole::kEni, 0};
        snap_.ports[kEni1Port] = {dp::PortRole::kEni, 1};
        snap_.pod_by_ip.build({{ip_be("10.0.0.10"), 0}, {ip_be("10.0.0.11"), 1}});
        node_.name = "node-a";
        node_.node_ips = {rte_cpu_to_be_32(kNodeIp)};
        now_ms_ = 1'000'000;
    }
    void TearDown() override {
        snap_.lb = {};
        table_.reset();
        ct_.reset();
        aff_.reset();
        rte_free(qsbr_);
    }

    // The runtime's publication sequence (Dataplane::set_services), on the test's snapshot.
    void apply(const std::vector<lb::Service>& svcs, const std::vector<lb::EndpointSlice>& slices) {
        lb::BuildOptions opt;
        opt.generation = ++gen_;
        lb::BuildResult r = lb::build_table(svcs, slices, node_, opt, ids_, table_.get());
        ASSERT_TRUE(r.errors.empty()) << r.errors[0];
        for (const auto& [id, st] : r.backend_status) state_.backends[id].status.store(static_cast<uint8_t>(st));
        for (uint32_t id : r.retired_backends)
            state_.backends[id].status.store(static_cast<uint8_t>(lb::BackendStatus::kRemoved));
        table_ = std::shared_ptr<const lb::ServiceTable>(std::move(r.table));
        snap_.lb = lb::LbTables{table_.get(), ct_.get(), aff_.get(), &state_};
        if (!r.retired_backends.empty()) {
            ct_->purge([this](uint32_t id) {
                return state_.backends[id].status.load() == static_cast<uint8_t>(lb::BackendStatus::kRemoved);
            });
            ids_.release_retired();
        }
    }

    Out send(uint16_t port, const std::vector<uint8_t>& frame) {
        CaptureSink sink;
        sink.pw = &pw_;
        // One worker for the whole test, as in the daemon: its flow cache sees every packet.
        sink.lbwp = &lbw_;
        lbw_.now_ms = now_ms_;
        lbw_.rng = rng_;
        rte_mbuf* m = to_mbuf(pool_, frame);
        EXPECT_NE(m, nullptr);
        dp::process_burst(snap_, port, &m, 1, sink);
        rng_ = lbw_.rng;
        Out o;
        if (!sink.drops.empty()) {
            o.dropped = true;
            o.why = sink.drops[0];
            return o;
        }
        EXPECT_EQ(sink.out.size(), 1u);
        if (sink.out.empty()) return o;
        o.port = sink.out[0].first;
        o.frame = bytes_of(sink.out[0].second);
        EXPECT_TRUE(dp::parse_packet(o.frame.data(), static_cast<uint32_t>(o.frame.size()), o.p).ok);
        EXPECT_TRUE(synth::verify_ipv4_checksum(o.frame)) << "IPv4 checksum";
        EXPECT_TRUE(synth::verify_l4_checksum(o.frame)) << "L4 checksum";
        return o;
    }

    static std::vector<uint8_t> tcp_from_pod0(uint32_t dst, uint16_t sport, uint16_t dport, uint8_t flags) {
        PacketBuilder b;
        b.eth(kPod0Mac, kGwMac).ipv4(kPod0, dst).tcp(sport, dport, flags, 1000, flags & synth::kTcpAck ? 5000 : 0).payload(10);
        return b.build();
    }
    static std::vector<uint8_t> tcp_from_eni(const synth::MacAddr& eni_mac, uint32_t src, uint32_t dst, uint16_t sport,
                                             uint16_t dport, uint8_t flags) {
        PacketBuilder b;
        b.eth(kVpcGwMac, eni_mac).ipv4(src, dst).tcp(sport, dport, flags, 5000, 1010).payload(10);
        return b.build();
    }
    static std::vector<uint8_t> tcp_from_pod1(uint32_t dst, uint16_t sport, uint16_t dport, uint8_t flags) {
        PacketBuilder b;
        b.eth(kPod1Mac, kGwMac).ipv4(kPod1, dst).tcp(sport, dport, flags, 5000, 1010).payload(10);
        return b.build();
    }
    static std::vector<uint8_t> udp_from_pod0(uint32_t dst, uint16_t sport, uint16_t dport) {
        PacketBuilder b;
        b.eth(kPod0Mac, kGwMac).ipv4(kPod0, dst).udp(sport, dport).payload(20);
        return b.build();
    }

    static inline rte_mempool* pool_ = nullptr;
    uint32_t max_flows_ = 4096;
    rte_rcu_qsbr* qsbr_ = nullptr;
    lb::LbState state_{1024, 4096};
    lb::StableIds ids_{1024, 4096};
    std::unique_ptr<lb::Conntrack> ct_;
    std::unique_ptr<lb::Affinity> aff_;
    std::shared_ptr<const lb::ServiceTable> table_;
    lb::NodeInfo node_;
    dp::Snapshot snap_;
    dp::NeighborCell eni0_gw_, eni1_gw_;
    uint64_t gen_ = 0;
    uint64_t now_ms_ = 0;
    uint64_t rng_ = 12345;
    dp::PolicyWorker pw_;
    lb::LbWorker lbw_;
};

}  // namespace
}  // namespace enidp::test

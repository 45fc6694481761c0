// Golden packets through the real pipeline functions: each input frame on a given port
// must leave on the expected port as the expected bytes, or be dropped for the expected
// reason. Mbufs come from a real mempool (EAL with --no-huge).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>

#include <rte_mbuf.h>

#include "dataplane/fastpath/pipeline.hpp"
#include "tests/support/frames.hpp"

namespace enidp::test {
namespace {

using synth::PacketBuilder;

const auto kGwMac = mac("02:00:00:00:00:01");     // virtual router, pod side
const auto kEni0Mac = mac("02:00:00:00:0e:00");
const auto kEni1Mac = mac("02:00:00:00:0e:01");
const auto kVpcGwMac = mac("02:00:00:00:00:fe");  // the real VPC gateway
const auto kPod0Mac = mac("02:00:00:00:00:10");
const auto kPod1Mac = mac("02:00:00:00:00:11");
const auto kOtherMac = mac("02:00:00:00:99:99");
const uint32_t kPod0 = ip("10.0.0.10"), kPod1 = ip("10.0.0.11"), kGw = ip("10.0.0.1");
constexpr uint16_t kPod0Port = 0, kEni0Port = 1, kPod1Port = 2, kEni1Port = 3;

struct CaptureSink {
    dp::WorkerStats st;
    std::vector<std::pair<uint16_t, rte_mbuf*>> out;
    std::vector<dp::Drop> drops;
    int consumed_count = 0;
    lb::LbWorker lbw;
    dp::WorkerStats& stats() { return st; }
    lb::LbWorker& lb_worker() { return lbw; }
    void to_port(uint16_t port, rte_mbuf* m) { out.emplace_back(port, m); }
    void drop(rte_mbuf* m, dp::Drop d) {
        drops.push_back(d);
        st.drop(d);
        rte_pktmbuf_free(m);
    }
    void consumed(rte_mbuf* m) {
        consumed_count++;
        rte_pktmbuf_free(m);
    }
    ~CaptureSink() {
        for (auto& [p, m] : out) rte_pktmbuf_free(m);
    }
};

class PipelineTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        pool_ = rte_pktmbuf_pool_create("pipeline_test", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
        ASSERT_NE(pool_, nullptr);
    }
    static void TearDownTestSuite() { rte_mempool_free(pool_); }

    void SetUp() override {
        snap_.gateway_mac = ether(kGwMac);
        eni0_gw_.set(ether(kVpcGwMac));  // eni1's gateway stays unresolved
        snap_.enis = {dp::EniEntry{kEni0Port, ether(kEni0Mac), ip_be("10.0.0.10"), ip_be("10.0.0.1"), 0, &eni0_gw_},
                      dp::EniEntry{kEni1Port, ether(kEni1Mac), ip_be("10.0.0.11"), ip_be("10.0.0.1"), 1, &eni1_gw_}};
        snap_.pods = {dp::PodEntry{ip_be("10.0.0.10"), ether(kPod0Mac), kPod0Port, 0, true},
                      dp::PodEntry{ip_be("10.0.0.11"), ether(kPod1Mac), kPod1Port, 1, true}};
        snap_.ports[kPod0Port] = {dp::PortRole::kPod, 0};
        snap_.ports[kPod1Port] = {dp::PortRole::kPod, 1};
        snap_.ports[kEni0Port] = {dp::PortRole::kEni, 0};
        snap_.ports[kEni1Port] = {dp::PortRole::kEni, 1};
        snap_.pod_by_ip.build({{ip_be("10.0.0.10"), 0}, {ip_be("10.0.0.11"), 1}});
    }

    // Runs one frame; returns the sink for inspection.
    std::unique_ptr<CaptureSink> run(uint16_t port, const std::vector<uint8_t>& frame) {
        auto sink = std::make_unique<CaptureSink>();
        rte_mbuf* m = to_mbuf(pool_, frame);
        EXPECT_NE(m, nullptr);
        dp::process_burst(snap_, port, &m, 1, *sink);
        return sink;
    }
    void expect_out(uint16_t in, const std::vector<uint8_t>& frame, uint16_t out_port,
                    const std::vector<uint8_t>& expected) {
        auto s = run(in, frame);
        ASSERT_TRUE(s->drops.empty()) << "dropped: " << dp::drop_name(s->drops[0]);
        ASSERT_EQ(s->out.size(), 1u);
        EXPECT_EQ(s->out[0].first, out_port);
        EXPECT_EQ(bytes_of(s->out[0].second), expected);
    }
    void expect_drop(uint16_t in, const std::vector<uint8_t>& frame, dp::Drop why) {
        auto s = run(in, frame);
        EXPECT_TRUE(s->out.empty());
        ASSERT_EQ(s->drops.size(), 1u);
        EXPECT_EQ(s->drops[0], why) << "got " << dp::drop_name(s->drops[0]) << ", want " << dp::drop_name(why);
        EXPECT_EQ(s->st.drops[static_cast<size_t>(why)].get(), 1u);
    }

    static inline rte_mempool* pool_ = nullptr;
    dp::Snapshot snap_;
    dp::NeighborCell eni0_gw_, eni1_gw_;
};

PacketBuilder pod0_udp(uint32_t dst) {
    PacketBuilder b;
    b.eth(kPod0Mac, kGwMac).ipv4(kPod0, dst).udp(10000, 53).frame_size(60);
    return b;
}

TEST_F(PipelineTest, PodEgressGoesOutItsEniToTheVpcGateway) {
    const uint32_t dst = ip("8.8.8.8");
    auto in = pod0_udp(dst).build();
    PacketBuilder want;
    want.eth(kEni0Mac, kVpcGwMac).ipv4(kPod0, dst).udp(10000, 53).frame_size(60);
    expect_out(kPod0Port, in, kEni0Port, want.build());
}

TEST_F(PipelineTest, PodToLocalPodTakesTheShortcut) {
    auto in = pod0_udp(kPod1).build();
    PacketBuilder want;
    want.eth(kGwMac, kPod1Mac).ipv4(kPod0, kPod1).udp(10000, 53).frame_size(60);
    expect_out(kPod0Port, in, kPod1Port, want.build());
}

TEST_F(PipelineTest, NonEchoTrafficToTheGatewayIpGoesToTheVpc) {
    PacketBuilder b;
    b.eth(kPod0Mac, kGwMac).ipv4(kPod0, kGw).tcp(40000, 53);
    PacketBuilder want;
    want.eth(kEni0Mac, kVpcGwMac).ipv4(kPod0, kGw).tcp(40000, 53);
    expect_out(kPod0Port, b.build(), kEni0Port, want.build());
}

TEST_F(PipelineTest, PingToTheGatewayIsAnswered) {
    PacketBuilder b;
    b.eth(kPod0Mac, kGwMac).ipv4(kPod0, kGw).icmp_echo(true, 7, 1).payload(32);
    auto s = run(kPod0Port, b.build());
    ASSERT_EQ(s->out.size(), 1u);
    EXPECT_EQ(s->out[0].first, kPod0Port);
    PacketBuilder want;
    want.eth(kGwMac, kPod0Mac).ipv4(kGw, kPod0).icmp_echo(false, 7, 1).payload(32);
    auto got = bytes_of(s->out[0].second);
    EXPECT_EQ(got, want.build());
    EXPECT_TRUE(synth::verify_ipv4_checksum(got));
    EXPECT_TRUE(synth::verify_l4_checksum(got));
    EXPECT_EQ(s->st.events[static_cast<size_t>(dp::Event::kIcmpEchoReplied)].get(), 1u);
}

TEST_F(PipelineTest, PodArpForAnyOtherAddressGetsTheRouterMac) {
    for (const char* target : {"10.0.0.1", "10.0.0.77"}) {
        PacketBuilder b;
        b.eth(kPod0Mac, synth::kBroadcastMac).arp_request(kPod0Mac, kPod0, ip(target)).frame_size(60);
        PacketBuilder want;
        want.eth(kGwMac, kPod0Mac).arp_reply(kGwMac, ip(target), kPod0Mac, kPod0).frame_size(60);
        expect_out(kPod0Port, b.build(), kPod0Port, want.build());
    }
}

TEST_F(PipelineTest, PodDuplicateAddressProbeIsNotAnswered) {
    PacketBuilder b;
    b.eth(kPod0Mac, synth::kBroadcastMac).arp_request(kPod0Mac, 0, kPod0);
    expect_drop(kPod0Port, b.build(), dp::Drop::kArpNotForUs);
}

TEST_F(PipelineTest, AntiSpoofing) {
    PacketBuilder bad_mac;
    bad_mac.eth(kOtherMac, kGwMac).ipv4(kPod0, ip("8.8.8.8")).udp(1, 2);
    expect_drop(kPod0Port, bad_mac.build(), dp::Drop::kSpoofedMac);
    PacketBuilder bad_ip;
    bad_ip.eth(kPod0Mac, kGwMac).ipv4(ip("10.0.0.99"), ip("8.8.8.8")).udp(1, 2);
    expect_drop(kPod0Port, bad_ip.build(), dp::Drop::kSpoofedIp);
    PacketBuilder pod1_ip;  // another local pod's address is spoofing too
    pod1_ip.eth(kPod0Mac, kGwMac).ipv4(kPod1, ip("8.8.8.8")).udp(1, 2);
    expect_drop(kPod0Port, pod1_ip.build(), dp::Drop::kSpoofedIp);
    PacketBuilder arp_mac;
    arp_mac.eth(kOtherMac, synth::kBroadcastMac).arp_request(kOtherMac, kPod0, kGw);
    expect_drop(kPod0Port, arp_mac.build(), dp::Drop::kSpoofedMac);
}

TEST_F(PipelineTest, EniIngressReachesThePodWithItsMac) {
    PacketBuilder b;
    b.eth(kVpcGwMac, kEni0Mac).ipv4(ip("192.168.1.5"), kPod0).tcp(443, 50000, synth::kTcpAck);
    PacketBuilder want;
    want.eth(kGwMac, kPod0Mac).ipv4(ip("192.168.1.5"), kPod0).tcp(443, 50000, synth::kTcpAck);
    expect_out(kEni0Port, b.build(), kPod0Port, want.build());
}

TEST_F(PipelineTest, EniIngressChecks) {
    PacketBuilder other_ip;
    other_ip.eth(kVpcGwMac, kEni0Mac).ipv4(ip("192.168.1.5"), kPod1).udp(1, 2);
    expect_drop(kEni0Port, other_ip.build(), dp::Drop::kNotForPod);
    PacketBuilder other_mac;
    other_mac.eth(kVpcGwMac, kOtherMac).ipv4(ip("192.168.1.5"), kPod0).udp(1, 2);
    expect_drop(kEni0Port, other_mac.build(), dp::Drop::kL2NotForUs);
}

TEST_F(PipelineTest, EniAnswersArpForThePodIpAndLearnsTheGateway) {
    const auto new_gw = mac("02:00:00:00:00:fd");
    PacketBuilder b;
    b.eth(new_gw, synth::kBroadcastMac).arp_request(new_gw, kGw, kPod0).frame_size(60);
    PacketBuilder want;
    want.eth(kEni0Mac, new_gw).arp_reply(kEni0Mac, kPod0, new_gw, kGw).frame_size(60);
    expect_out(kEni0Port, b.build(), kEni0Port, want.build());
    rte_ether_addr learned;
    ASSERT_TRUE(eni0_gw_.get(learned));
    EXPECT_TRUE(rte_is_same_ether_addr(&learned, &snap_.enis[0].mac) == false);
    EXPECT_EQ(std::memcmp(learned.addr_bytes, new_gw.b.data(), 6), 0);
}

TEST_F(PipelineTest, GatewayArpReplyResolvesAPendingGateway) {
    PacketBuilder before;
    before.eth(kPod1Mac, kGwMac).ipv4(kPod1, ip("8.8.8.8")).udp(1, 2);
    expect_drop(kPod1Port, before.build(), dp::Drop::kGatewayUnresolved);
    PacketBuilder reply;
    reply.eth(kVpcGwMac, kEni1Mac).arp_reply(kVpcGwMac, kGw, kEni1Mac, kPod1);
    auto s = run(kEni1Port, reply.build());
    EXPECT_EQ(s->consumed_count, 1);
    EXPECT_TRUE(eni1_gw_.valid());
    PacketBuilder want;
    want.eth(kEni1Mac, kVpcGwMac).ipv4(kPod1, ip("8.8.8.8")).udp(1, 2);
    expect_out(kPod1Port, before.build(), kEni1Port, want.build());
}

TEST_F(PipelineTest, PodPortDownIsACountedDrop) {
    snap_.pods[1].link_up = false;
    expect_drop(kPod0Port, pod0_udp(kPod1).build(), dp::Drop::kPodPortDown);
    PacketBuilder in;
    in.eth(kVpcGwMac, kEni1Mac).ipv4(ip("1.1.1.1"), kPod1).udp(1, 2);
    expect_drop(kEni1Port, in.build(), dp::Drop::kPodPortDown);
}

TEST_F(PipelineTest, UnknownPortDrops) {
    expect_drop(7, pod0_udp(ip("8.8.8.8")).build(), dp::Drop::kNoPort);
}

struct MalformedCase {
    const char* name;
    std::vector<uint8_t> frame;
    dp::Drop why;
};

TEST_F(PipelineTest, MalformedFramesAreCountedByReason) {
    const uint32_t d = ip("8.8.8.8");
    auto base = [&] {
        PacketBuilder b;
        b.eth(kPod0Mac, kGwMac).ipv4(kPod0, d);
        return b;
    };
    std::vector<MalformedCase> cases;
    cases.push_back({"runt", synth::truncate(pod0_udp(d).build(), 10), dp::Drop::kL2Truncated});
    cases.push_back({"ip cut", synth::truncate(pod0_udp(d).build(), 30), dp::Drop::kIpv4Truncated});
    cases.push_back({"version", base().udp(1, 2).bad_version(6).build(), dp::Drop::kIpv4BadVersion});
    cases.push_back({"ihl<5", base().udp(1, 2).bad_ihl(4).build(), dp::Drop::kIpv4BadIhl});
    cases.push_back({"options", base().ipv4_options({1, 1, 1, 1}).udp(1, 2).build(), dp::Drop::kIpv4Options});
    cases.push_back({"total>frame", base().udp(1, 2).bad_total_length(1400).build(), dp::Drop::kIpv4BadLength});
    cases.push_back({"total<hdr", base().udp(1, 2).bad_total_length(12).build(), dp::Drop::kIpv4BadLength});
    cases.push_back({"MF", base().udp(1, 2).fragment(true, 0).build(), dp::Drop::kIpv4Fragment});
    cases.push_back({"offset", base().udp(1, 2).fragment(false, 10).build(), dp::Drop::kIpv4Fragment});
    cases.push_back({"udp cut", base().ip_proto(17).payload(4).build(), dp::Drop::kL4Truncated});
    cases.push_back({"tcp cut", base().ip_proto(6).payload(12).build(), dp::Drop::kL4Truncated});
    cases.push_back({"sctp cut", base().ip_proto(132).payload(8).build(), dp::Drop::kL4Truncated});
    cases.push_back({"icmp cut", base().ip_proto(1).payload(4).build(), dp::Drop::kL4Truncated});
    cases.push_back({"tcp doff<5", base().tcp(1, 2).tcp_data_offset(3).build(), dp::Drop::kTcpBadOffset});
    cases.push_back({"tcp doff>len", base().tcp(1, 2).tcp_data_offset(15).build(), dp::Drop::kTcpBadOffset});
    {
        PacketBuilder v;
        v.eth(kPod0Mac, kGwMac).vlan(100).ipv4(kPod0, d).udp(1, 2);
        cases.push_back({"vlan", v.build(), dp::Drop::kVlanUnexpected});
    }
    {
        PacketBuilder v6;
        v6.eth(kPod0Mac, kGwMac).ipv6({}, {}).udp(1, 2);
        cases.push_back({"ipv6", v6.build(), dp::Drop::kIpv6Unsupported});
    }
    {
        PacketBuilder lldp;
        lldp.eth(kPod0Mac, kGwMac).ethertype(0x88cc).payload(40);
        cases.push_back({"lldp", lldp.build(), dp::Drop::kEthertypeUnsupported});
    }
    {
        PacketBuilder arp;
        arp.eth(kPod0Mac, synth::kBroadcastMac).arp_request(kPod0Mac, kPod0, kGw);
        cases.push_back({"arp cut", synth::truncate(arp.build(), 30), dp::Drop::kArpMalformed});
    }
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        expect_drop(kPod0Port, c.frame, c.why);
    }
}

TEST_F(PipelineTest, EveryPrefixOfAFrameIsHandledWithoutCrashing) {
    // Truncation at every byte of TCP, UDP, ICMP and ARP frames: each is sent or dropped
    // with a reason, never read past its end (run under ASan in CI).
    std::vector<std::vector<uint8_t>> frames;
    PacketBuilder t, u, i, a;
    t.eth(kPod0Mac, kGwMac).ipv4(kPod0, ip("8.8.8.8")).tcp(1, 2).payload(10);
    u.eth(kPod0Mac, kGwMac).ipv4(kPod0, ip("8.8.8.8")).udp(1, 2).payload(10);
    i.eth(kPod0Mac, kGwMac).ipv4(kPod0, kGw).icmp_echo(true, 1, 1).payload(10);
    a.eth(kPod0Mac, synth::kBroadcastMac).arp_request(kPod0Mac, kPod0, kGw);
    for (auto* b : {&t, &u, &i, &a}) {
        auto f = b->build();
        for (size_t n = 1; n <= f.size(); n++) {
            auto s = run(kPod0Port, synth::truncate(f, n));
            EXPECT_EQ(s->out.size() + s->drops.size(), 1u) << "length " << n;
        }
    }
}

TEST_F(PipelineTest, ABurstSplitsAcrossOutputsAndDropsIndependently) {
    std::vector<rte_mbuf*> burst;
    for (int k = 0; k < 32; k++) {
        std::vector<uint8_t> f;
        if (k % 4 == 0) f = pod0_udp(kPod1).build();
        else if (k % 4 == 1) {
            PacketBuilder b;
            b.eth(kOtherMac, kGwMac).ipv4(kPod0, ip("8.8.8.8")).udp(1, 2);
            f = b.build();
        } else f = pod0_udp(ip("8.8.8.8") + static_cast<uint32_t>(k)).build();
        burst.push_back(to_mbuf(pool_, f));
    }
    CaptureSink s;
    dp::process_burst(snap_, kPod0Port, burst.data(), static_cast<uint16_t>(burst.size()), s);
    std::map<uint16_t, int> per_port;
    for (auto& [p, m] : s.out) per_port[p]++;
    EXPECT_EQ(per_port[kPod1Port], 8);
    EXPECT_EQ(per_port[kEni0Port], 16);
    EXPECT_EQ(s.drops.size(), 8u);
    EXPECT_EQ(s.st.events[static_cast<size_t>(dp::Event::kToEni)].get(), 16u);
    EXPECT_EQ(s.st.events[static_cast<size_t>(dp::Event::kLocalShortcut)].get(), 8u);
}

}  // namespace
}  // namespace enidp::test

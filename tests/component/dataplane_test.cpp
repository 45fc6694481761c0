// The runtime and workers end to end on ring-backed ports: packets go in a port's RX ring
// and must come out of the right TX ring, rewritten, while a worker lcore runs the loop.
// Also: gateway resolution by ARP, hot-plug of memif / vhost-user pod ports with no
// leaks, and the handoff path when two workers share a single-queue pod port.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "dataplane/runtime/dataplane.hpp"
#include "tests/support/frames.hpp"

namespace enidp::test {
namespace {

using synth::PacketBuilder;
using namespace std::chrono_literals;

const auto kGwMac = mac("02:00:00:00:00:01");
const auto kEniMac = mac("02:00:00:00:0e:00");
const auto kVpcGwMac = mac("02:00:00:00:00:fe");
const auto kPodMac = mac("02:00:00:00:00:10");

// A port whose RX and TX are separate rings we can feed and drain.
struct RingPort {
    rte_ring* rx = nullptr;
    rte_ring* tx = nullptr;
    uint16_t port = 0;
    explicit RingPort(const std::string& name) {
        rx = rte_ring_create((name + "_rx").c_str(), 4096, 0, 0);
        tx = rte_ring_create((name + "_tx").c_str(), 4096, 0, 0);
        port = static_cast<uint16_t>(rte_eth_from_rings(name.c_str(), &rx, 1, &tx, 1, 0));
    }
    ~RingPort() {
        void* m;
        while (rte_ring_dequeue(tx, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        while (rte_ring_dequeue(rx, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(rx);
        rte_ring_free(tx);
    }
    // Waits up to `timeout` for n packets on the TX ring.
    std::vector<rte_mbuf*> take(size_t n, std::chrono::milliseconds timeout = 2000ms) {
        std::vector<rte_mbuf*> out;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
            void* m;
            if (rte_ring_dequeue(tx, &m) == 0) out.push_back(static_cast<rte_mbuf*>(m));
            else std::this_thread::sleep_for(1ms);
        }
        return out;
    }
};

void free_all(std::vector<rte_mbuf*>& v) {
    for (auto* m : v) rte_pktmbuf_free(m);
    v.clear();
}

dp::RuntimeSpec spec(uint16_t workers) {
    dp::RuntimeSpec s;
    s.workers = workers;
    s.mbufs = 8191;
    s.mbuf_cache = 0;  // exact in-use accounting for the leak checks
    s.idle_after_us = 50;
    s.idle_sleep_us = 50;
    s.gateway_mac = ether(kGwMac);
    return s;
}

class DataplaneTest : public ::testing::Test {
protected:
    void start(uint16_t workers, bool gateway_known) {
        std::string err;
        dp_ = dp::Dataplane::create(spec(workers), err);
        ASSERT_TRUE(dp_) << err;
        eni_ = std::make_unique<RingPort>("t_eni" + std::to_string(seq_));
        pod_ = std::make_unique<RingPort>("t_pod" + std::to_string(seq_++));
        dp::EniSpec e;
        e.name = "eni-a";
        e.existing_port = eni_->port;
        e.mac = ether(kEniMac);
        e.ip = ip_be("10.0.0.10");
        e.gateway_ip = ip_be("10.0.0.1");
        if (gateway_known) e.gateway_mac = ether(kVpcGwMac);
        e.mtu = 0;
        ASSERT_TRUE(dp_->add_eni(e).ok);
        dp::PodSpec p;
        p.key = "default/pod-a";
        p.eni = "eni-a";
        p.ip = ip_be("10.0.0.10");
        p.mac = ether(kPodMac);
        p.kind = dp::PodPort::kExisting;
        p.existing_port = pod_->port;
        auto s = dp_->add_pod(p);
        ASSERT_TRUE(s.ok) << s.message;
        ASSERT_TRUE(dp_->start_workers().ok);
    }
    void TearDown() override {
        dp_.reset();  // closes the ring ports before the rings go
        eni_.reset();
        pod_.reset();
    }
    void inject(RingPort& port, const std::vector<uint8_t>& frame, int count = 1) {
        for (int i = 0; i < count; i++) {
            rte_mbuf* m = to_mbuf(dp_->mempool(), frame);
            ASSERT_NE(m, nullptr);
            ASSERT_EQ(rte_ring_enqueue(port.rx, m), 0);
        }
    }

    static inline int seq_ = 0;
    std::unique_ptr<dp::Dataplane> dp_;
    std::unique_ptr<RingPort> eni_, pod_;
};

TEST_F(DataplaneTest, WorkerForwardsPodTrafficOutTheEni) {
    start(1, true);
    PacketBuilder b;
    b.eth(kPodMac, kGwMac).ipv4(ip("10.0.0.10"), ip("8.8.8.8")).udp(1000, 53).frame_size(60);
    inject(*pod_, b.build(), 1000);
    auto out = eni_->take(1000);
    ASSERT_EQ(out.size(), 1000u);
    PacketBuilder want;
    want.eth(kEniMac, kVpcGwMac).ipv4(ip("10.0.0.10"), ip("8.8.8.8")).udp(1000, 53).frame_size(60);
    EXPECT_EQ(bytes_of(out[0]), want.build());
    free_all(out);
    const auto c = dp_->counters();
    EXPECT_EQ(c.events[static_cast<size_t>(dp::Event::kToEni)], 1000u);
    EXPECT_EQ(c.drops_total(), 0u);
}

TEST_F(DataplaneTest, ResolvesTheVpcGatewayByArp) {
    start(1, false);
    PacketBuilder b;
    b.eth(kPodMac, kGwMac).ipv4(ip("10.0.0.10"), ip("8.8.8.8")).udp(1000, 53);
    inject(*pod_, b.build());
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(dp_->counters().drops[static_cast<size_t>(dp::Drop::kGatewayUnresolved)], 1u);

    dp_->tick();  // asks for the gateway
    auto req = eni_->take(1);
    ASSERT_EQ(req.size(), 1u);
    PacketBuilder want_req;
    want_req.eth(kEniMac, synth::kBroadcastMac).arp_request(kEniMac, ip("10.0.0.10"), ip("10.0.0.1")).frame_size(60);
    auto got = bytes_of(req[0]);
    got.resize(42);  // the request's padding is not part of the comparison
    auto want = want_req.build();
    want.resize(42);
    EXPECT_EQ(got, want);
    free_all(req);

    PacketBuilder reply;
    reply.eth(kVpcGwMac, kEniMac).arp_reply(kVpcGwMac, ip("10.0.0.1"), kEniMac, ip("10.0.0.10"));
    inject(*eni_, reply.build());
    for (int i = 0; i < 200 && !dp_->counters().enis[0].gateway_known; i++) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(dp_->counters().enis[0].gateway_known);

    inject(*pod_, b.build());
    auto out = eni_->take(1);
    ASSERT_EQ(out.size(), 1u);
    free_all(out);
}

TEST_F(DataplaneTest, EniTrafficReachesThePod) {
    start(1, true);
    PacketBuilder b;
    b.eth(kVpcGwMac, kEniMac).ipv4(ip("172.16.0.9"), ip("10.0.0.10")).tcp(443, 5555, synth::kTcpAck);
    inject(*eni_, b.build(), 64);
    auto out = pod_->take(64);
    ASSERT_EQ(out.size(), 64u);
    PacketBuilder want;
    want.eth(kGwMac, kPodMac).ipv4(ip("172.16.0.9"), ip("10.0.0.10")).tcp(443, 5555, synth::kTcpAck);
    EXPECT_EQ(bytes_of(out[63]), want.build());
    free_all(out);
}

TEST_F(DataplaneTest, TwoWorkersHandOffToTheSingleQueuePodPort) {
    // Worker 0 owns the ENI, worker 1 the pod port (pods are assigned round-robin after
    // ENIs), so ENI → pod traffic crosses the handoff ring.
    start(2, true);
    const auto snap = dp_->snapshot();
    ASSERT_NE(snap->tx[pod_->port][0].handoff == nullptr, snap->tx[pod_->port][1].handoff == nullptr);
    PacketBuilder b;
    b.eth(kVpcGwMac, kEniMac).ipv4(ip("172.16.0.9"), ip("10.0.0.10")).udp(1, 2);
    inject(*eni_, b.build(), 500);
    auto out = pod_->take(500, 5000ms);
    EXPECT_EQ(out.size(), 500u);
    free_all(out);
    EXPECT_EQ(dp_->counters().drops_total(), 0u);
}

TEST_F(DataplaneTest, HotPlugMemifAndVhostPortsLeaveNothingBehind) {
    start(1, true);
    // Settle, then take the baseline of mbufs held by queues (ring ports hold none).
    std::this_thread::sleep_for(20ms);
    const uint32_t baseline = dp_->counters().mempool_in_use;
    const uint16_t ports_before = rte_eth_dev_count_avail();
    // The ENI is taken by pod-a; free it so new pods may use it.
    ASSERT_TRUE(dp_->remove_pod("default/pod-a").ok);
    const std::string dir = "/tmp/enidp-component-" + std::to_string(getpid());
    for (int round = 0; round < 3; round++) {
        for (auto kind : {dp::PodPort::kMemif, dp::PodPort::kVhostUser}) {
            dp::PodSpec p;
            p.key = "default/hot";
            p.eni = "eni-a";
            p.ip = ip_be("10.0.0.10");
            p.mac = ether(kPodMac);
            p.kind = kind;
            p.socket = dir + "/hot.sock";
            p.vhost_client = false;  // server: the dataplane creates the socket
            auto s = dp_->add_pod(p);
            ASSERT_TRUE(s.ok) << s.message;
            struct stat stbuf;
            EXPECT_EQ(stat(p.socket.c_str(), &stbuf), 0) << "socket not created";
            EXPECT_EQ(rte_eth_dev_count_avail(), ports_before);  // -pod-a +hot
            ASSERT_TRUE(dp_->remove_pod("default/hot").ok);
            EXPECT_NE(stat(p.socket.c_str(), &stbuf), 0) << "socket left behind";
            EXPECT_EQ(rte_eth_dev_count_avail(), ports_before - 1);
        }
    }
    EXPECT_EQ(dp_->counters().mempool_in_use, baseline);
    EXPECT_TRUE(dp_->pod_keys().empty());
    rmdir(dir.c_str());
}

TEST_F(DataplaneTest, BadPodRequestsAreRejectedAndChangeNothing) {
    start(1, true);
    const auto gen = dp_->counters().generation;
    dp::PodSpec p;
    p.key = "default/other";
    p.eni = "eni-a";  // owned by pod-a
    p.kind = dp::PodPort::kMemif;
    p.socket = "/tmp/enidp-unused.sock";
    auto s = dp_->add_pod(p);
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.message.find("owned by default/pod-a"), std::string::npos) << s.message;
    p.eni = "eni-missing";
    s = dp_->add_pod(p);
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.message.find("no ENI named eni-missing"), std::string::npos) << s.message;
    EXPECT_FALSE(dp_->remove_pod("default/nope").ok);
    EXPECT_EQ(dp_->counters().generation, gen);
}

}  // namespace
}  // namespace enidp::test

// Services through the real pipeline: Service/EndpointSlice objects are built into a
// ServiceTable by lb/builder, published in a Snapshot next to a real conntrack (rte_hash +
// RCU), and packet fixtures from the shared PacketBuilder go through dp::process_burst.
// Each test checks where packets leave, their translated tuples and that every checksum
// the translation touched is still valid.
#include "tests/component/stage_fixture.hpp"

#include "lb/fastpath/trace.hpp"

namespace enidp::test {
namespace {

constexpr uint8_t kSyn = synth::kTcpSyn, kAck = synth::kTcpAck, kFin = synth::kTcpFin, kRst = synth::kTcpRst;

TEST_F(LbStageTest, ClusterIpToRemoteBackendIsDnatedOutTheEniAndTheReplyReversed) {
    apply({service("web", kVip, 80)}, {slice("web", "web-1", {endpoint(kRemote, "node-b")})});
    Out o = send(kPod0Port, tcp_from_pod0(kVip, 40000, 80, kSyn));
    ASSERT_FALSE(o.dropped) << dp::drop_name(o.why);
    EXPECT_EQ(o.port, kEni0Port);
    EXPECT_EQ(o.src(), kPod0);
    EXPECT_EQ(o.sport(), 40000);
    EXPECT_EQ(o.dst(), kRemote);
    EXPECT_EQ(o.dport(), 8080);
    EXPECT_EQ(ct_->size(), 1u);

    Out r = send(kEni0Port, tcp_from_eni(kEni0Mac, kRemote, kPod0, 8080, 40000, kSyn | kAck));
    ASSERT_FALSE(r.dropped) << dp::drop_name(r.why);
    EXPECT_EQ(r.port, kPod0Port);
    EXPECT_EQ(r.src(), kVip);
    EXPECT_EQ(r.sport(), 80);
    EXPECT_EQ(r.dst(), kPod0);
    EXPECT_EQ(r.dport(), 40000);
}

TEST_F(LbStageTest, ClusterIpToLocalBackendTakesTheShortcutBothWays) {
    apply({service("web", kVip, 80)}, {slice("web", "web-1", {endpoint(kPod1, "node-a")})});
    Out o = send(kPod0Port, tcp_from_pod0(kVip, 40001, 80, kSyn));
    ASSERT_FALSE(o.dropped);
    EXPECT_EQ(o.port, kPod1Port);
    EXPECT_EQ(o.dst(), kPod1);
    EXPECT_EQ(o.dport(), 8080);
    Out r = send(kPod1Port, tcp_from_pod1(kPod0, 8080, 40001, kSyn | kAck));
    ASSERT_FALSE(r.dropped);
    EXPECT_EQ(r.port, kPod0Port);
    EXPECT_EQ(r.src(), kVip);
    EXPECT_EQ(r.sport(), 80);
}

TEST_F(LbStageTest, HairpinIsSourceNatedToTheFrontend) {
    apply({service("self", kVip, 80)}, {slice("self", "s-1", {endpoint(kPod0, "node-a")})});
    Out o = send(kPod0Port, tcp_from_pod0(kVip, 40002, 80, kSyn));
    ASSERT_FALSE(o.dropped);
    EXPECT_EQ(o.port, kPod0Port);
    EXPECT_EQ(o.src(), kVip);  // not itself
    EXPECT_EQ(o.dst(), kPod0);
    EXPECT_EQ(o.dport(), 8080);
    // The pod answers the frontend address; the reply is turned back into VIP:80 → pod:40002.
    PacketBuilder b;
    b.eth(kPod0Mac, kGwMac).ipv4(kPod0, kVip).tcp(8080, o.sport(), kSyn | kAck).payload(4);
    Out r = send(kPod0Port, b.build());
    ASSERT_FALSE(r.dropped) << dp::drop_name(r.why);
    EXPECT_EQ(r.port, kPod0Port);
    EXPECT_EQ(r.src(), kVip);
    EXPECT_EQ(r.sport(), 80);
    EXPECT_EQ(r.dst(), kPod0);
    EXPECT_EQ(r.dport(), 40002);
}

TEST_F(LbStageTest, NoEndpointsRejectsTcpWithRstAndUdpWithPortUnreachable) {
    apply({service("empty", kVip, 80), service("dns", ip("10.96.0.53"), 53, lb::Protocol::kUdp)}, {});
    Out rst = send(kPod0Port, tcp_from_pod0(kVip, 40003, 80, kSyn));
    ASSERT_FALSE(rst.dropped);
    EXPECT_EQ(rst.port, kPod0Port);
    EXPECT_EQ(rst.src(), kVip);
    EXPECT_EQ(rst.sport(), 80);
    EXPECT_EQ(rst.dst(), kPod0);
    EXPECT_EQ(rst.dport(), 40003);
    const uint8_t flags = rst.frame[rst.p.l4_off + 13];
    EXPECT_EQ(flags, 0x14);  // RST|ACK, acknowledging the SYN
    EXPECT_EQ(rte_be_to_cpu_32(load32(&rst.frame[rst.p.l4_off + 8])), 1000u + 1 + 10);

    Out unreach = send(kPod0Port, udp_from_pod0(ip("10.96.0.53"), 5353, 53));
    ASSERT_FALSE(unreach.dropped);
    EXPECT_EQ(unreach.port, kPod0Port);
    EXPECT_EQ(unreach.p.proto, dp::kProtoIcmp);
    EXPECT_EQ(unreach.src(), ip("10.96.0.53"));
    EXPECT_EQ(unreach.frame[unreach.p.l4_off], 3);      // destination unreachable
    EXPECT_EQ(unreach.frame[unreach.p.l4_off + 1], 3);  // port unreachable
    // The quoted header is the original datagram's.
    const uint8_t* quoted = &unreach.frame[unreach.p.l4_off + 8];
    EXPECT_EQ(rte_be_to_cpu_32(load32(quoted + 16)), ip("10.96.0.53"));
    EXPECT_EQ(ct_->size(), 0u);
}

TEST_F(LbStageTest, InternalTrafficPolicyLocalWithoutLocalEndpointDrops) {
    auto s = service("itp", kVip, 80);
    s.internal_policy = lb::TrafficPolicy::kLocal;
    apply({s}, {slice("itp", "itp-1", {endpoint(kRemote, "node-b")})});
    Out o = send(kPod0Port, tcp_from_pod0(kVip, 40004, 80, kSyn));
    EXPECT_TRUE(o.dropped);
    EXPECT_EQ(o.why, dp::Drop::kSvcNoLocalEndpoints);
}

TEST_F(LbStageTest, NamedTargetPortResolvesPerSlice) {
    auto s = service("named", kVip, 80);
    s.ports[0].name = "http";
    s.ports[0].target_port = 0;
    s.ports[0].target_port_name = "web";
    s.algorithm = lb::Algorithm::kRoundRobin;
    apply({s}, {slice("named", "n-1", {endpoint(kRemote, "node-b")}, 8080, lb::Protocol::kTcp, "http"),
                slice("named", "n-2", {endpoint(kRemote2, "node-c")}, 9090, lb::Protocol::kTcp, "http")});
    std::set<std::pair<uint32_t, uint16_t>> seen;
    for (uint16_t i = 0; i < 8; i++) {
        Out o = send(kPod0Port, tcp_from_pod0(kVip, static_cast<uint16_t>(41000 + i), 80, kSyn));
        ASSERT_FALSE(o.dropped);
        seen.emplace(o.dst(), o.dport());
    }
    EXPECT_EQ(seen, (std::set<std::pair<uint32_t, uint16_t>>{{kRemote, 8080}, {kRemote2, 9090}}));
}

TEST_F(LbStageTest, NodePortFromOutsideToRemoteBackendIsSourceNatedAndComesBack) {
    auto s = service("np", kVip, 80);
    s.type = lb::ServiceType::kNodePort;
    s.ports[0].node_port = 30080;
    apply({s}, {slice("np", "np-1", {endpoint(kRemote, "node-b")})});
    Out o = send(kEni0Port, tcp_from_eni(kEni0Mac, kClient, kNodeIp, 50000, 30080, kSyn));
    ASSERT_FALSE(o.dropped) << dp::drop_name(o.why);
    EXPECT_EQ(o.port, kEni0Port);  // back into the VPC toward the backend
    EXPECT_EQ(o.dst(), kRemote);
    EXPECT_EQ(o.dport(), 8080);
    EXPECT_EQ(o.src(), ip("10.0.0.10"));  // the ENI's address
    EXPECT_GE(o.sport(), 61000);
    // The backend answers the ENI address; the client gets NodeIP:30080 back.
    Out r = send(kEni0Port, tcp_from_eni(kEni0Mac, kRemote, ip("10.0.0.10"), 8080, o.sport(), kSyn | kAck));
    ASSERT_FALSE(r.dropped) << dp::drop_name(r.why);
    EXPECT_EQ(r.port, kEni0Port);
    EXPECT_EQ(r.src(), kNodeIp);
    EXPECT_EQ(r.sport(), 30080);
    EXPECT_EQ(r.dst(), kClient);
    EXPECT_EQ(r.dport(), 50000);
}

TEST_F(LbStageTest, LoadBalancerLocalPolicyKeepsTheClientAddressAndRepliesLeaveByTheIngressEni) {
    auto s = service("lb", kVip, 80);
    s.type = lb::ServiceType::kLoadBalancer;
    s.ports[0].node_port = 30081;
    s.lb_ingress_ips = {rte_cpu_to_be_32(kLbIp)};
    s.external_policy = lb::TrafficPolicy::kLocal;
    apply({s}, {slice("lb", "lb-1", {endpoint(kPod1, "node-a"), endpoint(kRemote, "node-b")})});
    Out o = send(kEni0Port, tcp_from_eni(kEni0Mac, kClient, kLbIp, 50001, 80, kSyn));
    ASSERT_FALSE(o.dropped) << dp::drop_name(o.why);
    EXPECT_EQ(o.port, kPod1Port);
    EXPECT_EQ(o.src(), kClient);  // source preserved
    EXPECT_EQ(o.dst(), kPod1);
    // pod1's reply leaves by eni0 (where the client came in), not by pod1's own eni1.
    Out r = send(kPod1Port, tcp_from_pod1(kClient, 8080, 50001, kSyn | kAck));
    ASSERT_FALSE(r.dropped) << dp::drop_name(r.why);
    EXPECT_EQ(r.port, kEni0Port);
    EXPECT_EQ(r.src(), kLbIp);
    EXPECT_EQ(r.sport(), 80);
}

TEST_F(LbStageTest, ExternalLocalPolicyWithoutLocalEndpointDropsButLocalPodsReachClusterEndpoints) {
    auto s = service("lb", kVip, 80);
    s.type = lb::ServiceType::kLoadBalancer;
    s.ports[0].node_port = 30082;
    s.lb_ingress_ips = {rte_cpu_to_be_32(kLbIp)};
    s.external_policy = lb::TrafficPolicy::kLocal;
    apply({s}, {slice("lb", "lb-1", {endpoint(kRemote, "node-b")})});
    Out o = send(kEni0Port, tcp_from_eni(kEni0Mac, kClient, kLbIp, 50002, 80, kSyn));
    EXPECT_TRUE(o.dropped);
    EXPECT_EQ(o.why, dp::Drop::kSvcNoLocalEndpoints);
    // kube-proxy's short-circuit: a pod of this node reaching the LB IP uses the cluster set.
    Out p = send(kPod0Port, tcp_from_pod0(kLbIp, 40005, 80, kSyn));
    ASSERT_FALSE(p.dropped) << dp::drop_name(p.why);
    EXPECT_EQ(p.dst(), kRemote);
}

TEST_F(LbStageTest, ClientIpAffinitySticksUntilTimeout) {
    auto s = service("aff", kVip, 80);
    s.algorithm = lb::Algorithm::kRoundRobin;
    s.affinity_client_ip = true;
    s.affinity_timeout_s = 60;
    apply({s}, {slice("aff", "a-1", {endpoint(kRemote, "node-b"), endpoint(kRemote2, "node-c")})});
    const uint32_t first = send(kPod0Port, tcp_from_pod0(kVip, 42000, 80, kSyn)).dst();
    for (uint16_t i = 1; i < 6; i++) {
        now_ms_ += 30'000;  // each new connection refreshes the entry
        EXPECT_EQ(send(kPod0Port, tcp_from_pod0(kVip, static_cast<uint16_t>(42000 + i), 80, kSyn)).dst(), first);
    }
    now_ms_ += 61'000;  // idle past the timeout: round-robin moves on
    EXPECT_NE(send(kPod0Port, tcp_from_pod0(kVip, 42100, 80, kSyn)).dst(), first);
}

TEST_F(LbStageTest, TcpStatesFollowTheConnectionAndExpire) {
    apply({service("web", kVip, 80)}, {slice("web", "web-1", {endpoint(kRemote, "node-b")})});
    auto state = [&]() {
        lb::CtDir d;
        lb::CtKey k{rte_cpu_to_be_32(kPod0), rte_cpu_to_be_32(kVip), rte_cpu_to_be_16(43000), rte_cpu_to_be_16(80), 6,
                    {0, 0, 0}};
        const lb::Flow* f = ct_->lookup(k, d);
        return f ? static_cast<lb::CtState>(f->state.load()) : lb::CtState::kCount;
    };
    send(kPod0Port, tcp_from_pod0(kVip, 43000, 80, kSyn));
    EXPECT_EQ(state(), lb::CtState::kTcpSynSent);
    send(kEni0Port, tcp_from_eni(kEni0Mac, kRemote, kPod0, 8080, 43000, kSyn | kAck));
    EXPECT_EQ(state(), lb::CtState::kTcpSynRecv);
    send(kPod0Port, tcp_from_pod0(kVip, 43000, 80, kAck));
    EXPECT_EQ(state(), lb::CtState::kTcpEstablished);
    send(kPod0Port, tcp_from_pod0(kVip, 43000, 80, kFin | kAck));
    EXPECT_EQ(state(), lb::CtState::kTcpFinWait);
    send(kEni0Port, tcp_from_eni(kEni0Mac, kRemote, kPod0, 8080, 43000, kFin | kAck));
    EXPECT_EQ(state(), lb::CtState::kTcpTimeWait);
    // TIME_WAIT lasts 120 s: the GC keeps it at 119 s and removes it after.
    ct_->gc_step(now_ms_ + 119'000, lb::GcBudget{}, nullptr);
    EXPECT_EQ(ct_->size(), 1u);
    ct_->gc_step(now_ms_ + 121'000, lb::GcBudget{}, nullptr);
    EXPECT_EQ(ct_->size(), 0u);
    EXPECT_EQ(ct_->counters().expired, 1u);

    send(kPod0Port, tcp_from_pod0(kVip, 43001, 80, kSyn));
    send(kPod0Port, tcp_from_pod0(kVip, 43001, 80, kRst));
    lb::CtDir d;
    lb::CtKey k{rte_cpu_to_be_32(kPod0), rte_cpu_to_be_32(kVip), rte_cpu_to_be_16(43001), rte_cpu_to_be_16(80), 6,
                {0, 0, 0}};
    ASSERT_NE(ct_->lookup(k, d), nullptr);
    EXPECT_EQ(static_cast<lb::CtState>(ct_->lookup(k, d)->state.load()), lb::CtState::kTcpClose);
}

TEST_F(LbStageTest, UdpFlowIsTrackedAndRepliedTimeoutApplies) {
    apply({service("dns", kVip, 53, lb::Protocol::kUdp)},
          {slice("dns", "d-1", {endpoint(kRemote, "node-b")}, 5353, lb::Protocol::kUdp)});
    Out o = send(kPod0Port, udp_from_pod0(kVip, 33333, 53));
    ASSERT_FALSE(o.dropped);
    EXPECT_EQ(o.dst(), kRemote);
    EXPECT_EQ(o.dport(), 5353);
    // Unreplied: 30 s.
    ct_->gc_step(now_ms_ + 31'000, lb::GcBudget{}, nullptr);
    EXPECT_EQ(ct_->size(), 0u);
    o = send(kPod0Port, udp_from_pod0(kVip, 33333, 53));
    PacketBuilder b;
    b.eth(kVpcGwMac, kEni0Mac).ipv4(kRemote, kPod0).udp(5353, 33333).payload(30);
    Out r = send(kEni0Port, b.build());
    EXPECT_EQ(r.src(), kVip);
    EXPECT_EQ(r.sport(), 53);
    // Replied: 120 s.
    ct_->gc_step(now_ms_ + 31'000, lb::GcBudget{}, nullptr);
    EXPECT_EQ(ct_->size(), 1u);
    ct_->gc_step(now_ms_ + 121'000, lb::GcBudget{}, nullptr);
    EXPECT_EQ(ct_->size(), 0u);
}

TEST_F(LbStageTest, SctpIsTranslatedWithItsCrc32c) {
    apply({service("sig", kVip, 3868, lb::Protocol::kSctp)},
          {slice("sig", "s-1", {endpoint(kRemote, "node-b")}, 3869, lb::Protocol::kSctp)});
    PacketBuilder b;
    b.eth(kPod0Mac, kGwMac).ipv4(kPod0, kVip).sctp(2000, 3868).payload(24);
    Out o = send(kPod0Port, b.build());  // send() verifies the CRC32c
    ASSERT_FALSE(o.dropped);
    EXPECT_EQ(o.dst(), kRemote);
    EXPECT_EQ(o.dport(), 3869);
}

TEST_F(LbStageTest, IcmpErrorAboutATranslatedFlowIsReverseTranslated) {
    apply({service("web", kVip, 80)}, {slice("web", "web-1", {endpoint(kRemote, "node-b")})});
    Out o = send(kPod0Port, tcp_from_pod0(kVip, 44000, 80, kSyn));
    ASSERT_FALSE(o.dropped);
    // A router on the way says "fragmentation needed", quoting the translated packet.
    std::vector<uint8_t> quote(o.frame.begin() + o.p.l3_off, o.frame.begin() + o.p.l3_off + 28);
    std::vector<uint8_t> icmp = {3, 4, 0, 0, 0, 0, 0x05, 0xdc};
    icmp.insert(icmp.end(), quote.begin(), quote.end());
    const uint16_t ck = synth::internet_checksum(icmp);  // host order, stored big-endian
    icmp[2] = static_cast<uint8_t>(ck >> 8);
    icmp[3] = static_cast<uint8_t>(ck);
    PacketBuilder b;
    b.eth(kVpcGwMac, kEni0Mac).ipv4(ip("10.0.0.1"), kPod0).ip_proto(1).payload(icmp);
    Out e = send(kEni0Port, b.build());
    ASSERT_FALSE(e.dropped) << dp::drop_name(e.why);
    EXPECT_EQ(e.port, kPod0Port);
    EXPECT_EQ(e.src(), ip("10.0.0.1"));
    EXPECT_EQ(e.dst(), kPod0);
    // The quoted packet is what the pod sent: pod:44000 → VIP:80, with a valid header checksum.
    const uint8_t* q = &e.frame[e.p.l4_off + 8];
    EXPECT_EQ(rte_be_to_cpu_32(load32(q + 12)), kPod0);
    EXPECT_EQ(rte_be_to_cpu_32(load32(q + 16)), kVip);
    EXPECT_EQ(rte_be_to_cpu_16(load16(q + 20)), 44000);
    EXPECT_EQ(rte_be_to_cpu_16(load16(q + 22)), 80);
    EXPECT_EQ(synth::internet_checksum(std::span<const uint8_t>(q, 20)), 0);
}

// Kubernetes issue 81775: a rolling update replaces backend A by B while a client keeps
// reusing one source port. No packet of a new connection may reach A once it is
// terminating or deleted; established connections to a terminating A keep working.
TEST_F(LbStageTest, RollingUpdateWithClientPortReuseNeverSendsANewConnectionToTheOldBackend) {
    const uint16_t sport = 45000;
    apply({service("web", kVip, 80)}, {slice("web", "web-1", {endpoint(kRemote, "node-b")})});
    Out o = send(kPod0Port, tcp_from_pod0(kVip, sport, 80, kSyn));
    ASSERT_EQ(o.dst(), kRemote);
    send(kEni0Port, tcp_from_eni(kEni0Mac, kRemote, kPod0, 8080, sport, kSyn | kAck));
    send(kPod0Port, tcp_from_pod0(kVip, sport, 80, kAck));

    // Step 1: B comes up, A turns terminating (still serving).
    apply({service("web", kVip, 80)},
          {slice("web", "web-1", {endpoint(kRemote, "node-b", false, true, true), endpoint(kRemote2, "node-c")})});
    EXPECT_EQ(send(kPod0Port, tcp_from_pod0(kVip, sport, 80, kAck)).dst(), kRemote) << "established flow keeps A";
    // The client closes and reconnects from the same port: the SYN must go to B.
    EXPECT_EQ(send(kPod0Port, tcp_from_pod0(kVip, sport, 80, kSyn)).dst(), kRemote2);

    // Step 2: A is deleted. Its flows are purged everywhere; any packet on an old tuple
    // starts a new flow to B.
    send(kPod0Port, tcp_from_pod0(kVip, sport + 1, 80, kSyn));  // another flow, to whichever
    apply({service("web", kVip, 80)}, {slice("web", "web-1", {endpoint(kRemote2, "node-c")})});
    size_t to_a = 0;
    for (uint16_t i = 0; i < 50; i++) {
        const uint16_t sp = static_cast<uint16_t>(sport + (i % 5));
        Out x = send(kPod0Port, tcp_from_pod0(kVip, sp, 80, i % 2 ? kAck : kSyn));
        ASSERT_FALSE(x.dropped);
        if (x.dst() == kRemote) to_a++;
    }
    EXPECT_EQ(to_a, 0u);
    uint32_t flows_to_a = 0;
    ct_->for_each([&](const lb::Flow& f) {
        if (f.reply.src == rte_cpu_to_be_32(kRemote)) flows_to_a++;
    });
    EXPECT_EQ(flows_to_a, 0u);
}

TEST_F(LbStageTest, DeletedEndpointsFlowsArePurgedAndCounted) {
    apply({service("web", kVip, 80)}, {slice("web", "web-1", {endpoint(kRemote, "node-b")})});
    for (uint16_t i = 0; i < 20; i++) send(kPod0Port, tcp_from_pod0(kVip, static_cast<uint16_t>(46000 + i), 80, kSyn));
    EXPECT_EQ(ct_->size(), 20u);
    apply({service("web", kVip, 80)}, {slice("web", "web-1", {endpoint(kRemote2, "node-c")})});
    EXPECT_EQ(ct_->size(), 0u);
    EXPECT_EQ(ct_->counters().purged, 20u);
}

TEST_F(LbStageTest, TraceReportsWhatTheFastPathDoesWithoutSideEffects) {
    auto web = service("web", kVip, 80);
    web.type = lb::ServiceType::kNodePort;
    web.ports[0].node_port = 30090;
    apply({web, service("empty", ip("10.96.0.99"), 80)},
          {slice("web", "web-1", {endpoint(kRemote, "node-b"), endpoint(kRemote2, "node-c")})});
    lb::TraceInput in;
    in.src = rte_cpu_to_be_32(kPod0);
    in.dst = rte_cpu_to_be_32(kVip);
    in.sport = rte_cpu_to_be_16(49000);
    in.dport = rte_cpu_to_be_16(80);
    in.now_ms = now_ms_;
    lb::TraceResult t = lb::trace(snap_.lb, in);
    EXPECT_EQ(t.verdict, lb::TraceVerdict::kNewFlow);
    EXPECT_EQ(t.service, "default/web:80/TCP");
    EXPECT_EQ(t.frontend_kind, "cluster_ip");
    EXPECT_EQ(t.backends_in_set, 2u);
    EXPECT_EQ(ct_->size(), 0u) << "trace inserts nothing";
    // Maglev is deterministic: the real packet goes where trace said.
    Out o = send(kPod0Port, tcp_from_pod0(kVip, 49000, 80, kSyn));
    EXPECT_EQ(o.dst(), rte_be_to_cpu_32(t.out_dst));
    EXPECT_EQ(o.dport(), rte_be_to_cpu_16(t.out_dport));
    const uint64_t last_seen_before = [&] {
        lb::CtDir d;
        lb::CtKey k{in.src, in.dst, in.sport, in.dport, 6, {0, 0, 0}};
        return ct_->lookup(k, d)->last_seen_ms.load();
    }();
    in.now_ms = now_ms_ + 5000;
    t = lb::trace(snap_.lb, in);
    EXPECT_EQ(t.verdict, lb::TraceVerdict::kFlow);
    EXPECT_EQ(t.flow_state, "tcp_syn_sent");
    EXPECT_EQ(t.flow_direction, "original");
    EXPECT_EQ(t.out_dst, o.p.dst_ip);
    lb::CtDir d;
    lb::CtKey k{in.src, in.dst, in.sport, in.dport, 6, {0, 0, 0}};
    EXPECT_EQ(ct_->lookup(k, d)->last_seen_ms.load(), last_seen_before) << "trace refreshes nothing";

    in.dst = rte_cpu_to_be_32(ip("10.96.0.99"));
    EXPECT_EQ(lb::trace(snap_.lb, in).verdict, lb::TraceVerdict::kReject);
    in.dst = rte_cpu_to_be_32(ip("10.96.0.98"));
    EXPECT_EQ(lb::trace(snap_.lb, in).verdict, lb::TraceVerdict::kNotService);
    // NodePort from outside to a remote backend: SNAT to the ENI address.
    in.from_eni = true;
    in.src = rte_cpu_to_be_32(kClient);
    in.dst = rte_cpu_to_be_32(kNodeIp);
    in.dport = rte_cpu_to_be_16(30090);
    in.snat_ip = ip_be("10.0.0.10");
    t = lb::trace(snap_.lb, in);
    EXPECT_EQ(t.verdict, lb::TraceVerdict::kNewFlow);
    EXPECT_EQ(t.frontend_kind, "node_port");
    EXPECT_EQ(t.backend_set, "external");
    EXPECT_TRUE(t.snat);
    EXPECT_EQ(t.out_src, ip_be("10.0.0.10"));
    EXPECT_EQ(ct_->size(), 1u);
}

// The worker's flow cache (lb/fastpath/flow_cache.hpp) answers established flows, and a
// flow whose backend is deleted is never used again through it: the purge marks it dead and
// the next packet creates a flow to the remaining backend (and refills the entry).
TEST_F(LbStageTest, FlowCacheServesEstablishedFlowsButNeverAPurgedOne) {
    apply({service("dns", kVip, 53, lb::Protocol::kUdp)},
          {slice("dns", "dns-1", {endpoint(kRemote, "node-b")}, 5353, lb::Protocol::kUdp)});
    for (int pass = 0; pass < 3; pass++)
        for (uint16_t i = 0; i < 10; i++) {
            Out o = send(kPod0Port, udp_from_pod0(kVip, static_cast<uint16_t>(50000 + i), 53));
            ASSERT_FALSE(o.dropped) << dp::drop_name(o.why);
            EXPECT_EQ(o.dst(), kRemote);
        }
    EXPECT_EQ(ct_->size(), 10u);
    EXPECT_GE(lbw_.flow_cache.hits(), 20u) << "passes 2 and 3 come from the cache";

    apply({service("dns", kVip, 53, lb::Protocol::kUdp)},
          {slice("dns", "dns-1", {endpoint(kRemote2, "node-c")}, 5353, lb::Protocol::kUdp)});
    EXPECT_EQ(ct_->size(), 0u);
    const uint64_t misses = lbw_.flow_cache.misses();
    for (int pass = 0; pass < 2; pass++)
        for (uint16_t i = 0; i < 10; i++) {
            Out o = send(kPod0Port, udp_from_pod0(kVip, static_cast<uint16_t>(50000 + i), 53));
            ASSERT_FALSE(o.dropped) << dp::drop_name(o.why);
            EXPECT_EQ(o.dst(), kRemote2) << "pass " << pass << " flow " << i;
            EXPECT_EQ(o.dport(), 5353);
        }
    EXPECT_EQ(ct_->size(), 10u);
    EXPECT_EQ(lbw_.flow_cache.misses(), misses + 10) << "each purged entry misses once, then is refilled";
}

// The cache keeps Flow pointers across quiescent reports, so it sees flows erased, freed by
// RCU and their objects reused for other flows (or the same key again). It must answer
// exactly what the table answers.
TEST_F(LbStageTest, FlowCacheNeverReturnsAnErasedFreedOrReusedFlow) {
    lb::FlowCache cache;
    constexpr uint32_t kN = 48;
    auto orig = [](uint32_t i) {
        return lb::CtKey{ip_be("10.0.0.10"), ip_be("10.96.0.10"), rte_cpu_to_be_16(static_cast<uint16_t>(1000 + i)),
                         rte_cpu_to_be_16(80), dp::kProtoUdp, {0, 0, 0}};
    };
    auto reply = [](uint32_t i) {
        return lb::CtKey{ip_be("10.1.0.5"), ip_be("10.0.0.10"), rte_cpu_to_be_16(8080),
                         rte_cpu_to_be_16(static_cast<uint16_t>(1000 + i)), dp::kProtoUdp, {0, 0, 0}};
    };
    auto insert = [&](uint32_t i) {
        lb::Flow* f = nullptr;
        EXPECT_EQ(ct_->insert(orig(i), reply(i), 0, 0, 0, lb::kNoPort, static_cast<uint8_t>(lb::CtState::kUnreplied),
                              now_ms_, &f),
                  lb::InsertStatus::kInserted);
        return f;
    };
    // Looks keys up through the cache and checks each answer against the table's own.
    auto check = [&](const std::vector<lb::CtKey>& keys) {
        std::vector<lb::Flow*> got(keys.size());
        std::vector<lb::CtDir> dirs(keys.size());
        hash_sig_t sigs[64];
        cache.lookup(*ct_, keys.data(), static_cast<uint32_t>(keys.size()), sigs, got.data(), dirs.data());
        for (size_t i = 0; i < keys.size(); i++) {
            EXPECT_EQ(sigs[i], rte_hash_crc(&keys[i], sizeof(lb::CtKey), 0)) << "the table's hash";
            lb::CtDir d;
            lb::Flow* want = ct_->lookup(keys[i], d);
            EXPECT_EQ(got[i], want) << "key " << i;
            if (want != nullptr && got[i] == want) {
                EXPECT_EQ(dirs[i], d) << "key " << i;
            }
        }
        return got;
    };
    std::vector<lb::CtKey> first, first_replies, second;
    for (uint32_t i = 0; i < kN; i++) {
        first.push_back(orig(i));
        first_replies.push_back(reply(i));
        second.push_back(orig(500 + i));
    }
    std::set<lb::Flow*> old;
    for (uint32_t i = 0; i < kN; i++) old.insert(insert(i));
    check(first);  // misses: filled from the table
    check(first_replies);
    const uint64_t hits = cache.hits();
    check(first);
    check(first_replies);
    EXPECT_EQ(cache.hits(), hits + 2 * kN) << "both directions now come from the cache";

    // Erased: their keys leave the table; the cache still points at the (dead) objects.
    for (lb::Flow* f : old) ASSERT_TRUE(ct_->erase(f));
    for (lb::Flow* f : check(first)) EXPECT_EQ(f, nullptr);
    // Refill the cache with the dead objects' entries the hard way: remember them again.
    for (uint32_t i = 0; i < kN; i++) {
        lb::CtDir d;
        EXPECT_EQ(ct_->lookup(first[i], d), nullptr);
    }
    size_t i = 0;
    for (lb::Flow* f : old) cache.remember(lb::Conntrack::sig(first[i++]), f, lb::CtDir::kOrig);
    for (lb::Flow* f : check(first)) EXPECT_EQ(f, nullptr) << "a dead object is never a hit";

    // No reader is online: the erased objects are back in the pool and the next inserts reuse
    // them for other keys. Stale entries for the old keys must not match them.
    i = 0;
    for (lb::Flow* f : old) cache.remember(lb::Conntrack::sig(first[i++]), f, lb::CtDir::kOrig);
    size_t reused = 0;
    for (uint32_t k = 0; k < kN; k++) reused += old.count(insert(500 + k));
    EXPECT_GT(reused, 0u) << "the test needs objects reused";
    for (lb::Flow* f : check(first)) EXPECT_EQ(f, nullptr) << "a reused object is not the old key's flow";
    for (lb::Flow* f : check(second)) EXPECT_NE(f, nullptr);

    // The old keys again: each finds its own new flow, wherever it lives.
    for (uint32_t k = 0; k < kN; k++) insert(k);
    for (lb::Flow* f : check(first)) EXPECT_NE(f, nullptr);
    check(first_replies);
    check(second);

    // Another conntrack (a new table can reuse the old one's memory): the cache starts over.
    const uint64_t misses = cache.misses();
    snap_.lb = {};
    ct_.reset();
    lb::CtConfig cc;
    cc.name = "lbt_other";
    cc.max_flows = 4096;
    cc.qsbr = qsbr_;
    cc.control_rcu_id = 1;
    std::string err;
    ct_ = lb::Conntrack::create(cc, err);
    ASSERT_NE(ct_, nullptr) << err;
    for (lb::Flow* f : check(first)) EXPECT_EQ(f, nullptr);
    EXPECT_EQ(cache.misses(), misses + kN);
}

class SmallConntrackTest : public LbStageTest {
protected:
    SmallConntrackTest() { max_flows_ = 64; }
};

TEST_F(SmallConntrackTest, FullTableDropsNewFlowsAndCountsThem) {
    apply({service("web", kVip, 80)}, {slice("web", "web-1", {endpoint(kRemote, "node-b")})});
    for (uint16_t i = 0; i < 64; i++)
        ASSERT_FALSE(send(kPod0Port, tcp_from_pod0(kVip, static_cast<uint16_t>(47000 + i), 80, kSyn)).dropped);
    Out o = send(kPod0Port, tcp_from_pod0(kVip, 48000, 80, kSyn));
    EXPECT_TRUE(o.dropped);
    EXPECT_EQ(o.why, dp::Drop::kCtFull);
    EXPECT_EQ(ct_->counters().insert_failed, 1u);
    // Established flows still pass.
    EXPECT_FALSE(send(kPod0Port, tcp_from_pod0(kVip, 47000, 80, kAck)).dropped);
}

}  // namespace
}  // namespace enidp::test

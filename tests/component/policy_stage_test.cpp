// NetworkPolicy and PayloadPolicy through the real pipeline: Kubernetes-shaped policies are
// compiled by acl::compile, built into rte_acl contexts and a Hyperscan database by
// acl::SnapshotBuilder, published in the Snapshot next to the Service tables and a real
// conntrack, and packet fixtures go through dp::process_burst. Covers isolation in each
// direction, stateful replies, policies seeing Service backends (post-DNAT), a policy change
// on live flows, closed pods whose policy is not published yet, payload rules on UDP and
// TCP, counters and the verdict log.
#include "tests/component/stage_fixture.hpp"

#include "acl/compiler/compiler.hpp"
#include "acl/compiler/snapshot_builder.hpp"

namespace enidp::test {
namespace {

constexpr uint8_t kSyn = synth::kTcpSyn, kAck = synth::kTcpAck;

acl::LabelSelector labels(std::map<std::string, std::string> m) {
    acl::LabelSelector s;
    s.match_labels = std::move(m);
    return s;
}

acl::Peer pod_peer(std::map<std::string, std::string> m) {
    acl::Peer p;
    p.pod_selector = labels(std::move(m));
    return p;
}

acl::Peer cidr_peer(uint32_t host_ip, uint8_t len) {
    acl::Peer p;
    p.ip_block = acl::IpBlock{rte_cpu_to_be_32(host_ip), len, {}};
    return p;
}

acl::PolicyPort tcp_port(uint16_t port) {
    acl::PolicyPort pp;
    pp.protocol = acl::Protocol::kTcp;
    pp.port = port;
    return pp;
}

acl::NetworkPolicy policy(const std::string& name, std::map<std::string, std::string> target, bool ingress,
                          std::vector<acl::Rule> rules) {
    acl::NetworkPolicy p;
    p.ns = "default";
    p.name = name;
    p.pod_selector = labels(std::move(target));
    (ingress ? p.ingress : p.egress) = std::move(rules);
    p.policy_types_given = true;
    (ingress ? p.type_ingress : p.type_egress) = true;
    return p;
}
acl::NetworkPolicy ingress_policy(const std::string& name, std::map<std::string, std::string> target,
                                  std::vector<acl::Rule> rules) {
    return policy(name, std::move(target), true, std::move(rules));
}
acl::NetworkPolicy egress_policy(const std::string& name, std::map<std::string, std::string> target,
                                 std::vector<acl::Rule> rules) {
    return policy(name, std::move(target), false, std::move(rules));
}

// A PayloadPolicy denying `patterns` on traffic to the app=server pod's `proto`/`port`.
acl::PayloadPolicy deny_payload_to_server(const std::string& name, acl::Protocol proto, uint16_t port,
                                          std::vector<std::string> patterns) {
    acl::PayloadPolicy pp;
    pp.ns = "default";
    pp.name = name;
    pp.pod_selector = labels({{"app", "server"}});
    pp.direction = acl::PayloadPolicy::Direction::kIngress;
    acl::PolicyPort pport;
    pport.protocol = proto;
    pport.port = port;
    pp.ports = {pport};
    pp.patterns = std::move(patterns);
    pp.action = acl::PayloadPolicy::Action::kDeny;
    return pp;
}

class PolicyStageTest : public LbStageTest {
protected:
    void SetUp() override {
        LbStageTest::SetUp();
        snap_.pods[0].policy_id = 0;
        snap_.pods[1].policy_id = 1;
        snap_.lb = lb::LbTables{nullptr, ct_.get(), aff_.get(), &state_};
    }
    void TearDown() override {
        snap_.policy = {};
        pub_.reset();
        LbStageTest::TearDown();
    }

    // Compiles and publishes (as Dataplane::set_policy does, on the test's snapshot).
    void policies(std::vector<acl::NetworkPolicy> pols, std::vector<acl::PayloadPolicy> payload = {}) {
        acl::ClusterState st;
        st.namespaces = {acl::Namespace{"default", {{"kubernetes.io/metadata.name", "default"}}}};
        acl::Pod p0;
        p0.ns = "default";
        p0.name = "pod0";
        p0.labels = {{"app", "client"}};
        p0.ips = {rte_cpu_to_be_32(kPod0)};
        acl::Pod p1 = p0;
        p1.name = "pod1";
        p1.labels = {{"app", "server"}};
        p1.ips = {rte_cpu_to_be_32(kPod1)};
        acl::Pod r;  // a remote pod (another node)
        r.ns = "default";
        r.name = "remote";
        r.labels = {{"app", "db"}};
        r.ips = {rte_cpu_to_be_32(kRemote)};
        st.pods = {p0, p1, r};
        st.policies = std::move(pols);
        st.payload_policies = std::move(payload);
        acl::CompileResult c = acl::compile(st, {{"default", "pod0", 0}, {"default", "pod1", 1}});
        ASSERT_TRUE(c.ok) << c.error;
        acl::BuildResult b = acl::SnapshotBuilder::build(c.policy, ++policy_gen_, {0, 1});
        ASSERT_NE(b.snapshot, nullptr) << b.error;
        auto pub = std::make_shared<dp::PolicyPublication>();
        pub->snapshot = std::shared_ptr<const acl::PolicySnapshot>(std::move(b.snapshot));
        pub->counters.resize(1);
        pub->counters[0].allocate(static_cast<uint32_t>(pub->snapshot->policy_names().size()), 8, 8);
        snap_.policy = dp::PolicyTables{pub->snapshot.get(), dp::PolicyTables::stamp(policy_gen_), pub->counters.data()};
        pub_ = std::move(pub);
    }

    uint64_t event(dp::Event e) const { return events_[static_cast<size_t>(e)]; }
    Out send_counted(uint16_t port, const std::vector<uint8_t>& frame) {
        // send() makes a fresh sink per packet; keep a running count of policy events.
        CaptureSink sink;
        sink.pw = &pw_;
        sink.lbw.now_ms = now_ms_;
        rte_mbuf* m = to_mbuf(pool_, frame);
        dp::process_burst(snap_, port, &m, 1, sink);
        for (size_t i = 0; i < dp::kEventCount; i++) events_[i] += sink.st.events[i].get();
        Out o;
        if (!sink.drops.empty()) {
            o.dropped = true;
            o.why = sink.drops[0];
        } else if (!sink.out.empty()) {
            o.port = sink.out[0].first;
            o.frame = bytes_of(sink.out[0].second);
            dp::parse_packet(o.frame.data(), static_cast<uint32_t>(o.frame.size()), o.p);
        }
        return o;
    }

    static std::vector<uint8_t> tcp_remote_to_pod0(uint32_t src, uint16_t sport, uint16_t dport, uint8_t flags) {
        return tcp_from_eni(kEni0Mac, src, kPod0, sport, dport, flags);
    }
    static std::vector<uint8_t> udp_payload(synth::MacAddr smac, synth::MacAddr dmac, uint32_t src, uint32_t dst,
                                            uint16_t sport, uint16_t dport, const std::string& text) {
        PacketBuilder b;
        std::vector<uint8_t> bytes(text.begin(), text.end());
        b.eth(smac, dmac).ipv4(src, dst).udp(sport, dport).payload(std::span<const uint8_t>(bytes));
        return b.build();
    }

    std::shared_ptr<dp::PolicyPublication> pub_;
    uint64_t policy_gen_ = 0;
    uint64_t events_[dp::kEventCount] = {};
};

TEST_F(PolicyStageTest, NoPolicyTracksNothingAndPassesEverything) {
    Out o = send(kPod0Port, tcp_from_pod0(kRemote, 40000, 5432, kSyn));
    ASSERT_FALSE(o.dropped) << dp::drop_name(o.why);
    EXPECT_EQ(o.port, kEni0Port);
    EXPECT_EQ(ct_->size(), 0u);  // no Service, no policy: conntrack untouched
}

TEST_F(PolicyStageTest, IngressIsolationAdmitsOnlyTheSelectedPeerAndPort) {
    acl::Rule r;
    r.peers = {pod_peer({{"app", "client"}})};
    r.ports = {tcp_port(8080)};
    policies({ingress_policy("server-in", {{"app", "server"}}, {r})});

    // pod0 (app=client) → pod1:8080 through the local shortcut: admitted.
    Out ok = send(kPod0Port, tcp_from_pod0(kPod1, 40000, 8080, kSyn));
    ASSERT_FALSE(ok.dropped) << dp::drop_name(ok.why);
    EXPECT_EQ(ok.port, kPod1Port);
    // Another port: denied.
    Out bad = send(kPod0Port, tcp_from_pod0(kPod1, 40001, 9090, kSyn));
    ASSERT_TRUE(bad.dropped);
    EXPECT_EQ(bad.why, dp::Drop::kPolicyDenied);
    // From outside the cluster through pod1's ENI: not a selected peer.
    Out ext = send(kEni1Port, tcp_from_eni(kEni1Mac, kClient, kPod1, 5555, 8080, kSyn));
    ASSERT_TRUE(ext.dropped);
    EXPECT_EQ(ext.why, dp::Drop::kPolicyDenied);
    // pod0 is not isolated: anything reaches it.
    Out to0 = send(kEni0Port, tcp_remote_to_pod0(kClient, 5555, 22, kSyn));
    ASSERT_FALSE(to0.dropped) << dp::drop_name(to0.why);
    EXPECT_EQ(to0.port, kPod0Port);
}

TEST_F(PolicyStageTest, TheNodeItselfAlwaysReachesIsolatedPods) {
    apply({}, {});  // publishes the node's addresses (node_ips) with an empty Service table
    policies({ingress_policy("deny-all", {{"app", "server"}}, {}), egress_policy("deny-out", {{"app", "server"}}, {})});
    // A kubelet probe from the node's address: admitted although pod1 is isolated both ways.
    Out probe = send(kEni1Port, tcp_from_eni(kEni1Mac, kNodeIp, kPod1, 5555, 8080, kSyn));
    ASSERT_FALSE(probe.dropped) << dp::drop_name(probe.why);
    EXPECT_EQ(probe.port, kPod1Port);
    Out to_node = send(kPod1Port, tcp_from_pod1(kNodeIp, 40000, 10250, kSyn));
    EXPECT_FALSE(to_node.dropped) << dp::drop_name(to_node.why);
    // Anyone else: denied.
    Out other = send(kEni1Port, tcp_from_eni(kEni1Mac, kClient, kPod1, 5555, 8080, kSyn));
    ASSERT_TRUE(other.dropped);
    EXPECT_EQ(other.why, dp::Drop::kPolicyDenied);
}

TEST_F(PolicyStageTest, IpBlockAdmitsExternalClientsButNotTheExcept) {
    acl::Rule r;
    acl::Peer peer = cidr_peer(kClient & 0xFFFFFF00u, 24);
    peer.ip_block->except = {{rte_cpu_to_be_32((kClient & 0xFFFFFF00u) | 0x80u), 25}};  // .128/25 excluded
    r.peers = {peer};
    policies({ingress_policy("from-net", {{"app", "server"}}, {r})});
    Out ok = send(kEni1Port, tcp_from_eni(kEni1Mac, kClient, kPod1, 5555, 8080, kSyn));  // .9
    EXPECT_FALSE(ok.dropped) << dp::drop_name(ok.why);
    Out ex = send(kEni1Port, tcp_from_eni(kEni1Mac, (kClient & 0xFFFFFF00u) | 0xC8u, kPod1, 5555, 8080, kSyn));  // .200
    ASSERT_TRUE(ex.dropped);
    EXPECT_EQ(ex.why, dp::Drop::kPolicyDenied);
}

TEST_F(PolicyStageTest, RepliesToAllowedConnectionsPassStatefully) {
    // pod0 isolated for ingress with no rule: nothing may connect to it.
    policies({ingress_policy("deny-pod0", {{"app", "client"}}, {})});
    Out syn = send(kPod0Port, tcp_from_pod0(kRemote, 40000, 5432, kSyn));
    ASSERT_FALSE(syn.dropped) << dp::drop_name(syn.why);
    EXPECT_EQ(syn.port, kEni0Port);
    EXPECT_EQ(ct_->size(), 1u);  // tracked so the reply is recognised
    // The server's SYN-ACK comes back through pod0's ENI: admitted as a reply.
    Out reply = send(kEni0Port, tcp_remote_to_pod0(kRemote, 5432, 40000, kSyn | kAck));
    ASSERT_FALSE(reply.dropped) << dp::drop_name(reply.why);
    EXPECT_EQ(reply.port, kPod0Port);
    // The same server opening its own connection to pod0: denied.
    Out unsolicited = send(kEni0Port, tcp_remote_to_pod0(kRemote, 5432, 40001, kSyn));
    ASSERT_TRUE(unsolicited.dropped);
    EXPECT_EQ(unsolicited.why, dp::Drop::kPolicyDenied);
}

TEST_F(PolicyStageTest, EgressPolicySeesTheServiceBackendNotTheVip) {
    acl::Rule r;
    r.peers = {pod_peer({{"app", "db"}})};  // the remote pod at kRemote
    r.ports = {tcp_port(8080)};
    policies({egress_policy("client-out", {{"app", "client"}}, {r})});
    apply({service("db", kVip, 80), service("other", kVip + 1, 80)},
          {slice("db", "db-1", {endpoint(kRemote, "node-b")}), slice("other", "other-1", {endpoint(kRemote2, "node-b")})});
    Out ok = send(kPod0Port, tcp_from_pod0(kVip, 40000, 80, kSyn));
    ASSERT_FALSE(ok.dropped) << dp::drop_name(ok.why);
    EXPECT_EQ(ok.dst(), kRemote);
    EXPECT_EQ(ok.dport(), 8080);
    // The reply is translated back and admitted.
    Out rep = send(kEni0Port, tcp_remote_to_pod0(kRemote, 8080, 40000, kSyn | kAck));
    ASSERT_FALSE(rep.dropped) << dp::drop_name(rep.why);
    EXPECT_EQ(rep.src(), kVip);
    // A Service whose backend the policy does not admit.
    Out bad = send(kPod0Port, tcp_from_pod0(kVip + 1, 40001, 80, kSyn));
    ASSERT_TRUE(bad.dropped);
    EXPECT_EQ(bad.why, dp::Drop::kPolicyDenied);
    // Direct to an address no rule names.
    Out other = send(kPod0Port, tcp_from_pod0(kClient, 40002, 443, kSyn));
    ASSERT_TRUE(other.dropped);
    EXPECT_EQ(other.why, dp::Drop::kPolicyDenied);
}

TEST_F(PolicyStageTest, APolicyChangeRechecksLiveFlowsInBothDirections) {
    acl::Rule r;
    r.peers = {pod_peer({{"app", "client"}})};
    policies({ingress_policy("server-in", {{"app", "server"}}, {r})});
    ASSERT_FALSE(send_counted(kPod0Port, tcp_from_pod0(kPod1, 40000, 8080, kSyn)).dropped);
    ASSERT_FALSE(send_counted(kPod1Port, tcp_from_pod1(kPod0, 8080, 40000, kSyn | kAck)).dropped);
    ASSERT_FALSE(send_counted(kPod0Port, tcp_from_pod0(kPod1, 40000, 8080, kAck)).dropped);
    EXPECT_EQ(event(dp::Event::kPolicyAllowed), 1u);  // decided once, cached in the flow

    // The rule goes away: the established flow is denied from its next packet, either way.
    policies({ingress_policy("server-in", {{"app", "server"}}, {})});
    Out a = send_counted(kPod0Port, tcp_from_pod0(kPod1, 40000, 8080, kAck));
    ASSERT_TRUE(a.dropped);
    EXPECT_EQ(a.why, dp::Drop::kPolicyDenied);
    Out b = send_counted(kPod1Port, tcp_from_pod1(kPod0, 8080, 40000, kAck));
    ASSERT_TRUE(b.dropped);
    EXPECT_EQ(b.why, dp::Drop::kPolicyDenied);
    EXPECT_EQ(event(dp::Event::kPolicyRechecked), 1u);

    // And back: the same flow passes again.
    policies({ingress_policy("server-in", {{"app", "server"}}, {r})});
    EXPECT_FALSE(send_counted(kPod1Port, tcp_from_pod1(kPod0, 8080, 40000, kAck)).dropped);
    EXPECT_EQ(event(dp::Event::kPolicyRechecked), 2u);
}

TEST_F(PolicyStageTest, APodTheSnapshotDoesNotKnowIsClosedBothWays) {
    policies({ingress_policy("server-in", {{"app", "server"}}, {})});
    snap_.pods[0].policy_id = 7;  // attached after the snapshot was compiled
    Out out = send(kPod0Port, tcp_from_pod0(kRemote, 40000, 5432, kSyn));
    ASSERT_TRUE(out.dropped);
    EXPECT_EQ(out.why, dp::Drop::kPolicyPending);
    Out in = send(kEni0Port, tcp_remote_to_pod0(kRemote, 5432, 40000, kSyn));
    ASSERT_TRUE(in.dropped);
    EXPECT_EQ(in.why, dp::Drop::kPolicyPending);
    Out icmp = send(kPod0Port, [] {
        PacketBuilder b;
        b.eth(kPod0Mac, kGwMac).ipv4(kPod0, kRemote).icmp_echo(true, 7, 1);
        return b.build();
    }());
    ASSERT_TRUE(icmp.dropped);
    EXPECT_EQ(icmp.why, dp::Drop::kPolicyPending);
}

TEST_F(PolicyStageTest, PayloadDenyPatternDropsMatchingDatagramsOnly) {
    policies({}, {deny_payload_to_server("no-amplification", acl::Protocol::kUdp, 7777,
                                         {"^\\xff\\xff\\xff\\xffgetstatus", "MONLIST"})});
    auto udp_to_pod1 = [](uint16_t dport, const std::string& text) {
        return udp_payload(kVpcGwMac, kEni1Mac, kClient, kPod1, 5000, dport, text);
    };
    EXPECT_FALSE(send(kEni1Port, udp_to_pod1(7777, "hello game")).dropped);
    Out bad = send(kEni1Port, udp_to_pod1(7777, "xxMONLISTxx"));
    ASSERT_TRUE(bad.dropped);
    EXPECT_EQ(bad.why, dp::Drop::kPayloadDenied);
    // Every datagram of the flow is scanned, not only the first.
    EXPECT_FALSE(send(kEni1Port, udp_to_pod1(7777, "more game")).dropped);
    EXPECT_TRUE(send(kEni1Port, udp_to_pod1(7777, "again MONLIST")).dropped);
    // Another port is not covered.
    EXPECT_FALSE(send(kEni1Port, udp_to_pod1(7778, "MONLIST")).dropped);
    EXPECT_EQ(pub_->counters[0].denied_by_payload[0].get(), 2u);
}

TEST_F(PolicyStageTest, PayloadOnTcpScansTheFirstClientSegmentsOnly) {
    policies({}, {deny_payload_to_server("tcp-sig", acl::Protocol::kTcp, 9000, {"EVIL"})});
    auto seg = [](uint8_t flags, const std::string& text) {
        PacketBuilder b;
        std::vector<uint8_t> bytes(text.begin(), text.end());
        b.eth(kVpcGwMac, kEni1Mac).ipv4(kClient, kPod1).tcp(5555, 9000, flags, 1, 1);
        if (!bytes.empty()) b.payload(std::span<const uint8_t>(bytes));
        return b.build();
    };
    ASSERT_FALSE(send(kEni1Port, seg(kSyn, "")).dropped);  // no payload: nothing to scan
    ASSERT_FALSE(send(kEni1Port, seg(kAck, "hello")).dropped);
    Out bad = send(kEni1Port, seg(kAck, "xxEVILxx"));
    ASSERT_TRUE(bad.dropped);
    EXPECT_EQ(bad.why, dp::Drop::kPayloadDenied);
    // The server's reply is not scanned (ingress rules look at what the pod receives).
    EXPECT_FALSE(send(kPod1Port, tcp_from_pod1(kClient, 9000, 5555, kAck)).dropped);
    for (int i = 0; i < dp::kPayloadTcpPackets; i++) send(kEni1Port, seg(kAck, "data"));
    // Past the first kPayloadTcpPackets client segments with data, the flow is no longer scanned.
    EXPECT_FALSE(send(kEni1Port, seg(kAck, "EVIL again")).dropped);
}

TEST_F(PolicyStageTest, CountersAndTheVerdictLogNameThePolicy) {
    acl::Rule r;
    r.peers = {pod_peer({{"app", "client"}})};
    r.ports = {tcp_port(8080)};
    policies({ingress_policy("server-in", {{"app", "server"}}, {r})});
    pw_.allow_sample = 1;
    ASSERT_FALSE(send(kPod0Port, tcp_from_pod0(kPod1, 40000, 8080, kSyn)).dropped);
    ASSERT_TRUE(send(kPod0Port, tcp_from_pod0(kPod1, 40001, 9090, kSyn)).dropped);
    const dp::PolicyCounters& c = pub_->counters[0];
    EXPECT_EQ(c.allowed_by_policy[0].get(), 1u);
    EXPECT_EQ(c.allowed_by_pod[1].get(), 1u);
    EXPECT_EQ(c.denied_by_pod[1].get(), 1u);
    std::vector<dp::VerdictRecord> recs;
    pw_.drain([&](const dp::VerdictRecord& v) { recs.push_back(v); });
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[0].verdict, static_cast<uint8_t>(dp::VerdictKind::kAllowed));
    EXPECT_EQ(recs[0].policy, 0u);
    EXPECT_EQ(recs[0].pod, 1u);
    EXPECT_EQ(recs[0].peer, rte_cpu_to_be_32(kPod0));
    EXPECT_EQ(recs[0].port, 8080);
    EXPECT_EQ(recs[1].verdict, static_cast<uint8_t>(dp::VerdictKind::kDenied));
    EXPECT_EQ(recs[1].port, 9090);
}

}  // namespace
}  // namespace enidp::test

// Fast-path building blocks without EAL: the parser, the responders (ARP, ICMP echo),
// incremental checksums and the pod IP map.
#include <gtest/gtest.h>

#include <random>

#include "dataplane/fastpath/parse.hpp"
#include "dataplane/fastpath/responder.hpp"
#include "dataplane/fastpath/tables.hpp"
#include "tests/support/frames.hpp"

namespace enidp::test {
namespace {

using synth::PacketBuilder;

const auto kA = mac("02:00:00:00:00:0a");
const auto kB = mac("02:00:00:00:00:0b");

dp::ParseResult parse(const std::vector<uint8_t>& f, dp::ParsedPacket& p) {
    return dp::parse_packet(f.data(), static_cast<uint32_t>(f.size()), p);
}

TEST(Parse, UdpFieldsInNetworkOrder) {
    PacketBuilder b;
    b.eth(kA, kB).ipv4(ip("10.0.0.1"), ip("10.0.0.2")).udp(1234, 53).payload(5);
    dp::ParsedPacket p;
    ASSERT_TRUE(parse(b.build(), p).ok);
    EXPECT_EQ(p.l3, dp::L3::kIpv4);
    EXPECT_EQ(p.l3_off, 14);
    EXPECT_EQ(p.l4_off, 34);
    EXPECT_EQ(p.l3_len, 20 + 8 + 5);
    EXPECT_EQ(p.proto, dp::kProtoUdp);
    EXPECT_EQ(p.src_ip, ip_be("10.0.0.1"));
    EXPECT_EQ(p.dst_ip, ip_be("10.0.0.2"));
    EXPECT_EQ(rte_be_to_cpu_16(p.src_port), 1234);
    EXPECT_EQ(rte_be_to_cpu_16(p.dst_port), 53);
    EXPECT_FALSE(p.has_vlan);
}

TEST(Parse, VlanTagIsSkippedAndReported) {
    for (uint16_t tpid : {synth::kEtherTypeVlan, synth::kEtherTypeQinq}) {
        PacketBuilder b;
        b.eth(kA, kB).vlan(0x0064, tpid).ipv4(ip("10.0.0.1"), ip("10.0.0.2")).tcp(1, 2);
        dp::ParsedPacket p;
        ASSERT_TRUE(parse(b.build(), p).ok);
        EXPECT_TRUE(p.has_vlan);
        EXPECT_EQ(rte_be_to_cpu_16(p.vlan_tci), 0x64);
        EXPECT_EQ(p.l3_off, 18);
        EXPECT_EQ(p.proto, dp::kProtoTcp);
    }
}

TEST(Parse, IcmpEchoCarriesIdAndType) {
    PacketBuilder b;
    b.eth(kA, kB).ipv4(ip("10.0.0.1"), ip("10.0.0.2")).icmp_echo(true, 0x4242, 9);
    dp::ParsedPacket p;
    ASSERT_TRUE(parse(b.build(), p).ok);
    EXPECT_EQ(dp::icmp_type(p), RTE_IP_ICMP_ECHO_REQUEST);
    EXPECT_EQ(rte_be_to_cpu_16(p.src_port), 0x4242);
}

TEST(Parse, SctpAndUnknownProtocolsParse) {
    PacketBuilder s, gre;
    s.eth(kA, kB).ipv4(ip("10.0.0.1"), ip("10.0.0.2")).sctp(3868, 3868);
    gre.eth(kA, kB).ipv4(ip("10.0.0.1"), ip("10.0.0.2")).ip_proto(47).payload(4);
    dp::ParsedPacket p;
    ASSERT_TRUE(parse(s.build(), p).ok);
    EXPECT_EQ(p.proto, dp::kProtoSctp);
    EXPECT_EQ(rte_be_to_cpu_16(p.dst_port), 3868);
    ASSERT_TRUE(parse(gre.build(), p).ok);
    EXPECT_EQ(p.proto, 47);
    EXPECT_EQ(p.src_port, 0);
}

TEST(Parse, EthernetPaddingIsNotALengthError) {
    PacketBuilder b;
    b.eth(kA, kB).ipv4(ip("10.0.0.1"), ip("10.0.0.2")).udp(1, 2);
    auto f = b.build();
    f.resize(60, 0);  // NIC padding after a 42-byte frame
    dp::ParsedPacket p;
    ASSERT_TRUE(parse(f, p).ok);
    EXPECT_EQ(p.l3_len, 28);
}

TEST(Parse, RandomBytesNeverReadPastTheEnd) {
    std::mt19937 rng(7);
    for (int i = 0; i < 20000; i++) {
        std::vector<uint8_t> f(rng() % 80);
        for (auto& x : f) x = static_cast<uint8_t>(rng());
        if (f.size() > 13 && i % 2) {  // bias toward IPv4 to get deeper
            f[12] = 0x08;
            f[13] = 0x00;
            if (f.size() > 14) f[14] = 0x45;
        }
        dp::ParsedPacket p;
        auto r = dp::parse_packet(f.data(), static_cast<uint32_t>(f.size()), p);
        if (r.ok && p.l3 == dp::L3::kIpv4) {
            EXPECT_LE(p.l3_off + p.l3_len, static_cast<int>(f.size()));
        }
    }
}

TEST(Responder, ArpReplyIsTheExpectedFrame) {
    PacketBuilder req;
    req.eth(kA, synth::kBroadcastMac).arp_request(kA, ip("10.0.0.10"), ip("10.0.0.1")).frame_size(60);
    auto f = req.build();
    dp::ArpView a;
    ASSERT_TRUE(dp::read_arp(f.data(), static_cast<uint32_t>(f.size()), 14, a));
    EXPECT_EQ(a.op, RTE_ARP_OP_REQUEST);
    EXPECT_EQ(a.spa, ip_be("10.0.0.10"));
    EXPECT_EQ(a.tpa, ip_be("10.0.0.1"));
    dp::make_arp_reply(f.data(), 14, ether(kB), a.tpa);
    PacketBuilder want;
    want.eth(kB, kA).arp_reply(kB, ip("10.0.0.1"), kA, ip("10.0.0.10")).frame_size(60);
    EXPECT_EQ(f, want.build());
}

TEST(Responder, ArpRejectsNonEthernetIpv4) {
    PacketBuilder req;
    req.eth(kA, synth::kBroadcastMac).arp_request(kA, ip("10.0.0.10"), ip("10.0.0.1"));
    auto f = req.build();
    f[14 + 5] = 16;  // protocol address length
    dp::ArpView a;
    EXPECT_FALSE(dp::read_arp(f.data(), static_cast<uint32_t>(f.size()), 14, a));
    EXPECT_FALSE(dp::read_arp(f.data(), 30, 14, a));
}

TEST(Responder, ArpRequestWriterMatchesTheBuilder) {
    std::vector<uint8_t> out(42);
    EXPECT_EQ(dp::write_arp_request(out.data(), ether(kA), ip_be("10.0.0.10"), ip_be("10.0.0.1")), 42);
    PacketBuilder want;
    want.eth(kA, synth::kBroadcastMac).arp_request(kA, ip("10.0.0.10"), ip("10.0.0.1"));
    EXPECT_EQ(out, want.build());
}

TEST(Responder, EchoReplyHasAValidChecksum) {
    for (uint16_t id : {0, 1, 0xffff, 0x1234}) {
        PacketBuilder b;
        b.eth(kA, kB).ipv4(ip("10.0.0.10"), ip("10.0.0.1")).icmp_echo(true, id, 3).payload(56, 0x5a);
        auto f = b.build();
        dp::ParsedPacket p;
        ASSERT_TRUE(parse(f, p).ok);
        dp::make_icmp_echo_reply(f.data(), p, ether(kB));
        PacketBuilder want;
        want.eth(kB, kA).ipv4(ip("10.0.0.1"), ip("10.0.0.10")).icmp_echo(false, id, 3).payload(56, 0x5a);
        EXPECT_EQ(f, want.build());
        EXPECT_TRUE(synth::verify_l4_checksum(f));
        EXPECT_TRUE(synth::verify_ipv4_checksum(f));
    }
}

TEST(Checksum, IncrementalUpdateEqualsRecompute) {
    std::mt19937 rng(1);
    for (int i = 0; i < 1000; i++) {
        std::vector<uint8_t> data(20);
        for (auto& x : data) x = static_cast<uint8_t>(rng());
        data[10] = data[11] = 0;
        const uint16_t full = synth::internet_checksum(data);
        const uint16_t stored = rte_cpu_to_be_16(full);  // as loaded from the packet
        const size_t at = (rng() % 5) * 2;  // a 16-bit word other than the checksum
        uint16_t old_w, new_w = static_cast<uint16_t>(rng());
        std::memcpy(&old_w, &data[at], 2);
        std::memcpy(&data[at], &new_w, 2);
        const uint16_t recomputed = rte_cpu_to_be_16(synth::internet_checksum(data));
        EXPECT_EQ(dp::csum_update16(stored, old_w, new_w), recomputed);
    }
}

TEST(Ipv4Map, FindsEveryKeyAndMissesOthers) {
    std::vector<std::pair<uint32_t, uint32_t>> items;
    for (uint32_t i = 0; i < 1000; i++) items.emplace_back(rte_cpu_to_be_32(0x0a000000u + i * 7), i);
    dp::Ipv4Map m;
    m.build(items);
    for (const auto& [k, v] : items) EXPECT_EQ(m.find(k), v);
    EXPECT_EQ(m.find(rte_cpu_to_be_32(0x0a000001u)), dp::kNoIndex);
    // Same low 12 bits as a key (the filter lets it through): the probe still misses.
    EXPECT_EQ(m.find(rte_cpu_to_be_32(0x0b000000u + 7)), dp::kNoIndex);
    EXPECT_EQ(m.find(rte_cpu_to_be_32(0x0a001000u)), dp::kNoIndex);
    // Rebuilt with other keys: the old keys' filter bits are gone.
    m.build({{rte_cpu_to_be_32(0xc0a80001u), 5}});
    EXPECT_EQ(m.find(rte_cpu_to_be_32(0xc0a80001u)), 5u);
    EXPECT_EQ(m.find(items[1].first), dp::kNoIndex);
    dp::Ipv4Map empty;
    EXPECT_EQ(empty.find(1), dp::kNoIndex);
    empty.build({});
    EXPECT_EQ(empty.find(1), dp::kNoIndex);
}

TEST(NeighborCell, StoresAMacAtomically) {
    dp::NeighborCell c;
    rte_ether_addr out;
    EXPECT_FALSE(c.get(out));
    c.set(ether(kA));
    ASSERT_TRUE(c.get(out));
    EXPECT_EQ(std::memcmp(out.addr_bytes, kA.b.data(), 6), 0);
    c.clear();
    EXPECT_FALSE(c.valid());
}

}  // namespace
}  // namespace enidp::test

// Unit tests for the traffic synthesiser: exact layouts for hand-checked packets, checksum
// coverage, padding, tags, ARP, corruption knobs and the pcap writer.
#include <unistd.h>
#include <pcap/pcap.h>

#include <cstdio>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "perf/synth/packet_builder.hpp"
#include "perf/synth/pcap_gen.hpp"

namespace enidp::synth {
namespace {

using Bytes = std::vector<uint8_t>;

const MacAddr kMacA{{0x02, 0, 0, 0, 0, 0x01}};
const MacAddr kMacB{{0x02, 0, 0, 0, 0, 0x02}};
constexpr uint32_t kIpA = 0x0a000001;  // 10.0.0.1
constexpr uint32_t kIpB = 0x0a000002;  // 10.0.0.2

uint16_t be16(const Bytes& f, size_t off) { return static_cast<uint16_t>(f[off] << 8 | f[off + 1]); }

TEST(SynthParse, MacAddresses) {
    auto m = mac_from_string("02:00:0a:Bc:00:10");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->b, (std::array<uint8_t, 6>{0x02, 0x00, 0x0a, 0xbc, 0x00, 0x10}));
    EXPECT_EQ(to_string(*m), "02:00:0a:bc:00:10");
    EXPECT_TRUE(mac_from_string("02-00-00-00-00-10"));
    for (const char* bad :
         {"", "02:00:00:00:00", "02:00:00:00:00:1g", "02:00:00:00:00:100", "0200.0000.0010", "+2:00:00:00:00:10"})
        EXPECT_FALSE(mac_from_string(bad)) << bad;
}

TEST(SynthParse, Ipv4Addresses) {
    EXPECT_EQ(ipv4_from_string("10.1.2.3"), 0x0a010203u);
    EXPECT_EQ(ipv4_from_string("255.255.255.255"), 0xffffffffu);
    EXPECT_EQ(ipv4_to_string(0xc0a80001), "192.168.0.1");
    for (const char* bad : {"", "10.1.2", "10.1.2.3.4", "10.1.2.256", "10.1..3", "10.1.2.3 ", "a.b.c.d", "1.2.3.0001"})
        EXPECT_FALSE(ipv4_from_string(bad)) << bad;
}

// Checksums worked by hand (RFC 1071 sums of the 16-bit words shown).
TEST(SynthBuild, UdpExactBytes) {
    const Bytes payload{1, 2, 3, 4};
    const Bytes f = PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).udp(1000, 2000).payload(payload).build();
    // clang-format off
    const Bytes want{
        0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,  // dst, src, IPv4
        0x45, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00,              // v4 ihl5, len 32, id 0, no frag
        0x40, 0x11, 0x66, 0xcb,                                      // ttl 64, UDP, ~0x9934
        0x0a, 0, 0, 0x01, 0x0a, 0, 0, 0x02,                          // 10.0.0.1 -> 10.0.0.2
        0x03, 0xe8, 0x07, 0xd0, 0x00, 0x0c, 0xdc, 0x15,              // 1000 -> 2000, len 12, ~0x23ea
        1, 2, 3, 4};
    // clang-format on
    EXPECT_EQ(f, want);
    EXPECT_TRUE(verify_ipv4_checksum(f));
    EXPECT_TRUE(verify_l4_checksum(f));
}

TEST(SynthBuild, IcmpEchoExactBytes) {
    const Bytes payload{'a', 'b', 'c', 'd'};
    const Bytes f =
        PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).icmp_echo(true, 0x1234, 1).payload(payload).build();
    // clang-format off
    const Bytes want{
        0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,
        0x45, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00,
        0x40, 0x01, 0x66, 0xdb,                          // ICMP, ~0x9924
        0x0a, 0, 0, 0x01, 0x0a, 0, 0, 0x02,
        0x08, 0x00, 0x21, 0x04, 0x12, 0x34, 0x00, 0x01,  // echo request, ~0xdefb, id, seq
        'a', 'b', 'c', 'd'};
    // clang-format on
    EXPECT_EQ(f, want);
    const Bytes reply = PacketBuilder().eth(kMacB, kMacA).ipv4(kIpB, kIpA).icmp_echo(false, 0x1234, 1).build();
    EXPECT_EQ(reply[34], 0);  // echo reply type
    EXPECT_TRUE(verify_l4_checksum(reply));
}

TEST(SynthChecksum, EveryL4Verifies) {
    const Ipv6Addr s6{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const Ipv6Addr d6{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    // Odd payload lengths exercise the RFC 1071 tail byte.
    for (size_t len : {0u, 1u, 7u, 100u, 1401u}) {
        SCOPED_TRACE(len);
        std::vector<Bytes> frames{
            PacketBuilder()
                .eth(kMacA, kMacB)
                .ipv4(kIpA, kIpB)
                .tcp(1234, 80, kTcpAck | kTcpPsh, 7, 9)
                .payload(len)
                .build(),
            PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).udp(1234, 53).payload(len, 0xff).build(),
            PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).icmp_echo(true, 1, 2).payload(len).build(),
            PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).sctp(5, 6).payload(len).build(),
            PacketBuilder().eth(kMacA, kMacB).ipv6(s6, d6).udp(1, 2).payload(len).build(),
            PacketBuilder().eth(kMacA, kMacB).ipv6(s6, d6).tcp(1, 2).payload(len).build(),
            PacketBuilder().eth(kMacA, kMacB).ipv6(s6, d6).icmp_echo(true, 1, 2).payload(len).build(),
        };
        for (const auto& f : frames) EXPECT_TRUE(verify_l4_checksum(f)) << "proto at " << f.size();
        for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(verify_ipv4_checksum(frames[i]));
    }
    // A flipped byte anywhere in the segment is caught.
    Bytes f = PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).tcp(1, 2).payload(10).build();
    f.back() ^= 0x40;
    EXPECT_FALSE(verify_l4_checksum(f));
}

TEST(SynthChecksum, KnobsBreakOnlyTheirChecksum) {
    auto base = [] { return PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).udp(1, 2).payload(4); };
    const Bytes bad_ip = base().bad_ip_checksum().build();
    EXPECT_FALSE(verify_ipv4_checksum(bad_ip));
    EXPECT_TRUE(verify_l4_checksum(bad_ip));
    const Bytes bad_l4 = base().bad_l4_checksum().build();
    EXPECT_TRUE(verify_ipv4_checksum(bad_l4));
    EXPECT_FALSE(verify_l4_checksum(bad_l4));
    const Bytes bad_sctp = PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).sctp(1, 2).bad_l4_checksum().build();
    EXPECT_FALSE(verify_l4_checksum(bad_sctp));
}

TEST(SynthChecksum, Crc32cKnownVector) {
    const std::string s = "123456789";  // the standard CRC check input
    EXPECT_EQ(crc32c({reinterpret_cast<const uint8_t*>(s.data()), s.size()}), 0xe3069283u);
    // SCTP stores it least significant byte first (RFC 4960 appendix B).
    const Bytes f = PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).sctp(5, 6).build();
    Bytes seg(f.begin() + 34, f.end());
    std::fill_n(seg.begin() + 8, 4, 0);
    const uint32_t crc = crc32c(seg);
    EXPECT_EQ(f[42], crc & 0xff);
    EXPECT_EQ(f[45], crc >> 24);
}

TEST(SynthBuild, FrameSizePadsPayload) {
    for (auto proto : {kProtoUdp, kProtoTcp, kProtoIcmp}) {
        PacketBuilder b;
        b.eth(kMacA, kMacB).ipv4(kIpA, kIpB).frame_size(60);
        if (proto == kProtoUdp) b.udp(1, 2);
        if (proto == kProtoTcp) b.tcp(1, 2);
        if (proto == kProtoIcmp) b.icmp_echo(true, 1, 2);
        const Bytes f = b.build();
        ASSERT_EQ(f.size(), 60u);
        EXPECT_EQ(be16(f, 16), 46) << "IPv4 total length covers the padding";
        EXPECT_EQ(f[23], proto);
        EXPECT_TRUE(verify_ipv4_checksum(f));
        EXPECT_TRUE(verify_l4_checksum(f));
    }
    const Bytes udp =
        PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).udp(1, 2).payload(2, 0x11).frame_size(1514).build();
    ASSERT_EQ(udp.size(), 1514u);
    EXPECT_EQ(be16(udp, 38), 1514 - 34);  // UDP length
    EXPECT_EQ(udp[42], 0x11);
    EXPECT_EQ(udp.back(), 0x11) << "padding uses the payload fill byte";
    // Headers larger than the requested size: left as built, never truncated.
    const Bytes big = PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).tcp(1, 2).payload(100).frame_size(60).build();
    EXPECT_EQ(big.size(), 54u + 100u);
}

TEST(SynthBuild, VlanShiftsL3) {
    const Bytes f = PacketBuilder().eth(kMacA, kMacB).vlan(0x2064).ipv4(kIpA, kIpB).udp(1, 2).frame_size(64).build();
    ASSERT_EQ(f.size(), 64u);
    EXPECT_EQ(be16(f, 12), kEtherTypeVlan);
    EXPECT_EQ(be16(f, 14), 0x2064);
    EXPECT_EQ(be16(f, 16), kEtherTypeIpv4);
    EXPECT_EQ(f[18], 0x45);
    EXPECT_EQ(be16(f, 18 + 20), 1);  // UDP source port
    EXPECT_TRUE(verify_ipv4_checksum(f));
    EXPECT_TRUE(verify_l4_checksum(f));

    const Bytes qinq =
        PacketBuilder().eth(kMacA, kMacB).vlan(10, kEtherTypeQinq).vlan(20).ipv4(kIpA, kIpB).udp(1, 2).build();
    EXPECT_EQ(be16(qinq, 12), kEtherTypeQinq);
    EXPECT_EQ(be16(qinq, 16), kEtherTypeVlan);
    EXPECT_EQ(be16(qinq, 18), 20);
    EXPECT_EQ(be16(qinq, 20), kEtherTypeIpv4);
    EXPECT_TRUE(verify_l4_checksum(qinq));
}

TEST(SynthBuild, ArpLayout) {
    const Bytes req = PacketBuilder().eth(kMacA, kBroadcastMac).arp_request(kMacA, kIpA, kIpB).frame_size(60).build();
    ASSERT_EQ(req.size(), 60u);
    EXPECT_EQ(Bytes(req.begin(), req.begin() + 6), Bytes(6, 0xff));
    EXPECT_EQ(be16(req, 12), kEtherTypeArp);
    const Bytes hdr{0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01};  // Ethernet, IPv4, request
    EXPECT_EQ(Bytes(req.begin() + 14, req.begin() + 22), hdr);
    EXPECT_EQ(Bytes(req.begin() + 22, req.begin() + 28), Bytes(kMacA.b.begin(), kMacA.b.end()));
    EXPECT_EQ(Bytes(req.begin() + 28, req.begin() + 32), (Bytes{10, 0, 0, 1}));
    EXPECT_EQ(Bytes(req.begin() + 32, req.begin() + 38), Bytes(6, 0)) << "target MAC unknown in a request";
    EXPECT_EQ(Bytes(req.begin() + 38, req.begin() + 42), (Bytes{10, 0, 0, 2}));
    EXPECT_EQ(Bytes(req.begin() + 42, req.end()), Bytes(18, 0)) << "zero padding after the body";

    const Bytes rep = PacketBuilder().eth(kMacB, kMacA).arp_reply(kMacB, kIpB, kMacA, kIpA).build();
    ASSERT_EQ(rep.size(), 42u);
    EXPECT_EQ(be16(rep, 20), 2);
    EXPECT_EQ(Bytes(rep.begin() + 22, rep.begin() + 28), Bytes(kMacB.b.begin(), kMacB.b.end()));
    EXPECT_EQ(Bytes(rep.begin() + 32, rep.begin() + 38), Bytes(kMacA.b.begin(), kMacA.b.end()));
    EXPECT_FALSE(verify_ipv4_checksum(rep));
}

TEST(SynthBuild, Ipv4OptionsAndFragments) {
    const Bytes opt = PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).ipv4_options({1, 1, 1}).udp(1, 2).build();
    EXPECT_EQ(opt[14], 0x46) << "one 4-byte option word";
    EXPECT_EQ(Bytes(opt.begin() + 34, opt.begin() + 38), (Bytes{1, 1, 1, 0}));
    EXPECT_EQ(be16(opt, 38), 1) << "UDP follows the options";
    EXPECT_TRUE(verify_ipv4_checksum(opt));
    EXPECT_TRUE(verify_l4_checksum(opt));

    const Bytes first = PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).fragment(true, 0).udp(1, 2).build();
    EXPECT_EQ(be16(first, 20), 0x2000);
    const Bytes later =
        PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).ip_id(7).fragment(false, 185).payload(8).build();
    EXPECT_EQ(be16(later, 18), 7);
    EXPECT_EQ(be16(later, 20), 185);
    EXPECT_EQ(later.size(), 14u + 20u + 8u) << "no L4 header without an L4 call";
    const Bytes df = PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).dont_fragment().udp(1, 2).build();
    EXPECT_EQ(be16(df, 20), 0x4000);
}

TEST(SynthBuild, CorruptionKnobs) {
    auto base = [] { return PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).udp(1, 2).frame_size(60); };
    const Bytes v6 = base().bad_version(6).build();
    EXPECT_EQ(v6[14], 0x65);
    const Bytes ihl = base().bad_ihl(4).build();
    EXPECT_EQ(ihl[14], 0x44);
    EXPECT_EQ(ihl.size(), 60u) << "the header itself is not resized";
    const Bytes len = base().bad_total_length(1000).build();
    EXPECT_EQ(be16(len, 16), 1000);
    // The IP checksum is computed over the corrupted header so that a parser rejects
    // these frames for the field under test, not for the checksum.
    for (const auto* f : {&ihl, &len}) EXPECT_EQ(internet_checksum({f->data() + 14, 20}), 0);
    EXPECT_EQ(internet_checksum({v6.data() + 14, 20}), 0);

    const Bytes udp_len = base().bad_udp_length(4).build();
    EXPECT_EQ(be16(udp_len, 38), 4);

    const Bytes doff = PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).tcp(1, 2).tcp_data_offset(15).build();
    EXPECT_EQ(doff[46], 0xf0);
    EXPECT_EQ(doff.size(), 54u);
    EXPECT_TRUE(verify_l4_checksum(doff));

    const Bytes proto = PacketBuilder().eth(kMacA, kMacB).ipv4(kIpA, kIpB).ip_proto(47).payload(4).build();
    EXPECT_EQ(proto[23], 47);
    const Bytes et = PacketBuilder().eth(kMacA, kMacB).ethertype(0x9000).payload(46).build();
    EXPECT_EQ(be16(et, 12), 0x9000);
    EXPECT_EQ(et.size(), 60u);

    const Bytes full = base().build();
    EXPECT_EQ(truncate(full, 20), Bytes(full.begin(), full.begin() + 20));
    EXPECT_EQ(truncate(full, 1000), full);
    EXPECT_FALSE(verify_l4_checksum(truncate(full, 40))) << "total length beyond the frame";
}

class PcapGenTest : public ::testing::Test {
protected:
    void TearDown() override { std::remove(path_.c_str()); }
    // The pid keeps concurrent runs (release and sanitizer builds, two checkouts) apart.
    std::string path_ = ::testing::TempDir() + "enidp_synth_test_" + std::to_string(getpid()) + ".pcap";
};

TEST_F(PcapGenTest, RoundTripDistinctFlows) {
    GenSpec spec;
    spec.src_mac = kMacA;
    spec.dst_mac = kMacB;
    spec.src_ip = kIpA;
    spec.dst_base = 0x0a010000;
    spec.dst_count = 100;
    spec.flows = 1000;
    spec.packets = 1500;
    ASSERT_EQ(write_pcap(spec, path_), "");

    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(path_.c_str(), err);
    ASSERT_NE(p, nullptr) << err;
    EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
    std::set<std::tuple<uint32_t, uint16_t, uint16_t>> tuples;
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    size_t n = 0;
    while (pcap_next_ex(p, &h, &data) == 1) {
        ++n;
        ASSERT_EQ(h->caplen, 60u) << "64 on the wire minus the FCS";
        ASSERT_EQ(h->len, 60u);
        const Bytes f(data, data + h->caplen);
        ASSERT_TRUE(verify_ipv4_checksum(f));
        ASSERT_TRUE(verify_l4_checksum(f));
        EXPECT_EQ(be16(f, 26), 0x0a00);  // source 10.0.0.1
        const uint32_t dst = uint32_t{be16(f, 30)} << 16 | be16(f, 32);
        EXPECT_GE(dst, spec.dst_base);
        EXPECT_LT(dst, spec.dst_base + spec.dst_count);
        tuples.emplace(dst, be16(f, 34), be16(f, 36));
    }
    pcap_close(p);
    EXPECT_EQ(n, 1500u);
    EXPECT_EQ(tuples.size(), 1000u) << "packets beyond `flows` repeat earlier flows";
}

TEST_F(PcapGenTest, TcpAndIcmpFlows) {
    GenSpec spec;
    spec.dst_base = 0x0a010000;
    spec.dst_count = 4;
    spec.flows = 8;
    spec.packets = 16;
    spec.frame_size = 128;
    for (const char* proto : {"tcp", "icmp"}) {
        spec.proto = proto;
        for (uint32_t k = 0; k < spec.packets; ++k) {
            const Bytes f = build_frame(spec, k);
            ASSERT_EQ(f.size(), 124u);
            EXPECT_TRUE(verify_l4_checksum(f)) << proto << k;
            if (spec.proto == "tcp") {
                EXPECT_EQ(f[47], k < spec.flows ? kTcpSyn : kTcpAck);
            } else {
                EXPECT_EQ(be16(f, 38), spec.sport_base + (k % spec.flows) / spec.dst_count);
            }
        }
    }
}

TEST_F(PcapGenTest, RejectsBadSpecs) {
    GenSpec spec;
    spec.proto = "gre";
    EXPECT_NE(write_pcap(spec, path_), "");
    spec = {};
    spec.frame_size = 60;
    EXPECT_NE(validate(spec), "") << "below the Ethernet minimum";
    spec = {};
    spec.dst_count = 1;
    spec.flows = 60000;  // 10000 + 59999 > 65535
    EXPECT_NE(validate(spec), "");
    spec.dst_count = 2;
    EXPECT_EQ(validate(spec), "");
    spec.dst_count = 0;
    EXPECT_NE(validate(spec), "");
    EXPECT_NE(write_pcap(GenSpec{}, "/nonexistent-dir/x.pcap"), "");
}

// gen_main as `enidp-perf gen` calls it: argv[0] is the subcommand.
int run_gen(std::vector<std::string> args) {
    std::vector<char*> argv;
    argv.reserve(args.size());
    for (auto& a : args) argv.push_back(a.data());
    return gen_main(static_cast<int>(argv.size()), argv.data());
}

TEST_F(PcapGenTest, CliWritesAndRejects) {
    EXPECT_EQ(run_gen({"gen", "--out", path_, "--dst", "10.9.0.0", "--dst-count", "16", "--flows", "32", "--proto",
                       "tcp", "--size", "64", "--packets", "64"}),
              0);
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(path_.c_str(), err);
    ASSERT_NE(p, nullptr) << err;
    int n = 0;
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    while (pcap_next_ex(p, &h, &data) == 1) ++n;
    pcap_close(p);
    EXPECT_EQ(n, 64);

    EXPECT_EQ(run_gen({"gen", "--out", path_, "--src-ip", "10.0.0"}), 2);
    EXPECT_EQ(run_gen({"gen", "--out", path_, "--proto", "gre"}), 2);
    EXPECT_EQ(run_gen({"gen", "--out", path_, "--flows", "70000"}), 2) << "source ports would overflow";
    EXPECT_EQ(run_gen({"gen", "--flows", "3"}), 2) << "--out is required";
}

}  // namespace
}  // namespace enidp::synth

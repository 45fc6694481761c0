// Synthetic packet construction for tests, fuzz seeds and the perf traffic generator.
//
// Plain C++20 with no DPDK dependency, so unit tests and fuzzers can build frames without
// EAL. A PacketBuilder collects layers in any call order and build() lays them out as
//   Ethernet [802.1Q] (IPv4 [options] | IPv6 | ARP) [TCP | UDP | SCTP | ICMP] payload
// filling in ethertypes, next-protocol fields, lengths and checksums.
//
// Conventions:
//   * IPv4 addresses and ports are passed in host order; they are written in network order.
//   * A frame is the bytes a NIC hands over: Ethernet header onwards, WITHOUT the 4-byte
//     FCS. A "64-byte frame on the wire" is therefore frame_size(60).
//   * Checksums: IPv4 header, TCP, UDP (IPv4 and IPv6), ICMP, ICMPv6 and SCTP (CRC32c) are
//     all computed. They are computed over the bytes as finally laid out, so a corruption
//     knob (bad_ihl, bad_total_length, ...) breaks only the field it names, and a parser
//     rejects the frame for that reason rather than for a bad checksum.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace enidp::synth {

inline constexpr size_t kEthHdrLen = 14;
inline constexpr size_t kVlanHdrLen = 4;
inline constexpr size_t kIpv4HdrLen = 20;
inline constexpr size_t kIpv6HdrLen = 40;
inline constexpr size_t kArpLen = 28;
inline constexpr size_t kUdpHdrLen = 8;
inline constexpr size_t kTcpHdrLen = 20;
inline constexpr size_t kSctpHdrLen = 12;
inline constexpr size_t kIcmpHdrLen = 8;
inline constexpr size_t kFcsLen = 4;

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint16_t kEtherTypeQinq = 0x88a8;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmpv6 = 58;
inline constexpr uint8_t kProtoSctp = 132;

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;

struct MacAddr {
    std::array<uint8_t, 6> b{};  // wire order
    friend bool operator==(const MacAddr&, const MacAddr&) = default;
};

using Ipv6Addr = std::array<uint8_t, 16>;  // wire order

inline constexpr MacAddr kBroadcastMac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

// "02:00:00:00:00:10" (':' or '-' separated, hex digits of either case).
std::optional<MacAddr> mac_from_string(std::string_view s);
std::string to_string(const MacAddr& mac);
// Dotted quad to a host-order address; nullopt unless exactly four octets 0..255.
std::optional<uint32_t> ipv4_from_string(std::string_view s);
std::string ipv4_to_string(uint32_t host_order);

class PacketBuilder {
public:
    PacketBuilder& eth(MacAddr src, MacAddr dst);
    // Adds one tag; tpid 0x88a8 gives an 802.1ad outer tag (the parser accepts either).
    PacketBuilder& vlan(uint16_t tci, uint16_t tpid = kEtherTypeVlan);
    // Overrides the (innermost) ethertype the L3 call would write, e.g. for "unsupported
    // ethertype" tests. With no L3 layer the frame is Ethernet + payload.
    PacketBuilder& ethertype(uint16_t type);

    PacketBuilder& ipv4(uint32_t src, uint32_t dst, uint8_t ttl = 64);
    // Appended after the 20-byte header; padded with zeros (EOL) to a multiple of 4.
    PacketBuilder& ipv4_options(std::vector<uint8_t> opts);
    PacketBuilder& ip_id(uint16_t id);
    PacketBuilder& dont_fragment(bool df = true);
    // Sets MF and the fragment offset (in 8-byte units). The L4 header is still emitted
    // as the first bytes after the IP header, so a non-first fragment simply carries bytes
    // that look like one; its L4 checksum is computed as if the packet were whole.
    PacketBuilder& fragment(bool more_fragments, uint16_t offset_8b);
    // Next-protocol byte when no L4 call is made (e.g. 47 for an "unknown protocol" test).
    PacketBuilder& ip_proto(uint8_t proto);
    PacketBuilder& ipv6(const Ipv6Addr& src, const Ipv6Addr& dst, uint8_t hop_limit = 64);

    PacketBuilder& udp(uint16_t sport, uint16_t dport);
    PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = kTcpSyn, uint32_t seq = 1, uint32_t ack = 0);
    // SCTP common header only (verification tag 0); chunks, if any, go in the payload.
    PacketBuilder& sctp(uint16_t sport, uint16_t dport);
    // ICMP echo over IPv4, ICMPv6 echo (128/129) over IPv6.
    PacketBuilder& icmp_echo(bool request, uint16_t id, uint16_t seq);

    // ARP for IPv4 over Ethernet. eth() still sets the Ethernet addresses (a request is
    // normally sent to kBroadcastMac).
    PacketBuilder& arp_request(MacAddr sha, uint32_t spa, uint32_t tpa);
    PacketBuilder& arp_reply(MacAddr sha, uint32_t spa, MacAddr tha, uint32_t tpa);

    // The L4 payload (or L3 payload with no L4, or Ethernet payload with no L3). Replaces
    // any earlier payload.
    PacketBuilder& payload(size_t bytes, uint8_t fill = 0xab);
    PacketBuilder& payload(std::span<const uint8_t> bytes);
    // Grows the payload (with the payload fill byte, 0xab unless payload() chose another)
    // until the frame, without FCS, is total_bytes long; IP/L4 lengths include it. For ARP
    // the padding is zero bytes after the ARP body, as a NIC pads short frames. A frame
    // whose headers and payload already exceed total_bytes is left as it is.
    PacketBuilder& frame_size(size_t total_bytes);

    // --- corruption knobs, applied after lengths are known and before checksums ---
    PacketBuilder& bad_version(uint8_t version);       // IPv4 version nibble
    PacketBuilder& bad_ihl(uint8_t ihl);               // IPv4 IHL nibble (header stays as built)
    PacketBuilder& bad_total_length(uint16_t length);  // IPv4 total length / IPv6 payload length
    PacketBuilder& tcp_data_offset(uint8_t words);     // TCP data-offset nibble
    PacketBuilder& bad_udp_length(uint16_t length);
    // Flip the computed checksum so it is valid-looking but wrong.
    PacketBuilder& bad_ip_checksum();
    PacketBuilder& bad_l4_checksum();

    std::vector<uint8_t> build() const;

private:
    enum class L3 : uint8_t { kNone, kIpv4, kIpv6, kArp };
    enum class L4 : uint8_t { kNone, kUdp, kTcp, kSctp, kIcmpEcho };

    MacAddr eth_src_, eth_dst_;
    std::vector<std::pair<uint16_t, uint16_t>> vlans_;  // (tpid, tci), outermost first
    std::optional<uint16_t> ethertype_;

    L3 l3_ = L3::kNone;
    uint32_t ip_src_ = 0, ip_dst_ = 0;  // host order
    uint8_t ttl_ = 64;
    uint16_t ip_id_ = 0;
    bool df_ = false, mf_ = false;
    uint16_t frag_off_ = 0;
    std::optional<uint8_t> ip_proto_;
    std::vector<uint8_t> ip_opts_;
    Ipv6Addr ip6_src_{}, ip6_dst_{};

    uint16_t arp_op_ = 0;
    MacAddr arp_sha_, arp_tha_;

    L4 l4_ = L4::kNone;
    uint16_t sport_ = 0, dport_ = 0;  // ICMP: id, seq
    uint8_t tcp_flags_ = 0;
    uint32_t tcp_seq_ = 0, tcp_ack_ = 0;
    bool icmp_request_ = true;

    std::vector<uint8_t> payload_;
    uint8_t fill_ = 0xab;
    size_t frame_size_ = 0;

    std::optional<uint8_t> bad_version_, bad_ihl_, tcp_doff_;
    std::optional<uint16_t> bad_total_len_, bad_udp_len_;
    bool bad_ip_csum_ = false, bad_l4_csum_ = false;
};

// RFC 1071 one's-complement checksum of `data`, with `initial` (an unfolded partial sum,
// e.g. a pseudo header) added in. Returns the value to store (already complemented).
uint16_t internet_checksum(std::span<const uint8_t> data, uint32_t initial = 0);
// CRC32c (Castagnoli) as used by SCTP; the result is stored least significant byte first.
uint32_t crc32c(std::span<const uint8_t> data);

// Test helpers. Both return false for a frame that is not (well-formed enough) IPv4/IPv6.
bool verify_ipv4_checksum(std::span<const uint8_t> frame);
// TCP/UDP/ICMP/ICMPv6/SCTP over IPv4 or IPv6; an IPv4 UDP checksum of 0 means "none" and
// passes. L4 length comes from the IP header, so it must be consistent with the frame.
bool verify_l4_checksum(std::span<const uint8_t> frame);

// Copy of the first n bytes (or all of it if shorter): a frame cut short by the wire.
std::vector<uint8_t> truncate(std::span<const uint8_t> frame, size_t n);

}  // namespace enidp::synth

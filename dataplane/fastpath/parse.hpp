// Header parsing for the fast path.
//
// Who may call: any thread; pure functions over a byte span, no allocation, no logging.
// Byte order: every multi-byte field in ParsedPacket is kept in network order (as on the
// wire) except the offsets and lengths, which are host order.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include "dataplane/fastpath/drop_reason.hpp"

namespace enidp::dp {

enum class L3 : uint8_t { kNone, kIpv4, kIpv6, kArp };

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoSctp = 132;

struct ParsedPacket {
    uint16_t l3_off = 0;    // start of the L3 header (after Ethernet and any 802.1Q tag)
    uint16_t l4_off = 0;    // start of the L4 header (IPv4 only)
    uint16_t l3_len = 0;    // IPv4 total length
    uint16_t vlan_tci = 0;  // network order; meaningful when has_vlan
    L3 l3 = L3::kNone;
    uint8_t proto = 0;      // IPv4 protocol
    bool has_vlan = false;
    uint32_t src_ip = 0;    // network order
    uint32_t dst_ip = 0;    // network order
    uint16_t src_port = 0;  // network order; ICMP: echo identifier
    uint16_t dst_port = 0;  // network order; ICMP: type << 8 | code
};

// ICMP is carried as (type, code) in dst_port so that the five tuple of an echo flow
// (identifier in src_port) is as easy to hash as TCP/UDP.
inline uint8_t icmp_type(const ParsedPacket& p) { return static_cast<uint8_t>(rte_be_to_cpu_16(p.dst_port) >> 8); }

struct ParseResult {
    bool ok;
    Drop drop;  // meaningful when !ok
};

inline constexpr ParseResult kParsed{true, Drop::kCount};
inline constexpr ParseResult fail(Drop d) { return {false, d}; }

namespace detail {
template <typename T>
inline T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
}  // namespace detail

// Parses Ethernet (+ one 802.1Q/802.1ad tag) and, for IPv4, the L3 and L4 headers.
// `len` is the contiguous length at `data` (the first mbuf segment).
// Rejects: truncation at any layer, IPv4 version != 4, IHL < 5, IPv4 options, total
// length larger than the frame or smaller than the header, fragments, TCP data offset < 5.
inline ParseResult parse_packet(const uint8_t* data, uint32_t len, ParsedPacket& out) {
    if (len < sizeof(rte_ether_hdr)) return fail(Drop::kL2Truncated);
    uint16_t off = sizeof(rte_ether_hdr);
    uint16_t etype = detail::load<uint16_t>(data + 12);
    out.has_vlan = false;
    if (etype == RTE_BE16(RTE_ETHER_TYPE_VLAN) || etype == RTE_BE16(RTE_ETHER_TYPE_QINQ)) {
        if (len < off + sizeof(rte_vlan_hdr)) return fail(Drop::kL2Truncated);
        out.has_vlan = true;
        out.vlan_tci = detail::load<uint16_t>(data + off);
        etype = detail::load<uint16_t>(data + off + 2);
        off += sizeof(rte_vlan_hdr);
    }
    out.l3_off = off;
    if (etype == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
        out.l3 = L3::kArp;
        return kParsed;
    }
    if (etype == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
        out.l3 = L3::kIpv6;
        return kParsed;
    }
    if (etype != RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
        out.l3 = L3::kNone;
        return fail(Drop::kEthertypeUnsupported);
    }
    out.l3 = L3::kIpv4;
    if (len < off + sizeof(rte_ipv4_hdr)) return fail(Drop::kIpv4Truncated);
    const uint8_t* ip = data + off;
    const uint8_t vihl = ip[0];
    if ((vihl >> 4) != 4) return fail(Drop::kIpv4BadVersion);
    const uint8_t ihl = vihl & 0x0f;
    if (ihl < 5) return fail(Drop::kIpv4BadIhl);
    if (ihl > 5) return fail(Drop::kIpv4Options);
    const uint16_t total = rte_be_to_cpu_16(detail::load<uint16_t>(ip + 2));
    if (total < sizeof(rte_ipv4_hdr) || total > len - off) return fail(Drop::kIpv4BadLength);
    const uint16_t frag = detail::load<uint16_t>(ip + 6);
    if ((frag & RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0)
        return fail(Drop::kIpv4Fragment);
    out.l3_len = total;
    out.proto = ip[9];
    out.src_ip = detail::load<uint32_t>(ip + 12);
    out.dst_ip = detail::load<uint32_t>(ip + 16);
    out.l4_off = static_cast<uint16_t>(off + sizeof(rte_ipv4_hdr));
    const uint32_t l4_avail = total - sizeof(rte_ipv4_hdr);
    const uint8_t* l4 = data + out.l4_off;
    switch (out.proto) {
        case kProtoTcp: {
            if (l4_avail < 20) return fail(Drop::kL4Truncated);
            const uint8_t doff = l4[12] >> 4;
            if (doff < 5 || doff * 4u > l4_avail) return fail(Drop::kTcpBadOffset);
            out.src_port = detail::load<uint16_t>(l4);
            out.dst_port = detail::load<uint16_t>(l4 + 2);
            break;
        }
        case kProtoUdp:
            if (l4_avail < 8) return fail(Drop::kL4Truncated);
            out.src_port = detail::load<uint16_t>(l4);
            out.dst_port = detail::load<uint16_t>(l4 + 2);
            break;
        case kProtoSctp:
            if (l4_avail < 12) return fail(Drop::kL4Truncated);
            out.src_port = detail::load<uint16_t>(l4);
            out.dst_port = detail::load<uint16_t>(l4 + 2);
            break;
        case kProtoIcmp:
            if (l4_avail < 8) return fail(Drop::kL4Truncated);
            out.dst_port = rte_cpu_to_be_16(static_cast<uint16_t>(l4[0] << 8 | l4[1]));
            out.src_port = detail::load<uint16_t>(l4 + 4);
            break;
        default:
            out.src_port = out.dst_port = 0;
            break;
    }
    return kParsed;
}

}  // namespace enidp::dp

// In-place address/port translation with incremental checksums (RFC 1624), the ICMP
// error rewrite (embedded header reverse-translated), and kube-proxy-style REJECT
// answers (TCP RST, ICMP port unreachable).
//
// Who may call: any thread; pure functions over one packet's first segment, no allocation.
// Addresses and ports are network order.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_hash_crc.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_sctp.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "dataplane/fastpath/parse.hpp"
#include "dataplane/fastpath/responder.hpp"

namespace enidp::lb {

using dp::csum_update16;
using dp::kProtoIcmp;
using dp::kProtoSctp;
using dp::kProtoTcp;
using dp::kProtoUdp;
using dp::ParsedPacket;

// A new (src, sport, dst, dport) for a packet.
struct Tuple {
    uint32_t src;
    uint32_t dst;
    uint16_t sport;
    uint16_t dport;
};

// ICMP types DPDK 22.11's rte_icmp.h does not name.
inline constexpr uint8_t kIcmpDestUnreach = 3;
inline constexpr uint8_t kIcmpTimeExceeded = 11;
inline constexpr uint8_t kIcmpParamProblem = 12;

namespace nat_detail {

inline uint16_t load16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline void store16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline uint32_t load32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline void store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

inline uint16_t csum_update32(uint16_t csum, uint32_t old_v, uint32_t new_v) {
    csum = csum_update16(csum, static_cast<uint16_t>(old_v), static_cast<uint16_t>(new_v));
    return csum_update16(csum, static_cast<uint16_t>(old_v >> 16), static_cast<uint16_t>(new_v >> 16));
}

// Checksum field at `ck` after a 32-bit field covered by it changes.
inline void fix32(uint8_t* ck, uint32_t old_v, uint32_t new_v) { store16(ck, csum_update32(load16(ck), old_v, new_v)); }
inline void fix16(uint8_t* ck, uint16_t old_v, uint16_t new_v) { store16(ck, csum_update16(load16(ck), old_v, new_v)); }

// SCTP's CRC32c (RFC 4960 appendix B) over the whole SCTP packet, checksum field zeroed.
inline void sctp_recompute(uint8_t* l4, uint32_t len) {
    store32(l4 + 8, 0);
    // rte_hash_crc reads whole words: feed it from an 8-byte boundary, bytes before that one by one.
    uint32_t reg = 0xffffffffu;
    uint32_t i = 0;
    for (; i < len && (reinterpret_cast<uintptr_t>(l4 + i) & 7) != 0; i++) reg = rte_hash_crc_1byte(l4[i], reg);
    if (i < len) reg = rte_hash_crc(l4 + i, len - i, reg);
    const uint32_t crc = ~reg;
    store32(l4 + 8, crc);  // little-endian on the wire, as the CRC register holds it
}

}  // namespace nat_detail

// Rewrites the packet's addresses and ports to `t` and patches the IPv4, TCP/UDP
// checksums incrementally (SCTP: recomputed; ICMP echo: the identifier is the port).
// Updates `p` to match.
inline void rewrite(uint8_t* data, ParsedPacket& p, const Tuple& t) {
    using namespace nat_detail;
    uint8_t* ip = data + p.l3_off;
    uint8_t* l4 = data + p.l4_off;
    // One ones'-complement delta for the addresses (IPv4 header and TCP/UDP pseudo header)
    // and one for the ports, each folded once (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
    uint32_t d_addr = 0, d_port = 0;
    auto add32 = [](uint32_t& d, uint32_t o, uint32_t n) {
        d += static_cast<uint16_t>(~o) + static_cast<uint16_t>(~(o >> 16)) + (n & 0xffff) + (n >> 16);
    };
    auto add16 = [](uint32_t& d, uint16_t o, uint16_t n) { d += static_cast<uint16_t>(~o) + n; };
    if (t.src != p.src_ip) {
        store32(ip + 12, t.src);
        add32(d_addr, p.src_ip, t.src);
        p.src_ip = t.src;
    }
    if (t.dst != p.dst_ip) {
        store32(ip + 16, t.dst);
        add32(d_addr, p.dst_ip, t.dst);
        p.dst_ip = t.dst;
    }
    auto apply = [](uint8_t* ck, uint32_t d) {
        uint32_t sum = static_cast<uint16_t>(~load16(ck)) + d;
        store16(ck, static_cast<uint16_t>(~dp::csum_fold(sum)));
    };
    if (d_addr != 0) apply(ip + 10, d_addr);
    switch (p.proto) {
        case kProtoTcp:
        case kProtoUdp: {
            if (t.sport != p.src_port) {
                store16(l4, t.sport);
                add16(d_port, p.src_port, t.sport);
                p.src_port = t.sport;
            }
            if (t.dport != p.dst_port) {
                store16(l4 + 2, t.dport);
                add16(d_port, p.dst_port, t.dport);
                p.dst_port = t.dport;
            }
            uint8_t* ck = l4 + (p.proto == kProtoTcp ? 16 : 6);
            if (p.proto == kProtoUdp && load16(ck) == 0) break;  // the sender sent no checksum
            if (d_addr + d_port != 0) {
                apply(ck, d_addr + d_port);
                if (p.proto == kProtoUdp && load16(ck) == 0) store16(ck, 0xffff);  // 0 means "none"
            }
            break;
        }
        case kProtoIcmp:
            // Echo: the identifier is both "ports"; dst_port holds type/code, not rewritten.
            // No pseudo header: only the identifier counts.
            if (t.sport != p.src_port) {
                store16(l4 + 4, t.sport);
                add16(d_port, p.src_port, t.sport);
                p.src_port = t.sport;
                apply(l4 + 2, d_port);
            }
            break;
        case kProtoSctp:
            if (t.sport != p.src_port || t.dport != p.dst_port) {
                store16(l4, t.sport);
                store16(l4 + 2, t.dport);
                p.src_port = t.sport;
                p.dst_port = t.dport;
                sctp_recompute(l4, static_cast<uint32_t>(p.l3_len - sizeof(rte_ipv4_hdr)));
            }
            break;
        default:
            break;
    }
}

// ---- ICMP errors ----

inline bool is_icmp_error(const ParsedPacket& p) {
    if (p.proto != kProtoIcmp) return false;
    const uint8_t type = dp::icmp_type(p);
    return type == kIcmpDestUnreach || type == kIcmpTimeExceeded || type == kIcmpParamProblem;
}

// The header embedded in an ICMP error: the packet that provoked it.
struct IcmpInner {
    uint16_t ip_off = 0;    // from the frame start
    uint16_t l4_off = 0;
    uint16_t l4_len = 0;    // embedded L4 bytes present (at least 8)
    uint8_t proto = 0;
    uint32_t src = 0, dst = 0;
    uint16_t sport = 0, dport = 0;  // ICMP echo: identifier in both
};

// Reads the embedded IPv4 header + 8 L4 bytes. False when absent, truncated, or not a
// protocol conntrack tracks.
inline bool read_icmp_inner(const uint8_t* data, const ParsedPacket& p, IcmpInner& in) {
    using namespace nat_detail;
    const uint32_t end = p.l3_off + p.l3_len;
    in.ip_off = static_cast<uint16_t>(p.l4_off + 8);
    if (end < in.ip_off + 20u + 8u) return false;
    const uint8_t* ip = data + in.ip_off;
    if ((ip[0] >> 4) != 4) return false;
    const uint32_t ihl = (ip[0] & 0x0f) * 4u;
    if (ihl < 20 || end < in.ip_off + ihl + 8) return false;
    in.l4_off = static_cast<uint16_t>(in.ip_off + ihl);
    in.l4_len = static_cast<uint16_t>(end - in.l4_off);
    in.proto = ip[9];
    in.src = load32(ip + 12);
    in.dst = load32(ip + 16);
    const uint8_t* l4 = data + in.l4_off;
    switch (in.proto) {
        case kProtoTcp:
        case kProtoUdp:
        case kProtoSctp:
            in.sport = load16(l4);
            in.dport = load16(l4 + 2);
            return true;
        case kProtoIcmp:
            if (l4[0] != RTE_IP_ICMP_ECHO_REQUEST && l4[0] != RTE_IP_ICMP_ECHO_REPLY) return false;
            in.sport = in.dport = load16(l4 + 4);
            return true;
        default:
            return false;
    }
}

// Rewrites an ICMP error: the embedded packet gets addresses/ports `inner`, the outer
// header gets `outer_src` / `outer_dst`. Every checksum touched is patched: the embedded
// IPv4 header's, the embedded UDP/TCP checksum when present in the quoted bytes, the outer
// ICMP checksum (which covers all of it) and the outer IPv4 header's.
inline void rewrite_icmp_error(uint8_t* data, ParsedPacket& p, const IcmpInner& in, const Tuple& inner,
                               uint32_t outer_src, uint32_t outer_dst) {
    using namespace nat_detail;
    uint8_t* icmpck = data + p.l4_off + 2;
    uint8_t* iip = data + in.ip_off;
    uint8_t* il4 = data + in.l4_off;
    uint8_t* iipck = iip + 10;
    uint8_t* il4ck = nullptr;
    if (in.proto == kProtoUdp && load16(il4 + 6) != 0) il4ck = il4 + 6;
    if (in.proto == kProtoTcp && in.l4_len >= 18) il4ck = il4 + 16;
    if (in.proto == kProtoIcmp && in.l4_len >= 4) il4ck = il4 + 2;
    const bool pseudo = in.proto == kProtoTcp || in.proto == kProtoUdp;

    // Changes one field inside the quoted packet: the field itself is covered by the ICMP
    // checksum, and so is every checksum the change alters.
    auto patch32 = [&](uint8_t* field, uint32_t nv, bool ip_hdr) {
        const uint32_t ov = load32(field);
        if (ov == nv) return;
        store32(field, nv);
        fix32(icmpck, ov, nv);
        if (ip_hdr) {
            const uint16_t o = load16(iipck);
            fix32(iipck, ov, nv);
            fix16(icmpck, o, load16(iipck));
        }
        if (pseudo && il4ck) {
            const uint16_t o = load16(il4ck);
            fix32(il4ck, ov, nv);
            fix16(icmpck, o, load16(il4ck));
        }
    };
    auto patch16 = [&](uint8_t* field, uint16_t nv) {
        const uint16_t ov = load16(field);
        if (ov == nv) return;
        store16(field, nv);
        fix16(icmpck, ov, nv);
        if (il4ck) {
            const uint16_t o = load16(il4ck);
            fix16(il4ck, ov, nv);
            fix16(icmpck, o, load16(il4ck));
        }
    };
    patch32(iip + 12, inner.src, true);
    patch32(iip + 16, inner.dst, true);
    if (in.proto == kProtoIcmp) {
        patch16(il4 + 4, inner.sport);
    } else {
        patch16(il4, inner.sport);
        patch16(il4 + 2, inner.dport);
    }
    uint8_t* ip = data + p.l3_off;
    if (outer_src != p.src_ip) {
        store32(ip + 12, outer_src);
        fix32(ip + 10, p.src_ip, outer_src);
        p.src_ip = outer_src;
    }
    if (outer_dst != p.dst_ip) {
        store32(ip + 16, outer_dst);
        fix32(ip + 10, p.dst_ip, outer_dst);
        p.dst_ip = outer_dst;
    }
}

// ---- REJECT ----

// Full ones'-complement checksum of `len` bytes plus `sum`.
inline uint16_t csum_bytes(const uint8_t* b, uint32_t len, uint32_t sum = 0) {
    for (uint32_t i = 0; i + 1 < len; i += 2) sum += nat_detail::load16(b + i);
    if (len & 1) {
        uint16_t last = 0;
        std::memcpy(&last, b + len - 1, 1);
        sum += last;
    }
    return static_cast<uint16_t>(~dp::csum_fold(sum));
}

namespace nat_detail {
inline void swap_macs(uint8_t* data) {
    uint8_t tmp[6];
    std::memcpy(tmp, data, 6);
    std::memcpy(data, data + 6, 6);
    std::memcpy(data + 6, tmp, 6);
}
inline void write_ipv4(uint8_t* ip, uint16_t total, uint8_t proto, uint32_t src, uint32_t dst) {
    ip[0] = 0x45;
    ip[1] = 0;
    store16(ip + 2, rte_cpu_to_be_16(total));
    store16(ip + 4, 0);
    store16(ip + 6, RTE_BE16(RTE_IPV4_HDR_DF_FLAG));
    ip[8] = 64;
    ip[9] = proto;
    store16(ip + 10, 0);
    store32(ip + 12, src);
    store32(ip + 16, dst);
    store16(ip + 10, csum_bytes(ip, 20));
}
inline bool set_frame_len(rte_mbuf* m, uint32_t len) {
    if (len > rte_pktmbuf_data_len(m)) {
        if (m->next != nullptr || rte_pktmbuf_append(m, static_cast<uint16_t>(len - rte_pktmbuf_data_len(m))) == nullptr)
            return false;
    } else if (len < rte_pktmbuf_pkt_len(m)) {
        if (m->next != nullptr) return false;
        rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_data_len(m) - len));
    }
    return true;
}
}  // namespace nat_detail

// Turns the TCP segment in `m` into the RST a closed port would send (RFC 793 reset
// generation), addressed back to the sender from the address it was sent to.
inline bool make_tcp_rst(rte_mbuf* m, const ParsedPacket& p) {
    using namespace nat_detail;
    uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
    uint8_t* ip = data + p.l3_off;
    uint8_t* tcp = data + p.l4_off;
    const uint8_t in_flags = tcp[13];
    const uint32_t in_seq = rte_be_to_cpu_32(load32(tcp + 4));
    const uint32_t in_ack = load32(tcp + 8);
    const uint32_t payload = p.l3_len - 20u - (tcp[12] >> 4) * 4u;
    const uint32_t seg_len = payload + ((in_flags & 0x02) ? 1 : 0) + ((in_flags & 0x01) ? 1 : 0);
    swap_macs(data);
    write_ipv4(ip, 40, kProtoTcp, p.dst_ip, p.src_ip);
    store16(tcp, p.dst_port);
    store16(tcp + 2, p.src_port);
    if (in_flags & 0x10) {  // ACK set: RST with seq = their ack
        store32(tcp + 4, in_ack);
        store32(tcp + 8, 0);
        tcp[13] = 0x04;
    } else {
        store32(tcp + 4, 0);
        store32(tcp + 8, rte_cpu_to_be_32(in_seq + seg_len));
        tcp[13] = 0x14;
    }
    tcp[12] = 5 << 4;
    store16(tcp + 14, 0);  // window
    store16(tcp + 16, 0);
    store16(tcp + 18, 0);  // urgent pointer
    uint32_t pseudo = 0;
    pseudo += load16(ip + 12) + load16(ip + 14) + load16(ip + 16) + load16(ip + 18);
    pseudo += rte_cpu_to_be_16(kProtoTcp) + rte_cpu_to_be_16(20);
    store16(tcp + 16, csum_bytes(tcp, 20, pseudo));
    return set_frame_len(m, p.l3_off + 40u);
}

// Turns the datagram in `m` into an ICMP destination-unreachable / port-unreachable
// that quotes its IPv4 header and first 8 payload bytes, from the address it was sent to.
inline bool make_icmp_port_unreachable(rte_mbuf* m, const ParsedPacket& p) {
    using namespace nat_detail;
    constexpr uint32_t kQuote = 28;  // IPv4 header + 8 bytes
    if (m->next != nullptr || p.l3_len < kQuote) return false;
    if (!set_frame_len(m, p.l3_off + 20u + 8u + kQuote)) return false;
    uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
    uint8_t* ip = data + p.l3_off;
    std::memmove(ip + 28, ip, kQuote);
    swap_macs(data);
    write_ipv4(ip, 20 + 8 + kQuote, kProtoIcmp, p.dst_ip, p.src_ip);
    uint8_t* icmp = ip + 20;
    icmp[0] = kIcmpDestUnreach;
    icmp[1] = 3;  // port unreachable
    store16(icmp + 2, 0);
    store32(icmp + 4, 0);
    store16(icmp + 2, csum_bytes(icmp, 8 + kQuote));
    return true;
}

}  // namespace enidp::lb

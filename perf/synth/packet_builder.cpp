#include "perf/synth/packet_builder.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace enidp::synth {

namespace {

// Used when no L3 layer and no ethertype() is given: IEEE 802 "local experimental", so a
// payload-only frame is never mistaken for IPv4.
constexpr uint16_t kEtherTypeExperimental = 0x88b5;

void put16(std::vector<uint8_t>& v, uint16_t x) {
    v.push_back(static_cast<uint8_t>(x >> 8));
    v.push_back(static_cast<uint8_t>(x));
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
    put16(v, static_cast<uint16_t>(x >> 16));
    put16(v, static_cast<uint16_t>(x));
}
void put_bytes(std::vector<uint8_t>& v, std::span<const uint8_t> b) { v.insert(v.end(), b.begin(), b.end()); }

void store16(uint8_t* p, uint16_t x) {
    p[0] = static_cast<uint8_t>(x >> 8);
    p[1] = static_cast<uint8_t>(x);
}
uint16_t load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Unfolded one's-complement sum of 16-bit big-endian words; an odd tail byte is the high
// half of a final word (RFC 1071).
uint64_t sum_words(std::span<const uint8_t> d, uint64_t acc = 0) {
    size_t i = 0;
    for (; i + 1 < d.size(); i += 2) acc += load16(&d[i]);
    if (i < d.size()) acc += uint64_t{d[i]} << 8;
    return acc;
}

uint32_t fold(uint64_t acc) {
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<uint32_t>(acc);
}

uint32_t pseudo_v4(const uint8_t* ip, uint8_t proto, size_t l4_len) {
    // src and dst are the 8 bytes at offset 12 of the IPv4 header.
    return fold(sum_words({ip + 12, 8}) + proto + l4_len);
}

uint32_t pseudo_v6(const uint8_t* ip6, uint8_t proto, size_t l4_len) {
    // src and dst are the 32 bytes at offset 8; the length is 32 bits wide in IPv6.
    return fold(sum_words({ip6 + 8, 32}) + (l4_len >> 16) + (l4_len & 0xffff) + proto);
}

// Offset of the checksum field within the L4 header, or -1 when the protocol has none
// we compute.
int l4_csum_offset(uint8_t proto) {
    switch (proto) {
        case kProtoUdp: return 6;
        case kProtoTcp: return 16;
        case kProtoIcmp:
        case kProtoIcmpv6: return 2;
        case kProtoSctp: return 8;
        default: return -1;
    }
}

size_t min_l4_len(uint8_t proto) {
    switch (proto) {
        case kProtoUdp: return kUdpHdrLen;
        case kProtoTcp: return kTcpHdrLen;
        case kProtoSctp: return kSctpHdrLen;
        default: return kIcmpHdrLen;
    }
}

// Computes and stores the L4 checksum of l4[0, len). `pseudo` is the folded pseudo-header
// sum (0 for ICMPv4 and SCTP, which have none).
void fill_l4_checksum(uint8_t* l4, size_t len, uint8_t proto, uint32_t pseudo, bool corrupt) {
    const int off = l4_csum_offset(proto);
    if (off < 0 || len < min_l4_len(proto)) return;
    if (proto == kProtoSctp) {
        std::fill_n(l4 + off, 4, uint8_t{0});
        uint32_t crc = crc32c({l4, len});
        if (corrupt) crc ^= 1;
        for (int i = 0; i < 4; ++i) l4[off + i] = static_cast<uint8_t>(crc >> (8 * i));
        return;
    }
    store16(l4 + off, 0);
    uint16_t c = internet_checksum({l4, len}, pseudo);
    // UDP sends a computed 0 as 0xffff, since 0 means "no checksum".
    if (proto == kProtoUdp && c == 0) c = 0xffff;
    if (corrupt) c ^= 0x0001;
    store16(l4 + off, c);
}

struct L3View {
    bool v6 = false;
    size_t l3_off = 0;
    size_t l4_off = 0;
    size_t l4_len = 0;
    uint8_t proto = 0;
};

// Locates the IP header and the L4 segment as the IP header describes them.
std::optional<L3View> locate_ip(std::span<const uint8_t> f) {
    if (f.size() < kEthHdrLen) return std::nullopt;
    size_t off = 12;
    uint16_t et = load16(&f[off]);
    while (et == kEtherTypeVlan || et == kEtherTypeQinq) {
        off += kVlanHdrLen;
        if (f.size() < off + 2) return std::nullopt;
        et = load16(&f[off]);
    }
    off += 2;
    L3View v;
    v.l3_off = off;
    if (et == kEtherTypeIpv4) {
        if (f.size() < off + kIpv4HdrLen || (f[off] >> 4) != 4) return std::nullopt;
        const size_t ihl = static_cast<size_t>(f[off] & 0x0f) * 4;
        const size_t total = load16(&f[off + 2]);
        if (ihl < kIpv4HdrLen || total < ihl || f.size() < off + total) return std::nullopt;
        v.l4_off = off + ihl;
        v.l4_len = total - ihl;
        v.proto = f[off + 9];
        return v;
    }
    if (et == kEtherTypeIpv6) {
        if (f.size() < off + kIpv6HdrLen || (f[off] >> 4) != 6) return std::nullopt;
        const size_t plen = load16(&f[off + 4]);
        if (f.size() < off + kIpv6HdrLen + plen) return std::nullopt;
        v.v6 = true;
        v.l4_off = off + kIpv6HdrLen;
        v.l4_len = plen;
        v.proto = f[off + 6];
        return v;
    }
    return std::nullopt;
}

}  // namespace

std::optional<MacAddr> mac_from_string(std::string_view s) {
    MacAddr m;
    if (s.size() != 17) return std::nullopt;
    for (size_t i = 0; i < 6; ++i) {
        const char* p = s.data() + i * 3;
        if (i < 5 && p[2] != ':' && p[2] != '-') return std::nullopt;
        auto [end, ec] = std::from_chars(p, p + 2, m.b[i], 16);
        if (ec != std::errc{} || end != p + 2) return std::nullopt;
    }
    return m;
}

std::string to_string(const MacAddr& mac) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac.b[0], mac.b[1], mac.b[2], mac.b[3], mac.b[4],
                  mac.b[5]);
    return buf;
}

std::optional<uint32_t> ipv4_from_string(std::string_view s) {
    uint32_t addr = 0;
    const char* p = s.data();
    const char* end = s.data() + s.size();
    for (int i = 0; i < 4; ++i) {
        if (i > 0) {
            if (p == end || *p != '.') return std::nullopt;
            ++p;
        }
        unsigned octet = 0;
        auto [next, ec] = std::from_chars(p, end, octet, 10);
        // from_chars accepts no sign or space, which is what we want; cap the digit count
        // so "0001" style inputs are rejected along with values above 255.
        if (ec != std::errc{} || next - p > 3 || octet > 255) return std::nullopt;
        addr = addr << 8 | octet;
        p = next;
    }
    if (p != end) return std::nullopt;
    return addr;
}

std::string ipv4_to_string(uint32_t a) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
    return buf;
}

uint16_t internet_checksum(std::span<const uint8_t> data, uint32_t initial) {
    return static_cast<uint16_t>(~fold(sum_words(data, initial)));
}

uint32_t crc32c(std::span<const uint8_t> data) {
    static const auto kTable = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    uint32_t crc = ~0u;
    for (uint8_t b : data) crc = kTable[(crc ^ b) & 0xff] ^ (crc >> 8);
    return ~crc;
}

PacketBuilder& PacketBuilder::eth(MacAddr src, MacAddr dst) {
    eth_src_ = src;
    eth_dst_ = dst;
    return *this;
}
PacketBuilder& PacketBuilder::vlan(uint16_t tci, uint16_t tpid) {
    vlans_.emplace_back(tpid, tci);
    return *this;
}
PacketBuilder& PacketBuilder::ethertype(uint16_t type) {
    ethertype_ = type;
    return *this;
}
PacketBuilder& PacketBuilder::ipv4(uint32_t src, uint32_t dst, uint8_t ttl) {
    l3_ = L3::kIpv4;
    ip_src_ = src;
    ip_dst_ = dst;
    ttl_ = ttl;
    return *this;
}
PacketBuilder& PacketBuilder::ipv4_options(std::vector<uint8_t> opts) {
    ip_opts_ = std::move(opts);
    ip_opts_.resize((ip_opts_.size() + 3) / 4 * 4, 0);
    return *this;
}
PacketBuilder& PacketBuilder::ip_id(uint16_t id) {
    ip_id_ = id;
    return *this;
}
PacketBuilder& PacketBuilder::dont_fragment(bool df) {
    df_ = df;
    return *this;
}
PacketBuilder& PacketBuilder::fragment(bool more_fragments, uint16_t offset_8b) {
    mf_ = more_fragments;
    frag_off_ = offset_8b & 0x1fff;
    return *this;
}
PacketBuilder& PacketBuilder::ip_proto(uint8_t proto) {
    ip_proto_ = proto;
    return *this;
}
PacketBuilder& PacketBuilder::ipv6(const Ipv6Addr& src, const Ipv6Addr& dst, uint8_t hop_limit) {
    l3_ = L3::kIpv6;
    ip6_src_ = src;
    ip6_dst_ = dst;
    ttl_ = hop_limit;
    return *this;
}
PacketBuilder& PacketBuilder::udp(uint16_t sport, uint16_t dport) {
    l4_ = L4::kUdp;
    sport_ = sport;
    dport_ = dport;
    return *this;
}
PacketBuilder& PacketBuilder::tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack) {
    l4_ = L4::kTcp;
    sport_ = sport;
    dport_ = dport;
    tcp_flags_ = flags;
    tcp_seq_ = seq;
    tcp_ack_ = ack;
    return *this;
}
PacketBuilder& PacketBuilder::sctp(uint16_t sport, uint16_t dport) {
    l4_ = L4::kSctp;
    sport_ = sport;
    dport_ = dport;
    return *this;
}
PacketBuilder& PacketBuilder::icmp_echo(bool request, uint16_t id, uint16_t seq) {
    l4_ = L4::kIcmpEcho;
    icmp_request_ = request;
    sport_ = id;
    dport_ = seq;
    return *this;
}
PacketBuilder& PacketBuilder::arp_request(MacAddr sha, uint32_t spa, uint32_t tpa) {
    arp_reply(sha, spa, MacAddr{}, tpa);
    arp_op_ = 1;
    return *this;
}
PacketBuilder& PacketBuilder::arp_reply(MacAddr sha, uint32_t spa, MacAddr tha, uint32_t tpa) {
    l3_ = L3::kArp;
    l4_ = L4::kNone;
    arp_op_ = 2;
    arp_sha_ = sha;
    arp_tha_ = tha;
    ip_src_ = spa;
    ip_dst_ = tpa;
    return *this;
}
PacketBuilder& PacketBuilder::payload(size_t bytes, uint8_t fill) {
    payload_.assign(bytes, fill);
    fill_ = fill;
    return *this;
}
PacketBuilder& PacketBuilder::payload(std::span<const uint8_t> bytes) {
    payload_.assign(bytes.begin(), bytes.end());
    return *this;
}
PacketBuilder& PacketBuilder::frame_size(size_t total_bytes) {
    frame_size_ = total_bytes;
    return *this;
}
PacketBuilder& PacketBuilder::bad_version(uint8_t version) {
    bad_version_ = version;
    return *this;
}
PacketBuilder& PacketBuilder::bad_ihl(uint8_t ihl) {
    bad_ihl_ = ihl;
    return *this;
}
PacketBuilder& PacketBuilder::bad_total_length(uint16_t length) {
    bad_total_len_ = length;
    return *this;
}
PacketBuilder& PacketBuilder::tcp_data_offset(uint8_t words) {
    tcp_doff_ = words;
    return *this;
}
PacketBuilder& PacketBuilder::bad_udp_length(uint16_t length) {
    bad_udp_len_ = length;
    return *this;
}
PacketBuilder& PacketBuilder::bad_ip_checksum() {
    bad_ip_csum_ = true;
    return *this;
}
PacketBuilder& PacketBuilder::bad_l4_checksum() {
    bad_l4_csum_ = true;
    return *this;
}

std::vector<uint8_t> PacketBuilder::build() const {
    const bool v6 = l3_ == L3::kIpv6;
    uint8_t proto = ip_proto_.value_or(0);
    size_t l4_hdr = 0;
    switch (l4_) {
        case L4::kNone: break;
        case L4::kUdp: proto = kProtoUdp, l4_hdr = kUdpHdrLen; break;
        case L4::kTcp: proto = kProtoTcp, l4_hdr = kTcpHdrLen; break;
        case L4::kSctp: proto = kProtoSctp, l4_hdr = kSctpHdrLen; break;
        case L4::kIcmpEcho: proto = v6 ? kProtoIcmpv6 : kProtoIcmp, l4_hdr = kIcmpHdrLen; break;
    }
    size_t l3_hdr = 0;
    uint16_t etype = kEtherTypeExperimental;
    switch (l3_) {
        case L3::kNone: l4_hdr = 0; break;
        case L3::kIpv4: l3_hdr = kIpv4HdrLen + ip_opts_.size(), etype = kEtherTypeIpv4; break;
        case L3::kIpv6: l3_hdr = kIpv6HdrLen, etype = kEtherTypeIpv6; break;
        case L3::kArp: l3_hdr = kArpLen, l4_hdr = 0, etype = kEtherTypeArp; break;
    }
    etype = ethertype_.value_or(etype);

    const size_t l3_off = kEthHdrLen + kVlanHdrLen * vlans_.size();
    const size_t headers = l3_off + l3_hdr + l4_hdr;
    std::vector<uint8_t> body = payload_;
    if (frame_size_ > headers + body.size()) body.resize(frame_size_ - headers, l3_ == L3::kArp ? uint8_t{0} : fill_);
    const size_t l4_len = l4_hdr + body.size();

    std::vector<uint8_t> f;
    f.reserve(headers + body.size());
    put_bytes(f, eth_dst_.b);
    put_bytes(f, eth_src_.b);
    for (auto [tpid, tci] : vlans_) {
        put16(f, tpid);
        put16(f, tci);
    }
    put16(f, etype);

    if (l3_ == L3::kIpv4) {
        const uint8_t ihl = static_cast<uint8_t>(l3_hdr / 4);
        f.push_back(static_cast<uint8_t>(bad_version_.value_or(4) << 4 | (bad_ihl_.value_or(ihl) & 0x0f)));
        f.push_back(0);  // DSCP/ECN
        put16(f, bad_total_len_.value_or(static_cast<uint16_t>(l3_hdr + l4_len)));
        put16(f, ip_id_);
        put16(f, static_cast<uint16_t>((df_ ? 0x4000 : 0) | (mf_ ? 0x2000 : 0) | frag_off_));
        f.push_back(ttl_);
        f.push_back(proto);
        put16(f, 0);  // header checksum, filled below
        put32(f, ip_src_);
        put32(f, ip_dst_);
        put_bytes(f, ip_opts_);
    } else if (v6) {
        put32(f, 0x60000000u);  // version 6, traffic class 0, flow label 0
        put16(f, bad_total_len_.value_or(static_cast<uint16_t>(l4_len)));
        f.push_back(proto);
        f.push_back(ttl_);
        put_bytes(f, ip6_src_);
        put_bytes(f, ip6_dst_);
    } else if (l3_ == L3::kArp) {
        put16(f, 1);  // hardware type: Ethernet
        put16(f, kEtherTypeIpv4);
        f.push_back(6);
        f.push_back(4);
        put16(f, arp_op_);
        put_bytes(f, arp_sha_.b);
        put32(f, ip_src_);
        put_bytes(f, arp_tha_.b);
        put32(f, ip_dst_);
    }

    const size_t l4_off = f.size();
    switch (l4_hdr ? l4_ : L4::kNone) {
        case L4::kNone: break;
        case L4::kUdp:
            put16(f, sport_);
            put16(f, dport_);
            put16(f, bad_udp_len_.value_or(static_cast<uint16_t>(l4_len)));
            put16(f, 0);
            break;
        case L4::kTcp:
            put16(f, sport_);
            put16(f, dport_);
            put32(f, tcp_seq_);
            put32(f, tcp_ack_);
            f.push_back(static_cast<uint8_t>(tcp_doff_.value_or(kTcpHdrLen / 4) << 4));
            f.push_back(tcp_flags_);
            put16(f, 0xffff);  // window
            put16(f, 0);       // checksum
            put16(f, 0);       // urgent pointer
            break;
        case L4::kSctp:
            put16(f, sport_);
            put16(f, dport_);
            put32(f, 0);  // verification tag
            put32(f, 0);  // checksum
            break;
        case L4::kIcmpEcho: {
            const uint8_t type = v6 ? (icmp_request_ ? 128 : 129) : (icmp_request_ ? 8 : 0);
            f.push_back(type);
            f.push_back(0);  // code
            put16(f, 0);
            put16(f, sport_);
            put16(f, dport_);
            break;
        }
    }
    put_bytes(f, body);

    if (l4_hdr) {
        uint32_t pseudo = 0;
        if (proto == kProtoTcp || proto == kProtoUdp || proto == kProtoIcmpv6)
            pseudo = v6 ? pseudo_v6(&f[l3_off], proto, l4_len) : pseudo_v4(&f[l3_off], proto, l4_len);
        fill_l4_checksum(&f[l4_off], l4_len, proto, pseudo, bad_l4_csum_);
    }
    if (l3_ == L3::kIpv4) {
        uint16_t c = internet_checksum({&f[l3_off], l3_hdr});
        if (bad_ip_csum_) c ^= 0x0001;
        store16(&f[l3_off + 10], c);
    }
    return f;
}

bool verify_ipv4_checksum(std::span<const uint8_t> frame) {
    auto v = locate_ip(frame);
    if (!v || v->v6) return false;
    return internet_checksum(frame.subspan(v->l3_off, v->l4_off - v->l3_off)) == 0;
}

bool verify_l4_checksum(std::span<const uint8_t> frame) {
    auto v = locate_ip(frame);
    if (!v || l4_csum_offset(v->proto) < 0 || v->l4_len < min_l4_len(v->proto)) return false;
    const uint8_t* l4 = &frame[v->l4_off];
    const auto seg = frame.subspan(v->l4_off, v->l4_len);
    const uint8_t* ip = &frame[v->l3_off];
    switch (v->proto) {
        case kProtoSctp: {
            std::vector<uint8_t> copy(seg.begin(), seg.end());
            const uint32_t stored =
                uint32_t{copy[8]} | uint32_t{copy[9]} << 8 | uint32_t{copy[10]} << 16 | uint32_t{copy[11]} << 24;
            std::fill_n(copy.begin() + 8, 4, uint8_t{0});
            return crc32c(copy) == stored;
        }
        case kProtoIcmp: return internet_checksum(seg) == 0;
        case kProtoUdp:
            if (!v->v6 && load16(l4 + 6) == 0) return true;
            [[fallthrough]];
        default: {
            const uint32_t pseudo = v->v6 ? pseudo_v6(ip, v->proto, v->l4_len) : pseudo_v4(ip, v->proto, v->l4_len);
            return internet_checksum(seg, pseudo) == 0;
        }
    }
}

std::vector<uint8_t> truncate(std::span<const uint8_t> frame, size_t n) {
    return {frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(std::min(n, frame.size()))};
}

}  // namespace enidp::synth

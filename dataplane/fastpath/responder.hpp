// Local answers built in place: ARP replies and ICMP echo replies.
//
// Who may call: any thread; pure functions over a packet's bytes, no allocation.
// Addresses are in network order, MACs in wire order.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "dataplane/fastpath/parse.hpp"

namespace enidp::dp {

struct ArpView {
    uint16_t op;          // host order: RTE_ARP_OP_REQUEST / RTE_ARP_OP_REPLY
    rte_ether_addr sha;   // sender MAC
    uint32_t spa;         // sender IP, network order
    uint32_t tpa;         // target IP, network order
};

// Validates an Ethernet/IPv4 ARP packet at data+l3_off. Returns false if it is not one.
inline bool read_arp(const uint8_t* data, uint32_t len, uint16_t l3_off, ArpView& out) {
    if (len < l3_off + sizeof(rte_arp_hdr)) return false;
    rte_arp_hdr a;
    std::memcpy(&a, data + l3_off, sizeof a);
    if (a.arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) || a.arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
        a.arp_hlen != RTE_ETHER_ADDR_LEN || a.arp_plen != 4)
        return false;
    out.op = rte_be_to_cpu_16(a.arp_opcode);
    out.sha = a.arp_data.arp_sha;
    std::memcpy(&out.spa, &a.arp_data.arp_sip, 4);
    std::memcpy(&out.tpa, &a.arp_data.arp_tip, 4);
    return true;
}

// Turns the ARP request at data+l3_off into a reply that says `answer_ip` is at
// `answer_mac`, addressed back to the requester (Ethernet header rewritten too; an
// 802.1Q tag, if any, is kept).
inline void make_arp_reply(uint8_t* data, uint16_t l3_off, const rte_ether_addr& answer_mac, uint32_t answer_ip) {
    auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
    auto* a = reinterpret_cast<rte_arp_hdr*>(data + l3_off);
    const rte_ether_addr requester_mac = a->arp_data.arp_sha;
    const uint32_t requester_ip = a->arp_data.arp_sip;
    a->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
    a->arp_data.arp_tha = requester_mac;
    a->arp_data.arp_tip = requester_ip;
    a->arp_data.arp_sha = answer_mac;
    a->arp_data.arp_sip = answer_ip;
    eth->dst_addr = requester_mac;
    eth->src_addr = answer_mac;
}

// Writes a complete broadcast ARP request (Ethernet + ARP, 42 bytes) into `out`.
inline uint16_t write_arp_request(uint8_t* out, const rte_ether_addr& src_mac, uint32_t src_ip, uint32_t target_ip) {
    auto* eth = reinterpret_cast<rte_ether_hdr*>(out);
    std::memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
    eth->src_addr = src_mac;
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
    auto* a = reinterpret_cast<rte_arp_hdr*>(out + sizeof(rte_ether_hdr));
    a->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
    a->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    a->arp_hlen = RTE_ETHER_ADDR_LEN;
    a->arp_plen = 4;
    a->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
    a->arp_data.arp_sha = src_mac;
    a->arp_data.arp_sip = src_ip;
    std::memset(&a->arp_data.arp_tha, 0, RTE_ETHER_ADDR_LEN);
    a->arp_data.arp_tip = target_ip;
    return sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr);
}

// Ones'-complement sum helpers (RFC 1624 incremental update).
inline uint16_t csum_fold(uint32_t sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

// Checksum after one 16-bit field changed from `old_v` to `new_v` (all network order).
inline uint16_t csum_update16(uint16_t csum, uint16_t old_v, uint16_t new_v) {
    uint32_t sum = static_cast<uint16_t>(~csum);
    sum += static_cast<uint16_t>(~old_v);
    sum += new_v;
    return static_cast<uint16_t>(~csum_fold(sum));
}

// Turns an ICMP echo request (already parsed into `p`) into its echo reply in place:
// MACs swapped, IPs swapped, type 8 → 0 with an incremental checksum update.
// The reply leaves from `reply_src_mac` (the address the request was sent to).
inline void make_icmp_echo_reply(uint8_t* data, const ParsedPacket& p, const rte_ether_addr& reply_src_mac) {
    auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
    eth->dst_addr = eth->src_addr;
    eth->src_addr = reply_src_mac;
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(data + p.l3_off);
    const uint32_t s = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = s;  // swapping addresses leaves the IPv4 header checksum unchanged
    auto* icmp = reinterpret_cast<rte_icmp_hdr*>(data + p.l4_off);
    const uint16_t old_word = static_cast<uint16_t>(rte_cpu_to_be_16(static_cast<uint16_t>(icmp->icmp_type << 8 | icmp->icmp_code)));
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    const uint16_t new_word = static_cast<uint16_t>(rte_cpu_to_be_16(static_cast<uint16_t>(icmp->icmp_type << 8 | icmp->icmp_code)));
    icmp->icmp_cksum = csum_update16(icmp->icmp_cksum, old_word, new_word);
}

}  // namespace enidp::dp

// The packet pipeline: one burst from one port, specialised per port role at compile time.
//
//   pod port RX ─► parse ─► anti-spoof ─► [gateway: ARP / ICMP echo] ─► local pod? ─► pod port TX
//                                                                  └─► ENI TX (ENI MAC → gateway MAC)
//   ENI RX ─► parse ─► L2 check ─► [ARP: answer for the pod IP, learn the gateway] ─► pod port TX
//
// Later stages (service DNAT, conntrack, policy) slot in between anti-spoof and the
// output decision of each path; the Sink is where every packet ends.
//
// Who may call: a worker, or a test, holding `snap` for the whole call (between two RCU
// quiescent reports). Never blocks, allocates, logs or throws.
//
// Sink concept:
//   void to_port(uint16_t port, rte_mbuf* m);   // takes ownership
//   void drop(rte_mbuf* m, Drop reason);         // takes ownership, frees, counts
//   void consumed(rte_mbuf* m);                  // takes ownership, frees (not a drop)
//   WorkerStats& stats();
#pragma once

#include <cstdint>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "dataplane/fastpath/parse.hpp"
#include "dataplane/fastpath/responder.hpp"
#include "dataplane/fastpath/stats.hpp"
#include "dataplane/fastpath/tables.hpp"

namespace enidp::dp {

namespace detail {

inline bool bad_rx_ip_checksum(const rte_mbuf* m) {
    return (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD;
}

inline void set_macs(uint8_t* data, const rte_ether_addr& src, const rte_ether_addr& dst) {
    auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
    eth->dst_addr = dst;
    eth->src_addr = src;
}

inline constexpr int kPrefetchAhead = 4;

inline void prefetch_first(rte_mbuf** pkts, uint16_t n) {
    for (uint16_t i = 0; i < kPrefetchAhead && i < n; i++) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
}
inline void prefetch_ahead(rte_mbuf** pkts, uint16_t i, uint16_t n) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
}

// Parses `m`; a malformed or 802.1Q-tagged frame is dropped (counted) and nullptr
// returned. Neither ENIs nor pod ports carry tags yet (trunk ENIs would).
template <class Sink>
inline uint8_t* parse_untagged(rte_mbuf* m, ParsedPacket& p, Sink& sink) {
    uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
    const ParseResult r = parse_packet(data, rte_pktmbuf_data_len(m), p);
    if (!r.ok) [[unlikely]] {
        sink.drop(m, r.drop);
        return nullptr;
    }
    if (p.has_vlan) [[unlikely]] {
        sink.drop(m, Drop::kVlanUnexpected);
        return nullptr;
    }
    return data;
}

}  // namespace detail

// Pod egress: everything a pod sends.
template <class Sink>
inline void process_pod_burst(const Snapshot& snap, const PodEntry& pod, uint16_t in_port, rte_mbuf** pkts,
                              uint16_t n, Sink& sink) {
    const EniEntry* eni = pod.eni != kNoIndex ? &snap.enis[pod.eni] : nullptr;
    rte_ether_addr gw_mac;
    const bool gw_known = eni != nullptr && eni->gateway->get(gw_mac);
    WorkerStats& st = sink.stats();
    uint16_t to_eni = 0;

    detail::prefetch_first(pkts, n);
    for (uint16_t i = 0; i < n; i++) {
        detail::prefetch_ahead(pkts, i, n);
        rte_mbuf* m = pkts[i];
        ParsedPacket p;
        uint8_t* data = detail::parse_untagged(m, p, sink);
        if (data == nullptr) continue;
        const auto* eth = reinterpret_cast<const rte_ether_hdr*>(data);
        if (!rte_is_same_ether_addr(&eth->src_addr, &pod.mac)) {
            sink.drop(m, Drop::kSpoofedMac);
            continue;
        }
        if (p.l3 == L3::kIpv4) [[likely]] {
            if (detail::bad_rx_ip_checksum(m)) {
                sink.drop(m, Drop::kIpv4BadChecksum);
                continue;
            }
            if (p.src_ip != pod.ip) {
                sink.drop(m, Drop::kSpoofedIp);
                continue;
            }
            const uint32_t local = snap.pod_by_ip.find(p.dst_ip);
            if (local != kNoIndex) {
                const PodEntry& dst = snap.pods[local];
                if (!dst.link_up) {
                    sink.drop(m, Drop::kPodPortDown);
                    continue;
                }
                detail::set_macs(data, snap.gateway_mac, dst.mac);
                st.event(Event::kLocalShortcut);
                sink.to_port(dst.port, m);
                continue;
            }
            if (eni == nullptr) [[unlikely]] {
                sink.drop(m, Drop::kNoPort);
                continue;
            }
            // The virtual router answers pings itself; anything else for the gateway IP
            // goes to the real VPC router like any other off-pod traffic.
            if (p.dst_ip == eni->gateway_ip && p.proto == kProtoIcmp && icmp_type(p) == RTE_IP_ICMP_ECHO_REQUEST)
                [[unlikely]] {
                make_icmp_echo_reply(data, p, snap.gateway_mac);
                st.event(Event::kIcmpEchoReplied);
                sink.to_port(in_port, m);
                continue;
            }
            if (!gw_known) [[unlikely]] {
                sink.drop(m, Drop::kGatewayUnresolved);
                continue;
            }
            detail::set_macs(data, eni->mac, gw_mac);
            to_eni++;
            sink.to_port(eni->port, m);
            continue;
        }
        if (p.l3 == L3::kArp) {
            ArpView a;
            if (!read_arp(data, rte_pktmbuf_data_len(m), p.l3_off, a)) {
                sink.drop(m, Drop::kArpMalformed);
                continue;
            }
            // Proxy ARP: the pod reaches everything, its subnet included, through the
            // virtual router. Its own address (duplicate address detection) is not answered.
            if (a.op == RTE_ARP_OP_REQUEST && a.tpa != pod.ip && a.spa == pod.ip) {
                make_arp_reply(data, p.l3_off, snap.gateway_mac, a.tpa);
                st.event(Event::kArpReplied);
                sink.to_port(in_port, m);
            } else {
                sink.drop(m, Drop::kArpNotForUs);
            }
            continue;
        }
        sink.drop(m, Drop::kIpv6Unsupported);
    }
    st.event(Event::kToEni, to_eni);
}

// ENI ingress: everything the VPC sends to one ENI.
template <class Sink>
inline void process_eni_burst(const Snapshot& snap, const EniEntry& eni, uint16_t in_port, rte_mbuf** pkts,
                              uint16_t n, Sink& sink) {
    const PodEntry* pod = eni.pod != kNoIndex ? &snap.pods[eni.pod] : nullptr;
    WorkerStats& st = sink.stats();
    uint16_t to_pod = 0;

    detail::prefetch_first(pkts, n);
    for (uint16_t i = 0; i < n; i++) {
        detail::prefetch_ahead(pkts, i, n);
        rte_mbuf* m = pkts[i];
        ParsedPacket p;
        uint8_t* data = detail::parse_untagged(m, p, sink);
        if (data == nullptr) continue;
        const auto* eth = reinterpret_cast<const rte_ether_hdr*>(data);
        if (!rte_is_multicast_ether_addr(&eth->dst_addr) && !rte_is_same_ether_addr(&eth->dst_addr, &eni.mac)) {
            sink.drop(m, Drop::kL2NotForUs);
            continue;
        }
        if (p.l3 == L3::kIpv4) [[likely]] {
            if (detail::bad_rx_ip_checksum(m)) {
                sink.drop(m, Drop::kIpv4BadChecksum);
                continue;
            }
            if (pod == nullptr || p.dst_ip != pod->ip) {
                sink.drop(m, Drop::kNotForPod);
                continue;
            }
            if (!pod->link_up) {
                sink.drop(m, Drop::kPodPortDown);
                continue;
            }
            detail::set_macs(data, snap.gateway_mac, pod->mac);
            to_pod++;
            sink.to_port(pod->port, m);
            continue;
        }
        if (p.l3 == L3::kArp) {
            ArpView a;
            if (!read_arp(data, rte_pktmbuf_data_len(m), p.l3_off, a)) {
                sink.drop(m, Drop::kArpMalformed);
                continue;
            }
            if (a.spa == eni.gateway_ip && !rte_is_multicast_ether_addr(&a.sha)) {
                eni.gateway->set(a.sha);
                st.event(Event::kArpLearned);
            }
            if (a.op == RTE_ARP_OP_REQUEST && (a.tpa == eni.ip || (pod != nullptr && a.tpa == pod->ip))) {
                make_arp_reply(data, p.l3_off, eni.mac, a.tpa);
                st.event(Event::kArpReplied);
                sink.to_port(in_port, m);
            } else if (a.spa == eni.gateway_ip) {
                sink.consumed(m);
            } else {
                sink.drop(m, Drop::kArpNotForUs);
            }
            continue;
        }
        sink.drop(m, Drop::kIpv6Unsupported);
    }
    st.event(Event::kToPod, to_pod);
}

// Dispatch on the receiving port's role (once per burst).
template <class Sink>
inline void process_burst(const Snapshot& snap, uint16_t in_port, rte_mbuf** pkts, uint16_t n, Sink& sink) {
    const PortEntry& pe = snap.ports[in_port];
    switch (pe.role) {
        case PortRole::kPod:
            process_pod_burst(snap, snap.pods[pe.index], in_port, pkts, n, sink);
            return;
        case PortRole::kEni:
            process_eni_burst(snap, snap.enis[pe.index], in_port, pkts, n, sink);
            return;
        case PortRole::kUnused:
            break;
    }
    for (uint16_t i = 0; i < n; i++) sink.drop(pkts[i], Drop::kNoPort);
}

}  // namespace enidp::dp

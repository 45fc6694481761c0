// The packet pipeline: one burst from one port, specialised per port role at compile time.
//
//   pod port RX ─► parse ─► anti-spoof ─► [gateway: ARP / ICMP echo] ─► local pod? ─► pod port TX
//                                                                  └─► ENI TX (ENI MAC → gateway MAC)
//   ENI RX ─► parse ─► L2 check ─► [ARP: answer for the pod IP, learn the gateway] ─► pod port TX
//
// IPv4 TCP/UDP/SCTP/ICMP packets go through the Service stage (lb/fastpath/service_stage.hpp)
// between the checks and the output decision, in groups of up to 64 so conntrack is looked
// up in bulk; the stage is skipped while the node has no Service, no tracked flow and no
// policy. The NetworkPolicy stage (policy_stage.hpp) follows it on the translated packet
// whenever a policy snapshot is published. The Sink is where every packet ends.
//
// Who may call: a worker, or a test, holding `snap` for the whole call (between two RCU
// quiescent reports). Never blocks, allocates, logs or throws.
//
// Sink concept:
//   void to_port(uint16_t port, rte_mbuf* m);   // takes ownership
//   void drop(rte_mbuf* m, Drop reason);         // takes ownership, frees, counts
//   void consumed(rte_mbuf* m);                  // takes ownership, frees (not a drop)
//   WorkerStats& stats();
//   lb::LbWorker& lb_worker();                   // per-worker Service-stage scratch
//   PolicyWorker& policy_worker();               // optional: counters, verdict log, scratch index
#pragma once

#include <cstdint>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "dataplane/fastpath/parse.hpp"
#include "dataplane/fastpath/policy_stage.hpp"
#include "dataplane/fastpath/responder.hpp"
#include "dataplane/fastpath/stats.hpp"
#include "dataplane/fastpath/tables.hpp"
#include "lb/fastpath/service_stage.hpp"

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

// The largest burst the Service stage handles at once (rte_hash bulk lookup limit).
inline constexpr uint16_t kStageBurst = 64;

namespace detail {

// IPv4 packets waiting for the Service stage's bulk conntrack lookup.
struct Pending {
    uint16_t n = 0;
    rte_mbuf* m[kStageBurst];
    uint8_t* data[kStageBurst];
    ParsedPacket p[kStageBurst];
    lb::CtKey keys[kStageBurst];
    hash_sig_t sigs[kStageBurst];
    lb::Flow* flows[kStageBurst];
    lb::CtDir dirs[kStageBurst];

    // Through the worker's flow cache; misses go to the shared table in one bulk call.
    void lookup(const lb::Conntrack& ct, lb::FlowCache& cache) { cache.lookup(ct, keys, n, sigs, flows, dirs); }
};

// The calling thread's Pending: about 5 KiB whose members have default initialisers, so a
// fresh one per burst would be zeroed every time. Bursts on one thread never nest.
inline Pending& pending_scratch() {
    static thread_local Pending p;
    p.n = 0;
    return p;
}

// Sends a packet out of the ENI on `port` toward the VPC gateway (or drops it).
template <class Sink>
inline void to_eni_port(const Snapshot& snap, uint16_t port, rte_mbuf* m, uint8_t* data, Sink& sink) {
    const PortEntry& pe = snap.ports[port];
    if (pe.role != PortRole::kEni) [[unlikely]] {
        sink.drop(m, Drop::kNoPort);
        return;
    }
    const EniEntry& e = snap.enis[pe.index];
    rte_ether_addr gw;
    if (!e.gateway->get(gw)) [[unlikely]] {
        sink.drop(m, Drop::kGatewayUnresolved);
        return;
    }
    set_macs(data, e.mac, gw);
    sink.stats().event(Event::kToEni);
    sink.to_port(port, m);
}

// Delivers to a pod on this node, if `dst` is one. False when it is not.
template <class Sink>
inline bool to_local_pod(const Snapshot& snap, uint32_t dst, rte_mbuf* m, uint8_t* data, Sink& sink, Event ev) {
    const uint32_t local = snap.pod_by_ip.find(dst);
    if (local == kNoIndex) return false;
    const PodEntry& pod = snap.pods[local];
    if (!pod.link_up) {
        sink.drop(m, Drop::kPodPortDown);
        return true;
    }
    set_macs(data, snap.gateway_mac, pod.mac);
    sink.stats().event(ev);
    sink.to_port(pod.port, m);
    return true;
}

// Where a pod's off-node packets leave, resolved once per burst: its ENI's port, MACs and
// gateway (a gateway MAC learned mid-burst applies from the next burst).
struct PodEgress {
    Drop drop = Drop::kNoPort;  // kCount: `port` is usable
    uint16_t port = 0;
    uint32_t gateway_ip = 0;
    rte_ether_addr src{}, dst{};

    PodEgress(const Snapshot& snap, const PodEntry& pod) {
        if (pod.eni == kNoIndex) return;
        const EniEntry& eni = snap.enis[pod.eni];
        gateway_ip = eni.gateway_ip;
        port = eni.port;
        const PortEntry& pe = snap.ports[port];
        if (pe.role != PortRole::kEni) return;
        const EniEntry& out = snap.enis[pe.index];  // what to_eni_port() would use
        if (!out.gateway->get(dst)) {
            drop = Drop::kGatewayUnresolved;
            return;
        }
        src = out.mac;
        drop = Drop::kCount;
    }
};

// The routing decision for an IPv4 packet a pod sent (after the Service stage).
template <class Sink>
inline void route_from_pod(const Snapshot& snap, const PodEntry& pod, const PodEgress& eg, uint16_t in_port,
                           rte_mbuf* m, uint8_t* data, const ParsedPacket& p, uint16_t out_port, Sink& sink) {
    if (out_port != lb::kNoPort) {  // a reply to external traffic leaves by the ENI it came in on
        to_eni_port(snap, out_port, m, data, sink);
        return;
    }
    if (to_local_pod(snap, p.dst_ip, m, data, sink, Event::kLocalShortcut)) return;
    if (pod.eni == kNoIndex) [[unlikely]] {
        sink.drop(m, Drop::kNoPort);
        return;
    }
    // The virtual router answers pings itself; anything else for the gateway IP goes to
    // the real VPC router like any other off-pod traffic.
    if (p.dst_ip == eg.gateway_ip && p.proto == kProtoIcmp && icmp_type(p) == RTE_IP_ICMP_ECHO_REQUEST) [[unlikely]] {
        make_icmp_echo_reply(data, p, snap.gateway_mac);
        sink.stats().event(Event::kIcmpEchoReplied);
        sink.to_port(in_port, m);
        return;
    }
    if (eg.drop != Drop::kCount) [[unlikely]] {  // what to_eni_port() would drop it for
        sink.drop(m, eg.drop);
        return;
    }
    set_macs(data, eg.src, eg.dst);
    sink.stats().event(Event::kToEni);
    sink.to_port(eg.port, m);
}

template <class Sink>
inline PolicyWorker* policy_worker_of(Sink& sink) {
    if constexpr (requires { sink.policy_worker(); })
        return &sink.policy_worker();
    else
        return nullptr;
}

// Policy for the untracked packets of a burst: every rte_acl question they raise is collected
// (a dry run of decide_flow_with that answers "allowed", so both directions are asked), answered
// by one classify_burst, and each decision is then made with those answers — the same function
// and result as one decide_flow per packet.
template <class Sink, class Route>
inline void decide_deferred(const Snapshot& snap, Pending& pend, const uint16_t* idx, const lb::Verdict* vs,
                            uint16_t nd, const lb::StageCtx& ctx, Sink& sink, Route& route) {
    acl::FlowKey keys[2 * kStageBurst];
    acl::Verdict answers[2 * kStageBurst];
    int16_t slot[kStageBurst][acl::kDirections];
    uint16_t nk = 0;
    for (uint16_t j = 0; j < nd; j++) {
        const ParsedPacket& p = pend.p[idx[j]];
        slot[j][0] = slot[j][1] = -1;
        decide_flow_with(snap, p.src_ip, p.dst_ip, p.dst_port, p.proto, [&](const acl::FlowKey& k) {
            slot[j][static_cast<int>(k.direction)] = static_cast<int16_t>(nk);
            keys[nk++] = k;
            return acl::Verdict{0, acl::VerdictReason::kNotIsolated};
        });
    }
    if (nk != 0) acl::classify_burst(*snap.policy.snap, keys, answers, nk);
    PolicyWorker* pw = policy_worker_of(sink);
    const uint64_t now_ms = sink.lb_worker().now_ms;
    for (uint16_t j = 0; j < nd; j++) {
        const uint16_t i = idx[j];
        const ParsedPacket& p = pend.p[i];
        const PolicyDecision d = decide_flow_with(snap, p.src_ip, p.dst_ip, p.dst_port, p.proto,
                                                  [&](const acl::FlowKey& k) {
                                                      const int16_t at = slot[j][static_cast<int>(k.direction)];
                                                      return at >= 0 ? answers[at] : acl::classify_one(*snap.policy.snap, k);
                                                  });
        rte_mbuf* m = pend.m[i];
        const bool icmp_error = p.proto == kProtoIcmp && lb::is_icmp_error(p);
        const Drop drop = policy_untracked(snap, pw, d, pend.keys[i], pend.data[i], rte_pktmbuf_data_len(m), p,
                                           icmp_error, ctx.origin == lb::Origin::kEni, now_ms, sink.stats());
        if (drop != Drop::kCount) {
            sink.drop(m, drop);
            continue;
        }
        route(m, pend.data[i], pend.p[i], vs[j]);
    }
}

// Runs the Service stage, then the policy stage, over the pending packets and routes each
// with `route`.
template <class Sink, class Route>
inline void run_service_stage(const Snapshot& snap, Pending& pend, const lb::StageCtx& ctx, Sink& sink,
                              Route&& route) {
    if (pend.n == 0) return;
    lb::LbWorker& w = sink.lb_worker();
    pend.lookup(*snap.lb.ct, w.flow_cache);
    lb::prefetch_new_flows(snap.lb, ctx, pend.p, pend.flows, pend.n);
    const bool policy_on = snap.policy.active();
    // Untracked packets wait for their policy decision: their rte_acl questions go in one
    // classify_burst call (a large trie walked for a burst of keys overlaps its misses; one key
    // at a time does not).
    uint16_t deferred[kStageBurst];
    lb::Verdict deferred_v[kStageBurst];
    uint16_t nd = 0;
    for (uint16_t i = 0; i < pend.n; i++) {
        rte_mbuf* m = pend.m[i];
        const lb::Verdict v = lb::process(snap.lb, w, m, pend.data[i], pend.p[i], pend.keys[i], pend.flows[i],
                                          pend.dirs[i], ctx, sink.stats());
        // A flow created (or found again) for this key: the next packet finds it in the cache.
        if (v.flow != nullptr && v.flow != pend.flows[i]) w.flow_cache.remember(pend.sigs[i], v.flow, v.dir);
        switch (v.outcome) {
            case lb::Outcome::kDrop:
                sink.drop(m, v.drop);
                break;
            case lb::Outcome::kReject:
                sink.to_port(ctx.in_port, m);
                break;
            case lb::Outcome::kPass:
            case lb::Outcome::kForward:
                if (policy_on && v.flow == nullptr) {
                    deferred[nd] = i;
                    deferred_v[nd++] = v;
                    break;
                }
                if (policy_on) {
                    const ParsedPacket& p = pend.p[i];
                    const bool icmp_error = p.proto == kProtoIcmp && lb::is_icmp_error(p);
                    const Drop d = policy_check(snap, policy_worker_of(sink), v.flow, v.dir, pend.keys[i], pend.data[i],
                                                rte_pktmbuf_data_len(m), p, icmp_error, ctx.origin == lb::Origin::kEni,
                                                w.now_ms, sink.stats());
                    if (d != Drop::kCount) {
                        sink.drop(m, d);
                        break;
                    }
                }
                route(m, pend.data[i], pend.p[i], v);
                break;
        }
    }
    if (nd != 0) decide_deferred(snap, pend, deferred, deferred_v, nd, ctx, sink, route);
    pend.n = 0;
}

// Policy for IPv4 packets conntrack does not track (other protocols, untrackable ICMP):
// decided per packet, never cached. True when the packet may go on.
template <class Sink>
inline bool policy_admits_untracked(const Snapshot& snap, rte_mbuf* m, const ParsedPacket& p, Sink& sink) {
    if (!snap.policy.active()) return true;
    const PolicyDecision d = decide_flow(snap, p.src_ip, p.dst_ip, p.dst_port, p.proto);
    policy_detail::account(snap, policy_worker_of(sink), d, p.proto, 0, sink.lb_worker().now_ms, sink.stats());
    if (d.allowed()) return true;
    sink.drop(m, d.drop);
    return false;
}

}  // namespace detail

// Pod egress: everything a pod sends.
template <class Sink>
inline void process_pod_burst(const Snapshot& snap, const PodEntry& pod, uint16_t in_port, rte_mbuf** pkts,
                              uint16_t n, Sink& sink) {
    const bool lb_on = snap.lb.ct != nullptr && (snap.lb.active() || snap.policy.active());
    const lb::StageCtx ctx{lb::Origin::kPod, in_port, 0};
    const detail::PodEgress eg(snap, pod);
    auto route = [&](rte_mbuf* m, uint8_t* data, const ParsedPacket& p, const lb::Verdict& v) {
        detail::route_from_pod(snap, pod, eg, in_port, m, data, p, v.out_port, sink);
    };
    detail::Pending& pend = detail::pending_scratch();

    detail::prefetch_first(pkts, n);
    for (uint16_t i = 0; i < n; i++) {
        detail::prefetch_ahead(pkts, i, n);
        rte_mbuf* m = pkts[i];
        // Parsed straight into the next Pending slot (committed only if the packet is queued):
        // copying a just-written ParsedPacket costs a store-forwarding stall per packet.
        ParsedPacket& p = pend.p[pend.n];
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
            if (lb_on && lb::ct_key(data, p, pend.keys[pend.n])) {
                pend.m[pend.n] = m;
                pend.data[pend.n] = data;
                if (++pend.n == kStageBurst) detail::run_service_stage(snap, pend, ctx, sink, route);
                continue;
            }
            if (!detail::policy_admits_untracked(snap, m, p, sink)) continue;
            detail::route_from_pod(snap, pod, eg, in_port, m, data, p, lb::kNoPort, sink);
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
                sink.stats().event(Event::kArpReplied);
                sink.to_port(in_port, m);
            } else {
                sink.drop(m, Drop::kArpNotForUs);
            }
            continue;
        }
        sink.drop(m, Drop::kIpv6Unsupported);
    }
    detail::run_service_stage(snap, pend, ctx, sink, route);
}

// ENI ingress: everything the VPC sends to one ENI.
template <class Sink>
inline void process_eni_burst(const Snapshot& snap, const EniEntry& eni, uint16_t in_port, rte_mbuf** pkts,
                              uint16_t n, Sink& sink) {
    const PodEntry* pod = eni.pod != kNoIndex ? &snap.pods[eni.pod] : nullptr;
    const bool lb_on = snap.lb.ct != nullptr && (snap.lb.active() || snap.policy.active());
    const lb::StageCtx ctx{lb::Origin::kEni, in_port, eni.ip};
    // Untranslated traffic is for the ENI's pod only.
    auto to_owner = [&](rte_mbuf* m, uint8_t* data, const ParsedPacket& p) {
        if (pod == nullptr || p.dst_ip != pod->ip) {
            sink.drop(m, Drop::kNotForPod);
            return;
        }
        if (!pod->link_up) {
            sink.drop(m, Drop::kPodPortDown);
            return;
        }
        detail::set_macs(data, snap.gateway_mac, pod->mac);
        sink.stats().event(Event::kToPod);
        sink.to_port(pod->port, m);
    };
    // Translated traffic goes to whichever local pod is the backend, back out of the ENI a
    // reply belongs to, or (SNATed, remote backend) back into the VPC through this ENI.
    auto route = [&](rte_mbuf* m, uint8_t* data, const ParsedPacket& p, const lb::Verdict& v) {
        if (v.outcome == lb::Outcome::kPass) {
            to_owner(m, data, p);
        } else if (v.out_port != lb::kNoPort) {
            detail::to_eni_port(snap, v.out_port, m, data, sink);
        } else if (!detail::to_local_pod(snap, p.dst_ip, m, data, sink, Event::kToPod)) {
            detail::to_eni_port(snap, in_port, m, data, sink);
        }
    };
    detail::Pending& pend = detail::pending_scratch();

    detail::prefetch_first(pkts, n);
    for (uint16_t i = 0; i < n; i++) {
        detail::prefetch_ahead(pkts, i, n);
        rte_mbuf* m = pkts[i];
        // Parsed straight into the next Pending slot (committed only if the packet is queued):
        // copying a just-written ParsedPacket costs a store-forwarding stall per packet.
        ParsedPacket& p = pend.p[pend.n];
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
            if (lb_on && lb::ct_key(data, p, pend.keys[pend.n])) {
                pend.m[pend.n] = m;
                pend.data[pend.n] = data;
                if (++pend.n == kStageBurst) detail::run_service_stage(snap, pend, ctx, sink, route);
                continue;
            }
            if (!detail::policy_admits_untracked(snap, m, p, sink)) continue;
            to_owner(m, data, p);
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
                sink.stats().event(Event::kArpLearned);
            }
            if (a.op == RTE_ARP_OP_REQUEST && (a.tpa == eni.ip || (pod != nullptr && a.tpa == pod->ip))) {
                make_arp_reply(data, p.l3_off, eni.mac, a.tpa);
                sink.stats().event(Event::kArpReplied);
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
    detail::run_service_stage(snap, pend, ctx, sink, route);
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

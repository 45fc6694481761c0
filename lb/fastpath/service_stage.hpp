// The Service stage of the pipeline: conntrack lookup, backend selection for new flows,
// DNAT / SNAT / reverse NAT, ICMP errors, REJECT.
//
//   burst ─► ct_key() per packet ─► FlowCache::lookup (misses: Conntrack bulk) ─► process() per packet
//     hit, original direction  → translate to the backend (reselect if the backend is gone,
//                                 or a new TCP SYN / UDP flow finds it terminating: k8s #81775)
//     hit, reply direction     → reverse translate (source back to the frontend)
//     miss, dst is a frontend  → pick the backend set (internal / external / cluster), apply
//                                 session affinity, select, insert the flow, translate
//     empty backend set        → REJECT (TCP RST, ICMP port unreachable) or DROP (Local
//                                 policy without a local endpoint), as kube-proxy
//     ICMP error               → looked up by its embedded header, reverse-translated
//
// Who may call: a worker (or a test) holding the snapshot the LbTables came from, between
// two RCU quiescent reports. No allocation, no locks other than the conntrack insert lock,
// no logging.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "dataplane/fastpath/parse.hpp"
#include "dataplane/fastpath/stats.hpp"
#include "lb/fastpath/flow_cache.hpp"
#include "lb/fastpath/lb_tables.hpp"
#include "lb/fastpath/nat.hpp"
#include "lb/fastpath/select.hpp"
#include "lb/fastpath/service_table.hpp"

namespace enidp::lb {

// Per-worker scratch.
struct LbWorker {
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    uint64_t now_ms = 0;
    FlowCache flow_cache;  // this worker's conntrack look-ups (lb/fastpath/flow_cache.hpp)
};

enum class Origin : uint8_t { kPod, kEni };

enum class Outcome : uint8_t {
    kPass,        // not a Service flow: route unchanged
    kForward,     // translated (or a tracked flow): route by the new destination
    kDrop,        // count `drop`
    kReject,      // `m` now holds the answer: send it back out of the port it came in on
};

struct Verdict {
    Outcome outcome = Outcome::kPass;
    dp::Drop drop = dp::Drop::kCount;
    uint16_t out_port = kNoPort;  // set for replies of flows that came in on an ENI
    Flow* flow = nullptr;         // the tracked flow the packet belongs to (Service or plain), if any
    CtDir dir = CtDir::kOrig;     // which of its tuples the packet matched
};

// Where the stage is looking from: the receiving side.
struct StageCtx {
    Origin origin = Origin::kPod;
    uint16_t in_port = 0;
    uint32_t snat_ip = 0;  // ENI ingress: the ENI's address (SNAT for eTP=Cluster to a remote backend)
};

// Fills `k` with the tuple conntrack is keyed by. ICMP errors: the reversed embedded
// tuple (the flow the error is about). False for packets conntrack does not track.
inline bool ct_key(const uint8_t* data, const ParsedPacket& p, CtKey& k) {
    switch (p.proto) {
        case kProtoTcp:
        case kProtoUdp:
        case kProtoSctp: {
            // From the frame (IPv4 addresses and L4 ports are laid out as in CtKey), in two
            // words: reading back the ParsedPacket the parser has just written field by field
            // would stall on store forwarding.
            uint64_t w[2] = {0, 0};
            std::memcpy(&w[0], data + p.l3_off + 12, 8);
            uint32_t ports;
            std::memcpy(&ports, data + p.l4_off, 4);
            w[1] = ports | uint64_t{p.proto} << 32;
            static_assert(offsetof(CtKey, sport) == 8 && offsetof(CtKey, proto) == 12, "CtKey layout");
            std::memcpy(static_cast<void*>(&k), w, sizeof w);
            return true;
        }
        case kProtoIcmp: {
            const uint8_t type = dp::icmp_type(p);
            if (type == RTE_IP_ICMP_ECHO_REQUEST || type == RTE_IP_ICMP_ECHO_REPLY) {
                k = CtKey{p.src_ip, p.dst_ip, p.src_port, p.src_port, p.proto, {0, 0, 0}};
                return true;
            }
            IcmpInner in;
            if (!is_icmp_error(p) || !read_icmp_inner(data, p, in)) return false;
            k = CtKey{in.dst, in.src, in.dport, in.sport, in.proto, {0, 0, 0}};
            return true;
        }
        default:
            return false;
    }
}

namespace stage_detail {

inline uint8_t tcp_flags(const uint8_t* data, const ParsedPacket& p) { return data[p.l4_off + 13]; }
inline bool tcp_new_syn(uint8_t flags) { return (flags & 0x12) == 0x02; }  // SYN without ACK

// Orig-direction packets leave as the reversed reply tuple; replies as the reversed orig.
inline Tuple out_tuple(const Flow& f, CtDir d) {
    const CtKey& k = d == CtDir::kOrig ? f.reply : f.orig;
    return Tuple{k.dst, k.src, k.dport, k.sport};
}

inline void on_packet(Flow& f, CtDir d, const uint8_t* data, const ParsedPacket& p, uint64_t now_ms) {
    Conntrack::touch(f, now_ms);
    if (p.proto == kProtoTcp)
        Conntrack::advance_tcp(f, d, tcp_flags(data, p));
    else if (d == CtDir::kReply)
        Conntrack::mark_replied(f);
}

inline Verdict translate(Flow& f, CtDir d, uint8_t* data, ParsedPacket& p, uint64_t now_ms, dp::WorkerStats& st) {
    on_packet(f, d, data, p, now_ms);
    rewrite(data, p, out_tuple(f, d));
    Verdict v{Outcome::kForward, dp::Drop::kCount, kNoPort, &f, d};
    if (d == CtDir::kReply) {
        v.out_port = f.reply_port;
        st.event(dp::Event::kSvcReverse);
    } else {
        st.event(dp::Event::kSvcForward);
    }
    return v;
}

// An ICMP error about flow `f`, travelling in direction `d` (its key matched `d`).
inline Verdict translate_icmp_error(Flow& f, CtDir d, uint8_t* data, ParsedPacket& p, dp::WorkerStats& st) {
    IcmpInner in;
    if (!read_icmp_inner(data, p, in)) return Verdict{};
    const CtKey& k = d == CtDir::kOrig ? f.orig : f.reply;  // the tuple the error's direction carries
    const Tuple t = out_tuple(f, d);                        // what that tuple becomes
    // The quoted packet went the other way: it becomes the reverse of the new tuple.
    const Tuple inner{t.dst, t.src, t.dport, t.sport};
    const uint32_t osrc = p.src_ip == k.src ? t.src : p.src_ip;
    const uint32_t odst = p.dst_ip == k.dst ? t.dst : p.dst_ip;
    rewrite_icmp_error(data, p, in, inner, osrc, odst);
    st.event(dp::Event::kIcmpErrorTranslated);
    return Verdict{Outcome::kForward, dp::Drop::kCount, d == CtDir::kReply ? f.reply_port : kNoPort, &f, d};
}

inline const BackendSet& pick_set(const ServicePort& sp, FrontendKind kind, Origin origin) {
    if (kind == FrontendKind::kClusterIp) return sp.internal;
    return origin == Origin::kPod ? sp.cluster : sp.external;
}

inline Verdict reject(rte_mbuf* m, const ParsedPacket& p, EmptyAction a, dp::WorkerStats& st) {
    if (a == EmptyAction::kDrop) return Verdict{Outcome::kDrop, dp::Drop::kSvcNoLocalEndpoints, kNoPort};
    bool ok = false;
    if (p.proto == kProtoTcp)
        ok = make_tcp_rst(m, p);
    else if (p.proto == kProtoUdp || p.proto == kProtoSctp)
        ok = make_icmp_port_unreachable(m, p);
    if (!ok) return Verdict{Outcome::kDrop, dp::Drop::kSvcNoEndpoints, kNoPort};
    st.event(dp::Event::kSvcRejected);
    return Verdict{Outcome::kReject, dp::Drop::kCount, kNoPort};
}

}  // namespace stage_detail

// A new flow waits on three dependent cache misses — the frontend slot, the Maglev entry,
// the backend — which with 10k Services are DRAM (and TLB) misses each. For the packets of a
// burst whose conntrack look-up missed, this walks the same chain in three passes with
// prefetches, so the misses of different packets overlap instead of queueing; new_flow()
// then finds the lines in cache. Established traffic (no miss) pays one loop over `flows`.
inline void prefetch_new_flows(const LbTables& t, const StageCtx& c, const ParsedPacket* p, Flow* const* flows,
                               uint16_t n) {
    const ServiceTable* tab = t.table;
    if (tab == nullptr || tab->frontends.empty()) return;
    uint16_t idx[64];
    uint16_t m = 0;
    for (uint16_t i = 0; i < n && m < 64; i++) {
        if (flows[i] != nullptr || (p[i].proto != kProtoTcp && p[i].proto != kProtoUdp && p[i].proto != kProtoSctp))
            continue;
        if (const void* a = tab->by_vip.slot_address(FrontendMap::key(p[i].dst_ip, p[i].dst_port, p[i].proto)))
            rte_prefetch0(a);
        idx[m++] = i;
    }
    if (m == 0) return;
    const BackendSet* sets[64];
    uint32_t hashes[64];
    for (uint16_t j = 0; j < m; j++) {
        const ParsedPacket& q = p[idx[j]];
        sets[j] = nullptr;
        const uint32_t fi = tab->by_vip.find(FrontendMap::key(q.dst_ip, q.dst_port, q.proto));
        if (fi == kNone) continue;
        const Frontend& fe = tab->frontends[fi];
        if (c.origin == Origin::kEni && fe.kind == FrontendKind::kClusterIp) continue;
        const ServicePort& sp = tab->ports[fe.service_port];
        const BackendSet& set = stage_detail::pick_set(sp, fe.kind, c.origin);
        if (set.count < 2 || set.maglev_size == 0 || static_cast<Algorithm>(sp.algorithm) != Algorithm::kMaglev) {
            if (set.count != 0) rte_prefetch0(&tab->backends[set.first]);
            continue;
        }
        hashes[j] = flow_hash(q.src_ip, q.dst_ip, q.src_port, q.dst_port, q.proto);
        sets[j] = &set;
        rte_prefetch0(&set.maglev[hashes[j] % set.maglev_size]);
    }
    for (uint16_t j = 0; j < m; j++)
        if (sets[j] != nullptr)
            rte_prefetch0(&tab->backends[sets[j]->first + sets[j]->maglev[hashes[j] % sets[j]->maglev_size]]);
}

// Creates the flow for a packet addressed to a frontend (no live flow found).
inline Verdict new_flow(const LbTables& t, LbWorker& w, rte_mbuf* m, uint8_t* data, ParsedPacket& p,
                        const CtKey& key, const StageCtx& c, dp::WorkerStats& st) {
    using namespace stage_detail;
    const ServiceTable& tab = *t.table;
    uint32_t fi = tab.by_vip.find(FrontendMap::key(p.dst_ip, p.dst_port, p.proto));
    if (fi == kNone && tab.by_node_port.capacity() != 0 && tab.is_node_ip(p.dst_ip))
        fi = tab.by_node_port.find(FrontendMap::key(0, p.dst_port, p.proto));
    if (fi == kNone) return Verdict{};
    const Frontend& fe = tab.frontends[fi];
    if (c.origin == Origin::kEni && fe.kind == FrontendKind::kClusterIp) return Verdict{};  // not reachable from outside
    const ServicePort& sp = tab.ports[fe.service_port];
    const BackendSet& set = pick_set(sp, fe.kind, c.origin);
    if (set.count == 0) {
        t.state->ports[sp.id].rejected.fetch_add(1, std::memory_order_relaxed);
        return reject(m, p, set.empty_action, st);
    }

    uint32_t bi = kNone;
    const uint32_t now_s = static_cast<uint32_t>(w.now_ms / 1000);
    const bool affinity = (sp.flags & kAffinityClientIp) && t.affinity != nullptr;
    if (affinity) {
        uint32_t bid;
        if (t.affinity->lookup(p.src_ip, sp.id, now_s, sp.affinity_timeout_s, bid)) {
            for (uint32_t i = 0; i < set.count; i++) {
                if (tab.backends[set.first + i].id == bid) {
                    bi = set.first + i;
                    break;
                }
            }
        }
    }
    if (bi == kNone) {
        const uint32_t h = flow_hash(p.src_ip, p.dst_ip, p.src_port, p.dst_port, p.proto);
        bi = select_backend(tab, sp, set, h, w.rng, *t.state);
        if (bi == kNone) {
            t.state->ports[sp.id].rejected.fetch_add(1, std::memory_order_relaxed);
            return reject(m, p, set.empty_action, st);
        }
    }
    const Backend& b = tab.backends[bi];
    if (affinity) t.affinity->update(p.src_ip, sp.id, b.id, now_s);

    uint8_t flags = 0;
    CtKey reply{b.ip, p.src_ip, b.port, p.src_port, p.proto, {0, 0, 0}};
    if (c.origin == Origin::kPod && b.ip == p.src_ip) {
        // Hairpin: the pod would see a packet from itself; make it come from the frontend.
        reply.dst = p.dst_ip;
        flags |= kFlowSnat | kFlowHairpin;
    } else if (c.origin == Origin::kEni && !b.local) {
        // External traffic to a remote backend (eTP=Cluster): the reply must come back here.
        reply.dst = c.snat_ip;
        flags |= kFlowSnat;
    }
    if (c.origin == Origin::kEni) flags |= kFlowFromEni;
    uint8_t state = static_cast<uint8_t>(CtState::kUnreplied);
    if (p.proto == kProtoTcp)
        state = static_cast<uint8_t>(tcp_new_syn(tcp_flags(data, p)) ? CtState::kTcpSynSent : CtState::kTcpEstablished);
    Flow* f = nullptr;
    const InsertStatus s = t.ct->insert(key, reply, sp.id, b.id, flags, c.origin == Origin::kEni ? c.in_port : kNoPort,
                                        state, w.now_ms, &f, c.origin == Origin::kEni && (flags & kFlowSnat));
    if (s == InsertStatus::kExists) {
        CtDir d;
        f = t.ct->lookup(key, d);
        if (f == nullptr) return Verdict{Outcome::kDrop, dp::Drop::kCtFull, kNoPort};
        return translate(*f, d, data, p, w.now_ms, st);
    }
    if (s != InsertStatus::kInserted) return Verdict{Outcome::kDrop, dp::Drop::kCtFull, kNoPort};
    st.event(dp::Event::kSvcNewFlow);
    t.state->ports[sp.id].new_flows.fetch_add(1, std::memory_order_relaxed);
    t.state->backends[b.id].flows.fetch_add(1, std::memory_order_relaxed);
    rewrite(data, p, out_tuple(*f, CtDir::kOrig));
    st.event(dp::Event::kSvcForward);
    return Verdict{Outcome::kForward, dp::Drop::kCount, kNoPort, f, CtDir::kOrig};
}

// One packet, after its bulk lookup. `f`/`d`: the lookup result for `key`.
inline Verdict process(const LbTables& t, LbWorker& w, rte_mbuf* m, uint8_t* data, ParsedPacket& p,
                       const CtKey& key, Flow* f, CtDir d, const StageCtx& c, dp::WorkerStats& st) {
    using namespace stage_detail;
    const bool icmp_error = p.proto == kProtoIcmp && is_icmp_error(p);
    if (f != nullptr && !f->dead.load(std::memory_order_relaxed) &&
        (f->flags.load(std::memory_order_relaxed) & kFlowPlain)) [[unlikely]] {
        // Tracked for NetworkPolicy only: no translation. A new connection on a closed
        // tuple, or an expired flow, starts over (and is decided again).
        if (icmp_error) return Verdict{Outcome::kPass, dp::Drop::kCount, kNoPort, f, d};
        const auto s = static_cast<CtState>(f->state.load(std::memory_order_relaxed));
        const bool syn = p.proto == kProtoTcp && tcp_new_syn(tcp_flags(data, p));
        if (!t.ct->expired(*f, w.now_ms) && !(syn && (s == CtState::kTcpTimeWait || s == CtState::kTcpClose))) {
            on_packet(*f, d, data, p, w.now_ms);
            return Verdict{Outcome::kPass, dp::Drop::kCount, kNoPort, f, d};
        }
        t.ct->erase(f, true);
        st.event(dp::Event::kCtReplaced);
        f = nullptr;
    }
    if (f != nullptr && !f->dead.load(std::memory_order_relaxed)) [[likely]] {
        if (icmp_error) return translate_icmp_error(*f, d, data, p, st);
        if (d == CtDir::kReply) return translate(*f, d, data, p, w.now_ms, st);
        const bool syn = p.proto == kProtoTcp && tcp_new_syn(tcp_flags(data, p));
        const auto gen = static_cast<uint16_t>(t.table->generation);
        bool renew = t.ct->expired(*f, w.now_ms);
        if (!renew && (syn || f->checked_gen.load(std::memory_order_relaxed) != gen)) [[unlikely]] {
            const auto status =
                static_cast<BackendStatus>(t.state->backends[f->backend].status.load(std::memory_order_relaxed));
            renew = status == BackendStatus::kRemoved;
            if (!renew && syn) {
                const auto s = static_cast<CtState>(f->state.load(std::memory_order_relaxed));
                // A new connection on an old tuple: never to a terminating backend (#81775),
                // and a closed connection's tuple starts over with a fresh choice.
                renew = status != BackendStatus::kReady || s == CtState::kTcpTimeWait || s == CtState::kTcpClose;
            }
            if (!renew && f->checked_gen.load(std::memory_order_relaxed) != gen)
                f->checked_gen.store(gen, std::memory_order_relaxed);
        }
        if (!renew) [[likely]]
            return translate(*f, d, data, p, w.now_ms, st);
        t.ct->erase(f, true);
        st.event(dp::Event::kCtReplaced);
    } else if (icmp_error) {
        return Verdict{};
    }
    if (t.table == nullptr) return Verdict{};
    return new_flow(t, w, m, data, p, key, c, st);
}

}  // namespace enidp::lb

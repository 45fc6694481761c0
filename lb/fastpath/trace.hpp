// trace: what the Service stage would do with a packet, without doing it.
//
// Runs the same look-ups as service_stage.hpp (conntrack, frontend, backend set, session
// affinity, backend selection) against live tables and reports the outcome and why. It
// changes nothing: no flow is inserted or refreshed, no affinity entry written, and
// round-robin / random selection run on copies of their cursors (so the reported backend is
// the one the next new flow would get, modulo other traffic).
//
// Who may call: any thread that keeps the tables alive for the call (the control thread
// between snapshot publications, or an RCU reader).
#pragma once

#include <cstdint>
#include <string>

#include "lb/fastpath/conntrack.hpp"
#include "lb/fastpath/lb_tables.hpp"
#include "lb/fastpath/select.hpp"
#include "lb/fastpath/service_table.hpp"

namespace enidp::lb {

struct TraceInput {
    bool from_eni = false;   // the packet arrives on an ENI (external traffic) rather than from a pod
    uint32_t src = 0, dst = 0;         // network order
    uint16_t sport = 0, dport = 0;     // network order
    uint8_t proto = 6;
    bool tcp_syn = true;     // a connection's first packet (TCP SYN without ACK)
    uint32_t snat_ip = 0;    // from_eni: the receiving ENI's address
    uint64_t now_ms = 0;     // 0: clock_ms()
};

enum class TraceVerdict : uint8_t {
    kNotService,   // no flow and no frontend: routed unchanged
    kFlow,         // an existing flow translates it
    kNewFlow,      // a new flow would be created
    kReject,       // REJECT answer (TCP RST / ICMP port unreachable)
    kDrop,         // dropped (Local policy without a local endpoint)
};

inline const char* to_string(TraceVerdict v) {
    switch (v) {
        case TraceVerdict::kNotService: return "not_service";
        case TraceVerdict::kFlow: return "existing_flow";
        case TraceVerdict::kNewFlow: return "new_flow";
        case TraceVerdict::kReject: return "reject";
        case TraceVerdict::kDrop: return "drop";
    }
    return "?";
}

struct TraceResult {
    TraceVerdict verdict = TraceVerdict::kNotService;
    std::string reason;           // one sentence
    std::string service;          // "ns/name:port/proto"
    std::string frontend_kind;    // cluster_ip | node_port | external_ip | load_balancer
    std::string backend_set;      // internal | external | cluster
    uint32_t backends_in_set = 0;
    bool affinity_hit = false;
    bool snat = false;
    // The packet as it would leave the stage (network order).
    uint32_t out_src = 0, out_dst = 0;
    uint16_t out_sport = 0, out_dport = 0;
    std::string flow_state;       // existing flow: its conntrack state
    std::string flow_direction;   // existing flow: original | reply
};

namespace trace_detail {
inline const char* kind_name(FrontendKind k) {
    switch (k) {
        case FrontendKind::kClusterIp: return "cluster_ip";
        case FrontendKind::kNodePort: return "node_port";
        case FrontendKind::kExternalIp: return "external_ip";
        case FrontendKind::kLoadBalancer: return "load_balancer";
    }
    return "?";
}
}  // namespace trace_detail

inline TraceResult trace(const LbTables& t, const TraceInput& in) {
    TraceResult r;
    r.out_src = in.src;
    r.out_dst = in.dst;
    r.out_sport = in.sport;
    r.out_dport = in.dport;
    const uint64_t now_ms = in.now_ms ? in.now_ms : clock_ms();
    if (t.table == nullptr || t.ct == nullptr) {
        r.reason = "no Service table";
        return r;
    }
    const CtKey key{in.src, in.dst, in.sport, in.dport, in.proto, {0, 0, 0}};
    CtDir dir;
    const Flow* f = t.ct->lookup(key, dir);
    if (f != nullptr && !f->dead.load(std::memory_order_relaxed)) {
        const auto status = static_cast<BackendStatus>(t.state->backends[f->backend].status.load());
        const auto st = static_cast<CtState>(f->state.load());
        const bool renew_on_syn = status != BackendStatus::kReady || st == CtState::kTcpTimeWait || st == CtState::kTcpClose;
        const bool gone = status == BackendStatus::kRemoved || t.ct->expired(*f, now_ms);
        if (dir == CtDir::kReply || !(gone || (in.proto == 6 && in.tcp_syn && renew_on_syn))) {
            const CtKey& k = dir == CtDir::kOrig ? f->reply : f->orig;
            r.verdict = TraceVerdict::kFlow;
            r.flow_direction = dir == CtDir::kOrig ? "original" : "reply";
            r.flow_state = kCtStateNames[static_cast<size_t>(st)];
            r.out_src = k.dst;
            r.out_dst = k.src;
            r.out_sport = k.dport;
            r.out_dport = k.sport;
            r.snat = (f->flags.load() & kFlowSnat) != 0;
            if (f->service_port != kNone)
                for (const ServicePort& sp : t.table->ports)
                    if (sp.id == f->service_port) r.service = t.table->names[sp.name];
            r.reason = dir == CtDir::kOrig ? "tracked flow: translated to its backend"
                                           : "reply of a tracked flow: translated back to the frontend";
            return r;
        }
        r.reason = gone ? "tracked flow is stale (backend removed or timed out): replaced by a new flow; "
                        : "new connection on the tuple of a flow whose backend is terminating or which closed: "
                          "replaced by a new flow; ";
    }
    const ServiceTable& tab = *t.table;
    uint32_t fi = tab.by_vip.find(FrontendMap::key(in.dst, in.dport, in.proto));
    if (fi == kNone && tab.is_node_ip(in.dst)) fi = tab.by_node_port.find(FrontendMap::key(0, in.dport, in.proto));
    if (fi == kNone || (in.from_eni && tab.frontends[fi].kind == FrontendKind::kClusterIp)) {
        r.verdict = TraceVerdict::kNotService;
        r.reason += fi == kNone ? "destination is no Service frontend" : "ClusterIPs are not reachable from outside";
        return r;
    }
    const Frontend& fe = tab.frontends[fi];
    const ServicePort& sp = tab.ports[fe.service_port];
    r.service = tab.names[sp.name];
    r.frontend_kind = trace_detail::kind_name(fe.kind);
    const BackendSet* set;
    if (fe.kind == FrontendKind::kClusterIp) {
        set = &sp.internal;
        r.backend_set = "internal";
    } else if (!in.from_eni) {
        set = &sp.cluster;
        r.backend_set = "cluster";
    } else {
        set = &sp.external;
        r.backend_set = "external";
    }
    r.backends_in_set = set->count;
    if (set->count == 0) {
        if (set->empty_action == EmptyAction::kDrop) {
            r.verdict = TraceVerdict::kDrop;
            r.reason += "traffic policy Local and no local endpoint";
        } else {
            r.verdict = TraceVerdict::kReject;
            r.reason += in.proto == 6 ? "no endpoints: TCP RST" : "no endpoints: ICMP port unreachable";
        }
        return r;
    }
    uint32_t bi = kNone;
    if ((sp.flags & kAffinityClientIp) && t.affinity != nullptr) {
        uint32_t bid;
        if (t.affinity->lookup(in.src, sp.id, static_cast<uint32_t>(now_ms / 1000), sp.affinity_timeout_s, bid))
            for (uint32_t i = 0; i < set->count; i++)
                if (tab.backends[set->first + i].id == bid) bi = set->first + i;
        r.affinity_hit = bi != kNone;
    }
    if (bi == kNone) {
        if (static_cast<Algorithm>(sp.algorithm) == Algorithm::kRoundRobin) {
            bi = set->first + t.state->ports[sp.id].rr.load(std::memory_order_relaxed) % set->count;
        } else {
            uint64_t rng = now_ms | 1;  // a copy: the workers' generators are not advanced
            bi = select_backend(tab, sp, *set, flow_hash(in.src, in.dst, in.sport, in.dport, in.proto), rng,
                                *t.state);
        }
    }
    const Backend& b = tab.backends[bi];
    r.verdict = TraceVerdict::kNewFlow;
    r.out_dst = b.ip;
    r.out_dport = b.port;
    if (!in.from_eni && b.ip == in.src) {
        r.snat = true;
        r.out_src = in.dst;
        r.reason += "hairpin: the client is the backend, source rewritten to the frontend; ";
    } else if (in.from_eni && !b.local) {
        r.snat = true;
        r.out_src = in.snat_ip;
        r.reason += "external traffic to a remote backend: source rewritten to the ENI address; ";
    }
    r.reason += r.affinity_hit ? "backend from session affinity" : "backend selected by the Service's algorithm";
    return r;
}

}  // namespace enidp::lb

// The NetworkPolicy stage of the pipeline: runs after the Service stage, on the translated
// packet, so policies see backends' addresses and target ports (as the Kubernetes spec
// says: policy applies to pod IPs, not Service VIPs).
//
//   tracked flow (Service or plain), verdict cached under the live policy generation → use it
//   tracked flow, generation moved (policy changed)        → decide again from the flow's tuples
//   untracked packet                                        → decide from the packet; if a pod
//        involved is isolated (or payload-scanned), track it as a plain flow so replies pass
//
// A flow is decided once, as a whole, from its original direction: egress of the client if
// it is a local pod (remote = server, port = the server's port) AND ingress of the server if
// it is a local pod (remote = client). Replies inherit the verdict. A local pod the published
// policy snapshot does not know yet is closed (Drop::kPolicyPending): a pod's port never
// passes traffic before its policy state is in force.
//
// Who may call: a worker (or a test) holding the Snapshot, between two quiescent reports.
// No allocation, no locks other than the conntrack insert lock, no logging.
#pragma once

#include <atomic>
#include <cstdint>

#include "acl/fastpath/classify.hpp"
#include "acl/fastpath/payload.hpp"
#include "dataplane/fastpath/parse.hpp"
#include "dataplane/fastpath/stats.hpp"
#include "dataplane/fastpath/tables.hpp"
#include "lb/fastpath/conntrack.hpp"

namespace enidp::dp {

// One sampled verdict, for the verdict log (`enidpctl log`).
struct VerdictRecord {
    uint64_t time_ms = 0;
    uint64_t policy_generation = 0;
    uint32_t pod = 0;        // local pod policy id
    uint32_t peer = 0;       // network order
    uint32_t policy = UINT32_MAX;  // publication policy index (allowed) or payload policy index
    uint16_t port = 0;       // host order: the server's port
    uint8_t proto = 0;
    uint8_t direction = 0;   // acl::Direction
    uint8_t verdict = 0;     // VerdictKind
    uint8_t pad[3] = {0, 0, 0};
};

enum class VerdictKind : uint8_t { kAllowed, kDenied, kPending, kPayloadDenied, kPayloadLogged };

// Per-worker state of the policy stage: worker index (Hyperscan scratch), the verdict log
// ring (single producer: this worker; single consumer: the control thread) and sampling.
struct PolicyWorker {
    static constexpr uint32_t kLogSize = 1024;  // power of two
    unsigned index = 0;
    uint32_t allow_sample = 64;       // log one allowed decision in this many (0: none)
    uint32_t deny_per_second = 1000;  // log at most this many denials per second
    uint32_t allow_seq = 0;
    uint64_t deny_window_s = 0;
    uint32_t deny_in_window = 0;
    std::atomic<uint64_t> head{0};  // written by the worker
    std::atomic<uint64_t> tail{0};  // written by the control thread
    std::atomic<uint64_t> lost{0};  // records dropped because the ring was full
    VerdictRecord ring[kLogSize];

    void log(const VerdictRecord& r) {
        const uint64_t h = head.load(std::memory_order_relaxed);
        if (h - tail.load(std::memory_order_acquire) >= kLogSize) {
            lost.store(lost.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            return;
        }
        ring[h & (kLogSize - 1)] = r;
        head.store(h + 1, std::memory_order_release);
    }
    bool sample_deny(uint64_t now_ms) {
        const uint64_t s = now_ms / 1000;
        if (s != deny_window_s) {
            deny_window_s = s;
            deny_in_window = 0;
        }
        return deny_in_window++ < deny_per_second;
    }
    bool sample_allow() { return allow_sample != 0 && ++allow_seq % allow_sample == 0; }
    // Control thread: takes every record written so far.
    template <class Fn>
    void drain(Fn&& fn) {
        const uint64_t h = head.load(std::memory_order_acquire);
        uint64_t t = tail.load(std::memory_order_relaxed);
        for (; t < h; t++) fn(ring[t & (kLogSize - 1)]);
        tail.store(t, std::memory_order_release);
    }
};

// Bits of Flow::policy_verdict.
enum PolicyBits : uint8_t {
    kPolicyAllowed = 1u << 0,
    kPolicyScanClient = 1u << 1,  // client pod has payload rules for this flow (egress)
    kPolicyScanServer = 1u << 2,  // server pod has payload rules for this flow (ingress)
};

// TCP: payload policies look at the first few client packets of a connection.
inline constexpr uint8_t kPayloadTcpPackets = 8;
// ... and at most this many bytes of each.
inline constexpr uint32_t kPayloadMaxBytes = 2048;

struct PolicyDecision {
    Drop drop = Drop::kCount;  // kCount: allowed
    bool track = false;        // a local pod is isolated or payload-scanned: keep a flow
    uint8_t bits = 0;          // PolicyBits
    uint32_t pod = UINT32_MAX; // the pod whose rules decided (counting, log)
    uint32_t peer = 0;
    acl::Direction dir = acl::Direction::kIngress;
    uint32_t rule = 0;         // acl rule id that admitted it (0: not isolated / denied)
    bool allowed() const { return drop == Drop::kCount; }
};

namespace policy_detail {

inline uint16_t server_port(uint8_t proto, uint16_t port_be) {
    return proto == kProtoIcmp ? 0 : rte_be_to_cpu_16(port_be);
}

}  // namespace policy_detail

// Decides a flow client → server:port (network order addresses and port, post-DNAT).
// `classify(acl::FlowKey)` answers the rte_acl question for one key; it is asked at most
// once per direction (decide_flow: classify_one; the pipeline's batch: a precomputed answer).
template <class Classify>
inline PolicyDecision decide_flow_with(const Snapshot& s, uint32_t client, uint32_t server, uint16_t port_be,
                                       uint8_t proto, Classify&& classify) {
    const acl::PolicySnapshot& ps = *s.policy.snap;
    PolicyDecision d;
    const uint16_t port = policy_detail::server_port(proto, port_be);
    const uint32_t ci = s.pod_by_ip.find(client);
    const uint32_t si = s.pod_by_ip.find(server);
    // "Traffic to and from the node where a Pod is running is always allowed" (Kubernetes
    // NetworkPolicy): kubelet probes must reach isolated pods. The node's addresses are the
    // config's node_ips, kept in the Service table.
    const lb::ServiceTable* nodes = s.lb.table;
    const bool client_is_node = nodes != nullptr && nodes->is_node_ip(client);
    const bool server_is_node = nodes != nullptr && nodes->is_node_ip(server);
    const acl::PayloadSnapshot* payload = ps.payload();
    // Egress of the client pod.
    if (ci != kNoIndex) {
        const uint32_t pid = s.pods[ci].policy_id;
        const uint8_t fl = ps.pod_flags(pid);
        if ((fl & acl::kPodKnown) == 0) return PolicyDecision{Drop::kPolicyPending, false, 0, pid, server, acl::Direction::kEgress};
        if (fl & (acl::kPodIsolatedIngress | acl::kPodIsolatedEgress)) d.track = true;
        if ((fl & acl::kPodIsolatedEgress) && !server_is_node) {
            const acl::Verdict v = classify(acl::FlowKey{pid, server, port, proto, acl::Direction::kEgress});
            d.pod = pid;
            d.peer = server;
            d.dir = acl::Direction::kEgress;
            d.rule = v.rule;
            if (!v.allowed()) {
                d.drop = Drop::kPolicyDenied;
                return d;
            }
        }
        if (payload != nullptr && payload->needs_scan(pid, acl::Direction::kEgress, proto, port)) d.bits |= kPolicyScanClient;
    }
    // Ingress of the server pod.
    if (si != kNoIndex) {
        const uint32_t pid = s.pods[si].policy_id;
        const uint8_t fl = ps.pod_flags(pid);
        if ((fl & acl::kPodKnown) == 0) return PolicyDecision{Drop::kPolicyPending, false, 0, pid, client, acl::Direction::kIngress};
        if (fl & (acl::kPodIsolatedIngress | acl::kPodIsolatedEgress)) d.track = true;
        if ((fl & acl::kPodIsolatedIngress) && !client_is_node) {
            const acl::Verdict v = classify(acl::FlowKey{pid, client, port, proto, acl::Direction::kIngress});
            if (d.pod == UINT32_MAX || !v.allowed()) {
                d.pod = pid;
                d.peer = client;
                d.dir = acl::Direction::kIngress;
                d.rule = v.rule;
            }
            if (!v.allowed()) {
                d.drop = Drop::kPolicyDenied;
                return d;
            }
        }
        if (payload != nullptr && payload->needs_scan(pid, acl::Direction::kIngress, proto, port)) d.bits |= kPolicyScanServer;
    }
    if (d.pod == UINT32_MAX) {  // nobody isolated: count it on whichever local pod there is
        if (ci != kNoIndex) {
            d.pod = s.pods[ci].policy_id;
            d.peer = server;
            d.dir = acl::Direction::kEgress;
        } else if (si != kNoIndex) {
            d.pod = s.pods[si].policy_id;
            d.peer = client;
        }
    }
    d.bits |= kPolicyAllowed;
    if (d.bits & (kPolicyScanClient | kPolicyScanServer)) d.track = true;
    return d;
}

inline PolicyDecision decide_flow(const Snapshot& s, uint32_t client, uint32_t server, uint16_t port_be,
                                  uint8_t proto) {
    const acl::PolicySnapshot& ps = *s.policy.snap;
    return decide_flow_with(s, client, server, port_be, proto,
                            [&ps](const acl::FlowKey& k) { return acl::classify_one(ps, k); });
}

// A flow's client, server and server port, from its tuples (the server as translated).
inline PolicyDecision decide_tracked(const Snapshot& s, const lb::Flow& f) {
    return decide_flow(s, f.orig.src, f.reply.src, f.reply.sport, f.orig.proto);
}

namespace policy_detail {

inline VerdictRecord record(const Snapshot& s, uint64_t now_ms, uint32_t pod, uint32_t peer, uint32_t policy,
                            uint16_t port, uint8_t proto, acl::Direction dir, VerdictKind kind) {
    VerdictRecord r;
    r.time_ms = now_ms;
    r.policy_generation = s.policy.snap->generation();
    r.pod = pod;
    r.peer = peer;
    r.policy = policy;
    r.port = port;
    r.proto = proto;
    r.direction = static_cast<uint8_t>(dir);
    r.verdict = static_cast<uint8_t>(kind);
    return r;
}

inline void account(const Snapshot& s, PolicyWorker* pw, const PolicyDecision& d, uint8_t proto, uint16_t port,
                    uint64_t now_ms, WorkerStats& st) {
    st.event(d.allowed() ? Event::kPolicyAllowed : Event::kPolicyDenied);
    if (pw == nullptr) return;
    if (s.policy.counters != nullptr) {
        PolicyCounters& c = s.policy.counters[pw->index];
        c.pod_verdict(d.pod, d.allowed());
        if (d.rule != 0)
            if (const acl::RuleRef* r = s.policy.snap->rule(d.rule)) c.allow_policy(r->policy);
    }
    const bool log = d.allowed() ? pw->sample_allow() : pw->sample_deny(now_ms);
    if (!log) return;
    const acl::RuleRef* ref = d.allowed() ? s.policy.snap->rule(d.rule) : nullptr;
    const VerdictKind kind = d.allowed()                        ? VerdictKind::kAllowed
                             : d.drop == Drop::kPolicyPending ? VerdictKind::kPending
                                                              : VerdictKind::kDenied;
    pw->log(record(s, now_ms, d.pod, d.peer, ref != nullptr ? ref->policy : UINT32_MAX, port, proto, d.dir, kind));
}

// Payload rules on an original-direction packet of an allowed flow. Returns a drop reason
// or Drop::kCount.
inline Drop scan_payload(const Snapshot& s, PolicyWorker* pw, uint8_t bits, const uint8_t* data, uint32_t len,
                         const ParsedPacket& p, uint64_t now_ms, WorkerStats& st) {
    const acl::PayloadSnapshot* ps = s.policy.snap->payload();
    if (ps == nullptr) return Drop::kCount;
    uint32_t off = p.l4_off;
    switch (p.proto) {
        case kProtoTcp: off += (data[p.l4_off + 12] >> 4) * 4u; break;
        case kProtoUdp: off += 8; break;
        case kProtoSctp: off += 12; break;  // common header; chunks are scanned as payload
        default: return Drop::kCount;
    }
    const uint32_t end = p.l3_off + p.l3_len;
    if (off >= end || end > len) return Drop::kCount;
    uint32_t n = end - off;
    if (n > kPayloadMaxBytes) n = kPayloadMaxBytes;
    const uint16_t port = policy_detail::server_port(p.proto, p.dst_port);
    const unsigned worker = pw != nullptr && pw->index < ps->workers() ? pw->index : 0;
    for (int side = 0; side < 2; side++) {
        if (!(bits & (side == 0 ? kPolicyScanClient : kPolicyScanServer))) continue;
        const uint32_t ip = side == 0 ? p.src_ip : p.dst_ip;
        const uint32_t idx = s.pod_by_ip.find(ip);
        if (idx == kNoIndex) continue;
        const uint32_t pid = s.pods[idx].policy_id;
        const acl::Direction dir = side == 0 ? acl::Direction::kEgress : acl::Direction::kIngress;
        const acl::PayloadVerdict v = ps->scan(worker, pid, dir, p.proto, port, data + off, n);
        st.event(Event::kPayloadScanned);
        if (v.kind == acl::PayloadVerdict::Kind::kLogged || !v.allowed()) {
            if (v.kind == acl::PayloadVerdict::Kind::kLogged) st.event(Event::kPayloadLogged);
            if (pw != nullptr) {
                if (!v.allowed() && s.policy.counters != nullptr) s.policy.counters[pw->index].deny_payload(v.policy);
                if (v.allowed() || pw->sample_deny(now_ms))
                    pw->log(record(s, now_ms, pid, side == 0 ? p.dst_ip : p.src_ip, v.policy, port, p.proto, dir,
                                   v.allowed() ? VerdictKind::kPayloadLogged : VerdictKind::kPayloadDenied));
            }
            if (!v.allowed()) return Drop::kPayloadDenied;
        }
    }
    return Drop::kCount;
}

}  // namespace policy_detail

inline Drop policy_untracked(const Snapshot& s, PolicyWorker* pw, const PolicyDecision& d, const lb::CtKey& key,
                             const uint8_t* data, uint32_t len, const ParsedPacket& p, bool icmp_error, bool from_eni,
                             uint64_t now_ms, WorkerStats& st);

// One packet after the Service stage. `flow`/`dir`: the flow it belongs to (nullptr when
// untracked); `key`: its conntrack key (to start tracking it). Returns Drop::kCount when the
// packet may go on.
inline Drop policy_check(const Snapshot& s, PolicyWorker* pw, lb::Flow* flow, lb::CtDir dir, const lb::CtKey& key,
                         const uint8_t* data, uint32_t len, const ParsedPacket& p, bool icmp_error, bool from_eni,
                         uint64_t now_ms, WorkerStats& st) {
    const uint16_t gen = s.policy.gen;
    uint8_t bits;
    if (flow != nullptr) {
        if (flow->policy_gen.load(std::memory_order_relaxed) == gen) [[likely]] {
            bits = flow->policy_verdict.load(std::memory_order_relaxed);
        } else {
            const PolicyDecision d = decide_tracked(s, *flow);
            if (flow->policy_gen.load(std::memory_order_relaxed) != 0) st.event(Event::kPolicyRechecked);
            policy_detail::account(s, pw, d, flow->orig.proto, policy_detail::server_port(flow->orig.proto, flow->reply.sport),
                                   now_ms, st);
            if (d.drop == Drop::kPolicyPending) return d.drop;  // not cached: the pod opens soon
            bits = d.bits;
            flow->policy_verdict.store(bits, std::memory_order_relaxed);
            flow->policy_gen.store(gen, std::memory_order_relaxed);
        }
        if (!(bits & kPolicyAllowed)) return Drop::kPolicyDenied;
        if ((bits & (kPolicyScanClient | kPolicyScanServer)) && dir == lb::CtDir::kOrig && !icmp_error) {
            if (p.proto == kProtoTcp) {
                const uint8_t n = flow->payload_scans.load(std::memory_order_relaxed);
                if (n >= kPayloadTcpPackets) return Drop::kCount;
                if (p.l3_len > p.l4_off - p.l3_off + (data[p.l4_off + 12] >> 4) * 4u)
                    flow->payload_scans.store(static_cast<uint8_t>(n + 1), std::memory_order_relaxed);
            }
            return policy_detail::scan_payload(s, pw, bits, data, len, p, now_ms, st);
        }
        return Drop::kCount;
    }
    // Untracked: decide from the packet (ICMP errors about unknown flows too).
    return policy_untracked(s, pw, decide_flow(s, p.src_ip, p.dst_ip, p.dst_port, p.proto), key, data, len, p,
                            icmp_error, from_eni, now_ms, st);
}

// The rest of policy_check for an untracked packet, once its decision `d` is made (one at a
// time, or for a whole burst with one classify_burst call).
inline Drop policy_untracked(const Snapshot& s, PolicyWorker* pw, const PolicyDecision& d, const lb::CtKey& key,
                             const uint8_t* data, uint32_t len, const ParsedPacket& p, bool icmp_error, bool from_eni,
                             uint64_t now_ms, WorkerStats& st) {
    const uint16_t gen = s.policy.gen;
    policy_detail::account(s, pw, d, p.proto, policy_detail::server_port(p.proto, p.dst_port), now_ms, st);
    if (!d.allowed()) return d.drop;
    if (d.track && !icmp_error && s.lb.ct != nullptr) {
        const bool syn = p.proto == kProtoTcp && (data[p.l4_off + 13] & 0x12) == 0x02;
        const auto state = p.proto == kProtoTcp ? (syn ? lb::CtState::kTcpSynSent : lb::CtState::kTcpEstablished)
                                                : lb::CtState::kUnreplied;
        lb::Flow* f = nullptr;
        const uint8_t flags = lb::kFlowPlain | (from_eni ? lb::kFlowFromEni : 0);
        if (s.lb.ct->insert(key, lb::reversed(key), UINT32_MAX, UINT32_MAX, flags, lb::kNoPort,
                            static_cast<uint8_t>(state), now_ms, &f) == lb::InsertStatus::kInserted) {
            f->policy_verdict.store(d.bits, std::memory_order_relaxed);
            f->policy_gen.store(gen, std::memory_order_relaxed);
            st.event(Event::kPolicyTracked);
            if (d.bits & (kPolicyScanClient | kPolicyScanServer)) {
                if (p.proto == kProtoTcp) f->payload_scans.store(1, std::memory_order_relaxed);
                return policy_detail::scan_payload(s, pw, d.bits, data, len, p, now_ms, st);
            }
            return Drop::kCount;
        }
    }
    if (d.bits & (kPolicyScanClient | kPolicyScanServer))
        return policy_detail::scan_payload(s, pw, d.bits, data, len, p, now_ms, st);
    return Drop::kCount;
}

}  // namespace enidp::dp

// Connection tracking for Service flows: one table shared by every worker.
//
// Each flow is one Flow object (from a DPDK mempool) reachable under two keys of one
// rte_hash: its original tuple (client → frontend, as the client sent it) and its reply
// tuple (backend → client, as the backend answers after translation). A reply therefore
// finds its flow whichever worker or queue it arrives on. The hash is lock-free for
// readers (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF) and multi-writer; key slots and Flow
// objects are reclaimed through the dataplane's RCU QSBR variable, so a worker holding a
// Flow* between two quiescent reports never sees it freed.
//
// The translation is implicit in the two tuples: an original-direction packet leaves
// with (src, sport, dst, dport) = (reply.dst, reply.dport, reply.src, reply.sport); a
// reply leaves with (orig.dst, orig.dport, orig.src, orig.sport). DNAT, SNAT (hairpin,
// NodePort to a remote backend) and source-port rewrites on tuple clashes are all the
// same code.
//
// Who may call:
//   lookup_bulk, insert, erase, touch/advance_tcp: workers (EAL lcores), any time.
//   gc_step, purge, dump, counters: the control thread (EAL main lcore), which reports to
//   RCU as thread id `control_rcu_id` while it walks the table.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_spinlock.h>

#include "lb/fastpath/service_table.hpp"

namespace enidp::lb {

// A flow's five tuple, network order. ICMP echo: sport = dport = identifier.
struct alignas(8) CtKey {  // 8-aligned: the CRC hash reads it as two 64-bit words
    uint32_t src = 0;
    uint32_t dst = 0;
    uint16_t sport = 0;
    uint16_t dport = 0;
    uint8_t proto = 0;
    uint8_t pad[3] = {0, 0, 0};

    bool operator==(const CtKey&) const = default;
};
static_assert(sizeof(CtKey) == 16, "CtKey is the rte_hash key: 16 bytes, no padding holes");

// The clock conntrack and session affinity run on: TSC milliseconds, the same on every
// lcore. Workers compute it once per poll iteration.
inline uint64_t clock_ms() { return rte_rdtsc() / (rte_get_tsc_hz() / 1000); }

inline CtKey reversed(const CtKey& k) {
    CtKey r;
    r.src = k.dst;
    r.dst = k.src;
    r.sport = k.dport;
    r.dport = k.sport;
    r.proto = k.proto;
    return r;
}

enum class CtDir : uint8_t { kOrig = 0, kReply = 1 };

// Connection states. TCP follows the handshake/teardown coarsely (as Linux conntrack
// does with liberal window tracking off); UDP, SCTP and ICMP are "unreplied" until the
// first reply and "replied" afterwards.
#define ENIDP_FOREACH_CT_STATE(_)          \
    _(kTcpSynSent, "tcp_syn_sent")         \
    _(kTcpSynRecv, "tcp_syn_recv")         \
    _(kTcpEstablished, "tcp_established") \
    _(kTcpFinWait, "tcp_fin_wait")         \
    _(kTcpTimeWait, "tcp_time_wait")       \
    _(kTcpClose, "tcp_close")              \
    _(kUnreplied, "unreplied")             \
    _(kReplied, "replied")

enum class CtState : uint8_t {
#define ENIDP_CT_STATE_ENUM(e, name) e,
    ENIDP_FOREACH_CT_STATE(ENIDP_CT_STATE_ENUM)
#undef ENIDP_CT_STATE_ENUM
        kCount
};
inline constexpr const char* kCtStateNames[static_cast<size_t>(CtState::kCount)] = {
#define ENIDP_CT_STATE_NAME(e, name) name,
    ENIDP_FOREACH_CT_STATE(ENIDP_CT_STATE_NAME)
#undef ENIDP_CT_STATE_NAME
};

// Timeouts in seconds, per state. Defaults: Linux nf_conntrack with kube-proxy's
// settings (established 86400 s, close_wait folded into fin_wait).
struct CtTimeouts {
    uint32_t tcp_syn_sent = 120;
    uint32_t tcp_syn_recv = 60;
    uint32_t tcp_established = 86400;
    uint32_t tcp_fin_wait = 120;
    uint32_t tcp_time_wait = 120;
    uint32_t tcp_close = 10;
    uint32_t udp_unreplied = 30;
    uint32_t udp_replied = 120;
    uint32_t sctp_unreplied = 30;
    uint32_t sctp_replied = 3600;
    uint32_t icmp = 30;

    uint32_t for_state(uint8_t proto, CtState s) const {  // inline: asked once per packet
        switch (s) {
            case CtState::kTcpSynSent: return tcp_syn_sent;
            case CtState::kTcpSynRecv: return tcp_syn_recv;
            case CtState::kTcpEstablished: return tcp_established;
            case CtState::kTcpFinWait: return tcp_fin_wait;
            case CtState::kTcpTimeWait: return tcp_time_wait;
            case CtState::kTcpClose: return tcp_close;
            case CtState::kUnreplied: return proto == 17 ? udp_unreplied : proto == 132 ? sctp_unreplied : icmp;
            case CtState::kReplied: return proto == 17 ? udp_replied : proto == 132 ? sctp_replied : icmp;
            case CtState::kCount: break;
        }
        return tcp_close;
    }
};

enum FlowFlags : uint8_t {
    kFlowFromEni = 1u << 0,    // the client came in on an ENI (external traffic)
    kFlowSnat = 1u << 1,       // the source was rewritten (hairpin, NodePort/LB to a remote backend)
    kFlowHairpin = 1u << 2,    // a pod reached itself through a Service
    kFlowFinOrig = 1u << 3,    // FIN seen from the client
    kFlowFinReply = 1u << 4,   // FIN seen from the backend
    kFlowPlain = 1u << 5,      // not a Service flow: tracked for NetworkPolicy (no translation, no backend)
};

inline constexpr uint16_t kNoPort = UINT16_MAX;

struct alignas(64) Flow {
    CtKey orig;                          // client → frontend
    CtKey reply;                         // backend → client (post-NAT)
    std::atomic<uint64_t> last_seen_ms{0};
    uint32_t created_s = 0;              // clock_ms() / 1000 at insert
    uint32_t service_port = UINT32_MAX;  // stable id, LbState::ports
    uint32_t backend = UINT32_MAX;       // stable id, LbState::backends
    uint16_t reply_port = kNoPort;       // ENI port replies leave by (kFlowFromEni)
    std::atomic<uint8_t> state{0};       // CtState
    std::atomic<uint8_t> flags{0};       // FlowFlags
    // 1 while the object is not a published flow: free in the pool, being filled in by an
    // insert (cleared, with release, only once both keys are in the table), or erased (set
    // once by whoever erases it, before its keys go). So dead == 0, read with acquire,
    // means the fields are complete and both keys are in the table; and since the object
    // can only be freed a grace period after it is erased, it stays that flow until the
    // reader's next quiescent report. The per-worker FlowCache relies on this.
    std::atomic<uint8_t> dead{1};
    // Low 16 bits of the Service-table generation under which the backend was last seen
    // alive. While it matches the live table, packets skip the backend-status look-up
    // (a cache and TLB miss per packet with a million backends); a table change makes each
    // flow check once more. Removed backends' flows are also purged right after a publish,
    // so a 16-bit wrap can at worst skip one check for a flow the purge is removing anyway.
    std::atomic<uint16_t> checked_gen{0};
    // NetworkPolicy verdict cache (dataplane/fastpath/policy_stage.hpp): the policy
    // snapshot generation it was decided under (0: never) and kPolicy* bits.
    std::atomic<uint16_t> policy_gen{0};
    std::atomic<uint8_t> policy_verdict{0};
    std::atomic<uint8_t> payload_scans{0};  // original-direction packets scanned (TCP: first few only)
};
static_assert(sizeof(Flow) == 64, "one cache line per flow");

struct CtConfig {
    std::string name = "enidp_ct";
    uint32_t max_flows = 262144;
    int socket = 0;
    CtTimeouts timeouts;
    rte_rcu_qsbr* qsbr = nullptr;     // the dataplane's; required
    uint32_t control_rcu_id = 0;      // the control thread's reader id in `qsbr`
    uint16_t snat_port_min = 32768;   // source ports used when a tuple must be rewritten
    uint16_t snat_port_max = 60999;
};

struct CtCounters {
    uint64_t flows = 0;           // occupancy now
    uint64_t capacity = 0;
    uint64_t inserted = 0;
    uint64_t insert_failed = 0;   // table full or no free source port
    uint64_t expired = 0;         // removed by the GC on timeout
    uint64_t evicted = 0;         // removed early under memory pressure
    uint64_t purged = 0;          // removed because their backend went away
    uint64_t replaced = 0;        // replaced by a new connection on the same tuple
    uint64_t port_rewrites = 0;   // inserts whose reply tuple clashed and got a new source port
    uint64_t gc_passes = 0;       // completed sweeps of the whole table
};

enum class InsertStatus : uint8_t { kInserted, kExists, kFull, kNoPort };

// What the GC does in one step.
struct GcBudget {
    uint32_t max_slots = 16384;   // flow objects examined per call (a pass: capacity / max_slots calls)
};

class Conntrack {
public:
    static std::unique_ptr<Conntrack> create(const CtConfig& cfg, std::string& err);
    ~Conntrack();
    Conntrack(const Conntrack&) = delete;
    Conntrack& operator=(const Conntrack&) = delete;

    // ---- workers ----

    // Looks up n (≤ 64) keys at once. flows[i] is the flow or nullptr, dirs[i] the
    // direction the key matched.
    void lookup_bulk(const CtKey* const* keys, uint32_t n, Flow** flows, CtDir* dirs) const {
        hash_sig_t sigs[64];
        for (uint32_t i = 0; i < n; i++) sigs[i] = sig(*keys[i]);
        lookup_bulk_with_hash(keys, sigs, n, flows, dirs);
    }
    // The same, with each key's signature already computed (sig(), the table's hash).
    void lookup_bulk_with_hash(const CtKey* const* keys, const hash_sig_t* sigs, uint32_t n, Flow** flows,
                               CtDir* dirs) const {
        void* data[64];
        uint64_t hits = 0;
        if (rte_hash_lookup_with_hash_bulk_data(h_, reinterpret_cast<const void**>(const_cast<const CtKey**>(keys)),
                                                const_cast<hash_sig_t*>(sigs), n, &hits, data) <= 0) {
            for (uint32_t i = 0; i < n; i++) flows[i] = nullptr;
            return;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (hits & (1ull << i)) {
                const uintptr_t v = reinterpret_cast<uintptr_t>(data[i]);
                flows[i] = reinterpret_cast<Flow*>(v & ~uintptr_t{1});
                dirs[i] = static_cast<CtDir>(v & 1);
            } else {
                flows[i] = nullptr;
            }
        }
    }
    // The table's hash of a key (what rte_hash_hash returns): CRC32c of its two words.
    static hash_sig_t sig(const CtKey& k) {
        uint64_t w[2];
        std::memcpy(w, &k, sizeof w);
        return rte_hash_crc_8byte(w[1], rte_hash_crc_8byte(w[0], kHashInit));
    }
    static constexpr uint32_t kHashInit = 0;
    // Distinguishes this table from any other created in the process (a new one may reuse a
    // destroyed one's address): per-worker caches of Flow pointers are keyed by it.
    uint64_t instance_id() const { return instance_id_; }

    Flow* lookup(const CtKey& k, CtDir& dir) const {
        const CtKey* keys[1] = {&k};
        Flow* f;
        lookup_bulk(keys, 1, &f, &dir);
        return f;
    }

    // Creates a flow for `orig` translated to `reply`. When `reply` is already taken by
    // another flow, the client-side port (reply.dport) is rewritten from the SNAT range.
    // kExists: another worker inserted `orig` first; *out is then that flow.
    // `new_port`: always take the client-side port from the SNAT range (external traffic
    // SNATed to an ENI address, whose own ports belong to its pod).
    // Counts the flow in LbState::backends[backend].active (least-connection).
    InsertStatus insert(const CtKey& orig, CtKey reply, uint32_t service_port, uint32_t backend, uint8_t flags,
                        uint16_t reply_port, uint8_t state, uint64_t now_ms, Flow** out, bool new_port = false);

    // Removes the flow (both keys) and uncounts it from its backend. Idempotent: the first
    // caller wins and returns true.
    bool erase(Flow* f, bool count_replaced = false);

    bool expired(const Flow& f, uint64_t now_ms) const {
        const uint64_t last = f.last_seen_ms.load(std::memory_order_relaxed);
        const auto s = static_cast<CtState>(f.state.load(std::memory_order_relaxed));
        return now_ms > last + uint64_t{timeouts_.for_state(f.orig.proto, s)} * 1000;
    }
    // Refreshes the flow's last-seen time. Timeouts are whole seconds, so the stamp is only
    // written when it is a quarter of a second old: a busy flow does not dirty its cache
    // line on every packet.
    static constexpr uint64_t kTouchGranularityMs = 250;
    static void touch(Flow& f, uint64_t now_ms) {
        if (now_ms - f.last_seen_ms.load(std::memory_order_relaxed) >= kTouchGranularityMs)
            f.last_seen_ms.store(now_ms, std::memory_order_relaxed);
    }
    // Advances the TCP state for a packet with `tcp_flags` in direction `dir`.
    static void advance_tcp(Flow& f, CtDir dir, uint8_t tcp_flags);
    // UDP/SCTP/ICMP: the first reply makes the flow "replied".
    static void mark_replied(Flow& f) {
        if (f.state.load(std::memory_order_relaxed) == static_cast<uint8_t>(CtState::kUnreplied))
            f.state.store(static_cast<uint8_t>(CtState::kReplied), std::memory_order_relaxed);
    }

    // ---- control thread ----

    // Examines budget.max_slots flow objects from where the last call stopped; erases
    // expired flows and flows `dead_backend(id)` says are gone. Above 90 % occupancy it
    // also evicts unreplied / half-open flows idle for more than a second (early drop).
    void gc_step(uint64_t now_ms, const GcBudget& budget, const std::function<bool(uint32_t)>& dead_backend);
    // Whole-table sweep erasing every flow whose backend `dead_backend` reports gone.
    // Returns the number purged.
    uint64_t purge(const std::function<bool(uint32_t)>& dead_backend);
    // Calls fn for every live flow (original-direction key), in table order.
    void for_each(const std::function<void(const Flow&)>& fn);

    // Backend active-connection counts live here (set once, before traffic).
    void bind_state(LbState* s) { state_ = s; }

    CtCounters counters() const;
    uint32_t size() const { return static_cast<uint32_t>(flows_.load(std::memory_order_relaxed)); }
    uint32_t capacity() const { return max_flows_; }
    const CtTimeouts& timeouts() const { return timeouts_; }
private:
    Conntrack() = default;
    static void free_key_data(void* p, void* key_data);
    template <class Fn>
    void walk(Fn&& fn);

    rte_hash* h_ = nullptr;
    uint64_t instance_id_ = 0;
    LbState* state_ = nullptr;
    rte_mempool* pool_ = nullptr;
    rte_rcu_qsbr* qsbr_ = nullptr;
    uint32_t control_rcu_id_ = 0;
    uint32_t max_flows_ = 0;
    CtTimeouts timeouts_;
    uint16_t snat_min_ = 0;
    uint16_t snat_max_ = 0;
    rte_spinlock_t insert_lock_ = RTE_SPINLOCK_INITIALIZER;
    uint32_t port_cursor_ = 0;   // under insert_lock_
    uint32_t gc_next_ = 0;       // control thread: the next of objects_ gc_step examines
    std::vector<Flow*> objects_;  // every object of pool_ (set at create)
    std::atomic<uint64_t> flows_{0};
    std::atomic<uint64_t> inserted_{0}, port_rewrites_{0};  // written under insert_lock_ only (no locked add)
    std::atomic<uint64_t> insert_failed_{0}, expired_{0}, evicted_{0}, purged_{0}, replaced_{0}, gc_passes_{0};
};

}  // namespace enidp::lb

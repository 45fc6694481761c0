#include "lb/fastpath/conntrack.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_prefetch.h>

namespace enidp::lb {

namespace {

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpRst = 0x04;
constexpr uint8_t kTcpAck = 0x10;

uint32_t ct_hash(const void* key, uint32_t len, uint32_t init) { return rte_hash_crc(key, len, init); }
constexpr uint32_t kCtHashInit = 0;
static_assert(kCtHashInit == Conntrack::kHashInit, "Conntrack::sig() must be the table's hash");
// The table's signature of `k` (what rte_hash_hash returns), computed inline.
inline hash_sig_t ct_sig(const CtKey& k) { return Conntrack::sig(k); }

// Every Flow object starts its life in the pool as "dead" (see Flow::dead).
void init_flow_obj(rte_mempool*, void*, void* obj, unsigned) { new (obj) Flow(); }

std::atomic<uint64_t> g_next_instance{1};

inline void* tag(Flow* f, CtDir d) { return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(f) | static_cast<uintptr_t>(d)); }

// The control thread walks the table as an RCU reader so flows it holds are not freed.
class ControlReader {
public:
    ControlReader(rte_rcu_qsbr* q, uint32_t id) : q_(q), id_(id) { rte_rcu_qsbr_thread_online(q_, id_); }
    ~ControlReader() { rte_rcu_qsbr_thread_offline(q_, id_); }
    ControlReader(const ControlReader&) = delete;
    ControlReader& operator=(const ControlReader&) = delete;

private:
    rte_rcu_qsbr* q_;
    uint32_t id_;
};

}  // namespace

std::unique_ptr<Conntrack> Conntrack::create(const CtConfig& cfg, std::string& err) {
    if (cfg.qsbr == nullptr) {
        err = "conntrack: no RCU variable";
        return nullptr;
    }
    if (cfg.max_flows < 64 || cfg.snat_port_min == 0 || cfg.snat_port_min > cfg.snat_port_max) {
        err = "conntrack: max_flows must be >= 64 and the SNAT port range non-empty";
        return nullptr;
    }
    std::unique_ptr<Conntrack> ct(new Conntrack());
    ct->qsbr_ = cfg.qsbr;
    ct->control_rcu_id_ = cfg.control_rcu_id;
    ct->max_flows_ = cfg.max_flows;
    ct->timeouts_ = cfg.timeouts;
    ct->snat_min_ = cfg.snat_port_min;
    ct->snat_max_ = cfg.snat_port_max;

    const std::string pool_name = cfg.name + "_fl";
    const unsigned cache = cfg.max_flows >= 4096 ? 64 : 0;  // per-lcore cache only when it cannot starve the pool
    ct->instance_id_ = g_next_instance.fetch_add(1, std::memory_order_relaxed);
    ct->pool_ = rte_mempool_create(pool_name.c_str(), cfg.max_flows, sizeof(Flow), cache, 0, nullptr, nullptr,
                                   init_flow_obj, nullptr, cfg.socket, 0);
    if (ct->pool_ == nullptr) {
        err = "conntrack: flow pool of " + std::to_string(cfg.max_flows) + ": " + rte_strerror(rte_errno);
        return nullptr;
    }
    // Every flow object, for the GC's bounded steps (gc_step).
    ct->objects_.reserve(cfg.max_flows);
    rte_mempool_obj_iter(
        ct->pool_,
        [](rte_mempool*, void* arg, void* obj, unsigned) {
            static_cast<std::vector<Flow*>*>(arg)->push_back(static_cast<Flow*>(obj));
        },
        &ct->objects_);
    rte_hash_parameters hp{};
    const std::string hname = cfg.name + "_h";
    hp.name = hname.c_str();
    // Two keys per flow, plus headroom so the cuckoo table stays below ~80 % full.
    hp.entries = cfg.max_flows * 2 + cfg.max_flows / 2;
    hp.key_len = sizeof(CtKey);
    hp.hash_func = ct_hash;
    hp.hash_func_init_val = kCtHashInit;
    hp.socket_id = cfg.socket;
    hp.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD |
                    RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    ct->h_ = rte_hash_create(&hp);
    if (ct->h_ == nullptr) {
        err = "conntrack: hash of " + std::to_string(hp.entries) + " keys: " + rte_strerror(rte_errno);
        return nullptr;
    }
    rte_hash_rcu_config rc{};
    rc.v = cfg.qsbr;
    rc.mode = RTE_HASH_QSBR_MODE_DQ;
    rc.key_data_ptr = ct.get();
    rc.free_key_data_func = &Conntrack::free_key_data;
    if (rte_hash_rcu_qsbr_add(ct->h_, &rc) != 0) {
        err = std::string("conntrack: RCU: ") + rte_strerror(rte_errno);
        return nullptr;
    }
    return ct;
}

Conntrack::~Conntrack() {
    if (h_ != nullptr) rte_hash_free(h_);  // frees the defer queue without calling back
    if (pool_ != nullptr) rte_mempool_free(pool_);
}

void Conntrack::free_key_data(void* p, void* key_data) {
    const auto v = reinterpret_cast<uintptr_t>(key_data);
    if ((v & 1) != 0) return;  // the reply key: the flow goes with its original key
    auto* self = static_cast<Conntrack*>(p);
    rte_mempool_put(self->pool_, reinterpret_cast<void*>(v));
}

InsertStatus Conntrack::insert(const CtKey& orig, CtKey reply, uint32_t service_port, uint32_t backend, uint8_t flags,
                               uint16_t reply_port, uint8_t state, uint64_t now_ms, Flow** out, bool new_port) {
    void* obj = nullptr;
    if (flows_.load(std::memory_order_relaxed) >= max_flows_ || rte_mempool_get(pool_, &obj) != 0) {
        insert_failed_.fetch_add(1, std::memory_order_relaxed);
        return InsertStatus::kFull;
    }
    // The backend's connection count is bumped at the end: start fetching its line now.
    if (state_ != nullptr && backend < state_->backend_capacity) rte_prefetch0(&state_->backends[backend]);
    // Both hashes once, outside the lock; the flow is filled in before the lock too (it is
    // private until its original key is added).
    hash_sig_t sigs[2] = {ct_sig(orig), ct_sig(reply)};
    // Not placement-new: that would clear `dead`, and a worker's FlowCache may still point
    // at this object from its previous life. Every field but `dead` (still 1) is reset.
    auto* f = static_cast<Flow*>(obj);
    f->orig = orig;
    f->reply = CtKey{};
    f->created_s = static_cast<uint32_t>(now_ms / 1000);
    f->last_seen_ms.store(now_ms, std::memory_order_relaxed);
    f->service_port = service_port;
    f->backend = backend;
    f->reply_port = reply_port;
    f->state.store(state, std::memory_order_relaxed);
    f->flags.store(0, std::memory_order_relaxed);
    f->checked_gen.store(0, std::memory_order_relaxed);
    f->policy_gen.store(0, std::memory_order_relaxed);
    f->policy_verdict.store(0, std::memory_order_relaxed);
    f->payload_scans.store(0, std::memory_order_relaxed);
    const void* keys[2] = {&orig, &reply};
    void* found[2];
    uint64_t hits = 0;
    rte_spinlock_lock(&insert_lock_);
    // One bulk look-up for both tuples: their buckets are fetched in parallel, and the adds
    // below find them in cache. Inserts are serialised by insert_lock_, so neither tuple
    // can appear between this look-up and the adds (erases may remove them: harmless).
    rte_hash_lookup_with_hash_bulk_data(h_, keys, sigs, 2, &hits, found);
    if (hits & 1) {
        rte_spinlock_unlock(&insert_lock_);
        rte_mempool_put(pool_, obj);
        *out = reinterpret_cast<Flow*>(reinterpret_cast<uintptr_t>(found[0]) & ~uintptr_t{1});
        return InsertStatus::kExists;
    }
    const bool reply_taken = (hits & 2) != 0;
    if ((flags & kFlowPlain) && (reply_taken || new_port)) {
        // An untranslated flow cannot move to another port: leave it untracked.
        rte_spinlock_unlock(&insert_lock_);
        rte_mempool_put(pool_, obj);
        insert_failed_.fetch_add(1, std::memory_order_relaxed);
        return InsertStatus::kNoPort;
    }
    if (new_port || reply_taken) {
        // Another flow already owns this reply tuple (two frontends to one backend from
        // one client port, or a SNAT address): give this one a free client-side port.
        const uint32_t span = uint32_t{snat_max_} - snat_min_ + 1;
        bool free_port = false;
        for (uint32_t tries = 0; tries < 64 && !free_port; tries++) {
            port_cursor_ = (port_cursor_ + 1) % span;
            reply.dport = rte_cpu_to_be_16(static_cast<uint16_t>(snat_min_ + port_cursor_));
            sigs[1] = ct_sig(reply);
            free_port = rte_hash_lookup_with_hash(h_, &reply, sigs[1]) < 0;
        }
        if (!free_port) {
            rte_spinlock_unlock(&insert_lock_);
            rte_mempool_put(pool_, obj);
            insert_failed_.fetch_add(1, std::memory_order_relaxed);
            return InsertStatus::kNoPort;
        }
        flags |= kFlowSnat;
        // Counted under insert_lock_, like every other writer of port_rewrites_ and
        // inserted_: a plain read and write, no locked instruction.
        port_rewrites_.store(port_rewrites_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    f->reply = reply;
    f->flags.store(flags, std::memory_order_relaxed);
    // Original key first: the flow is complete before either key is visible, and if the
    // reply key cannot go in, deleting the original key hands the flow to the RCU
    // callback, which frees it once no worker can still hold it.
    if (rte_hash_add_key_with_hash_data(h_, &orig, sigs[0], tag(f, CtDir::kOrig)) != 0) {
        rte_spinlock_unlock(&insert_lock_);
        rte_mempool_put(pool_, obj);
        insert_failed_.fetch_add(1, std::memory_order_relaxed);
        return InsertStatus::kFull;
    }
    if (rte_hash_add_key_with_hash_data(h_, &reply, sigs[1], tag(f, CtDir::kReply)) != 0) {
        rte_hash_del_key_with_hash(h_, &orig, sigs[0]);  // still dead: the RCU callback frees it
        rte_spinlock_unlock(&insert_lock_);
        insert_failed_.fetch_add(1, std::memory_order_relaxed);
        return InsertStatus::kFull;
    }
    // Published: both keys are in. Under the lock, so a worker that found the flow dead
    // meanwhile and came to insert it gets kExists with the complete flow.
    f->dead.store(0, std::memory_order_release);
    inserted_.store(inserted_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    rte_spinlock_unlock(&insert_lock_);
    flows_.fetch_add(1, std::memory_order_relaxed);
    if (state_ != nullptr && backend < state_->backend_capacity)
        state_->backends[backend].active.fetch_add(1, std::memory_order_relaxed);
    *out = f;
    return InsertStatus::kInserted;
}

bool Conntrack::erase(Flow* f, bool count_replaced) {
    uint8_t expect = 0;
    if (!f->dead.compare_exchange_strong(expect, 1, std::memory_order_acq_rel)) return false;
    // Reply key first: its callback never frees; the original key's frees the flow.
    rte_hash_del_key(h_, &f->reply);
    rte_hash_del_key(h_, &f->orig);
    flows_.fetch_sub(1, std::memory_order_relaxed);
    if (state_ != nullptr && f->backend < state_->backend_capacity)
        state_->backends[f->backend].active.fetch_sub(1, std::memory_order_relaxed);
    if (count_replaced) replaced_.fetch_add(1, std::memory_order_relaxed);
    return true;
}

void Conntrack::advance_tcp(Flow& f, CtDir dir, uint8_t tcp_flags) {
    uint8_t cur = f.state.load(std::memory_order_relaxed);
    const bool orig = dir == CtDir::kOrig;
    for (;;) {
        auto s = static_cast<CtState>(cur);
        CtState next = s;
        if (tcp_flags & kTcpRst) {
            next = CtState::kTcpClose;
        } else if ((tcp_flags & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck)) {
            if (!orig && s == CtState::kTcpSynSent) next = CtState::kTcpSynRecv;
        } else if (tcp_flags & kTcpSyn) {
            if (orig && (s == CtState::kTcpTimeWait || s == CtState::kTcpClose)) next = CtState::kTcpSynSent;
        } else if (tcp_flags & kTcpFin) {
            const uint8_t bit = orig ? kFlowFinOrig : kFlowFinReply;
            const uint8_t fl = f.flags.fetch_or(bit, std::memory_order_relaxed) | bit;
            if ((fl & (kFlowFinOrig | kFlowFinReply)) == (kFlowFinOrig | kFlowFinReply))
                next = CtState::kTcpTimeWait;
            else if (s != CtState::kTcpTimeWait && s != CtState::kTcpClose)
                next = CtState::kTcpFinWait;
        } else if (tcp_flags & kTcpAck) {
            if (orig && s == CtState::kTcpSynRecv) next = CtState::kTcpEstablished;
        }
        if (next == s) return;
        if (f.state.compare_exchange_weak(cur, static_cast<uint8_t>(next), std::memory_order_relaxed)) return;
    }
}

void Conntrack::gc_step(uint64_t now_ms, const GcBudget& budget,
                        const std::function<bool(uint32_t)>& dead_backend) {
    // Over the flow objects rather than the hash table: rte_hash_iterate skips empty key slots
    // inside one call, so on a sparse table one call walked most of it (~2 ms at 262,144 flows
    // of capacity, every tick, on the thread that publishes changes). Here a step reads exactly
    // budget.max_slots objects. `dead` == 0 (acquire) is a published flow, and as an RCU reader
    // this thread keeps it from being freed (and reused) until the step ends.
    ControlReader reader(qsbr_, control_rcu_id_);
    const bool pressure = flows_.load(std::memory_order_relaxed) * 10 >= uint64_t{max_flows_} * 9;
    const auto total = static_cast<uint32_t>(objects_.size());
    // At most one pass per step (a pool smaller than the budget is not swept twice).
    const uint32_t steps = std::min(budget.max_slots, total);
    for (uint32_t i = 0; i < steps; i++) {
        if (gc_next_ >= total) {
            gc_next_ = 0;
            gc_passes_.fetch_add(1, std::memory_order_relaxed);
        }
        Flow* f = objects_[gc_next_++];
        if (f->dead.load(std::memory_order_acquire)) continue;
        if (expired(*f, now_ms)) {
            if (erase(f)) expired_.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        if (f->backend != UINT32_MAX && dead_backend && dead_backend(f->backend)) {
            if (erase(f)) purged_.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        if (pressure) {
            const auto s = static_cast<CtState>(f->state.load(std::memory_order_relaxed));
            const bool unassured = s == CtState::kUnreplied || s == CtState::kTcpSynSent ||
                                   s == CtState::kTcpSynRecv || s == CtState::kTcpTimeWait ||
                                   s == CtState::kTcpClose;
            if (unassured && now_ms > f->last_seen_ms.load(std::memory_order_relaxed) + 1000 && erase(f))
                evicted_.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

// Every live flow once (by its original key), as an RCU reader.
template <class Fn>
void Conntrack::walk(Fn&& fn) {
    ControlReader reader(qsbr_, control_rcu_id_);
    uint32_t next = 0;
    const void* key;
    void* data;
    while (rte_hash_iterate(h_, &key, &data, &next) >= 0) {
        const auto v = reinterpret_cast<uintptr_t>(data);
        if ((v & 1) != 0) continue;
        auto* f = reinterpret_cast<Flow*>(v);
        if (!f->dead.load(std::memory_order_relaxed)) fn(f);
    }
}

uint64_t Conntrack::purge(const std::function<bool(uint32_t)>& dead_backend) {
    uint64_t n = 0;
    walk([&](Flow* f) {
        if (f->backend != UINT32_MAX && dead_backend(f->backend) && erase(f)) n++;
    });
    purged_.fetch_add(n, std::memory_order_relaxed);
    return n;
}

void Conntrack::for_each(const std::function<void(const Flow&)>& fn) {
    walk([&](Flow* f) { fn(*f); });
}

CtCounters Conntrack::counters() const {
    CtCounters c;
    c.flows = flows_.load(std::memory_order_relaxed);
    c.capacity = max_flows_;
    c.inserted = inserted_.load(std::memory_order_relaxed);
    c.insert_failed = insert_failed_.load(std::memory_order_relaxed);
    c.expired = expired_.load(std::memory_order_relaxed);
    c.evicted = evicted_.load(std::memory_order_relaxed);
    c.purged = purged_.load(std::memory_order_relaxed);
    c.replaced = replaced_.load(std::memory_order_relaxed);
    c.port_rewrites = port_rewrites_.load(std::memory_order_relaxed);
    c.gc_passes = gc_passes_.load(std::memory_order_relaxed);
    return c;
}

}  // namespace enidp::lb

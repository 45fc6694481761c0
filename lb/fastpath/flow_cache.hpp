// A per-worker cache of conntrack look-ups: key signature → Flow*, in front of the shared
// rte_hash. An established flow's packet then costs one CRC of its key, one read of a small
// (L2-resident) set and the flow's own line, instead of the hash's bucket, key slot and
// data walk.
//
// Layout: 4-way set-associative, 8192 sets of 32 bytes (256 KiB). An entry is one word:
// the Flow pointer (64-byte aligned, user space: below 2^48) with the direction in bit 0,
// and the top 16 bits of the key's signature in bits 48–63 (the set is chosen by the low
// bits), so a set is searched without touching any flow.
//
// Why a cached pointer is safe although the worker keeps it across quiescent reports (the
// RCU scheme only protects pointers between two reports): Flow objects live in the
// conntrack's mempool for the table's whole life, and Flow::dead is 1 whenever the object
// is not a published flow (in the pool, being filled in, erased). A hit is used only when
// the flow, read with acquire, is not dead and its tuple for the cached direction equals
// the packet's key. A flow that is not dead has both keys in the table (it is *the* flow
// for that key: a key is in the table once), and it cannot be freed before this worker's
// next quiescent report, because it is erased (dead set) only after the read and freed only
// a grace period after that. Purged, expired, replaced, freed or reused objects therefore
// fail the check and the packet takes the rte_hash path, which refills the entry.
// The cache also remembers which Conntrack it holds pointers into (instance_id()) and empties
// itself when handed another one.
//
// Who may call: the owning worker only (no sharing, no atomics), holding the snapshot the
// Conntrack came from.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

#include <rte_prefetch.h>

#include "lb/fastpath/conntrack.hpp"

namespace enidp::lb {

class FlowCache {
public:
    static constexpr uint32_t kWays = 4;
    static constexpr uint32_t kSets = 8192;  // power of two
    static constexpr uint32_t kMaxBurst = 64;

    FlowCache() : sets_(new Set[kSets]) { clear(); }

    // Looks up n (≤ 64) keys: flows[i] / dirs[i] as Conntrack::lookup_bulk would return them
    // (flows that are dead may be returned from the table, as there). sigs[i] receives each
    // key's table signature (Conntrack::sig), for remember().
    void lookup(const Conntrack& ct, const CtKey* keys, uint32_t n, hash_sig_t* sigs, Flow** flows, CtDir* dirs) {
        if (ct.instance_id() != owner_) [[unlikely]] {
            clear();
            owner_ = ct.instance_id();
        }
        for (uint32_t i = 0; i < n; i++) {
            sigs[i] = Conntrack::sig(keys[i]);
            rte_prefetch0(&sets_[sigs[i] & (kSets - 1)]);
        }
        // Tag match: the candidate's line is fetched for all packets before any is read.
        uint64_t cand[kMaxBurst];
        for (uint32_t i = 0; i < n; i++) {
            const Set& s = sets_[sigs[i] & (kSets - 1)];
            const uint64_t tag = uint64_t{sigs[i] >> 16} << kTagShift;
            cand[i] = 0;
            for (uint32_t w = 0; w < kWays; w++) {
                if ((s.e[w] & kTagMask) == tag && (s.e[w] & kPtrMask) != 0) {
                    cand[i] = s.e[w];
                    rte_prefetch0(reinterpret_cast<const void*>(s.e[w] & kPtrMask));
                    break;
                }
            }
        }
        uint32_t miss[kMaxBurst];
        uint32_t nmiss = 0;
        for (uint32_t i = 0; i < n; i++) {
            const uint64_t e = cand[i];
            if (e != 0) {
                Flow* f = reinterpret_cast<Flow*>(e & kPtrMask & ~uint64_t{1});
                const auto d = static_cast<CtDir>(e & 1);
                if (f->dead.load(std::memory_order_acquire) == 0 &&
                    same_key(d == CtDir::kOrig ? f->orig : f->reply, keys[i])) [[likely]] {
                    flows[i] = f;
                    dirs[i] = d;
                    hits_++;
                    continue;
                }
                forget(sigs[i], e);
            }
            miss[nmiss++] = i;
        }
        if (nmiss == 0) return;
        misses_ += nmiss;
        const CtKey* kp[kMaxBurst];
        hash_sig_t ms[kMaxBurst];
        Flow* mf[kMaxBurst];
        CtDir md[kMaxBurst];
        for (uint32_t j = 0; j < nmiss; j++) {
            kp[j] = &keys[miss[j]];
            ms[j] = sigs[miss[j]];
        }
        ct.lookup_bulk_with_hash(kp, ms, nmiss, mf, md);
        for (uint32_t j = 0; j < nmiss; j++) {
            const uint32_t i = miss[j];
            flows[i] = mf[j];
            dirs[i] = md[j];
            if (mf[j] != nullptr) {
                rte_prefetch0(mf[j]);
                remember(sigs[i], mf[j], md[j]);
            }
        }
    }

    // Records that the key with signature `sig` is flow `f`'s tuple for direction `d`
    // (what a look-up or an insert found). Replaces an entry with the same tag, else an
    // empty way, else one in turn.
    void remember(hash_sig_t sig, const Flow* f, CtDir d) {
        const auto p = reinterpret_cast<uint64_t>(f);
        if ((p & ~kPtrMask) != 0 || (p & 63) != 0) [[unlikely]]
            return;  // not representable (57-bit address space): left to the table
        const uint64_t tag = uint64_t{sig >> 16} << kTagShift;
        const uint64_t e = tag | p | static_cast<uint64_t>(d);
        Set& s = sets_[sig & (kSets - 1)];
        uint32_t empty = kWays;
        for (uint32_t w = 0; w < kWays; w++) {
            if ((s.e[w] & kTagMask) == tag && (s.e[w] & kPtrMask) != 0) {
                s.e[w] = e;
                return;
            }
            if ((s.e[w] & kPtrMask) == 0 && empty == kWays) empty = w;
        }
        if (empty == kWays) empty = victim_++ & (kWays - 1);
        s.e[empty] = e;
    }

    void clear() {
        std::memset(static_cast<void*>(sets_.get()), 0, sizeof(Set) * kSets);
        owner_ = 0;
    }

    uint64_t hits() const { return hits_; }
    uint64_t misses() const { return misses_; }

private:
    struct alignas(32) Set {
        uint64_t e[kWays];
    };
    static constexpr uint32_t kTagShift = 48;
    static constexpr uint64_t kTagMask = ~uint64_t{0} << kTagShift;
    static constexpr uint64_t kPtrMask = ~kTagMask;  // pointer | direction bit

    static bool same_key(const CtKey& a, const CtKey& b) {
        uint64_t x[2], y[2];
        std::memcpy(x, &a, sizeof x);
        std::memcpy(y, &b, sizeof y);
        return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
    }
    void forget(hash_sig_t sig, uint64_t e) {
        Set& s = sets_[sig & (kSets - 1)];
        for (uint32_t w = 0; w < kWays; w++)
            if (s.e[w] == e) s.e[w] = 0;
    }

    std::unique_ptr<Set[]> sets_;
    uint64_t owner_ = 0;  // Conntrack::instance_id() the pointers belong to (0: none)
    uint32_t victim_ = 0;
    uint64_t hits_ = 0;
    uint64_t misses_ = 0;
};

}  // namespace enidp::lb

// Backend selection for a new flow: which backend of a service port's set gets it, by the
// port's algorithm (lb::Algorithm), and the flow hash Maglev uses.
//
// Worker code, header-only: no allocation, no exceptions, no locks, no logging. Callable
// from any worker (and from the control thread, e.g. for `trace`); the only shared writes
// are relaxed atomics in LbState (round-robin cursor). `rng_state` is per worker.
#pragma once

#include <cstdint>

#include <rte_hash_crc.h>

#include "lb/fastpath/service_table.hpp"
#include "lb/model/service.hpp"

namespace enidp::lb {

// Exact least-connection scan up to this many backends, power of two choices above.
inline constexpr uint32_t kLeastConnScanMax = 16;

// CRC32-C of the 5-tuple (addresses and ports as they are in the packet, network order).
// The same on every worker and every CPU (SSE4.2 and the software CRC agree), so a flow
// maps to the same Maglev entry whichever worker or node sees it.
inline uint32_t flow_hash(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint8_t proto) {
    uint32_t h = rte_hash_crc_4byte(src, 0x5bd1e995u);
    h = rte_hash_crc_4byte(dst, h);
    h = rte_hash_crc_4byte((uint32_t{sport} << 16) | dport, h);
    return rte_hash_crc_1byte(proto, h);
}

// xorshift64* (Vigna 2016); a zero state is replaced so the generator never sticks.
inline uint64_t next_random(uint64_t& state) {
    uint64_t x = state != 0 ? state : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

// Uniform in [0, n) from the high 32 bits (Lemire's multiply-shift, no division).
inline uint32_t random_below(uint64_t& state, uint32_t n) {
    return static_cast<uint32_t>(((next_random(state) >> 32) * uint64_t{n}) >> 32);
}

// Absolute index into table.backends for a new flow of `sp` in `set` (one of sp.internal,
// sp.external, sp.cluster), or kNone when the set is empty (then set.empty_action applies)
// or, for the weighted algorithm, every weight is 0.
inline uint32_t select_backend(const ServiceTable& table, const ServicePort& sp, const BackendSet& set,
                               uint32_t flow_hash, uint64_t& rng_state, LbState& state) {
    const uint32_t n = set.count;
    if (n == 0) return kNone;
    if (n == 1) return set.first;
    switch (static_cast<Algorithm>(sp.algorithm)) {
        case Algorithm::kMaglev:
            if (set.maglev_size == 0) break;
            return set.first + set.maglev[flow_hash % set.maglev_size];
        case Algorithm::kRandom: break;
        case Algorithm::kRoundRobin:
            return set.first + state.ports[sp.id].rr.fetch_add(1, std::memory_order_relaxed) % n;
        case Algorithm::kWeighted:
            if (set.wheel_size == 0) return kNone;
            return set.first + set.wheel[random_below(rng_state, set.wheel_size)];
        case Algorithm::kLeastConn: {
            auto active = [&](uint32_t i) {
                return state.backends[table.backends[set.first + i].id].active.load(std::memory_order_relaxed);
            };
            if (n <= kLeastConnScanMax) {
                // Start at a random backend so ties spread instead of piling on the first.
                const uint32_t start = random_below(rng_state, n);
                uint32_t best = start, best_active = active(start);
                for (uint32_t k = 1; k < n && best_active != 0; ++k) {
                    uint32_t i = start + k;
                    if (i >= n) i -= n;
                    const uint32_t a = active(i);
                    if (a < best_active) best = i, best_active = a;
                }
                return set.first + best;
            }
            const uint32_t a = random_below(rng_state, n);
            uint32_t b = random_below(rng_state, n - 1);
            if (b >= a) ++b;
            return set.first + (active(b) < active(a) ? b : a);
        }
    }
    return set.first + random_below(rng_state, n);
}

}  // namespace enidp::lb

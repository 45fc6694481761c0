#include "lb/builder/maglev.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__SSE4_1__)
#include <smmintrin.h>
#endif

namespace enidp::lb {

namespace {

// Two unrelated 64-bit finalisers (MurmurHash3 fmix64 and a splitmix64 round with another
// seed) so offset and skip are independent.
uint64_t hash_offset(uint64_t k) {
    k ^= 0x6c62272e07bb0142ull;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

uint64_t hash_skip(uint64_t k) {
    k += 0x9e3779b97f4a7c15ull;
    k = (k ^ (k >> 30)) * 0xbf58476d1ce4e5b9ull;
    k = (k ^ (k >> 27)) * 0x94d049bb133111ebull;
    return k ^ (k >> 31);
}

}  // namespace

bool is_prime(uint32_t n) {
    if (n < 2) return false;
    if (n % 2 == 0) return n == 2;
    for (uint64_t d = 3; d * d <= n; d += 2)
        if (n % d == 0) return false;
    return true;
}

uint32_t next_prime(uint32_t n) {
    while (!is_prime(n)) ++n;
    return n;
}

uint32_t maglev_auto_size(uint32_t backends, uint32_t default_size) {
    const uint64_t need = uint64_t{kMaglevMinEntriesPerBackend} * backends;
    const uint32_t def = next_prime(default_size < 2 ? 2 : default_size);
    if (def >= need) return def;
    if (kMaglevLargeSize >= need) return kMaglevLargeSize;
    return next_prime(static_cast<uint32_t>(need));
}

std::string maglev_size_error(uint32_t size, uint32_t backends) {
    if (backends > kMaglevMaxBackends)
        return std::to_string(backends) + " backends, more than the " + std::to_string(kMaglevMaxBackends) +
               " a Maglev table can index";
    if (!is_prime(size)) return "Maglev table size " + std::to_string(size) + " is not prime";
    if (size > kMaglevMaxSize)
        return "Maglev table size " + std::to_string(size) + " is above the maximum " + std::to_string(kMaglevMaxSize);
    const uint64_t need = uint64_t{kMaglevMinEntriesPerBackend} * backends;
    if (size < need)
        return "Maglev table size " + std::to_string(size) + " is below " + std::to_string(need) + " (100 x " +
               std::to_string(backends) + " backends)";
    return {};
}

namespace {

// x mod m for x < 2m: the unsigned minimum of x and x - m (which wraps to a large value when
// x < m). A select, never a branch: GCC turns `x >= m ? x - m : x` into an unpredictable
// branch in some of these loops (one mispredict per wrap, 20-25 % slower walks).
inline uint32_t wrap(uint32_t x, uint32_t m) { return std::min(x, x - m); }

// a⁻¹ mod m for prime m and 0 < a < m (extended Euclid).
uint32_t mod_inverse(uint32_t a, uint32_t m) {
    int64_t t = 0, new_t = 1;
    uint32_t r = m, new_r = a;
    while (new_r != 0) {
        const uint32_t q = r / new_r;
        const int64_t t2 = t - int64_t{q} * new_t;
        t = new_t;
        new_t = t2;
        const uint32_t r2 = r - q * new_r;
        r = new_r;
        new_r = r2;
    }
    return static_cast<uint32_t>(t < 0 ? t + m : t);
}

// a · b mod m for a, b < m <= 2^24: the product is exact in a double, so the quotient
// estimate is off by at most one.
struct ModMul {
    uint32_t m;
    double inv_m;
    uint32_t operator()(uint32_t a, uint32_t b) const {
        const uint64_t p = uint64_t{a} * b;
        int64_t r = static_cast<int64_t>(p - static_cast<uint64_t>(static_cast<double>(p) * inv_m) * m);
        if (r < 0) r += m;
        if (r >= m) r -= m;
        return static_cast<uint32_t>(r);
    }
};

#if defined(__SSE4_1__)
inline __m128i wrap4(__m128i x, __m128i m) { return _mm_min_epu32(x, _mm_sub_epi32(x, m)); }
#endif

}  // namespace

MaglevPermutation maglev_permutation(const MaglevKey& backend, uint32_t m) {
    const uint64_t key = (uint64_t{backend.ip} << 16) | backend.port;
    return MaglevPermutation{static_cast<uint32_t>(hash_offset(key) % m),
                             m == 1 ? 0 : static_cast<uint32_t>(hash_skip(key) % (m - 1) + 1)};
}

void MaglevBuilder::populate(std::span<const MaglevKey> backends, std::span<uint16_t> table) {
    const auto n = static_cast<uint32_t>(backends.size());
    const auto m = static_cast<uint32_t>(table.size());
    if (n == 0 || m == 0) return;
    walkers_.resize(n);
    next_.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
        const MaglevPermutation p = maglev_permutation(backends[i], m);
        next_[i] = p.offset;
        Walker& w = walkers_[i];
        w.step[0] = 0;
        for (uint32_t k = 1; k < 8; ++k) w.step[k] = wrap(w.step[k - 1] + p.skip, m);
    }
    const uint32_t padded = (m + 7) / 8 * 8;
    claimed_.assign(padded, 0);
    std::fill(claimed_.begin() + m, claimed_.end(), 1);

    // The last ~0.8·sqrt(M) slots are found directly (fill_tail): each claim there costs
    // one pass over the free slots, about what the walk would spend at that point.
    const auto tail = std::min(m - 1, static_cast<uint32_t>(0.8 * std::sqrt(static_cast<double>(m))));
    const uint32_t walk_until = m - tail;
    Fill fill{n, m, walkers_.data(), next_.data(), claimed_.data(), table.data(), 0, 0};
    if (m >= kMaskedMinSize && n >= kMaskedMinBackends) {
        const auto upto = [&](uint32_t percent) {
            return std::min(walk_until, static_cast<uint32_t>(uint64_t{m} * percent / 100));
        };
        fill_masked<1>(fill, upto(60));
        fill_masked<2>(fill, upto(80));
        fill_masked<4>(fill, walk_until);
    } else {
        fill_walk(fill, walk_until);
    }
    if (fill.filled < m) fill_tail(fill);
}

inline void MaglevBuilder::Fill::claim(uint32_t slot) {
    claimed[slot] = 1;
    out[slot] = static_cast<uint16_t>(id);
    next[id] = wrap(slot + ws[id].step[1], m);
    ++filled;
    if (++id == n) id = 0;
}

// Claims for backends id, id + 1, ... until `until` slots are filled, probing V·4 consecutive
// slots of the backend's list per step without branching: their claimed bytes make a mask
// whose lowest clear bit is the first free one. One branch per step, taken (mispredicted)
// only when all V·4 are claimed; V grows with the fill so that stays rare.
template <int V>
__attribute__((noinline)) void MaglevBuilder::fill_masked(Fill& fill, uint32_t until) {
    Fill f = fill;
    const uint32_t m = f.m;
#if defined(__SSE4_1__)
    const __m128i mv = _mm_set1_epi32(static_cast<int>(m));
#endif
    while (f.filled < until) {
        const Walker& w = f.ws[f.id];
        alignas(16) uint32_t idx[4 * V];  // the slots probed in this step
#if defined(__SSE4_1__)
        const __m128i off0 = _mm_load_si128(reinterpret_cast<const __m128i*>(w.step));      // 0 ... 3·skip
        const __m128i off1 = _mm_load_si128(reinterpret_cast<const __m128i*>(w.step + 4));  // 4·skip ... 7·skip
        __m128i off8 = _mm_setzero_si128();
        if constexpr (V > 2) off8 = _mm_set1_epi32(static_cast<int>(wrap(w.step[4] + w.step[4], m)));
        __m128i base = _mm_set1_epi32(static_cast<int>(f.next[f.id]));
#else
        uint32_t base = f.next[f.id];
        const uint32_t off8 = wrap(w.step[4] + w.step[4], m);
#endif
        uint32_t slot;
        for (;;) {
#if defined(__SSE4_1__)
            __m128i v[V];
            v[0] = wrap4(_mm_add_epi32(base, off0), mv);
            if constexpr (V > 1) v[1] = wrap4(_mm_add_epi32(base, off1), mv);
            for (int j = 2; j < V; ++j) v[j] = wrap4(_mm_add_epi32(v[j - 2], off8), mv);
            for (int j = 0; j < V; ++j) _mm_store_si128(reinterpret_cast<__m128i*>(idx + 4 * j), v[j]);
#else
            idx[0] = base;
            for (int k = 1; k < 4 * V; ++k) idx[k] = k < 8 ? wrap(base + w.step[k], m) : wrap(idx[k - 8] + off8, m);
#endif
            // The probes and the claim read the slots back from idx (the compiler would
            // otherwise extract them from the vectors, two instructions each, and spill the
            // claimed one through the stack twice: 3-4 % slower).
            const uint32_t* ip = idx;
            asm("" : "+r"(ip) : : "memory");
            // Four bytes (0 or 1) per nibble, added with lea-sized shifts.
            uint64_t busy = 0;
            for (int j = 0; j < V; ++j) {
                const uint32_t* q = ip + 4 * j;
                const uint64_t nibble = (uint64_t{f.claimed[q[0]]} + 2 * uint64_t{f.claimed[q[1]]}) +
                                        4 * (uint64_t{f.claimed[q[2]]} + 2 * uint64_t{f.claimed[q[3]]});
                busy |= nibble << (4 * j);
            }
            const uint64_t free_mask = ~busy & (~uint64_t{0} >> (64 - 4 * V));
            if (__builtin_expect(free_mask != 0, 1)) {
                slot = ip[__builtin_ctzll(free_mask)];
                break;
            }
#if defined(__SSE4_1__)
            base = _mm_set1_epi32(static_cast<int>(wrap(ip[4 * V - 1] + w.step[1], m)));
#else
            base = wrap(ip[4 * V - 1] + w.step[1], m);
#endif
        }
        f.claim(slot);
    }
    fill = f;
}

// Walks each backend's list four slots per step (slot += skip, minus M when it wraps: no
// modulo per probe), the four probes independent of each other.
__attribute__((noinline)) void MaglevBuilder::fill_walk(Fill& fill, uint32_t until) {
    Fill f = fill;
    const uint32_t m = f.m;
    while (f.filled < until) {
        const Walker& w = f.ws[f.id];
        const uint32_t k1 = w.step[1], k2 = w.step[2], k3 = w.step[3], k4 = w.step[4];
        uint32_t slot = f.next[f.id];
        for (;;) {
            const uint32_t s1 = wrap(slot + k1, m), s2 = wrap(slot + k2, m), s3 = wrap(slot + k3, m);
            if (!f.claimed[slot]) break;
            if (!f.claimed[s1]) {
                slot = s1;
                break;
            }
            if (!f.claimed[s2]) {
                slot = s2;
                break;
            }
            if (!f.claimed[s3]) {
                slot = s3;
                break;
            }
            slot = wrap(slot + k4, m);
        }
        f.claim(slot);
    }
    fill = f;
}

// The last free slots: backend i's next claim is the free slot fewest steps ahead of next
// in its list, steps(s) = (s - next) · skip⁻¹ mod M. With c = skip⁻¹ · 2^64 / M in fixed
// point (|error| < 2), the wrapping product (s - next) · c = s · c - next · c is
// steps · 2^64 / M + e mod 2^64 with |e| < 2^25 (|s - next| < M <= 2^24): the keys of
// two steps are at least 2^64 / M >= 2^40 apart and never wrap, so the smallest key is
// the fewest steps even with its low 24 bits replaced by the slot's index in free_.
__attribute__((noinline)) void MaglevBuilder::fill_tail(Fill& fill) {
    Fill f = fill;
    const uint32_t n = f.n, m = f.m;
    const Walker* const ws = f.ws;
    const uint8_t* const claimed = f.claimed;
    free_.clear();
    for (uint32_t s = 0; s < m; s += 8) {  // eight claimed bytes at a time (padded with 1s): almost all are 1
        uint64_t word;
        std::memcpy(&word, claimed + s, sizeof word);
        if (word == 0x0101010101010101ull) continue;
        for (uint32_t k = s; k < s + 8; ++k)
            if (!claimed[k]) free_.push_back(k);
    }
    // skip⁻¹ of the backends that claim from here (at most one per free slot) with one
    // extended Euclid: Montgomery's batch inversion.
    const uint32_t users = std::min(n, m - f.filled);
    const ModMul mul{m, 1.0 / m};
    prefix_.resize(users);
    scale_.resize(n);
    uint32_t acc = 1;
    for (uint32_t k = 0, j = f.id; k < users; ++k, j = j + 1 == n ? 0 : j + 1) prefix_[k] = acc = mul(acc, ws[j].step[1]);
    uint32_t inv = mod_inverse(acc, m);  // (skip_0 ... skip_k)⁻¹, k from users - 1 down
    const uint64_t r = UINT64_MAX / m, r0 = 0 - r * m;  // 2^64 = r · m + r0, 0 < r0 <= m
    for (uint32_t k = users; k-- > 0;) {
        const uint32_t j = static_cast<uint32_t>((uint64_t{f.id} + k) % n);
        const uint32_t own = k > 0 ? mul(inv, prefix_[k - 1]) : inv;
        if (k > 0) inv = mul(inv, ws[j].step[1]);
        scale_[j] = own * r + static_cast<uint64_t>(static_cast<double>(uint64_t{own} * r0) / m);
    }
    while (f.filled < m) {
        const uint64_t c = scale_[f.id], b = f.next[f.id] * c;
        const uint32_t* fs = free_.data();
        const auto nf = static_cast<uint32_t>(free_.size());
        constexpr uint64_t kHigh = ~uint64_t{0xffffff};
        uint64_t best0 = UINT64_MAX, best1 = UINT64_MAX;  // two chains of compares
        uint32_t k = 0;
        for (; k + 2 <= nf; k += 2) {
            const uint64_t v0 = ((fs[k] * c - b) & kHigh) | k, v1 = ((fs[k + 1] * c - b) & kHigh) | (k + 1);
            best0 = std::min(best0, v0);
            best1 = std::min(best1, v1);
        }
        if (k < nf) best0 = std::min(best0, ((fs[k] * c - b) & kHigh) | k);
        const auto at = static_cast<uint32_t>(std::min(best0, best1) & 0xffffff);
        const uint32_t slot = fs[at];
        free_[at] = free_.back();
        free_.pop_back();
        f.claim(slot);
    }
    fill = f;
}

std::vector<uint16_t> maglev_table(std::span<const MaglevKey> backends, uint32_t size) {
    std::vector<uint16_t> table(size);
    MaglevBuilder builder;
    builder.populate(backends, table);
    return table;
}

std::vector<uint32_t> maglev_fill(std::span<const uint16_t> table, uint32_t backends) {
    std::vector<uint32_t> fill(backends, 0);
    for (uint16_t e : table)
        if (e < backends) ++fill[e];
    return fill;
}

}  // namespace enidp::lb

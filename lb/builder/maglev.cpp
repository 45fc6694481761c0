#include "lb/builder/maglev.hpp"

#include <algorithm>
#include <cstring>

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

constexpr uint32_t kNoSlot = UINT32_MAX;

uint32_t wrap(uint32_t x, uint32_t m) { return x >= m ? x - m : x; }

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
    for (uint32_t i = 0; i < n; ++i) {
        const MaglevPermutation p = maglev_permutation(backends[i], m);
        const uint64_t skip = p.skip;
        walkers_[i] = Walker{p.offset,
                             {p.skip, static_cast<uint32_t>(2 * skip % m), static_cast<uint32_t>(3 * skip % m),
                              static_cast<uint32_t>(4 * skip % m)},
                             0,
                             kNoSlot};
    }
    claimed_.assign(m, 0);
    Walker* const ws = walkers_.data();
    uint8_t* const claimed = claimed_.data();
    uint16_t* const out = table.data();

    uint32_t tail = 0;
    while (uint64_t{tail} * tail * 5 < m) ++tail;
    const uint32_t walk_until = m > tail ? m - tail : 0;
    uint32_t filled = 0, i = 0;

    // Up to a quarter full: most first probes hit a free slot, a plain walk is cheapest.
    const bool lanes = n >= kLanes && m >= kLanesMinSize;
    const uint32_t quarter = lanes ? std::min(walk_until, m / 4) : 0;
    while (filled < quarter) {
        Walker& w = ws[i];
        uint32_t slot = w.next;
        while (claimed[slot]) slot = wrap(slot + w.step[0], m);
        claimed[slot] = 1;
        out[slot] = static_cast<uint16_t>(i);
        w.next = wrap(slot + w.step[0], m);
        ++filled;
        if (++i == n) i = 0;
    }

    if (lanes && filled < std::min(walk_until, static_cast<uint32_t>(uint64_t{m} * 90 / 100)))
        fill_lanes(filled, i, std::min(walk_until, static_cast<uint32_t>(uint64_t{m} * 90 / 100)), table);

    // Then until about sqrt(M/5) slots are left: slot += skip, minus m when it wraps (no
    // modulo per probe); four probes per step so the loop-carried chain is one add per
    // four slots.
    while (filled < walk_until) {
        Walker& w = ws[i];
        uint32_t slot = w.next;
        for (;;) {
            const uint32_t s1 = wrap(slot + w.step[0], m), s2 = wrap(slot + w.step[1], m),
                           s3 = wrap(slot + w.step[2], m);
            if (!claimed[slot]) break;
            if (!claimed[s1]) {
                slot = s1;
                break;
            }
            if (!claimed[s2]) {
                slot = s2;
                break;
            }
            if (!claimed[s3]) {
                slot = s3;
                break;
            }
            slot = wrap(slot + w.step[3], m);
        }
        claimed[slot] = 1;
        out[slot] = static_cast<uint16_t>(i);
        w.next = wrap(slot + w.step[0], m);
        ++filled;
        if (++i == n) i = 0;
    }
    if (filled < m) fill_tail(filled, i, table);
}

// A quarter to 90 % full: each claim takes one to ten probes and the loop exit is a
// branch mispredicted about once per claim. Instead kLanes consecutive backends search
// at once, one probe per lane per round without branching (a busy lane steps on, a
// free one stays put); after each round the oldest lanes whose slots are free claim
// them in turn and take the next backends. A lane's slot is re-checked when it claims,
// so one taken meanwhile by an older lane makes it step on: each backend claims the
// first slot of its list still free at its turn, exactly as one at a time would.
__attribute__((noinline)) void MaglevBuilder::fill_lanes(uint32_t& filled, uint32_t& i, uint32_t lanes_until,
                                                     std::span<uint16_t> table) {
    const auto n = static_cast<uint32_t>(walkers_.size());
    const auto m = static_cast<uint32_t>(table.size());
    Walker* const ws = walkers_.data();
    uint8_t* const claimed = claimed_.data();
    uint16_t* const out = table.data();
    uint32_t slot[kLanes], skip[kLanes], id[kLanes];
    uint32_t next_id = i;
    for (uint32_t k = 0; k < kLanes; ++k) {
        id[k] = next_id;
        slot[k] = ws[next_id].next;
        skip[k] = ws[next_id].step[0];
        next_id = next_id + 1 == n ? 0 : next_id + 1;
    }
    uint32_t head = 0;  // the lane of the oldest backend
    while (filled < lanes_until) {
        for (uint32_t k = 0; k < kLanes; ++k) {
            const uint32_t busy = claimed[slot[k]];
            const uint32_t stepped = wrap(slot[k] + skip[k], m);
            slot[k] = busy ? stepped : slot[k];
        }
        while (!claimed[slot[head]] && filled < lanes_until) {
            const uint32_t s = slot[head];
            claimed[s] = 1;
            out[s] = static_cast<uint16_t>(id[head]);
            ws[id[head]].next = wrap(s + skip[head], m);
            ++filled;
            // n >= kLanes: the next backend is in no lane (or is this one, when n == kLanes).
            id[head] = next_id;
            slot[head] = ws[next_id].next;
            skip[head] = ws[next_id].step[0];
            next_id = next_id + 1 == n ? 0 : next_id + 1;
            head = head + 1 == kLanes ? 0 : head + 1;
        }
    }
    i = id[head];  // the lanes' progress is dropped: their backends search again from next
}

// The last few free slots: backend i's next claim is the free slot fewest steps ahead of
// w.next in its permutation, steps(s) = (s - next) · skip⁻¹ mod M. A found target stays
// right until someone else claims it, so each backend looks again only then or after its
// own claim.
__attribute__((noinline)) void MaglevBuilder::fill_tail(uint32_t& filled, uint32_t& i, std::span<uint16_t> table) {
    const auto n = static_cast<uint32_t>(walkers_.size());
    const auto m = static_cast<uint32_t>(table.size());
    free_.clear();
    const uint8_t* claimed = claimed_.data();
    uint32_t s = 0;
    for (; s + 8 <= m; s += 8) {  // eight claimed bytes at a time: almost all are 1
        uint64_t word;
        std::memcpy(&word, claimed + s, sizeof word);
        if (word == 0x0101010101010101ull) continue;
        for (uint32_t k = s; k < s + 8; ++k)
            if (!claimed[k]) free_.push_back(k);
    }
    for (; s < m; ++s)
        if (!claimed[s]) free_.push_back(s);
    const double inv_m = 1.0 / m;
    for (;;) {
        Walker& w = walkers_[i];
        if (w.target == kNoSlot || claimed_[w.target]) {
            if (w.inverse == 0) w.inverse = mod_inverse(w.step[0], m);
            uint32_t best = UINT32_MAX, kept = 0;
            for (uint32_t s : free_) {
                if (claimed_[s]) continue;
                free_[kept++] = s;
                // (s - next) < M and skip⁻¹ < M ≤ 2^24: the product is exact in a double,
                // so the quotient is off by at most one.
                const uint64_t p = uint64_t{s >= w.next ? s - w.next : s + m - w.next} * w.inverse;
                int64_t r = static_cast<int64_t>(p - static_cast<uint64_t>(static_cast<double>(p) * inv_m) * m);
                if (r < 0) r += m;
                if (r >= m) r -= m;
                if (static_cast<uint32_t>(r) < best) best = static_cast<uint32_t>(r), w.target = s;
            }
            free_.resize(kept);
        }
        const uint32_t slot = w.target;
        claimed_[slot] = 1;
        table[slot] = static_cast<uint16_t>(i);
        w.next = wrap(slot + w.step[0], m);
        w.target = kNoSlot;
        if (++filled == m) return;
        if (++i == n) i = 0;
    }
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

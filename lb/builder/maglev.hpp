// Maglev consistent-hashing lookup tables (Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI 2016, section 3.4).
//
// Control thread only. Each backend's preference list is a permutation of the table's
// slots: offset = h1(key) mod M, skip = h2(key) mod (M - 1) + 1, from two independent
// hashes of a stable backend key (ip:port), so a backend keeps its preferences whatever the
// other backends are. Backends take turns claiming their next free preferred slot until the
// table is full: each gets ⌊M/n⌋ or ⌈M/n⌉ slots, and removing one of n backends moves little
// more than the 1/n of the slots it held.
//
// Sizes: M must be prime (so every skip generates the whole table) and at least
// kMaglevMinEntriesPerBackend × n for even balance. Entries are set-relative backend
// indices (uint16), so a table serves at most kMaglevMaxBackends backends.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace enidp::lb {

inline constexpr uint32_t kMaglevDefaultSize = 16381;
inline constexpr uint32_t kMaglevLargeSize = 65537;
inline constexpr uint32_t kMaglevMinEntriesPerBackend = 100;
inline constexpr uint32_t kMaglevMaxBackends = 65535;
inline constexpr uint32_t kMaglevMaxSize = 1u << 24;  // 32 MiB of entries; larger is a config mistake

bool is_prime(uint32_t n);
uint32_t next_prime(uint32_t n);  // smallest prime >= n (n < 2^32 - 5)

// Automatic size for n backends: the first of `default_size` (rounded up to a prime),
// kMaglevLargeSize and next_prime(100 n) that holds at least 100 n entries.
uint32_t maglev_auto_size(uint32_t backends, uint32_t default_size = kMaglevDefaultSize);

// Why an explicit size cannot serve n backends ("" when it can): not prime, below 100 n,
// above kMaglevMaxSize, or n above kMaglevMaxBackends.
std::string maglev_size_error(uint32_t size, uint32_t backends);

// A backend as Maglev hashes it; both fields network order.
struct MaglevKey {
    uint32_t ip = 0;
    uint16_t port = 0;
};

// A backend's preference list in a table of m entries: slot j is (offset + j · skip) mod m.
struct MaglevPermutation {
    uint32_t offset = 0;
    uint32_t skip = 0;  // 1 ... m - 1 (0 when m == 1)
};
MaglevPermutation maglev_permutation(const MaglevKey& backend, uint32_t m);

// Fills Maglev tables. Keeps its scratch arrays between calls, so building many tables
// allocates only when a larger one comes along. Not thread-safe; one per builder.
//
// Cost: the plain fill probes about M·ln M slots, most of them in the last few free slots
// (each backend walks past a nearly full table), and its loop exit is a branch that
// mispredicts about once per claim. So for tables of kMaskedMinSize entries and more
// (with at least kMaskedMinBackends backends) populate probes 4, 8, then 16 slots of a
// backend's list per step without branching (their claimed bytes make a mask; the lowest
// free one is claimed; one well-predicted branch per step) up to 60 %, 80 % full, then
// until about 0.8·sqrt(M) slots are left. Other tables walk four probes per step. The
// last slots are found directly: a backend's next claim is the free slot the fewest steps
// (slot - next) · skip⁻¹ mod M ahead in its list. Every phase claims what the textbook
// fill claims: the result is the same table.
//
// Benchmarks that build the same table over and over train the branch predictor on it:
// the walk of a 16381-entry table then costs a third of what it costs on new backends
// (BM_MaglevPopulateVaried measures new backend sets).
class MaglevBuilder {
public:
    // Writes table[0..size) with indices into `backends`. Preconditions: 1 <= backends.size()
    // <= kMaglevMaxBackends, table.size() is prime, >= backends.size() and <= kMaglevMaxSize.
    void populate(std::span<const MaglevKey> backends, std::span<uint16_t> table);

private:
    // A backend's steps k·skip mod M, k = 0 ... 7: the masked fill loads them as two vectors.
    // Its next slot is apart (next_): a vector load over a field just stored would stall on
    // the failed store forwarding, with few backends at every other claim.
    struct alignas(32) Walker {
        uint32_t step[8];
    };
    // From 1024 entries: on new backend sets (what the control plane builds) the masked fill
    // halves a 16381-entry table (10 backends: 200 -> 105 us); only a benchmark refilling the
    // same table, whose walk the branch predictor has learned, is faster walked (61 vs 81 us).
    static constexpr uint32_t kMaskedMinSize = 1024;
    // With one or two backends a backend only ever meets the other's claims: its probes are
    // mostly free and a plain walk is cheaper (two backends, 65537 entries: 0.25 ms walked,
    // 0.70 ms masked; even at three, from four masked wins).
    static constexpr uint32_t kMaskedMinBackends = 3;
    // One populate's arrays and progress: `filled` slots claimed, backend `id` to claim next.
    // The fill functions copy it into a local so its fields stay in registers.
    struct Fill {
        uint32_t n, m;
        const Walker* ws;
        uint32_t* next;  // per backend: the next slot of its preference list
        uint8_t* claimed;
        uint16_t* out;
        uint32_t filled, id;
        void claim(uint32_t slot);  // backend id takes `slot`, the first free one of its list
    };
    // Separate functions: each loop gets the registers to itself.
    template <int V>  // V·4 probes per step
    static void fill_masked(Fill& fill, uint32_t until);
    static void fill_walk(Fill& fill, uint32_t until);
    void fill_tail(Fill& fill);

    std::vector<Walker> walkers_;
    std::vector<uint32_t> next_;
    std::vector<uint8_t> claimed_;  // per slot: 1 once claimed; padded with 1s to a multiple of 8
    std::vector<uint32_t> free_;    // tail: the slots still free
    std::vector<uint32_t> prefix_;  // tail: prefix products of the skips (batch inversion)
    std::vector<uint64_t> scale_;   // tail: per backend skip⁻¹ · 2^64 / M (fixed point)
};

// Convenience for tests and tools: a new table of `size` entries.
std::vector<uint16_t> maglev_table(std::span<const MaglevKey> backends, uint32_t size);

// How many entries of `table` each of `backends` set-relative indices holds.
std::vector<uint32_t> maglev_fill(std::span<const uint16_t> table, uint32_t backends);

}  // namespace enidp::lb

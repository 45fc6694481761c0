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

// Fills Maglev tables. Keeps its scratch arrays between calls, so building many tables
// allocates only when a larger one comes along. Not thread-safe; one per builder.
//
// Cost: the plain fill probes about M·ln M slots, most of them in the last few free slots
// (each backend walks past a nearly full table). So populate walks preference lists only
// until about sqrt(M/5) slots are left, with four independent probes per step, then finds
// each backend's next slot among the few free ones directly (its position in the backend's
// permutation is (slot - next) · skip⁻¹ mod M). The result is the same table.
class MaglevBuilder {
public:
    // Writes table[0..size) with indices into `backends`. Preconditions: 1 <= backends.size()
    // <= kMaglevMaxBackends, table.size() is prime, >= backends.size() and <= kMaglevMaxSize.
    void populate(std::span<const MaglevKey> backends, std::span<uint16_t> table);

private:
    struct Walker {
        uint32_t next;     // the next slot of its preference list
        uint32_t step[4];  // skip, 2·skip, 3·skip, 4·skip (mod M)
        uint32_t inverse;  // skip⁻¹ mod M, computed when first needed in the tail (0: not yet)
        uint32_t target;   // tail: its next slot while still free (kNoSlot: look again)
    };
    void fill_tail(uint32_t& filled, uint32_t& i, std::span<uint16_t> table);

    std::vector<Walker> walkers_;
    std::vector<uint8_t> claimed_;  // per slot: 1 once claimed
    std::vector<uint32_t> free_;    // tail: slots still free (claimed ones dropped lazily)
};

// Convenience for tests and tools: a new table of `size` entries.
std::vector<uint16_t> maglev_table(std::span<const MaglevKey> backends, uint32_t size);

// How many entries of `table` each of `backends` set-relative indices holds.
std::vector<uint32_t> maglev_fill(std::span<const uint16_t> table, uint32_t backends);

}  // namespace enidp::lb

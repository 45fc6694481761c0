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
// (each backend walks past a nearly full table), and its loop exit is a mispredicted
// branch about once per claim. So populate walks one probe at a time up to a quarter
// full, then keeps kLanes backends searching at once without branches up to 90 % (the
// oldest claims when its slot is free), then walks with four independent probes per step
// until about sqrt(M/5) slots are left, then finds each backend's next slot among the few
// free ones directly (its position in the backend's permutation is (slot - next) · skip⁻¹
// mod M). Every phase claims what the textbook fill claims: the result is the same table.
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
    static constexpr uint32_t kLanes = 16;              // backends searching at once (more spill registers)
    static constexpr uint32_t kLanesMinSize = 32768;    // smaller tables: claimed_ in L1, mispredicts cheap
    // Separate functions: each loop gets the registers to itself.
    void fill_lanes(uint32_t& filled, uint32_t& i, uint32_t until, std::span<uint16_t> table);
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

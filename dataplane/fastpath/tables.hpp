// The read-mostly tables workers forward by, and the few cells workers may write.
//
// Snapshot: immutable once published. Built by the control thread
// (Dataplane::build in dataplane/runtime/dataplane.cpp), read by workers between two RCU quiescent reports,
// freed by the publisher after a grace period. Workers never write to it.
//
// NeighborCell: the only shared state a worker writes here (a VPC gateway MAC learned
// from ARP). One atomic 64-bit word, written by whichever worker sees the ARP, read by all.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <vector>

#include <rte_ether.h>
#include <rte_ring.h>

#include "dataplane/fastpath/policy_tables.hpp"
#include "lb/fastpath/lb_tables.hpp"

namespace enidp::dp {

inline constexpr uint16_t kMaxPorts = RTE_MAX_ETHPORTS;
inline constexpr uint16_t kMaxWorkers = 16;
inline constexpr uint16_t kMaxQueuesPerPort = 16;
inline constexpr uint32_t kNoIndex = UINT32_MAX;

// A MAC packed into the low 48 bits of a word; bit 63 says "valid".
class NeighborCell {
public:
    static constexpr uint64_t kValid = 1ull << 63;

    bool get(rte_ether_addr& out) const {
        const uint64_t v = word_.load(std::memory_order_relaxed);
        if (!(v & kValid)) return false;
        std::memcpy(out.addr_bytes, &v, RTE_ETHER_ADDR_LEN);  // little-endian low bytes = wire order
        return true;
    }
    void set(const rte_ether_addr& mac) {
        uint64_t v = 0;
        std::memcpy(&v, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
        v |= kValid;
        if (word_.load(std::memory_order_relaxed) != v) word_.store(v, std::memory_order_relaxed);
    }
    void clear() { word_.store(0, std::memory_order_relaxed); }
    bool valid() const { return word_.load(std::memory_order_relaxed) & kValid; }

private:
    alignas(64) std::atomic<uint64_t> word_{0};
};
static_assert(sizeof(NeighborCell) == 64, "one cache line per cell: no false sharing between ENIs");

enum class PortRole : uint8_t { kUnused, kEni, kPod };

struct PortEntry {
    PortRole role = PortRole::kUnused;
    uint32_t index = kNoIndex;  // into Snapshot::enis or Snapshot::pods
};

struct PodEntry {
    uint32_t ip = 0;           // network order
    rte_ether_addr mac{};      // the pod's MAC
    uint16_t port = 0;         // its vhost-user / memif / tap port
    uint32_t eni = kNoIndex;   // the ENI it owns (index into Snapshot::enis)
    bool link_up = false;
    uint32_t policy_id = kNoIndex;  // stable id the NetworkPolicy snapshot knows the pod by
};

struct EniEntry {
    uint16_t port = 0;
    rte_ether_addr mac{};
    uint32_t ip = 0;           // network order
    uint32_t gateway_ip = 0;   // network order
    uint32_t pod = kNoIndex;   // the pod owning this ENI, if attached
    NeighborCell* gateway = nullptr;  // never null in a published snapshot
};

// Where a worker puts a packet for a port: its own TX queue, or the MP ring of the worker
// that owns the port's only TX queue (handoff).
struct TxTarget {
    uint16_t queue = 0;
    rte_ring* handoff = nullptr;
};

struct RxQueue {
    uint16_t port;
    uint16_t queue;
};

// A handoff ring and the port its packets are for.
struct Handoff {
    rte_ring* ring;
    uint16_t port;
};

// Open-addressing IPv4 → index map, immutable after build. Power-of-two sized, at most
// half full, so a miss ends at an empty slot after a probe or two; a 512-byte filter in front
// answers most misses without a probe.
class Ipv4Map {
public:
    void build(const std::vector<std::pair<uint32_t, uint32_t>>& items);
    uint32_t find(uint32_t ip) const {
        // Most look-ups miss (a Service's backends and the internet are not on this node):
        // the filter answers those from one word, without hashing.
        const uint32_t b = filter_bit(ip);
        if (((filter_[b >> 6] >> (b & 63)) & 1) == 0) return kNoIndex;
        for (uint32_t i = hash(ip) & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.value == kNoIndex) return kNoIndex;
            if (s.key == ip) return s.value;
        }
    }

private:
    struct Slot {
        uint32_t key;
        uint32_t value;
    };
    // murmur3's 32-bit finalizer: addresses are network order, so neighbouring pod IPs
    // differ in the top byte; every input bit must reach the low bits the mask keeps.
    static uint32_t hash(uint32_t ip) {
        ip ^= ip >> 16;
        ip *= 0x85EBCA6Bu;
        ip ^= ip >> 13;
        ip *= 0xC2B2AE35u;
        return ip ^ (ip >> 16);
    }
    // One bit per value of the address's low 12 bits (host order: the part that tells a
    // subnet's hosts apart), set for every key; all clear before build(), so an empty map
    // misses without touching slots_.
    static constexpr uint32_t kFilterBits = 4096;
    static uint32_t filter_bit(uint32_t ip) { return __builtin_bswap32(ip) & (kFilterBits - 1); }
    uint64_t filter_[kFilterBits / 64] = {};
    std::vector<Slot> slots_;
    uint32_t mask_ = 0;
};

struct Snapshot {
    uint64_t generation = 0;
    rte_ether_addr gateway_mac{};   // virtual router MAC the pods see
    std::array<PortEntry, kMaxPorts> ports{};
    std::vector<PodEntry> pods;
    std::vector<EniEntry> enis;
    Ipv4Map pod_by_ip;
    uint16_t workers = 0;
    std::array<std::vector<RxQueue>, kMaxWorkers> rx;          // what each worker polls
    std::array<std::array<TxTarget, kMaxWorkers>, kMaxPorts> tx{};  // [port][worker]
    std::array<std::vector<Handoff>, kMaxWorkers> handoff_in;    // rings each worker drains
    lb::LbTables lb;                 // Service table (owned by the snapshot's publisher), conntrack
    std::shared_ptr<const lb::ServiceTable> lb_table_owner;  // keeps `lb.table` alive with this snapshot
    PolicyTables policy;             // NetworkPolicy / PayloadPolicy (inactive when none exists)
    std::shared_ptr<PolicyPublication> policy_owner;  // keeps `policy` alive with this snapshot
};

inline void Ipv4Map::build(const std::vector<std::pair<uint32_t, uint32_t>>& items) {
    uint32_t size = 16;
    while (size < items.size() * 2) size <<= 1;
    slots_.assign(size, Slot{0, kNoIndex});
    mask_ = size - 1;
    std::fill(std::begin(filter_), std::end(filter_), 0);
    for (const auto& [k, v] : items) {
        const uint32_t b = filter_bit(k);
        filter_[b >> 6] |= uint64_t{1} << (b & 63);
        uint32_t i = hash(k) & mask_;
        while (slots_[i].value != kNoIndex && slots_[i].key != k) i = (i + 1) & mask_;
        slots_[i] = Slot{k, v};
    }
}

}  // namespace enidp::dp

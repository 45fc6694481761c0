// The immutable Service table workers translate by, and the small mutable per-backend /
// per-service-port state that outlives table generations.
//
// ServiceTable: built on the control thread by lb/builder (build_table), published by one
// pointer swap inside the dataplane Snapshot, freed after an RCU grace period. Workers only
// read it. Everything a worker needs for a new flow is here: the frontend lookup
// (VIP, port, protocol) → service port, the three backend sets of that port (internal,
// external, cluster), and per set a Maglev table or a weighted wheel.
//
// LbState: fixed-capacity arrays indexed by stable ids that the builder assigns
// (ServicePort::id, Backend::id) and keeps across generations while the object exists.
// Workers write relaxed atomics here (round-robin cursor, active-connection counts); the
// control thread writes BackendState::status when endpoints turn terminating or go away.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace enidp::lb {

inline constexpr uint32_t kNone = UINT32_MAX;

enum class FrontendKind : uint8_t { kClusterIp, kNodePort, kExternalIp, kLoadBalancer };

// What a flow gets when its backend set is empty (kube-proxy: REJECT when the Service has
// no endpoints at all, DROP when a Local policy has no local endpoint).
enum class EmptyAction : uint8_t { kReject, kDrop };

struct Backend {
    uint32_t ip = 0;           // network order
    uint16_t port = 0;         // network order (the resolved targetPort)
    uint16_t weight = 1;       // weighted algorithm only
    uint32_t id = kNone;       // stable id (LbState::backends index)
    bool local = false;        // endpoint on this node
    bool serving_terminating = false;  // picked only because no endpoint was ready
};

// A contiguous run of ServiceTable::backends, with its selection table: a Maglev table or a
// weighted wheel (never both; the algorithm is per Service), held by ServiceTable::chunks.
// Entries are set-relative backend indices (< count). A chunk is immutable and may be shared
// with older and newer generations (build_table reuses it when the set's backends, algorithm
// and size are unchanged), so the pointers stay valid as long as this table lives.
struct BackendSet {
    uint32_t first = 0;
    uint32_t count = 0;
    const uint16_t* maglev = nullptr;  // maglev_size entries
    uint32_t maglev_size = 0;          // prime; 0 when count <= 1 or the algorithm is not Maglev
    uint32_t wheel_size = 0;           // weighted; 0 when every weight is 0
    const uint16_t* wheel = nullptr;   // wheel_size entries
    uint32_t chunk = kNone;            // control thread: index into ServiceTable::chunks (kNone: none)
    EmptyAction empty_action = EmptyAction::kReject;
    // Control thread (dumps, IncrementalBuilder): 0, or this Maglev table is provisional, of
    // size next_prime(100 × count) (evenly balanced), and a later build replaces it with one of
    // this size (lb::BuildOptions::maglev_fill_budget_us). In the padding after empty_action:
    // the struct stays 40 bytes. Sizes are below kMaglevMaxSize = 2^24, so 24 bits hold them.
    uint32_t maglev_full_size : 24 = 0;
};
static_assert(sizeof(BackendSet) == 40, "BackendSet: workers read three per ServicePort; keep it small");

// One immutable Maglev table or wheel; shared between table generations.
using SelectionChunk = std::shared_ptr<const std::vector<uint16_t>>;

enum ServicePortFlags : uint8_t {
    kAffinityClientIp = 1u << 0,
    kInternalLocal = 1u << 1,   // internalTrafficPolicy: Local
    kExternalLocal = 1u << 2,   // externalTrafficPolicy: Local
};

struct ServicePort {
    uint32_t id = kNone;           // stable id (LbState::ports index, affinity key)
    uint8_t protocol = 6;          // IPPROTO_*
    uint8_t algorithm = 0;         // lb::Algorithm
    uint8_t flags = 0;             // ServicePortFlags
    uint32_t affinity_timeout_s = 10800;
    uint16_t health_check_node_port = 0;  // host order; 0 = none
    BackendSet internal;   // ClusterIP traffic (internalTrafficPolicy)
    BackendSet external;   // NodePort / LB / externalIP traffic from outside the node
    BackendSet cluster;    // external frontends reached from a local pod (kube-proxy short-circuit)
    uint32_t name = 0;     // index into ServiceTable::names ("ns/name:port/proto")
};

struct Frontend {
    uint32_t ip = 0;       // network order; 0 for NodePort (any node IP)
    uint16_t port = 0;     // network order
    uint8_t protocol = 6;
    FrontendKind kind = FrontendKind::kClusterIp;
    uint32_t service_port = kNone;  // index into ServiceTable::ports
};

// Open-addressing (ip, port, protocol) → frontend index. Power-of-two sized, at most half
// full; a miss ends at the first empty slot. Immutable after build.
class FrontendMap {
public:
    static uint64_t key(uint32_t ip, uint16_t port, uint8_t proto) {
        return (uint64_t{ip} << 32) | (uint64_t{port} << 16) | (uint64_t{proto} << 8) | 1u;  // never 0
    }
    void build(const std::vector<std::pair<uint64_t, uint32_t>>& items) {
        uint64_t size = 16;
        while (size < items.size() * 2) size <<= 1;
        slots_.assign(size, Slot{0, kNone});
        mask_ = size - 1;
        for (const auto& [k, v] : items) {
            uint64_t i = hash(k) & mask_;
            while (slots_[i].key != 0 && slots_[i].key != k) i = (i + 1) & mask_;
            slots_[i] = Slot{k, v};
        }
    }
    uint32_t find(uint64_t k) const {
        if (mask_ == 0) return kNone;
        for (uint64_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.key == k) return s.value;
            if (s.key == 0) return kNone;
        }
    }
    const void* slot_address(uint64_t k) const { return mask_ ? &slots_[hash(k) & mask_] : nullptr; }
    size_t capacity() const { return slots_.size(); }

private:
    struct Slot {
        uint64_t key;
        uint32_t value;
    };
    // splitmix64's finalizer: every key bit reaches the low bits the mask keeps (addresses
    // are network order, so consecutive VIPs differ in the key's top byte).
    static uint64_t hash(uint64_t k) {
        k ^= k >> 30;
        k *= 0xBF58476D1CE4E5B9ull;
        k ^= k >> 27;
        k *= 0x94D049BB133111EBull;
        return k ^ (k >> 31);
    }
    std::vector<Slot> slots_;
    uint64_t mask_ = 0;
};

// The service-port names of a table ("ns/name:port/proto"), for dumps, trace and counters.
// Copy-on-write: a copied table shares its names with the original until one of them changes
// a name, so a publication that keeps every Service's names (an endpoint change) copies no
// string. Control thread only, as every copy is made there.
class NameList {
public:
    const std::string& operator[](size_t i) const { return (*v_)[i]; }
    size_t size() const { return v_ ? v_->size() : 0; }
    bool empty() const { return size() == 0; }
    using const_iterator = std::vector<std::string>::const_iterator;
    const_iterator begin() const { return v_ ? v_->cbegin() : const_iterator{}; }
    const_iterator end() const { return v_ ? v_->cend() : const_iterator{}; }
    bool operator==(const NameList& o) const {
        return size() == o.size() && (v_ == o.v_ || std::equal(begin(), end(), o.begin()));
    }
    void reserve(size_t n) { own().reserve(n); }
    void push_back(std::string name) { own().push_back(std::move(name)); }
    void append(const NameList& other) {
        if (other.empty()) return;
        if (empty() && (!v_ || v_->capacity() == 0)) {  // nothing to keep: share theirs
            v_ = other.v_;
            return;
        }
        own().insert(own().end(), other.v_->begin(), other.v_->end());
    }
    // names[at + i] = other[i], copying the list first only if a name differs.
    void overwrite(size_t at, const NameList& other) {
        for (size_t i = 0; i < other.size(); ++i)
            if ((*v_)[at + i] != other[i]) own()[at + i] = other[i];
    }

private:
    std::vector<std::string>& own() {
        if (!v_) v_ = std::make_shared<std::vector<std::string>>();
        else if (v_.use_count() > 1) v_ = std::make_shared<std::vector<std::string>>(*v_);
        return *v_;
    }
    std::shared_ptr<std::vector<std::string>> v_;
};

struct ServiceTable {
    uint64_t generation = 0;
    std::vector<Frontend> frontends;
    FrontendMap by_vip;          // (ip, port, proto) for ClusterIP / externalIP / LB frontends
    FrontendMap by_node_port;    // (0, nodePort, proto): matched when dst is one of node_ips
    std::vector<uint32_t> node_ips;
    std::vector<ServicePort> ports;
    std::vector<Backend> backends;
    std::vector<SelectionChunk> chunks;  // owns every BackendSet::maglev / wheel of this table
    NameList names;                 // "ns/name:port/proto" per service port, for dumps/trace

    bool is_node_ip(uint32_t ip) const {
        for (uint32_t n : node_ips)
            if (n == ip) return true;
        return false;
    }
};

// ---- state that outlives generations ----

enum class BackendStatus : uint8_t { kFree = 0, kReady, kServingTerminating, kRemoved };

struct BackendState {
    std::atomic<uint32_t> active{0};   // live flows (least-connection); workers inc/dec
    std::atomic<uint8_t> status{0};    // BackendStatus; written by the control thread
    std::atomic<uint64_t> flows{0};    // flows ever sent to this id (the control thread subtracts
                                       // the count it had when the id got its current owner)
};

struct ServicePortState {
    alignas(64) std::atomic<uint32_t> rr{0};  // round-robin cursor
    std::atomic<uint64_t> new_flows{0};        // flows created (backend selected)
    std::atomic<uint64_t> rejected{0};         // REJECT / DROP answers for lack of endpoints
};

struct LbState {
    LbState(uint32_t max_ports, uint32_t max_backends)
        : ports(std::make_unique<ServicePortState[]>(max_ports)),
          backends(std::make_unique<BackendState[]>(max_backends)),
          port_capacity(max_ports),
          backend_capacity(max_backends) {}
    std::unique_ptr<ServicePortState[]> ports;
    std::unique_ptr<BackendState[]> backends;
    uint32_t port_capacity;
    uint32_t backend_capacity;
};

}  // namespace enidp::lb

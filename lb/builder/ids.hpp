// StableIds: the ids that index LbState (ServicePort::id, Backend::id), kept across table
// generations while the object they name exists.
//
// Control thread only; owned by whoever calls build_table (one per LbState).
//
// Keys: a service port is (namespace, name, port name, protocol); a backend is
// (service-port id, ip, port). A build marks every key that still exists (begin_build,
// port_id / backend_id, end_build); the ids nobody asked for are *retired*: end_build
// returns them, the runtime sets their LbState entries kRemoved and purges the conntrack
// flows that carry them, and only then calls release_retired() (build_table asks for every
// endpoint still in the slices, so only deleted endpoints are retired; terminating ones keep
// their id and their established flows). Until that call a retired
// id is quarantined: it is never handed out again, even if its key comes back (the key gets
// a fresh id), so a flow tagged with an old id can never be mistaken for a new object.
// Running out of ids (live + retired reach the LbState capacity) is an error for the object
// being built, not a crash.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "lb/fastpath/service_table.hpp"

namespace enidp::lb {

struct RetiredIds {
    std::vector<uint32_t> ports;     // sorted
    std::vector<uint32_t> backends;  // sorted
};

class StableIds {
public:
    StableIds(uint32_t port_capacity, uint32_t backend_capacity);
    // Capacities of the LbState the ids index.
    explicit StableIds(const LbState& state) : StableIds(state.port_capacity, state.backend_capacity) {}

    static std::string port_key(const std::string& ns, const std::string& name, const std::string& port_name,
                                uint8_t ipproto);

    // Starts a build: every id is unmarked until port_id/backend_id asks for it again.
    void begin_build();
    // The id for the key, assigned if new, marked as still in use. kNone when no id is free.
    uint32_t port_id(const std::string& key);
    uint32_t backend_id(uint32_t port_id, uint32_t ip, uint16_t port);
    // Marks a live id that find_port / find_backend returned as still in use (no look-up).
    void keep_port(uint32_t id) { port_ids_.mark[id] = build_; }
    void keep_backend(uint32_t id) { backend_ids_.mark[id] = build_; }
    // Ends a build: unmarked ids leave their keys and become retired.
    RetiredIds end_build();

    // Incremental builds (IncrementalBuilder) retire ids one by one instead of by marking: the
    // id leaves its key and is quarantined until release_retired(). False when it was not live.
    bool retire_port(uint32_t id);
    bool retire_backend(uint32_t id);

    // Look-ups that assign nothing (kNone when unknown); the build checks capacity with them
    // before it commits a Service.
    uint32_t find_port(const std::string& key) const;
    uint32_t find_backend(uint32_t port_id, uint32_t ip, uint16_t port) const;
    // Ids that can still be assigned: capacity minus live minus retired.
    uint32_t free_ports() const { return static_cast<uint32_t>(port_ids_.free.size()) + port_ids_.fresh_left(); }
    uint32_t free_backends() const {
        return static_cast<uint32_t>(backend_ids_.free.size()) + backend_ids_.fresh_left();
    }

    // Makes every retired id assignable again. Call only after the flows of the ids that
    // end_build returned have been purged.
    void release_retired();

    uint32_t live_ports() const { return static_cast<uint32_t>(ports_.size()); }
    uint32_t live_backends() const { return static_cast<uint32_t>(backends_.size()); }
    uint32_t retired_ports() const { return static_cast<uint32_t>(port_ids_.retired.size()); }
    uint32_t retired_backends() const { return static_cast<uint32_t>(backend_ids_.retired.size()); }
    uint32_t port_capacity() const { return port_ids_.capacity; }
    uint32_t backend_capacity() const { return backend_ids_.capacity; }

private:
    // One id space: never-used ids come from `fresh`, released ones from `free`.
    struct Pool {
        uint32_t capacity = 0;
        uint32_t fresh = 0;
        std::vector<uint32_t> free;
        std::vector<uint32_t> retired;
        std::vector<uint32_t> mark;  // per id: the build that last used it
        std::vector<uint8_t> live;   // per id: 1 while a key holds it
        uint32_t fresh_left() const { return capacity - fresh; }
        uint32_t take();  // kNone when empty
    };
    struct BackendKey {
        uint32_t port_id;
        uint32_t ip;
        uint16_t port;
        bool operator==(const BackendKey&) const = default;
    };
    struct BackendKeyHash {
        size_t operator()(const BackendKey& k) const;
    };
    // The key's id (assigned from `pool` if new), marked as used by this build.
    template <typename Map, typename Key>
    uint32_t use(Map& map, Pool& pool, const Key& key);
    template <typename Map>
    void retire_unmarked(Map& map, Pool& pool, std::vector<uint32_t>& out);

    uint32_t build_ = 0;
    Pool port_ids_;
    Pool backend_ids_;
    std::unordered_map<std::string, uint32_t> ports_;
    std::unordered_map<BackendKey, uint32_t, BackendKeyHash> backends_;
    std::vector<BackendKey> backend_key_;  // per live backend id: its key (retiring walks ids, not the map)
    std::vector<std::string> port_key_;    // per live port id: its key (retire_port)
};

}  // namespace enidp::lb

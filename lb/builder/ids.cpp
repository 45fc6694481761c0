#include "lb/builder/ids.hpp"

#include <algorithm>

#include "lb/fastpath/service_table.hpp"

namespace enidp::lb {

uint32_t StableIds::Pool::take() {
    if (!free.empty()) {
        const uint32_t id = free.back();
        free.pop_back();
        return id;
    }
    if (fresh < capacity) return fresh++;
    return kNone;
}

size_t StableIds::BackendKeyHash::operator()(const BackendKey& k) const {
    uint64_t h = (uint64_t{k.port_id} << 32 | k.ip) * 0x9E3779B97F4A7C15ull;
    h ^= (h >> 29) + k.port * 0xBF58476D1CE4E5B9ull;
    return static_cast<size_t>(h ^ (h >> 32));
}

StableIds::StableIds(uint32_t port_capacity, uint32_t backend_capacity) {
    port_ids_.capacity = port_capacity;
    port_ids_.mark.assign(port_capacity, 0);
    backend_ids_.capacity = backend_capacity;
    backend_ids_.mark.assign(backend_capacity, 0);
    backend_ids_.live.assign(backend_capacity, 0);
    backend_key_.resize(backend_capacity);
}

std::string StableIds::port_key(const std::string& ns, const std::string& name, const std::string& port_name,
                                uint8_t ipproto) {
    return ns + '/' + name + '/' + port_name + '/' + std::to_string(ipproto);
}

void StableIds::begin_build() { ++build_; }

template <typename Map, typename Key>
uint32_t StableIds::use(Map& map, Pool& pool, const Key& key) {
    auto it = map.find(key);
    const uint32_t id = it != map.end() ? it->second : pool.take();
    if (id == kNone) return kNone;
    if (it == map.end()) map.emplace(key, id);
    pool.mark[id] = build_;
    return id;
}

uint32_t StableIds::port_id(const std::string& key) {
    const uint32_t id = use(ports_, port_ids_, key);
    if (id != kNone) {
        if (id >= port_key_.size()) port_key_.resize(id + 1);
        if (port_key_[id] != key) port_key_[id] = key;
    }
    return id;
}

bool StableIds::retire_port(uint32_t id) {
    if (id >= port_key_.size()) return false;
    auto it = ports_.find(port_key_[id]);
    if (it == ports_.end() || it->second != id) return false;
    ports_.erase(it);
    port_key_[id].clear();
    port_ids_.retired.push_back(id);
    return true;
}

bool StableIds::retire_backend(uint32_t id) {
    Pool& pool = backend_ids_;
    if (id >= pool.fresh || !pool.live[id]) return false;
    pool.live[id] = 0;
    backends_.erase(backend_key_[id]);
    pool.retired.push_back(id);
    return true;
}

uint32_t StableIds::backend_id(uint32_t port_id, uint32_t ip, uint16_t port) {
    const BackendKey key{port_id, ip, port};
    const uint32_t id = use(backends_, backend_ids_, key);
    if (id != kNone && !backend_ids_.live[id]) {
        backend_ids_.live[id] = 1;
        backend_key_[id] = key;
    }
    return id;
}

uint32_t StableIds::find_port(const std::string& key) const {
    auto it = ports_.find(key);
    return it == ports_.end() ? kNone : it->second;
}

uint32_t StableIds::find_backend(uint32_t port_id, uint32_t ip, uint16_t port) const {
    auto it = backends_.find(BackendKey{port_id, ip, port});
    return it == backends_.end() ? kNone : it->second;
}

template <typename Map>
void StableIds::retire_unmarked(Map& map, Pool& pool, std::vector<uint32_t>& out) {
    for (auto it = map.begin(); it != map.end();) {
        if (pool.mark[it->second] == build_) {
            ++it;
            continue;
        }
        out.push_back(it->second);
        pool.retired.push_back(it->second);
        it = map.erase(it);
    }
    std::sort(out.begin(), out.end());
}

RetiredIds StableIds::end_build() {
    RetiredIds out;
    retire_unmarked(ports_, port_ids_, out.ports);
    // Backends are many: walk the id space (fast, ascending) and erase only the retired keys.
    Pool& pool = backend_ids_;
    for (uint32_t id = 0; id < pool.fresh; ++id) {
        if (!pool.live[id] || pool.mark[id] == build_) continue;
        pool.live[id] = 0;
        backends_.erase(backend_key_[id]);
        out.backends.push_back(id);
        pool.retired.push_back(id);
    }
    return out;
}

void StableIds::release_retired() {
    for (Pool* p : {&port_ids_, &backend_ids_}) {
        // Lowest ids first out of the free stack, so reuse is deterministic.
        std::sort(p->retired.begin(), p->retired.end(), std::greater<>());
        p->free.insert(p->free.end(), p->retired.begin(), p->retired.end());
        p->retired.clear();
    }
}

}  // namespace enidp::lb

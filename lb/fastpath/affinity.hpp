// sessionAffinity: ClientIP — which backend a client was last sent to, per Service port.
//
// One rte_hash shared by all workers, key (client IP, service-port id), value packed
// in the data word: backend stable id (high 32 bits) and the time of the client's last
// new connection in seconds (low 32 bits), as kube-proxy's `recent` match refreshes it.
// Lock-free readers, multi-writer; key slots are reclaimed through the dataplane's RCU.
//
// Who may call: lookup/update — workers; gc/size — the control thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

namespace enidp::lb {

class Affinity {
public:
    static std::unique_ptr<Affinity> create(const std::string& name, uint32_t entries, int socket, rte_rcu_qsbr* qsbr,
                                            std::string& err);
    ~Affinity();
    Affinity(const Affinity&) = delete;
    Affinity& operator=(const Affinity&) = delete;

    // The backend id remembered for (client, service port) if seen within timeout_s.
    bool lookup(uint32_t client_ip, uint32_t service_port, uint32_t now_s, uint32_t timeout_s,
                uint32_t& backend) const {
        const uint64_t k = key(client_ip, service_port);
        void* d = nullptr;
        if (rte_hash_lookup_data(h_, &k, &d) < 0) return false;
        const auto v = reinterpret_cast<uintptr_t>(d);
        const auto seen = static_cast<uint32_t>(v);
        if (now_s - seen > timeout_s) return false;
        backend = static_cast<uint32_t>(v >> 32);
        return true;
    }
    // Remembers (or refreshes) the choice. False when the table is full (the flow still
    // goes ahead; the next connection may pick another backend).
    bool update(uint32_t client_ip, uint32_t service_port, uint32_t backend, uint32_t now_s) {
        const uint64_t k = key(client_ip, service_port);
        const uintptr_t v = (uintptr_t{backend} << 32) | now_s;
        return rte_hash_add_key_data(h_, &k, reinterpret_cast<void*>(v)) == 0;
    }
    // Drops entries idle longer than `timeout_s(service_port)` (control thread).
    template <class TimeoutFn>
    uint32_t gc(uint32_t now_s, TimeoutFn&& timeout_s) {
        uint32_t next = 0, n = 0;
        const void* k;
        void* d;
        while (rte_hash_iterate(h_, &k, &d, &next) >= 0) {
            const uint64_t key_v = *static_cast<const uint64_t*>(k);
            const auto seen = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(d));
            if (now_s - seen > timeout_s(static_cast<uint32_t>(key_v >> 32))) {
                if (rte_hash_del_key(h_, &key_v) >= 0) n++;
            }
        }
        return n;
    }
    uint32_t size() const { return static_cast<uint32_t>(rte_hash_count(h_)); }

private:
    Affinity() = default;
    static uint64_t key(uint32_t client_ip, uint32_t service_port) {
        return (uint64_t{service_port} << 32) | client_ip;
    }
    rte_hash* h_ = nullptr;
};

}  // namespace enidp::lb

// Shared test helpers: mbufs from byte vectors and back, DPDK address conversions.
#pragma once

#include <cstring>
#include <span>
#include <vector>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "perf/synth/packet_builder.hpp"

namespace enidp::test {

inline rte_mbuf* to_mbuf(rte_mempool* pool, std::span<const uint8_t> frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) return nullptr;
    void* p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
    std::memcpy(p, frame.data(), frame.size());
    return m;
}

inline std::vector<uint8_t> bytes_of(const rte_mbuf* m) {
    const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
    return {p, p + rte_pktmbuf_data_len(m)};
}

inline rte_ether_addr ether(const synth::MacAddr& m) {
    rte_ether_addr a;
    std::memcpy(a.addr_bytes, m.b.data(), 6);
    return a;
}

inline synth::MacAddr mac(const char* s) { return *synth::mac_from_string(s); }
inline uint32_t ip(const char* s) { return *synth::ipv4_from_string(s); }           // host order
inline uint32_t ip_be(const char* s) { return rte_cpu_to_be_32(ip(s)); }            // network order

}  // namespace enidp::test

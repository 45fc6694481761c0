// The synthetic rule set of the acl benchmarks: n allow entries spread over ceil(n / 100)
// isolated pods in both directions (remote prefixes /16 to /32 in 10.0.0.0/8, TCP/UDP/SCTP,
// single ports or ranges), and keys that hit random entries. Shared by acl_bench and
// policy_pipeline_bench.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "acl/compiler/compiler.hpp"
#include "acl/fastpath/classify.hpp"

namespace enidp::acl::bench {

inline constexpr uint32_t kEntriesPerPod = 100;

// n allow entries spread over ceil(n / 100) isolated pods in both directions: remote
// prefixes /16 to /32 in 10.0.0.0/8, TCP/UDP/SCTP, single ports or ranges.
inline CompiledPolicy synthetic_policy(uint32_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    CompiledPolicy c;
    c.policy_names = {"bench/p"};
    const uint32_t pods = (n + kEntriesPerPod - 1) / kEntriesPerPod;
    const uint8_t protos[] = {6, 17, 132};
    for (uint32_t p = 0; p < pods; ++p) {
        PodRules pr;
        pr.id = p;
        pr.ns = "bench";
        pr.name = "pod" + std::to_string(p);
        for (auto& dr : pr.dir) {
            dr.isolated = true;
            dr.selecting_policies = {0};
            const uint32_t count = std::min(kEntriesPerPod, n - p * kEntriesPerPod);
            for (uint32_t i = 0; i < count; ++i) {
                AllowEntry e;
                e.prefix_len = static_cast<uint8_t>(16 + rng() % 17);
                const uint32_t host =
                    (0x0a000000u | (rng() & 0x00ffffffu)) & (e.prefix_len == 0 ? 0 : ~0u << (32 - e.prefix_len));
                e.addr = htonl(host);
                e.protocol = protos[rng() % 3];
                e.port_lo = static_cast<uint16_t>(1 + rng() % 30000);
                e.port_hi = rng() % 4 == 0 ? static_cast<uint16_t>(e.port_lo + rng() % 1000) : e.port_lo;
                e.rule = i;
                dr.entries.push_back(e);
            }
        }
        c.pods.push_back(std::move(pr));
    }
    return c;
}

// Keys inside random entries (so rte_acl walks to a match), both directions.
inline std::vector<FlowKey> hitting_keys(const CompiledPolicy& c, size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<FlowKey> keys;
    while (keys.size() < n) {
        const PodRules& p = c.pods[rng() % c.pods.size()];
        const int d = static_cast<int>(rng() % 2);
        const AllowEntry& e = p.dir[d].entries[rng() % p.dir[d].entries.size()];
        const uint32_t span = e.prefix_len == 32 ? 1u : 1u << (32 - e.prefix_len);
        const uint32_t addr = ntohl(e.addr) + rng() % span;
        const uint16_t port = static_cast<uint16_t>(e.port_lo + rng() % (e.port_hi - e.port_lo + 1u));
        keys.push_back({p.id, htonl(addr), port, e.protocol, static_cast<Direction>(d)});
    }
    return keys;
}

}  // namespace enidp::acl::bench

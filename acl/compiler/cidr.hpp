// IPv4 prefix arithmetic for ipBlock (cidr minus except). Host byte order throughout.
// Control thread only.
#pragma once

#include <cstdint>
#include <vector>

namespace enidp::acl {

struct Prefix {
    uint32_t addr = 0;  // host order, masked
    uint8_t len = 0;
};

inline uint32_t prefix_mask(uint8_t len) { return len == 0 ? 0u : ~0u << (32 - (len > 32 ? 32 : len)); }
inline Prefix make_prefix(uint32_t addr, uint8_t len) {
    if (len > 32) len = 32;
    return {addr & prefix_mask(len), len};
}
inline bool prefix_contains(const Prefix& p, uint32_t addr) { return (addr & prefix_mask(p.len)) == p.addr; }
inline bool prefix_covers(const Prefix& outer, const Prefix& inner) {
    return outer.len <= inner.len && prefix_contains(outer, inner.addr);
}

// Appends to out the minimal set of prefixes covering `base` minus every prefix in
// `except` (entries outside base are ignored). At most 32 * except.size() + 1 prefixes.
void subtract_prefixes(const Prefix& base, const std::vector<Prefix>& except, std::vector<Prefix>& out);

}  // namespace enidp::acl

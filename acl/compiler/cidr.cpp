#include "acl/compiler/cidr.hpp"

namespace enidp::acl {

void subtract_prefixes(const Prefix& base, const std::vector<Prefix>& except, std::vector<Prefix>& out) {
    bool partial = false;
    for (const Prefix& e : except) {
        if (prefix_covers(e, base)) return;          // removed entirely
        if (prefix_covers(base, e)) partial = true;  // a hole strictly inside
    }
    if (!partial) {
        out.push_back(base);
        return;
    }
    const auto len = static_cast<uint8_t>(base.len + 1);
    subtract_prefixes({base.addr, len}, except, out);
    subtract_prefixes({base.addr | (1u << (32 - len)), len}, except, out);
}

}  // namespace enidp::acl

#include "acl/offload/plan.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace enidp::acl {

namespace {

struct Range {
    uint64_t lo;  // inclusive
    uint64_t hi;  // inclusive
};

uint64_t prefix_last(const Prefix& p) { return static_cast<uint64_t>(p.addr) + ((uint64_t{1} << (32 - p.len)) - 1); }

// Merged, sorted, disjoint ranges covering the union of `prefixes`.
std::vector<Range> merge(std::vector<Prefix>& prefixes) {
    for (Prefix& p : prefixes) p = make_prefix(p.addr, p.len);
    std::sort(prefixes.begin(), prefixes.end(),
              [](const Prefix& a, const Prefix& b) { return a.addr != b.addr ? a.addr < b.addr : a.len < b.len; });
    std::vector<Range> out;
    for (const Prefix& p : prefixes) {
        const Range r{p.addr, prefix_last(p)};
        if (!out.empty() && r.lo <= out.back().hi + 1)
            out.back().hi = std::max(out.back().hi, r.hi);
        else
            out.push_back(r);
    }
    return out;
}

// The minimal prefixes covering [lo, hi] (both inclusive, within 2^32).
void range_to_prefixes(uint64_t lo, uint64_t hi, std::vector<Prefix>& out) {
    while (lo <= hi) {
        uint8_t len = 32;
        // widen while the block stays aligned at lo and inside [lo, hi]
        while (len > 0) {
            const uint64_t size = uint64_t{1} << (32 - (len - 1));
            if ((lo & (size - 1)) != 0 || lo + size - 1 > hi) break;
            --len;
        }
        out.push_back({static_cast<uint32_t>(lo), len});
        lo += uint64_t{1} << (32 - len);
    }
}

uint32_t host(uint32_t net) { return ntohl(net); }

std::string ip_text(uint32_t host_addr) {
    return std::to_string(host_addr >> 24) + "." + std::to_string((host_addr >> 16) & 0xff) + "." +
           std::to_string((host_addr >> 8) & 0xff) + "." + std::to_string(host_addr & 0xff);
}

// 0.0.0.0/32 cannot be matched through net_tap (a zero source address in the spec means
// "no source match"); such a prefix stays in software. Other 0.0.0.0/len are encoded by
// the installer with a host bit outside the mask.
bool expressible(const Prefix& p) { return !(p.addr == 0 && p.len == 32); }

}  // namespace

const char* to_string(OffloadRuleKind k) {
    switch (k) {
        case OffloadRuleKind::kBlock: return "block";
        case OffloadRuleKind::kExemptIcmp: return "exempt-icmp";
        case OffloadRuleKind::kPolicyDrop: return "policy-drop";
    }
    return "?";
}

std::string to_string(const OffloadRule& r) {
    std::string s = to_string(r.kind);
    if (r.kind == OffloadRuleKind::kExemptIcmp)
        s += " icmp -> " + ip_text(r.dst) + " queue " + std::to_string(r.queue);
    else
        s += " " + ip_text(r.src) + "/" + std::to_string(r.src_len) + " -> " + ip_text(r.dst);
    return s + " prio " + std::to_string(r.priority);
}

std::vector<Prefix> normalize_prefixes(std::vector<Prefix> prefixes) {
    std::vector<Prefix> out;
    for (const Range& r : merge(prefixes)) range_to_prefixes(r.lo, r.hi, out);
    return out;
}

std::vector<Prefix> complement_prefixes(std::vector<Prefix> allowed) {
    std::vector<Prefix> out;
    uint64_t next = 0;
    for (const Range& r : merge(allowed)) {
        if (r.lo > next) range_to_prefixes(next, r.lo - 1, out);
        next = r.hi + 1;
    }
    if (next <= 0xffffffffull) range_to_prefixes(next, 0xffffffffull, out);
    return out;
}

OffloadPlan plan_eni_offload(const PodRules& pod, const OffloadOptions& opts) {
    OffloadPlan plan;
    plan.pod_id = pod.id;
    plan.pod = pod.ns + "/" + pod.name;

    std::vector<Prefix> block = normalize_prefixes(opts.blocklist);
    std::erase_if(block, [](const Prefix& p) { return !expressible(p); });

    const DirectionRules& in = pod.in(Direction::kIngress);
    const DirectionRules& eg = pod.in(Direction::kEgress);
    std::vector<Prefix> drop;
    if (pod.host_network) {
        plan.reason = "host-network pod: policy never applies; blocklist only";
    } else if (!in.isolated) {
        plan.reason = "not isolated for ingress: every source may open a connection; blocklist only";
    } else if (!eg.isolated) {
        plan.reason = "not isolated for egress: every remote may be a reply source; blocklist only";
    } else {
        // Sources the software path may admit: ingress remotes (new inbound), egress
        // remotes (replies), extra_allowed. Ports and protocols ignored (conservative).
        std::vector<Prefix> admitted = opts.extra_allowed;
        for (const DirectionRules* d : {&in, &eg})
            for (const AllowEntry& e : d->entries) admitted.push_back(make_prefix(host(e.addr), e.prefix_len));
        drop = complement_prefixes(std::move(admitted));
        std::erase_if(drop, [](const Prefix& p) { return !expressible(p); });
        // A blocklisted prefix is already dropped at a higher priority.
        std::erase_if(drop, [&](const Prefix& p) {
            return std::any_of(block.begin(), block.end(), [&](const Prefix& b) { return prefix_covers(b, p); });
        });
        if (drop.empty()) plan.reason = "policy admits every source; blocklist only";
    }
    plan.droppable_prefixes = drop.size();

    const size_t n_ips = pod.ips.size();
    const size_t policy_rules = drop.empty() ? 0 : n_ips * (drop.size() + (opts.exempt_icmp ? 1 : 0));
    size_t block_rules = n_ips * block.size();
    if (!drop.empty() && block_rules + policy_rules > opts.max_rules) {
        plan.reason = "policy needs " + std::to_string(policy_rules) + " rules (+" + std::to_string(block_rules) +
                      " blocklist) over the cap of " + std::to_string(opts.max_rules) + "; blocklist only";
        drop.clear();
    }
    if (block_rules > opts.max_rules) {
        plan.reason += std::string(plan.reason.empty() ? "" : "; ") + "blocklist needs " +
                       std::to_string(block_rules) + " rules, cap " + std::to_string(opts.max_rules) +
                       ": the rest stays out of the NIC";
        block_rules = opts.max_rules;
    }

    for (const uint32_t ip_net : pod.ips) {
        const uint32_t dst = host(ip_net);
        for (const Prefix& p : block) {
            if (plan.rules.size() >= block_rules) break;
            plan.rules.push_back({.kind = OffloadRuleKind::kBlock,
                                  .priority = opts.base_priority + offload_priority(OffloadRuleKind::kBlock, p.len),
                                  .src = p.addr, .dst = dst, .src_len = p.len});
        }
    }
    if (!drop.empty()) {
        plan.policy_offloaded = true;
        for (const uint32_t ip_net : pod.ips) {
            const uint32_t dst = host(ip_net);
            if (opts.exempt_icmp)
                plan.rules.push_back({.kind = OffloadRuleKind::kExemptIcmp,
                                      .priority = opts.base_priority + offload_priority(OffloadRuleKind::kExemptIcmp, 0),
                                      .dst = dst, .proto = 1, .queue = opts.icmp_queue});
            for (const Prefix& p : drop)
                plan.rules.push_back({.kind = OffloadRuleKind::kPolicyDrop,
                                      .priority = opts.base_priority + offload_priority(OffloadRuleKind::kPolicyDrop, p.len),
                                      .src = p.addr, .dst = dst, .src_len = p.len});
        }
    }
    std::sort(plan.rules.begin(), plan.rules.end());
    plan.rules.erase(std::unique(plan.rules.begin(), plan.rules.end()), plan.rules.end());
    return plan;
}

OffloadPlan plan_eni_offload(const CompiledPolicy& compiled, uint32_t pod_id, const OffloadOptions& opts) {
    for (const PodRules& p : compiled.pods)
        if (p.id == pod_id) return plan_eni_offload(p, opts);
    OffloadPlan plan;
    plan.pod_id = pod_id;
    plan.reason = "pod id " + std::to_string(pod_id) + " is not a local pod of this policy";
    return plan;
}

}  // namespace enidp::acl

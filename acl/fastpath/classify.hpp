// Bulk NetworkPolicy classification of flows' first packets against a PolicySnapshot.
//
// Worker code: no allocation, locks, exceptions or logging. Call once per burst from
// dataplane/fastpath/pipeline.hpp (pod egress: Direction::kEgress with the sending pod;
// local shortcut / ENI ingress: Direction::kIngress with the receiving pod). Pods that no
// policy isolates in the key's direction are answered without touching rte_acl; the rest
// go through one rte_acl_classify call per direction per chunk of kClassifyChunk keys.
#pragma once

#include <cstdint>

#include <rte_acl.h>
#include <rte_byteorder.h>

#include "acl/fastpath/policy_snapshot.hpp"

namespace enidp::acl {

struct FlowKey {
    uint32_t pod_id = 0;     // local pod (the dataplane's pod index)
    uint32_t remote_ip = 0;  // network order: source for ingress, destination for egress
    uint16_t dport = 0;      // host order; 0 for protocols without ports
    uint8_t proto = 0;       // IP protocol number
    Direction direction = Direction::kIngress;
};

enum class VerdictReason : uint8_t {
    kNotIsolated,    // no policy selects the pod in this direction: allowed
    kUnknownPod,     // pod id not in the snapshot: treated as not isolated (allowed)
    kAllowedByRule,  // an allow entry matched; Verdict::rule says which
    kDefaultDeny,    // isolated and nothing matched
};

struct Verdict {
    uint32_t rule = 0;  // PolicySnapshot::rule() id of the deciding rule; 0 when none
    VerdictReason reason = VerdictReason::kNotIsolated;
    bool allowed() const { return reason != VerdictReason::kDefaultDeny; }
};

inline constexpr uint16_t kClassifyChunk = 64;

namespace detail {

inline uint8_t isolated_bit(Direction d) { return d == Direction::kIngress ? kPodIsolatedIngress : kPodIsolatedEgress; }

inline void fill_acl_key(AclKey& k, const FlowKey& f) {
    k.proto = f.proto;
    k.pad[0] = k.pad[1] = k.pad[2] = 0;
    k.pod_id = rte_cpu_to_be_32(f.pod_id);
    k.remote_ip = f.remote_ip;
    k.dport = rte_cpu_to_be_16(f.dport);
    k.sport = 0;
}

// Up to kClassifyChunk keys.
inline void classify_chunk(const PolicySnapshot& snap, const FlowKey* keys, Verdict* out, uint16_t n) {
    AclKey acl_keys[kDirections][kClassifyChunk];
    const uint8_t* data[kDirections][kClassifyChunk];
    uint16_t slot[kDirections][kClassifyChunk];
    uint32_t results[kDirections][kClassifyChunk];
    uint16_t count[kDirections] = {0, 0};

    for (uint16_t i = 0; i < n; ++i) {
        const FlowKey& f = keys[i];
        const uint8_t flags = snap.pod_flags(f.pod_id);
        if ((flags & kPodKnown) == 0) {
            out[i] = {0, VerdictReason::kUnknownPod};
            continue;
        }
        if ((flags & isolated_bit(f.direction)) == 0) {
            out[i] = {0, VerdictReason::kNotIsolated};
            continue;
        }
        const int d = static_cast<int>(f.direction);
        if (snap.context(f.direction) == nullptr) {  // no allow entry at all in this direction
            out[i] = {0, VerdictReason::kDefaultDeny};
            continue;
        }
        const uint16_t c = count[d]++;
        fill_acl_key(acl_keys[d][c], f);
        data[d][c] = reinterpret_cast<const uint8_t*>(&acl_keys[d][c]);
        slot[d][c] = i;
    }
    for (int d = 0; d < kDirections; ++d) {
        if (count[d] == 0) continue;
        rte_acl_classify(snap.context(static_cast<Direction>(d)), data[d], results[d], count[d], 1);
        for (uint16_t c = 0; c < count[d]; ++c) {
            const uint32_t r = results[d][c];
            out[slot[d][c]] = {r, r != 0 ? VerdictReason::kAllowedByRule : VerdictReason::kDefaultDeny};
        }
    }
}

}  // namespace detail

// Worker. Classifies n keys (any mix of directions) into out[0..n). Returns the number of
// keys denied, so a caller can skip its drop loop when it is 0.
inline uint16_t classify_burst(const PolicySnapshot& snap, const FlowKey* keys, Verdict* out, uint16_t n) {
    for (uint16_t done = 0; done < n; done += kClassifyChunk) {
        const uint16_t m = static_cast<uint16_t>(n - done < kClassifyChunk ? n - done : kClassifyChunk);
        detail::classify_chunk(snap, keys + done, out + done, m);
    }
    uint16_t denied = 0;
    for (uint16_t i = 0; i < n; ++i) denied += out[i].allowed() ? 0 : 1;
    return denied;
}

// Worker. One key (tests, slow paths); same semantics as classify_burst.
inline Verdict classify_one(const PolicySnapshot& snap, const FlowKey& key) {
    Verdict v;
    detail::classify_chunk(snap, &key, &v, 1);
    return v;
}

}  // namespace enidp::acl

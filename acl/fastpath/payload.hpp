// PayloadSnapshot: the Hyperscan half of a PolicySnapshot — one block-mode database of every
// PayloadPolicy pattern (HS_FLAG_SINGLEMATCH), one scratch per worker (hs_clone_scratch),
// and which payload policies apply to each local pod and direction.
//
// Built by the control thread (acl/compiler/snapshot_builder.hpp) and owned by the
// PolicySnapshot it belongs to (freed with it after the RCU grace period). Workers call
// needs_scan() and scan() with their own worker index; neither allocates, locks or throws.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <hs/hs.h>

#include "acl/fastpath/policy_snapshot.hpp"

namespace enidp::acl {

enum class PayloadAction : uint8_t { kDeny, kAllow, kLog };

struct PayloadPortRange {
    uint8_t protocol = 0;  // 6/17/132
    uint16_t lo = 0, hi = 65535;
};

struct PayloadRuleSet {  // one PayloadPolicy as the worker needs it
    PayloadAction action = PayloadAction::kDeny;
    std::vector<PayloadPortRange> ports;  // empty: every protocol and port
};

struct PayloadVerdict {
    enum class Kind : uint8_t {
        kNotScanned,    // no payload policy applies to this pod, direction, protocol and port
        kPass,          // scanned, nothing decided against it
        kLogged,        // a log pattern matched (passes)
        kDenied,        // a deny pattern matched
        kNoAllowMatch,  // allow patterns apply and none matched (denied)
        kScanError,     // hs_scan failed (e.g. a scratch used by two threads): passes, count it
    };
    Kind kind = Kind::kNotScanned;
    uint32_t policy = 0;   // index into payload_names() for kDenied / kLogged / kNoAllowMatch
    uint32_t pattern = 0;  // pattern index within that policy for kDenied / kLogged
    bool allowed() const { return kind != Kind::kDenied && kind != Kind::kNoAllowMatch; }
};

// Payload policies active for one scan; a pod may be selected by at most this many in one
// direction (the builder rejects more).
inline constexpr uint32_t kMaxPayloadPoliciesPerPod = 64;

class PayloadSnapshot {
public:
    PayloadSnapshot() = default;
    ~PayloadSnapshot();  // control thread: frees the database and the scratches
    PayloadSnapshot(const PayloadSnapshot&) = delete;
    PayloadSnapshot& operator=(const PayloadSnapshot&) = delete;

    // worker: whether a packet of this flow must be scanned at all (cheap; flows of pods no
    // payload policy selects pay one bounds check and one load).
    bool needs_scan(uint32_t pod_id, Direction d, uint8_t proto, uint16_t dport) const;

    // worker: scan one payload with this worker's scratch. worker < workers().
    PayloadVerdict scan(unsigned worker, uint32_t pod_id, Direction d, uint8_t proto, uint16_t dport,
                        const uint8_t* data, uint32_t len) const;

    // control thread
    unsigned workers() const { return static_cast<unsigned>(scratch_.size()); }
    size_t pattern_count() const { return owner_.size(); }
    const std::vector<std::string>& payload_names() const { return names_; }

private:
    friend class SnapshotBuilder;
    friend struct PayloadScan;
    bool applies(uint32_t policy, uint8_t proto, uint16_t dport) const;
    const uint32_t* pod_policies(uint32_t pod_id, Direction d, uint32_t& n) const;

    hs_database_t* db_ = nullptr;
    std::vector<hs_scratch_t*> scratch_;
    std::vector<PayloadRuleSet> policies_;
    std::vector<std::string> names_;                    // "ns/name"
    std::vector<std::pair<uint32_t, uint32_t>> owner_;  // pattern id → (policy, pattern index)
    std::vector<uint32_t> begin_[kDirections];          // CSR over pod id into list_[d]
    std::vector<uint32_t> list_[kDirections];           // payload policy indices
};

}  // namespace enidp::acl

#include "acl/fastpath/payload.hpp"

namespace enidp::acl {

// Match-callback state, on the worker's stack.
struct PayloadScan {
    const PayloadSnapshot* snap;
    uint32_t active[kMaxPayloadPoliciesPerPod];
    uint32_t n_active = 0;
    bool any_allow_policy = false;
    bool allow_matched = false;
    PayloadVerdict deny{PayloadVerdict::Kind::kPass, 0, 0};
    PayloadVerdict log{PayloadVerdict::Kind::kPass, 0, 0};

    bool is_active(uint32_t policy) const {
        for (uint32_t i = 0; i < n_active; ++i)
            if (active[i] == policy) return true;
        return false;
    }

    static int on_match(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) {
        auto* s = static_cast<PayloadScan*>(ctx);
        const auto [policy, pattern] = s->snap->owner_[id];
        if (!s->is_active(policy)) return 0;
        switch (s->snap->policies_[policy].action) {
            case PayloadAction::kDeny:
                s->deny = {PayloadVerdict::Kind::kDenied, policy, pattern};
                return 1;  // a deny decides: stop scanning
            case PayloadAction::kAllow: s->allow_matched = true; return 0;
            case PayloadAction::kLog:
                if (s->log.kind == PayloadVerdict::Kind::kPass)
                    s->log = {PayloadVerdict::Kind::kLogged, policy, pattern};
                return 0;
        }
        return 0;
    }
};

PayloadSnapshot::~PayloadSnapshot() {
    for (auto* s : scratch_) hs_free_scratch(s);
    hs_free_database(db_);
}

const uint32_t* PayloadSnapshot::pod_policies(uint32_t pod_id, Direction d, uint32_t& n) const {
    const auto& b = begin_[static_cast<int>(d)];
    if (pod_id + 1 >= b.size()) {
        n = 0;
        return nullptr;
    }
    n = b[pod_id + 1] - b[pod_id];
    return list_[static_cast<int>(d)].data() + b[pod_id];
}

bool PayloadSnapshot::applies(uint32_t policy, uint8_t proto, uint16_t dport) const {
    const auto& ports = policies_[policy].ports;
    if (ports.empty()) return true;
    for (const auto& p : ports)
        if (p.protocol == proto && dport >= p.lo && dport <= p.hi) return true;
    return false;
}

bool PayloadSnapshot::needs_scan(uint32_t pod_id, Direction d, uint8_t proto, uint16_t dport) const {
    uint32_t n = 0;
    const uint32_t* ids = pod_policies(pod_id, d, n);
    for (uint32_t i = 0; i < n; ++i)
        if (applies(ids[i], proto, dport)) return true;
    return false;
}

PayloadVerdict PayloadSnapshot::scan(unsigned worker, uint32_t pod_id, Direction d, uint8_t proto, uint16_t dport,
                                     const uint8_t* data, uint32_t len) const {
    PayloadScan s{this, {}, 0};
    uint32_t n = 0;
    const uint32_t* ids = pod_policies(pod_id, d, n);
    for (uint32_t i = 0; i < n; ++i) {
        if (!applies(ids[i], proto, dport)) continue;
        s.active[s.n_active++] = ids[i];
        s.any_allow_policy |= policies_[ids[i]].action == PayloadAction::kAllow;
    }
    if (s.n_active == 0 || db_ == nullptr) return {};
    if (worker >= scratch_.size()) return {PayloadVerdict::Kind::kScanError, 0, 0};
    const hs_error_t rc =
        hs_scan(db_, reinterpret_cast<const char*>(data), len, 0, scratch_[worker], &PayloadScan::on_match, &s);
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) return {PayloadVerdict::Kind::kScanError, 0, 0};
    if (s.deny.kind == PayloadVerdict::Kind::kDenied) return s.deny;
    if (s.any_allow_policy && !s.allow_matched) {
        for (uint32_t i = 0; i < s.n_active; ++i)
            if (policies_[s.active[i]].action == PayloadAction::kAllow)
                return {PayloadVerdict::Kind::kNoAllowMatch, s.active[i], 0};
    }
    return s.log;
}

}  // namespace enidp::acl

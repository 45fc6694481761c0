#include "dataplane/runtime/policy_state.hpp"

#include <algorithm>

#include "acl/fastpath/payload.hpp"

namespace enidp::dp {

namespace {

const std::string kNone;

const char* verdict_name(uint8_t v) {
    switch (static_cast<VerdictKind>(v)) {
        case VerdictKind::kAllowed: return "allowed";
        case VerdictKind::kDenied: return "denied";
        case VerdictKind::kPending: return "pending";
        case VerdictKind::kPayloadDenied: return "payload_denied";
        case VerdictKind::kPayloadLogged: return "payload_logged";
    }
    return "unknown";
}

}  // namespace

uint32_t PolicyRuntime::acquire_id(const std::string& pod_key) {
    uint32_t id;
    if (!free_ids_.empty()) {
        id = free_ids_.back();
        free_ids_.pop_back();
    } else {
        id = next_id_++;
    }
    names_[id] = pod_key;
    return id;
}

void PolicyRuntime::retire_id(uint32_t id) { retired_ids_.push_back(id); }

const std::string& PolicyRuntime::pod_name(uint32_t id) const {
    auto it = names_.find(id);
    return it == names_.end() ? kNone : it->second;
}

std::shared_ptr<PolicyPublication> PolicyRuntime::publication(std::shared_ptr<const acl::PolicySnapshot> snap,
                                                              unsigned workers) {
    auto pub = std::make_shared<PolicyPublication>();
    if (snap != nullptr) {
        const uint32_t pols = static_cast<uint32_t>(snap->policy_names().size());
        const uint32_t pay = snap->payload() != nullptr ? static_cast<uint32_t>(snap->payload()->payload_names().size()) : 0;
        // Room for pods added before the next publication; ids beyond it are not counted.
        const uint32_t pods = std::max<uint32_t>(next_id_ * 2, 64);
        pub->counters.resize(workers);
        for (auto& c : pub->counters) c.allocate(pols, pay, pods);
    }
    pub->snapshot = std::move(snap);
    return pub;
}

void PolicyRuntime::fold(const PolicyPublication& pub, PolicyStatus& into) const {
    if (pub.snapshot == nullptr) return;
    const auto& names = pub.snapshot->policy_names();
    const acl::PayloadSnapshot* pay = pub.snapshot->payload();
    for (const PolicyCounters& c : pub.counters) {
        for (uint32_t i = 0; i < c.policies && i < names.size(); i++)
            if (uint64_t v = c.allowed_by_policy[i].get()) into.allowed_by_policy[names[i]] += v;
        for (uint32_t i = 0; pay != nullptr && i < c.payload_policies && i < pay->payload_names().size(); i++)
            if (uint64_t v = c.denied_by_payload[i].get()) into.denied_by_payload_policy[pay->payload_names()[i]] += v;
        for (uint32_t i = 0; i < c.pods; i++) {
            const uint64_t a = c.allowed_by_pod[i].get(), d = c.denied_by_pod[i].get();
            if (a == 0 && d == 0) continue;
            auto& e = into.by_pod[pod_name(i)];
            e.first += a;
            e.second += d;
        }
    }
}

void PolicyRuntime::retired(const std::shared_ptr<PolicyPublication>& old, const acl::PolicySnapshot* now) {
    if (old != nullptr) fold(*old, totals_);
    // Ids the live snapshot does not know can be handed out again.
    std::vector<uint32_t> keep;
    for (uint32_t id : retired_ids_) {
        if (now != nullptr && (now->pod_flags(id) & acl::kPodKnown)) {
            keep.push_back(id);
        } else {
            free_ids_.push_back(id);
            names_.erase(id);
        }
    }
    retired_ids_ = std::move(keep);
}

void PolicyRuntime::drain(PolicyWorker& w, const PolicyPublication* pub) {
    w.drain([&](const VerdictRecord& r) {
        VerdictLogEntry e;
        e.seq = ++seq_;
        e.time_ms = r.time_ms;
        e.policy_generation = r.policy_generation;
        e.pod = pod_name(r.pod);
        e.direction = r.direction == static_cast<uint8_t>(acl::Direction::kEgress) ? "egress" : "ingress";
        e.peer = r.peer;
        e.port = r.port;
        e.proto = r.proto;
        e.verdict = verdict_name(r.verdict);
        const acl::PolicySnapshot* s = pub != nullptr ? pub->snapshot.get() : nullptr;
        if (s != nullptr && s->generation() == r.policy_generation && r.policy != UINT32_MAX) {
            const bool payload = r.verdict == static_cast<uint8_t>(VerdictKind::kPayloadDenied) ||
                                 r.verdict == static_cast<uint8_t>(VerdictKind::kPayloadLogged);
            if (payload && s->payload() != nullptr && r.policy < s->payload()->payload_names().size())
                e.policy = s->payload()->payload_names()[r.policy];
            else if (!payload && r.policy < s->policy_names().size())
                e.policy = s->policy_names()[r.policy];
        }
        log_.push_back(std::move(e));
        if (log_.size() > kLogKeep) log_.pop_front();
        taken_++;
    });
}

PolicyStatus PolicyRuntime::status(const PolicyPublication* pub, const std::vector<PolicyWorker*>& workers) const {
    PolicyStatus s = totals_;
    if (pub != nullptr && pub->snapshot != nullptr) {
        s.active = true;
        s.generation = pub->snapshot->generation();
        s.rules_ingress = pub->snapshot->acl_rule_count(acl::Direction::kIngress);
        s.rules_egress = pub->snapshot->acl_rule_count(acl::Direction::kEgress);
        s.patterns = pub->snapshot->payload() != nullptr ? pub->snapshot->payload()->pattern_count() : 0;
        fold(*pub, s);
    }
    s.log_records = taken_;
    for (const PolicyWorker* w : workers) s.log_lost += w->lost.load(std::memory_order_relaxed);
    return s;
}

std::vector<VerdictLogEntry> PolicyRuntime::log_since(uint64_t seq, size_t max) const {
    std::vector<VerdictLogEntry> out;
    for (const auto& e : log_) {
        if (e.seq <= seq) continue;
        out.push_back(e);
        if (out.size() >= max) break;
    }
    return out;
}

}  // namespace enidp::dp

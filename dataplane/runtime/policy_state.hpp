// The runtime's NetworkPolicy bookkeeping (control thread): stable pod policy ids, the
// published PolicyPublication, counters folded by name across publications, and the verdict
// log drained from the workers.
//
// Pod policy ids: a pod keeps its id while it exists; a removed pod's id is only reused once
// a policy snapshot that does not know it has been published, so a new pod can never inherit
// the rules compiled for an old one.
//
// Who may call: the Dataplane (control thread) only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/fastpath/policy_stage.hpp"
#include "dataplane/fastpath/policy_tables.hpp"

namespace enidp::dp {

struct VerdictLogEntry {
    uint64_t seq = 0;
    uint64_t time_ms = 0;            // worker clock (TSC ms)
    uint64_t policy_generation = 0;
    std::string pod;                 // local pod key (namespace/name)
    std::string direction;           // "ingress" | "egress"
    uint32_t peer = 0;               // network order
    uint16_t port = 0;               // server port
    uint8_t proto = 0;
    std::string verdict;             // "allowed" | "denied" | "pending" | "payload_denied" | "payload_logged"
    std::string policy;              // "ns/name" of the deciding policy, or "" (default deny / not isolated)
};

struct PolicyStatus {
    bool active = false;
    uint64_t generation = 0;
    size_t rules_ingress = 0, rules_egress = 0;
    size_t patterns = 0;
    std::map<std::string, uint64_t> allowed_by_policy;                  // flows admitted, by "ns/name"
    std::map<std::string, uint64_t> denied_by_payload_policy;           // packets denied, by "ns/name"
    std::map<std::string, std::pair<uint64_t, uint64_t>> by_pod;        // pod key → (allowed, denied) flow decisions
    uint64_t log_records = 0;    // verdict records taken from the workers
    uint64_t log_lost = 0;       // records workers could not log (ring full)
};

class PolicyRuntime {
public:
    static constexpr size_t kLogKeep = 4096;

    uint32_t acquire_id(const std::string& pod_key);
    void retire_id(uint32_t id);

    // A publication for `snap` (null: policy off) with counters for `workers` workers.
    std::shared_ptr<PolicyPublication> publication(std::shared_ptr<const acl::PolicySnapshot> snap, unsigned workers);
    // After `old` can no longer be used by any worker: folds its counters into the totals
    // and frees ids the new snapshot does not know.
    void retired(const std::shared_ptr<PolicyPublication>& old, const acl::PolicySnapshot* now);
    // Takes the workers' verdict records (resolved against `pub`).
    void drain(PolicyWorker& w, const PolicyPublication* pub);

    PolicyStatus status(const PolicyPublication* pub, const std::vector<PolicyWorker*>& workers) const;
    std::vector<VerdictLogEntry> log_since(uint64_t seq, size_t max) const;
    uint64_t log_last_seq() const { return seq_; }
    const std::string& pod_name(uint32_t id) const;

private:
    void fold(const PolicyPublication& pub, PolicyStatus& into) const;

    uint32_t next_id_ = 0;
    std::vector<uint32_t> free_ids_;
    std::vector<uint32_t> retired_ids_;
    std::map<uint32_t, std::string> names_;
    PolicyStatus totals_;  // counters of retired publications
    std::deque<VerdictLogEntry> log_;
    uint64_t seq_ = 0;
    uint64_t taken_ = 0;
};

}  // namespace enidp::dp

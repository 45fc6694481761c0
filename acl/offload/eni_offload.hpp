// NetworkPolicy NIC offload, part 2: the installer. One EniOffload per ethdev port (one
// pod's ENI) keeps that port's rte_flow rules equal to the last OffloadPlan
// (acl/offload/plan.hpp), incrementally.
//
// Who may call: the control thread only (rte_flow_* are not thread-safe against each other
// on one port unless the PMD says so; workers never touch this). The port must be
// configured (net_tap: started, so the kernel netdev exists). Correctness never depends on
// what is installed: the workers' rte_acl path enforces the same policy, so a rule the NIC
// refuses simply stays "software".
//
//   EniOffload off(port_id);                        // or EniOffload(std::make_unique<MyBackend>())
//   off.retire(new_plan);   // optional, before publishing a more permissive PolicySnapshot
//   publish(snapshot);
//   off.sync(new_plan);     // validate + create what is new, destroy what is gone
//   off.state();            // per-rule offloaded / software (+ the rte_flow_error message), counters
//   // ~EniOffload() destroys every rule it created (never rte_flow_flush: other rules on the port stay).
//
// sync() order: (1) destroy rules not in the plan (drops before exemptions); (2) validate
// every new rule (rte_flow_validate); (3) create the kExemptIcmp rules; if any of them is
// not in the NIC, no kPolicyDrop of the plan is installed (those already installed are
// destroyed) — a drop never sits in the NIC without the exemption that must precede it;
// (4) create kBlock and kPolicyDrop rules; each one that fails stays software. Every policy
// drop is a subset of what the software path drops, so any subset of them is safe on its
// own (block rules carry the blocklist, which only the NIC enforces today: see
// OffloadOptions::blocklist).
// A refused rule is remembered and not retried until forget_failures().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "acl/offload/plan.hpp"

struct rte_flow;

namespace enidp::acl {

// What EniOffload needs from rte_flow; the default one calls rte_flow_{validate,create,
// destroy} on a port. Tests substitute their own. Each returns the PMD's message on error.
class FlowBackend {
public:
    virtual ~FlowBackend() = default;
    virtual bool validate(const OffloadRule& r, std::string& error) = 0;
    virtual rte_flow* create(const OffloadRule& r, std::string& error) = 0;  // null on error
    virtual bool destroy(rte_flow* flow, std::string& error) = 0;
    virtual uint16_t port_id() const = 0;
};
std::unique_ptr<FlowBackend> make_rte_flow_backend(uint16_t port_id);

enum class RuleState : uint8_t { kOffloaded, kSoftware };
const char* to_string(RuleState s);

struct RuleStatus {
    OffloadRule rule;
    RuleState state = RuleState::kSoftware;
    std::string error;  // kSoftware: "validate: <PMD message>", "create: ...", or the dependency that failed
};

struct OffloadCounters {
    uint64_t rules_offloaded = 0;    // now in the NIC
    uint64_t rules_software = 0;     // now left to the workers
    uint64_t validate_failures = 0;  // cumulative
    uint64_t create_failures = 0;    // cumulative: validated but the PMD/kernel refused creation
    uint64_t destroy_failures = 0;   // cumulative (the handle is forgotten either way)
    uint64_t created = 0;            // cumulative
    uint64_t destroyed = 0;          // cumulative
    uint64_t syncs = 0;
};

// Plain data, for dumps (the API layer turns it into JSON).
struct OffloadState {
    uint16_t port_id = 0;
    uint32_t pod_id = 0;
    std::string pod;
    std::string plan_reason;       // OffloadPlan::reason of the last plan
    bool policy_in_nic = false;    // the plan's policy drops are all in the NIC
    std::vector<RuleStatus> rules; // in plan order
    OffloadCounters counters;
};

class EniOffload {
public:
    explicit EniOffload(uint16_t port_id);
    explicit EniOffload(std::unique_ptr<FlowBackend> backend);
    ~EniOffload();  // flush()
    EniOffload(const EniOffload&) = delete;
    EniOffload& operator=(const EniOffload&) = delete;

    // Make the NIC hold what `plan` asks (as far as the PMD accepts). Control thread.
    void sync(const OffloadPlan& plan);
    // Only step (1) of sync: destroy the rules `plan` no longer has (nothing is added).
    void retire(const OffloadPlan& plan);
    // Destroy every rule this object created; state() then lists nothing. Call it (or
    // destroy the object) before the port is closed.
    void flush();
    // A rule the PMD refused (validate or create) is not offered again on later syncs — a
    // port without rte_flow support would otherwise log the same refusal every sync. This
    // forgets those refusals so the next sync retries them (e.g. after a kernel module load).
    void forget_failures() { failed_.clear(); }

    const OffloadState& state() const { return state_; }
    std::string describe() const;  // multi-line text, one rule per line

private:
    void retire_stale(const std::vector<OffloadRule>& keep);
    void destroy(const OffloadRule& r);  // one installed rule, by key
    void recount();

    std::unique_ptr<FlowBackend> backend_;
    std::map<OffloadRule, rte_flow*> installed_;
    std::map<OffloadRule, std::string> failed_;  // refused rules and the PMD's message
    OffloadState state_;
};

}  // namespace enidp::acl

// The node settings that can change while the daemon runs (UpdateNodeSettings, `enidpctl node
// set`), and the settings in force (GetNodeSettings). The config file gives the starting values;
// changes last until the daemon restarts (the file is not rewritten).
//
// Control thread only: apply() reprograms the reconcilers and the data path directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "control/config/config.hpp"
#include "control/reconcile/node_settings_change.hpp"
#include "control/reconcile/policies.hpp"
#include "control/reconcile/services.hpp"
#include "dataplane/runtime/dataplane.hpp"

namespace enidp::reconcile {

// The node as lb/builder sees it: name, zone, node IPs (network order).
lb::NodeInfo node_info(const config::Config& cfg);

class NodeSettingsControl {
public:
    // `policies` may be null (no policy engine).
    NodeSettingsControl(config::Config start, dp::Dataplane& dataplane, ServiceReconciler& services,
                        PolicyReconciler* policies)
        : cfg_(std::move(start)), dp_(dataplane), services_(services), policies_(policies) {}

    // The settings in force: the config's, with every change applied so far.
    const config::Config& current() const { return cfg_; }
    // Applies a validated change. A new zone or node IP set rebuilds the whole Service table
    // (local endpoints, NodePort frontends and the NetworkPolicy node exemption depend on them)
    // by the control loop's next sync, then the policies are recompiled; the sampling knobs
    // take effect on the workers' next decision.
    // Returns what it did, for the log ("zone a -> b, ...").
    std::string apply(const NodeSettingsChange& change);
    // Whether the policies must be recompiled after the next Service publication (the control
    // loop calls PolicyReconciler::sync(true) then); reading it clears it.
    bool take_policy_recompile() { return std::exchange(policy_recompile_, false); }
    // Whether the Service table must be rebuilt at once (ServiceReconciler::sync(true)); reading
    // it clears it.
    bool take_service_rebuild() { return std::exchange(service_rebuild_, false); }

private:
    config::Config cfg_;
    dp::Dataplane& dp_;
    ServiceReconciler& services_;
    PolicyReconciler* policies_;
    bool policy_recompile_ = false;
    bool service_rebuild_ = false;
};

}  // namespace enidp::reconcile

// DataplaneView on the real data path (dp::Dataplane + the Service reconciler): what the
// daemon hands the gRPC service.
//
// Who may call: the control thread only (the daemon's loop, through ControlQueue tasks).
#pragma once

#include <string>
#include <vector>

#include "control/api/view.hpp"
#include "control/objects/store.hpp"
#include "control/reconcile/node_settings.hpp"
#include "control/reconcile/policies.hpp"
#include "control/reconcile/services.hpp"
#include "dataplane/runtime/dataplane.hpp"

namespace enidp::api {

// A pod this node runs, from the daemon's config: how `ns/pod` in a trace becomes an address.
struct LocalPod {
    std::string ns, name;
    uint32_t ip = 0;  // host order
};

class DaemonView final : public DataplaneView {
public:
    DaemonView(dp::Dataplane& dataplane, const reconcile::ServiceReconciler& services, const objects::Store& store)
        : dp_(dataplane), services_(services), store_(store) {}

    // The config's pods (replaced on SIGHUP reload).
    void set_local_pods(std::vector<LocalPod> pods) { pods_ = std::move(pods); }
    // The NetworkPolicy reconciler (its last compile is what DumpPolicy shows).
    void set_policies(const reconcile::PolicyReconciler* p) { policies_ = p; }
    // What Get/UpdateNodeSettings read and change (none: UNIMPLEMENTED).
    void set_node_settings(reconcile::NodeSettingsControl* n) { node_settings_ = n; }

    void stats(v1::GetStatsResponse& out) override;
    std::string service_counters_json() override;
    void dump_services(v1::DumpFormat format, v1::DumpServicesResponse& out) override;
    void dump_conntrack(const ConntrackFilter& filter, v1::DumpConntrackResponse& out) override;
    std::string trace(const TraceQuery& query, v1::TraceResponse& out) override;
    uint64_t realized_generation() override { return services_.realized_generation(); }
    std::string dump_policy(const std::string& pod, v1::DumpFormat format, v1::DumpPolicyResponse& out) override;
    void read_verdicts(uint64_t after_seq, const std::string& pod, size_t max,
                       std::vector<v1::VerdictRecord>& out) override;
    void dump_ports(v1::DumpPortsResponse& out) override;
    bool node_settings(v1::NodeSettings& out) override;
    bool update_node_settings(const reconcile::NodeSettingsChange& change, v1::NodeSettings& out) override;

private:
    // ns/pod → address (host order): the config's pods first, then the store's Pods.
    bool resolve(const Peer& peer, uint32_t& ip) const;

    dp::Dataplane& dp_;
    const reconcile::ServiceReconciler& services_;
    const objects::Store& store_;
    std::vector<LocalPod> pods_;
    const reconcile::PolicyReconciler* policies_ = nullptr;
    reconcile::NodeSettingsControl* node_settings_ = nullptr;
};

}  // namespace enidp::api

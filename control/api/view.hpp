// DataplaneView: what the API reads from the data path. The gRPC service runs each call on the
// control thread through ControlQueue; the daemon implements it on dp::Dataplane
// (dataplane_view.hpp), tests may implement it on a fake.
//
// Who may call: the control thread only (every method touches the Dataplane).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/api/validate.hpp"
#include "enidp.pb.h"

namespace enidp::api {

class DataplaneView {
public:
    virtual ~DataplaneView() = default;
    virtual void stats(v1::GetStatsResponse& out) = 0;
    // Per Service port and backend counters as JSON (GetStatsRequest.services); "[]" without a data path.
    virtual std::string service_counters_json() { return "[]"; }
    virtual void dump_services(v1::DumpFormat format, v1::DumpServicesResponse& out) = 0;
    virtual void dump_conntrack(const ConntrackFilter& filter, v1::DumpConntrackResponse& out) = 0;
    // A pod named in `query` that the node does not know: returns "trace.from: ..." / "trace.to: ..."
    // (the service turns it into NOT_FOUND); otherwise fills `out` and returns "".
    virtual std::string trace(const TraceQuery& query, v1::TraceResponse& out) = 0;
    virtual uint64_t realized_generation() = 0;
    // NetworkPolicy views; a view without a policy engine reports none.
    // `pod` names no local pod: returns "policy.pod: ..." (NOT_FOUND); otherwise "".
    virtual std::string dump_policy(const std::string& pod, v1::DumpFormat format, v1::DumpPolicyResponse& out) {
        (void)pod, (void)format, (void)out;
        return "";
    }
    // Verdict records after `after_seq` (at most `max`), optionally of one pod.
    virtual void read_verdicts(uint64_t after_seq, const std::string& pod, size_t max,
                               std::vector<v1::VerdictRecord>& out) {
        (void)after_seq, (void)pod, (void)max, (void)out;
    }
    // The node's ENIs and pod ports (DumpPorts); a view without a data path has none.
    virtual void dump_ports(v1::DumpPortsResponse& out) { (void)out; }
    // The node settings in force; false when this view has none (UNIMPLEMENTED).
    virtual bool node_settings(v1::NodeSettings& out) {
        (void)out;
        return false;
    }
    // Applies a validated change and fills the settings now in force; false as above.
    virtual bool update_node_settings(const reconcile::NodeSettingsChange& change, v1::NodeSettings& out) {
        (void)change, (void)out;
        return false;
    }
};

}  // namespace enidp::api

// NodeSettingsChange: a validated change of the run-time node settings (plain values, no
// dependencies), made by the API edge (control/api/validate.hpp) and applied by
// NodeSettingsControl (node_settings.hpp) on the control thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace enidp::reconcile {

// Fields to change (unset: keep).
struct NodeSettingsChange {
    std::optional<std::string> zone;
    std::optional<std::vector<uint32_t>> node_ips;  // host order, distinct
    std::optional<uint32_t> min_sync_period_ms;
    std::optional<uint32_t> log_allow_one_in;
    std::optional<uint32_t> log_denies_per_second;
    bool empty() const {
        return !zone && !node_ips && !min_sync_period_ms && !log_allow_one_in && !log_denies_per_second;
    }
};

// The largest lb.min_sync_period_ms a change may set (a minute: beyond it changes would wait
// longer than any Kubernetes client expects).
inline constexpr uint32_t kMaxMinSyncPeriodMs = 60000;

}  // namespace enidp::reconcile

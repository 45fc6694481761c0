// Counters as JSON (stats file, perf summary) and as a testpmd-like text table.
// Control thread only.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "dataplane/runtime/dataplane.hpp"

namespace enidp::report {

nlohmann::json to_json(const dp::DataplaneCounters& c);

// Port table, non-zero drop reasons and events, mempool occupancy.
std::string to_text(const dp::DataplaneCounters& c);

std::string mac_string(const rte_ether_addr& mac);

// Writes `text` to `path` atomically (temp file + rename). Returns "" or an error.
std::string write_file_atomic(const std::string& path, const std::string& text);

}  // namespace enidp::report

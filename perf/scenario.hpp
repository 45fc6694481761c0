// enidp-perf scenario files: which EAL port is which pod or ENI (see docs/perf.md).
// Control thread only.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "dataplane/runtime/spec.hpp"
#include "lb/model/service.hpp"

namespace enidp::perf {

struct Scenario {
    std::string source;
    dp::RuntimeSpec runtime;
    std::vector<dp::EniSpec> enis;
    std::vector<dp::PodSpec> pods;
    // Synthetic Services (`services:`), built into the Service table by lb/builder.
    std::vector<lb::Service> services;
    std::vector<lb::EndpointSlice> slices;
    lb::NodeInfo node;
    uint32_t maglev_table_size = 0;  // 0: the builder's default
};

struct ScenarioError {
    std::string message;  // "file:line: what is wrong"
};

std::variant<Scenario, ScenarioError> load_scenario(const std::string& path);
std::variant<Scenario, ScenarioError> parse_scenario(const std::string& yaml, const std::string& source);

}  // namespace enidp::perf

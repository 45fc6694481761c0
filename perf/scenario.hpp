// enidp-perf scenario files: which EAL port is which pod or ENI (see docs/perf.md).
// Control thread only.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "dataplane/runtime/spec.hpp"

namespace enidp::perf {

struct Scenario {
    std::string source;
    dp::RuntimeSpec runtime;
    std::vector<dp::EniSpec> enis;
    std::vector<dp::PodSpec> pods;
};

struct ScenarioError {
    std::string message;  // "file:line: what is wrong"
};

std::variant<Scenario, ScenarioError> load_scenario(const std::string& path);
std::variant<Scenario, ScenarioError> parse_scenario(const std::string& yaml, const std::string& source);

}  // namespace enidp::perf

// Config (YAML types) → dataplane runtime specs. Control thread only.
#pragma once

#include <string>
#include <vector>

#include "control/config/config.hpp"
#include "dataplane/runtime/spec.hpp"
#include "lb/model/service.hpp"

namespace enidp::daemon {

dp::EalSpec eal_spec(const config::Config& cfg);
dp::RuntimeSpec runtime_spec(const config::Config& cfg);
// This node as the Service builder sees it (name, zone, NodePort addresses).
dp::EniSpec eni_spec(const config::Eni& eni);
dp::PodSpec pod_spec(const config::Pod& pod);
bool same_pod(const dp::PodSpec& a, const dp::PodSpec& b);

// Sections other than `pods` that differ between two configs (they need a restart).
std::vector<std::string> unreloadable_changes(const config::Config& running, const config::Config& next);

}  // namespace enidp::daemon

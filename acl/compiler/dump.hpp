// Text and JSON dumps of a local pod's effective NetworkPolicy rules (what it was compiled
// to), for the API, the CLI and golden tests. Control thread only.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "acl/compiler/compiler.hpp"
#include "acl/fastpath/classify.hpp"

namespace enidp::acl {

std::string protocol_name(uint8_t protocol);  // "tcp", "udp", "sctp", "any"
std::string format_prefix(uint32_t addr_net, uint8_t len);

// One pod, both directions; entries in priority order (first match decides "which rule").
std::string dump_pod_text(const CompiledPolicy& c, const PodRules& pod);
nlohmann::json dump_pod_json(const CompiledPolicy& c, const PodRules& pod);

// Side-effect-free trace of one flow against a published snapshot (the same classify path
// the workers run): "pod 0 ingress 10.0.1.1 tcp/80: allow by x/p ingress[0] (generation 3)".
std::string trace_flow(const PolicySnapshot& snap, const FlowKey& key);

}  // namespace enidp::acl

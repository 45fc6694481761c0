// enidp-perf scenario files: which EAL port is which pod or ENI (see docs/perf.md).
// Control thread only.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "acl/compiler/compiler.hpp"
#include "dataplane/runtime/spec.hpp"
#include "lb/model/service.hpp"

namespace enidp::perf {

// Synthetic NetworkPolicies (`policies:`). `count` policies in the namespace of each selected
// pod, each with `rules_per_policy` rules of one peer and one port, so a selected pod gets
// count × rules_per_policy allow entries (rte_acl rules) per isolated direction. Rule k's
// peer is `peer_ip + k · 2^(32 − peer_prefix)` / `peer_prefix` (an ipBlock) or a remote pod
// at `peer_ip + k` (`peers: pod`), its port `port + k mod port_span`. With `admit`, the
// rule in the middle (k = N / 2) is replaced by `admit_peer` / `admit_port`, the traffic the
// scenario's pcap carries; without it, that traffic is denied.
struct PolicySpec {
    uint32_t count = 0;                // NetworkPolicies per namespace; 0: no `policies:`
    uint32_t rules_per_policy = 1;
    std::vector<std::string> select;   // scenario pod names; empty: every pod
    bool ingress = false, egress = true;
    acl::Protocol protocol = acl::Protocol::kUdp;
    bool peer_pods = false;            // peers are remote pods (podSelector) instead of ipBlocks
    uint32_t peer_ip = 172u << 24 | 16u << 16;  // host order
    uint8_t peer_prefix = 32;
    uint16_t port = 1024;
    uint32_t port_span = 1;
    bool admit = true;
    uint32_t admit_ip = 10u << 24 | 1u << 16;   // host order
    uint8_t admit_prefix = 16;
    uint16_t admit_port = 80;
};

// A local pod as the policy compiler sees it: scenario name "ns/name", IPv4 (network order),
// and the id the dataplane classifies it by.
struct PolicyPod {
    std::string key;
    uint32_t ip = 0;
    uint32_t id = 0;
};

struct PolicyCluster {
    acl::ClusterState state;
    std::vector<acl::LocalPod> local;
};

// The cluster `spec` describes around `pods` (the same for enidp-perf and the benchmarks).
PolicyCluster policy_cluster(const PolicySpec& spec, const std::vector<PolicyPod>& pods);

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
    PolicySpec policies;             // count 0: no NetworkPolicy published
};

struct ScenarioError {
    std::string message;  // "file:line: what is wrong"
};

std::variant<Scenario, ScenarioError> load_scenario(const std::string& path);
std::variant<Scenario, ScenarioError> parse_scenario(const std::string& yaml, const std::string& source);

}  // namespace enidp::perf

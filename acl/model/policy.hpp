// Kubernetes-shaped NetworkPolicy, Pod, Namespace and the enidp PayloadPolicy CRD, as the
// acl compiler takes them.
//
// Control thread only. Filled from manifests (control/objects), from the perf scenario and
// later from the API-server watcher; addresses are IPv4 in network byte order. Semantics
// follow networking.k8s.io/v1; the compiler (acl/compiler) documents each choice.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace enidp::acl {

enum class Protocol : uint8_t { kTcp = 6, kUdp = 17, kSctp = 132 };

struct LabelRequirement {
    enum class Op : uint8_t { kIn, kNotIn, kExists, kDoesNotExist };
    std::string key;
    Op op = Op::kIn;
    std::vector<std::string> values;
    bool operator==(const LabelRequirement&) const = default;
};

// metav1.LabelSelector. An empty selector (no labels, no expressions) selects everything.
struct LabelSelector {
    std::map<std::string, std::string> match_labels;
    std::vector<LabelRequirement> match_expressions;
    bool operator==(const LabelSelector&) const = default;
};

struct IpBlock {
    uint32_t addr = 0;        // network order
    uint8_t prefix_len = 0;
    std::vector<std::pair<uint32_t, uint8_t>> except;  // (addr, prefix_len)
    bool operator==(const IpBlock&) const = default;
};

// One element of from[] / to[].
struct Peer {
    std::optional<LabelSelector> pod_selector;
    std::optional<LabelSelector> namespace_selector;
    std::optional<IpBlock> ip_block;
    bool operator==(const Peer&) const = default;
};

// One element of ports[]. No protocol means TCP; no port means every port of the protocol.
struct PolicyPort {
    Protocol protocol = Protocol::kTcp;
    std::optional<uint16_t> port;       // numeric port
    std::string port_name;              // named port (resolved on the destination pod)
    std::optional<uint16_t> end_port;   // only with a numeric port
    bool operator==(const PolicyPort&) const = default;
};

struct Rule {
    std::vector<PolicyPort> ports;  // empty: all ports
    std::vector<Peer> peers;        // empty: all peers
    bool operator==(const Rule&) const = default;
};

struct NetworkPolicy {
    std::string ns;
    std::string name;
    LabelSelector pod_selector;
    std::optional<std::vector<Rule>> ingress;  // nullopt: field absent; empty vector: `ingress: []`
    std::optional<std::vector<Rule>> egress;
    // policyTypes as written; empty: infer (Ingress always, Egress when egress rules exist).
    bool policy_types_given = false;
    bool type_ingress = false;
    bool type_egress = false;
    bool operator==(const NetworkPolicy&) const = default;
};

struct ContainerPort {
    std::string name;
    uint16_t port = 0;
    Protocol protocol = Protocol::kTcp;
    bool operator==(const ContainerPort&) const = default;
};

struct Pod {
    std::string ns;
    std::string name;
    std::map<std::string, std::string> labels;
    std::vector<uint32_t> ips;           // status.podIPs (IPv4)
    bool host_network = false;
    std::string node_name;
    std::vector<ContainerPort> ports;    // every container's ports, for named ports
    bool operator==(const Pod&) const = default;
};

struct Namespace {
    std::string name;
    std::map<std::string, std::string> labels;  // includes kubernetes.io/metadata.name
    bool operator==(const Namespace&) const = default;
};

// CRD PayloadPolicy (enidp.io/v1alpha1): Hyperscan patterns on selected pods' traffic.
struct PayloadPolicy {
    enum class Direction : uint8_t { kIngress, kEgress, kBoth };
    enum class Action : uint8_t { kDeny, kAllow, kLog };
    std::string ns;
    std::string name;
    LabelSelector pod_selector;
    Direction direction = Direction::kIngress;
    std::vector<PolicyPort> ports;       // empty: all
    std::vector<std::string> patterns;   // PCRE-subset regexes (Hyperscan)
    Action action = Action::kDeny;
    bool operator==(const PayloadPolicy&) const = default;
};

}  // namespace enidp::acl

// Kubernetes-shaped Service and EndpointSlice objects, as the lb builder takes them.
//
// Control thread only. Filled from manifests (control/objects), from the perf scenario
// and later from the API-server watcher; addresses are IPv4 in network byte order.
// Nothing here is validated by the fast path: the builder (lb/builder) rejects what it
// cannot program and says which field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace enidp::lb {

enum class Protocol : uint8_t { kTcp = 6, kUdp = 17, kSctp = 132 };
enum class ServiceType : uint8_t { kClusterIP, kNodePort, kLoadBalancer, kExternalName };
enum class TrafficPolicy : uint8_t { kCluster, kLocal };

// How a Service port picks a backend for a new flow. Chosen per Service with the
// annotation `enidp.io/lb-algorithm` (maglev | random | round-robin | weighted | least-conn).
enum class Algorithm : uint8_t { kMaglev, kRandom, kRoundRobin, kWeighted, kLeastConn };

struct ServicePortSpec {
    std::string name;                 // may be empty when the Service has one port
    Protocol protocol = Protocol::kTcp;
    uint16_t port = 0;                // the Service port (ClusterIP / externalIP / LB IP)
    uint16_t target_port = 0;         // numeric targetPort; 0 when named (or unset)
    std::string target_port_name;     // named targetPort; resolved per endpoint by the slices
    uint16_t node_port = 0;           // 0 = none
    bool operator==(const ServicePortSpec&) const = default;
};

struct Service {
    std::string ns;
    std::string name;
    ServiceType type = ServiceType::kClusterIP;
    bool headless = false;                  // clusterIP: None
    std::vector<uint32_t> cluster_ips;      // IPv4 only
    std::vector<ServicePortSpec> ports;
    std::vector<uint32_t> external_ips;
    std::vector<uint32_t> lb_ingress_ips;   // status.loadBalancer.ingress[].ip
    bool affinity_client_ip = false;
    uint32_t affinity_timeout_s = 10800;
    TrafficPolicy external_policy = TrafficPolicy::kCluster;
    TrafficPolicy internal_policy = TrafficPolicy::kCluster;
    uint16_t health_check_node_port = 0;
    Algorithm algorithm = Algorithm::kMaglev;
    uint32_t maglev_table_size = 0;         // 0: automatic (see lb/builder/maglev.hpp)
    bool topology_aware = false;            // service.kubernetes.io/topology-mode: Auto (or the old hints annotation)
    std::map<std::string, std::string> endpoint_weights;  // `enidp.io/endpoint-weights`: IP → weight (weighted algorithm)
    bool operator==(const Service&) const = default;
};

struct EndpointConditions {
    std::optional<bool> ready;        // nil means ready (API semantics)
    std::optional<bool> serving;      // nil means "same as ready"
    std::optional<bool> terminating;  // nil means not terminating
    bool operator==(const EndpointConditions&) const = default;
};

struct Endpoint {
    std::vector<uint32_t> addresses;  // kube-proxy uses the first
    EndpointConditions conditions;
    std::string node_name;
    std::string zone;
    std::vector<std::string> hint_zones;  // hints.forZones[].name
    std::string target_pod;               // targetRef ns/name, for dumps
    bool operator==(const Endpoint&) const = default;
};

struct EndpointPort {
    std::string name;                 // matches ServicePortSpec::name
    Protocol protocol = Protocol::kTcp;
    std::optional<uint16_t> port;     // nil: the slice carries no port for this name
    bool operator==(const EndpointPort&) const = default;
};

struct EndpointSlice {
    std::string ns;
    std::string name;
    std::string service_name;         // label kubernetes.io/service-name
    std::vector<Endpoint> endpoints;
    std::vector<EndpointPort> ports;
    bool operator==(const EndpointSlice&) const = default;
};

// What the builder needs to know about this node.
struct NodeInfo {
    std::string name;
    std::string zone;                 // topology.kubernetes.io/zone
    std::vector<uint32_t> node_ips;   // NodePort frontends answer on these
};

}  // namespace enidp::lb

// Endpoint categorisation for one Service port, as kube-proxy's CategorizeEndpoints
// (pkg/proxy/topology.go, Kubernetes 1.28+): which endpoints serve Cluster-policy traffic,
// which serve Local-policy traffic, and whether the Service has any usable endpoint.
//
// Control thread only (called by build_table; tests call it directly).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lb/model/service.hpp"

namespace enidp::lb {

// Conditions with the API's nil defaults applied: ready nil → true, serving nil → ready,
// terminating nil → false.
inline bool endpoint_ready(const EndpointConditions& c) { return c.ready.value_or(true); }
inline bool endpoint_serving(const EndpointConditions& c) { return c.serving.value_or(endpoint_ready(c)); }
inline bool endpoint_terminating(const EndpointConditions& c) { return c.terminating.value_or(false); }

// One (address, port) of a Service port, resolved from an EndpointSlice.
struct EndpointCandidate {
    uint32_t ip = 0;    // network order: the endpoint's first address
    uint16_t port = 0;  // host order: the slice port matching the Service port's name/protocol
    bool ready = false;
    bool serving = false;
    bool terminating = false;
    bool local = false;                  // endpoint.node_name == node.name
    const Endpoint* endpoint = nullptr;  // zone hints, target pod (owned by the slice)
};

// The endpoints of `port` from the Service's slices: per slice, the slice port whose name
// and protocol equal the Service port's (a slice without one, or with a nil port,
// contributes nothing, so a named targetPort resolves per slice); each endpoint's first
// address. Sorted by (ip, port) in host order; a duplicate (ip, port) keeps the best
// conditions (ready over serving over neither), then the first slice in `slices` order.
std::vector<EndpointCandidate> collect_endpoints(const ServicePortSpec& port, const NodeInfo& node,
                                                 std::span<const EndpointSlice* const> slices);

// Whether traffic to the port can come from outside the node: a node port (NodePort and
// LoadBalancer types), external IPs, or ingress IPs of a LoadBalancer Service.
bool externally_accessible(const Service& svc, const ServicePortSpec& port);
// internalTrafficPolicy Cluster, or externalTrafficPolicy Cluster and externally accessible.
bool uses_cluster_endpoints(const Service& svc, const ServicePortSpec& port);
// internalTrafficPolicy Local, or externalTrafficPolicy Local and externally accessible.
bool uses_local_endpoints(const Service& svc, const ServicePortSpec& port);

// Topology hints are usable when the Service is topology-aware, its internal policy is not
// Local, the node has a zone, every ready endpoint has hints and some hint names the
// node's zone.
bool can_use_topology(const Service& svc, const NodeInfo& node, std::span<const EndpointCandidate> eps);

struct CategorizedEndpoints {
    std::vector<uint32_t> cluster;  // indices into the candidates (empty when Cluster endpoints are unused)
    std::vector<uint32_t> local;    // indices into the candidates (empty when Local endpoints are unused)
    bool has_any = false;           // kube-proxy hasAnyEndpoints: false → REJECT
    bool topology_used = false;     // the cluster set was filtered by zone hints
};

CategorizedEndpoints categorize_endpoints(const Service& svc, const ServicePortSpec& port, const NodeInfo& node,
                                          std::span<const EndpointCandidate> eps);

}  // namespace enidp::lb

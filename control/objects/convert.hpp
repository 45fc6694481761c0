// Kubernetes objects (manifest.hpp) → the lb and acl model types the builders take.
//
// Control thread only; never throws. Each function validates what enidp uses the way the
// API server would (port ranges, IP and CIDR syntax, label selector rules, enums) and returns
// the model or an Error naming the field: `file:line: Service default/web: spec.ports[0].port:
// must be 1-65535`. Fields enidp does not use are not looked at. IPv4 addresses come out in
// network byte order, ports in host order; IPv6 addresses are skipped (the models are IPv4).
// Callers: the desired-state store (store.hpp), tests, tools that want one object converted.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "acl/model/policy.hpp"
#include "control/objects/manifest.hpp"
#include "lb/model/service.hpp"

namespace enidp::objects {

// The supported kinds, as `kind` spells them, with the apiVersion each must carry.
inline constexpr const char* kKindService = "Service";              // v1
inline constexpr const char* kKindEndpointSlice = "EndpointSlice";  // discovery.k8s.io/v1
inline constexpr const char* kKindPod = "Pod";                      // v1
inline constexpr const char* kKindNamespace = "Namespace";          // v1
inline constexpr const char* kKindNetworkPolicy = "NetworkPolicy";  // networking.k8s.io/v1
inline constexpr const char* kKindPayloadPolicy = "PayloadPolicy";  // enidp.io/v1alpha1

Result<lb::Service> to_service(const Object&);
Result<lb::EndpointSlice> to_endpoint_slice(const Object&);
Result<acl::Pod> to_pod(const Object&);
Result<acl::Namespace> to_namespace(const Object&);
Result<acl::NetworkPolicy> to_network_policy(const Object&);
Result<acl::PayloadPolicy> to_payload_policy(const Object&);

// A Node (v1) → what the lb builder needs to know about this node: name, label
// topology.kubernetes.io/zone, status.addresses of type InternalIP then ExternalIP (IPv4).
// Not a store kind: the daemon reads its own Node.
Result<lb::NodeInfo> to_node_info(const Object&);

// Any supported kind; an unsupported kind or apiVersion is an Error.
using Model =
    std::variant<lb::Service, lb::EndpointSlice, acl::Pod, acl::Namespace, acl::NetworkPolicy, acl::PayloadPolicy>;
Result<Model> convert(const Object&);

// The filters kube-proxy applies before it looks at an object: the reason this node must not
// program it, or nullopt when it is ours. A Service labelled
// `service.kubernetes.io/service-proxy-name` (any value) belongs to another proxy; an
// EndpointSlice labelled `service.kubernetes.io/headless`, without the
// `kubernetes.io/service-name` label, or with an addressType other than IPv4 is skipped; so is
// a Pod in phase Succeeded or Failed (its IP may already belong to another Pod).
// Objects that are not ours are neither validated nor stored.
std::optional<std::string> ignore_reason(const Object&);

}  // namespace enidp::objects

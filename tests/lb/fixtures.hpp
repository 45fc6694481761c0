// Test-only builders of Service / EndpointSlice objects for the lb builder tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lb/builder/table_builder.hpp"
#include "lb/model/service.hpp"

namespace enidp::lb::test {

uint32_t ip(const char* dotted);  // network order
uint16_t be16(uint16_t host);

ServicePortSpec tcp_port(const std::string& name, uint16_t port, uint16_t node_port = 0);
Service cluster_ip_service(const std::string& ns, const std::string& name, const char* cluster_ip,
                           std::vector<ServicePortSpec> ports);

// Conditions as the API would send them; nullopt = field absent.
struct Cond {
    std::optional<bool> ready;
    std::optional<bool> serving;
    std::optional<bool> terminating;
};
inline constexpr Cond kReady{true, true, false};
inline constexpr Cond kServingTerminating{false, true, true};
inline constexpr Cond kTerminatingNotServing{false, false, true};
inline constexpr Cond kNotReady{false, false, false};

Endpoint endpoint(const char* address, const std::string& node, Cond c = kReady, const std::string& zone = "",
                  std::vector<std::string> hints = {});
EndpointSlice slice(const std::string& ns, const std::string& name, const std::string& service,
                    std::vector<EndpointPort> ports, std::vector<Endpoint> endpoints);
EndpointPort slice_port(const std::string& name, std::optional<uint16_t> port, Protocol proto = Protocol::kTcp);

NodeInfo this_node();  // "node-a", zone "zone-a", node IP 192.168.0.10

// The backends (ip:port strings, in table order) of a set, for readable expectations.
std::vector<std::string> backends_of(const ServiceTable& t, const BackendSet& set);

// A ServicePort by its name ("ns/name:port/PROTO"), or nullptr.
const ServicePort* port_named(const ServiceTable& t, const std::string& name);

// A StableIds large enough for any test.
inline StableIds big_ids() { return StableIds(4096, 1u << 16); }

}  // namespace enidp::lb::test

#include "tests/lb/fixtures.hpp"

#include <arpa/inet.h>

#include "lb/builder/names.hpp"

namespace enidp::lb::test {

uint32_t ip(const char* dotted) {
    in_addr a{};
    inet_pton(AF_INET, dotted, &a);
    return a.s_addr;
}

uint16_t be16(uint16_t host) { return htons(host); }

ServicePortSpec tcp_port(const std::string& name, uint16_t port, uint16_t node_port) {
    ServicePortSpec p;
    p.name = name;
    p.port = port;
    p.target_port = port;
    p.node_port = node_port;
    return p;
}

Service cluster_ip_service(const std::string& ns, const std::string& name, const char* cluster_ip,
                           std::vector<ServicePortSpec> ports) {
    Service s;
    s.ns = ns;
    s.name = name;
    s.cluster_ips = {ip(cluster_ip)};
    s.ports = std::move(ports);
    return s;
}

Endpoint endpoint(const char* address, const std::string& node, Cond c, const std::string& zone,
                  std::vector<std::string> hints) {
    Endpoint e;
    e.addresses = {ip(address)};
    e.conditions = EndpointConditions{c.ready, c.serving, c.terminating};
    e.node_name = node;
    e.zone = zone;
    e.hint_zones = std::move(hints);
    return e;
}

EndpointSlice slice(const std::string& ns, const std::string& name, const std::string& service,
                    std::vector<EndpointPort> ports, std::vector<Endpoint> endpoints) {
    EndpointSlice s;
    s.ns = ns;
    s.name = name;
    s.service_name = service;
    s.ports = std::move(ports);
    s.endpoints = std::move(endpoints);
    return s;
}

EndpointPort slice_port(const std::string& name, std::optional<uint16_t> port, Protocol proto) {
    EndpointPort p;
    p.name = name;
    p.port = port;
    p.protocol = proto;
    return p;
}

NodeInfo this_node() {
    NodeInfo n;
    n.name = "node-a";
    n.zone = "zone-a";
    n.node_ips = {ip("192.168.0.10")};
    return n;
}

std::vector<std::string> backends_of(const ServiceTable& t, const BackendSet& set) {
    std::vector<std::string> out;
    for (uint32_t i = 0; i < set.count; ++i) {
        const Backend& b = t.backends[set.first + i];
        out.push_back(ipv4_string(b.ip) + ':' + std::to_string(ntohs(b.port)));
    }
    return out;
}

const ServicePort* port_named(const ServiceTable& t, const std::string& name) {
    for (const ServicePort& sp : t.ports)
        if (t.names[sp.name] == name) return &sp;
    return nullptr;
}

}  // namespace enidp::lb::test

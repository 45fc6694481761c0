// Printable names for lb objects: IPv4 addresses, protocols, algorithms, service ports.
//
// Control thread only (builder, dumps, tests). Allocates; never include from worker code.
#pragma once

#include <cstdint>
#include <string>

#include "lb/model/service.hpp"

namespace enidp::lb {

// Dotted quad of an address in network byte order ("10.0.0.1").
inline std::string ipv4_string(uint32_t ip_be) {
    const auto* b = reinterpret_cast<const uint8_t*>(&ip_be);
    return std::to_string(b[0]) + '.' + std::to_string(b[1]) + '.' + std::to_string(b[2]) + '.' + std::to_string(b[3]);
}

inline const char* protocol_name(uint8_t ipproto) {
    switch (ipproto) {
        case static_cast<uint8_t>(Protocol::kTcp): return "TCP";
        case static_cast<uint8_t>(Protocol::kUdp): return "UDP";
        case static_cast<uint8_t>(Protocol::kSctp): return "SCTP";
        default: return "?";
    }
}
inline const char* protocol_name(Protocol p) { return protocol_name(static_cast<uint8_t>(p)); }

inline const char* algorithm_name(uint8_t a) {
    switch (static_cast<Algorithm>(a)) {
        case Algorithm::kMaglev: return "maglev";
        case Algorithm::kRandom: return "random";
        case Algorithm::kRoundRobin: return "round-robin";
        case Algorithm::kWeighted: return "weighted";
        case Algorithm::kLeastConn: return "least-conn";
    }
    return "?";
}

// "ns/name:port/PROTO": the port's name when it has one, else its number.
inline std::string service_port_name(const Service& svc, const ServicePortSpec& p) {
    return svc.ns + '/' + svc.name + ':' + (p.name.empty() ? std::to_string(p.port) : p.name) + '/' +
           protocol_name(p.protocol);
}

}  // namespace enidp::lb

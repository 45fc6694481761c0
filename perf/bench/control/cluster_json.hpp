// The benchmark cluster as Kubernetes JSON, shared by reconcile_bench (in-process builder) and
// enidp-control-bench (through the daemon's gRPC API), so both measure the same objects.
//
// Service i (namespace `bench`): ClusterIP 10.128.0.0 + i, port 80 → 8080. Its one EndpointSlice
// holds `endpoints` ready endpoints on other nodes; endpoint e sits at 11.0.0.0 + (i ·
// endpoints + e) · 2, and at the next address when it is `moved` and `version` is odd: every
// address in the cluster is distinct, and each version moves one endpoint.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace enidp::bench {

inline std::string dotted(uint32_t a) {
    return std::to_string(a >> 24) + '.' + std::to_string((a >> 16) & 255) + '.' + std::to_string((a >> 8) & 255) +
           '.' + std::to_string(a & 255);
}

inline uint32_t cluster_ip(uint32_t service) { return 0x0a800000u + service; }

inline nlohmann::json service_json(uint32_t i) {
    using nlohmann::json;
    return json{{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", {{"name", "svc-" + std::to_string(i)}, {"namespace", "bench"}}},
                {"spec",
                 {{"clusterIP", dotted(cluster_ip(i))},
                  {"ports", json::array({{{"name", "http"}, {"port", 80}, {"targetPort", 8080}, {"protocol", "TCP"}}})}}}};
}

inline nlohmann::json slice_json(uint32_t i, uint32_t endpoints, uint32_t moved = 0, uint32_t version = 0) {
    using nlohmann::json;
    json eps = json::array();
    for (uint32_t e = 0; e < endpoints; ++e) {
        const uint32_t flip = e == moved ? (version & 1) : 0;
        eps.push_back({{"addresses", json::array({dotted(0x0b000000u + (i * endpoints + e) * 2 + flip)})},
                       {"conditions", {{"ready", true}}},
                       {"nodeName", "node-" + std::to_string(e)}});
    }
    return json{{"apiVersion", "discovery.k8s.io/v1"},
                {"kind", "EndpointSlice"},
                {"metadata",
                 {{"name", "svc-" + std::to_string(i) + "-1"},
                  {"namespace", "bench"},
                  {"labels", {{"kubernetes.io/service-name", "svc-" + std::to_string(i)}}}}},
                {"addressType", "IPv4"},
                {"endpoints", eps},
                {"ports", json::array({{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}})}};
}

// slice_json(...).dump(), written straight into a string (no DOM, a few appends): what
// enidp-control-bench sends in its sustained phase, where building and serialising a JSON DOM
// per update cost the client (on the daemon's control CPU) ~40 % of that CPU. Same bytes:
// enidp-control-bench checks that at start.
inline void slice_text(std::string& out, uint32_t i, uint32_t endpoints, uint32_t moved = 0, uint32_t version = 0) {
    const std::string svc = "svc-" + std::to_string(i);
    out.clear();
    out += R"({"addressType":"IPv4","apiVersion":"discovery.k8s.io/v1","endpoints":[)";
    for (uint32_t e = 0; e < endpoints; ++e) {
        const uint32_t flip = e == moved ? (version & 1) : 0;
        if (e != 0) out += ',';
        out += R"({"addresses":[")";
        out += dotted(0x0b000000u + (i * endpoints + e) * 2 + flip);
        out += R"("],"conditions":{"ready":true},"nodeName":"node-)";
        out += std::to_string(e);
        out += "\"}";
    }
    out += R"(],"kind":"EndpointSlice","metadata":{"labels":{"kubernetes.io/service-name":")";
    out += svc;
    out += R"("},"name":")";
    out += svc;
    out += R"(-1","namespace":"bench"},"ports":[{"name":"http","port":8080,"protocol":"TCP"}]})";
}

}  // namespace enidp::bench

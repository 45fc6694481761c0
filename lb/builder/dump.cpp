#include "lb/builder/dump.hpp"

#include <arpa/inet.h>
#include <vector>
#include <nlohmann/json.hpp>

#include "lb/builder/maglev.hpp"
#include "lb/builder/names.hpp"

namespace enidp::lb {

namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kSetNames[3] = {"internal", "external", "cluster"};

const BackendSet& set_at(const ServicePort& sp, int s) {
    return s == 0 ? sp.internal : (s == 1 ? sp.external : sp.cluster);
}

bool same_set(const BackendSet& a, const BackendSet& b) {
    return a.first == b.first && a.count == b.count && a.maglev == b.maglev && a.wheel == b.wheel &&
           a.empty_action == b.empty_action;
}

// The earlier set of the same port this one shares its range with, or -1.
int shared_with(const ServicePort& sp, int s) {
    for (int t = 0; t < s; ++t)
        if (same_set(set_at(sp, t), set_at(sp, s))) return t;
    return -1;
}

std::string flags_string(uint8_t flags) {
    std::string out;
    auto add = [&](uint8_t bit, const char* name) {
        if (!(flags & bit)) return;
        if (!out.empty()) out += '|';
        out += name;
    };
    add(kAffinityClientIp, "affinity-client-ip");
    add(kInternalLocal, "internal-local");
    add(kExternalLocal, "external-local");
    return out.empty() ? "-" : out;
}

std::string address(uint32_t ip_be, uint16_t port_be) {
    return (ip_be == 0 ? std::string("*") : ipv4_string(ip_be)) + ':' + std::to_string(ntohs(port_be));
}

const char* empty_action_name(EmptyAction a) { return a == EmptyAction::kReject ? "reject" : "drop"; }

// Per backend of the set: Maglev entries and wheel slots it holds.
struct SetFill {
    std::vector<uint32_t> maglev;
    std::vector<uint32_t> wheel;
};

SetFill fill_of(const BackendSet& set) {
    SetFill f;
    if (set.maglev_size != 0) f.maglev = maglev_fill(std::span(set.maglev, set.maglev_size), set.count);
    if (set.wheel_size != 0) f.wheel = maglev_fill(std::span(set.wheel, set.wheel_size), set.count);
    return f;
}

// Maglev entries, wheel slots and provisional Maglev tables of the table's distinct sets.
struct SelectionSizes {
    uint64_t maglev = 0, wheel = 0, provisional = 0;
};
SelectionSizes selection_sizes(const ServiceTable& t) {
    SelectionSizes z;
    for (const ServicePort& sp : t.ports)
        for (int s = 0; s < 3; ++s)
            if (shared_with(sp, s) < 0) {
                z.maglev += set_at(sp, s).maglev_size;
                z.wheel += set_at(sp, s).wheel_size;
                z.provisional += set_at(sp, s).maglev_full_size != 0;
            }
    return z;
}

std::vector<std::vector<uint32_t>> frontends_by_port(const ServiceTable& t) {
    std::vector<std::vector<uint32_t>> out(t.ports.size());
    for (uint32_t i = 0; i < t.frontends.size(); ++i)
        if (t.frontends[i].service_port < out.size()) out[t.frontends[i].service_port].push_back(i);
    return out;
}

}  // namespace

const char* frontend_kind_name(FrontendKind kind) {
    switch (kind) {
        case FrontendKind::kClusterIp: return "ClusterIP";
        case FrontendKind::kNodePort: return "NodePort";
        case FrontendKind::kExternalIp: return "ExternalIP";
        case FrontendKind::kLoadBalancer: return "LoadBalancer";
    }
    return "?";
}

std::string dump_text(const ServiceTable& t) {
    const SelectionSizes z = selection_sizes(t);
    std::string out = "generation " + std::to_string(t.generation) + ": " + std::to_string(t.ports.size()) +
                      " service ports, " + std::to_string(t.frontends.size()) + " frontends, " +
                      std::to_string(t.backends.size()) + " backends, " + std::to_string(z.maglev) +
                      " maglev entries, " + std::to_string(z.wheel) + " wheel slots";
    if (z.provisional != 0) out += ", " + std::to_string(z.provisional) + " provisional maglev tables";
    out += '\n';
    out += "node IPs:";
    for (uint32_t ip : t.node_ips) out += ' ' + ipv4_string(ip);
    out += '\n';
    const auto fronts = frontends_by_port(t);
    for (uint32_t p = 0; p < t.ports.size(); ++p) {
        const ServicePort& sp = t.ports[p];
        out += (sp.name < t.names.size() ? t.names[sp.name] : "?") + " id=" + std::to_string(sp.id) + ' ' +
               algorithm_name(sp.algorithm) + " flags=" + flags_string(sp.flags) +
               " affinity-timeout=" + std::to_string(sp.affinity_timeout_s) + 's';
        if (sp.health_check_node_port != 0)
            out += " health-check-node-port=" + std::to_string(sp.health_check_node_port);
        out += '\n';
        for (uint32_t f : fronts[p]) {
            const Frontend& fe = t.frontends[f];
            out += std::string("  frontend ") + frontend_kind_name(fe.kind) + ' ' + address(fe.ip, fe.port) + '/' +
                   protocol_name(fe.protocol) + '\n';
        }
        for (int s = 0; s < 3; ++s) {
            const BackendSet& set = set_at(sp, s);
            const int shared = shared_with(sp, s);
            out += std::string("  ") + kSetNames[s] + ": ";
            if (shared >= 0) {
                out += std::string("= ") + kSetNames[shared] + '\n';
                continue;
            }
            out += std::to_string(set.count) + " backends";
            if (set.maglev_size != 0) out += " maglev=" + std::to_string(set.maglev_size);
            if (set.maglev_full_size != 0)
                out += " (provisional, " + std::to_string(set.maglev_full_size) + " pending)";
            if (set.wheel_size != 0) out += " wheel=" + std::to_string(set.wheel_size);
            out += std::string(" empty=") + empty_action_name(set.empty_action) + '\n';
            const SetFill fill = fill_of(set);
            for (uint32_t i = 0; i < set.count; ++i) {
                const Backend& b = t.backends[set.first + i];
                out += "    " + address(b.ip, b.port) + " id=" + std::to_string(b.id) +
                       (b.local ? " local" : " remote") + (b.serving_terminating ? " serving-terminating" : " ready") +
                       " weight=" + std::to_string(b.weight);
                if (!fill.maglev.empty()) out += " maglev=" + std::to_string(fill.maglev[i]);
                if (!fill.wheel.empty()) out += " wheel=" + std::to_string(fill.wheel[i]);
                out += '\n';
            }
        }
    }
    return out;
}

std::string dump_json(const ServiceTable& t, int indent) {
    Json root;
    root["generation"] = t.generation;
    if (const uint64_t provisional = selection_sizes(t).provisional; provisional != 0)
        root["maglev_provisional_sets"] = provisional;
    root["node_ips"] = Json::array();
    for (uint32_t ip : t.node_ips) root["node_ips"].push_back(ipv4_string(ip));
    root["service_ports"] = Json::array();
    const auto fronts = frontends_by_port(t);
    for (uint32_t p = 0; p < t.ports.size(); ++p) {
        const ServicePort& sp = t.ports[p];
        Json j;
        j["name"] = sp.name < t.names.size() ? t.names[sp.name] : "?";
        j["id"] = sp.id;
        j["protocol"] = protocol_name(sp.protocol);
        j["algorithm"] = algorithm_name(sp.algorithm);
        j["flags"] = flags_string(sp.flags);
        j["affinity_timeout_s"] = sp.affinity_timeout_s;
        j["health_check_node_port"] = sp.health_check_node_port;
        j["frontends"] = Json::array();
        for (uint32_t f : fronts[p]) {
            const Frontend& fe = t.frontends[f];
            j["frontends"].push_back({{"kind", frontend_kind_name(fe.kind)},
                                      {"ip", fe.ip == 0 ? "*" : ipv4_string(fe.ip)},
                                      {"port", ntohs(fe.port)}});
        }
        for (int s = 0; s < 3; ++s) {
            const BackendSet& set = set_at(sp, s);
            Json js;
            const int shared = shared_with(sp, s);
            if (shared >= 0) js["same_as"] = kSetNames[shared];
            js["count"] = set.count;
            js["maglev_size"] = set.maglev_size;
            if (set.maglev_full_size != 0) js["maglev_pending_size"] = static_cast<uint32_t>(set.maglev_full_size);
            js["wheel_size"] = set.wheel_size;
            js["empty_action"] = empty_action_name(set.empty_action);
            js["backends"] = Json::array();
            const SetFill fill = fill_of(set);
            for (uint32_t i = 0; i < set.count; ++i) {
                const Backend& b = t.backends[set.first + i];
                Json jb = {{"ip", ipv4_string(b.ip)},
                           {"port", ntohs(b.port)},
                           {"id", b.id},
                           {"local", b.local},
                           {"serving_terminating", b.serving_terminating},
                           {"weight", b.weight}};
                if (!fill.maglev.empty()) jb["maglev_entries"] = fill.maglev[i];
                if (!fill.wheel.empty()) jb["wheel_slots"] = fill.wheel[i];
                js["backends"].push_back(std::move(jb));
            }
            j["sets"][kSetNames[s]] = std::move(js);
        }
        root["service_ports"].push_back(std::move(j));
    }
    return root.dump(indent);
}

}  // namespace enidp::lb

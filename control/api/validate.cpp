// Request validation at the gRPC edge: see validate.hpp.
#include "control/api/validate.hpp"

#include <array>
#include <charconv>

#include "control/objects/convert.hpp"
#include "lb/fastpath/conntrack.hpp"

namespace enidp::api {

namespace {

constexpr std::array<const char*, 6> kKinds = {objects::kKindService,       objects::kKindEndpointSlice,
                                               objects::kKindPod,           objects::kKindNamespace,
                                               objects::kKindNetworkPolicy, objects::kKindPayloadPolicy};

// A DNS-1123 label or subdomain, loosely: what namespaces and object names may hold.
bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
    return s.front() != '-' && s.back() != '-' && s.front() != '.' && s.back() != '.';
}

FieldError err(std::string field, std::string message) { return FieldError{std::move(field), std::move(message)}; }

}  // namespace

std::optional<uint32_t> parse_ipv4(std::string_view text) {
    uint32_t v = 0;
    int parts = 0;
    size_t i = 0;
    while (parts < 4) {
        size_t j = i;
        while (j < text.size() && text[j] >= '0' && text[j] <= '9') j++;
        if (j == i || j - i > 3 || (j - i > 1 && text[i] == '0')) return std::nullopt;
        unsigned octet = 0;
        std::from_chars(text.data() + i, text.data() + j, octet);
        if (octet > 255) return std::nullopt;
        v = (v << 8) | octet;
        parts++;
        if (parts < 4) {
            if (j >= text.size() || text[j] != '.') return std::nullopt;
            j++;
        }
        i = j;
    }
    if (i != text.size()) return std::nullopt;
    return v;
}

std::string format_ipv4(uint32_t v) {
    return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) + "." + std::to_string((v >> 8) & 0xff) +
           "." + std::to_string(v & 0xff);
}

bool known_kind(std::string_view kind) {
    for (const char* k : kKinds)
        if (kind == k) return true;
    return false;
}

std::string known_kinds() {
    std::string s;
    for (const char* k : kKinds) s += (s.empty() ? "" : ", ") + std::string(k);
    return s;
}

Checked<ObjectRef> check_object_ref(std::string_view prefix, const std::string& kind, const std::string& ns,
                                    const std::string& name) {
    const std::string p(prefix);
    if (kind.empty()) return err(p + ".kind", "required (one of " + known_kinds() + ")");
    if (!known_kind(kind)) return err(p + ".kind", "\"" + kind + "\" is not one of " + known_kinds());
    if (kind == objects::kKindNamespace) {
        if (!ns.empty()) return err(p + ".namespace", "must be empty for a Namespace (cluster-scoped)");
    } else {
        if (ns.empty()) return err(p + ".namespace", "required for a " + kind);
        if (!valid_name(ns)) return err(p + ".namespace", "\"" + ns + "\" is not a valid namespace name");
    }
    if (name.empty()) return err(p + ".name", "required");
    if (!valid_name(name)) return err(p + ".name", "\"" + name + "\" is not a valid object name");
    return ObjectRef{kind, ns, name};
}

std::string Peer::to_string() const { return is_pod ? ns + "/" + name : format_ipv4(ip); }

Checked<Peer> parse_peer(std::string_view field, std::string_view text) {
    const std::string f(field);
    if (text.empty()) return err(f, "required (namespace/pod or an IPv4 address)");
    Peer p;
    if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
        p.is_pod = true;
        p.ns = std::string(text.substr(0, slash));
        p.name = std::string(text.substr(slash + 1));
        if (!valid_name(p.ns) || !valid_name(p.name))
            return err(f, "\"" + std::string(text) + "\" is not namespace/pod");
        return p;
    }
    auto ip = parse_ipv4(text);
    if (!ip) return err(f, "\"" + std::string(text) + "\" is neither namespace/pod nor an IPv4 address");
    p.ip = *ip;
    return p;
}

std::optional<uint8_t> ip_protocol(int protocol) {
    switch (protocol) {
        case v1::PROTOCOL_TCP: return 6;
        case v1::PROTOCOL_UDP: return 17;
        case v1::PROTOCOL_SCTP: return 132;
        case v1::PROTOCOL_ICMP: return 1;
        default: return std::nullopt;
    }
}

const char* protocol_name(uint8_t p) {
    switch (p) {
        case 6: return "TCP";
        case 17: return "UDP";
        case 132: return "SCTP";
        case 1: return "ICMP";
        default: return "?";
    }
}

Checked<TraceQuery> check_trace(const v1::TraceRequest& req) {
    TraceQuery q;
    auto from = parse_peer("trace.from", req.from());
    if (auto* e = std::get_if<FieldError>(&from)) return *e;
    q.from = std::get<Peer>(from);
    auto to = parse_peer("trace.to", req.to());
    if (auto* e = std::get_if<FieldError>(&to)) return *e;
    q.to = std::get<Peer>(to);
    if (req.dport() < 1 || req.dport() > 65535) return err("trace.dport", "must be 1-65535");
    if (req.sport() > 65535) return err("trace.sport", "must be 0-65535 (0: 40000)");
    if (req.sport() != 0) q.sport = static_cast<uint16_t>(req.sport());
    q.dport = static_cast<uint16_t>(req.dport());
    auto proto = ip_protocol(req.protocol());
    if (!proto || *proto == 1) return err("trace.protocol", "must be TCP, UDP or SCTP");
    q.proto = *proto;
    return q;
}

Checked<ConntrackFilter> check_conntrack(const v1::DumpConntrackRequest& req) {
    ConntrackFilter f;
    if (!req.src_ip().empty()) {
        f.src = parse_ipv4(req.src_ip());
        if (!f.src) return err("conntrack.src_ip", "\"" + req.src_ip() + "\" is not an IPv4 address");
    }
    if (!req.dst_ip().empty()) {
        f.dst = parse_ipv4(req.dst_ip());
        if (!f.dst) return err("conntrack.dst_ip", "\"" + req.dst_ip() + "\" is not an IPv4 address");
    }
    if (req.port() > 65535) return err("conntrack.port", "must be 0-65535 (0: any)");
    f.port = static_cast<uint16_t>(req.port());
    if (req.protocol() != v1::PROTOCOL_UNSPECIFIED) {
        auto p = ip_protocol(req.protocol());
        if (!p) return err("conntrack.protocol", "unknown protocol " + std::to_string(req.protocol()));
        f.proto = *p;
    }
    if (!req.state().empty()) {
        for (size_t i = 0; i < static_cast<size_t>(lb::CtState::kCount); i++)
            if (req.state() == lb::kCtStateNames[i]) f.state = static_cast<int>(i);
        if (f.state < 0) {
            std::string names;
            for (const char* n : lb::kCtStateNames) names += (names.empty() ? "" : ", ") + std::string(n);
            return err("conntrack.state", "\"" + req.state() + "\" is not one of " + names);
        }
    }
    f.service = req.service();
    if (req.limit() > kMaxConntrackLimit)
        return err("conntrack.limit", "must be 0-" + std::to_string(kMaxConntrackLimit) + " (0: 1000)");
    if (req.limit() != 0) f.limit = req.limit();
    return f;
}

namespace {

// A Kubernetes label value: empty, or at most 63 of [A-Za-z0-9._-] starting and ending alphanumeric.
bool label_value(std::string_view v) {
    if (v.empty()) return true;
    if (v.size() > 63) return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    for (char c : v)
        if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
    return alnum(v.front()) && alnum(v.back());
}

}  // namespace

Checked<reconcile::NodeSettingsChange> check_node_settings_update(const v1::UpdateNodeSettingsRequest& req) {
    reconcile::NodeSettingsChange c;
    if (!req.has_update_mask() || req.update_mask().paths().empty())
        return FieldError{"update_mask", "name at least one field to change"};
    const v1::NodeSettings& s = req.settings();
    for (int i = 0; i < req.update_mask().paths_size(); i++) {
        const std::string& path = req.update_mask().paths(i);
        const std::string at = "update_mask.paths[" + std::to_string(i) + "]";
        if (path == "zone") {
            if (!label_value(s.zone()))
                return FieldError{"settings.zone", "\"" + s.zone() + "\" is not a label value (at most 63 of "
                                                                   "[A-Za-z0-9._-], alphanumeric at both ends)"};
            c.zone = s.zone();
        } else if (path == "node_ips") {
            std::vector<uint32_t> ips;
            if (s.node_ips_size() > static_cast<int>(kMaxNodeIps))
                return FieldError{"settings.node_ips", "at most " + std::to_string(kMaxNodeIps) + " addresses"};
            for (int k = 0; k < s.node_ips_size(); k++) {
                const std::string field = "settings.node_ips[" + std::to_string(k) + "]";
                const auto ip = parse_ipv4(s.node_ips(k));
                if (!ip) return FieldError{field, "\"" + s.node_ips(k) + "\" is not an IPv4 address"};
                if (*ip == 0 || *ip == 0xffffffffu || (*ip >> 28) == 0xe || (*ip >> 24) == 127)
                    return FieldError{field, s.node_ips(k) + " is not a unicast node address"};
                for (uint32_t seen : ips)
                    if (seen == *ip) return FieldError{field, s.node_ips(k) + " is listed twice"};
                ips.push_back(*ip);
            }
            c.node_ips = std::move(ips);
        } else if (path == "lb.min_sync_period_ms") {
            if (s.lb().min_sync_period_ms() > reconcile::kMaxMinSyncPeriodMs)
                return FieldError{"settings.lb.min_sync_period_ms",
                                  "must be 0-" + std::to_string(reconcile::kMaxMinSyncPeriodMs)};
            c.min_sync_period_ms = s.lb().min_sync_period_ms();
        } else if (path == "policy.log_allow_one_in") {
            c.log_allow_one_in = s.policy().log_allow_one_in();
        } else if (path == "policy.log_denies_per_second") {
            c.log_denies_per_second = s.policy().log_denies_per_second();
        } else if (path == "lb" || path == "policy") {
            return FieldError{at, "name the fields of " + path + " one by one (e.g. " + path +
                                      (path == "lb" ? ".min_sync_period_ms)" : ".log_allow_one_in)")};
        } else if (path == "node_name" || path == "lb.maglev_table_size" || path == "lb.conntrack_max" ||
                   path == "policy.offload") {
            return FieldError{at, path + " cannot change while the daemon runs (set it in the config file and "
                                         "restart)"};
        } else {
            return FieldError{at, "unknown field \"" + path + "\" (changeable: zone, node_ips, "
                                  "lb.min_sync_period_ms, policy.log_allow_one_in, policy.log_denies_per_second)"};
        }
    }
    return c;
}

}  // namespace enidp::api

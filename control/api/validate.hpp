// Request validation at the gRPC edge: every field of a request is checked, and turned into
// domain values, before anything changes. Errors name the field the way the request spells
// it ("trace.dport: must be 1-65535").
//
// Who may call: any thread (pure functions; gRPC handlers and tests).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "control/reconcile/node_settings_change.hpp"
#include "enidp.pb.h"

namespace enidp::api {

struct FieldError {
    std::string field;    // "trace.dport"
    std::string message;  // "must be 1-65535"
    std::string to_string() const { return field.empty() ? message : field + ": " + message; }
};

template <class T>
using Checked = std::variant<T, FieldError>;

// Dotted-quad IPv4 → host-order value; nullopt when it is not one (no leading zeros, no blanks).
std::optional<uint32_t> parse_ipv4(std::string_view text);
std::string format_ipv4(uint32_t host_order);

// One of the kinds the store holds (objects/convert.hpp), spelled as Kubernetes spells it.
bool known_kind(std::string_view kind);
// The kind list for messages: "Service, EndpointSlice, ...".
std::string known_kinds();

// (kind, namespace, name) of Get/Delete: the kind is known; a Namespace has no namespace,
// every other kind needs one; the name is non-empty. `prefix` is the request's name ("delete").
struct ObjectRef {
    std::string kind, ns, name;
};
Checked<ObjectRef> check_object_ref(std::string_view prefix, const std::string& kind, const std::string& ns,
                                    const std::string& name);

// A trace end: "namespace/pod" or an IPv4 address.
struct Peer {
    bool is_pod = false;
    uint32_t ip = 0;  // host order, when !is_pod
    std::string ns, name;
    std::string to_string() const;
};
Checked<Peer> parse_peer(std::string_view field, std::string_view text);

// IANA protocol number of a proto enum value; nullopt for UNSPECIFIED and unknown values.
std::optional<uint8_t> ip_protocol(int protocol);
const char* protocol_name(uint8_t ip_proto);  // "TCP", "UDP", "SCTP", "ICMP"

struct TraceQuery {
    Peer from, to;
    uint16_t sport = 40000, dport = 0;  // host order
    uint8_t proto = 6;
};
Checked<TraceQuery> check_trace(const v1::TraceRequest& req);

struct ConntrackFilter {
    std::optional<uint32_t> src, dst;  // host order
    uint16_t port = 0;                 // 0: any
    uint8_t proto = 0;                 // 0: any
    int state = -1;                    // lb::CtState, -1: any
    std::string service;               // "ns/name" prefix
    uint32_t limit = 1000;
};
inline constexpr uint32_t kMaxConntrackLimit = 100000;
Checked<ConntrackFilter> check_conntrack(const v1::DumpConntrackRequest& req);

// UpdateNodeSettings: `update_mask` names at least one field, each changeable at run time
// (zone, node_ips, lb.min_sync_period_ms, policy.log_allow_one_in, policy.log_denies_per_second;
// the other NodeSettings fields are refused as fixed at start), and each named value is valid:
// the zone a label value, node_ips distinct unicast addresses (at most kMaxNodeIps),
// lb.min_sync_period_ms <= 60000. Errors name the field ("settings.node_ips[1]: ...").
inline constexpr size_t kMaxNodeIps = 64;
Checked<reconcile::NodeSettingsChange> check_node_settings_update(const v1::UpdateNodeSettingsRequest& req);

}  // namespace enidp::api

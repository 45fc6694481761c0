#include "control/objects/convert.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <set>
#include <utility>

namespace enidp::objects {
namespace {

using nlohmann::json;

// Validation reads as straight-line code: a bad field throws, the public functions catch.
struct Failure {
    std::string pointer;
    std::string message;
};

[[noreturn]] void fail_at(std::string pointer, std::string message) {
    throw Failure{std::move(pointer), std::move(message)};
}

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

// ---- syntax checks the API server applies (apimachinery/pkg/util/validation) ----

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// An empty result means valid.
std::string check_dns_label(std::string_view s) {
    if (s.empty() || s.size() > 63) return "must be 1-63 characters";
    for (const char c : s) {
        if (!is_lower_alnum(c) && c != '-') return "must consist of lower case letters, digits and '-'";
    }
    if (s.front() == '-' || s.back() == '-') return "must start and end with a letter or digit";
    return "";
}

std::string check_dns_subdomain(std::string_view s) {
    if (s.empty() || s.size() > 253) return "must be 1-253 characters";
    size_t start = 0;
    while (start <= s.size()) {
        const size_t dot = s.find('.', start);
        const std::string_view part =
            s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (part.empty() || !check_dns_label(part).empty()) {
            return "must be lower case letters, digits, '-' and '.', starting and ending with a letter or digit";
        }
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return "";
}

// Label values and the name part of label keys: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63.
std::string check_label_text(std::string_view s) {
    if (s.size() > 63) return "must be at most 63 characters";
    for (const char c : s) {
        if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return "may only hold letters, digits, '-', '_' and '.'";
    }
    if (!s.empty() && (!is_alnum(s.front()) || !is_alnum(s.back()))) return "must start and end with a letter or digit";
    return "";
}

std::string check_qualified_name(std::string_view s) {
    const size_t slash = s.find('/');
    std::string_view name = s;
    if (slash != std::string_view::npos) {
        if (const std::string e = check_dns_subdomain(s.substr(0, slash)); !e.empty()) return "prefix " + e;
        name = s.substr(slash + 1);
    }
    if (name.empty()) return "name part must not be empty";
    const std::string e = check_label_text(name);
    return e.empty() ? "" : "name part " + e;
}

// IANA_SVC_NAME: named ports (container ports, targetPort, NetworkPolicy ports).
std::string check_port_name(std::string_view s) {
    if (s.empty() || s.size() > 15) return "must be 1-15 characters";
    bool letter = false;
    for (const char c : s) {
        if (!is_lower_alnum(c) && c != '-') return "must consist of lower case letters, digits and '-'";
        letter = letter || (c >= 'a' && c <= 'z');
    }
    if (!letter) return "must contain at least one letter";
    if (s.front() == '-' || s.back() == '-') return "must not start or end with '-'";
    if (s.find("--") != std::string_view::npos) return "must not contain '--'";
    return "";
}

enum class IpFamily { kV4, kV6, kInvalid };

IpFamily parse_ip(const std::string& s, uint32_t& v4) {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) == 1) {
        v4 = a.s_addr;  // already network order
        return IpFamily::kV4;
    }
    in6_addr a6{};
    return inet_pton(AF_INET6, s.c_str(), &a6) == 1 ? IpFamily::kV6 : IpFamily::kInvalid;
}

uint32_t prefix_mask(uint8_t len) { return len == 0 ? 0 : htonl(~uint32_t{0} << (32 - len)); }

struct Cidr {
    IpFamily family = IpFamily::kInvalid;
    uint32_t addr = 0;  // network order, host bits cleared
    uint8_t len = 0;
};

Cidr parse_cidr(const std::string& s) {
    Cidr c;
    const size_t slash = s.find('/');
    if (slash == std::string::npos || slash + 1 == s.size()) return c;
    unsigned len = 0;
    const char* first = s.data() + slash + 1;
    const auto [end, ec] = std::from_chars(first, s.data() + s.size(), len);
    if (ec != std::errc() || end != s.data() + s.size() || (first[0] == '0' && slash + 2 != s.size())) return c;
    const IpFamily family = parse_ip(s.substr(0, slash), c.addr);
    if (family == IpFamily::kInvalid || len > (family == IpFamily::kV4 ? 32u : 128u)) return c;
    c.family = family;
    c.len = static_cast<uint8_t>(family == IpFamily::kV4 ? len : 0);
    c.addr &= prefix_mask(c.len);
    return c;
}

// ---- reading fields ----

// One field of the object: its value (nullptr when absent) and where it is. The JSON pointer
// ("/endpoints/3/conditions/ready") is only needed when the field is bad, so a Field keeps the
// keys and indexes that lead to it (views of the DOM's keys or of the caller's strings, which
// outlive it) and spells the pointer out in fail(): reading a field allocates nothing.
class Field {
public:
    explicit Field(const json* root) : value_(root) {}

    bool present() const { return value_ != nullptr && !value_->is_null(); }
    const json& value() const { return *value_; }
    std::string pointer() const {
        std::string out = prefix_ ? *prefix_ : std::string();
        for (uint8_t i = 0; i < depth_; ++i) {
            const Step& s = steps_[i];
            if (s.key != nullptr) {
                out += pointer_append("", std::string_view(s.key, s.n));
            } else {
                out += '/';
                out += std::to_string(s.n);
            }
        }
        return out;
    }
    [[noreturn]] void fail(std::string message) const { fail_at(pointer(), std::move(message)); }

    Field operator[](std::string_view key) const {
        const json* child = nullptr;
        if (present()) {
            if (!value_->is_object()) fail("must be a mapping");
            const auto it = value_->find(key);
            if (it != value_->end()) child = &*it;
        }
        return child_at(child, Step{key.data(), key.size()});
    }

    const std::string& str() const {
        if (!present()) fail("is required");
        if (!value_->is_string()) fail("must be a string");
        return value_->get_ref<const std::string&>();
    }
    std::string str_or(std::string fallback) const { return present() ? str() : std::move(fallback); }

    std::optional<bool> opt_bool() const {
        if (!present()) return std::nullopt;
        if (!value_->is_boolean()) fail("must be true or false");
        return value_->get<bool>();
    }

    int64_t integer() const {
        if (!present()) fail("is required");
        if (value_->is_number_integer()) {
            if (value_->is_number_unsigned() &&
                value_->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
                return std::numeric_limits<int64_t>::max();
            }
            return value_->get<int64_t>();
        }
        if (value_->is_number_float()) {
            const double d = value_->get<double>();
            // Integral but too large for int64 (e.g. 99999999999999999999): let the range check speak.
            if (std::trunc(d) == d && std::fabs(d) >= 9.2e18) {
                return d > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
            }
        }
        fail("must be an integer");
    }
    int64_t integer_in(int64_t lo, int64_t hi) const {
        const int64_t v = integer();
        if (v < lo || v > hi) fail("must be " + std::to_string(lo) + "-" + std::to_string(hi));
        return v;
    }
    uint16_t port() const { return static_cast<uint16_t>(integer_in(1, 65535)); }

    // A list (absent or null: empty).
    class Items;
    Items items() const;
    std::vector<std::string> strings() const;

    // A mapping of strings (absent or null: empty).
    std::map<std::string, std::string> string_map() const {
        std::map<std::string, std::string> out;
        if (!present()) return out;
        if (!value_->is_object()) fail("must be a mapping");
        for (auto it = value_->begin(); it != value_->end(); ++it) {
            const std::string& key = it.key();  // the DOM's own key: it outlives the Field
            out.emplace(key, child_at(&it.value(), Step{key.data(), key.size()}).str());
        }
        return out;
    }

    // `choices` maps the accepted spellings to values; absent gives `fallback` (nullopt: required).
    template <class E>
    E one_of(std::initializer_list<std::pair<const char*, E>> choices, std::optional<E> fallback) const {
        if (!present() && fallback) return *fallback;
        const std::string& s = str();
        for (const auto& [spelling, value] : choices) {
            if (s == spelling) return value;
        }
        std::string supported;
        for (const auto& [spelling, value] : choices)
            supported += (supported.empty() ? "" : ", ") + std::string(spelling);
        fail("unsupported value " + in_quotes(s) + " (supported: " + supported + ")");
    }

private:
    friend class Items;
    // A key (`key` points at `n` characters) or, when `key` is nullptr, the index `n`.
    struct Step {
        const char* key;
        size_t n;
    };
    // Steps kept in place (the deepest field a Service, EndpointSlice or Pod reads is 6 down);
    // a deeper field starts from its ancestor's pointer spelled out.
    static constexpr uint8_t kMaxSteps = 6;

    Field child_at(const json* value, Step step) const {
        Field child(*this);
        child.value_ = value;
        if (child.depth_ == kMaxSteps) {
            child.prefix_ = std::make_shared<const std::string>(pointer());
            child.depth_ = 0;
        }
        child.steps_[child.depth_++] = step;
        return child;
    }

    const json* value_;
    uint8_t depth_ = 0;
    Step steps_[kMaxSteps]{};
    std::shared_ptr<const std::string> prefix_;  // the pointer before steps_; null within kMaxSteps levels
};

// The elements of a list field, each made when it is reached (no vector of Fields).
class Field::Items {
public:
    class iterator {
    public:
        iterator(const Items& items, size_t i) : items_(&items), i_(i) {}
        Field operator*() const { return (*items_)[i_]; }
        iterator& operator++() {
            ++i_;
            return *this;
        }
        bool operator==(const iterator& o) const { return i_ == o.i_; }

    private:
        const Items* items_;
        size_t i_;
    };

    explicit Items(const Field& list) : list_(list) {
        if (list_.present() && !list_.value_->is_array()) list_.fail("must be a list");
    }
    size_t size() const { return list_.present() ? list_.value_->size() : 0; }
    bool empty() const { return size() == 0; }
    Field operator[](size_t i) const { return list_.child_at(&(*list_.value_)[i], Step{nullptr, i}); }
    iterator begin() const { return iterator(*this, 0); }
    iterator end() const { return iterator(*this, size()); }

private:
    Field list_;
};

Field::Items Field::items() const { return Items(*this); }

std::vector<std::string> Field::strings() const {
    std::vector<std::string> out;
    for (const Field& f : items()) out.push_back(f.str());
    return out;
}

// Appends the IPv4 address at `f` to `out`; IPv6 is valid but skipped (the models are IPv4).
void add_ip(const Field& f, std::vector<uint32_t>& out) {
    const std::string& s = f.str();
    uint32_t v4 = 0;
    switch (parse_ip(s, v4)) {
        case IpFamily::kV4: out.push_back(v4); return;
        case IpFamily::kV6: return;
        case IpFamily::kInvalid: f.fail("not a valid IP address: " + in_quotes(s));
    }
}

void expect_api(const Object& o, const char* api_version) {
    if (o.api_version != api_version) {
        fail_at("/apiVersion", "unsupported apiVersion " + in_quotes(o.api_version) + " for " + o.kind + " (expected " +
                                   api_version + ")");
    }
}

struct Meta {
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
};

// metadata: name and namespace syntax, label keys and values, annotations as strings.
Meta read_meta(const Object& o, bool name_is_label) {
    const Field meta = Field(&o.body)["metadata"];
    const std::string name_error = name_is_label ? check_dns_label(o.name) : check_dns_subdomain(o.name);
    if (!name_error.empty()) meta["name"].fail(in_quotes(o.name) + ": " + name_error);
    if (!o.ns.empty()) {
        if (const std::string e = check_dns_label(o.ns); !e.empty()) meta["namespace"].fail(in_quotes(o.ns) + ": " + e);
    }
    Meta m;
    const Field labels = meta["labels"];
    m.labels = labels.string_map();
    for (const auto& [key, value] : m.labels) {
        const Field f = labels[key];
        if (const std::string e = check_qualified_name(key); !e.empty())
            f.fail("label key " + in_quotes(key) + ": " + e);
        if (const std::string e = check_label_text(value); !e.empty())
            f.fail("label value " + in_quotes(value) + ": " + e);
    }
    m.annotations = meta["annotations"].string_map();
    return m;
}

template <class F>
auto guarded(const Object& o, F&& convert_fn) -> Result<decltype(convert_fn())> {
    try {
        return convert_fn();
    } catch (const Failure& f) {
        return Error{o.file, o.line_of(f.pointer), o.describe(), pointer_to_path(f.pointer), f.message};
    }
}

// ---- Service ----

constexpr const char* kAnnAlgorithm = "enidp.io/lb-algorithm";
constexpr const char* kAnnMaglevSize = "enidp.io/maglev-table-size";
constexpr const char* kAnnWeights = "enidp.io/endpoint-weights";
constexpr const char* kAnnTopologyMode = "service.kubernetes.io/topology-mode";
constexpr const char* kAnnTopologyHints = "service.kubernetes.io/topology-aware-hints";
constexpr const char* kLabelProxyName = "service.kubernetes.io/service-proxy-name";
constexpr const char* kLabelHeadless = "service.kubernetes.io/headless";
constexpr const char* kLabelServiceName = "kubernetes.io/service-name";

lb::Protocol lb_protocol(const Field& f) {
    return f.one_of<lb::Protocol>(
        {{"TCP", lb::Protocol::kTcp}, {"UDP", lb::Protocol::kUdp}, {"SCTP", lb::Protocol::kSctp}}, lb::Protocol::kTcp);
}

const char* protocol_name(uint8_t p) { return p == 6 ? "TCP" : p == 17 ? "UDP" : "SCTP"; }

void read_cluster_ips(const Field& spec, lb::Service& svc) {
    const Field ip = spec["clusterIP"];
    const Field ips = spec["clusterIPs"];
    std::vector<Field> list;
    for (const Field& f : ips.items()) list.push_back(f);
    const std::string single = ip.str_or("");
    if (!single.empty()) {
        if (list.empty()) {
            list.push_back(ip);
        } else if (list[0].str() != single) {
            list[0].fail("must match spec.clusterIP " + in_quotes(single));
        }
    }
    for (const Field& f : list) {
        const std::string& s = f.str();
        if (s.empty()) continue;  // not allocated yet
        if (s == "None") {
            if (list.size() > 1) f.fail("\"None\" may not be combined with addresses");
            svc.headless = true;
            continue;
        }
        add_ip(f, svc.cluster_ips);
    }
}

void read_service_ports(const Field& spec, lb::Service& svc) {
    const Field::Items ports = spec["ports"].items();
    if (ports.empty() && !svc.headless) spec["ports"].fail("is required (at least one port)");
    std::set<std::string> names;
    std::set<std::pair<uint8_t, uint16_t>> seen;
    std::set<std::pair<uint8_t, uint16_t>> node_ports;
    for (const Field& p : ports) {
        lb::ServicePortSpec sp;
        sp.name = p["name"].str_or("");
        if (sp.name.empty() && ports.size() > 1) p["name"].fail("is required when the Service has more than one port");
        if (!sp.name.empty()) {
            if (const std::string e = check_dns_label(sp.name); !e.empty())
                p["name"].fail(in_quotes(sp.name) + ": " + e);
            if (!names.insert(sp.name).second) p["name"].fail("duplicate port name " + in_quotes(sp.name));
        }
        sp.protocol = lb_protocol(p["protocol"]);
        sp.port = p["port"].port();
        const auto proto = static_cast<uint8_t>(sp.protocol);
        if (!seen.emplace(proto, sp.port).second) {
            p["port"].fail("duplicate port " + std::to_string(sp.port) + "/" + protocol_name(proto));
        }
        const Field target = p["targetPort"];
        if (!target.present()) {
            sp.target_port = sp.port;
        } else if (target.value().is_string()) {
            sp.target_port_name = target.str();
            if (const std::string e = check_port_name(sp.target_port_name); !e.empty()) {
                target.fail("named port " + in_quotes(sp.target_port_name) + ": " + e);
            }
        } else {
            const int64_t t = target.integer_in(0, 65535);
            sp.target_port = t == 0 ? sp.port : static_cast<uint16_t>(t);  // 0 is defaulted like absent
        }
        const Field node_port = p["nodePort"];
        if (node_port.present()) {
            sp.node_port = static_cast<uint16_t>(node_port.integer_in(0, 65535));
            if (sp.node_port != 0 && svc.type == lb::ServiceType::kClusterIP) {
                node_port.fail("may not be used when spec.type is ClusterIP");
            }
            if (sp.node_port != 0 && !node_ports.emplace(proto, sp.node_port).second) {
                node_port.fail("duplicate nodePort " + std::to_string(sp.node_port) + "/" + protocol_name(proto));
            }
        }
        svc.ports.push_back(std::move(sp));
    }
}

void read_affinity(const Field& spec, lb::Service& svc) {
    svc.affinity_client_ip = spec["sessionAffinity"].one_of<bool>({{"None", false}, {"ClientIP", true}}, false);
    const Field config = spec["sessionAffinityConfig"];
    if (!config.present()) return;
    if (!svc.affinity_client_ip) config.fail("may not be set when spec.sessionAffinity is None");
    const Field timeout = config["clientIP"]["timeoutSeconds"];
    if (timeout.present()) svc.affinity_timeout_s = static_cast<uint32_t>(timeout.integer_in(1, 86400));
}

void read_traffic_policies(const Field& spec, lb::Service& svc) {
    const Field etp = spec["externalTrafficPolicy"];
    // The old spelling "Global" means Cluster.
    svc.external_policy = etp.one_of<lb::TrafficPolicy>({{"Cluster", lb::TrafficPolicy::kCluster},
                                                         {"Local", lb::TrafficPolicy::kLocal},
                                                         {"Global", lb::TrafficPolicy::kCluster}},
                                                        lb::TrafficPolicy::kCluster);
    const bool external = svc.type == lb::ServiceType::kNodePort || svc.type == lb::ServiceType::kLoadBalancer ||
                          !svc.external_ips.empty();
    if (etp.present() && !external) etp.fail("may only be set for externally-accessible Services");
    svc.internal_policy = spec["internalTrafficPolicy"].one_of<lb::TrafficPolicy>(
        {{"Cluster", lb::TrafficPolicy::kCluster}, {"Local", lb::TrafficPolicy::kLocal}}, lb::TrafficPolicy::kCluster);
    const Field hc = spec["healthCheckNodePort"];
    if (hc.present()) {
        svc.health_check_node_port = static_cast<uint16_t>(hc.integer_in(0, 65535));
        if (svc.health_check_node_port != 0 &&
            (svc.type != lb::ServiceType::kLoadBalancer || svc.external_policy != lb::TrafficPolicy::kLocal)) {
            hc.fail("may only be set when spec.type is LoadBalancer and spec.externalTrafficPolicy is Local");
        }
    }
}

std::optional<uint64_t> parse_unsigned(std::string_view s) {
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

void read_annotations(const Field& annotations, const Meta& meta, lb::Service& svc) {
    const auto get = [&](const char* key) -> const std::string* {
        const auto it = meta.annotations.find(key);
        return it == meta.annotations.end() ? nullptr : &it->second;
    };
    if (get(kAnnAlgorithm)) {
        svc.algorithm = annotations[kAnnAlgorithm].one_of<lb::Algorithm>({{"maglev", lb::Algorithm::kMaglev},
                                                                          {"random", lb::Algorithm::kRandom},
                                                                          {"round-robin", lb::Algorithm::kRoundRobin},
                                                                          {"weighted", lb::Algorithm::kWeighted},
                                                                          {"least-conn", lb::Algorithm::kLeastConn}},
                                                                         std::nullopt);
    }
    if (const std::string* size = get(kAnnMaglevSize)) {
        const auto v = parse_unsigned(*size);
        if (!v || *v == 0 || *v > std::numeric_limits<uint32_t>::max()) {
            annotations[kAnnMaglevSize].fail("must be a positive integer, not " + in_quotes(*size));
        }
        svc.maglev_table_size = static_cast<uint32_t>(*v);
    }
    if (const std::string* weights = get(kAnnWeights)) {
        const Field f = annotations[kAnnWeights];
        const json parsed = json::parse(*weights, nullptr, false);
        if (parsed.is_discarded() || !parsed.is_object()) f.fail("must be a JSON object of IP address to weight");
        for (const auto& [ip, weight] : parsed.items()) {
            uint32_t v4 = 0;
            if (parse_ip(ip, v4) != IpFamily::kV4) f.fail("key " + in_quotes(ip) + " is not an IPv4 address");
            if (!weight.is_number_integer() || weight.get<int64_t>() < 0 ||
                weight.get<int64_t>() > std::numeric_limits<uint32_t>::max()) {
                f.fail("weight of " + ip + " must be a non-negative integer");
            }
            svc.endpoint_weights.emplace(ip, std::to_string(weight.get<int64_t>()));
        }
    }
    const std::string* mode = get(kAnnTopologyMode);
    const std::string* hints = mode ? mode : get(kAnnTopologyHints);
    svc.topology_aware = hints != nullptr && (*hints == "Auto" || *hints == "auto");
}

lb::Service service(const Object& o) {
    expect_api(o, "v1");
    const Meta meta = read_meta(o, true);
    // Service names are DNS-1035 labels: they become DNS names and environment variables.
    if (o.name[0] < 'a' || o.name[0] > 'z') {
        Field(&o.body)["metadata"]["name"].fail(in_quotes(o.name) + ": must start with a lower case letter");
    }
    const Field root(&o.body);
    const Field spec = root["spec"];
    lb::Service svc;
    svc.ns = o.ns;
    svc.name = o.name;
    svc.type = spec["type"].one_of<lb::ServiceType>({{"ClusterIP", lb::ServiceType::kClusterIP},
                                                     {"NodePort", lb::ServiceType::kNodePort},
                                                     {"LoadBalancer", lb::ServiceType::kLoadBalancer},
                                                     {"ExternalName", lb::ServiceType::kExternalName}},
                                                    lb::ServiceType::kClusterIP);
    if (svc.type == lb::ServiceType::kExternalName) {
        // A DNS alias: nothing to program, kept so dumps show it.
        const std::string& target = spec["externalName"].str();
        if (const std::string e = check_dns_subdomain(target); !e.empty()) spec["externalName"].fail(e);
        return svc;
    }
    read_cluster_ips(spec, svc);
    if (svc.headless && svc.type != lb::ServiceType::kClusterIP) {
        spec["clusterIP"].fail("may be \"None\" only when spec.type is ClusterIP");
    }
    read_service_ports(spec, svc);
    for (const Field& f : spec["externalIPs"].items()) add_ip(f, svc.external_ips);
    for (const Field& ingress : root["status"]["loadBalancer"]["ingress"].items()) {
        // ipMode Proxy: the load balancer proxies and sends from its own address to the node,
        // so (like kube-proxy) the IP is not programmed. Hostname-only entries: nothing to program.
        const bool proxy = ingress["ipMode"].one_of<bool>({{"VIP", false}, {"Proxy", true}}, false);
        if (ingress["ip"].present() && !proxy) add_ip(ingress["ip"], svc.lb_ingress_ips);
    }
    read_affinity(spec, svc);
    read_traffic_policies(spec, svc);
    read_annotations(root["metadata"]["annotations"], meta, svc);
    return svc;
}

// ---- EndpointSlice ----

lb::EndpointSlice endpoint_slice(const Object& o) {
    expect_api(o, "discovery.k8s.io/v1");
    const Meta meta = read_meta(o, false);
    const Field root(&o.body);
    const Field address_type = root["addressType"];
    const std::string& family = address_type.str();
    if (family != "IPv4") {
        address_type.fail(family == "IPv6" || family == "FQDN"
                              ? "only IPv4 slices are programmed (this one is " + family + ")"
                              : "unsupported value " + in_quotes(family) + " (supported: IPv4, IPv6, FQDN)");
    }
    lb::EndpointSlice slice;
    slice.ns = o.ns;
    slice.name = o.name;
    const auto svc = meta.labels.find(kLabelServiceName);
    if (svc == meta.labels.end() || svc->second.empty()) {
        root["metadata"]["labels"].fail("label " + std::string(kLabelServiceName) + " is required");
    }
    slice.service_name = svc->second;
    const Field::Items endpoints = root["endpoints"].items();
    slice.endpoints.reserve(endpoints.size());
    for (const Field& e : endpoints) {
        lb::Endpoint ep;
        const Field::Items addresses = e["addresses"].items();
        if (addresses.empty() || addresses.size() > 100) e["addresses"].fail("must hold 1-100 addresses");
        ep.addresses.reserve(addresses.size());
        for (const Field& a : addresses) {
            uint32_t v4 = 0;
            if (parse_ip(a.str(), v4) != IpFamily::kV4) a.fail("not a valid IPv4 address: " + in_quotes(a.str()));
            ep.addresses.push_back(v4);
        }
        const Field cond = e["conditions"];
        ep.conditions.ready = cond["ready"].opt_bool();
        ep.conditions.serving = cond["serving"].opt_bool();
        ep.conditions.terminating = cond["terminating"].opt_bool();
        ep.node_name = e["nodeName"].str_or("");
        ep.zone = e["zone"].str_or("");
        for (const Field& z : e["hints"]["forZones"].items()) ep.hint_zones.push_back(z["name"].str());
        const Field ref = e["targetRef"];
        if (ref.present()) {
            const std::string name = ref["name"].str_or("");
            if (!name.empty()) ep.target_pod = ref["namespace"].str_or(o.ns) + "/" + name;
        }
        slice.endpoints.push_back(std::move(ep));
    }
    std::set<std::string> names;
    for (const Field& p : root["ports"].items()) {
        lb::EndpointPort port;
        port.name = p["name"].str_or("");
        if (!port.name.empty()) {
            if (const std::string e = check_dns_label(port.name); !e.empty())
                p["name"].fail(in_quotes(port.name) + ": " + e);
        }
        if (!names.insert(port.name).second) p["name"].fail("duplicate port name " + in_quotes(port.name));
        port.protocol = lb_protocol(p["protocol"]);
        if (p["port"].present()) port.port = p["port"].port();
        slice.ports.push_back(std::move(port));
    }
    return slice;
}

// ---- Pod, Namespace ----

acl::Protocol acl_protocol(const Field& f) {
    return f.one_of<acl::Protocol>(
        {{"TCP", acl::Protocol::kTcp}, {"UDP", acl::Protocol::kUdp}, {"SCTP", acl::Protocol::kSctp}},
        acl::Protocol::kTcp);
}

acl::Pod pod(const Object& o) {
    expect_api(o, "v1");
    acl::Pod p;
    p.ns = o.ns;
    p.name = o.name;
    p.labels = read_meta(o, false).labels;
    const Field root(&o.body);
    const Field spec = root["spec"];
    p.host_network = spec["hostNetwork"].opt_bool().value_or(false);
    p.node_name = spec["nodeName"].str_or("");
    for (const Field& c : spec["containers"].items()) {
        for (const Field& port : c["ports"].items()) {
            acl::ContainerPort cp;
            cp.name = port["name"].str_or("");
            if (!cp.name.empty()) {
                if (const std::string e = check_port_name(cp.name); !e.empty())
                    port["name"].fail(in_quotes(cp.name) + ": " + e);
            }
            cp.port = port["containerPort"].port();
            cp.protocol = acl_protocol(port["protocol"]);
            p.ports.push_back(std::move(cp));
        }
    }
    const Field status = root["status"];
    for (const Field& ip : status["podIPs"].items()) add_ip(ip["ip"], p.ips);
    if (!status["podIPs"].present() && status["podIP"].present() && !status["podIP"].str().empty()) {
        add_ip(status["podIP"], p.ips);
    }
    return p;
}

acl::Namespace namespace_object(const Object& o) {
    expect_api(o, "v1");
    acl::Namespace n;
    n.name = o.name;
    n.labels = read_meta(o, true).labels;
    n.labels["kubernetes.io/metadata.name"] = o.name;  // the API server sets it (and overwrites any other value)
    return n;
}

// ---- NetworkPolicy, PayloadPolicy ----

acl::LabelSelector selector(const Field& f) {
    acl::LabelSelector s;
    if (!f.present()) return s;
    const Field labels = f["matchLabels"];
    s.match_labels = labels.string_map();
    for (const auto& [key, value] : s.match_labels) {
        if (const std::string e = check_qualified_name(key); !e.empty())
            labels[key].fail("key " + in_quotes(key) + ": " + e);
        if (const std::string e = check_label_text(value); !e.empty())
            labels[key].fail("value " + in_quotes(value) + ": " + e);
    }
    using Op = acl::LabelRequirement::Op;
    for (const Field& x : f["matchExpressions"].items()) {
        acl::LabelRequirement r;
        r.key = x["key"].str();
        if (const std::string e = check_qualified_name(r.key); !e.empty()) x["key"].fail(in_quotes(r.key) + ": " + e);
        r.op = x["operator"].one_of<Op>(
            {{"In", Op::kIn}, {"NotIn", Op::kNotIn}, {"Exists", Op::kExists}, {"DoesNotExist", Op::kDoesNotExist}},
            std::nullopt);
        const Field values = x["values"];
        r.values = values.strings();
        const bool set_op = r.op == Op::kIn || r.op == Op::kNotIn;
        if (set_op && r.values.empty()) values.fail("must be non-empty when operator is In or NotIn");
        if (!set_op && !r.values.empty()) values.fail("must be empty when operator is Exists or DoesNotExist");
        for (const Field& v : values.items()) {
            if (const std::string e = check_label_text(v.str()); !e.empty()) v.fail(in_quotes(v.str()) + ": " + e);
        }
        s.match_expressions.push_back(std::move(r));
    }
    return s;
}

acl::PolicyPort policy_port(const Field& f) {
    acl::PolicyPort p;
    p.protocol = acl_protocol(f["protocol"]);
    const Field port = f["port"];
    if (port.present() && port.value().is_string()) {
        p.port_name = port.str();
        if (const std::string e = check_port_name(p.port_name); !e.empty())
            port.fail("named port " + in_quotes(p.port_name) + ": " + e);
    } else if (port.present()) {
        p.port = port.port();
    }
    const Field end = f["endPort"];
    if (end.present()) {
        if (!p.port) end.fail(port.present() ? "may not be used with a named port" : "may not be used without port");
        p.end_port = end.port();
        if (*p.end_port < *p.port) end.fail("must be greater than or equal to port (" + std::to_string(*p.port) + ")");
    }
    return p;
}

// nullopt: an IPv6 ipBlock, which matches no IPv4 traffic.
std::optional<acl::Peer> peer(const Field& f) {
    if (f.present() && !f.value().is_object()) f.fail("must be a mapping");
    const Field pods = f["podSelector"];
    const Field namespaces = f["namespaceSelector"];
    const Field block = f["ipBlock"];
    if (!pods.present() && !namespaces.present() && !block.present()) {
        f.fail("must specify podSelector, namespaceSelector or ipBlock");
    }
    acl::Peer p;
    if (block.present()) {
        if (pods.present() || namespaces.present()) {
            f.fail("ipBlock may not be combined with podSelector or namespaceSelector");
        }
        const Field cidr_field = block["cidr"];
        const Cidr cidr = parse_cidr(cidr_field.str());
        if (cidr.family == IpFamily::kInvalid) cidr_field.fail("not a valid CIDR: " + in_quotes(cidr_field.str()));
        acl::IpBlock b;
        b.addr = cidr.addr;
        b.prefix_len = cidr.len;
        for (const Field& x : block["except"].items()) {
            const Cidr ex = parse_cidr(x.str());
            if (ex.family == IpFamily::kInvalid) x.fail("not a valid CIDR: " + in_quotes(x.str()));
            if (ex.family != cidr.family) x.fail("must be in the same address family as cidr");
            if (ex.family == IpFamily::kV4 && (ex.len <= cidr.len || (ex.addr & prefix_mask(cidr.len)) != cidr.addr)) {
                x.fail("must be a strict subset of cidr " + in_quotes(cidr_field.str()));
            }
            b.except.emplace_back(ex.addr, ex.len);
        }
        if (cidr.family == IpFamily::kV6) return std::nullopt;
        p.ip_block = std::move(b);
        return p;
    }
    if (pods.present()) p.pod_selector = selector(pods);
    if (namespaces.present()) p.namespace_selector = selector(namespaces);
    return p;
}

// nullopt: the rule is absent (field missing); otherwise the rules, without those whose every
// peer is an IPv6 ipBlock (they can never match IPv4 traffic).
std::optional<std::vector<acl::Rule>> rules(const Field& f, const char* peers_key) {
    if (!f.present()) return std::nullopt;
    std::vector<acl::Rule> out;
    for (const Field& r : f.items()) {
        acl::Rule rule;
        for (const Field& p : r["ports"].items()) rule.ports.push_back(policy_port(p));
        const Field::Items peers = r[peers_key].items();
        for (const Field& p : peers) {
            if (auto v4 = peer(p)) rule.peers.push_back(std::move(*v4));
        }
        if (!peers.empty() && rule.peers.empty()) continue;
        out.push_back(std::move(rule));
    }
    return out;
}

// apiVersion and metadata checked; the spec, which must be there.
Field required_spec(const Object& o, const char* api_version) {
    expect_api(o, api_version);
    read_meta(o, false);
    Field spec = Field(&o.body)["spec"];
    if (!spec.present()) spec.fail("is required");
    return spec;
}

acl::NetworkPolicy network_policy(const Object& o) {
    const Field spec = required_spec(o, "networking.k8s.io/v1");
    acl::NetworkPolicy np;
    np.ns = o.ns;
    np.name = o.name;
    np.pod_selector = selector(spec["podSelector"]);
    const Field::Items types = spec["policyTypes"].items();
    for (const Field& t : types) {
        const bool ingress = t.one_of<bool>({{"Ingress", true}, {"Egress", false}}, std::nullopt);
        bool& seen = ingress ? np.type_ingress : np.type_egress;
        if (seen) t.fail("duplicate policy type " + in_quotes(t.str()));
        seen = true;
    }
    np.policy_types_given = !types.empty();
    np.ingress = rules(spec["ingress"], "from");
    np.egress = rules(spec["egress"], "to");
    return np;
}

acl::PayloadPolicy payload_policy(const Object& o) {
    const Field spec = required_spec(o, "enidp.io/v1alpha1");
    acl::PayloadPolicy pp;
    pp.ns = o.ns;
    pp.name = o.name;
    pp.pod_selector = selector(spec["podSelector"]);
    using Dir = acl::PayloadPolicy::Direction;
    pp.direction = spec["direction"].one_of<Dir>(
        {{"Ingress", Dir::kIngress}, {"Egress", Dir::kEgress}, {"Both", Dir::kBoth}}, Dir::kIngress);
    for (const Field& p : spec["ports"].items()) pp.ports.push_back(policy_port(p));
    const Field patterns = spec["patterns"];
    for (const Field& p : patterns.items()) {
        pp.patterns.push_back(p.str());
        if (pp.patterns.back().empty()) p.fail("must not be empty");
    }
    if (pp.patterns.empty()) patterns.fail("is required (at least one pattern)");
    using Action = acl::PayloadPolicy::Action;
    pp.action = spec["action"].one_of<Action>(
        {{"Deny", Action::kDeny}, {"Allow", Action::kAllow}, {"Log", Action::kLog}}, Action::kDeny);
    return pp;
}

// ---- Node ----

lb::NodeInfo node_info(const Object& o) {
    expect_api(o, "v1");
    lb::NodeInfo n;
    n.name = o.name;
    const Meta meta = read_meta(o, false);
    const auto zone = meta.labels.find("topology.kubernetes.io/zone");
    if (zone != meta.labels.end()) n.zone = zone->second;
    // NodePorts answer on the node's own addresses: InternalIP first, then ExternalIP.
    const Field::Items addresses = Field(&o.body)["status"]["addresses"].items();
    for (const char* type : {"InternalIP", "ExternalIP"}) {
        for (const Field& a : addresses) {
            if (a["type"].str() == type) add_ip(a["address"], n.node_ips);
        }
    }
    return n;
}

const nlohmann::json* label(const Object& o, const char* key) {
    const auto meta = o.body.find("metadata");
    if (meta == o.body.end() || !meta->is_object()) return nullptr;
    const auto labels = meta->find("labels");
    if (labels == meta->end() || !labels->is_object()) return nullptr;
    const auto it = labels->find(key);
    return it == labels->end() ? nullptr : &*it;
}

}  // namespace

Result<lb::Service> to_service(const Object& o) {
    return guarded(o, [&] { return service(o); });
}
Result<lb::EndpointSlice> to_endpoint_slice(const Object& o) {
    return guarded(o, [&] { return endpoint_slice(o); });
}
Result<acl::Pod> to_pod(const Object& o) {
    return guarded(o, [&] { return pod(o); });
}
Result<acl::Namespace> to_namespace(const Object& o) {
    return guarded(o, [&] { return namespace_object(o); });
}
Result<acl::NetworkPolicy> to_network_policy(const Object& o) {
    return guarded(o, [&] { return network_policy(o); });
}
Result<acl::PayloadPolicy> to_payload_policy(const Object& o) {
    return guarded(o, [&] { return payload_policy(o); });
}

Result<lb::NodeInfo> to_node_info(const Object& o) {
    return guarded(o, [&] { return node_info(o); });
}

Result<Model> convert(const Object& o) {
    return guarded(o, [&]() -> Model {
        if (o.kind == kKindService) return service(o);
        if (o.kind == kKindEndpointSlice) return endpoint_slice(o);
        if (o.kind == kKindPod) return pod(o);
        if (o.kind == kKindNamespace) return namespace_object(o);
        if (o.kind == kKindNetworkPolicy) return network_policy(o);
        if (o.kind == kKindPayloadPolicy) return payload_policy(o);
        fail_at("/kind", "unsupported kind " + in_quotes(o.kind) +
                             " (supported: Service, EndpointSlice, Pod, Namespace, NetworkPolicy, PayloadPolicy)");
    });
}

std::optional<std::string> ignore_reason(const Object& o) {
    if (o.kind == kKindService) {
        if (const json* proxy = label(o, kLabelProxyName)) {
            return "label " + std::string(kLabelProxyName) + "=" +
                   (proxy->is_string() ? proxy->get<std::string>() : "") + ": the Service belongs to another proxy";
        }
    } else if (o.kind == kKindEndpointSlice) {
        if (label(o, kLabelHeadless) != nullptr) {
            return "label " + std::string(kLabelHeadless) + ": a headless Service's slice";
        }
        const json* svc = label(o, kLabelServiceName);
        if (svc == nullptr || !svc->is_string() || svc->get_ref<const std::string&>().empty()) {
            return "no " + std::string(kLabelServiceName) + " label: the slice belongs to no Service";
        }
        const auto family = o.body.find("addressType");
        if (family != o.body.end() && family->is_string() && *family != "IPv4") {
            return "addressType " + family->get<std::string>() + ": only IPv4 slices are programmed";
        }
    } else if (o.kind == kKindPod) {
        const auto status = o.body.find("status");
        if (status != o.body.end() && status->is_object()) {
            const auto phase = status->find("phase");
            if (phase != status->end() && (*phase == "Succeeded" || *phase == "Failed")) {
                return "phase " + phase->get<std::string>() + ": a finished Pod no longer holds its IP";
            }
        }
    }
    return std::nullopt;
}

}  // namespace enidp::objects

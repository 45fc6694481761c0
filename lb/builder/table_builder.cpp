#include "lb/builder/table_builder.hpp"

#include <arpa/inet.h>
#include <algorithm>
#include <charconv>
#include <numeric>
#include <set>
#include <unordered_map>

#include "lb/builder/endpoints.hpp"
#include "lb/builder/names.hpp"

namespace enidp::lb {

namespace {

struct PortPlan {
    const ServicePortSpec* spec = nullptr;
    std::vector<EndpointCandidate> eps;
    std::vector<uint32_t> sets[3];  // internal, external, cluster: indices into eps
    std::vector<uint16_t> weights;  // per eps (weighted algorithm)
    bool has_any = false;
    bool external_local = false;
    uint32_t port_id = kNone;      // the port's live id when the build started (check_capacity)
    std::vector<uint32_t> ep_ids;  // per eps: its live backend id then, or kNone
    uint32_t local_ready = 0;
};

// The set of `plan` that set s repeats (identical members), or -1; identical sets share
// their backend range and tables.
int same_as_earlier(const PortPlan& plan, int s) {
    for (int t = 0; t < s; ++t)
        if (plan.sets[t] == plan.sets[s]) return t;
    return -1;
}

uint32_t maglev_size_for(const Service& svc, uint32_t count, const BuildOptions& options) {
    if (svc.algorithm != Algorithm::kMaglev || count <= 1) return 0;
    return svc.maglev_table_size != 0 ? svc.maglev_table_size : maglev_auto_size(count, options.maglev_default_size);
}

struct FrontendPlan {
    uint64_t key = 0;
    bool node_port = false;
    Frontend frontend;
    uint32_t port = 0;  // index into ServicePlan::ports
    std::string field;  // for conflict errors
};

struct ServicePlan {
    std::vector<PortPlan> ports;
    std::vector<FrontendPlan> frontends;
    bool health_check = false;
    uint32_t health_check_count = 0;
};

// An error for the Service being planned: "field: message".
struct PlanError {
    std::string text;
};

std::string idx(const char* field, size_t i) { return std::string(field) + '[' + std::to_string(i) + ']'; }

std::string endpoint_string(uint32_t ip_be, uint16_t port, uint8_t proto) {
    return ipv4_string(ip_be) + ':' + std::to_string(port) + '/' + protocol_name(proto);
}

// Parses `enidp.io/endpoint-weights` values; weights of endpoints without one are 1.
bool weight_of(const Service& svc, uint32_t ip, uint16_t& weight, std::string& error) {
    weight = 1;
    auto it = svc.endpoint_weights.find(ipv4_string(ip));
    if (it == svc.endpoint_weights.end()) return true;
    const std::string& s = it->second;
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v > 0xFFFF) {
        error = "endpoint_weights[" + it->first + "]: \"" + s + "\" is not an integer in 0..65535";
        return false;
    }
    weight = static_cast<uint16_t>(v);
    return true;
}

bool plan_port(const Service& svc, const ServicePortSpec& spec, size_t i, const NodeInfo& node,
               std::span<const EndpointSlice* const> slices, PortPlan& plan, std::string& error) {
    plan.spec = &spec;
    plan.eps = collect_endpoints(spec, node, slices);
    const CategorizedEndpoints cat = categorize_endpoints(svc, spec, node, plan.eps);
    const bool internal_local = svc.internal_policy == TrafficPolicy::kLocal;
    plan.external_local = svc.external_policy == TrafficPolicy::kLocal && externally_accessible(svc, spec);
    const bool uses_cluster = uses_cluster_endpoints(svc, spec);
    plan.sets[0] = internal_local ? cat.local : cat.cluster;
    plan.sets[1] = plan.external_local ? cat.local : cat.cluster;
    plan.sets[2] = uses_cluster ? cat.cluster : cat.local;
    plan.has_any = cat.has_any;
    for (const auto& s : plan.sets) {
        if (s.size() > kMaglevMaxBackends) {
            error = idx("spec.ports", i) + ": " + std::to_string(s.size()) + " endpoints, more than the " +
                    std::to_string(kMaglevMaxBackends) + " a backend set can hold";
            return false;
        }
    }
    for (const EndpointCandidate& c : plan.eps) plan.local_ready += c.local && c.ready;
    if (svc.algorithm == Algorithm::kWeighted) {
        plan.weights.resize(plan.eps.size());
        for (size_t e = 0; e < plan.eps.size(); ++e)
            if (!weight_of(svc, plan.eps[e].ip, plan.weights[e], error)) return false;
    }
    if (svc.algorithm == Algorithm::kMaglev && svc.maglev_table_size != 0) {
        uint32_t largest = 0;
        for (const auto& s : plan.sets)
            if (s.size() > 1) largest = std::max(largest, static_cast<uint32_t>(s.size()));
        std::string why = maglev_size_error(svc.maglev_table_size, largest);
        if (!why.empty()) {
            error = "maglev_table_size: " + why;
            return false;
        }
    }
    return true;
}

void plan_frontends(const Service& svc, ServicePlan& plan) {
    for (uint32_t p = 0; p < plan.ports.size(); ++p) {
        const ServicePortSpec& spec = *plan.ports[p].spec;
        const auto proto = static_cast<uint8_t>(spec.protocol);
        auto add = [&](uint32_t ip, uint16_t port, FrontendKind kind, bool node_port, std::string field) {
            FrontendPlan f;
            f.key = FrontendMap::key(ip, htons(port), proto);
            f.node_port = node_port;
            f.frontend = Frontend{ip, htons(port), proto, kind, kNone};
            f.port = p;
            f.field = std::move(field);
            plan.frontends.push_back(std::move(f));
        };
        for (size_t j = 0; j < svc.cluster_ips.size(); ++j)
            add(svc.cluster_ips[j], spec.port, FrontendKind::kClusterIp, false, idx("spec.clusterIPs", j));
        if (spec.node_port != 0 && (svc.type == ServiceType::kNodePort || svc.type == ServiceType::kLoadBalancer))
            add(0, spec.node_port, FrontendKind::kNodePort, true, idx("spec.ports", p) + ".nodePort");
        for (size_t j = 0; j < svc.external_ips.size(); ++j)
            add(svc.external_ips[j], spec.port, FrontendKind::kExternalIp, false, idx("spec.externalIPs", j));
        if (svc.type == ServiceType::kLoadBalancer)
            for (size_t j = 0; j < svc.lb_ingress_ips.size(); ++j)
                add(svc.lb_ingress_ips[j], spec.port, FrontendKind::kLoadBalancer, false,
                    idx("status.loadBalancer.ingress", j));
    }
}

bool plan_service(const Service& svc, const NodeInfo& node, std::span<const EndpointSlice* const> slices,
                  ServicePlan& plan, std::string& error) {
    if (svc.cluster_ips.empty()) {
        error = "spec.clusterIPs: a Service that is not headless needs a cluster IP";
        return false;
    }
    for (size_t i = 0; i < svc.ports.size(); ++i) {
        const ServicePortSpec& spec = svc.ports[i];
        if (spec.port == 0) {
            error = idx("spec.ports", i) + ".port: must be 1..65535";
            return false;
        }
        for (size_t k = 0; k < i; ++k)
            if (svc.ports[k].name == spec.name && svc.ports[k].protocol == spec.protocol) {
                error = idx("spec.ports", i) + ".name: \"" + spec.name + "\"/" + protocol_name(spec.protocol) +
                        " duplicates spec.ports[" + std::to_string(k) + "]";
                return false;
            }
    }
    plan.ports.resize(svc.ports.size());
    for (size_t i = 0; i < svc.ports.size(); ++i)
        if (!plan_port(svc, svc.ports[i], i, node, slices, plan.ports[i], error)) return false;
    plan_frontends(svc, plan);
    if (svc.external_policy == TrafficPolicy::kLocal && svc.health_check_node_port != 0)
        for (const PortPlan& p : plan.ports)
            if (p.external_local) {
                plan.health_check = true;
                plan.health_check_count = std::max(plan.health_check_count, p.local_ready);
            }
    return true;
}

uint32_t gcd_of(std::span<const uint32_t> v) {
    uint32_t g = 0;
    for (uint32_t x : v) g = std::gcd(g, x);
    return g;
}

// Emits backends and selection tables for one service port; identical sets share them, and
// a set whose table the previous generation already has (same algorithm, size and ordered
// backends) takes that chunk instead of filling a new one.
class PortEmitter {
public:
    PortEmitter(ServiceTable& table, MaglevBuilder& maglev, const BuildOptions& options, const ServiceTable* previous)
        : table_(table), maglev_(maglev), options_(options), previous_(previous) {
        if (previous_ == nullptr) return;
        uint32_t top = 0;
        for (const ServicePort& sp : previous_->ports)
            if (sp.id != kNone) top = std::max(top, sp.id + 1);
        previous_port_.assign(top, kNone);
        for (uint32_t i = 0; i < previous_->ports.size(); ++i)
            if (previous_->ports[i].id != kNone) previous_port_[previous_->ports[i].id] = i;
    }

    uint32_t reused_chunks() const { return reused_; }

    // Every endpoint of the port gets (or keeps) its id, in a set or not, so a terminating
    // endpoint's flows survive until it leaves the slices; `status` gets (id, status) of each.
    void emit(const Service& svc, const PortPlan& plan, ServicePort& sp, StableIds& ids,
              std::vector<std::pair<uint32_t, BackendStatus>>& status) {
        ep_ids_.resize(plan.eps.size());
        for (size_t e = 0; e < plan.eps.size(); ++e) {
            const EndpointCandidate& c = plan.eps[e];
            if (plan.ep_ids[e] != kNone) ids.keep_backend(ep_ids_[e] = plan.ep_ids[e]);
            else ep_ids_[e] = ids.backend_id(sp.id, c.ip, htons(c.port));
            status.emplace_back(ep_ids_[e], c.ready ? BackendStatus::kReady : BackendStatus::kServingTerminating);
        }
        prev_ = nullptr;
        if (sp.id < previous_port_.size() && previous_port_[sp.id] != kNone) {
            prev_ = &previous_->ports[previous_port_[sp.id]];
            if (prev_->algorithm != static_cast<uint8_t>(svc.algorithm)) prev_ = nullptr;
        }
        BackendSet* out[3] = {&sp.internal, &sp.external, &sp.cluster};
        for (int s = 0; s < 3; ++s) {
            const std::vector<uint32_t>& members = plan.sets[s];
            const int same = same_as_earlier(plan, s);
            if (same >= 0) *out[s] = *out[same];
            else *out[s] = emit_set(svc, plan, members);
            out[s]->empty_action = plan.has_any ? EmptyAction::kDrop : EmptyAction::kReject;
        }
    }

private:
    BackendSet emit_set(const Service& svc, const PortPlan& plan, const std::vector<uint32_t>& members) {
        BackendSet set;
        set.first = static_cast<uint32_t>(table_.backends.size());
        set.count = static_cast<uint32_t>(members.size());
        keys_.clear();
        weights_.clear();
        for (uint32_t m : members) {
            const EndpointCandidate& c = plan.eps[m];
            Backend b;
            b.ip = c.ip;
            b.port = htons(c.port);
            b.weight = plan.weights.empty() ? 1 : plan.weights[m];
            b.id = ep_ids_[m];
            b.local = c.local;
            b.serving_terminating = !c.ready;
            table_.backends.push_back(b);
            keys_.push_back(MaglevKey{b.ip, b.port});
            weights_.push_back(b.weight);
        }
        set.maglev_size = maglev_size_for(svc, set.count, options_);
        const bool weighted = svc.algorithm == Algorithm::kWeighted && set.count > 0;
        if (set.maglev_size == 0 && !weighted) return set;
        if (const BackendSet* old = reusable(set)) {
            set.maglev = old->maglev;
            set.wheel = old->wheel;
            set.wheel_size = old->wheel_size;
            set.chunk = static_cast<uint32_t>(table_.chunks.size());
            table_.chunks.push_back(previous_->chunks[old->chunk]);
            ++reused_;
            return set;
        }
        auto chunk = std::make_shared<std::vector<uint16_t>>();
        if (set.maglev_size != 0) {
            chunk->resize(set.maglev_size);
            maglev_.populate(keys_, *chunk);
            set.maglev = chunk->data();
        } else {
            const std::vector<uint32_t> slots = wheel_slots(weights_);
            for (uint32_t i = 0; i < slots.size(); ++i) chunk->insert(chunk->end(), slots[i], uint16_t(i));
            set.wheel_size = static_cast<uint32_t>(chunk->size());
            set.wheel = chunk->data();
        }
        set.chunk = static_cast<uint32_t>(table_.chunks.size());
        table_.chunks.push_back(std::move(chunk));
        return set;
    }

    // A set of the previous generation's port with the same Maglev size and the same ordered
    // (ip, port, weight) backends as keys_ / weights_, whose chunk the new set can share.
    const BackendSet* reusable(const BackendSet& set) const {
        if (prev_ == nullptr) return nullptr;
        for (const BackendSet* old : {&prev_->internal, &prev_->external, &prev_->cluster}) {
            if (old->chunk == kNone || old->count != set.count || old->maglev_size != set.maglev_size) continue;
            const Backend* b = previous_->backends.data() + old->first;
            uint32_t i = 0;
            while (i < set.count && b[i].ip == keys_[i].ip && b[i].port == keys_[i].port && b[i].weight == weights_[i])
                ++i;
            if (i == set.count) return old;
        }
        return nullptr;
    }

    ServiceTable& table_;
    MaglevBuilder& maglev_;
    const BuildOptions& options_;
    const ServiceTable* previous_;
    std::vector<uint32_t> previous_port_;  // service-port id → index into previous_->ports (kNone)
    const ServicePort* prev_ = nullptr;    // the port being emitted, as previous_ had it
    uint32_t reused_ = 0;
    std::vector<MaglevKey> keys_;
    std::vector<uint16_t> weights_;
    std::vector<uint32_t> ep_ids_;  // per plan.eps: its backend id
};

// Ids the Service would newly take; the build refuses it when they are not free.
struct PendingIds {
    uint32_t ports = 0;  // new ids the Services accepted so far will take
    uint32_t backends = 0;
};

// Also records the ids the ports and endpoints already have, so emitting them needs no look-up.
std::string check_capacity(const Service& svc, ServicePlan& plan, const StableIds& ids, PendingIds& pending) {
    uint32_t ports = 0, backends = 0;
    for (PortPlan& p : plan.ports) {
        const auto proto = static_cast<uint8_t>(p.spec->protocol);
        const uint32_t port_id = ids.find_port(StableIds::port_key(svc.ns, svc.name, p.spec->name, proto));
        p.port_id = port_id;
        ports += port_id == kNone;
        p.ep_ids.assign(p.eps.size(), kNone);
        for (size_t e = 0; e < p.eps.size(); ++e) {
            if (port_id != kNone) p.ep_ids[e] = ids.find_backend(port_id, p.eps[e].ip, htons(p.eps[e].port));
            backends += p.ep_ids[e] == kNone;
        }
    }
    const uint32_t free_ports = ids.free_ports() - pending.ports;
    const uint32_t free_backends = ids.free_backends() - pending.backends;
    if (ports > free_ports)
        return "spec.ports: needs " + std::to_string(ports) + " new service-port ids, " + std::to_string(free_ports) +
               " free (capacity " + std::to_string(ids.port_capacity()) + ")";
    if (backends > free_backends)
        return "endpoints: needs " + std::to_string(backends) + " new backend ids, " + std::to_string(free_backends) +
               " free (capacity " + std::to_string(ids.backend_capacity()) + ")";
    pending.ports += ports;
    pending.backends += backends;
    return {};
}

}  // namespace

std::vector<uint32_t> wheel_slots(std::span<const uint16_t> weights) {
    std::vector<uint32_t> slots(weights.begin(), weights.end());
    const uint32_t g = gcd_of(slots);
    if (g == 0) return slots;
    uint64_t total = 0;
    for (uint32_t& s : slots) total += s /= g;
    if (total <= kWheelMaxSize) return slots;
    // One slot for each live backend, the rest shared in proportion to the weights.
    uint64_t live = 0;
    for (uint32_t s : slots) live += s > 0;
    const uint64_t rest = kWheelMaxSize - live;
    for (uint32_t& s : slots)
        if (s > 0) s = static_cast<uint32_t>(1 + uint64_t{s} * rest / total);
    const uint32_t g2 = gcd_of(slots);
    for (uint32_t& s : slots) s /= g2;
    return slots;
}

BuildResult build_table(std::span<const Service> services, std::span<const EndpointSlice> slices, const NodeInfo& node,
                        const BuildOptions& options, StableIds& ids, const ServiceTable* previous) {
    BuildResult result;
    result.table = std::make_unique<ServiceTable>();
    ServiceTable& table = *result.table;
    table.generation = options.generation;
    table.node_ips = node.node_ips;

    std::vector<const Service*> order;
    order.reserve(services.size());
    for (const Service& s : services) order.push_back(&s);
    std::sort(order.begin(), order.end(),
              [](const Service* a, const Service* b) { return a->ns != b->ns ? a->ns < b->ns : a->name < b->name; });
    std::unordered_map<std::string, std::vector<const EndpointSlice*>> slices_of;
    for (const EndpointSlice& s : slices) slices_of[s.ns + '/' + s.service_name].push_back(&s);
    for (auto& [key, list] : slices_of)
        std::sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->name < b->name; });

    std::unordered_map<uint64_t, const Service*> vip_owner, node_port_owner;
    std::map<uint16_t, const Service*> health_owner;
    std::vector<std::pair<uint64_t, uint32_t>> vip_items, node_port_items;
    MaglevBuilder maglev;
    PortEmitter emitter(table, maglev, options, previous);
    const std::vector<const EndpointSlice*> no_slices;

    // Pass 1: plan and validate every Service in (ns, name) order; the first to claim a
    // frontend keeps it. Pass 2 emits the accepted ones into tables sized once.
    std::vector<std::pair<const Service*, ServicePlan>> accepted;
    PendingIds pending;
    for (const Service* svc_ptr : order) {
        const Service& svc = *svc_ptr;
        if (svc.type == ServiceType::kExternalName || svc.headless) continue;
        const std::string who = svc.ns + '/' + svc.name;
        auto fail = [&](const std::string& what) { result.errors.push_back(who + ": " + what); };

        auto it = slices_of.find(who);
        ServicePlan plan;
        std::string error;
        if (!plan_service(svc, node, it == slices_of.end() ? no_slices : it->second, plan, error)) {
            fail(error);
            continue;
        }
        // Frontend conflicts, with earlier Services and within this one.
        std::set<std::pair<bool, uint64_t>> mine;
        for (const FrontendPlan& f : plan.frontends) {
            auto& owners = f.node_port ? node_port_owner : vip_owner;
            auto taken = owners.find(f.key);
            const Service* owner = taken != owners.end() ? taken->second : nullptr;
            if (owner == nullptr && mine.count({f.node_port, f.key})) owner = &svc;
            if (owner != nullptr) {
                const uint16_t port = ntohs(f.frontend.port);
                error = f.field + ": " +
                        (f.node_port ? "node port " + std::to_string(port) + '/' + protocol_name(f.frontend.protocol)
                                     : endpoint_string(f.frontend.ip, port, f.frontend.protocol)) +
                        " is already a frontend of " + owner->ns + '/' + owner->name;
                break;
            }
            mine.emplace(f.node_port, f.key);
        }
        if (error.empty() && plan.health_check) {
            auto h = health_owner.find(svc.health_check_node_port);
            if (h != health_owner.end())
                error = "spec.healthCheckNodePort: " + std::to_string(svc.health_check_node_port) +
                        " is already used by " + h->second->ns + '/' + h->second->name;
        }
        if (error.empty()) error = check_capacity(svc, plan, ids, pending);
        if (!error.empty()) {
            fail(error);
            continue;
        }
        for (const FrontendPlan& f : plan.frontends) (f.node_port ? node_port_owner : vip_owner).emplace(f.key, &svc);
        if (plan.health_check) health_owner.emplace(svc.health_check_node_port, &svc);
        accepted.emplace_back(&svc, std::move(plan));
    }

    size_t n_ports = 0, n_frontends = 0, n_backends = 0, n_sets = 0, n_endpoints = 0;
    for (const auto& [svc, plan] : accepted) {
        n_ports += plan.ports.size();
        n_frontends += plan.frontends.size();
        for (const PortPlan& p : plan.ports) n_endpoints += p.eps.size();
        for (const PortPlan& p : plan.ports)
            for (int s = 0; s < 3; ++s)
                if (same_as_earlier(p, s) < 0) {
                    n_backends += p.sets[s].size();
                    ++n_sets;
                }
    }
    table.ports.reserve(n_ports);
    table.names.reserve(n_ports);
    table.frontends.reserve(n_frontends);
    table.backends.reserve(n_backends);
    table.chunks.reserve(n_sets);
    result.backend_status.reserve(n_endpoints);

    ids.begin_build();
    for (const auto& [svc_ptr, plan] : accepted) {
        const Service& svc = *svc_ptr;
        const auto first_port = static_cast<uint32_t>(table.ports.size());
        for (const PortPlan& p : plan.ports) {
            const auto proto = static_cast<uint8_t>(p.spec->protocol);
            ServicePort sp;
            if (p.port_id != kNone) ids.keep_port(sp.id = p.port_id);
            else sp.id = ids.port_id(StableIds::port_key(svc.ns, svc.name, p.spec->name, proto));
            sp.protocol = proto;
            sp.algorithm = static_cast<uint8_t>(svc.algorithm);
            sp.flags = (svc.affinity_client_ip ? kAffinityClientIp : 0) |
                       (svc.internal_policy == TrafficPolicy::kLocal ? kInternalLocal : 0) |
                       (p.external_local ? kExternalLocal : 0);
            sp.affinity_timeout_s = svc.affinity_timeout_s;
            sp.health_check_node_port = plan.health_check ? svc.health_check_node_port : 0;
            sp.name = static_cast<uint32_t>(table.names.size());
            table.names.push_back(service_port_name(svc, *p.spec));
            emitter.emit(svc, p, sp, ids, result.backend_status);
            table.ports.push_back(sp);
        }
        for (const FrontendPlan& f : plan.frontends) {
            const auto fe = static_cast<uint32_t>(table.frontends.size());
            table.frontends.push_back(f.frontend);
            table.frontends.back().service_port = first_port + f.port;
            (f.node_port ? node_port_items : vip_items).emplace_back(f.key, fe);
        }
        if (plan.health_check)
            result.health_check_local_endpoints[svc.health_check_node_port] = plan.health_check_count;
    }
    table.by_vip.build(vip_items);
    table.by_node_port.build(node_port_items);

    RetiredIds retired = ids.end_build();
    result.retired_ports = std::move(retired.ports);
    result.retired_backends = std::move(retired.backends);
    result.shared_tables = emitter.reused_chunks();
    // Ascending by id without a sort: ids are dense below the capacity, so bucket them.
    auto& status = result.backend_status;
    uint32_t top = 0;
    for (const auto& [id, st] : status) top = std::max(top, id + 1);
    std::vector<uint8_t> by_id(top, 0);  // BackendStatus; kFree (0): no entry
    for (const auto& [id, st] : status) by_id[id] = static_cast<uint8_t>(st);
    status.clear();
    for (uint32_t id = 0; id < top; ++id)
        if (by_id[id] != 0) status.emplace_back(id, static_cast<BackendStatus>(by_id[id]));
    return result;
}

}  // namespace enidp::lb

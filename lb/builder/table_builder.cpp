#include "lb/builder/table_builder.hpp"

#include <arpa/inet.h>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <numeric>
#include <optional>
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

// An IncrementalBuilder build's Maglev fill budget: the time its fills took so far.
struct FillBudget {
    std::chrono::steady_clock::duration limit{};  // zero: no budget (fills are not timed)
    std::chrono::steady_clock::duration spent{};
    bool timed() const { return limit.count() != 0; }
    bool exhausted() const { return timed() && spent >= limit; }
};

// A new Maglev chunk of `size` entries for `keys`. With a budget, the fill is timed: the
// allocation too, since on fresh memory its page faults cost more than the fill itself.
std::shared_ptr<std::vector<uint16_t>> fill_maglev(MaglevBuilder& maglev, std::span<const MaglevKey> keys,
                                                   uint32_t size, FillBudget* budget) {
    const bool timed = budget != nullptr && budget->timed();
    const auto t0 = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    auto chunk = std::make_shared<std::vector<uint16_t>>(size);
    maglev.populate(keys, *chunk);
    if (timed) budget->spent += std::chrono::steady_clock::now() - t0;
    return chunk;
}

uint32_t gcd_of(std::span<const uint32_t> v) {
    uint32_t g = 0;
    for (uint32_t x : v) g = std::gcd(g, x);
    return g;
}

// Emits backends and selection tables for one service port; identical sets share them, and
// a set whose table the previous generation already has (same algorithm, size and ordered
// backends) takes that chunk instead of filling a new one. With an exhausted `budget`
// (IncrementalBuilder), a set that needs a new Maglev table larger than
// provisional_maglev_size gets a provisional one (or shares the previous provisional one).
class PortEmitter {
public:
    PortEmitter(ServiceTable& table, MaglevBuilder& maglev, const BuildOptions& options, const ServiceTable* previous,
                FillBudget* budget = nullptr)
        : table_(&table), maglev_(maglev), options_(options), previous_(previous), budget_(budget) {
        // A small previous table (one Service's, IncrementalBuilder) is searched, not indexed:
        // the index would be as large as the highest id.
        if (previous_ == nullptr || previous_->ports.size() <= kSearchedPorts) return;
        uint32_t top = 0;
        for (const ServicePort& sp : previous_->ports)
            if (sp.id != kNone) top = std::max(top, sp.id + 1);
        previous_port_.assign(top, kNone);
        for (uint32_t i = 0; i < previous_->ports.size(); ++i)
            if (previous_->ports[i].id != kNone) previous_port_[previous_->ports[i].id] = i;
    }

    // Emits into another table with another previous (IncrementalBuilder: one Service at a time).
    void retarget(ServiceTable& table, const ServiceTable* previous) {
        table_ = &table;
        previous_ = previous;
        previous_port_.clear();
    }

    uint32_t reused_chunks() const { return reused_; }
    uint32_t provisional_filled() const { return provisional_filled_; }

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
        if (previous_ != nullptr && previous_->ports.size() <= kSearchedPorts) {
            for (const ServicePort& old : previous_->ports)
                if (old.id == sp.id) prev_ = &old;
        } else if (sp.id < previous_port_.size() && previous_port_[sp.id] != kNone) {
            prev_ = &previous_->ports[previous_port_[sp.id]];
        }
        if (prev_ != nullptr && prev_->algorithm != static_cast<uint8_t>(svc.algorithm)) prev_ = nullptr;
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
    static constexpr size_t kSearchedPorts = 8;

    BackendSet emit_set(const Service& svc, const PortPlan& plan, const std::vector<uint32_t>& members) {
        BackendSet set;
        set.first = static_cast<uint32_t>(table_->backends.size());
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
            table_->backends.push_back(b);
            keys_.push_back(MaglevKey{b.ip, b.port});
            weights_.push_back(b.weight);
        }
        set.maglev_size = maglev_size_for(svc, set.count, options_);
        const bool weighted = svc.algorithm == Algorithm::kWeighted && set.count > 0;
        if (set.maglev_size == 0 && !weighted) return set;
        if (const BackendSet* old = reusable(set)) return share(set, *old);
        if (set.maglev_size != 0 && budget_ != nullptr && budget_->exhausted()) {
            const uint32_t small = provisional_maglev_size(set.count);
            if (small < set.maglev_size) {
                set.maglev_full_size = set.maglev_size;
                set.maglev_size = small;
                if (const BackendSet* old = reusable(set)) return share(set, *old);
                ++provisional_filled_;
            }
        }
        std::shared_ptr<std::vector<uint16_t>> chunk;
        if (set.maglev_size != 0) {
            chunk = fill_maglev(maglev_, keys_, set.maglev_size, budget_);
            set.maglev = chunk->data();
        } else {
            chunk = std::make_shared<std::vector<uint16_t>>();
            const std::vector<uint32_t> slots = wheel_slots(weights_);
            for (uint32_t i = 0; i < slots.size(); ++i) chunk->insert(chunk->end(), slots[i], uint16_t(i));
            set.wheel_size = static_cast<uint32_t>(chunk->size());
            set.wheel = chunk->data();
        }
        set.chunk = static_cast<uint32_t>(table_->chunks.size());
        table_->chunks.push_back(std::move(chunk));
        return set;
    }

    BackendSet share(BackendSet& set, const BackendSet& old) {
        set.maglev = old.maglev;
        set.wheel = old.wheel;
        set.wheel_size = old.wheel_size;
        set.chunk = static_cast<uint32_t>(table_->chunks.size());
        table_->chunks.push_back(previous_->chunks[old.chunk]);
        ++reused_;
        return set;
    }

    // A set of the previous generation's port with the same Maglev size (and full size, when
    // provisional) and the same ordered (ip, port, weight) backends as keys_ / weights_, whose
    // chunk the new set can share.
    const BackendSet* reusable(const BackendSet& set) const {
        if (prev_ == nullptr) return nullptr;
        for (const BackendSet* old : {&prev_->internal, &prev_->external, &prev_->cluster}) {
            if (old->chunk == kNone || old->count != set.count || old->maglev_size != set.maglev_size ||
                old->maglev_full_size != set.maglev_full_size)
                continue;
            const Backend* b = previous_->backends.data() + old->first;
            uint32_t i = 0;
            while (i < set.count && b[i].ip == keys_[i].ip && b[i].port == keys_[i].port && b[i].weight == weights_[i])
                ++i;
            if (i == set.count) return old;
        }
        return nullptr;
    }

    ServiceTable* table_;
    MaglevBuilder& maglev_;
    const BuildOptions& options_;
    const ServiceTable* previous_;
    FillBudget* budget_;
    std::vector<uint32_t> previous_port_;  // service-port id → index into previous_->ports (kNone)
    const ServicePort* prev_ = nullptr;    // the port being emitted, as previous_ had it
    uint32_t reused_ = 0;
    uint32_t provisional_filled_ = 0;
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

// Who holds each frontend and health-check port: the first Service to claim one in (ns, name)
// order keeps it; a later one is an error.
struct Owners {
    std::unordered_map<uint64_t, const Service*> vip, node_port;
    std::map<uint16_t, const Service*> health;

    // "field: message" when `svc` cannot take one of `frontends` (or its health-check port).
    std::string conflict(const Service& svc, const std::vector<FrontendPlan>& frontends, bool health_check) const {
        // With earlier Services and within this one.
        std::set<std::pair<bool, uint64_t>> mine;
        for (const FrontendPlan& f : frontends) {
            const auto& owners = f.node_port ? node_port : vip;
            auto taken = owners.find(f.key);
            const Service* owner = taken != owners.end() ? taken->second : nullptr;
            if (owner == nullptr && mine.count({f.node_port, f.key})) owner = &svc;
            if (owner != nullptr) {
                const uint16_t port = ntohs(f.frontend.port);
                return f.field + ": " +
                       (f.node_port ? "node port " + std::to_string(port) + '/' + protocol_name(f.frontend.protocol)
                                    : endpoint_string(f.frontend.ip, port, f.frontend.protocol)) +
                       " is already a frontend of " + owner->ns + '/' + owner->name;
            }
            mine.emplace(f.node_port, f.key);
        }
        if (health_check) {
            auto h = health.find(svc.health_check_node_port);
            if (h != health.end())
                return "spec.healthCheckNodePort: " + std::to_string(svc.health_check_node_port) +
                       " is already used by " + h->second->ns + '/' + h->second->name;
        }
        return {};
    }

    void claim(const Service& svc, const std::vector<FrontendPlan>& frontends, bool health_check) {
        for (const FrontendPlan& f : frontends) (f.node_port ? node_port : vip).emplace(f.key, &svc);
        if (health_check) health.emplace(svc.health_check_node_port, &svc);
    }
};

// Appends the ports of an accepted Service (ids, names, backends, selection tables) to `table`.
void emit_ports(const Service& svc, const ServicePlan& plan, ServiceTable& table, PortEmitter& emitter, StableIds& ids,
                std::vector<std::pair<uint32_t, BackendStatus>>& status) {
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
        emitter.emit(svc, p, sp, ids, status);
        table.ports.push_back(sp);
    }
}

// The frontends of the table being built and the keys its two maps are built from.
struct FrontendItems {
    std::vector<std::pair<uint64_t, uint32_t>> vip, node_port;

    // Appends a Service's frontends, whose ports start at `first_port`.
    void add(ServiceTable& table, const std::vector<FrontendPlan>& frontends, uint32_t first_port) {
        for (const FrontendPlan& f : frontends) {
            const auto fe = static_cast<uint32_t>(table.frontends.size());
            table.frontends.push_back(f.frontend);
            table.frontends.back().service_port = first_port + f.port;
            (f.node_port ? node_port : vip).emplace_back(f.key, fe);
        }
    }
    void build_maps(ServiceTable& table) const {
        table.by_vip.build(vip);
        table.by_node_port.build(node_port);
    }
};

// Ascending by id without a sort: ids are dense below the capacity, so bucket them.
void sort_by_id(std::vector<std::pair<uint32_t, BackendStatus>>& status) {
    uint32_t top = 0;
    for (const auto& [id, st] : status) top = std::max(top, id + 1);
    std::vector<uint8_t> by_id(top, 0);  // BackendStatus; kFree (0): no entry
    for (const auto& [id, st] : status) by_id[id] = static_cast<uint8_t>(st);
    status.clear();
    for (uint32_t id = 0; id < top; ++id)
        if (by_id[id] != 0) status.emplace_back(id, static_cast<BackendStatus>(by_id[id]));
}

// The distinct provisional Maglev tables of a table (identical sets of a port share one).
uint32_t provisional_tables(const ServiceTable& t) {
    uint32_t n = 0;
    for (const ServicePort& sp : t.ports) {
        const BackendSet* sets[3] = {&sp.internal, &sp.external, &sp.cluster};
        for (int s = 0; s < 3; ++s) {
            if (sets[s]->maglev_full_size == 0) continue;
            bool shared = false;
            for (int k = 0; k < s; ++k) shared |= sets[k]->chunk == sets[s]->chunk;
            n += !shared;
        }
    }
    return n;
}

}  // namespace

uint32_t provisional_maglev_size(uint32_t backends) {
    return next_prime(static_cast<uint32_t>(uint64_t{kMaglevMinEntriesPerBackend} * std::max(backends, 1u)));
}

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

    Owners owners;
    FrontendItems items;
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
        error = owners.conflict(svc, plan.frontends, plan.health_check);
        if (error.empty()) error = check_capacity(svc, plan, ids, pending);
        if (!error.empty()) {
            fail(error);
            continue;
        }
        owners.claim(svc, plan.frontends, plan.health_check);
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
        emit_ports(svc, plan, table, emitter, ids, result.backend_status);
        items.add(table, plan.frontends, first_port);
        if (plan.health_check)
            result.health_check_local_endpoints[svc.health_check_node_port] = plan.health_check_count;
    }
    items.build_maps(table);

    RetiredIds retired = ids.end_build();
    result.retired_ports = std::move(retired.ports);
    result.retired_backends = std::move(retired.backends);
    result.shared_tables = emitter.reused_chunks();
    sort_by_id(result.backend_status);
    return result;
}


// ---- IncrementalBuilder ----

// A Service's place in an assembled table (IncrementalBuilder): its fragment's offsets and
// sizes, and what it contributed to the frontend maps.
struct Layout {
    bool accepted = false;
    uint32_t port_base = 0, backend_base = 0, chunk_base = 0, name_base = 0;
    uint32_t ports = 0, backends = 0, chunks = 0, names = 0;
    struct FrontendKey {
        uint64_t key;
        uint32_t port;
        uint8_t node_port, kind;
        bool operator==(const FrontendKey&) const = default;
    };
    std::vector<FrontendKey> frontends;

    // Same shape: the fragment fits where the old one was and its frontends are the same.
    bool same_shape(const Layout& o) const {
        return accepted == o.accepted && (!accepted || (ports == o.ports && backends == o.backends &&
                                                        chunks == o.chunks && names == o.names &&
                                                        frontends == o.frontends));
    }
};

Layout layout_of(bool accepted, const ServiceTable& fragment, const std::vector<FrontendPlan>& frontends) {
    Layout l;
    l.accepted = accepted;
    if (!accepted) return l;
    l.ports = static_cast<uint32_t>(fragment.ports.size());
    l.backends = static_cast<uint32_t>(fragment.backends.size());
    l.chunks = static_cast<uint32_t>(fragment.chunks.size());
    l.names = static_cast<uint32_t>(fragment.names.size());
    l.frontends.reserve(frontends.size());
    for (const FrontendPlan& f : frontends)
        l.frontends.push_back({f.key, f.port, f.node_port, static_cast<uint8_t>(f.frontend.kind)});
    return l;
}

// A fragment's service port moved to the table's offsets.
ServicePort rebased(ServicePort sp, const Layout& at) {
    for (BackendSet* set : {&sp.internal, &sp.external, &sp.cluster}) {
        set->first += at.backend_base;
        if (set->chunk != kNone) set->chunk += at.chunk_base;
    }
    sp.name += at.name_base;
    return sp;
}

struct IncrementalBuilder::Impl {
    // One Service (or the slices of a Service not seen yet), with its last result.
    struct Entry {
        std::string ns, name;
        std::optional<Service> svc;
        std::map<std::string, EndpointSlice> slices;  // by slice name, as build_table orders them
        bool dirty = false;
        // The last plan: `planned` when the Service is programmable and its plan succeeded.
        bool planned = false;
        std::string plan_error;
        std::vector<FrontendPlan> frontends;
        bool health_check = false;
        uint16_t health_check_port = 0;  // as planned (the Service may have been replaced since)
        uint32_t health_check_count = 0;
        // The last outcome.
        std::string conflict;  // a frontend or health-check port another Service holds
        std::string error;     // reported for it: plan, conflict or capacity ("" accepted or ignored)
        bool accepted = false;
        ServiceTable fragment;  // its ports, backends, selection chunks and names (indices relative)
        std::vector<uint32_t> port_ids, backend_ids;  // every id it holds
        uint32_t provisional = 0;  // provisional Maglev tables in `fragment`
        // Where its fragment sits in the last table built, and that table's frontends of it:
        // a build that changes no Service's layout patches a copy of that table in place.
        Layout layout;
    };
    using Key = std::pair<std::string, std::string>;  // (ns, name)

    Impl(NodeInfo n, BuildOptions o, StableIds& i) : node(std::move(n)), options(o), ids(i) {}

    Entry& entry(const std::string& ns, const std::string& name) {
        auto [it, added] = entries.try_emplace(Key{ns, name});
        if (added) {
            it->second.ns = ns;
            it->second.name = name;
            order.clear();
        }
        return it->second;
    }
    void mark(Entry& e) {
        if (e.dirty) return;
        e.dirty = true;
        dirty.push_back(&e);
    }

    void claim(const Entry& e, int delta) {
        auto count = [&](uint32_t& c) {
            if (delta > 0 && ++c == 2) ++contested;
            if (delta < 0 && c-- == 2) --contested;
        };
        for (const FrontendPlan& f : e.frontends) {
            auto& map = claims[f.node_port ? 1 : 0];
            count(map[f.key]);
            if (map[f.key] == 0) map.erase(f.key);
        }
        if (e.health_check) {
            const uint16_t port = e.health_check_port;
            count(health_claims[port]);
            if (health_claims[port] == 0) health_claims.erase(port);
        }
    }

    // Plans `e` afresh (its frontends and claims follow). Returns the plan when it succeeded.
    std::optional<ServicePlan> plan(Entry& e, bool update_claims) {
        if (update_claims) claim(e, -1);
        e.planned = false;
        e.plan_error.clear();
        e.frontends.clear();
        e.health_check = false;
        e.health_check_count = 0;
        if (!e.svc || e.svc->type == ServiceType::kExternalName || e.svc->headless) return std::nullopt;
        std::vector<const EndpointSlice*> slices;
        slices.reserve(e.slices.size());
        for (const auto& [name, s] : e.slices) slices.push_back(&s);
        ServicePlan p;
        if (!plan_service(*e.svc, node, slices, p, e.plan_error)) return std::nullopt;
        e.planned = true;
        e.frontends = p.frontends;
        e.health_check = p.health_check;
        e.health_check_port = e.svc->health_check_node_port;
        e.health_check_count = p.health_check_count;
        if (update_claims) claim(e, +1);
        return p;
    }

    // Replaces the provisional Maglev tables of e's fragment by full ones: the fills a build
    // without a budget makes (same backends, same order, full size). Nothing else changes.
    // Returns the tables upgraded.
    uint32_t upgrade(Entry& e, FillBudget& budget) {
        ServiceTable& f = e.fragment;
        uint32_t n = 0;
        for (ServicePort& sp : f.ports) {
            BackendSet* sets[3] = {&sp.internal, &sp.external, &sp.cluster};
            for (int s = 0; s < 3; ++s) {
                BackendSet& set = *sets[s];
                if (set.maglev_full_size == 0) continue;
                int same = -1;  // an identical earlier set, sharing the chunk (already upgraded)
                for (int k = 0; k < s && same < 0; ++k)
                    if (sets[k]->chunk == set.chunk) same = k;
                if (same >= 0) {
                    set = *sets[same];
                    continue;
                }
                keys.clear();
                for (uint32_t i = 0; i < set.count; ++i)
                    keys.push_back(MaglevKey{f.backends[set.first + i].ip, f.backends[set.first + i].port});
                auto chunk = fill_maglev(maglev, keys, set.maglev_full_size, &budget);
                set.maglev = chunk->data();
                set.maglev_size = set.maglev_full_size;
                set.maglev_full_size = 0;
                f.chunks[set.chunk] = std::move(chunk);
                ++n;
            }
        }
        return n;
    }

    NodeInfo node;
    BuildOptions options;
    StableIds& ids;
    std::map<Key, Entry> entries;                  // (ns, name) order, as build_table emits
    std::vector<Entry*> order;                     // entries, flat (empty: to be rebuilt)
    std::map<Key, std::string> slice_service;      // (ns, slice name) → the Service it belongs to
    std::vector<Entry*> dirty;
    std::unordered_map<uint64_t, uint32_t> claims[2];  // frontend key → planned Services claiming it (vip, node port)
    std::map<uint16_t, uint32_t> health_claims;
    size_t contested = 0;          // keys claimed more than once
    size_t conflict_rejected = 0;  // Services left out for a conflict
    MaglevBuilder maglev;
    std::vector<MaglevKey> keys;  // upgrade()'s scratch
    size_t sizes[5] = {};  // accepted totals: ports, frontends, backends, chunks, names
    std::set<Key> provisional;       // Services with a provisional Maglev table, upgraded in this order
    size_t provisional_tables = 0;   // their provisional tables
    uint64_t last_generation = 0;    // of the last table built
    const ServiceTable* last_table = nullptr;  // its address (nullptr: none yet)
};

IncrementalBuilder::IncrementalBuilder(NodeInfo node, BuildOptions options, StableIds& ids)
    : impl_(std::make_unique<Impl>(std::move(node), options, ids)) {}

IncrementalBuilder::~IncrementalBuilder() = default;

void IncrementalBuilder::set_service(Service service) {
    Impl::Entry& e = impl_->entry(service.ns, service.name);
    e.svc = std::move(service);
    impl_->mark(e);
}

void IncrementalBuilder::remove_service(const std::string& ns, const std::string& name) {
    auto it = impl_->entries.find(Impl::Key{ns, name});
    if (it == impl_->entries.end() || !it->second.svc) return;
    it->second.svc.reset();
    impl_->mark(it->second);
}

void IncrementalBuilder::set_slice(EndpointSlice slice) {
    remove_slice(slice.ns, slice.name);
    impl_->slice_service[Impl::Key{slice.ns, slice.name}] = slice.service_name;
    Impl::Entry& e = impl_->entry(slice.ns, slice.service_name);
    const std::string name = slice.name;
    e.slices.insert_or_assign(name, std::move(slice));
    impl_->mark(e);
}

void IncrementalBuilder::remove_slice(const std::string& ns, const std::string& name) {
    auto it = impl_->slice_service.find(Impl::Key{ns, name});
    if (it == impl_->slice_service.end()) return;
    auto e = impl_->entries.find(Impl::Key{ns, it->second});
    if (e != impl_->entries.end() && e->second.slices.erase(name) != 0) impl_->mark(e->second);
    impl_->slice_service.erase(it);
}

void IncrementalBuilder::clear() {
    for (auto& [key, e] : impl_->entries) {
        e.svc.reset();
        e.slices.clear();
        impl_->mark(e);
    }
    impl_->slice_service.clear();
}

void IncrementalBuilder::set_node(NodeInfo node) {
    impl_->node = std::move(node);
    for (auto& [key, e] : impl_->entries) impl_->mark(e);
}

bool IncrementalBuilder::pending() const { return !impl_->dirty.empty(); }

size_t IncrementalBuilder::provisional() const { return impl_->provisional_tables; }

BuildResult IncrementalBuilder::build(uint64_t generation, const ServiceTable* previous, bool churn) {
    Impl& m = *impl_;
    using Entry = Impl::Entry;
    BuildResult result;
    result.table = std::make_unique<ServiceTable>();
    ServiceTable& table = *result.table;
    table.generation = generation;
    table.node_ips = m.node.node_ips;
    stats_.replanned = m.dirty.size();

    // 1. Re-plan what changed.
    std::unordered_map<Entry*, ServicePlan> plans;
    for (Entry* e : m.dirty)
        if (auto p = m.plan(*e, true)) plans.emplace(e, std::move(*p));

    // 2. Frontend ownership. Without a contested key nobody conflicts; otherwise every planned
    // Service is checked again in (ns, name) order, as build_table does.
    std::vector<Entry*> emit = m.dirty;
    stats_.full_acceptance = m.contested > 0 || m.conflict_rejected > 0;
    if (stats_.full_acceptance) {
        Owners owners;
        m.conflict_rejected = 0;
        for (auto& [key, e] : m.entries) {
            std::string conflict;
            if (e.planned) conflict = owners.conflict(*e.svc, e.frontends, e.health_check);
            if (!conflict.empty()) ++m.conflict_rejected;
            else if (e.planned) owners.claim(*e.svc, e.frontends, e.health_check);
            if (conflict == e.conflict) continue;
            e.conflict = std::move(conflict);
            if (e.dirty) continue;
            // Its acceptance changed: emit it again (with a plan when it now gets in).
            if (e.conflict.empty())
                if (auto p = m.plan(e, false)) plans.emplace(&e, std::move(*p));
            emit.push_back(&e);
        }
    } else {
        for (Entry* e : m.dirty) e->conflict.clear();
    }
    std::sort(emit.begin(), emit.end(),
              [](const Entry* a, const Entry* b) { return a->ns != b->ns ? a->ns < b->ns : a->name < b->name; });

    // 3. Emit the re-planned Services in order; retire the ids they no longer hold. Their fills
    // come first out of the budget.
    FillBudget budget;
    const uint32_t budget_us = m.options.maglev_fill_budget_us;
    budget.limit = std::chrono::microseconds(churn && budget_us != 0 ? std::min(budget_us, kChurnFillBudgetUs) : budget_us);
    ServiceTable scratch;
    PortEmitter emitter(scratch, m.maglev, m.options, nullptr, &budget);
    std::vector<uint32_t> new_ports, new_backends;
    for (Entry* e : emit) {
        e->error = e->planned ? e->conflict : e->plan_error;
        // Each Service takes its new ids right after its check, so StableIds' free counts
        // already hold the earlier ones: nothing is pending across Services.
        PendingIds pending;
        auto p = plans.find(e);
        if (e->planned && e->error.empty() && p != plans.end())
            e->error = check_capacity(*e->svc, p->second, m.ids, pending);
        const bool accept = e->planned && e->error.empty() && p != plans.end();
        ServiceTable fragment;
        new_ports.clear();
        new_backends.clear();
        if (accept) {
            const size_t first_status = result.backend_status.size();
            emitter.retarget(fragment, &e->fragment);
            emit_ports(*e->svc, p->second, fragment, emitter, m.ids, result.backend_status);
            for (const ServicePort& sp : fragment.ports) new_ports.push_back(sp.id);
            for (size_t i = first_status; i < result.backend_status.size(); ++i)
                new_backends.push_back(result.backend_status[i].first);
        }
        std::sort(new_ports.begin(), new_ports.end());
        std::sort(new_backends.begin(), new_backends.end());
        for (uint32_t id : e->port_ids)
            if (!std::binary_search(new_ports.begin(), new_ports.end(), id) && m.ids.retire_port(id))
                result.retired_ports.push_back(id);
        for (uint32_t id : e->backend_ids)
            if (!std::binary_search(new_backends.begin(), new_backends.end(), id) && m.ids.retire_backend(id))
                result.retired_backends.push_back(id);
        e->port_ids = new_ports;
        e->backend_ids = new_backends;
        auto count = [&](const Entry& x, int sign) {
            if (!x.accepted) return;
            const size_t n[5] = {x.fragment.ports.size(), x.frontends.size(), x.fragment.backends.size(),
                                 x.fragment.chunks.size(), x.fragment.names.size()};
            for (int i = 0; i < 5; ++i) m.sizes[i] += sign > 0 ? n[i] : -n[i];
        };
        count(*e, -1);
        e->fragment = std::move(fragment);
        e->accepted = accept;
        count(*e, +1);
        m.provisional_tables -= e->provisional;
        e->provisional = provisional_tables(e->fragment);
        m.provisional_tables += e->provisional;
        if (e->provisional != 0) m.provisional.emplace(e->ns, e->name);
        else m.provisional.erase(Impl::Key{e->ns, e->name});
    }
    result.shared_tables = emitter.reused_chunks();
    stats_.provisional_filled = emitter.provisional_filled();

    // 3b. What is left of the budget (all of it when nothing changed) upgrades provisional
    // tables, Service by Service in (ns, name) order.
    stats_.upgraded = 0;
    std::vector<Entry*> touched = emit;  // Services whose fragment this build changed
    for (auto it = m.provisional.begin(); it != m.provisional.end() && !budget.exhausted() && !churn;) {
        Entry& e = m.entries.at(*it);
        stats_.upgraded += m.upgrade(e, budget);
        touched.push_back(&e);
        m.provisional_tables -= e.provisional;
        e.provisional = 0;
        it = m.provisional.erase(it);
    }
    stats_.maglev_fill_ms = std::chrono::duration<double, std::milli>(budget.spent).count();
    for (Entry* e : m.dirty) e->dirty = false;
    m.dirty.clear();
    for (Entry* e : emit)
        if (!e->svc && e->slices.empty() && e->port_ids.empty() && e->backend_ids.empty()) {
            m.entries.erase(Impl::Key{e->ns, e->name});
            m.order.clear();
        }
    const bool order_changed = m.order.empty();  // a Service came or went
    if (m.order.empty())
        for (auto& [key, e] : m.entries) m.order.push_back(&e);
    std::sort(result.retired_ports.begin(), result.retired_ports.end());
    std::sort(result.retired_backends.begin(), result.retired_backends.end());
    sort_by_id(result.backend_status);

    // 4. The table. When no Service came or went and every changed one kept its layout (the
    // usual endpoint change: same ports, as many backends, same frontends), a copy of the last
    // table with their fragments written over their old ones: flat copies of the arrays, no
    // per-Service work, and the frontend maps as they were.
    size_t services = 0;
    for (const Entry* e : m.order) services += e->svc.has_value();
    stats_.services = services;
    for (const Entry* e : m.order) {
        if (!e->error.empty()) result.errors.push_back(e->ns + '/' + e->name + ": " + e->error);
        if (e->accepted && e->health_check)
            result.health_check_local_endpoints[e->health_check_port] = e->health_check_count;
    }
    // `previous` must be the very table the last build returned (its address and generation).
    bool patch = previous != nullptr && previous == m.last_table && previous->generation == m.last_generation &&
                 !order_changed;
    for (size_t i = 0; i < touched.size() && patch; ++i) {
        const Entry& e = *touched[i];
        patch = layout_of(e.accepted, e.fragment, e.frontends).same_shape(e.layout);
    }
    m.last_generation = generation;
    m.last_table = &table;  // (the caller owns it from here; only compared, never dereferenced)
    stats_.patched = patch;
    if (patch) {
        table.frontends = previous->frontends;
        table.by_vip = previous->by_vip;
        table.by_node_port = previous->by_node_port;
        table.ports = previous->ports;
        table.backends = previous->backends;
        table.chunks = previous->chunks;
        table.names = previous->names;
        for (const Entry* e : touched) {
            if (!e->accepted) continue;
            const ServiceTable& f = e->fragment;
            const Layout& at = e->layout;
            for (size_t i = 0; i < f.ports.size(); ++i) table.ports[at.port_base + i] = rebased(f.ports[i], at);
            std::copy(f.backends.begin(), f.backends.end(), table.backends.begin() + at.backend_base);
            std::copy(f.chunks.begin(), f.chunks.end(), table.chunks.begin() + at.chunk_base);
            table.names.overwrite(at.name_base, f.names);
        }
        return result;
    }

    // Otherwise every accepted Service's fragment, rebased, in (ns, name) order.
    table.ports.reserve(m.sizes[0]);
    table.frontends.reserve(m.sizes[1]);
    table.backends.reserve(m.sizes[2]);
    table.chunks.reserve(m.sizes[3]);
    table.names.reserve(m.sizes[4]);
    FrontendItems items;
    items.vip.reserve(m.sizes[1]);
    for (Entry* entry : m.order) {
        Entry& e = *entry;
        e.layout = layout_of(e.accepted, e.fragment, e.frontends);
        if (!e.accepted) continue;
        const ServiceTable& f = e.fragment;
        Layout& at = e.layout;
        at.port_base = static_cast<uint32_t>(table.ports.size());
        at.backend_base = static_cast<uint32_t>(table.backends.size());
        at.chunk_base = static_cast<uint32_t>(table.chunks.size());
        at.name_base = static_cast<uint32_t>(table.names.size());
        for (const ServicePort& sp : f.ports) table.ports.push_back(rebased(sp, at));
        table.backends.insert(table.backends.end(), f.backends.begin(), f.backends.end());
        table.chunks.insert(table.chunks.end(), f.chunks.begin(), f.chunks.end());
        table.names.append(f.names);
        items.add(table, e.frontends, at.port_base);
    }
    items.build_maps(table);
    return result;
}

}  // namespace enidp::lb

#include "control/metrics/metrics.hpp"

#include <array>
#include <map>
#include <mutex>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace enidp::metrics {

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Labels;

// A registry counter that follows a source counter which may go backwards.
struct Monotonic {
    Counter* counter = nullptr;
    uint64_t base = 0;  // the source value already accounted for

    void feed(uint64_t value) {
        if (value > base) counter->Increment(static_cast<double>(value - base));
        base = value;  // below the base: a reset; count from the new value next round
    }
};

Family<Counter>& counter_family(prometheus::Registry& r, const char* name, const char* help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

Family<Gauge>& gauge_family(prometheus::Registry& r, const char* name, const char* help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

// One number of a labelled source object (a port, a worker) and how it is exposed.
template <typename Source>
struct Field {
    const char* name;
    const char* help;
    uint64_t (*get)(const Source&);
    bool counter;  // false: a gauge
};

// Series of objects that come and go (ports, workers): one family per field, one series per
// label set. begin() → feed() for each live object → end() removes the series not fed.
template <typename Source, size_t N>
class SeriesSet {
public:
    SeriesSet(prometheus::Registry& r, const std::array<Field<Source>, N>& fields) : fields_(fields) {
        for (size_t i = 0; i < N; i++) {
            if (fields_[i].counter) counters_[i] = &counter_family(r, fields_[i].name, fields_[i].help);
            else gauges_[i] = &gauge_family(r, fields_[i].name, fields_[i].help);
        }
    }

    void begin() {
        for (auto& [key, s] : series_) s.seen = false;
    }

    void feed(const Labels& labels, const Source& src) {
        auto [it, added] = series_.try_emplace(labels);
        Series& s = it->second;
        if (added) {
            for (size_t i = 0; i < N; i++) {
                if (fields_[i].counter) s.counters[i].counter = &counters_[i]->Add(labels);
                else s.gauges[i] = &gauges_[i]->Add(labels);
            }
        }
        s.seen = true;
        for (size_t i = 0; i < N; i++) {
            if (fields_[i].counter) s.counters[i].feed(fields_[i].get(src));
            else s.gauges[i]->Set(static_cast<double>(fields_[i].get(src)));
        }
    }

    void end() {
        for (auto it = series_.begin(); it != series_.end();) {
            if (it->second.seen) {
                ++it;
                continue;
            }
            for (size_t i = 0; i < N; i++) {
                if (fields_[i].counter) counters_[i]->Remove(it->second.counters[i].counter);
                else gauges_[i]->Remove(it->second.gauges[i]);
            }
            it = series_.erase(it);
        }
    }

private:
    struct Series {
        std::array<Monotonic, N> counters{};
        std::array<Gauge*, N> gauges{};
        bool seen = false;
    };
    std::array<Field<Source>, N> fields_;
    std::array<Family<Counter>*, N> counters_{};
    std::array<Family<Gauge>*, N> gauges_{};
    std::map<Labels, Series> series_;
};

using dp::PortCounters;
using dp::WorkerCounters;

const std::array<Field<PortCounters>, 9> kPortFields = {{
    {"enidp_port_rx_packets_total", "Packets received on the port (PMD counter).",
     [](const PortCounters& p) { return p.rx_packets; }, true},
    {"enidp_port_tx_packets_total", "Packets sent by the port (PMD counter).",
     [](const PortCounters& p) { return p.tx_packets; }, true},
    {"enidp_port_rx_bytes_total", "Bytes received on the port (PMD counter).",
     [](const PortCounters& p) { return p.rx_bytes; }, true},
    {"enidp_port_tx_bytes_total", "Bytes sent by the port (PMD counter).",
     [](const PortCounters& p) { return p.tx_bytes; }, true},
    {"enidp_port_rx_missed_total", "Packets the NIC dropped because no RX descriptor was free.",
     [](const PortCounters& p) { return p.rx_missed; }, true},
    {"enidp_port_rx_errors_total", "Erroneous packets received (PMD counter).",
     [](const PortCounters& p) { return p.rx_errors; }, true},
    {"enidp_port_tx_errors_total", "Packets the port failed to send (PMD counter).",
     [](const PortCounters& p) { return p.tx_errors; }, true},
    {"enidp_port_rx_nombuf_total", "RX mbuf allocation failures (PMD counter).",
     [](const PortCounters& p) { return p.rx_nombuf; }, true},
    {"enidp_port_link_up", "1 while the port's link is up.",
     [](const PortCounters& p) { return static_cast<uint64_t>(p.link_up ? 1 : 0); }, false},
}};

const std::array<Field<WorkerCounters>, 6> kWorkerFields = {{
    {"enidp_worker_loops_total", "Poll-loop iterations of the worker.", [](const WorkerCounters& w) { return w.loops; },
     true},
    {"enidp_worker_busy_loops_total", "Poll-loop iterations that received packets.",
     [](const WorkerCounters& w) { return w.busy_loops; }, true},
    {"enidp_worker_busy_cycles_total", "TSC cycles spent in iterations that received packets.",
     [](const WorkerCounters& w) { return w.busy_cycles; }, true},
    {"enidp_worker_max_loop_gap_nanoseconds", "Longest poll-loop iteration (between two quiescent reports) since start.",
     [](const WorkerCounters& w) { return w.max_loop_gap_ns; }, false},
    {"enidp_worker_loop_gaps_over_100us_total", "Poll-loop iterations that took longer than 100 microseconds (stalls).",
     [](const WorkerCounters& w) { return w.loop_gaps_over_100us; }, true},
    {"enidp_worker_loop_gaps_over_1ms_total", "Poll-loop iterations that took longer than 1 millisecond.",
     [](const WorkerCounters& w) { return w.loop_gaps_over_1ms; }, true},
}};

// NetworkPolicy counters by name (they survive recompiles: the runtime folds them by name).
struct PodVerdicts {
    uint64_t allowed = 0, denied = 0;
};
const std::array<Field<PodVerdicts>, 2> kPodPolicyFields = {{
    {"enidp_policy_pod_allowed_flows_total", "NetworkPolicy decisions that admitted a flow of the local pod.",
     [](const PodVerdicts& v) { return v.allowed; }, true},
    {"enidp_policy_pod_denied_flows_total", "NetworkPolicy decisions that denied a flow of the local pod.",
     [](const PodVerdicts& v) { return v.denied; }, true},
}};
const std::array<Field<uint64_t>, 1> kPolicyAllowedFields = {{
    {"enidp_policy_allowed_flows_total", "Flows a rule of the NetworkPolicy admitted.",
     [](const uint64_t& v) { return v; }, true},
}};
const std::array<Field<uint64_t>, 1> kPayloadDeniedFields = {{
    {"enidp_payload_denied_packets_total", "Packets the PayloadPolicy denied.", [](const uint64_t& v) { return v; },
     true},
}};

using dp::ServicePortCounters;
const std::array<Field<ServicePortCounters>, 3> kServiceFields = {{
    {"enidp_service_new_flows_total", "Flows created for the Service port (a backend selected).",
     [](const ServicePortCounters& s) { return s.new_flows; }, true},
    {"enidp_service_rejected_total", "New connections to the Service port answered REJECT or dropped for lack of endpoints.",
     [](const ServicePortCounters& s) { return s.rejected; }, true},
    {"enidp_service_active_flows", "Live conntrack flows to the Service port's backends.",
     [](const ServicePortCounters& s) { return s.active_flows; }, false},
}};

// Conntrack counters exposed as enidp_conntrack_operations_total{op}.
constexpr size_t kCtOps = 6;
constexpr std::array<const char*, kCtOps> kCtOpNames = {"inserted", "insert_failed", "expired",
                                                        "evicted",  "purged",        "replaced"};

std::array<uint64_t, kCtOps> ct_ops(const lb::CtCounters& ct) {
    return {ct.inserted, ct.insert_failed, ct.expired, ct.evicted, ct.purged, ct.replaced};
}

}  // namespace

struct Metrics::Impl {
    mutable std::mutex mu;
    std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();

    SeriesSet<PortCounters, kPortFields.size()> ports{*registry, kPortFields};
    SeriesSet<WorkerCounters, kWorkerFields.size()> workers{*registry, kWorkerFields};
    SeriesSet<PodVerdicts, kPodPolicyFields.size()> policy_pods{*registry, kPodPolicyFields};
    SeriesSet<ServicePortCounters, kServiceFields.size()> services_series{*registry, kServiceFields};
    SeriesSet<uint64_t, 1> policy_allowed{*registry, kPolicyAllowedFields};
    SeriesSet<uint64_t, 1> payload_denied{*registry, kPayloadDeniedFields};
    Gauge* policy_active = nullptr;
    Gauge* policy_generation = nullptr;
    Gauge* policy_rules_ingress = nullptr;
    Gauge* policy_rules_egress = nullptr;

    std::array<Monotonic, dp::kDropCount> drops{};
    std::array<Monotonic, dp::kEventCount> events{};
    std::array<Monotonic, kCtOps> ct_ops{};
    Monotonic ct_port_rewrites, ct_gc_passes;

    Gauge* mempool_in_use = nullptr;
    Gauge* mempool_available = nullptr;
    Gauge* mempool_size = nullptr;
    Gauge* ct_flows = nullptr;
    Gauge* ct_capacity = nullptr;
    Gauge* services = nullptr;
    Gauge* frontends = nullptr;
    Gauge* backends = nullptr;
    Gauge* affinity_entries = nullptr;
    Gauge* table_generation = nullptr;
    Gauge* maglev_provisional = nullptr;
    Counter* publications[2][2] = {};  // [patched][churn]
    Gauge* snapshot_generation = nullptr;
    Gauge* desired_generation = nullptr;
    Gauge* realized_generation = nullptr;
    prometheus::Histogram* programming = nullptr;

    Impl();
};

Metrics::Impl::Impl() {
    auto& r = *registry;
    auto& drop_family = counter_family(r, "enidp_drops_total",
                                       "Packets the workers freed without sending, by reason (docs/metrics.md).");
    for (size_t i = 0; i < dp::kDropCount; i++) drops[i].counter = &drop_family.Add({{"reason", dp::kDropNames[i]}});
    auto& event_family = counter_family(r, "enidp_events_total", "Fast-path events, by name (docs/metrics.md).");
    for (size_t i = 0; i < dp::kEventCount; i++) events[i].counter = &event_family.Add({{"event", dp::kEventNames[i]}});

    auto& mempool = gauge_family(r, "enidp_mempool_mbufs", "Mbufs of the packet mempool, in use or available.");
    mempool_in_use = &mempool.Add({{"state", "in_use"}});
    mempool_available = &mempool.Add({{"state", "available"}});
    mempool_size = &gauge_family(r, "enidp_mempool_size", "Mbufs in the packet mempool.").Add({});

    ct_flows = &gauge_family(r, "enidp_conntrack_flows", "Conntrack entries in use.").Add({});
    policy_active = &gauge_family(r, "enidp_policy_active", "1 while a NetworkPolicy / PayloadPolicy snapshot is enforced.")
                         .Add({});
    policy_generation =
        &gauge_family(r, "enidp_policy_generation", "Generation of the published policy snapshot.").Add({});
    auto& rules = gauge_family(r, "enidp_policy_rules", "rte_acl rules of the published policy snapshot.");
    policy_rules_ingress = &rules.Add({{"direction", "ingress"}});
    policy_rules_egress = &rules.Add({{"direction", "egress"}});
    ct_capacity = &gauge_family(r, "enidp_conntrack_capacity", "Conntrack entries the table can hold.").Add({});
    auto& ops = counter_family(r, "enidp_conntrack_operations_total",
                               "Conntrack insertions, failed insertions and removals, by operation.");
    for (size_t i = 0; i < kCtOps; i++) ct_ops[i].counter = &ops.Add({{"op", kCtOpNames[i]}});
    ct_port_rewrites.counter = &counter_family(r, "enidp_conntrack_port_rewrites_total",
                                               "Inserts whose reply tuple clashed and got a new source port.")
                                    .Add({});
    ct_gc_passes.counter =
        &counter_family(r, "enidp_conntrack_gc_passes_total", "Completed garbage-collection sweeps of the table.")
             .Add({});

    services =
        &gauge_family(r, "enidp_services", "Service ports (Service x port) in the published Service table.").Add({});
    frontends =
        &gauge_family(r, "enidp_service_frontends", "Frontends (VIP, port, protocol) in the published Service table.")
             .Add({});
    backends = &gauge_family(r, "enidp_service_backends", "Backends in the published Service table.").Add({});
    affinity_entries = &gauge_family(r, "enidp_affinity_entries", "ClientIP session-affinity entries in use.").Add({});
    table_generation =
        &gauge_family(r, "enidp_service_table_generation", "Generation of the published Service table.").Add({});
    maglev_provisional = &gauge_family(r, "enidp_lb_maglev_provisional_sets",
                                       "Provisional (smaller, later upgraded) Maglev tables in the published Service "
                                       "table.")
                              .Add({});
    auto& pubs = counter_family(r, "enidp_service_table_publications_total",
                                "Service table publications, by how the table was built (patched: a copy of the "
                                "last one with the changed Services written over; assembled: from every Service) "
                                "and whether changes arrived faster than the minimum sync period (churn).");
    for (int p = 0; p < 2; ++p)
        for (int c = 0; c < 2; ++c)
            publications[p][c] =
                &pubs.Add({{"build", p ? "patched" : "assembled"}, {"churn", c ? "true" : "false"}});
    snapshot_generation =
        &gauge_family(r, "enidp_snapshot_generation", "Generation of the published dataplane snapshot.").Add({});

    desired_generation =
        &gauge_family(r, "enidp_desired_generation", "Generation of the desired state (all sources).").Add({});
    realized_generation = &gauge_family(r, "enidp_realized_generation",
                                        "Generation of the desired state the data path runs (realized <= desired).")
                               .Add({});

    programming = &prometheus::BuildHistogram()
                       .Name("enidp_network_programming_duration_seconds")
                       .Help("Latency from an object change to the data-path snapshot that realizes it.")
                       .Register(r)
                       .Add({}, Metrics::programming_buckets());
}

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

const std::vector<double>& Metrics::programming_buckets() {
    static const std::vector<double> kBuckets = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10};
    return kBuckets;
}

void Metrics::update(const dp::DataplaneCounters& c) {
    std::lock_guard lock(impl_->mu);
    Impl& m = *impl_;

    m.ports.begin();
    for (const auto& p : c.ports)
        m.ports.feed({{"port", std::to_string(p.port)}, {"device", p.device}, {"role", p.role}, {"owner", p.owner}}, p);
    m.ports.end();

    m.workers.begin();
    for (const auto& w : c.workers) m.workers.feed({{"worker", std::to_string(w.id)}}, w);
    m.workers.end();

    for (size_t i = 0; i < dp::kDropCount; i++) m.drops[i].feed(c.drops[i]);
    for (size_t i = 0; i < dp::kEventCount; i++) m.events[i].feed(c.events[i]);

    m.mempool_in_use->Set(c.mempool_in_use);
    m.mempool_available->Set(c.mempool_available);
    m.mempool_size->Set(c.mempool_size);

    const auto& ct = c.lb.conntrack;
    m.ct_flows->Set(static_cast<double>(ct.flows));
    m.ct_capacity->Set(static_cast<double>(ct.capacity));
    const auto ops = ct_ops(ct);
    for (size_t i = 0; i < kCtOps; i++) m.ct_ops[i].feed(ops[i]);
    m.ct_port_rewrites.feed(ct.port_rewrites);
    m.ct_gc_passes.feed(ct.gc_passes);

    m.services->Set(c.lb.service_ports);
    m.frontends->Set(c.lb.frontends);
    m.backends->Set(c.lb.backends);
    m.affinity_entries->Set(c.lb.affinity_entries);
    m.table_generation->Set(static_cast<double>(c.lb.table_generation));
    m.snapshot_generation->Set(static_cast<double>(c.generation));

    const dp::PolicyStatus& pol = c.policy;
    m.policy_active->Set(pol.active ? 1 : 0);
    m.policy_generation->Set(static_cast<double>(pol.generation));
    m.policy_rules_ingress->Set(static_cast<double>(pol.rules_ingress));
    m.policy_rules_egress->Set(static_cast<double>(pol.rules_egress));
    m.policy_pods.begin();
    for (const auto& [pod, ad] : pol.by_pod) m.policy_pods.feed({{"pod", pod}}, PodVerdicts{ad.first, ad.second});
    m.policy_pods.end();
    m.policy_allowed.begin();
    for (const auto& [name, n] : pol.allowed_by_policy) m.policy_allowed.feed({{"policy", name}}, n);
    m.policy_allowed.end();
    m.payload_denied.begin();
    for (const auto& [name, n] : pol.denied_by_payload_policy) m.payload_denied.feed({{"policy", name}}, n);
    m.payload_denied.end();
}

void Metrics::update_services(const std::vector<dp::ServicePortCounters>& services) {
    std::lock_guard lock(impl_->mu);
    Impl& m = *impl_;
    m.services_series.begin();
    for (const auto& s : services) m.services_series.feed({{"service", s.service}}, s);
    m.services_series.end();
}

void Metrics::observe(double seconds) {
    std::lock_guard lock(impl_->mu);
    impl_->programming->Observe(seconds);
}

void Metrics::set_generations(uint64_t desired, uint64_t realized) {
    std::lock_guard lock(impl_->mu);
    impl_->desired_generation->Set(static_cast<double>(desired));
    impl_->realized_generation->Set(static_cast<double>(realized));
}

void Metrics::set_maglev_provisional_sets(uint64_t sets) {
    std::lock_guard lock(impl_->mu);
    impl_->maglev_provisional->Set(static_cast<double>(sets));
}

void Metrics::count_publication(bool patched, bool churn) {
    std::lock_guard lock(impl_->mu);
    impl_->publications[patched ? 1 : 0][churn ? 1 : 0]->Increment();
}

std::string Metrics::text() const {
    std::lock_guard lock(impl_->mu);
    return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

std::shared_ptr<prometheus::Registry> Metrics::registry() const { return impl_->registry; }

}  // namespace enidp::metrics

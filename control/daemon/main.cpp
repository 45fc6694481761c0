// enidp: the node daemon. Reads enidp.yaml, brings up EAL, the ENIs and the pods' ports,
// runs the workers, and serves the control loop on the main lcore:
//   every 100 ms  link state, gateway ARP            (Dataplane::tick)
//   every second  stats file                          (stats.file)
//   SIGHUP        re-read the config, apply changes to `pods` (hot-plug / unplug) and
//                 reload the Kubernetes manifests (Services, EndpointSlices, ...)
//   on change     rebuild and publish the Service table (control/reconcile)
//   API calls     the enidp.v1 gRPC server (control/api) stores objects from its own threads and
//                 runs every data-path read on this thread through a ControlQueue; the loop
//                 wakes at once for a queued call or a store change, so an applied object is
//                 reconciled immediately rather than at the next tick
//   SIGINT/TERM   stop workers, print final counters, release every port
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include <CLI/CLI.hpp>
#include <rte_byteorder.h>
#include <rte_cycles.h>

#include "control/api/control_queue.hpp"
#include "control/api/dataplane_view.hpp"
#include "control/api/server.hpp"
#include "control/api/service.hpp"
#include "control/config/config.hpp"
#include "control/daemon/cpu_isolation.hpp"
#include "control/daemon/heap.hpp"
#include "control/daemon/kube_sync.hpp"
#include "control/daemon/specs.hpp"
#include "control/k8s/watcher.hpp"
#include "control/metrics/health_check.hpp"
#include "control/metrics/http.hpp"
#include "control/metrics/metrics.hpp"
#include "control/metrics/telemetry.hpp"
#include "control/objects/store.hpp"
#include "control/reconcile/node_settings.hpp"
#include "control/reconcile/policies.hpp"
#include "control/reconcile/services.hpp"
#include "control/report/report.hpp"
#include "dataplane/runtime/dataplane.hpp"
#include "dataplane/runtime/eal.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_reload = 0;

void on_signal(int sig) {
    if (sig == SIGHUP) g_reload = 1;
    else g_stop = 1;
}

void install_signals() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
}

using namespace enidp;

// Applies the `pods` section of a re-read config: removes pods that are gone or changed,
// adds new or changed ones. Each pod succeeds or fails on its own; `running` tracks what
// is really plugged in.
void reload(dp::Dataplane& dataplane, const config::Config& boot, std::map<std::string, dp::PodSpec>& running,
            const std::string& path) {
    auto loaded = config::load_file(path);
    if (auto* err = std::get_if<config::ConfigError>(&loaded)) {
        std::fprintf(stderr, "enidp: reload rejected, running config unchanged: %s\n", err->to_string().c_str());
        return;
    }
    const auto& next = std::get<config::Config>(loaded);
    for (const auto& note : daemon::unreloadable_changes(boot, next))
        std::fprintf(stderr, "enidp: reload: %s changed; takes effect after a restart\n", note.c_str());
    std::map<std::string, dp::PodSpec> want;
    for (const auto& p : next.pods) want.emplace(p.key(), daemon::pod_spec(p));
    for (auto it = running.begin(); it != running.end();) {
        auto w = want.find(it->first);
        if (w != want.end() && daemon::same_pod(w->second, it->second)) {
            ++it;
            continue;
        }
        auto s = dataplane.remove_pod(it->first);
        std::fprintf(stderr, "enidp: reload: pod %s %s\n", it->first.c_str(), s.ok ? "removed" : s.message.c_str());
        it = running.erase(it);
    }
    for (const auto& [key, spec] : want) {
        if (running.count(key)) continue;
        auto s = dataplane.add_pod(spec);
        std::fprintf(stderr, "enidp: reload: pod %s %s\n", key.c_str(), s.ok ? "added" : s.message.c_str());
        if (s.ok) running.emplace(key, spec);
    }
}

// The manifests named by the config, read into objects. Relative paths are relative to
// the config file. Errors come back as `file:line: ...`.
std::variant<std::vector<objects::Object>, std::string> read_manifests(const config::Config& cfg) {
    std::vector<objects::Object> all;
    const std::string dir =
        cfg.source.find('/') == std::string::npos ? "." : cfg.source.substr(0, cfg.source.rfind('/'));
    for (const auto& m : cfg.manifests) {
        std::string path = m;
        if (m.empty() || m[0] != '/') {
            path = dir;
            path += '/';
            path += m;
        }
        auto r = objects::load_path(path);
        if (auto* e = std::get_if<objects::Error>(&r)) return e->to_string();
        auto& objs = std::get<std::vector<objects::Object>>(r);
        all.insert(all.end(), objs.begin(), objs.end());
    }
    return all;
}

// Replaces what the manifests said with `objs`; the store is unchanged on error.
bool apply_manifests(objects::Store& store, const std::vector<objects::Object>& objs, const char* when) {
    auto r = store.replace_source(objs, objects::Source::kManifest);
    if (auto* e = std::get_if<objects::Error>(&r)) {
        std::fprintf(stderr, "enidp: %s: %s\n", when, e->to_string().c_str());
        return false;
    }
    return true;
}

void report_policy_sync(const reconcile::PolicySyncReport& r) {
    if (!r.error.empty()) {
        std::fprintf(stderr, "enidp: policy: %s; the published policy is unchanged\n", r.error.c_str());
        return;
    }
    if (!r.rebuilt) return;
    for (const auto& w : r.warnings) std::fprintf(stderr, "enidp: policy: warning: %s\n", w.c_str());
    if (!r.active) {
        std::fprintf(stderr, "enidp: policy: no NetworkPolicy or PayloadPolicy; nothing enforced\n");
        return;
    }
    std::fprintf(stderr,
                 "enidp: policy: snapshot %llu: %zu policies, %zu payload policies, %zu local pods, %zu/%zu "
                 "ingress/egress rules (compiled %.1f ms, built %.1f ms, published %.1f ms)\n",
                 static_cast<unsigned long long>(r.generation), r.policies, r.payload_policies, r.local_pods,
                 r.rules_ingress, r.rules_egress, r.compile_ms, r.build_ms, r.publish_ms);
}

void report_sync(const reconcile::SyncReport& r) {
    if (!r.rebuilt) return;
    for (const auto& e : r.errors) std::fprintf(stderr, "enidp: service skipped: %s\n", e.c_str());
    std::fprintf(stderr,
                 "enidp: services: table %llu from store generation %llu: %zu services, %zu frontends, %zu backends "
                 "(built %.1f ms%s, published %.1f ms, %zu endpoints removed, %llu flows purged%s)\n",
                 static_cast<unsigned long long>(r.table_generation),
                 static_cast<unsigned long long>(r.store_generation), r.services, r.frontends, r.backends, r.build_ms,
                 r.patched ? (r.churn ? " patching the last table, churn" : " patching the last table")
                           : (r.churn ? ", churn" : ""),
                 r.publish_ms, r.retired_backends, static_cast<unsigned long long>(r.purged_flows),
                 r.provisional + r.upgraded == 0 ? ""
                                                 : (", maglev tables " + std::to_string(r.provisional) +
                                                    " provisional, " + std::to_string(r.upgraded) + " upgraded")
                                                       .c_str());
}

std::vector<api::LocalPod> local_pods(const config::Config& cfg) {
    std::vector<api::LocalPod> pods;
    for (const auto& p : cfg.pods) pods.push_back(api::LocalPod{p.ns, p.name, p.ip.value});
    return pods;
}

}  // namespace

namespace {

int run(int argc, char** argv) {
    CLI::App app{"enidp: DPDK dataplane for pods that own a cloud ENI"};
    std::string config_path;
    bool check_only = false;
    std::string api_socket;
    app.add_option("-c,--config", config_path, "configuration file (YAML)")->required();
    app.add_flag("--check", check_only, "validate the configuration and exit");
    app.add_option("--api-socket", api_socket, "unix socket of the gRPC API (overrides api.socket)");
    CLI11_PARSE(app, argc, argv);

    auto loaded = config::load_file(config_path);
    if (auto* err = std::get_if<config::ConfigError>(&loaded)) {
        std::fprintf(stderr, "enidp: %s\n", err->to_string().c_str());
        return 2;
    }
    config::Config cfg = std::get<config::Config>(loaded);
    auto manifests = read_manifests(cfg);
    if (auto* err = std::get_if<std::string>(&manifests)) {
        std::fprintf(stderr, "enidp: %s\n", err->c_str());
        return 2;
    }
    objects::Store store;
    if (!apply_manifests(store, std::get<std::vector<objects::Object>>(manifests), "manifests")) return 2;
    if (check_only) {
        std::printf("%s: OK (%zu ENIs, %zu pods, %u workers, %zu Kubernetes objects)\n", config_path.c_str(),
                    cfg.enis.size(), cfg.pods.size(), cfg.workers,
                    std::get<std::vector<objects::Object>>(manifests).size());
        return 0;
    }

    // Before EAL and gRPC start their threads: they then share the one prefaulted arena.
    daemon::prepare_control_heap(cfg.control_heap_prefault_mb);
    if (auto err = dp::eal_init(daemon::eal_spec(cfg)); !err.empty()) {
        std::fprintf(stderr, "enidp: %s\n", err.c_str());
        return 1;
    }
    // Now that EAL has pinned this thread to the main lcore: the prefault thread stays off the
    // workers' CPUs (started before, it ran on them and stalled the workers with its faults).
    daemon::start_heap_prefault(cfg.control_heap_prefault_mb);
    for (const auto& w : daemon::check_worker_cpu_isolation())
        std::fprintf(stderr, "enidp: %s (docs/configuration.md#worker-cpus)\n", w.c_str());
    std::string error;
    auto dataplane = dp::Dataplane::create(daemon::runtime_spec(cfg), error);
    int rc = 0;
    if (!dataplane) {
        std::fprintf(stderr, "enidp: %s\n", error.c_str());
        rc = 1;
    }
    for (size_t i = 0; rc == 0 && i < cfg.enis.size(); i++) {
        auto s = dataplane->add_eni(daemon::eni_spec(cfg.enis[i]));
        if (!s.ok) {
            std::fprintf(stderr, "enidp: %s:%d: %s\n", cfg.source.c_str(), cfg.enis[i].line, s.message.c_str());
            rc = 1;
        }
    }
    std::map<std::string, dp::PodSpec> running_pods;
    for (size_t i = 0; rc == 0 && i < cfg.pods.size(); i++) {
        // A pod whose port cannot be created is reported and skipped: the node keeps serving the rest.
        auto spec = daemon::pod_spec(cfg.pods[i]);
        auto s = dataplane->add_pod(spec);
        if (s.ok) running_pods.emplace(spec.key, spec);
        else std::fprintf(stderr, "enidp: %s:%d: %s\n", cfg.source.c_str(), cfg.pods[i].line, s.message.c_str());
    }
    std::unique_ptr<reconcile::ServiceReconciler> services;
    std::unique_ptr<reconcile::PolicyReconciler> policies;
    reconcile::SyncReport first_sync;
    if (rc == 0) {
        services = std::make_unique<reconcile::ServiceReconciler>(store, *dataplane, reconcile::node_info(cfg),
                                                                  cfg.lb.maglev_table_size,
                                                                  std::chrono::milliseconds(cfg.lb.min_sync_period_ms),
                                                                  std::chrono::milliseconds(cfg.lb.maglev_fill_budget_ms));
        first_sync = services->sync();
        report_sync(first_sync);
        // Before the workers start: the boot pods' policy is in force from their first packet.
        policies = std::make_unique<reconcile::PolicyReconciler>(
            store, *dataplane, reconcile::PolicyOptions{cfg.policy.offload, cfg.policy.offload_max_rules});
        dataplane->set_verdict_sampling(cfg.policy.log_allow_one_in, cfg.policy.log_denies_per_second);
        report_policy_sync(policies->sync());
        if (auto s = dataplane->start_workers(); !s.ok) {
            std::fprintf(stderr, "enidp: %s\n", s.message.c_str());
            rc = 1;
        }
    }
    if (rc != 0) {
        policies.reset();
        services.reset();
        dataplane.reset();
        dp::eal_cleanup();
        return rc;
    }
    install_signals();

    // The API: gRPC threads write the store (which wakes this loop) and queue data-path reads here.
    api::ControlQueue queue;
    const uint64_t store_listener = store.subscribe([&queue](const std::vector<objects::Change>&) { queue.notify(); });
    api::DaemonView view(*dataplane, *services, store);
    view.set_local_pods(local_pods(cfg));
    view.set_policies(policies.get());
    // Settings changed over the API (UpdateNodeSettings) start from the config's.
    reconcile::NodeSettingsControl node_settings(cfg, *dataplane, *services, policies.get());
    view.set_node_settings(&node_settings);
    api::Service api_service(store, queue, view);
    api_service.generations().set(services->realized_generation());
    api_service.generations().mark_live();
    api::Server api_server;
    if (api_socket.empty()) api_socket = cfg.api_socket;
    // The node keeps forwarding without its API: a failure is reported, not fatal.
    api::TlsListener tls;
    if (cfg.api_tcp.enabled) {
        auto slurp = [](const std::string& path) {
            std::ifstream f(path);
            return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
        };
        tls = {cfg.api_tcp.address, slurp(cfg.api_tcp.cert_file), slurp(cfg.api_tcp.key_file),
               slurp(cfg.api_tcp.client_ca_file)};
    }
    if (auto err = api_server.start(api_socket, api_service, cfg.api_tcp.enabled ? &tls : nullptr); !err.empty())
        std::fprintf(stderr, "enidp: api: %s; running without the API\n", err.c_str());
    else if (cfg.api_tcp.enabled)
        std::fprintf(stderr, "enidp: api: listening on unix:%s and %s (mutual TLS, port %d)\n", api_socket.c_str(),
                     cfg.api_tcp.address.c_str(), api_server.tcp_port());
    else std::fprintf(stderr, "enidp: api: listening on unix:%s\n", api_socket.c_str());

    // Metrics and probes: a failure to listen is reported, not fatal.
    metrics::Metrics metrics;
    metrics::HttpServer http(metrics, metrics::HttpOptions{cfg.metrics.address, cfg.metrics.port});
    bool http_up = false;
    if (cfg.metrics.enabled) {
        if (auto err = http.start(); !err.empty())
            std::fprintf(stderr, "enidp: metrics: %s; running without /metrics\n", err.c_str());
        else {
            http_up = true;
            std::fprintf(stderr, "enidp: metrics: http://%s:%u/metrics\n", cfg.metrics.address.c_str(),
                         cfg.metrics.port);
        }
    }
    metrics::HealthChecks health_checks(metrics::HealthCheckOptions{});
    // DPDK telemetry (/enidp/... on the EAL telemetry socket): answered from a copy of the counters.
    if (std::string err; !metrics::Telemetry::register_commands(err))
        std::fprintf(stderr, "enidp: telemetry: %s\n", err.c_str());
    metrics::Telemetry::update(dataplane->counters(), cfg.node_name);
    // Object change → realized table: the network-programming latency.
    std::atomic<int64_t> first_change_ns{0};
    const uint64_t latency_listener = store.subscribe([&first_change_ns](const std::vector<objects::Change>&) {
        int64_t expect = 0;
        first_change_ns.compare_exchange_strong(
            expect, std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    });
    auto after_sync = [&](const reconcile::SyncReport& r, bool log = true) {
        if (log) report_sync(r);
        if (!r.rebuilt) return;
        const int64_t t0 = first_change_ns.exchange(0, std::memory_order_relaxed);
        if (t0 != 0)
            metrics.observe(
                static_cast<double>(std::chrono::steady_clock::now().time_since_epoch().count() - t0) / 1e9);
        metrics.set_generations(r.store_generation, services->realized_generation());
        metrics.set_maglev_provisional_sets(r.provisional);
        metrics.count_publication(r.patched, r.churn);
        std::map<uint16_t, metrics::HealthCheckInfo> hc;
        for (const auto& [port, h] : r.health_checks) hc[port] = metrics::HealthCheckInfo{h.ns, h.name, h.local_endpoints};
        for (const auto& e : health_checks.update(hc)) std::fprintf(stderr, "enidp: health check: %s\n", e.c_str());
    };
    after_sync(first_sync, false);
    if (http_up) http.set_ready(true);

    // The API server, when configured: watcher threads queue events; this loop applies them.
    k8s::EventQueue kube_events;
    std::unique_ptr<k8s::Watchers> watchers;
    if (cfg.kubernetes.enabled) {
        k8s::ConnectionOptions o;
        o.server = cfg.kubernetes.server;
        if (!cfg.kubernetes.token_file.empty()) o.token = "@" + cfg.kubernetes.token_file;
        o.ca_file = cfg.kubernetes.ca_file;
        o.insecure_skip_tls_verify = cfg.kubernetes.insecure_skip_tls_verify;
        o.kubeconfig = cfg.kubernetes.kubeconfig;
        auto conn = k8s::load_connection(o);
        if (auto* e = std::get_if<k8s::Error>(&conn)) {
            std::fprintf(stderr, "enidp: kubernetes: %s; not watching the API server\n", e->message.c_str());
        } else {
            watchers = std::make_unique<k8s::Watchers>(std::get<k8s::ConnectionSettings>(conn), kube_events);
            watchers->start();
            std::fprintf(stderr, "enidp: kubernetes: watching %s\n",
                         std::get<k8s::ConnectionSettings>(conn).server.c_str());
        }
    }

    std::fprintf(stderr, "enidp: node %s running: %zu ENIs, %zu pods, %u workers\n", cfg.node_name.c_str(),
                 cfg.enis.size(), dataplane->pod_keys().size(), cfg.workers);

    uint64_t ticks = 0;
    auto next_tick = api::ControlQueue::Clock::now() + std::chrono::milliseconds(100);
    while (!g_stop) {
        // Sleeps until the next tick, an API call, a store change or a sync held back by the
        // minimum sync period (lb.min_sync_period_ms), whichever comes first.
        const auto due = services->due();
        queue.wait_until(due && *due < next_tick ? *due : next_tick);
        if (watchers) {
            const auto rep = daemon::apply_watch_events(store, kube_events.drain());
            for (const auto& e : rep.errors) std::fprintf(stderr, "enidp: kubernetes: %s\n", e.c_str());
        }
        // Store changes first, so that a call queued after an apply sees it realized.
        after_sync(services->sync(node_settings.take_service_rebuild()));
        // A node IP change (UpdateNodeSettings) recompiles once the table with the new IPs is out.
        report_policy_sync(policies->sync(node_settings.take_policy_recompile()));
        api_service.generations().set(services->realized_generation());
        queue.run_pending();
        services->finish_publication();  // conntrack purge of removed endpoints, after the calls are answered
        if (api::ControlQueue::Clock::now() < next_tick) continue;
        next_tick += std::chrono::milliseconds(100);
        if (next_tick < api::ControlQueue::Clock::now())  // fell behind (a long reload): no burst of ticks
            next_tick = api::ControlQueue::Clock::now() + std::chrono::milliseconds(100);
        ticks++;
        dataplane->tick();
        http.heartbeat();
        if (ticks % 10 == 0) {
            const auto counters = dataplane->counters();
            metrics.update(counters);
            metrics::Telemetry::update(counters, cfg.node_name);
        }
        if (ticks % 50 == 0 && cfg.metrics.enabled) metrics.update_services(dataplane->service_counters());
        if (g_reload) {
            g_reload = 0;
            reload(*dataplane, cfg, running_pods, config_path);
            report_policy_sync(policies->sync());  // pods added by the reload open once this is published
            auto next = config::load_file(config_path);
            if (auto* c = std::get_if<config::Config>(&next)) {
                view.set_local_pods(local_pods(*c));
                auto objs = read_manifests(*c);
                if (auto* err = std::get_if<std::string>(&objs))
                    std::fprintf(stderr, "enidp: reload: manifests rejected, Services unchanged: %s\n", err->c_str());
                else apply_manifests(store, std::get<std::vector<objects::Object>>(objs), "reload: manifests rejected");
            }
        }
        if (!cfg.stats_file.empty() && ticks % 10 == 0) {
            auto err = report::write_file_atomic(cfg.stats_file, report::to_json(dataplane->counters()).dump(2));
            if (!err.empty() && ticks % 600 == 0) std::fprintf(stderr, "enidp: %s\n", err.c_str());
        }
        if (cfg.stats_interval_ms != 0 && (ticks * 100) % cfg.stats_interval_ms < 100)
            std::printf("%s", report::to_text(dataplane->counters()).c_str());
        std::fflush(stdout);
    }
    std::fprintf(stderr, "enidp: stopping\n");
    if (watchers) watchers->stop();
    http.set_ready(false, "shutting down");
    health_checks.stop();
    http.stop();
    store.unsubscribe(latency_listener);
    // Calls waiting for this thread get UNAVAILABLE; then the server drains and goes.
    queue.close();
    api_service.generations().close();
    api_server.stop();
    store.unsubscribe(store_listener);
    dataplane->stop_workers();
    const auto final_counters = dataplane->counters();
    std::printf("final counters:\n%s", report::to_text(final_counters).c_str());
    if (!cfg.stats_file.empty()) report::write_file_atomic(cfg.stats_file, report::to_json(final_counters).dump(2));
    policies.reset();
    services.reset();
    dataplane.reset();
    dp::eal_cleanup();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // Nothing is expected to throw (CLI11, JSON and allocation failures aside): say what and exit 1.
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", "enidp", e.what());
        return 1;
    }
}

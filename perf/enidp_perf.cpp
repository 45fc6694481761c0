// enidp-perf: the testpmd-style runner of the real enidp pipeline.
//
//   enidp-perf <EAL args> -- --scenario FILE [--duration S] [--summary-json FILE]
//   enidp-perf gen <options>                  (write a synthetic pcap, see --help)
//
// The EAL arguments create the ports (for example a net_pcap replaying a capture and a
// net_null sink); the scenario says which port is which pod or ENI. Workers run the same
// Dataplane and pipeline code as the daemon, spinning (no idle back-off). Every second it
// prints Rx/Tx-pps per port like testpmd's --stats-period, then a summary.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "acl/compiler/snapshot_builder.hpp"
#include "control/report/report.hpp"
#include "dataplane/runtime/dataplane.hpp"
#include "dataplane/runtime/eal.hpp"
#include "perf/scenario.hpp"
#include "perf/synth/pcap_gen.hpp"
#include "lb/builder/table_builder.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

using namespace enidp;

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct PortSample {
    uint64_t rx = 0, tx = 0;
};

std::vector<PortSample> sample_ports(const std::vector<uint16_t>& ports) {
    std::vector<PortSample> s;
    for (uint16_t p : ports) {
        rte_eth_stats st{};
        rte_eth_stats_get(p, &st);
        s.push_back({st.ipackets, st.opackets});
    }
    return s;
}

int run(int argc, char** argv) {
    std::string error;
    const int consumed = dp::eal_init_raw(argc, argv, error);
    if (consumed < 0) {
        std::fprintf(stderr, "enidp-perf: %s\n", error.c_str());
        return 1;
    }
    argc -= consumed;
    argv += consumed;
    CLI::App app{"enidp-perf: run the enidp pipeline on EAL ports, testpmd style"};
    std::string scenario_path, summary_path;
    unsigned duration = 10;
    bool quiet = false;
    app.add_option("-s,--scenario", scenario_path, "scenario file (YAML)")->required();
    app.add_option("-d,--duration", duration, "seconds to run")->check(CLI::Range(1u, 86400u));
    app.add_option("--summary-json", summary_path, "write the summary as JSON to this file");
    app.add_flag("-q,--quiet", quiet, "no per-second statistics");
    // argv[0] is the program name again after EAL's arguments.
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        dp::eal_cleanup();
        return rc == 0 ? 0 : 2;
    }

    auto loaded = perf::load_scenario(scenario_path);
    if (auto* err = std::get_if<perf::ScenarioError>(&loaded)) {
        std::fprintf(stderr, "enidp-perf: %s\n", err->message.c_str());
        dp::eal_cleanup();
        return 2;
    }
    const auto& sc = std::get<perf::Scenario>(loaded);
    auto dataplane = dp::Dataplane::create(sc.runtime, error);
    if (!dataplane) {
        std::fprintf(stderr, "enidp-perf: %s\n", error.c_str());
        dp::eal_cleanup();
        return 1;
    }
    std::vector<uint16_t> ports;
    std::vector<std::string> names;
    dp::Status st;
    for (const auto& e : sc.enis) {
        if (st.ok) st = dataplane->add_eni(e);
        ports.push_back(*e.existing_port);
        names.push_back("eni " + e.name);
    }
    for (const auto& p : sc.pods) {
        if (st.ok) st = dataplane->add_pod(p);
        ports.push_back(*p.existing_port);
        names.push_back("pod " + p.key);
    }
    double services_build_ms = 0;
    if (st.ok && !sc.services.empty()) {
        // The same builder the daemon and the control plane use.
        const auto t0 = std::chrono::steady_clock::now();
        lb::StableIds ids(sc.runtime.max_service_ports, sc.runtime.max_backends);
        lb::BuildOptions opt;
        opt.generation = 1;
        if (sc.maglev_table_size) opt.maglev_default_size = sc.maglev_table_size;
        lb::BuildResult r = lb::build_table(sc.services, sc.slices, sc.node, opt, ids, nullptr);
        if (!r.errors.empty()) {
            st = dp::Status::error("services: " + r.errors.front());
        } else {
            dataplane->set_services(std::shared_ptr<const lb::ServiceTable>(std::move(r.table)), r.backend_status,
                                    r.retired_backends);
            services_build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            if (!quiet)
                std::printf("enidp-perf: %zu services built and published in %.1f ms\n", sc.services.size(),
                            services_build_ms);
        }
    }
    double policy_compile_ms = 0, policy_build_ms = 0;
    size_t policy_rules[2] = {0, 0};
    if (st.ok && sc.policies.count != 0) {
        // As the daemon's PolicyReconciler: compile for the dataplane's pod ids, build, publish.
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<perf::PolicyPod> pods;
        const auto ips = dataplane->pod_ips();
        for (const auto& [key, id] : dataplane->policy_pods()) pods.push_back({key, ips.at(key), id});
        const perf::PolicyCluster cl = perf::policy_cluster(sc.policies, pods);
        acl::CompileResult c = acl::compile(cl.state, cl.local);
        const auto t1 = std::chrono::steady_clock::now();
        policy_compile_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
        if (!c.ok) {
            st = dp::Status::error("policies: compile failed: " + c.error);
        } else {
            acl::BuildOptions opt;
            opt.socket_id = static_cast<int>(rte_socket_id());
            opt.workers = sc.runtime.workers;
            acl::BuildResult b = acl::SnapshotBuilder::build(c.policy, 1, opt);
            if (b.snapshot == nullptr) {
                st = dp::Status::error("policies: snapshot build failed: " + b.error);
            } else {
                policy_rules[0] = b.snapshot->acl_rule_count(acl::Direction::kIngress);
                policy_rules[1] = b.snapshot->acl_rule_count(acl::Direction::kEgress);
                dataplane->set_policy(std::shared_ptr<const acl::PolicySnapshot>(std::move(b.snapshot)));
                policy_build_ms =
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
                if (!quiet)
                    std::printf("enidp-perf: %zu NetworkPolicies compiled in %.1f ms, %zu ingress + %zu egress "
                                "rte_acl rules built and published in %.1f ms\n",
                                cl.state.policies.size(), policy_compile_ms, policy_rules[0], policy_rules[1],
                                policy_build_ms);
            }
        }
    }
    if (st.ok) st = dataplane->start_workers();
    if (!st.ok) {
        std::fprintf(stderr, "enidp-perf: %s\n", st.message.c_str());
        dataplane.reset();
        dp::eal_cleanup();
        return 1;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    std::vector<double> tx_pps_samples;
    auto prev = sample_ports(ports);
    auto t_prev = std::chrono::steady_clock::now();
    const auto t_start = t_prev;
    for (unsigned sec = 0; sec < duration && !g_stop; sec++) {
        std::this_thread::sleep_until(t_start + std::chrono::seconds(sec + 1));
        dataplane->tick();
        const auto now = std::chrono::steady_clock::now();
        const double dt = std::chrono::duration<double>(now - t_prev).count();
        auto cur = sample_ports(ports);
        double tx_total = 0;
        if (!quiet) std::printf("\n  ---------------------- enidp-perf second %u ----------------------\n", sec + 1);
        for (size_t i = 0; i < ports.size(); i++) {
            const double rx_pps = static_cast<double>(cur[i].rx - prev[i].rx) / dt;
            const double tx_pps = static_cast<double>(cur[i].tx - prev[i].tx) / dt;
            tx_total += tx_pps;
            if (!quiet)
                std::printf("  Port %-2u %-28s Rx-pps: %12.0f          Tx-pps: %12.0f\n", ports[i], names[i].c_str(), rx_pps,
                            tx_pps);
        }
        if (!quiet) {
            const auto c = dataplane->counters();
            std::string stages = "  stages:";
            for (size_t i = 0; i < dp::kEventCount; i++)
                if (c.events[i]) stages += " " + std::string(dp::kEventNames[i]) + "=" + std::to_string(c.events[i]);
            for (size_t i = 0; i < dp::kDropCount; i++)
                if (c.drops[i]) stages += " drop." + std::string(dp::kDropNames[i]) + "=" + std::to_string(c.drops[i]);
            std::printf("%s\n", stages.c_str());
            std::fflush(stdout);
        }
        tx_pps_samples.push_back(tx_total);
        prev = cur;
        t_prev = now;
    }
    dataplane->stop_workers();
    const auto c = dataplane->counters();

    // Steady state: skip the first two seconds (pcap loading, caches) when there is enough.
    std::vector<double> steady = tx_pps_samples;
    if (steady.size() > 4) steady.erase(steady.begin(), steady.begin() + 2);
    const double pps = median(steady);
    uint64_t busy_cycles = 0, rx_packets = 0;
    for (const auto& w : c.workers) busy_cycles += w.busy_cycles;
    for (const auto& p : c.ports)
        for (uint64_t q : p.rx_queue_packets) rx_packets += q;
    nlohmann::json j;
    j["scenario"] = scenario_path;
    j["duration_s"] = tx_pps_samples.size();
    j["workers"] = sc.runtime.workers;
    j["mpps"] = pps / 1e6;
    std::vector<double> mpps_samples;
    for (double pps_s : tx_pps_samples) mpps_samples.push_back(pps_s / 1e6);
    j["mpps_samples"] = mpps_samples;
    j["tsc_hz"] = rte_get_tsc_hz();
    j["cycles_per_packet"] = pps > 0 ? static_cast<double>(rte_get_tsc_hz()) * sc.runtime.workers / pps : 0.0;
    j["busy_cycles_per_packet"] = rx_packets ? static_cast<double>(busy_cycles) / static_cast<double>(rx_packets) : 0.0;
    const auto counters = report::to_json(c);
    j["drops"] = counters["drops"];
    j["drops_total"] = counters["drops_total"];
    j["events"] = counters["events"];
    j["ports"] = counters["ports"];
    j["services"] = sc.services.size();
    j["services_build_ms"] = services_build_ms;
    if (sc.policies.count != 0)
        j["policy"] = {{"policies", uint64_t{sc.policies.count}},
                       {"rules_ingress", policy_rules[0]},
                       {"rules_egress", policy_rules[1]},
                       {"compile_ms", policy_compile_ms},
                       {"build_ms", policy_build_ms}};
    j["conntrack"] = {{"flows", c.lb.conntrack.flows},
                      {"inserted", c.lb.conntrack.inserted},
                      {"insert_failed", c.lb.conntrack.insert_failed},
                      {"capacity", c.lb.conntrack.capacity}};
    std::printf("\n  ==================== enidp-perf summary ====================\n");
    std::printf("  forwarded: %.3f Mpps (median of %zu steady seconds), %.1f cycles/packet per worker\n", pps / 1e6,
                steady.size(), j["cycles_per_packet"].get<double>());
    std::printf("%s", report::to_text(c).c_str());
    std::printf("SUMMARY %s\n", j.dump().c_str());
    if (!summary_path.empty()) {
        if (auto err = report::write_file_atomic(summary_path, j.dump(2)); !err.empty())
            std::fprintf(stderr, "enidp-perf: %s\n", err.c_str());
    }
    dataplane.reset();
    dp::eal_cleanup();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == "gen") return enidp::synth::gen_main(argc - 1, argv + 1);
    return run(argc, argv);
}

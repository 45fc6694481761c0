// enidp-control-bench: drives a running enidp daemon over its gRPC API and prints how fast
// Service changes reach the data path (issue 5's control-plane targets). perf/control_plane.sh
// starts a daemon for it; it can also be pointed at any daemon (it creates Services in the
// namespace `bench` and deletes nothing).
//
//   enidp-control-bench --socket /run/enidp/enidp.sock [--services 10000] [--endpoints 10]
//                       [--samples 200] [--sustain-seconds 5] [--clients 2] [--batch 1] [--json FILE]
//
// Phases (each prints one line; --json writes them all):
//   bulk     --services Services with --endpoints ready endpoints each (all addresses distinct),
//            ONE ApplyObjects call (JSON objects), then GetGenerations until realized ≥ the
//            apply's generation (waited for server side): apply (gRPC + decode + store) and visible (… + reconcile +
//            publication) times; a Trace of the last Service checks its backends are there.
//   upgraded with progressive Maglev publication (lb.maglev_fill_budget_ms) the bulk is visible
//            with provisional Maglev tables that later publications upgrade: GetStats is polled
//            until the table generation stops moving for --settle-seconds; the time of its last
//            move is when the last provisional table was upgraded. A DumpServices then counts
//            the provisional tables left (0 expected).
//   one      --samples times: one endpoint of one Service changes (one EndpointSlice applied),
//            then GetGenerations waits until realized: p50 / p99 / max. 20 ms apart, so each change
//            is a publication of its own (the minimum sync period does not fold them).
//   sustain  --clients threads apply endpoint changes (--batch slices per call) for
//            --sustain-seconds: updates/s stored, publications, and how long after the last
//            update everything was realized.
// Worker stalls: the daemon's per-worker loop gaps (max, > 100 µs, > 1 ms) before and after.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "enidp.grpc.pb.h"
#include "perf/bench/control/cluster_json.hpp"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace v1 = enidp::v1;
namespace bench = enidp::bench;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

using bench::cluster_ip;
using bench::dotted;

std::string service_json(uint32_t i) { return bench::service_json(i).dump(); }
std::string slice_json(uint32_t i, uint32_t endpoints, uint32_t moved, uint32_t version) {
    return bench::slice_json(i, endpoints, moved, version).dump();
}

class Client {
public:
    explicit Client(const std::string& socket) {
        grpc::ChannelArguments args;
        args.SetMaxReceiveMessageSize(512 << 20);
        args.SetMaxSendMessageSize(512 << 20);
        stub_ = v1::Enidp::NewStub(grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args));
    }
    // The store generation after the apply (0 on failure, printed).
    uint64_t apply(const std::vector<std::string>& texts) {
        v1::ApplyObjectsRequest req;
        for (const auto& t : texts) req.add_objects()->set_text(t);
        v1::ApplyObjectsResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
        const grpc::Status s = stub_->ApplyObjects(&ctx, req, &resp);
        if (!s.ok()) {
            std::fprintf(stderr, "enidp-control-bench: apply: %s\n", s.error_message().c_str());
            return 0;
        }
        return resp.generation();
    }
    std::string dump_services() {
        v1::DumpServicesResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
        v1::DumpServicesRequest req;
        req.set_format(v1::DUMP_FORMAT_TEXT);
        const grpc::Status s = stub_->DumpServices(&ctx, req, &resp);
        if (!s.ok()) std::fprintf(stderr, "enidp-control-bench: dump: %s\n", s.error_message().c_str());
        return resp.dump();
    }
    // Waits (server side: GetGenerations' wait_for_realized) until realized ≥ gen; false after
    // `timeout_s`. (Polling instead would queue a call on the daemon's control thread per round
    // trip, on the CPU that builds the tables.)
    bool wait_realized(uint64_t gen, double timeout_s) {
        const auto t0 = Clock::now();
        for (;;) {
            v1::GetGenerationsRequest req;
            req.set_wait_for_realized(gen);
            req.set_timeout_ms(static_cast<uint32_t>(std::clamp(timeout_s * 1e3 - ms_since(t0), 1.0, 60000.0)));
            v1::GetGenerationsResponse resp;
            grpc::ClientContext ctx;
            ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(70));
            const grpc::Status s = stub_->GetGenerations(&ctx, req, &resp);
            if (!s.ok()) {
                std::fprintf(stderr, "enidp-control-bench: generations: %s\n", s.error_message().c_str());
                return false;
            }
            if (resp.realized() >= gen) return true;
            if (ms_since(t0) > timeout_s * 1e3) return false;
        }
    }
    json stats() {
        v1::GetStatsResponse resp;
        grpc::ClientContext ctx;
        const grpc::Status s = stub_->GetStats(&ctx, v1::GetStatsRequest{}, &resp);
        if (!s.ok()) return json::object();
        return json::parse(resp.counters_json(), nullptr, false);
    }
    uint32_t backends_in_set(const std::string& from, uint32_t service) {
        v1::TraceRequest req;
        req.set_from(from);
        req.set_to(dotted(cluster_ip(service)));
        req.set_dport(80);
        req.set_protocol(v1::PROTOCOL_TCP);
        v1::TraceResponse resp;
        grpc::ClientContext ctx;
        const grpc::Status s = stub_->Trace(&ctx, req, &resp);
        return s.ok() ? resp.backends_in_set() : 0;
    }

private:
    std::unique_ptr<v1::Enidp::Stub> stub_;
};

const Clock::time_point g_start = Clock::now();

// Per worker: {max_loop_gap_us, loop_gaps_over_100us, loop_gaps_over_1ms, at_ms (when read)}.
json gaps(Client& c) {
    json out = json::array();
    const double at_ms = ms_since(g_start);
    for (const auto& w : c.stats().value("workers", json::array()))
        out.push_back({{"worker", w.value("id", 0)},
                       {"at_ms", at_ms},
                       {"max_loop_gap_us", w.value("max_loop_gap_us", 0.0)},
                       {"over_100us", w.value("loop_gaps_over_100us", 0)},
                       {"over_1ms", w.value("loop_gaps_over_1ms", 0)}});
    return out;
}

std::string gap_delta(const json& before, const json& after) {
    std::string s;
    for (size_t i = 0; i < after.size() && i < before.size(); ++i) {
        char line[240];
        // Per second too: phases last from 2 to 10 s, and the quiet phase's rate is the machine's.
        const uint64_t over = after[i]["over_100us"].get<uint64_t>() - before[i]["over_100us"].get<uint64_t>();
        const double seconds = (after[i]["at_ms"].get<double>() - before[i]["at_ms"].get<double>()) / 1e3;
        std::snprintf(line, sizeof line,
                      " worker %d: +%llu stalls > 100 us (%.0f/s), +%llu > 1 ms (longest since start %.0f us)",
                      after[i]["worker"].get<int>(), static_cast<unsigned long long>(over),
                      seconds > 0 ? static_cast<double>(over) / seconds : 0.0,
                      static_cast<unsigned long long>(after[i]["over_1ms"].get<uint64_t>() -
                                                      before[i]["over_1ms"].get<uint64_t>()),
                      after[i]["max_loop_gap_us"].get<double>());
        s += line;
    }
    return s;
}

double at(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"enidp-control-bench: apply → data path latency through a running enidp"};
    std::string socket = "/run/enidp/enidp.sock", json_out, from;
    double quiet_s = 3;
    uint32_t services = 10000, endpoints = 10, samples = 200, clients = 2, batch = 1;
    double sustain_s = 5, settle_s = 1.5;
    app.add_option("--socket", socket, "the daemon's API socket");
    app.add_option("--services", services, "Services in the bulk apply")->check(CLI::Range(1u, 1000000u));
    app.add_option("--endpoints", endpoints, "endpoints per Service")->check(CLI::Range(1u, 100u));
    app.add_option("--samples", samples, "one-change samples (0: skip)");
    app.add_option("--sustain-seconds", sustain_s, "sustained update phase (0: skip)");
    app.add_option("--clients", clients, "client threads in the sustained phase")->check(CLI::Range(1u, 64u));
    app.add_option("--batch", batch, "EndpointSlices per ApplyObjects call in the sustained phase")
        ->check(CLI::Range(1u, 10000u));
    app.add_option("--json", json_out, "write the results as JSON");
    app.add_option("--from", from, "a pod of the node (ns/name) to trace from (checks the bulk's last Service)");
    app.add_option("--quiet-seconds", quiet_s, "first measure worker loop gaps without any change (0: skip)");
    app.add_option("--settle-seconds", settle_s,
                   "after the bulk: wait for publications (Maglev upgrades) to stop this long (0: skip)");
    CLI11_PARSE(app, argc, argv);

    // The sustained phase writes its slices as text (bench::slice_text): the same bytes as the JSON.
    for (uint32_t i : {0u, 7u, services - 1})
        for (uint32_t v : {0u, 1u, 2u, 3u}) {
            std::string text;
            bench::slice_text(text, i, endpoints, v % endpoints, v);
            if (text != slice_json(i, endpoints, v % endpoints, v)) {
                std::fprintf(stderr, "enidp-control-bench: slice_text differs from slice_json:\n%s\n%s\n", text.c_str(),
                             slice_json(i, endpoints, v % endpoints, v).c_str());
                return 1;
            }
        }

    Client c(socket);
    json result;
    json g0 = gaps(c);
    if (quiet_s > 0) {
        // The worker's stalls when nothing changes: what the machine does to it anyway.
        std::this_thread::sleep_for(std::chrono::duration<double>(quiet_s));
        json q = gaps(c);
        std::printf("quiet: %.0f s without changes;%s\n", quiet_s, gap_delta(g0, q).c_str());
        result["quiet"] = {{"seconds", quiet_s}, {"gaps", q}};
        g0 = q;
    }

    // Bulk.
    std::vector<std::string> texts;
    texts.reserve(2 * services);
    for (uint32_t i = 0; i < services; ++i) texts.push_back(service_json(i));
    for (uint32_t i = 0; i < services; ++i) texts.push_back(slice_json(i, endpoints, 0, 0));
    auto t0 = Clock::now();
    const uint64_t gen = c.apply(texts);
    const double apply_ms = ms_since(t0);
    if (gen == 0) return 1;
    if (!c.wait_realized(gen, 300)) {
        std::fprintf(stderr, "enidp-control-bench: bulk apply not realized after 300 s\n");
        return 1;
    }
    const double visible_ms = ms_since(t0);
    const uint32_t in_set = from.empty() ? 0 : c.backends_in_set(from, services - 1);
    json g1 = gaps(c);
    std::printf("bulk: %u Services x %u endpoints (%zu objects, one ApplyObjects): applied %.0f ms, visible %.0f ms; "
                "traced last Service: %u backends;%s\n",
                services, endpoints, texts.size(), apply_ms, visible_ms, in_set, gap_delta(g0, g1).c_str());
    result["bulk"] = {{"services", services}, {"endpoints", endpoints}, {"apply_ms", apply_ms},
                      {"visible_ms", visible_ms}, {"backends_in_last", in_set}, {"gaps", g1}};
    texts.clear();
    texts.shrink_to_fit();

    // Upgrades of provisional Maglev tables: publications without a change, after visible.
    if (settle_s > 0) {
        auto table_generation = [&c] {
            return c.stats().value("lb", json::object()).value("table_generation", uint64_t{0});
        };
        uint64_t last = table_generation(), moves = 0;
        double last_ms = visible_ms;
        auto quiet_since = Clock::now();
        while (ms_since(quiet_since) < settle_s * 1e3 && ms_since(t0) < 600e3) {
            // GetStats runs on the daemon's control thread, between its builds: 10 a second
            // keep it out of the way of the upgrades measured (±100 ms resolution).
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            const uint64_t g = table_generation();
            if (g == last) continue;
            moves += g - last;
            last = g;
            last_ms = ms_since(t0);
            quiet_since = Clock::now();
        }
        const std::string dump = c.dump_services();
        size_t left = 0;
        for (size_t at = dump.find("(provisional, "); at != std::string::npos; at = dump.find("(provisional, ", at + 1))
            ++left;
        json g2 = gaps(c);
        std::printf("upgraded: last publication %.0f ms after the apply (%llu publications after visible); "
                    "provisional Maglev tables left: %zu;%s\n",
                    last_ms, static_cast<unsigned long long>(moves), left, gap_delta(g1, g2).c_str());
        result["upgraded"] = {{"last_publication_ms", last_ms}, {"publications", moves}, {"provisional_left", left},
                              {"gaps", g2}};
        g1 = g2;
    }

    // One change at a time.
    uint32_t version = 0;
    if (samples > 0) {
        std::vector<double> ms;
        for (uint32_t k = 0; k < samples; ++k) {
            const uint32_t svc = (k * 7919u) % services;
            const std::string slice = slice_json(svc, endpoints, k % endpoints, ++version);
            t0 = Clock::now();
            const uint64_t g = c.apply({slice});
            if (g == 0 || !c.wait_realized(g, 30)) return 1;
            ms.push_back(ms_since(t0));
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        json g2 = gaps(c);
        std::printf("one: %u single-endpoint changes, apply -> realized: p50 %.2f ms, p99 %.2f ms, max %.2f ms;%s\n",
                    samples, at(ms, 0.5), at(ms, 0.99), at(ms, 1.0), gap_delta(g1, g2).c_str());
        result["one"] = {{"samples", samples}, {"p50_ms", at(ms, 0.5)}, {"p99_ms", at(ms, 0.99)},
                         {"max_ms", at(ms, 1.0)}, {"gaps", g2}};
        g1 = g2;
    }

    // Sustained.
    if (sustain_s > 0) {
        const uint64_t table_before = c.stats().value("lb", json::object()).value("table_generation", uint64_t{0});
        std::atomic<uint64_t> updates{0}, last_gen{0};
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (uint32_t t = 0; t < clients; ++t)
            threads.emplace_back([&, t] {
                Client mine(socket);
                uint32_t k = t;
                uint32_t v = 1000 + t;
                std::vector<std::string> slices(batch);
                while (!stop.load(std::memory_order_relaxed)) {
                    for (uint32_t b = 0; b < batch; ++b, k += clients)
                        bench::slice_text(slices[b], (k * 7919u) % services, endpoints, k % endpoints, ++v);
                    const uint64_t g = mine.apply(slices);
                    if (g == 0) break;
                    updates.fetch_add(batch, std::memory_order_relaxed);
                    uint64_t seen = last_gen.load();
                    while (g > seen && !last_gen.compare_exchange_weak(seen, g)) {
                    }
                }
            });
        t0 = Clock::now();
        std::this_thread::sleep_for(std::chrono::duration<double>(sustain_s));
        stop = true;
        for (auto& th : threads) th.join();
        const double elapsed_s = ms_since(t0) / 1e3;
        const auto t_end = Clock::now();
        const bool ok = c.wait_realized(last_gen.load(), 60);
        const double lag_ms = ms_since(t_end);
        const uint64_t table_after = c.stats().value("lb", json::object()).value("table_generation", uint64_t{0});
        json g3 = gaps(c);
        const double rate = static_cast<double>(updates.load()) / elapsed_s;
        std::printf("sustain: %llu endpoint changes in %.1f s from %u clients (batch %u): %.0f updates/s, %llu "
                    "publications; all realized %.0f ms after the last%s;%s\n",
                    static_cast<unsigned long long>(updates.load()), elapsed_s, clients, batch, rate,
                    static_cast<unsigned long long>(table_after - table_before), lag_ms, ok ? "" : " (NOT realized)",
                    gap_delta(g1, g3).c_str());
        result["sustain"] = {{"updates", updates.load()}, {"seconds", elapsed_s}, {"updates_per_s", rate},
                             {"clients", clients}, {"batch", batch}, {"publications", table_after - table_before},
                             {"realized_lag_ms", lag_ms}, {"realized", ok}, {"gaps", g3}};
    }
    if (!json_out.empty()) std::ofstream(json_out) << result.dump(2) << '\n';
    return 0;
}

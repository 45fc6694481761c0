// Control-plane benchmarks of the reconciler's builder (lb::IncrementalBuilder), the part of
// "apply → visible" that runs on the control thread before the RCU publication.
//
//   ninja -C build perf/bench/control/reconcile_bench && build/perf/bench/control/reconcile_bench
//
// The cluster is the issue's, as enidp-control-bench applies it (cluster_json.hpp): N ClusterIP
// Services, one TCP port, 10 ready endpoints each, all addresses distinct (no two Services share
// a Maglev table), automatic Maglev size with the default 16381 (10 backends → 16381 entries,
// see lb/builder/maglev.hpp).
//
// BM_FirstBuild          every Service new: the bulk apply (10,000 × 10 → 10,000 Maglev fills);
//                        with a fill budget (third arg, ms), then the upgrade builds after it
// BM_OneEndpointChange   one endpoint of one Service changes, then a build: p50/p99/max (ms)
// BM_Batch/K             K endpoint changes (K Services) folded into one build: updates/s
// BM_ApplyObjects        the gRPC side of a bulk apply (decode + store) of N Services + N slices
// BM_ApplyOneSlice       the gRPC side of one EndpointSlice update (decode + store): time per update
#include <arpa/inet.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "control/api/service.hpp"
#include "control/objects/convert.hpp"
#include "control/objects/store.hpp"
#include "control/objects/manifest.hpp"
#include "lb/builder/table_builder.hpp"
#include "perf/bench/control/cluster_json.hpp"

namespace enidp::lb {
namespace {

struct Cluster {
    std::vector<Service> services;
    std::vector<EndpointSlice> slices;
    NodeInfo node;
};

// The objects enidp-control-bench applies over gRPC (cluster_json.hpp), converted as the store
// converts them.
template <class Model>
Model convert(const nlohmann::json& doc) {
    auto objs = objects::objects_from_json(doc, "bench");
    auto model = objects::convert(std::get<std::vector<objects::Object>>(objs).at(0));
    return std::get<Model>(std::get<objects::Model>(model));
}

Cluster make_cluster(uint32_t n) {
    Cluster c;
    c.node.name = "node-0";
    c.node.node_ips = {htonl(0xc0a8000a)};
    for (uint32_t s = 0; s < n; ++s) {
        c.services.push_back(convert<Service>(bench::service_json(s)));
        c.slices.push_back(convert<EndpointSlice>(bench::slice_json(s, 10)));
    }
    return c;
}

void load(IncrementalBuilder& b, const Cluster& c) {
    for (const Service& s : c.services) b.set_service(s);
    for (const EndpointSlice& s : c.slices) b.set_slice(s);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void percentiles(benchmark::State& state, std::vector<double>& ms) {
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) { return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))]; };
    state.counters["p50_ms"] = at(0.50);
    state.counters["p99_ms"] = at(0.99);
    state.counters["max_ms"] = ms.empty() ? 0.0 : ms.back();
}

// Args: Services, Maglev default size, Maglev fill budget (ms, 0: none). Timed: the first
// build only. With a budget, the upgrade builds that follow (no change, as the reconciler's
// follow-up syncs) run untimed until nothing is provisional: provisional (after the first
// build), upgrade_builds and upgrades_ms (their total time) say what they cost.
void BM_FirstBuild(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    const Cluster c = make_cluster(n);
    BuildOptions options;
    options.maglev_default_size = static_cast<uint32_t>(state.range(1));
    options.maglev_fill_budget_us = static_cast<uint32_t>(state.range(2) * 1000);
    double provisional = 0, upgrade_builds = 0, upgrades_ms = 0;
    for (auto _ : state) {
        state.PauseTiming();
        auto ids = std::make_unique<StableIds>(n + 16, n * 10 + 16);
        auto b = std::make_unique<IncrementalBuilder>(c.node, options, *ids);
        load(*b, c);
        state.ResumeTiming();
        BuildResult r = b->build(1);
        benchmark::DoNotOptimize(r.table.get());
        if (!r.errors.empty()) {
            state.SkipWithError(r.errors.front().c_str());
            break;
        }
        state.PauseTiming();
        provisional = static_cast<double>(b->provisional());
        upgrade_builds = 0;
        const auto t0 = std::chrono::steady_clock::now();
        for (uint64_t g = 2; b->provisional() > 0; ++g, ++upgrade_builds) r = b->build(g);
        upgrades_ms = ms_since(t0);
        r = BuildResult{};
        b.reset();  // 10,000 Maglev tables freed outside the timing
        state.ResumeTiming();
    }
    if (state.range(2) != 0) {
        state.counters["provisional"] = provisional;
        state.counters["upgrade_builds"] = upgrade_builds;
        state.counters["upgrades_ms"] = upgrades_ms;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
}
BENCHMARK(BM_FirstBuild)
    ->Args({10000, 16381, 0})
    ->Args({10000, 1021, 0})
    ->Args({10000, 16381, 100})
    ->Args({10000, 16381, 20})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// One endpoint address of one Service changes (its Maglev table is refilled, one id retires),
// then a build, as the reconciler does per debounced sync. Manual time: set_slice + build.
void BM_OneEndpointChange(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    Cluster c = make_cluster(n);
    BuildOptions options;
    options.maglev_default_size = static_cast<uint32_t>(state.range(1));
    StableIds ids(n + 16, n * 10 + 16);
    IncrementalBuilder b(c.node, options, ids);
    load(b, c);
    std::unique_ptr<ServiceTable> live = b.build(1).table;
    ids.release_retired();
    std::vector<double> ms;
    uint32_t k = 0;
    for (auto _ : state) {
        EndpointSlice& slice = c.slices[(k * 7919u) % n];
        slice.endpoints[k % 10].addresses[0] ^= htonl(1);  // the next address, then back
        ++k;
        const auto t0 = std::chrono::steady_clock::now();
        b.set_slice(slice);
        BuildResult r = b.build(k + 1, live.get());
        ids.release_retired();
        live = std::move(r.table);
        const double elapsed = ms_since(t0);
        state.SetIterationTime(elapsed / 1e3);
        ms.push_back(elapsed);
    }
    percentiles(state, ms);
}
BENCHMARK(BM_OneEndpointChange)
    ->Args({10000, 16381})
    ->Args({100000, 1021})
    ->Iterations(300)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// K endpoint changes in K different Services, one build: the debounced reconciler under a
// stream of updates. items/s = updates/s the builder sustains.
void BM_Batch(benchmark::State& state) {
    const uint32_t n = 10000;
    const auto batch = static_cast<uint32_t>(state.range(0));
    Cluster c = make_cluster(n);
    BuildOptions options;
    StableIds ids(n + 16, n * 10 + 16);
    IncrementalBuilder b(c.node, options, ids);
    load(b, c);
    std::unique_ptr<ServiceTable> live = b.build(1).table;
    ids.release_retired();
    uint32_t k = 0;
    for (auto _ : state) {
        for (uint32_t i = 0; i < batch; ++i, ++k) {
            EndpointSlice& slice = c.slices[(k * 7919u) % n];
            slice.endpoints[k % 10].addresses[0] ^= htonl(1);
            b.set_slice(slice);
        }
        BuildResult r = b.build(k + 1, live.get());
        ids.release_retired();
        live = std::move(r.table);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch);
}
BENCHMARK(BM_Batch)->Arg(1)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

// The gRPC side of a bulk apply, without the transport: decode_objects (each object's JSON
// parsed) and Store::apply_all_moved (converted, validated, stored) of N Services + N slices.
void BM_ApplyObjects(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    v1::ApplyObjectsRequest req;
    for (uint32_t i = 0; i < n; ++i) req.add_objects()->set_text(bench::service_json(i).dump());
    for (uint32_t i = 0; i < n; ++i) req.add_objects()->set_text(bench::slice_json(i, 10).dump());
    double decode_ms = 0, store_ms = 0;
    for (auto _ : state) {
        auto owned = std::make_unique<objects::Store>();
        objects::Store& store = *owned;
        const auto t0 = std::chrono::steady_clock::now();
        auto decoded = api::decode_objects(req);
        const auto t1 = std::chrono::steady_clock::now();
        auto r = store.apply_all_moved(std::get<api::DecodedObjects>(decoded).objects, objects::Source::kGrpc);
        store_ms = ms_since(t1);
        decode_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
        if (std::holds_alternative<objects::Error>(r)) state.SkipWithError("apply failed");
        state.PauseTiming();
        owned.reset();  // freed outside the timing
        state.ResumeTiming();
    }
    state.counters["decode_ms"] = decode_ms;
    state.counters["store_ms"] = store_ms;
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 2 * n);
}
BENCHMARK(BM_ApplyObjects)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(2);

// One EndpointSlice update as the gRPC edge handles it, without the transport: its JSON text
// decoded (objects::load_string, as decode_objects does) and applied (Store::apply_all_moved:
// converted, compared with the stored object, stored). The store holds 1,000 Services and
// their slices of 10 endpoints; each update moves one endpoint of one slice to the next
// address or back, so every update is a change. Time per update; items/s = updates/s.
void BM_ApplyOneSlice(benchmark::State& state) {
    constexpr uint32_t n = 1000, endpoints = 10;
    objects::Store store;
    {
        v1::ApplyObjectsRequest req;
        for (uint32_t i = 0; i < n; ++i) req.add_objects()->set_text(bench::service_json(i).dump());
        for (uint32_t i = 0; i < n; ++i) req.add_objects()->set_text(bench::slice_json(i, endpoints).dump());
        auto decoded = api::decode_objects(req);
        auto r = store.apply_all_moved(std::get<api::DecodedObjects>(decoded).objects, objects::Source::kGrpc);
        if (std::holds_alternative<objects::Error>(r)) {
            state.SkipWithError(std::get<objects::Error>(r).to_string().c_str());
            return;
        }
    }
    // Slice i with endpoint i % 10 at its first (even version) or next (odd) address: the
    // texts a client sends, made before the timing.
    std::vector<std::string> texts[2];
    for (uint32_t v = 0; v < 2; ++v) {
        for (uint32_t i = 0; i < n; ++i) bench::slice_text(texts[v].emplace_back(), i, endpoints, i % endpoints, v);
    }
    std::vector<uint32_t> version(n, 0);  // what the store holds for each slice
    uint32_t k = 0;
    for (auto _ : state) {
        const uint32_t i = (k++ * 7919u) % n;
        version[i] ^= 1;
        auto loaded = objects::load_string(texts[version[i]][i], "grpc");
        auto* objs = std::get_if<std::vector<objects::Object>>(&loaded);
        if (objs == nullptr) {
            state.SkipWithError(std::get<objects::Error>(loaded).to_string().c_str());
            break;
        }
        auto r = store.apply_all_moved(*objs, objects::Source::kGrpc);
        const auto* outcome = std::get_if<objects::ApplyOutcome>(&r);
        if (outcome == nullptr || !outcome->changed) {
            state.SkipWithError(outcome == nullptr ? std::get<objects::Error>(r).to_string().c_str()
                                                   : "the update was not a change");
            break;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ApplyOneSlice)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace enidp::lb

BENCHMARK_MAIN();

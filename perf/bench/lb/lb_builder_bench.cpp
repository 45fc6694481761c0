// lb builder micro-benchmarks: Maglev table population and whole-table builds.
//
//   ninja -C build perf/bench/lb/lb_builder_bench && build/perf/bench/lb/lb_builder_bench
//   build/perf/bench/lb/lb_builder_bench --benchmark_filter=Incremental   # one endpoint change
//   build/perf/bench/lb/lb_builder_bench --benchmark_filter=MaglevPopulate  # one table, 16 tables
#include <arpa/inet.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "lb/builder/maglev.hpp"
#include "lb/builder/table_builder.hpp"

namespace enidp::lb {
namespace {

std::vector<MaglevKey> backend_keys(uint32_t n) {
    std::vector<MaglevKey> keys;
    for (uint32_t i = 0; i < n; ++i) keys.push_back(MaglevKey{htonl(0x0a000000u + i), htons(8080)});
    return keys;
}

// One table of the automatic size (10, 100 → 16381; 300 → 65537; 1000 → 100003 entries),
// scratch reused.
void BM_MaglevPopulate(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    const auto keys = backend_keys(n);
    std::vector<uint16_t> table(maglev_auto_size(n));
    MaglevBuilder builder;
    for (auto _ : state) {
        builder.populate(keys, table);
        benchmark::DoNotOptimize(table.data());
    }
    state.counters["entries"] = static_cast<double>(table.size());
}
// 10, 100, 300, 1000 backends; with --benchmark_repetitions a min aggregate too (on a
// shared machine it moves less than the median).
void maglev_sizes(benchmark::internal::Benchmark* b) {
    b->Arg(10)->Arg(100)->Arg(300)->Arg(1000)->Unit(benchmark::kMicrosecond);
    b->ComputeStatistics("min", [](const std::vector<double>& v) {
        return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end());
    });
}
BENCHMARK(BM_MaglevPopulate)->Apply(maglev_sizes);

// The same sizes, each iteration with another of 16 backend sets (as a table builder fills
// one Service after another). BM_MaglevPopulate fills one table over and over: the branch
// predictor learns its probes, which flatters branchy fills (the walk of a 16381-entry
// table costs about a third of what it costs here).
void BM_MaglevPopulateVaried(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    constexpr uint32_t kSets = 16;
    std::vector<std::vector<MaglevKey>> sets;
    for (uint32_t s = 0; s < kSets; ++s) {
        std::vector<MaglevKey> keys;
        for (uint32_t i = 0; i < n; ++i) keys.push_back(MaglevKey{htonl(0x0a000000u + (s << 16) + i), htons(8080)});
        sets.push_back(std::move(keys));
    }
    std::vector<uint16_t> table(maglev_auto_size(n));
    MaglevBuilder builder;
    uint32_t s = 0;
    for (auto _ : state) {
        builder.populate(sets[s], table);
        benchmark::DoNotOptimize(table.data());
        if (++s == kSets) s = 0;
    }
    state.counters["entries"] = static_cast<double>(table.size());
}
BENCHMARK(BM_MaglevPopulateVaried)->Apply(maglev_sizes);

struct Cluster {
    std::vector<Service> services;
    std::vector<EndpointSlice> slices;
    NodeInfo node;
};

// n ClusterIP Services, one TCP port each, 10 ready endpoints on 10 nodes (one is this node).
Cluster make_cluster(uint32_t n) {
    Cluster c;
    c.node.name = "node-0";
    c.node.node_ips = {htonl(0xc0a8000a)};
    c.services.reserve(n);
    c.slices.reserve(n);
    for (uint32_t s = 0; s < n; ++s) {
        Service svc;
        svc.ns = "ns-" + std::to_string(s % 100);
        svc.name = "svc-" + std::to_string(s);
        svc.cluster_ips = {htonl(0x0a600000u + s)};
        ServicePortSpec port;
        port.name = "http";
        port.port = 80;
        port.target_port = 8080;
        svc.ports = {port};
        EndpointSlice slice;
        slice.ns = svc.ns;
        slice.name = svc.name + "-abcde";
        slice.service_name = svc.name;
        slice.ports = {EndpointPort{"http", Protocol::kTcp, 8080}};
        for (uint32_t e = 0; e < 10; ++e) {
            Endpoint ep;
            ep.addresses = {htonl(0x0b000000u + s * 10 + e)};
            ep.node_name = "node-" + std::to_string(e);
            slice.endpoints.push_back(ep);
        }
        c.services.push_back(std::move(svc));
        c.slices.push_back(std::move(slice));
    }
    return c;
}

// A full build from scratch (no previous table) with every id already assigned.
// Args: Services, Maglev default size (16381; 1021 for 100k Services: 3.3 GB of tables
// otherwise; 1021 >= 100 x 10 endpoints).
void BM_BuildTable(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    const Cluster c = make_cluster(n);
    BuildOptions options;
    options.maglev_default_size = static_cast<uint32_t>(state.range(1));
    StableIds ids(n, n * 10);
    size_t backends = 0, entries = 0;
    for (auto _ : state) {
        BuildResult r = build_table(c.services, c.slices, c.node, options, ids);
        backends = r.table->backends.size();
        entries = 0;
        for (const auto& chunk : r.table->chunks) entries += chunk->size();
        if (!r.errors.empty()) state.SkipWithError(r.errors.front().c_str());
        benchmark::DoNotOptimize(r.table.get());
    }
    state.counters["backends"] = static_cast<double>(backends);
    state.counters["maglev_entries"] = static_cast<double>(entries);
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);  // items = Services
}

// The steady state of the control plane: one endpoint of one Service changes (its address,
// so its Maglev table must be refilled and its old backend id retires), and the table is
// rebuilt with the published one as `previous`, the runtime's cycle included
// (release_retired). Each iteration changes another Service. Manual time: the rebuild only.
// Counters: p50 / p99 / max of the rebuild in ms, tables shared per rebuild.
void BM_IncrementalBuild(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    Cluster c = make_cluster(n);
    BuildOptions options;
    options.maglev_default_size = static_cast<uint32_t>(state.range(1));
    StableIds ids(n + 16, n * 10 + 16);
    std::unique_ptr<ServiceTable> live = build_table(c.services, c.slices, c.node, options, ids).table;
    ids.release_retired();
    std::vector<double> ms;
    uint32_t shared = 0, k = 0;
    for (auto _ : state) {
        EndpointSlice& slice = c.slices[(k * 7919u) % n];
        slice.endpoints[k % 10].addresses[0] ^= htonl(0x00400000u);  // another address, then back
        ++k;
        const auto t0 = std::chrono::steady_clock::now();
        BuildResult r = build_table(c.services, c.slices, c.node, options, ids, live.get());
        ids.release_retired();
        live = std::move(r.table);
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        state.SetIterationTime(elapsed);
        ms.push_back(elapsed * 1e3);
        shared = r.shared_tables;
        if (!r.errors.empty()) state.SkipWithError(r.errors.front().c_str());
    }
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) {
        return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
    };
    state.counters["p50_ms"] = at(0.50);
    state.counters["p99_ms"] = at(0.99);
    state.counters["max_ms"] = ms.empty() ? 0.0 : ms.back();
    state.counters["shared_tables"] = shared;
}

// ClusterIP lookups in a built table (FrontendMap::find, as a worker does per new flow).
// Cluster IPs are consecutive addresses of one /15, as a service CIDR hands them out.
void BM_FrontendLookup(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    const Cluster c = make_cluster(n);
    BuildOptions options;
    options.maglev_default_size = 1021;
    StableIds ids(n, n * 10);
    const BuildResult r = build_table(c.services, c.slices, c.node, options, ids);
    std::vector<uint64_t> keys;
    for (const Service& svc : c.services) keys.push_back(FrontendMap::key(svc.cluster_ips[0], htons(80), 6));
    size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(r.table->by_vip.find(keys[i]));
        if (++i == keys.size()) i = 0;
    }
}
BENCHMARK(BM_FrontendLookup)->Arg(1000)->Arg(100000);

BENCHMARK(BM_BuildTable)
    ->Args({1000, 16381})
    ->Args({10000, 16381})
    ->Args({10000, 1021})
    ->Args({100000, 1021})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IncrementalBuild)
    ->Args({10000, 16381})
    ->Args({10000, 1021})
    ->Iterations(200)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
// 100k Services: fewer changes (each rebuild takes most of a second).
BENCHMARK(BM_IncrementalBuild)->Args({100000, 1021})->Iterations(50)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace enidp::lb

BENCHMARK_MAIN();

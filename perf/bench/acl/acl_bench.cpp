// NetworkPolicy classification benchmarks: first-packet classify_burst ns/packet at 10,
// 1k and 10k rte_acl rules (bursts of 32 keys that hit random rules), the short-circuit
// for non-isolated pods, snapshot (rte_acl context) build time, and the compiler on a
// selector-heavy cluster. EAL: --no-huge -m 512 --no-pci --no-shconf.
#include <arpa/inet.h>

#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <rte_eal.h>

#include "acl/compiler/compiler.hpp"
#include "acl/compiler/snapshot_builder.hpp"
#include "acl/fastpath/classify.hpp"
#include "acl/fastpath/payload.hpp"
#include "perf/bench/acl/synthetic_policy.hpp"

namespace enidp::acl {
namespace {

constexpr uint16_t kBurst = 32;
using bench::hitting_keys;
using bench::synthetic_policy;

// A synthetic snapshot of `rules` rules per direction and keys hitting random rules.
struct ClassifyFixture {
    CompiledPolicy compiled;
    BuildResult built;
    std::vector<FlowKey> keys;
    bool ok(benchmark::State& state) {
        compiled = synthetic_policy(static_cast<uint32_t>(state.range(0)), 1);
        built = SnapshotBuilder::build(compiled, 1);
        if (!built.snapshot) state.SkipWithError(built.error.c_str());
        keys = hitting_keys(compiled, 1 << 16, 2);
        return built.snapshot != nullptr;
    }
};

// Bursts of 32 keys: one classify_burst call (one_by_one:0) or 32 classify_one calls
// (one_by_one:1, as the pipeline's policy stage decides each new flow).
void BM_ClassifyFirstPacket(benchmark::State& state) {
    ClassifyFixture fx;
    if (!fx.ok(state)) return;
    const bool one_by_one = state.range(1) != 0;
    Verdict out[kBurst];
    size_t at = 0;
    uint64_t denied = 0;
    for (auto _ : state) {
        if (one_by_one) {
            for (uint16_t i = 0; i < kBurst; ++i) out[i] = classify_one(*fx.built.snapshot, fx.keys[at + i]);
            for (const Verdict& v : out) denied += v.allowed() ? 0 : 1;
        } else {
            denied += classify_burst(*fx.built.snapshot, &fx.keys[at], out, kBurst);
        }
        benchmark::DoNotOptimize(out);
        at = (at + kBurst) & (fx.keys.size() - 1);
    }
    if (denied != 0) state.SkipWithError("a hitting key was denied");
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
    state.counters["ns/packet"] = benchmark::Counter(static_cast<double>(state.iterations()) * kBurst,
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["acl_rules"] = static_cast<double>(fx.built.snapshot->acl_rule_count(Direction::kIngress) +
                                                      fx.built.snapshot->acl_rule_count(Direction::kEgress));
}
BENCHMARK(BM_ClassifyFirstPacket)
    ->ArgNames({"rules", "one_by_one"})
    ->ArgsProduct({{10, 1000, 10000}, {0, 1}})
    ->Unit(benchmark::kNanosecond);

// One key per rte_acl_classify_alg call with a given algorithm (1 scalar, 2 SSE, 3 AVX2).
void BM_ClassifyOneAlg(benchmark::State& state) {
    ClassifyFixture fx;
    if (!fx.ok(state)) return;
    const auto alg = static_cast<enum rte_acl_classify_alg>(state.range(1));
    std::vector<AclKey> acl_keys(fx.keys.size());
    for (size_t i = 0; i < fx.keys.size(); ++i) detail::fill_acl_key(acl_keys[i], fx.keys[i]);
    size_t at = 0;
    uint64_t denied = 0;
    for (auto _ : state) {
        const uint8_t* data[1] = {reinterpret_cast<const uint8_t*>(&acl_keys[at])};
        uint32_t r = 0;
        if (rte_acl_classify_alg(fx.built.snapshot->context(fx.keys[at].direction), data, &r, 1, 1, alg) != 0) {
            state.SkipWithError("algorithm not supported");
            return;
        }
        denied += r == 0;
        at = (at + 1) & (fx.keys.size() - 1);
    }
    if (denied != 0) state.SkipWithError("a hitting key was denied");
}
BENCHMARK(BM_ClassifyOneAlg)->ArgNames({"rules", "alg"})->ArgsProduct({{10, 10000}, {1, 2, 3}})->Unit(benchmark::kNanosecond);

// Pods no policy selects: answered from the pod flags without rte_acl.
void BM_ClassifyNotIsolated(benchmark::State& state) {
    CompiledPolicy c = synthetic_policy(10000, 1);
    for (auto& p : c.pods) p.dir[0].isolated = p.dir[1].isolated = false;
    BuildResult b = SnapshotBuilder::build(c, 1);
    const std::vector<FlowKey> keys = hitting_keys(c, 1 << 16, 2);
    Verdict out[kBurst];
    size_t at = 0;
    for (auto _ : state) {
        classify_burst(*b.snapshot, &keys[at], out, kBurst);
        benchmark::DoNotOptimize(out);
        at = (at + kBurst) & (keys.size() - 1);
    }
    state.counters["ns/packet"] = benchmark::Counter(static_cast<double>(state.iterations()) * kBurst,
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ClassifyNotIsolated);

void BM_SnapshotBuild(benchmark::State& state) {
    const CompiledPolicy c = synthetic_policy(static_cast<uint32_t>(state.range(0)), 1);
    uint64_t gen = 0;
    for (auto _ : state) {
        BuildResult b = SnapshotBuilder::build(c, ++gen);
        if (!b.snapshot) state.SkipWithError(b.error.c_str());
        benchmark::DoNotOptimize(b.snapshot.get());
    }
}
BENCHMARK(BM_SnapshotBuild)->Arg(10)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// The compiler on a cluster: 1000 pods in 20 namespaces, 100 policies with selector peers.
void BM_Compile(benchmark::State& state) {
    ClusterState s;
    std::vector<LocalPod> local;
    for (int n = 0; n < 20; ++n) s.namespaces.push_back({"ns" + std::to_string(n), {{"team", n % 2 ? "a" : "b"}}});
    for (uint32_t i = 0; i < 1000; ++i) {
        Pod p;
        p.ns = "ns" + std::to_string(i % 20);
        p.name = "p" + std::to_string(i);
        p.labels = {{"app", "app" + std::to_string(i % 10)}};
        p.ips = {htonl(0x0a000000u + i)};
        p.ports = {{"web", 8080, Protocol::kTcp}};
        s.pods.push_back(p);
        if (i < 30) local.push_back({p.ns, p.name, i});
    }
    for (int k = 0; k < 100; ++k) {
        NetworkPolicy pol;
        pol.ns = "ns" + std::to_string(k % 20);
        pol.name = "pol" + std::to_string(k);
        pol.pod_selector.match_labels = {{"app", "app" + std::to_string(k % 10)}};
        Rule r;
        r.ports = {PolicyPort{Protocol::kTcp, std::nullopt, "web", std::nullopt},
                   PolicyPort{Protocol::kTcp, 443, {}, std::nullopt}};
        r.peers = {Peer{LabelSelector{{{"app", "app" + std::to_string((k + 1) % 10)}}, {}},
                        LabelSelector{{{"team", "a"}}, {}}, std::nullopt}};
        pol.ingress = std::vector<Rule>{r};
        pol.egress = std::vector<Rule>{r};
        s.policies.push_back(pol);
    }
    size_t entries = 0;
    for (auto _ : state) {
        CompileResult r = compile(s, local);
        entries = 0;
        for (const auto& p : r.policy.pods) entries += p.dir[0].entries.size() + p.dir[1].entries.size();
        benchmark::DoNotOptimize(r);
    }
    state.counters["entries"] = static_cast<double>(entries);
}
BENCHMARK(BM_Compile)->Unit(benchmark::kMillisecond);

// Hyperscan: 200 patterns (literals and short regexes) on 1 KiB / 1500-byte payloads that
// mostly do not match, one worker scratch; bytes/s and Gbit/s.
void BM_PayloadScan(benchmark::State& state) {
    std::mt19937 rng(3);
    PayloadPolicy pp;
    pp.ns = "bench";
    pp.name = "sigs";
    pp.direction = PayloadPolicy::Direction::kIngress;
    pp.action = PayloadPolicy::Action::kDeny;
    for (int i = 0; i < 200; ++i) {
        std::string lit;
        for (int k = 0; k < 8 + static_cast<int>(rng() % 8); ++k) lit += static_cast<char>('a' + rng() % 26);
        if (i % 4 == 0) lit = lit.substr(0, 4) + "[0-9]{2,4}" + lit.substr(4);
        if (i % 10 == 0) lit = "^" + lit;
        pp.patterns.push_back(lit);
    }
    CompiledPolicy c = synthetic_policy(10, 1);
    c.payload_policies = {pp};
    c.pods[0].dir[0].payload_policies = {0};
    BuildResult b = SnapshotBuilder::build(c, 1, {-1, 1});
    if (!b.snapshot) {
        state.SkipWithError(b.error.c_str());
        return;
    }
    const PayloadSnapshot& p = *b.snapshot->payload();
    const auto len = static_cast<size_t>(state.range(0));
    std::vector<uint8_t> data(len * 64);
    for (auto& x : data) x = static_cast<uint8_t>(rng());
    size_t at = 0;
    uint64_t denied = 0;
    for (auto _ : state) {
        denied += !p.scan(0, 0, Direction::kIngress, 17, 27015, &data[at * len], static_cast<uint32_t>(len)).allowed();
        at = (at + 1) & 63;
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * len));
    state.counters["Gbit/s"] =
        benchmark::Counter(static_cast<double>(state.iterations() * len) * 8 / 1e9, benchmark::Counter::kIsRate);
    state.counters["denied"] = static_cast<double>(denied);
}
BENCHMARK(BM_PayloadScan)->Arg(1024)->Arg(1500);

// A flow of a pod no PayloadPolicy selects: the whole cost is needs_scan().
void BM_PayloadNotSelected(benchmark::State& state) {
    PayloadPolicy pp;
    pp.ns = "bench";
    pp.name = "sigs";
    pp.patterns = {"abc[0-9]+"};
    CompiledPolicy c = synthetic_policy(1000, 1);
    c.payload_policies = {pp};
    c.pods[0].dir[0].payload_policies = {0};
    BuildResult b = SnapshotBuilder::build(c, 1, {-1, 1});
    const PayloadSnapshot& p = *b.snapshot->payload();
    uint32_t pod = 1;
    for (auto _ : state) {
        benchmark::DoNotOptimize(p.needs_scan(pod, Direction::kIngress, 17, 27015));
        pod = pod % 9 + 1;
    }
}
BENCHMARK(BM_PayloadNotSelected);

}  // namespace
}  // namespace enidp::acl

int main(int argc, char** argv) {
    std::vector<std::string> args{argv[0],    "--no-huge",   "-m",          "512",
                                  "--no-pci", "--no-shconf", "--log-level", "*:warning"};
    std::vector<char*> eal;
    for (auto& a : args) eal.push_back(a.data());
    if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) {
        std::fprintf(stderr, "EAL init failed\n");
        return 1;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    rte_eal_cleanup();
    return 0;
}

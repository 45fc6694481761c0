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

namespace enidp::acl {
namespace {

constexpr uint32_t kEntriesPerPod = 100;
constexpr uint16_t kBurst = 32;

// n allow entries spread over ceil(n / 100) isolated pods in both directions: remote
// prefixes /16 to /32 in 10.0.0.0/8, TCP/UDP/SCTP, single ports or ranges.
CompiledPolicy synthetic_policy(uint32_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    CompiledPolicy c;
    c.policy_names = {"bench/p"};
    const uint32_t pods = (n + kEntriesPerPod - 1) / kEntriesPerPod;
    const uint8_t protos[] = {6, 17, 132};
    for (uint32_t p = 0; p < pods; ++p) {
        PodRules pr;
        pr.id = p;
        pr.ns = "bench";
        pr.name = "pod" + std::to_string(p);
        for (auto& dr : pr.dir) {
            dr.isolated = true;
            dr.selecting_policies = {0};
            const uint32_t count = std::min(kEntriesPerPod, n - p * kEntriesPerPod);
            for (uint32_t i = 0; i < count; ++i) {
                AllowEntry e;
                e.prefix_len = static_cast<uint8_t>(16 + rng() % 17);
                const uint32_t host =
                    (0x0a000000u | (rng() & 0x00ffffffu)) & (e.prefix_len == 0 ? 0 : ~0u << (32 - e.prefix_len));
                e.addr = htonl(host);
                e.protocol = protos[rng() % 3];
                e.port_lo = static_cast<uint16_t>(1 + rng() % 30000);
                e.port_hi = rng() % 4 == 0 ? static_cast<uint16_t>(e.port_lo + rng() % 1000) : e.port_lo;
                e.rule = i;
                dr.entries.push_back(e);
            }
        }
        c.pods.push_back(std::move(pr));
    }
    return c;
}

// Keys inside random entries (so rte_acl walks to a match), both directions.
std::vector<FlowKey> hitting_keys(const CompiledPolicy& c, size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<FlowKey> keys;
    while (keys.size() < n) {
        const PodRules& p = c.pods[rng() % c.pods.size()];
        const int d = static_cast<int>(rng() % 2);
        const AllowEntry& e = p.dir[d].entries[rng() % p.dir[d].entries.size()];
        const uint32_t span = e.prefix_len == 32 ? 1u : 1u << (32 - e.prefix_len);
        const uint32_t addr = ntohl(e.addr) + rng() % span;
        const uint16_t port = static_cast<uint16_t>(e.port_lo + rng() % (e.port_hi - e.port_lo + 1u));
        keys.push_back({p.id, htonl(addr), port, e.protocol, static_cast<Direction>(d)});
    }
    return keys;
}

void BM_ClassifyFirstPacket(benchmark::State& state) {
    const auto rules = static_cast<uint32_t>(state.range(0));  // per direction
    const CompiledPolicy c = synthetic_policy(rules, 1);
    BuildResult b = SnapshotBuilder::build(c, 1);
    if (!b.snapshot) {
        state.SkipWithError(b.error.c_str());
        return;
    }
    const std::vector<FlowKey> keys = hitting_keys(c, 1 << 16, 2);
    Verdict out[kBurst];
    size_t at = 0;
    uint64_t denied = 0;
    for (auto _ : state) {
        denied += classify_burst(*b.snapshot, &keys[at], out, kBurst);
        benchmark::DoNotOptimize(out);
        at = (at + kBurst) & (keys.size() - 1);
    }
    if (denied != 0) state.SkipWithError("a hitting key was denied");
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
    state.counters["ns/packet"] = benchmark::Counter(static_cast<double>(state.iterations()) * kBurst,
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["acl_rules"] = static_cast<double>(b.snapshot->acl_rule_count(Direction::kIngress) +
                                                      b.snapshot->acl_rule_count(Direction::kEgress));
}
BENCHMARK(BM_ClassifyFirstPacket)->Arg(10)->Arg(1000)->Arg(10000)->Unit(benchmark::kNanosecond);

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

// NetworkPolicy through the real pipeline (google-benchmark, EAL --no-huge): one pod sending
// out of its ENI (the pod-egress path of perf/scenarios/policy_*.yaml), isolated for egress by
// N rules built by perf::policy_cluster → acl::compile → acl::SnapshotBuilder and published in
// the dp::Snapshot as Dataplane::set_policy does; one rule among the N admits the traffic
// (10.1.0.0/16, UDP 80). Bursts of 32 re-copied 64-byte frames through dp::process_burst.
//
//   BM_PolicyNewFlows/rules:N    every packet opens a new flow: conntrack miss, policy decision
//                                (rte_acl classification of the first packet), the flow tracked
//                                in conntrack (two keys), routing. A fresh conntrack whenever 7/8
//                                of it is used (not timed). rules:0 = no policy published (the
//                                pipeline then tracks nothing: the floor, not a comparison).
//                                ahead:1 first classifies the burst's egress keys in one
//                                classify_burst call (timed): an upper bound of what batching
//                                the policy stage's first-packet classification would cost.
//   BM_PolicyEstablished/rules:N 16,384 flows already tracked: conntrack hit, cached verdict.
//
// mixed:0 is the scenarios' rule set (all N rules on the one pod: /32 peers, UDP ports
// 1024..2047; every new flow is admitted by the same rule, 10.1.0.0/16 UDP 80, so the trie
// path it walks stays in cache); mixed:1 is acl_bench's harder rule set, all N entries on the
// one pod (prefixes /16–/32 in 10.0.0.0/8, TCP/UDP/SCTP, ports and ranges), and each new flow
// (TCP SYN or UDP) goes to a random entry's peer and port, so first packets walk different
// trie paths as in acl_bench.
//
// With --no-huge, EAL memory is 4 KiB pages faulted in on first touch: BM_PolicyNewFlows
// fills one conntrack untimed first, so the timed ones reuse memory already touched.
// Run: build/perf/bench/acl/policy_pipeline_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_rcu_qsbr.h>

#include "acl/compiler/snapshot_builder.hpp"
#include "dataplane/fastpath/pipeline.hpp"
#include "perf/bench/acl/synthetic_policy.hpp"
#include "perf/scenario.hpp"
#include "perf/synth/packet_builder.hpp"

namespace {

using namespace enidp;

constexpr uint16_t kPodPort = 0, kEniPort = 1;
constexpr uint16_t kBurst = 32;
constexpr uint32_t kPodIp = 0x0a00000a;  // host order

// Where process_burst puts packets: counted, never sent (the mbufs are reused).
struct Sink {
    dp::WorkerStats st;
    lb::LbWorker lbw;
    dp::PolicyWorker pw;
    uint64_t dropped = 0;
    dp::WorkerStats& stats() { return st; }
    lb::LbWorker& lb_worker() { return lbw; }
    dp::PolicyWorker& policy_worker() { return pw; }
    void to_port(uint16_t, rte_mbuf*) {}
    void consumed(rte_mbuf*) {}
    void drop(rte_mbuf*, dp::Drop why) { st.drop(why), dropped++; }
};

uint32_t be32(uint32_t v) { return rte_cpu_to_be_32(v); }

// policy_10/1k/10k.yaml's layout: count × rules_per_policy egress rules, /32 ipBlocks in
// 172.16.0.0/12 on UDP 1024..2047, the admitting rule in the middle.
perf::PolicySpec spec_for(uint32_t rules) {
    perf::PolicySpec s;
    s.rules_per_policy = rules >= 100 ? 10 : 1;
    s.count = rules / s.rules_per_policy;
    s.port_span = 1024;
    return s;
}

// acl_bench's synthetic entries, all moved to pod 0's egress (ingress not isolated).
acl::CompiledPolicy mixed_policy(uint32_t rules) {
    acl::CompiledPolicy c = acl::bench::synthetic_policy(rules, 1);
    constexpr int kEg = static_cast<int>(acl::Direction::kEgress);
    auto& all = c.pods[0].dir[kEg].entries;
    for (size_t p = 1; p < c.pods.size(); p++)
        all.insert(all.end(), c.pods[p].dir[kEg].entries.begin(), c.pods[p].dir[kEg].entries.end());
    c.pods.resize(1);
    c.pods[0].dir[0] = {};
    return c;
}

class Bench {
public:
    Bench(uint32_t rules, bool mixed, uint32_t ct_max) : ct_max_(ct_max) {
        static int seq = 0;
        seq_ = ++seq;
        pool_ = rte_pktmbuf_pool_create(("pb_pool" + std::to_string(seq_)).c_str(), 8191, 0, 0, 2048, 0);
        const size_t sz = rte_rcu_qsbr_get_memsize(2);
        qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("pb_qsbr", sz, RTE_CACHE_LINE_SIZE));
        rte_rcu_qsbr_init(qsbr_, 2);
        rte_rcu_qsbr_thread_register(qsbr_, 1);
        state_ = std::make_unique<lb::LbState>(16, 16);
        std::string err;
        aff_ = lb::Affinity::create("pba" + std::to_string(seq_), 1024, 0, qsbr_, err);
        fresh_conntrack();

        gw_.set(rte_ether_addr{{2, 0, 0, 0, 0, 0xfe}});
        snap_.gateway_mac = rte_ether_addr{{2, 0, 0, 0, 0, 1}};
        snap_.enis = {dp::EniEntry{kEniPort, rte_ether_addr{{2, 0, 0, 0, 0x0e, 0}}, be32(kPodIp), be32(0x0a000001), 0,
                                   &gw_}};
        snap_.pods = {dp::PodEntry{be32(kPodIp), rte_ether_addr{{2, 0, 0, 0, 0, 0x10}}, kPodPort, 0, true}};
        snap_.pods[0].policy_id = 0;
        snap_.ports[kPodPort] = {dp::PortRole::kPod, 0};
        snap_.ports[kEniPort] = {dp::PortRole::kEni, 0};
        snap_.pod_by_ip.build({{be32(kPodIp), 0}});

        if (rules > 0) {
            acl::CompiledPolicy compiled;
            if (mixed) {
                compiled = mixed_policy(rules);
            } else {
                const perf::PolicyCluster cl =
                    perf::policy_cluster(spec_for(rules), {{"default/pod-a", be32(kPodIp), 0}});
                acl::CompileResult c = acl::compile(cl.state, cl.local);
                if (!c.ok) throw std::runtime_error(c.error);
                compiled = std::move(c.policy);
            }
            acl::BuildResult b = acl::SnapshotBuilder::build(compiled, 1, {0, 1});
            if (!b.snapshot) throw std::runtime_error(b.error);
            acl_rules_ = b.snapshot->acl_rule_count(acl::Direction::kEgress);
            pub_.snapshot = std::shared_ptr<const acl::PolicySnapshot>(std::move(b.snapshot));
            pub_.counters.resize(1);
            pub_.counters[0].allocate(static_cast<uint32_t>(pub_.snapshot->policy_names().size()), 0, 1);
            snap_.policy = dp::PolicyTables{pub_.snapshot.get(), dp::PolicyTables::stamp(1), pub_.counters.data()};
        }
        for (uint16_t i = 0; i < kBurst; i++) mbufs_[i] = rte_pktmbuf_alloc(pool_);
    }
    ~Bench() {
        for (auto* m : mbufs_) rte_pktmbuf_free(m);
        snap_.lb = {};
        snap_.policy = {};
        ct_.reset();
        aff_.reset();
        rte_mempool_free(pool_);
        rte_free(qsbr_);
    }

    void fresh_conntrack() {
        snap_.lb = {};
        ct_.reset();
        lb::CtConfig cc;
        cc.name = "pb" + std::to_string(seq_) + "_" + std::to_string(ct_seq_++);
        cc.max_flows = ct_max_;
        cc.qsbr = qsbr_;
        cc.control_rcu_id = 1;
        std::string err;
        ct_ = lb::Conntrack::create(cc, err);
        if (!ct_) throw std::runtime_error(err);
        ct_->bind_state(state_.get());
        snap_.lb = lb::LbTables{nullptr, ct_.get(), aff_.get(), state_.get()};
    }

    // The frames of flows 0..n-1 for this variant.
    static std::vector<std::vector<uint8_t>> frames(uint32_t rules, bool mixed, uint32_t n) {
        if (mixed && rules > 0) return mixed_frames(rules, n);
        std::vector<std::vector<uint8_t>> out;
        out.reserve(n);
        for (uint32_t i = 0; i < n; i++) out.push_back(frame(i));
        return out;
    }
    // mixed:1 flow i: to key i % 65536 (a random entry's peer and port; TCP SYN or UDP, SCTP
    // entries skipped) from port 1024 + i % 60000, so tuples stay distinct.
    static std::vector<std::vector<uint8_t>> mixed_frames(uint32_t rules, uint32_t n) {
        const acl::CompiledPolicy c = mixed_policy(rules);
        acl::CompiledPolicy eg = c;  // hitting_keys picks a direction at random: mirror egress
        eg.pods[0].dir[0] = eg.pods[0].dir[1];
        std::vector<acl::FlowKey> keys;
        for (const acl::FlowKey& k : acl::bench::hitting_keys(eg, 1 << 17, 2))
            if (k.proto != 132 && keys.size() < (1u << 16)) keys.push_back(k);
        std::vector<std::vector<uint8_t>> frames;
        frames.reserve(n);
        for (uint32_t i = 0; i < n; i++) {
            const acl::FlowKey& k = keys[i % keys.size()];
            const auto sport = static_cast<uint16_t>(1024 + i % 60000);
            synth::PacketBuilder b;
            b.eth(*synth::mac_from_string("02:00:00:00:00:10"), *synth::mac_from_string("02:00:00:00:00:01"))
                .ipv4(kPodIp, rte_be_to_cpu_32(k.remote_ip));
            if (k.proto == 6) b.tcp(sport, k.dport);
            else b.udp(sport, k.dport);
            frames.push_back(b.frame_size(60).build());
        }
        return frames;
    }
    // Flow i: pod → 10.1.0.0 + i % 4096 (UDP 80) from port 10000 + i / 4096 (as `gen`).
    static std::vector<uint8_t> frame(uint32_t i) {
        return synth::PacketBuilder()
            .eth(*synth::mac_from_string("02:00:00:00:00:10"), *synth::mac_from_string("02:00:00:00:00:01"))
            .ipv4(kPodIp, 0x0a010000 + i % 4096)
            .udp(static_cast<uint16_t>(10000 + i / 4096), 80)
            .frame_size(60)
            .build();
    }
    // Copies flows first .. first + 31 into the burst's mbufs and runs the pipeline on them.
    void run(const std::vector<std::vector<uint8_t>>& frames, uint32_t first, Sink& sink) {
        for (uint16_t k = 0; k < kBurst; k++) {
            const std::vector<uint8_t>& f = frames[(first + k) % frames.size()];
            rte_pktmbuf_reset(mbufs_[k]);
            auto* to = rte_pktmbuf_mtod(mbufs_[k], uint8_t*);
            std::memcpy(to, f.data(), f.size());
            rte_pktmbuf_append(mbufs_[k], static_cast<uint16_t>(f.size()));
        }
        dp::process_burst(snap_, kPodPort, mbufs_, kBurst, sink);
    }
    lb::Conntrack& ct() { return *ct_; }
    const acl::PolicySnapshot* policy() const { return snap_.policy.snap; }
    size_t acl_rules() const { return acl_rules_; }

private:
    uint32_t ct_max_;
    int seq_ = 0, ct_seq_ = 0;
    rte_mempool* pool_ = nullptr;
    rte_rcu_qsbr* qsbr_ = nullptr;
    std::unique_ptr<lb::Conntrack> ct_;
    std::unique_ptr<lb::Affinity> aff_;
    std::unique_ptr<lb::LbState> state_;
    dp::PolicyPublication pub_;
    dp::NeighborCell gw_;
    dp::Snapshot snap_;
    size_t acl_rules_ = 0;
    rte_mbuf* mbufs_[kBurst];
};

// One variant's bench, frames, sink and counters.
struct Run {
    uint32_t rules;
    bool mixed;
    Bench bench;
    std::vector<std::vector<uint8_t>> frames;
    Sink sink;
    Run(benchmark::State& state, uint32_t ct_max, uint32_t flows)
        : rules(static_cast<uint32_t>(state.range(0))), mixed(state.range(1) != 0), bench(rules, mixed, ct_max),
          frames(Bench::frames(rules, mixed, flows)) {
        sink.lbw.now_ms = lb::clock_ms();
    }
    // Bursts at flows first, first + 32, ... below end.
    void bursts(uint32_t first, uint32_t end) {
        for (uint32_t i = first; i + kBurst <= end; i += kBurst) burst(i);
    }
    void burst(uint32_t first) { bench.run(frames, first, sink); }
    // The egress keys of flows first .. first + 31 through one classify_burst call: what a
    // per-burst batch would cost, and it leaves the trie lines the burst needs in cache.
    void classify_ahead(uint32_t first) {
        acl::FlowKey keys[kBurst];
        acl::Verdict out[kBurst];
        for (uint16_t k = 0; k < kBurst; k++) {
            const std::vector<uint8_t>& f = frames[first + k];
            dp::ParsedPacket p;
            dp::parse_packet(f.data(), static_cast<uint32_t>(f.size()), p);
            keys[k] = {0, p.dst_ip, rte_be_to_cpu_16(p.dst_port), p.proto, acl::Direction::kEgress};
        }
        acl::classify_burst(*bench.policy(), keys, out, kBurst);
        benchmark::DoNotOptimize(out);
    }
    uint64_t allowed() const { return sink.st.events[static_cast<size_t>(dp::Event::kPolicyAllowed)].get(); }
    void finish(benchmark::State& state) {
        state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
        state.counters["acl_rules"] = static_cast<double>(bench.acl_rules());
        state.counters["drops"] = static_cast<double>(sink.dropped);
    }
};

void BM_PolicyNewFlows(benchmark::State& state) {
    constexpr uint32_t kMax = 1u << 18, kUsable = kMax - kMax / 8;
    Run r(state, kMax, kUsable);
    r.bursts(0, kUsable);  // touch a whole table's memory once
    r.bench.fresh_conntrack();
    const uint64_t warm = r.allowed();
    const bool ahead = state.range(2) != 0 && r.bench.policy() != nullptr;
    uint32_t next = 0;
    for (auto _ : state) {
        if (next + kBurst > kUsable) {  // table used up: start over with an empty one
            state.PauseTiming();
            r.bench.fresh_conntrack();
            next = 0;
            state.ResumeTiming();
        }
        if (ahead) r.classify_ahead(next);
        r.burst(next);
        next += kBurst;
    }
    r.finish(state);
    state.counters["new_flows/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * kBurst, benchmark::Counter::kIsRate);
    state.counters["decided"] = static_cast<double>(r.allowed() - warm);
}
BENCHMARK(BM_PolicyNewFlows)
    ->ArgNames({"rules", "mixed", "ahead"})
    ->Args({0, 0, 0})
    ->ArgsProduct({{10, 1000, 10000}, {0, 1}, {0}})
    ->ArgsProduct({{10, 10000}, {1}, {1}})
    ->Unit(benchmark::kNanosecond)
    ->MinTime(1.0);

void BM_PolicyEstablished(benchmark::State& state) {
    constexpr uint32_t kFlows = 16384;
    Run r(state, 65536, kFlows);
    r.bursts(0, kFlows);  // establish every flow once
    uint32_t next = 0;
    for (auto _ : state) {
        r.burst(next);
        next = (next + kBurst) % kFlows;
    }
    r.finish(state);
    state.counters["flows"] = static_cast<double>(r.bench.ct().size());
}
BENCHMARK(BM_PolicyEstablished)
    ->ArgNames({"rules", "mixed"})
    ->Args({0, 0})
    ->ArgsProduct({{10, 1000, 10000}, {0, 1}})
    ->Unit(benchmark::kNanosecond);

}  // namespace

int main(int argc, char** argv) {
    char* eal[] = {argv[0], const_cast<char*>("--no-huge"), const_cast<char*>("-m1536"), const_cast<char*>("--no-pci"),
                   const_cast<char*>("--no-shconf"), const_cast<char*>("--lcores=0"),
                   const_cast<char*>("--log-level=*:warning")};
    if (rte_eal_init(static_cast<int>(std::size(eal)), eal) < 0) return 1;
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return rte_eal_cleanup() == 0 ? 0 : 1;
}

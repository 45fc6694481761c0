// Service-stage benchmarks on the real pipeline functions (google-benchmark, EAL --no-huge).
//
//   BM_Pipeline/services:N  pod → Service VIP, 16,384 established UDP flows, 64-byte frames,
//                           bursts of 32 through dp::process_burst (conntrack hit + DNAT +
//                           routing); N = 0 is the same pipeline with no Service at all.
//   BM_NewFlows/services:N  every packet opens a new flow: conntrack miss, frontend look-up,
//                           Maglev selection, conntrack insert (two keys), DNAT.
//
// Each burst's frames are re-copied from templates (60 bytes each) before processing, in
// every variant alike, so differences between variants are the stage's own cost.
// Run: build/perf/bench/services/services_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <sys/mman.h>

#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "dataplane/fastpath/pipeline.hpp"
#include "lb/builder/table_builder.hpp"
#include "perf/synth/packet_builder.hpp"

namespace {

using namespace enidp;

constexpr uint16_t kPodPort = 0, kEniPort = 1;
constexpr uint32_t kFlows = 16384;
constexpr uint16_t kBurst = 32;

struct CountSink {
    dp::WorkerStats st;
    lb::LbWorker lbw;
    uint64_t out = 0, dropped = 0;
    dp::WorkerStats& stats() { return st; }
    lb::LbWorker& lb_worker() { return lbw; }
    void to_port(uint16_t, rte_mbuf*) { out++; }
    void drop(rte_mbuf*, dp::Drop d) {
        st.drop(d);
        dropped++;
    }
    void consumed(rte_mbuf*) {}
};

uint32_t be32(uint32_t v) { return rte_cpu_to_be_32(v); }

// A node with one pod and its ENI, `services` ClusterIPs at 10.96.0.0 + i (UDP 80 → 8080,
// 10 remote endpoints each, Maglev 1021), and a conntrack of `ct_max` flows.
class Bench {
public:
    Bench(uint32_t services, uint32_t ct_max) {
        static int seq = 0;
        seq++;
        pool_ = rte_pktmbuf_pool_create(("sb_pool" + std::to_string(seq)).c_str(), 8191, 0, 0, 2048, 0);
        const size_t sz = rte_rcu_qsbr_get_memsize(2);
        qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("sb_qsbr", sz, RTE_CACHE_LINE_SIZE));
        rte_rcu_qsbr_init(qsbr_, 2);
        rte_rcu_qsbr_thread_register(qsbr_, 1);
        lb::CtConfig cc;
        cc.name = "sb" + std::to_string(seq);
        cc.max_flows = ct_max;
        cc.qsbr = qsbr_;
        cc.control_rcu_id = 1;
        std::string err;
        ct_ = lb::Conntrack::create(cc, err);
        if (!ct_) throw std::runtime_error(err);
        state_ = std::make_unique<lb::LbState>(services + 16, services * 10 + 16);
        ct_->bind_state(state_.get());
        aff_ = lb::Affinity::create("sba" + std::to_string(seq), 1024, 0, qsbr_, err);

        gw_.set(rte_ether_addr{{2, 0, 0, 0, 0, 0xfe}});
        snap_.gateway_mac = rte_ether_addr{{2, 0, 0, 0, 0, 1}};
        snap_.enis = {dp::EniEntry{kEniPort, rte_ether_addr{{2, 0, 0, 0, 0x0e, 0}}, be32(0x0a00000a), be32(0x0a000001),
                                   0, &gw_}};
        snap_.pods = {dp::PodEntry{be32(0x0a00000a), rte_ether_addr{{2, 0, 0, 0, 0, 0x10}}, kPodPort, 0, true}};
        snap_.ports[kPodPort] = {dp::PortRole::kPod, 0};
        snap_.ports[kEniPort] = {dp::PortRole::kEni, 0};
        snap_.pod_by_ip.build({{be32(0x0a00000a), 0}});

        std::vector<lb::Service> svcs;
        std::vector<lb::EndpointSlice> slices;
        for (uint32_t i = 0; i < services; i++) {
            lb::Service s;
            s.ns = "bench";
            s.name = "s" + std::to_string(i);
            s.cluster_ips = {be32(0x0a600000 + i)};
            s.ports = {lb::ServicePortSpec{"", lb::Protocol::kUdp, 80, 8080, "", 0}};
            lb::EndpointSlice sl;
            sl.ns = s.ns;
            sl.name = s.name;
            sl.service_name = s.name;
            sl.ports = {lb::EndpointPort{"", lb::Protocol::kUdp, 8080}};
            for (uint32_t e = 0; e < 10; e++) {
                lb::Endpoint ep;
                ep.addresses = {be32(0x0a800000 + i * 10 + e)};
                ep.node_name = "other";
                sl.endpoints.push_back(ep);
            }
            svcs.push_back(std::move(s));
            slices.push_back(std::move(sl));
        }
        lb::StableIds ids(services + 16, services * 10 + 16);
        lb::BuildOptions opt;
        opt.maglev_default_size = 1021;
        lb::NodeInfo node;
        node.name = "bench-node";
        lb::BuildResult r = lb::build_table(svcs, slices, node, opt, ids, nullptr);
        for (const auto& [id, s] : r.backend_status) state_->backends[id].status.store(static_cast<uint8_t>(s));
        table_ = std::move(r.table);
        if (services > 0) snap_.lb = lb::LbTables{table_.get(), ct_.get(), aff_.get(), state_.get()};
        services_ = services;
        for (uint16_t i = 0; i < kBurst; i++) mbufs_[i] = rte_pktmbuf_alloc(pool_);
    }
    ~Bench() {
        for (auto* m : mbufs_) rte_pktmbuf_free(m);
        snap_.lb = {};
        ct_.reset();
        aff_.reset();
        rte_mempool_free(pool_);
        rte_free(qsbr_);
    }

    // Frame of flow i: pod → VIP (i % services) from port 10000 + i / services.
    std::vector<uint8_t> frame(uint32_t i) const {
        const uint32_t n = services_ ? services_ : 1;
        synth::PacketBuilder b;
        b.eth(*synth::mac_from_string("02:00:00:00:00:10"), *synth::mac_from_string("02:00:00:00:00:01"))
            .ipv4(0x0a00000a, 0x0a600000 + i % n)
            .udp(static_cast<uint16_t>(10000 + (i / n) % 50000), 80)
            .frame_size(60);
        return b.build();
    }
    void load(const std::vector<std::vector<uint8_t>>& frames, uint32_t first) {
        for (uint16_t i = 0; i < kBurst; i++) {
            rte_mbuf* m = mbufs_[i];
            const auto& f = frames[(first + i) % frames.size()];
            rte_pktmbuf_reset(m);
            std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())), f.data(), f.size());
        }
    }
    void run(CountSink& sink) { dp::process_burst(snap_, kPodPort, mbufs_, kBurst, sink); }
    lb::Conntrack& ct() { return *ct_; }

private:
    rte_mempool* pool_ = nullptr;
    rte_rcu_qsbr* qsbr_ = nullptr;
    std::unique_ptr<lb::Conntrack> ct_;
    std::unique_ptr<lb::Affinity> aff_;
    std::unique_ptr<lb::LbState> state_;
    std::unique_ptr<lb::ServiceTable> table_;
    dp::NeighborCell gw_;
    dp::Snapshot snap_;
    uint32_t services_ = 0;
    rte_mbuf* mbufs_[kBurst];
};

void BM_Pipeline(benchmark::State& state) {
    const auto services = static_cast<uint32_t>(state.range(0));
    Bench b(services, 65536);
    std::vector<std::vector<uint8_t>> frames;
    for (uint32_t i = 0; i < kFlows; i++) frames.push_back(b.frame(i));
    CountSink sink;
    sink.lbw.now_ms = lb::clock_ms();
    for (uint32_t i = 0; i < kFlows; i += kBurst) {  // establish every flow once
        b.load(frames, i);
        b.run(sink);
    }
    uint32_t next = 0;
    for (auto _ : state) {
        b.load(frames, next);
        b.run(sink);
        next = (next + kBurst) % kFlows;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
    state.counters["flows"] = static_cast<double>(b.ct().size());
    state.counters["drops"] = static_cast<double>(sink.dropped);
}
BENCHMARK(BM_Pipeline)->ArgName("services")->Arg(0)->Arg(1)->Arg(10000)->Arg(100000)->Unit(benchmark::kNanosecond);

void BM_NewFlows(benchmark::State& state) {
    const auto services = static_cast<uint32_t>(state.range(0));
    constexpr uint32_t kMax = 1u << 20;
    auto b = std::make_unique<Bench>(services, kMax);
    // Distinct tuples: 1M flows over 50,000 source ports × the VIPs (services ≥ 21 needed).
    std::vector<std::vector<uint8_t>> frames;
    const uint32_t distinct = kMax - kMax / 8;
    frames.reserve(distinct);
    for (uint32_t i = 0; i < distinct; i++) frames.push_back(b->frame(i));
    CountSink sink;
    sink.lbw.now_ms = lb::clock_ms();
    uint32_t next = 0;
    for (auto _ : state) {
        if (next + kBurst > distinct) {  // table used up: start over with an empty one
            state.PauseTiming();
            b = std::make_unique<Bench>(services, kMax);
            next = 0;
            state.ResumeTiming();
        }
        b->load(frames, next);
        b->run(sink);
        next += kBurst;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
    state.counters["new_flows"] = benchmark::Counter(static_cast<double>(sink.st.events[static_cast<size_t>(
                                                         dp::Event::kSvcNewFlow)].get()),
                                                     benchmark::Counter::kIsRate);
    state.counters["drops"] = static_cast<double>(sink.dropped);
}
BENCHMARK(BM_NewFlows)->ArgName("services")->Arg(10000)->Unit(benchmark::kNanosecond)->MinTime(2.0);

// Conntrack::insert alone: distinct UDP tuples (client port × VIP) to 10 backends, one
// insert per item, a fresh table of 1M flows whenever 7/8 of it is used (not timed).
void BM_CtInsert(benchmark::State& state) {
    constexpr uint32_t kMax = 1u << 20, kUsable = kMax - kMax / 8;
    const size_t sz = rte_rcu_qsbr_get_memsize(2);
    auto* qsbr = static_cast<rte_rcu_qsbr*>(rte_zmalloc("ci_qsbr", sz, RTE_CACHE_LINE_SIZE));
    rte_rcu_qsbr_init(qsbr, 2);
    auto make = [&, seq = 0]() mutable {
        lb::CtConfig cc;
        cc.name = "ci" + std::to_string(seq++);
        cc.max_flows = kMax;
        cc.qsbr = qsbr;
        std::string err;
        auto ct = lb::Conntrack::create(cc, err);
        if (!ct) throw std::runtime_error(err);
        return ct;
    };
    std::vector<lb::CtKey> orig(kUsable), reply(kUsable);
    for (uint32_t i = 0; i < kUsable; i++) {
        const uint32_t vip = be32(0x0a600000 + i % 10000);
        const auto sport = rte_cpu_to_be_16(static_cast<uint16_t>(10000 + i / 10000));
        orig[i] = lb::CtKey{be32(0x0a00000a), vip, sport, rte_cpu_to_be_16(80), 17, {0, 0, 0}};
        reply[i] = lb::CtKey{be32(0x0a800000 + (i % 10000) * 10 + i % 7), be32(0x0a00000a), rte_cpu_to_be_16(8080),
                             sport, 17, {0, 0, 0}};
    }
    auto ct = make();
    const uint64_t now = lb::clock_ms();
    uint32_t next = 0, failed = 0;
    for (auto _ : state) {
        if (next == kUsable) {
            state.PauseTiming();
            ct.reset();
            ct = make();
            next = 0;
            state.ResumeTiming();
        }
        lb::Flow* f = nullptr;
        failed += ct->insert(orig[next], reply[next], 1, 2, 0, lb::kNoPort,
                             static_cast<uint8_t>(lb::CtState::kUnreplied), now, &f) != lb::InsertStatus::kInserted;
        next++;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    state.counters["failed"] = failed;
    ct.reset();
    rte_free(qsbr);
}
BENCHMARK(BM_CtInsert)->Unit(benchmark::kNanosecond)->MinTime(2.0);

}  // namespace

// With --no-huge, EAL memory is 4 KiB pages faulted in on first touch, so a fresh
// conntrack pays a page fault every few dozen inserts (its hash buckets and key slots),
// which hugepage memory (populated when EAL maps it) never does. `--prefault` populates
// all of EAL's memory first, as hugepages would be.
int prefault_segment_list(const rte_memseg_list* msl, void*) {
    if (msl->external || msl->base_va == nullptr) return 0;
    madvise(msl->base_va, msl->len, MADV_POPULATE_WRITE);
    return 0;
}

int main(int argc, char** argv) {
    bool prefault = false;
    for (int i = 1; i < argc; i++) {
        if (std::string(argv[i]) == "--prefault") {
            prefault = true;
            for (int j = i; j + 1 < argc; j++) argv[j] = argv[j + 1];
            argc--;
            break;
        }
    }
    std::vector<std::string> args{argv[0], "--no-huge", "-m", "3072", "--no-pci", "--no-shconf", "--lcores", "0",
                                  "--log-level", "*:warning"};
    std::vector<char*> eal;
    for (auto& a : args) eal.push_back(a.data());
    if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) return 1;
    if (prefault) rte_memseg_list_walk(prefault_segment_list, nullptr);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    rte_eal_cleanup();
    return 0;
}

// select_backend / flow_hash: determinism and distributions (chi-square at p = 0.001).
#include "lb/fastpath/select.hpp"

#include <gtest/gtest.h>

#include <map>

#include "tests/lb/fixtures.hpp"

namespace enidp::lb::test {
namespace {

// Upper critical values of chi-square at p = 0.001.
constexpr double kChi2Df2 = 13.816;
constexpr double kChi2Df3 = 16.266;

BuildResult build_with(Algorithm algo, uint32_t n, std::map<std::string, std::string> weights = {}) {
    Service svc = cluster_ip_service("default", "web", "10.96.0.10", {tcp_port("http", 80)});
    svc.algorithm = algo;
    svc.endpoint_weights = std::move(weights);
    std::vector<Endpoint> eps;
    std::vector<std::string> addrs;
    for (uint32_t i = 0; i < n; ++i) addrs.push_back("10.1.0." + std::to_string(i + 1));
    for (const std::string& a : addrs) eps.push_back(endpoint(a.c_str(), "node-b"));
    StableIds ids = big_ids();
    return build_table(std::vector<Service>{svc},
                       std::vector<EndpointSlice>{slice("default", "web-1", "web", {slice_port("http", 8080)}, eps)},
                       this_node(), BuildOptions{}, ids);
}

double chi_square(const std::vector<uint32_t>& observed, const std::vector<double>& p, uint32_t draws) {
    double chi2 = 0;
    for (size_t i = 0; i < observed.size(); ++i) {
        const double e = p[i] * draws;
        chi2 += (observed[i] - e) * (observed[i] - e) / e;
    }
    return chi2;
}

std::vector<uint32_t> draw(const BuildResult& r, LbState& state, uint32_t draws, uint64_t seed = 42) {
    const ServicePort& sp = r.table->ports.at(0);
    std::vector<uint32_t> counts(sp.internal.count, 0);
    uint64_t rng = seed;
    for (uint32_t i = 0; i < draws; ++i) {
        const uint32_t b = select_backend(*r.table, sp, sp.internal, flow_hash(i, 7, 1234, 80, 6), rng, state);
        EXPECT_GE(b, sp.internal.first);
        EXPECT_LT(b, sp.internal.first + sp.internal.count);
        ++counts[b - sp.internal.first];
    }
    return counts;
}

TEST(Select, FlowHashIsAPureFunctionOfTheTuple) {
    const uint32_t h = flow_hash(ip("10.0.0.1"), ip("10.96.0.10"), be16(40000), be16(80), 6);
    EXPECT_EQ(h, flow_hash(ip("10.0.0.1"), ip("10.96.0.10"), be16(40000), be16(80), 6));
    EXPECT_NE(h, flow_hash(ip("10.0.0.1"), ip("10.96.0.10"), be16(40001), be16(80), 6));
    EXPECT_NE(h, flow_hash(ip("10.0.0.1"), ip("10.96.0.10"), be16(40000), be16(80), 17));
    EXPECT_NE(h, flow_hash(ip("10.96.0.10"), ip("10.0.0.1"), be16(40000), be16(80), 6));
}

TEST(Select, MaglevFollowsTheTableWhateverTheWorker) {
    const BuildResult r = build_with(Algorithm::kMaglev, 4);
    LbState state(16, 16);
    const ServicePort& sp = r.table->ports.at(0);
    const BackendSet& set = sp.internal;
    for (uint32_t i = 0; i < 1000; ++i) {
        const uint32_t h = flow_hash(i, 99, 1000 + i, 80, 6);
        uint64_t rng_a = 1, rng_b = 0xdeadbeef;
        const uint32_t a = select_backend(*r.table, sp, set, h, rng_a, state);
        ASSERT_EQ(a, select_backend(*r.table, sp, set, h, rng_b, state));
        ASSERT_EQ(a, set.first + set.maglev[h % set.maglev_size]);
    }
    EXPECT_LT(chi_square(draw(r, state, 40000), {0.25, 0.25, 0.25, 0.25}, 40000), kChi2Df3);
}

TEST(Select, EmptyAndSingleSets) {
    const BuildResult one = build_with(Algorithm::kMaglev, 1);
    const BuildResult none = build_with(Algorithm::kRandom, 0);
    LbState state(16, 16);
    uint64_t rng = 1;
    const ServicePort& sp1 = one.table->ports.at(0);
    EXPECT_EQ(select_backend(*one.table, sp1, sp1.internal, 12345, rng, state), sp1.internal.first);
    const ServicePort& sp0 = none.table->ports.at(0);
    EXPECT_EQ(select_backend(*none.table, sp0, sp0.internal, 12345, rng, state), kNone);
    EXPECT_EQ(sp0.internal.empty_action, EmptyAction::kReject);

    const BuildResult drained =
        build_with(Algorithm::kWeighted, 2, {{"10.1.0.1", "0"}, {"10.1.0.2", "0"}});  // all weights 0
    const ServicePort& spd = drained.table->ports.at(0);
    EXPECT_EQ(select_backend(*drained.table, spd, spd.internal, 1, rng, state), kNone);
}

TEST(Select, RandomIsUniform) {
    const BuildResult r = build_with(Algorithm::kRandom, 4);
    LbState state(16, 16);
    for (uint64_t seed : {1ull, 42ull, 0ull}) {
        SCOPED_TRACE(seed);
        EXPECT_LT(chi_square(draw(r, state, 40000, seed), {0.25, 0.25, 0.25, 0.25}, 40000), kChi2Df3);
    }
}

TEST(Select, RoundRobinCyclesThroughTheSharedCursor) {
    const BuildResult r = build_with(Algorithm::kRoundRobin, 4);
    LbState state(16, 16);
    const auto counts = draw(r, state, 40000);
    EXPECT_EQ(counts, (std::vector<uint32_t>{10000, 10000, 10000, 10000}));
    EXPECT_LT(chi_square(counts, {0.25, 0.25, 0.25, 0.25}, 40000), kChi2Df3);
    EXPECT_EQ(state.ports[r.table->ports[0].id].rr.load(), 40000u);
}

TEST(Select, WeightedFollowsWeights) {
    const BuildResult r =
        build_with(Algorithm::kWeighted, 3, {{"10.1.0.1", "1"}, {"10.1.0.2", "2"}, {"10.1.0.3", "3"}});
    LbState state(16, 16);
    for (uint64_t seed : {7ull, 1234567ull}) {
        SCOPED_TRACE(seed);
        EXPECT_LT(chi_square(draw(r, state, 60000, seed), {1 / 6.0, 2 / 6.0, 3 / 6.0}, 60000), kChi2Df2);
    }
}

TEST(Select, LeastConnectionExactScan) {
    const BuildResult r = build_with(Algorithm::kLeastConn, 4);
    LbState state(16, 16);
    const ServicePort& sp = r.table->ports.at(0);
    const uint32_t active[4] = {5, 3, 7, 3};
    for (uint32_t i = 0; i < 4; ++i) state.backends[r.table->backends[sp.internal.first + i].id].active = active[i];
    const auto counts = draw(r, state, 1000);
    EXPECT_EQ(counts[0] + counts[2], 0u);
    EXPECT_GT(counts[1], 300u);  // ties spread
    EXPECT_GT(counts[3], 300u);
    state.backends[r.table->backends[sp.internal.first + 2].id].active = 0;
    EXPECT_EQ(draw(r, state, 100), (std::vector<uint32_t>{0, 0, 100, 0}));
}

TEST(Select, LeastConnectionPowerOfTwoChoices) {
    const BuildResult r = build_with(Algorithm::kLeastConn, 20);
    LbState state(16, 64);
    const ServicePort& sp = r.table->ports.at(0);
    for (uint32_t i = 0; i < 20; ++i) state.backends[r.table->backends[sp.internal.first + i].id].active = 100;
    state.backends[r.table->backends[sp.internal.first + 7].id].active = 0;
    state.backends[r.table->backends[sp.internal.first + 13].id].active = 200;
    const auto counts = draw(r, state, 20000);
    EXPECT_EQ(counts[13], 0u);                      // never the busiest: it always loses its pair
    EXPECT_NEAR(counts[7] / 20000.0, 0.10, 0.015);  // in the pair with probability 2/20
}

}  // namespace
}  // namespace enidp::lb::test

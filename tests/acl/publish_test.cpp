// PolicySnapshot publication as the dataplane does it: a worker lcore classifies bursts in
// a loop from an atomically loaded snapshot and reports RCU quiescence; the control thread
// builds new snapshots, swaps them in and deletes the old one after rte_rcu_qsbr_synchronize
// (rte_acl_free and the Hyperscan frees in the destructor). Every verdict must match the
// generation of the snapshot it was taken from. Component suite (EAL, lcores 0 and 1); run
// under ASan by scripts/test.sh, where a premature free would be reported.
#include <atomic>

#include <gtest/gtest.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "tests/acl/netpol_world.hpp"

namespace enidp::acl::test {
namespace {

struct Shared {
    std::atomic<PolicySnapshot*> current{nullptr};
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> bursts{0};
    std::atomic<uint64_t> wrong{0};
    rte_rcu_qsbr* qsbr = nullptr;
    uint32_t pod_id = 0;     // x/a
    uint32_t remote_ip = 0;  // y/a
};

// Even generations deny x/a's ingress, odd ones allow it.
std::unique_ptr<PolicySnapshot> make_snapshot(const World& base, uint64_t gen) {
    World w = base;
    w.state.policies.push_back(
        ingress_policy("x", "p", labels({{"pod", "a"}}), gen % 2 ? std::vector<Rule>{Rule{}} : std::vector<Rule>{}));
    const CompileResult r = compile(w.state, w.local);
    EXPECT_TRUE(r.ok);
    BuildResult b = SnapshotBuilder::build(r.policy, gen);
    EXPECT_NE(b.snapshot, nullptr) << b.error;
    return std::move(b.snapshot);
}

int worker(void* arg) {
    auto* s = static_cast<Shared*>(arg);
    const unsigned me = 1;
    rte_rcu_qsbr_thread_register(s->qsbr, me);
    rte_rcu_qsbr_thread_online(s->qsbr, me);
    FlowKey keys[32];
    for (auto& k : keys) k = {s->pod_id, s->remote_ip, 80, 6, Direction::kIngress};
    Verdict out[32];
    while (!s->stop.load(std::memory_order_relaxed)) {
        const PolicySnapshot* snap = s->current.load(std::memory_order_acquire);
        const uint16_t denied = classify_burst(*snap, keys, out, 32);
        const bool want_allow = snap->generation() % 2 == 1;
        if (denied != (want_allow ? 0 : 32)) s->wrong.fetch_add(1, std::memory_order_relaxed);
        s->bursts.fetch_add(1, std::memory_order_relaxed);
        rte_rcu_qsbr_quiescent(s->qsbr, me);
    }
    rte_rcu_qsbr_thread_offline(s->qsbr, me);
    rte_rcu_qsbr_thread_unregister(s->qsbr, me);
    return 0;
}

TEST(AclPublish, SwapAndFreeAfterGracePeriodWhileAWorkerClassifies) {
    const unsigned lcore = rte_get_next_lcore(rte_get_main_lcore(), 1, 0);
    ASSERT_LT(lcore, RTE_MAX_LCORE) << "needs a worker lcore";
    World w;
    Shared s;
    const size_t sz = rte_rcu_qsbr_get_memsize(2);
    s.qsbr = static_cast<rte_rcu_qsbr*>(rte_zmalloc("acl_test_qsbr", sz, RTE_CACHE_LINE_SIZE));
    ASSERT_NE(s.qsbr, nullptr);
    ASSERT_EQ(rte_rcu_qsbr_init(s.qsbr, 2), 0);
    s.pod_id = w.local[w.index("x/a")].id;
    s.remote_ip = w.state.pods[w.index("y/a")].ips[0];
    s.current.store(make_snapshot(w, 1).release());
    ASSERT_EQ(rte_eal_remote_launch(worker, &s, lcore), 0);

    for (uint64_t gen = 2; gen <= 40; ++gen) {
        PolicySnapshot* next = make_snapshot(w, gen).release();
        ASSERT_EQ(next->generation(), gen);
        PolicySnapshot* old = s.current.exchange(next, std::memory_order_acq_rel);
        rte_rcu_qsbr_synchronize(s.qsbr, RTE_QSBR_THRID_INVALID);
        delete old;
    }
    const uint64_t before = s.bursts.load();
    while (s.bursts.load() < before + 100) rte_pause();  // the worker saw the last snapshot
    s.stop.store(true);
    rte_eal_wait_lcore(lcore);
    delete s.current.load();
    rte_free(s.qsbr);
    EXPECT_EQ(s.wrong.load(), 0u);
    EXPECT_GT(s.bursts.load(), 100u);
}

}  // namespace
}  // namespace enidp::acl::test

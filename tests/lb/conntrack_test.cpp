// Conntrack::insert semantics (EAL, --no-huge): both keys, an existing original tuple,
// reply-tuple clashes rewritten to a SNAT port, plain flows never rewritten, and two lcores
// inserting the same tuples at once (exactly one wins each).
#include "lb/fastpath/conntrack.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include <rte_byteorder.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

namespace enidp::lb::test {
namespace {

uint32_t ip(uint32_t host) { return rte_cpu_to_be_32(host); }
uint16_t port(uint16_t host) { return rte_cpu_to_be_16(host); }

CtKey udp(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport) {
    return CtKey{ip(src), ip(dst), port(sport), port(dport), 17, {0, 0, 0}};
}

class ConntrackTest : public ::testing::Test {
protected:
    void SetUp() override {
        static int seq = 0;
        qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("ct_test_qsbr", rte_rcu_qsbr_get_memsize(4), RTE_CACHE_LINE_SIZE));
        ASSERT_NE(qsbr_, nullptr);
        rte_rcu_qsbr_init(qsbr_, 4);
        CtConfig cc;
        cc.name = "ctt" + std::to_string(seq++);
        cc.max_flows = 262144;
        cc.qsbr = qsbr_;
        cc.control_rcu_id = 3;
        cc.snat_port_min = 40000;
        cc.snat_port_max = 40099;
        std::string err;
        ct_ = Conntrack::create(cc, err);
        ASSERT_NE(ct_, nullptr) << err;
        state_ = std::make_unique<LbState>(16, 16);
        ct_->bind_state(state_.get());
    }
    void TearDown() override {
        ct_.reset();
        rte_free(qsbr_);
    }
    InsertStatus insert(const CtKey& orig, const CtKey& reply, Flow** f, uint8_t flags = 0, bool new_port = false) {
        return ct_->insert(orig, reply, 1, 2, flags, kNoPort, static_cast<uint8_t>(CtState::kUnreplied), 1000, f,
                           new_port);
    }

    rte_rcu_qsbr* qsbr_ = nullptr;
    std::unique_ptr<Conntrack> ct_;
    std::unique_ptr<LbState> state_;
};

TEST_F(ConntrackTest, InsertMakesBothTuplesFindTheFlow) {
    const CtKey orig = udp(0x0a000001, 0x0a600001, 1234, 80), reply = udp(0x0a800001, 0x0a000001, 8080, 1234);
    Flow* f = nullptr;
    ASSERT_EQ(insert(orig, reply, &f), InsertStatus::kInserted);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->orig, orig);
    EXPECT_EQ(f->reply, reply);
    EXPECT_EQ(f->backend, 2u);
    EXPECT_EQ(f->flags.load(), 0);
    CtDir d;
    EXPECT_EQ(ct_->lookup(orig, d), f);
    EXPECT_EQ(d, CtDir::kOrig);
    EXPECT_EQ(ct_->lookup(reply, d), f);
    EXPECT_EQ(d, CtDir::kReply);
    EXPECT_EQ(ct_->size(), 1u);
    EXPECT_EQ(state_->backends[2].active.load(), 1u);
    EXPECT_EQ(ct_->counters().inserted, 1u);
}

TEST_F(ConntrackTest, ExistingOriginalTupleReturnsThatFlow) {
    const CtKey orig = udp(0x0a000001, 0x0a600001, 1234, 80);
    Flow *first = nullptr, *second = nullptr;
    ASSERT_EQ(insert(orig, udp(0x0a800001, 0x0a000001, 8080, 1234), &first), InsertStatus::kInserted);
    ASSERT_EQ(insert(orig, udp(0x0a800002, 0x0a000001, 8080, 1234), &second), InsertStatus::kExists);
    EXPECT_EQ(second, first);
    EXPECT_EQ(ct_->size(), 1u);
    CtDir d;
    EXPECT_EQ(ct_->lookup(udp(0x0a800002, 0x0a000001, 8080, 1234), d), nullptr);  // the loser's reply: not added
    EXPECT_EQ(ct_->counters().inserted, 1u);
}

TEST_F(ConntrackTest, ReplyClashGetsAPortFromTheSnatRange) {
    // Two frontends to one backend from one client port: the same reply tuple.
    const CtKey reply = udp(0x0a800001, 0x0a000001, 8080, 1234);
    Flow *a = nullptr, *b = nullptr;
    ASSERT_EQ(insert(udp(0x0a000001, 0x0a600001, 1234, 80), reply, &a), InsertStatus::kInserted);
    ASSERT_EQ(insert(udp(0x0a000001, 0x0a600002, 1234, 80), reply, &b), InsertStatus::kInserted);
    EXPECT_EQ(a->reply, reply);
    EXPECT_NE(b->reply, reply);
    const uint16_t p = rte_be_to_cpu_16(b->reply.dport);
    EXPECT_GE(p, 40000);
    EXPECT_LE(p, 40099);
    CtKey rest = b->reply;
    rest.dport = reply.dport;
    EXPECT_EQ(rest, reply);  // only the client-side port moved
    EXPECT_TRUE(b->flags.load() & kFlowSnat);
    CtDir d;
    EXPECT_EQ(ct_->lookup(b->reply, d), b);
    EXPECT_EQ(d, CtDir::kReply);
    EXPECT_EQ(ct_->lookup(reply, d), a);
    EXPECT_EQ(ct_->counters().port_rewrites, 1u);

    // new_port: rewritten even without a clash.
    Flow* c = nullptr;
    ASSERT_EQ(insert(udp(0x0a000002, 0x0a600001, 999, 80), udp(0x0a800001, 0x0a000002, 8080, 999), &c, 0, true),
              InsertStatus::kInserted);
    EXPECT_NE(rte_be_to_cpu_16(c->reply.dport), 999);
    EXPECT_EQ(ct_->counters().port_rewrites, 2u);
}

TEST_F(ConntrackTest, PlainFlowsAreNeverRewritten) {
    const CtKey reply = udp(0x0a800001, 0x0a000001, 8080, 1234);
    Flow* f = nullptr;
    ASSERT_EQ(insert(udp(0x0a000001, 0x0a600001, 1234, 80), reply, &f), InsertStatus::kInserted);
    EXPECT_EQ(insert(udp(0x0a000001, 0x0a600002, 1234, 80), reply, &f, kFlowPlain), InsertStatus::kNoPort);
    EXPECT_EQ(insert(udp(0x0a000003, 0x0a000004, 5, 6), udp(0x0a000004, 0x0a000003, 6, 5), &f, kFlowPlain, true),
              InsertStatus::kNoPort);
    const CtKey plain = udp(0x0a000005, 0x0a000006, 7, 8);
    ASSERT_EQ(insert(plain, reversed(plain), &f, kFlowPlain), InsertStatus::kInserted);
    EXPECT_EQ(f->reply, reversed(plain));
    EXPECT_EQ(ct_->size(), 2u);
    EXPECT_EQ(ct_->counters().port_rewrites, 0u);
    EXPECT_EQ(ct_->counters().insert_failed, 2u);
}

// Two lcores insert the same tuples at the same time: each tuple is inserted once, the
// other call gets kExists and the winner's flow.
struct Race {
    Conntrack* ct;
    const std::vector<CtKey>* orig;
    std::vector<Flow*> got;
    std::vector<InsertStatus> status;
    std::atomic<int>* ready;
    bool backwards;  // one lcore walks the tuples from the end: they meet and contend in the middle
};

int race_inserts(void* arg) {
    auto* r = static_cast<Race*>(arg);
    r->ready->fetch_add(1);
    while (r->ready->load() < 2) {
    }
    const size_t n = r->orig->size();
    r->got.assign(n, nullptr);
    r->status.assign(n, InsertStatus::kFull);
    for (size_t k = 0; k < n; k++) {
        const size_t i = r->backwards ? n - 1 - k : k;
        const CtKey& o = (*r->orig)[i];
        CtKey reply{o.dst ^ ip(0x00800000), o.src, o.dport, o.sport, o.proto, {0, 0, 0}};
        r->status[i] = r->ct->insert(o, reply, 1, 2, 0, kNoPort, static_cast<uint8_t>(CtState::kUnreplied), 1000,
                                     &r->got[i]);
    }
    return 0;
}

TEST_F(ConntrackTest, ConcurrentInsertsOfOneTupleHaveExactlyOneWinner) {
    unsigned worker = rte_get_next_lcore(rte_lcore_id(), 1, 0);
    ASSERT_LT(worker, RTE_MAX_LCORE) << "needs a second lcore";
    std::vector<CtKey> orig;
    for (uint32_t i = 0; i < 100000; i++) orig.push_back(udp(0x0a000001 + i % 50, 0x0a600000 + i / 50, 1000 + i % 7, 80));
    std::atomic<int> ready{0};
    Race a{ct_.get(), &orig, {}, {}, &ready, false}, b{ct_.get(), &orig, {}, {}, &ready, true};
    ASSERT_EQ(rte_eal_remote_launch(race_inserts, &b, worker), 0);
    race_inserts(&a);
    rte_eal_wait_lcore(worker);
    uint32_t won_a = 0, won_b = 0;
    for (size_t i = 0; i < orig.size(); i++) {
        SCOPED_TRACE(i);
        const bool ia = a.status[i] == InsertStatus::kInserted, ib = b.status[i] == InsertStatus::kInserted;
        ASSERT_NE(ia, ib);
        ASSERT_EQ(ia ? b.status[i] : a.status[i], InsertStatus::kExists);
        ASSERT_EQ(a.got[i], b.got[i]);
        won_a += ia;
        won_b += ib;
    }
    EXPECT_EQ(ct_->size(), orig.size());
    EXPECT_EQ(ct_->counters().inserted, orig.size());
    EXPECT_EQ(state_->backends[2].active.load(), orig.size());
    // Both lcores really raced (each won some): otherwise the test proved nothing.
    EXPECT_GT(won_a, 0u);
    EXPECT_GT(won_b, 0u);
}


// GC steps read a bounded number of flow objects (not hash entries: rte_hash_iterate skips
// empty slots inside one call), at most one pass per step however small the pool, and erase
// what has expired or belongs to a dead backend.
TEST_F(ConntrackTest, GcStepsAreBoundedAndSweepTheWholePool) {
    const CtKey orig = udp(0x0a000001, 0x0a600001, 1234, 80), reply = udp(0x0a800001, 0x0a000001, 8080, 1234);
    Flow* f = nullptr;
    ASSERT_EQ(insert(orig, reply, &f), InsertStatus::kInserted);
    rte_rcu_qsbr_thread_register(qsbr_, 3);
    // 262,144 objects, 16,384 a step: a pass takes 16 steps, the flow is kept (not expired).
    for (int i = 0; i < 16; ++i) ct_->gc_step(1000, GcBudget{}, nullptr);
    EXPECT_EQ(ct_->counters().gc_passes, 0u);
    ct_->gc_step(1000, GcBudget{}, nullptr);
    EXPECT_EQ(ct_->counters().gc_passes, 1u);
    EXPECT_EQ(ct_->size(), 1u);
    // Its backend (2) gone: the next pass purges it.
    for (int i = 0; i < 16; ++i) ct_->gc_step(1000, GcBudget{}, [](uint32_t id) { return id == 2; });
    EXPECT_EQ(ct_->size(), 0u);
    EXPECT_EQ(ct_->counters().purged, 1u);
    EXPECT_EQ(ct_->counters().gc_passes, 2u);
    // A budget larger than the pool sweeps it once per step, not several times.
    ct_->gc_step(1000, GcBudget{1u << 20}, nullptr);
    EXPECT_EQ(ct_->counters().gc_passes, 3u);
    rte_rcu_qsbr_thread_unregister(qsbr_, 3);
}

}  // namespace
}  // namespace enidp::lb::test

// The worker: one poll loop per EAL lcore.
//
//   loop: snapshot = current()
//         for each (port, queue) this worker owns: RX burst → process_burst → TX buffers
//         drain the handoff rings of ports whose TX queue this worker owns
//         flush TX buffers (unsent mbufs freed and counted as tx_full / handoff_full)
//         RCU quiescent report; idle back-off (RCU offline while asleep)
//
// Who may call: Worker::run on its own lcore only. The control thread may read stats()
// at any time and request_stop() from anywhere.
#pragma once

#include <atomic>
#include <cstdint>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "dataplane/fastpath/pipeline.hpp"
#include "dataplane/fastpath/stats.hpp"
#include "dataplane/fastpath/tables.hpp"

namespace enidp::dp {

inline constexpr uint16_t kMaxBurst = 64;
inline constexpr uint16_t kTxBufCap = 64;

// Buffered TX toward every port, flushed once per poll iteration.
class TxSink {
public:
    TxSink(uint16_t worker, WorkerStats& stats) : worker_(worker), stats_(stats) { policy_.index = worker; }

    void bind(const Snapshot* snap) { snap_ = snap; }
    WorkerStats& stats() { return stats_; }
    lb::LbWorker& lb_worker() { return lb_; }
    PolicyWorker& policy_worker() { return policy_; }

    void to_port(uint16_t port, rte_mbuf* m) {
        Buf& b = bufs_[port];
        if (!b.dirty) {
            b.dirty = true;
            dirty_[ndirty_++] = port;
        }
        b.pkts[b.n++] = m;
        if (b.n == kTxBufCap) flush_port(port);
    }
    void drop(rte_mbuf* m, Drop reason) {
        stats_.drop(reason);
        rte_pktmbuf_free(m);
    }
    void consumed(rte_mbuf* m) { rte_pktmbuf_free(m); }

    void flush() {
        for (uint16_t i = 0; i < ndirty_; i++) {
            const uint16_t port = dirty_[i];
            flush_port(port);
            bufs_[port].dirty = false;
        }
        ndirty_ = 0;
    }

private:
    struct Buf {
        uint16_t n = 0;
        bool dirty = false;
        rte_mbuf* pkts[kTxBufCap];
    };

    void flush_port(uint16_t port) {
        Buf& b = bufs_[port];
        if (b.n == 0) return;
        const TxTarget& t = snap_->tx[port][worker_];
        uint16_t sent;
        Drop why;
        if (t.handoff != nullptr) {
            sent = static_cast<uint16_t>(rte_ring_mp_enqueue_burst(t.handoff, reinterpret_cast<void**>(b.pkts), b.n, nullptr));
            why = Drop::kHandoffFull;
        } else {
            sent = rte_eth_tx_burst(port, t.queue, b.pkts, b.n);
            why = Drop::kTxFull;
        }
        stats_.tx[port].add(sent);
        if (sent < b.n) [[unlikely]] {
            stats_.drop(why, b.n - sent);
            rte_pktmbuf_free_bulk(b.pkts + sent, b.n - sent);
        }
        b.n = 0;
    }

    const Snapshot* snap_ = nullptr;
    lb::LbWorker lb_;
    PolicyWorker policy_;
    uint16_t worker_;
    WorkerStats& stats_;
    uint16_t ndirty_ = 0;
    uint16_t dirty_[kMaxPorts];
    Buf bufs_[kMaxPorts];
};

// How long the poll loop went without reporting quiescence: the time from one iteration's start
// to the next one's (RX, pipeline, TX, quiescent report, and whatever preempted the worker),
// not counting idle sleeps. Written by the worker only (plain stores, and only when a gap sets a
// record or crosses a threshold); read by the control thread at any time.
struct LoopGaps {
    std::atomic<uint64_t> max_cycles{0};     // the longest since start (TSC cycles)
    std::atomic<uint64_t> over_100us{0};     // iterations longer than 100 µs
    std::atomic<uint64_t> over_1ms{0};       // iterations longer than 1 ms
};

struct IdlePolicy {
    bool enabled = false;
    uint64_t after_cycles = 0;  // TSC cycles without a packet before sleeping
    uint32_t sleep_us = 0;
};

// The current snapshot and the RCU variable workers report to. Owned by the runtime.
struct SnapshotSlot {
    std::atomic<const Snapshot*> current{nullptr};
    rte_rcu_qsbr* qsbr = nullptr;
};

class Worker {
public:
    Worker(uint16_t id, SnapshotSlot& slot, IdlePolicy idle, uint16_t burst)
        : id_(id), slot_(slot), idle_(idle), burst_(burst > kMaxBurst ? kMaxBurst : burst), sink_(id, stats_) {}

    // Runs until request_stop(). Registers with RCU on entry, unregisters on exit.
    void run();
    void request_stop() { stop_.store(true, std::memory_order_relaxed); }
    bool running() const { return running_.load(std::memory_order_acquire); }

    uint16_t id() const { return id_; }
    const WorkerStats& stats() const { return stats_; }
    WorkerStats& stats() { return stats_; }
    const LoopGaps& loop_gaps() const { return gaps_; }
    // The control thread drains the verdict log (single consumer) and sets sampling.
    PolicyWorker& policy_worker() { return sink_.policy_worker(); }

private:
    uint16_t poll_once(const Snapshot& snap);
    void note_gap(uint64_t cycles);

    WorkerStats stats_;
    uint16_t id_;
    SnapshotSlot& slot_;
    IdlePolicy idle_;
    uint16_t burst_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> running_{false};
    TxSink sink_;
    uint64_t tsc_per_ms_ = 1;
    LoopGaps gaps_;
    uint64_t gap_max_ = 0;    // the worker's copy of gaps_.max_cycles
    uint64_t gap_watch_ = 0;  // min(gap_max_, gap_100us_): a longer gap is noted
    uint64_t gap_100us_ = UINT64_MAX, gap_1ms_ = UINT64_MAX;  // thresholds in cycles
};

}  // namespace enidp::dp

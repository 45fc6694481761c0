#include "dataplane/fastpath/worker.hpp"

#include <rte_cycles.h>
#include <rte_lcore.h>

#include <algorithm>

namespace enidp::dp {

uint16_t Worker::poll_once(const Snapshot& snap) {
    sink_.bind(&snap);
    rte_mbuf* pkts[kMaxBurst];
    uint16_t total = 0;
    for (const RxQueue& q : snap.rx[id_]) {
        const uint16_t n = rte_eth_rx_burst(q.port, q.queue, pkts, burst_);
        if (n == 0) continue;
        stats_.rx[q.port][q.queue].add(n);
        process_burst(snap, q.port, pkts, n, sink_);
        total = static_cast<uint16_t>(total + n);
    }
    // Packets other workers (or the control thread) queued for ports whose TX queue we own.
    for (const Handoff& h : snap.handoff_in[id_]) {
        const unsigned n = rte_ring_sc_dequeue_burst(h.ring, reinterpret_cast<void**>(pkts), burst_, nullptr);
        for (unsigned j = 0; j < n; j++) sink_.to_port(h.port, pkts[j]);
        total = static_cast<uint16_t>(total + n);
    }
    sink_.flush();
    return total;
}

// A gap above the record or above 100 µs (the loop's check, gap_watch_, is the lower of the two).
void Worker::note_gap(uint64_t cycles) {
    if (cycles > gap_max_) gaps_.max_cycles.store(gap_max_ = cycles, std::memory_order_relaxed);
    if (cycles > gap_100us_)
        gaps_.over_100us.store(gaps_.over_100us.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (cycles > gap_1ms_)
        gaps_.over_1ms.store(gaps_.over_1ms.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    gap_watch_ = std::min(gap_max_, gap_100us_);
}

void Worker::run() {
    rte_rcu_qsbr_thread_register(slot_.qsbr, id_);
    rte_rcu_qsbr_thread_online(slot_.qsbr, id_);
    tsc_per_ms_ = rte_get_tsc_hz() / 1000;
    if (tsc_per_ms_ == 0) tsc_per_ms_ = 1;
    sink_.lb_worker().rng ^= (uint64_t{id_} + 1) * 0x9E3779B97F4A7C15ull;
    gap_100us_ = rte_get_tsc_hz() / 10000;
    gap_1ms_ = rte_get_tsc_hz() / 1000;
    running_.store(true, std::memory_order_release);
    uint64_t last_busy = rte_rdtsc();
    uint64_t prev = last_busy;  // the previous iteration's start
    while (!stop_.load(std::memory_order_relaxed)) {
        const Snapshot* snap = slot_.current.load(std::memory_order_acquire);
        const uint64_t t0 = rte_rdtsc();
        if (t0 - prev > gap_watch_) [[unlikely]]
            note_gap(t0 - prev);
        prev = t0;
        sink_.lb_worker().now_ms = t0 / tsc_per_ms_;
        const uint16_t n = snap != nullptr ? poll_once(*snap) : 0;
        rte_rcu_qsbr_quiescent(slot_.qsbr, id_);
        stats_.loops.inc();
        if (n != 0) {
            const uint64_t t1 = rte_rdtsc();
            stats_.busy_loops.inc();
            stats_.busy_cycles.add(t1 - t0);
            last_busy = t1;
        } else if (idle_.enabled && t0 - last_busy > idle_.after_cycles) {
            // Nothing held across the sleep: go offline so grace periods do not wait for us.
            rte_rcu_qsbr_thread_offline(slot_.qsbr, id_);
            rte_delay_us_sleep(idle_.sleep_us);
            rte_rcu_qsbr_thread_online(slot_.qsbr, id_);
            prev = rte_rdtsc();  // asleep is not stalled
            stats_.event(Event::kIdleSleeps);
        }
    }
    rte_rcu_qsbr_thread_offline(slot_.qsbr, id_);
    rte_rcu_qsbr_thread_unregister(slot_.qsbr, id_);
    running_.store(false, std::memory_order_release);
}

}  // namespace enidp::dp

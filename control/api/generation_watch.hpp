// GenerationWatch: the realized generation, readable from gRPC threads without a hop to the
// control thread, and a wait for it to reach a value.
//
// The control loop calls set() after each sync (the store generation the published tables were
// built from); GetGenerations reads it and, with `wait_for_realized`, blocks its gRPC thread on
// a condition variable until set() reaches the value, a timeout passes, the client cancels or
// close() (daemon stopping). A script that applies a change and waits for it this way costs
// the control thread nothing, where polling GetGenerations would queue a call on it (and take
// the CPU it builds on) every round trip.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace enidp::api {

class GenerationWatch {
public:
    using Clock = std::chrono::steady_clock;

    // Control thread. Generations only grow; a smaller value is ignored.
    void set(uint64_t realized) {
        if (realized <= realized_.load(std::memory_order_relaxed)) return;
        {
            std::lock_guard lock(mu_);
            realized_.store(realized, std::memory_order_release);
        }
        cv_.notify_all();
    }
    uint64_t get() const { return realized_.load(std::memory_order_acquire); }
    // Whether set() was ever called: until then the daemon has not finished its first sync
    // (and tests' fake views never call it).
    bool live() const { return get() != 0 || live_.load(std::memory_order_acquire); }
    void mark_live() { live_.store(true, std::memory_order_release); }

    // Waits until realized >= want, `deadline`, `cancelled()` turning true (checked every
    // 50 ms) or close(). Returns the realized generation then.
    uint64_t wait(uint64_t want, Clock::time_point deadline, const std::function<bool()>& cancelled) {
        std::unique_lock lock(mu_);
        while (realized_.load(std::memory_order_relaxed) < want && !closed_ && !cancelled()) {
            const auto now = Clock::now();
            if (now >= deadline) break;
            cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(50)));
        }
        return realized_.load(std::memory_order_relaxed);
    }

    // Ends every wait (daemon stopping).
    void close() {
        {
            std::lock_guard lock(mu_);
            closed_ = true;
        }
        cv_.notify_all();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::atomic<uint64_t> realized_{0};
    std::atomic<bool> live_{false};
    bool closed_ = false;
};

}  // namespace enidp::api

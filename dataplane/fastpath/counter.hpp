// A counter written by one thread (its worker) and read by others (the control thread):
// relaxed load + store, no read-modify-write, no lock.
#pragma once

#include <atomic>
#include <cstdint>

namespace enidp::dp {

class Counter {
public:
    void add(uint64_t n) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void inc() { add(1); }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }
    void reset() { v_.store(0, std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

}  // namespace enidp::dp

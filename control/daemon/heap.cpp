// See heap.hpp.
#include "control/daemon/heap.hpp"

#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace enidp::daemon {

void prepare_control_heap(size_t prefault_mb) {
    if (prefault_mb == 0) return;
    // One arena: what the gRPC threads decode and what the control thread builds come from the
    // same (prefaulted) heap. Blocks up to 32 MB (glibc's largest mmap threshold) come from it
    // too, instead of fresh mmaps, and freed memory is kept, not trimmed.
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, INT32_MAX);
    mallopt(M_TOP_PAD, 16 << 20);
}

void start_heap_prefault(size_t prefault_mb) {
    if (prefault_mb == 0) return;
    // Grow the heap in blocks below the mmap threshold, touch them (asking for huge pages:
    // one fault per 2 MB), then free them in reverse so they merge back into free memory of
    // the arena. In the background, at low priority: the daemon starts as fast as without.
    std::thread([prefault_mb] {
        setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
        const auto t0 = std::chrono::steady_clock::now();
        constexpr size_t kBlock = 16 << 20;
        std::vector<void*> blocks;
        for (size_t done = 0; done < (prefault_mb << 20); done += kBlock) {
            void* p = std::malloc(kBlock);
            if (p == nullptr) break;
            const auto begin = (reinterpret_cast<uintptr_t>(p) + (2 << 20) - 1) & ~uintptr_t{(2 << 20) - 1};
            const auto end = (reinterpret_cast<uintptr_t>(p) + kBlock) & ~uintptr_t{(2 << 20) - 1};
            if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
            std::memset(p, 0, kBlock);
            blocks.push_back(p);
        }
        for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) std::free(*it);
        std::fprintf(stderr, "enidp: control heap: %zu MB prefaulted in %.0f ms\n", blocks.size() * (kBlock >> 20),
                     std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }).detach();
}

}  // namespace enidp::daemon

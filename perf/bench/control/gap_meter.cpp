// gap_meter: what a CPU does to a busy thread when nothing else runs on it.
//
// A thread pinned to --cpu spins reading the clock for --seconds and counts the gaps between
// two consecutive reads longer than 100 µs and 1 ms: the time the thread did not run (an
// interrupt, the kernel, or the hypervisor taking the virtual CPU). The daemon's workers count
// their loop iterations the same way (LoopGaps, `enidpctl stats`, the control-plane bench's
// "stalls"), so this is their floor on the machine: a worker cannot have fewer stalls than a
// bare loop on the same CPU. Run it with the worker's CPU otherwise idle.
//
//   build/perf/bench/control/gap_meter --cpu 1 --seconds 10 [--fifo 10] [--every 1]
#include <pthread.h>
#include <sched.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <CLI/CLI.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Counts {
    uint64_t over_100us = 0;
    uint64_t over_1ms = 0;
    int64_t longest_ns = 0;
    uint64_t reads = 0;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Counts the gaps a busy thread sees on one CPU (the floor for a worker's loop stalls)"};
    int cpu = 1;
    double seconds = 10;
    int fifo = 0;
    double every = 1;
    app.add_option("--cpu", cpu, "CPU to pin the spinning thread to")->check(CLI::Range(0, CPU_SETSIZE - 1));
    app.add_option("--seconds", seconds, "how long to spin")->check(CLI::Range(0.1, 3600.0));
    app.add_option("--fifo", fifo, "run under SCHED_FIFO at this priority (0: normal scheduling)")
        ->check(CLI::Range(0, 99));
    app.add_option("--every", every, "print a line every this many seconds (0: only the total)")
        ->check(CLI::Range(0.0, 3600.0));
    CLI11_PARSE(app, argc, argv);

    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (const int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set); e != 0) {
        std::fprintf(stderr, "gap_meter: cannot pin to CPU %d: %s\n", cpu, std::strerror(e));
        return 1;
    }
    if (fifo != 0) {
        sched_param sp{};
        sp.sched_priority = fifo;
        if (const int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp); e != 0) {
            std::fprintf(stderr, "gap_meter: SCHED_FIFO %d: %s\n", fifo, std::strerror(e));
            return 1;
        }
    }

    const auto start = Clock::now();
    const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(every));
    auto next_print = every > 0 ? start + period : end;
    Counts total, window;
    auto prev = start;
    auto window_start = start;
    for (;;) {
        const auto now = Clock::now();
        const int64_t gap = std::chrono::duration_cast<std::chrono::nanoseconds>(now - prev).count();
        prev = now;
        window.reads++;
        if (gap > 100'000) {
            window.over_100us++;
            if (gap > 1'000'000) window.over_1ms++;
            if (gap > window.longest_ns) window.longest_ns = gap;
        }
        if (now >= next_print || now >= end) {
            const double s = std::chrono::duration<double>(now - window_start).count();
            if (every > 0)
                std::printf("%6.1f s: %llu gaps > 100 us (%.0f/s), %llu > 1 ms, longest %.0f us\n",
                            std::chrono::duration<double>(now - start).count(),
                            static_cast<unsigned long long>(window.over_100us), window.over_100us / s,
                            static_cast<unsigned long long>(window.over_1ms), window.longest_ns / 1e3);
            total.over_100us += window.over_100us;
            total.over_1ms += window.over_1ms;
            total.reads += window.reads;
            if (window.longest_ns > total.longest_ns) total.longest_ns = window.longest_ns;
            window = Counts{};
            window_start = now;
            next_print += period;
            if (now >= end) break;
        }
    }
    const double s = std::chrono::duration<double>(prev - start).count();
    std::printf("total: CPU %d, %.1f s%s: %llu gaps > 100 us (%.1f/s), %llu > 1 ms, longest %.0f us\n", cpu, s,
                fifo != 0 ? " under SCHED_FIFO" : "", static_cast<unsigned long long>(total.over_100us),
                total.over_100us / s, static_cast<unsigned long long>(total.over_1ms), total.longest_ns / 1e3);
    std::fflush(stdout);
    return 0;
}

// Whether the workers' CPUs are kept for them.
//
// A poll-mode worker owns its CPU only if the kernel keeps other work off it: `isolcpus=`
// (no other task is scheduled there) and ideally `nohz_full=` (no scheduler tick) on the kernel
// command line. Without them, kernel threads, other processes and the tick run on the worker's
// CPU and each such interruption is a loop stall (`enidpctl stats`, `max_loop_gap`). The daemon
// cannot isolate CPUs itself; it says at start which worker CPUs are not isolated.
//
// Control side only; parse_cpu_list and isolation_warnings are pure (unit-tested).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace enidp::daemon {

// The kernel's CPU list format ("0-3,8,10-11", blank or empty: no CPU). nullopt when malformed.
std::optional<std::set<unsigned>> parse_cpu_list(std::string_view text);

// One line per worker CPU missing from `isolated` (and, if isolated, from `nohz_full`), e.g.
// "worker CPU 1 is not isolated (no isolcpus=): other tasks and kernel threads run there and stall the worker".
// Inputs are the texts of /sys/devices/system/cpu/isolated and .../nohz_full ("" when absent).
std::vector<std::string> isolation_warnings(const std::set<unsigned>& worker_cpus, std::string_view isolated,
                                            std::string_view nohz_full);

// The same for this process: the worker lcores' CPUs (EAL must be initialised) against sysfs.
std::vector<std::string> check_worker_cpu_isolation();

}  // namespace enidp::daemon

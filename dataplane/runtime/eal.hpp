// EAL bootstrap. Control thread only, once per process.
#pragma once

#include <string>
#include <vector>

#include "dataplane/runtime/spec.hpp"

namespace enidp::dp {

// The argv rte_eal_init gets for `spec` (exposed for tests and for logging).
std::vector<std::string> eal_args(const EalSpec& spec);

// Initialises EAL. Returns "" on success or a message naming what failed.
std::string eal_init(const EalSpec& spec);

// Initialises EAL from a raw argv (enidp-perf passes testpmd-style arguments through).
// Returns the number of arguments consumed, or a negative value with `error` set.
int eal_init_raw(int argc, char** argv, std::string& error);

void eal_cleanup();

}  // namespace enidp::dp

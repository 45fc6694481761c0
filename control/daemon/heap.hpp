// The control thread's heap, made ready before the daemon serves anything.
//
// A bulk apply (10,000 Services) allocates hundreds of MB on the control side: decoded objects,
// the store, the builder's plans, Maglev tables. On a VM every first touch of a page is a fault
// that costs ~14 µs here (the hypervisor backs the page then). This is done once at start:
// prepare_control_heap() makes every thread allocate from one malloc arena, which never gives
// memory back to the kernel, and start_heap_prefault() has a background thread at the lowest
// priority touch `prefault_mb` of it (on transparent huge pages where the kernel allows; logged
// when done), so later allocations reuse pages that are already there. Costs that much resident
// memory for good.
//
// Two calls, main thread only: prepare_control_heap() first thing in main (before EAL or gRPC
// start threads, so that they all use the one arena), start_heap_prefault() once EAL has
// pinned the main thread to the main lcore's CPUs: the prefault thread inherits that CPU set
// and so never runs on (and stalls) a worker's CPU.
#pragma once

#include <cstddef>
#include <string>

namespace enidp::daemon {

// prefault_mb == 0: leaves malloc's defaults alone.
void prepare_control_heap(size_t prefault_mb);

// Touches prefault_mb MB of the arena in a background thread at the lowest priority, on the
// calling thread's CPUs. prefault_mb == 0: nothing.
void start_heap_prefault(size_t prefault_mb);

}  // namespace enidp::daemon

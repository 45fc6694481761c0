// Per-worker counters.
//
// Written only by the owning worker (plain load+store on a relaxed atomic, which compiles
// to an ordinary add), read by the control thread at any time with relaxed loads. Each
// worker's block is cache-aligned, so workers never share a written line.
#pragma once

#include <atomic>
#include <cstdint>

#include "dataplane/fastpath/counter.hpp"
#include "dataplane/fastpath/drop_reason.hpp"
#include "dataplane/fastpath/tables.hpp"

namespace enidp::dp {

// Local answers and other packets consumed without being a drop.
#define ENIDP_FOREACH_EVENT(_)                                                   \
    _(kArpReplied, "arp_replied", "ARP requests answered")                        \
    _(kArpLearned, "arp_learned", "VPC gateway MAC learned or refreshed by ARP")  \
    _(kIcmpEchoReplied, "icmp_echo_replied", "ICMP echo requests to the gateway answered") \
    _(kLocalShortcut, "local_shortcut", "pod-to-local-pod packets that skipped the VPC") \
    _(kToEni, "to_eni", "pod packets sent out of their ENI")                      \
    _(kToPod, "to_pod", "ENI packets delivered to their pod")                     \
    _(kIdleSleeps, "idle_sleeps", "times the worker slept after an idle spell")              \
    _(kSvcNewFlow, "service_new_flows", "Service flows created (backend selected, conntrack entry inserted)") \
    _(kSvcForward, "service_forward", "packets translated toward a backend")                 \
    _(kSvcReverse, "service_reverse", "replies translated back to the frontend")             \
    _(kSvcRejected, "service_rejected", "REJECT answers sent (TCP RST / ICMP port unreachable)") \
    _(kCtReplaced, "conntrack_replaced", "flows replaced: expired, backend gone, or new SYN to a terminating backend") \
    _(kIcmpErrorTranslated, "icmp_error_translated", "ICMP errors reverse-translated by their embedded header") \
    _(kPolicyAllowed, "policy_flows_allowed", "NetworkPolicy decisions that admitted a flow (first packet or re-check)") \
    _(kPolicyDenied, "policy_flows_denied", "NetworkPolicy decisions that denied a flow") \
    _(kPolicyRechecked, "policy_rechecks", "tracked flows decided again after a policy change") \
    _(kPolicyTracked, "policy_flows_tracked", "untranslated flows tracked so that replies pass statefully") \
    _(kPayloadScanned, "payload_scanned", "packets scanned by Hyperscan for PayloadPolicy") \
    _(kPayloadLogged, "payload_logged", "packets a PayloadPolicy log pattern matched (passed)")

enum class Event : uint8_t {
#define ENIDP_EVENT_ENUM(e, name, help) e,
    ENIDP_FOREACH_EVENT(ENIDP_EVENT_ENUM)
#undef ENIDP_EVENT_ENUM
        kCount
};
inline constexpr size_t kEventCount = static_cast<size_t>(Event::kCount);
inline constexpr const char* kEventNames[kEventCount] = {
#define ENIDP_EVENT_NAME(e, name, help) name,
    ENIDP_FOREACH_EVENT(ENIDP_EVENT_NAME)
#undef ENIDP_EVENT_NAME
};

struct alignas(64) WorkerStats {
    Counter drops[kDropCount];
    Counter events[kEventCount];
    Counter rx[kMaxPorts][kMaxQueuesPerPort];  // packets received per (port, queue)
    Counter tx[kMaxPorts];                     // packets this worker handed to a port (queue or handoff)
    Counter loops;                             // poll iterations
    Counter busy_loops;                        // iterations that received something
    Counter busy_cycles;                       // TSC cycles spent in iterations that received something

    void drop(Drop d, uint64_t n = 1) { drops[static_cast<size_t>(d)].add(n); }
    void event(Event e, uint64_t n = 1) { events[static_cast<size_t>(e)].add(n); }
    void reset();
};

inline void WorkerStats::reset() {
    for (auto& c : drops) c.reset();
    for (auto& c : events) c.reset();
    for (auto& p : rx)
        for (auto& c : p) c.reset();
    for (auto& c : tx) c.reset();
    loops.reset();
    busy_loops.reset();
    busy_cycles.reset();
}

}  // namespace enidp::dp

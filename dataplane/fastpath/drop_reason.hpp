// Drop reasons: one list yields the enum, the counter names and the help text.
//
// Fast path: include freely. Every packet a worker frees without sending is counted
// under exactly one of these reasons.
#pragma once

#include <cstddef>
#include <cstdint>

namespace enidp::dp {

// _(enumerator, metric name, help)
#define ENIDP_FOREACH_DROP(_)                                                                   \
    _(kL2Truncated, "l2_truncated", "frame shorter than its Ethernet/802.1Q header")             \
    _(kVlanUnexpected, "vlan_unexpected", "802.1Q tag on a port that carries untagged traffic")   \
    _(kL2NotForUs, "l2_not_for_us", "unicast destination MAC is not the port's")                 \
    _(kEthertypeUnsupported, "ethertype_unsupported", "neither IPv4, IPv6 nor ARP")               \
    _(kIpv6Unsupported, "ipv6_unsupported", "IPv6 is recognised but not forwarded yet")           \
    _(kArpMalformed, "arp_malformed", "ARP that is not Ethernet/IPv4 or is truncated")            \
    _(kArpNotForUs, "arp_not_for_us", "ARP for an address this port does not answer for")         \
    _(kIpv4Truncated, "ipv4_truncated", "shorter than an IPv4 header")                            \
    _(kIpv4BadVersion, "ipv4_bad_version", "version field is not 4")                              \
    _(kIpv4BadIhl, "ipv4_bad_ihl", "IHL below 5")                                                 \
    _(kIpv4Options, "ipv4_options", "IPv4 options are not forwarded")                             \
    _(kIpv4BadLength, "ipv4_bad_length", "total length disagrees with the frame")                 \
    _(kIpv4BadChecksum, "ipv4_bad_checksum", "the port reported a bad IPv4 header checksum")      \
    _(kIpv4Fragment, "ipv4_fragment", "fragments are not forwarded yet")                          \
    _(kL4Truncated, "l4_truncated", "shorter than its TCP/UDP/SCTP/ICMP header")                  \
    _(kTcpBadOffset, "tcp_bad_offset", "TCP data offset below 5 or past the packet")              \
    _(kSpoofedMac, "spoofed_mac", "pod sent with a source MAC that is not its own")               \
    _(kSpoofedIp, "spoofed_ip", "pod sent with a source IP that is not its own")                  \
    _(kNotForPod, "not_for_pod", "ENI received an IPv4 packet for another address")               \
    _(kGatewayUnresolved, "gateway_unresolved", "VPC gateway MAC not known yet (ARP pending)")    \
    _(kPodPortDown, "pod_port_down", "destination pod port has no link")                          \
    _(kNoPort, "no_port", "received on a port that is not (or no longer) in the tables")         \
    _(kHandoffFull, "handoff_full", "ring to the worker owning the TX port was full")            \
    _(kTxFull, "tx_full", "TX queue did not take the packet")                                     \
    _(kSvcNoEndpoints, "service_no_endpoints", "Service without endpoints; no REJECT could be built") \
    _(kSvcNoLocalEndpoints, "service_no_local_endpoints", "Local traffic policy and no local endpoint") \
    _(kCtFull, "conntrack_full", "new Service flow but the conntrack table (or SNAT ports) is full") \
    _(kPolicyDenied, "policy_denied", "NetworkPolicy: no rule admits the flow (pod isolated in that direction)") \
    _(kPolicyPending, "policy_pending", "NetworkPolicy: the pod's policy state is not published yet") \
    _(kPayloadDenied, "payload_denied", "PayloadPolicy: a deny pattern matched, or no allow pattern did")

enum class Drop : uint8_t {
#define ENIDP_DROP_ENUM(e, name, help) e,
    ENIDP_FOREACH_DROP(ENIDP_DROP_ENUM)
#undef ENIDP_DROP_ENUM
        kCount
};

inline constexpr size_t kDropCount = static_cast<size_t>(Drop::kCount);

inline constexpr const char* kDropNames[kDropCount] = {
#define ENIDP_DROP_NAME(e, name, help) name,
    ENIDP_FOREACH_DROP(ENIDP_DROP_NAME)
#undef ENIDP_DROP_NAME
};

inline constexpr const char* kDropHelp[kDropCount] = {
#define ENIDP_DROP_HELP(e, name, help) help,
    ENIDP_FOREACH_DROP(ENIDP_DROP_HELP)
#undef ENIDP_DROP_HELP
};

constexpr const char* drop_name(Drop d) { return kDropNames[static_cast<size_t>(d)]; }

}  // namespace enidp::dp

// Writes synthetic traffic to a pcap file (DLT_EN10MB) for the net_pcap PMD to replay.
//
// Flow i (0 <= i < flows) goes to dst_base + i % dst_count from port
// sport_base + i / dst_count (for ICMP the echo identifier plays the source port), so
// every flow is a distinct 5-tuple as long as sport_base + ceil(flows / dst_count) - 1
// fits in 16 bits (checked). Packet k carries flow k % flows; for TCP the first packet of
// each flow is a SYN and later ones are ACKs, so the file looks like flows opening and then
// carrying data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "perf/synth/packet_builder.hpp"

namespace enidp::synth {

struct GenSpec {
    MacAddr src_mac, dst_mac;
    uint32_t src_ip = 0;    // the sender (e.g. a pod), host order
    uint32_t dst_base = 0;  // destinations dst_base .. dst_base + dst_count - 1
    uint32_t dst_count = 1;
    uint32_t flows = 16384;     // distinct 5-tuples
    std::string proto = "udp";  // udp | tcp | icmp
    uint16_t sport_base = 10000;
    uint16_t dport = 80;
    // Size on the wire INCLUDING the 4-byte FCS, as NIC datasheets and RFC 2544 count it;
    // the pcap holds frame_size - 4 bytes per packet (the FCS is not captured).
    size_t frame_size = 64;
    uint32_t packets = 0;  // 0 = one packet per flow
};

// Smallest wire size (with FCS) the spec's headers fit in: 64 for every protocol here.
inline constexpr size_t kMinWireFrame = 64;
inline constexpr size_t kMaxWireFrame = 9018;  // jumbo; the pcap snaplen allows it

// Returns "" on success, else a one-line error message (nothing useful is left at path).
std::string validate(const GenSpec& spec);
std::string write_pcap(const GenSpec& spec, const std::string& path);
// Frame k of the spec's sequence, without FCS (what write_pcap writes as packet k).
std::vector<uint8_t> build_frame(const GenSpec& spec, uint32_t k);

// CLI for `enidp-perf gen ...` (argv[0] is the subcommand name). Prints a one-line summary
// of what it wrote; on bad arguments or I/O errors prints to stderr and returns 2.
int gen_main(int argc, char** argv);

}  // namespace enidp::synth

#include "perf/synth/pcap_gen.hpp"

#include <pcap/pcap.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

namespace enidp::synth {

namespace {

struct PcapCloser {
    void operator()(pcap_t* p) const { pcap_close(p); }
};
struct DumperCloser {
    void operator()(pcap_dumper_t* d) const { pcap_dump_close(d); }
};

}  // namespace

std::string validate(const GenSpec& s) {
    if (s.proto != "udp" && s.proto != "tcp" && s.proto != "icmp")
        return "proto must be udp, tcp or icmp, not '" + s.proto + "'";
    if (s.frame_size < kMinWireFrame || s.frame_size > kMaxWireFrame)
        return "frame size " + std::to_string(s.frame_size) + " is outside " + std::to_string(kMinWireFrame) + ".." +
               std::to_string(kMaxWireFrame) + " (bytes on the wire, FCS included)";
    if (s.dst_count == 0) return "dst-count must be at least 1";
    if (s.flows == 0) return "flows must be at least 1";
    if (uint64_t{s.dst_base} + s.dst_count - 1 > 0xffffffffu) return "dst-base + dst-count overflows IPv4";
    const uint64_t last_sport = uint64_t{s.sport_base} + (s.flows - 1) / s.dst_count;
    if (last_sport > 0xffff)
        return std::to_string(s.flows) + " flows over " + std::to_string(s.dst_count) +
               " destinations need source ports up to " + std::to_string(last_sport) +
               "; lower sport-base or flows, or raise dst-count";
    return "";
}

std::vector<uint8_t> build_frame(const GenSpec& s, uint32_t k) {
    const uint32_t flow = k % s.flows;
    const uint32_t dst = s.dst_base + flow % s.dst_count;
    const auto sport = static_cast<uint16_t>(s.sport_base + flow / s.dst_count);
    PacketBuilder b;
    b.eth(s.src_mac, s.dst_mac).ipv4(s.src_ip, dst).frame_size(s.frame_size - kFcsLen);
    if (s.proto == "tcp") b.tcp(sport, s.dport, k < s.flows ? kTcpSyn : kTcpAck, 1, k < s.flows ? 0 : 1);
    else if (s.proto == "icmp") b.icmp_echo(true, sport, 1);
    else b.udp(sport, s.dport);
    return b.build();
}

std::string write_pcap(const GenSpec& s, const std::string& path) {
    if (auto err = validate(s); !err.empty()) return err;
    std::unique_ptr<pcap_t, PcapCloser> dead(pcap_open_dead(DLT_EN10MB, static_cast<int>(kMaxWireFrame)));
    if (!dead) return "pcap_open_dead failed";
    std::unique_ptr<pcap_dumper_t, DumperCloser> out(pcap_dump_open(dead.get(), path.c_str()));
    if (!out) return "cannot write " + path + ": " + pcap_geterr(dead.get());
    const uint32_t n = s.packets ? s.packets : s.flows;
    for (uint32_t k = 0; k < n; ++k) {
        const auto frame = build_frame(s, k);
        pcap_pkthdr h{};
        // 1 us apart: the replay PMD ignores timestamps, but tools reading the file expect
        // them to increase.
        h.ts.tv_sec = k / 1000000;
        h.ts.tv_usec = k % 1000000;
        h.caplen = h.len = static_cast<bpf_u_int32>(frame.size());
        pcap_dump(reinterpret_cast<u_char*>(out.get()), &h, frame.data());
    }
    if (pcap_dump_flush(out.get()) != 0) return "write to " + path + " failed";
    return "";
}

int gen_main(int argc, char** argv) {
    GenSpec s;
    std::string out, src_mac = "02:00:00:00:00:10", dst_mac = "02:00:00:00:00:01";
    std::string src_ip = "10.0.0.10", dst = "10.1.0.0";
    CLI::App app{"Write synthetic traffic (one sender, many destinations/flows) to a pcap file.",
                 argc > 0 ? argv[0] : "gen"};
    app.add_option("--out", out, "pcap file to write")->required();
    app.add_option("--src-mac", src_mac, "Ethernet source")->capture_default_str();
    app.add_option("--dst-mac", dst_mac, "Ethernet destination")->capture_default_str();
    app.add_option("--src-ip", src_ip, "IPv4 source")->capture_default_str();
    app.add_option("--dst", dst, "first IPv4 destination")->capture_default_str();
    app.add_option("--dst-count", s.dst_count, "number of consecutive destinations")->capture_default_str();
    app.add_option("--flows", s.flows, "distinct 5-tuples")->capture_default_str();
    app.add_option("--proto", s.proto, "udp | tcp | icmp")->capture_default_str();
    app.add_option("--sport", s.sport_base, "first source port (ICMP: echo id)")->capture_default_str();
    app.add_option("--dport", s.dport, "destination port")->capture_default_str();
    app.add_option("--size", s.frame_size, "frame size on the wire incl. 4-byte FCS")->capture_default_str();
    app.add_option("--packets", s.packets, "packets to write; 0 = one per flow")->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }

    auto fail = [](const std::string& msg) {
        std::cerr << "gen: " << msg << "\n";
        return 2;
    };
    auto smac = mac_from_string(src_mac);
    auto dmac = mac_from_string(dst_mac);
    auto sip = ipv4_from_string(src_ip);
    auto dip = ipv4_from_string(dst);
    if (!smac) return fail("bad --src-mac '" + src_mac + "'");
    if (!dmac) return fail("bad --dst-mac '" + dst_mac + "'");
    if (!sip) return fail("bad --src-ip '" + src_ip + "'");
    if (!dip) return fail("bad --dst '" + dst + "'");
    s.src_mac = *smac;
    s.dst_mac = *dmac;
    s.src_ip = *sip;
    s.dst_base = *dip;
    if (auto err = write_pcap(s, out); !err.empty()) return fail(err);

    const uint32_t n = s.packets ? s.packets : s.flows;
    std::cout << "gen: wrote " << n << " " << s.proto << " packets of " << s.frame_size << " B (wire, "
              << s.frame_size - kFcsLen << " B captured) to " << out << ": " << s.flows << " flows, "
              << to_string(s.src_mac) << " " << ipv4_to_string(s.src_ip) << " -> " << to_string(s.dst_mac) << " "
              << ipv4_to_string(s.dst_base) << " +" << s.dst_count << "\n";
    return 0;
}

}  // namespace enidp::synth

#include "control/daemon/specs.hpp"

#include <cstring>

#include <rte_byteorder.h>

namespace enidp::daemon {

namespace {

rte_ether_addr to_ether(const config::Mac& m) {
    rte_ether_addr a;
    std::memcpy(a.addr_bytes, m.bytes.data(), RTE_ETHER_ADDR_LEN);
    return a;
}

uint32_t to_be(config::Ipv4 ip) { return rte_cpu_to_be_32(ip.value); }

bool is_pci_address(const std::string& device) {
    // DDDD:BB:DD.F or BB:DD.F, and no devargs keys of a vdev.
    return device.rfind("net_", 0) != 0 && device.find(':') != std::string::npos;
}

}  // namespace

dp::EalSpec eal_spec(const config::Config& cfg) {
    dp::EalSpec s;
    s.program = "enidp";
    s.lcores = cfg.eal.lcores;
    s.no_huge = cfg.eal.no_huge;
    s.no_pci = cfg.eal.no_pci;
    s.memory_mb = cfg.eal.memory_mb;
    s.file_prefix = cfg.eal.file_prefix;
    s.log_level = cfg.eal.log_level;
    s.extra_args = cfg.eal.extra_args;
    for (const auto& e : cfg.enis)
        if (is_pci_address(e.device)) s.pci_allow.push_back(e.device.substr(0, e.device.find(',')));
    return s;
}

dp::RuntimeSpec runtime_spec(const config::Config& cfg) {
    dp::RuntimeSpec s;
    s.workers = cfg.workers;
    s.burst = cfg.burst;
    s.rx_desc = cfg.rx_desc;
    s.tx_desc = cfg.tx_desc;
    s.mbufs = cfg.mempool.mbufs;
    s.mbuf_cache = cfg.mempool.cache;
    s.data_room = cfg.mempool.data_room;
    s.idle_enabled = cfg.idle.enabled;
    s.idle_after_us = cfg.idle.after_us;
    s.idle_sleep_us = cfg.idle.sleep_us;
    s.gateway_mac = to_ether(cfg.gateway_mac);
    s.conntrack_max = cfg.lb.conntrack_max;
    s.affinity_max = cfg.lb.affinity_max;
    s.snat_port_min = cfg.lb.snat_port_min;
    s.snat_port_max = cfg.lb.snat_port_max;
    s.ct_timeouts.tcp_established = cfg.lb.ct_tcp_established_s;
    s.ct_timeouts.udp_unreplied = cfg.lb.ct_udp_s;
    s.ct_timeouts.udp_replied = cfg.lb.ct_udp_stream_s;
    return s;
}

dp::EniSpec eni_spec(const config::Eni& e) {
    dp::EniSpec s;
    s.name = e.name;
    // PCI ENIs were probed by EAL (-a); probing again is harmless and finds the port.
    s.device = e.device;
    s.mac = to_ether(e.mac);
    s.ip = to_be(e.ip.addr);
    s.gateway_ip = to_be(e.gateway_ip);
    if (e.gateway_mac) s.gateway_mac = to_ether(*e.gateway_mac);
    s.queues = e.queues;
    s.mtu = e.mtu;
    return s;
}

dp::PodSpec pod_spec(const config::Pod& p) {
    dp::PodSpec s;
    s.key = p.key();
    s.eni = p.eni;
    s.ip = to_be(p.ip);
    s.mac = to_ether(p.mac);
    switch (p.kind) {
        case config::PodPortKind::kVhostUser: s.kind = dp::PodPort::kVhostUser; break;
        case config::PodPortKind::kMemif: s.kind = dp::PodPort::kMemif; break;
        case config::PodPortKind::kTap: s.kind = dp::PodPort::kTap; break;
    }
    s.socket = p.socket;
    s.vhost_client = p.vhost_client;
    return s;
}

bool same_pod(const dp::PodSpec& a, const dp::PodSpec& b) {
    return a.key == b.key && a.eni == b.eni && a.ip == b.ip && rte_is_same_ether_addr(&a.mac, &b.mac) &&
           a.kind == b.kind && a.socket == b.socket && a.vhost_client == b.vhost_client;
}

std::vector<std::string> unreloadable_changes(const config::Config& a, const config::Config& b) {
    std::vector<std::string> out;
    auto same_eal = a.eal.lcores == b.eal.lcores && a.eal.no_huge == b.eal.no_huge && a.eal.no_pci == b.eal.no_pci &&
                    a.eal.memory_mb == b.eal.memory_mb && a.eal.file_prefix == b.eal.file_prefix &&
                    a.eal.log_level == b.eal.log_level && a.eal.extra_args == b.eal.extra_args;
    if (!same_eal) out.emplace_back("eal");
    if (a.workers != b.workers || a.burst != b.burst || a.rx_desc != b.rx_desc || a.tx_desc != b.tx_desc)
        out.emplace_back("workers/burst/descriptors");
    if (a.mempool.mbufs != b.mempool.mbufs || a.mempool.cache != b.mempool.cache ||
        a.mempool.data_room != b.mempool.data_room)
        out.emplace_back("mempool");
    if (a.gateway_mac != b.gateway_mac) out.emplace_back("gateway_mac");
    if (a.node_name != b.node_name) out.emplace_back("node_name");
    if (a.idle.enabled != b.idle.enabled || a.idle.after_us != b.idle.after_us || a.idle.sleep_us != b.idle.sleep_us)
        out.emplace_back("idle_backoff");
    if (a.stats_interval_ms != b.stats_interval_ms || a.stats_file != b.stats_file) out.emplace_back("stats");
    bool same_enis = a.enis.size() == b.enis.size();
    for (size_t i = 0; same_enis && i < a.enis.size(); i++) {
        const auto &x = a.enis[i], &y = b.enis[i];
        same_enis = x.name == y.name && x.device == y.device && x.mac == y.mac && x.ip.addr == y.ip.addr &&
                    x.ip.length == y.ip.length && x.gateway_ip == y.gateway_ip && x.gateway_mac == y.gateway_mac &&
                    x.queues == y.queues && x.mtu == y.mtu;
    }
    if (!same_enis) out.emplace_back("enis");
    return out;
}

}  // namespace enidp::daemon

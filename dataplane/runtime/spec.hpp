// What the runtime is asked to build: plain values, filled from the daemon's YAML or from
// an enidp-perf scenario. Control thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <rte_ether.h>

#include "lb/fastpath/conntrack.hpp"

namespace enidp::dp {

struct EalSpec {
    std::string program = "enidp";
    std::string lcores = "0,1";
    bool no_huge = true;
    bool no_pci = true;
    uint32_t memory_mb = 512;
    std::string file_prefix = "enidp";
    std::string log_level;
    std::vector<std::string> pci_allow;   // -a for PCI ENIs
    std::vector<std::string> extra_args;  // appended verbatim (e.g. --vdev for enidp-perf)
};

struct RuntimeSpec {
    uint16_t workers = 1;
    uint16_t burst = 32;
    uint16_t rx_desc = 1024;
    uint16_t tx_desc = 1024;
    uint32_t mbufs = 16383;
    uint32_t mbuf_cache = 256;
    uint16_t data_room = 2176;
    bool idle_enabled = true;
    uint32_t idle_after_us = 200;
    uint32_t idle_sleep_us = 100;
    rte_ether_addr gateway_mac{};
    uint32_t handoff_ring_size = 1024;
    // Service load balancing (lb/): table capacities and conntrack settings.
    uint32_t conntrack_max = 262144;        // flows
    uint32_t affinity_max = 65536;          // (client, service port) pairs
    uint32_t max_service_ports = 262144;    // stable service-port ids
    uint32_t max_backends = 1u << 21;       // stable backend ids
    uint16_t snat_port_min = 61000;         // client-side ports for SNAT / clashing tuples
    uint16_t snat_port_max = 65535;
    lb::CtTimeouts ct_timeouts;
};

struct EniSpec {
    std::string name;
    // Either a device to probe (PCI address or "net_xxx,devargs") or, with `existing_port`,
    // a port EAL already created (enidp-perf passes --vdev on the EAL command line).
    std::string device;
    std::optional<uint16_t> existing_port;
    rte_ether_addr mac{};
    uint32_t ip = 0;          // network order
    uint32_t gateway_ip = 0;  // network order
    std::optional<rte_ether_addr> gateway_mac;
    uint16_t queues = 1;
    uint16_t mtu = 1500;
};

enum class PodPort { kVhostUser, kMemif, kTap, kExisting };

struct PodSpec {
    std::string key;          // namespace/name
    std::string eni;          // ENI name
    uint32_t ip = 0;          // network order
    rte_ether_addr mac{};
    PodPort kind = PodPort::kVhostUser;
    std::string socket;       // vhost-user/memif socket path, tap interface name
    bool vhost_client = true;
    std::optional<uint16_t> existing_port;  // kExisting
};

const char* to_string(PodPort kind);

}  // namespace enidp::dp

// Daemon configuration: the typed form of enidp.yaml.
//
// Runs on the control thread only (parsing allocates and throws internally; the public
// entry points return a result instead). Nothing here is included by fast-path code:
// control/daemon/specs.cpp turns a Config into the dataplane runtime's specs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace enidp::config {

// A MAC address in wire order.
struct Mac {
    std::array<uint8_t, 6> bytes{};
    bool operator==(const Mac&) const = default;
    std::string to_string() const;
};

// An IPv4 address in host byte order (so that prefix arithmetic is plain integer math).
struct Ipv4 {
    uint32_t value = 0;
    bool operator==(const Ipv4&) const = default;
    std::string to_string() const;
};

struct Ipv4Prefix {
    Ipv4 addr;
    uint8_t length = 32;
    bool contains(Ipv4 ip) const;
    std::string to_string() const;
};

struct EalSettings {
    std::string lcores = "0,1";         // passed as --lcores; first lcore is the main (control) lcore
    bool no_huge = true;                // --no-huge
    bool no_pci = true;                 // --no-pci unless an ENI is a PCI device
    uint32_t memory_mb = 512;           // -m
    std::string file_prefix = "enidp";  // --file-prefix
    std::string log_level;              // --log-level, empty = DPDK default
    std::vector<std::string> extra_args;
};

struct IdleBackoff {
    bool enabled = true;
    uint32_t after_us = 200;   // empty polls for this long before sleeping
    uint32_t sleep_us = 100;   // each sleep
};

struct MempoolSettings {
    uint32_t mbufs = 16383;
    uint32_t cache = 256;
    uint16_t data_room = 2176;  // RTE_MBUF_DEFAULT_BUF_SIZE
};

struct Eni {
    std::string name;            // unique, used in counters and logs
    std::string device;          // PCI address ("0000:00:05.0") or a vdev string ("net_tap0,iface=eni0")
    Mac mac;
    Ipv4Prefix ip;               // the ENI's primary address and subnet
    Ipv4 gateway_ip;             // VPC gateway (the pod's default gateway)
    std::optional<Mac> gateway_mac;  // resolved by ARP when absent
    uint16_t queues = 1;         // RX queues (RSS when > 1 and the PMD supports it)
    uint16_t mtu = 1500;
    int line = 0;                // where it was defined, for later error messages
};

enum class PodPortKind { kVhostUser, kMemif, kTap };
const char* to_string(PodPortKind);

struct Pod {
    std::string ns;
    std::string name;
    Ipv4 ip;                     // defaults to the ENI's IP (exclusive ENI: the pod owns it)
    Mac mac;                     // the pod's own MAC on its port
    std::string eni;             // name of the ENI it owns
    PodPortKind kind = PodPortKind::kVhostUser;
    std::string socket;          // vhost-user / memif socket path; tap: interface name
    bool vhost_client = true;    // vhost-user: dataplane is the client, pod the server (restartable)
    int line = 0;
    std::string key() const { return ns + "/" + name; }
};

// Service load balancing (lb/): table sizes and conntrack.
struct LbSettings {
    uint32_t conntrack_max = 262144;      // flows
    uint32_t affinity_max = 65536;        // sessionAffinity (client, Service port) entries
    uint32_t maglev_table_size = 16381;   // default Maglev table size (prime, >= 100 x backends)
    uint16_t snat_port_min = 61000;       // client-side ports for SNAT and clashing tuples
    uint16_t snat_port_max = 65535;
    uint32_t ct_tcp_established_s = 86400;
    uint32_t ct_udp_s = 30;               // unreplied
    uint32_t ct_udp_stream_s = 120;       // replied
    uint32_t min_sync_period_ms = 5;      // Service table publications at most this often (control/reconcile)
    // Maglev fill time a Service table build may spend before new tables are provisional
    // (next_prime(100 x backends) entries, upgraded by later builds); 0 = no budget.
    uint32_t maglev_fill_budget_ms = 100;
};

// Watching the Kubernetes API server (control/k8s). Off unless `kubernetes:` is present.
struct KubernetesSettings {
    bool enabled = false;
    std::string server;        // https://host:port; empty: kubeconfig or in-cluster
    std::string token_file;    // bearer token file (re-read when it changes)
    std::string ca_file;
    bool insecure_skip_tls_verify = false;
    std::string kubeconfig;    // path; empty: $KUBECONFIG, then the in-cluster service account
};

// NetworkPolicy enforcement (acl/, dataplane/fastpath/policy_stage.hpp).
struct PolicySettings {
    bool offload = false;                  // try rte_flow NIC drops on each pod's ENI (acl/offload)
    uint32_t offload_max_rules = 256;      // per pod; beyond it nothing of the policy is offloaded
    uint32_t log_allow_one_in = 64;        // verdict log: one allowed decision in N (0: none)
    uint32_t log_denies_per_second = 1000; // verdict log: denials per worker and second
};

// Prometheus /metrics, /healthz, /readyz (control/metrics).
struct MetricsSettings {
    bool enabled = true;
    std::string address = "127.0.0.1";
    uint16_t port = 9310;
};

inline constexpr uint32_t kMaxHeapPrefaultMb = 1536;  // glibc's trim threshold is an int
// What 10,000 Services x 10 endpoints need to apply and publish within 1 s (docs/perf.md).
inline constexpr uint32_t kDefaultHeapPrefaultMb = 512;

struct Config {
    std::string source;          // file the config was read from
    std::string node_name;
    std::string node_zone;       // topology.kubernetes.io/zone, for topology hints
    std::vector<Ipv4> node_ips;  // addresses whose NodePorts this node serves
    // Kubernetes manifests (files or directories; relative to the config file) with
    // Services, EndpointSlices, ...: the node's desired state until the API watcher runs.
    std::vector<std::string> manifests;
    LbSettings lb;
    PolicySettings policy;
    KubernetesSettings kubernetes;
    MetricsSettings metrics;
    EalSettings eal;
    uint16_t workers = 1;
    uint16_t burst = 32;
    uint16_t rx_desc = 1024;
    uint16_t tx_desc = 1024;
    MempoolSettings mempool;
    IdleBackoff idle;
    Mac gateway_mac;             // virtual router MAC the pods see as their gateway
    uint32_t stats_interval_ms = 0;  // 0 = no periodic stats print
    std::string stats_file;      // JSON counters rewritten every second when set
    // control.heap_prefault_mb: control-side heap touched at start (control/daemon/heap.hpp), so
    // bulk applies and table builds do not fault pages in; 0 = malloc's defaults.
    uint32_t control_heap_prefault_mb = kDefaultHeapPrefaultMb;
    std::string api_socket = "/run/enidp/enidp.sock";  // api.socket: the enidp.v1 gRPC unix socket
    // api.tcp: the same API on TCP with mutual TLS (absent: unix socket only).
    struct ApiTcp {
        bool enabled = false;
        std::string address;         // host:port, e.g. 0.0.0.0:50051
        std::string cert_file;       // the server's certificate chain (PEM)
        std::string key_file;        // its private key (PEM)
        std::string client_ca_file;  // CA that client certificates must chain to (PEM)
    } api_tcp;
    std::vector<Eni> enis;
    std::vector<Pod> pods;

    const Eni* find_eni(const std::string& name) const;
};

struct ConfigError {
    std::string file;
    int line = 0;                // 1-based; 0 when the error is not tied to a line
    std::string message;
    std::string to_string() const;  // "file:line: message"
};

using ConfigResult = std::variant<Config, ConfigError>;

// Parses and validates. Never throws; every error names file:line and what is wrong.
ConfigResult load_file(const std::string& path);
ConfigResult load_string(const std::string& yaml, const std::string& source_name);

// Parsers shared with the perf scenarios and tests.
std::optional<Mac> parse_mac(const std::string& s);
std::optional<Ipv4> parse_ipv4(const std::string& s);
std::optional<Ipv4Prefix> parse_prefix(const std::string& s);

}  // namespace enidp::config

// The dataplane runtime: mempool, ports (ENIs, hot-plugged pod ports), workers, and the
// snapshot they forward by.
//
// Who may call: the control thread only (one thread; no method is re-entrant). Methods
// may block (hot-plug, RCU grace periods) but never stop the workers: every table change
// is a new Snapshot published by pointer swap and the old one is freed after a grace period.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <rte_mempool.h>

#include "dataplane/fastpath/worker.hpp"
#include "dataplane/runtime/policy_state.hpp"
#include "dataplane/runtime/spec.hpp"

namespace enidp::dp {

struct Status {
    bool ok = true;
    std::string message;
    static Status error(std::string m) { return {false, std::move(m)}; }
};

// Counters of one port, PMD counters merged with what the workers counted.
struct PortCounters {
    uint16_t port = 0;
    std::string device;     // ethdev name
    std::string role;       // "eni" | "pod"
    std::string owner;      // ENI name or pod key
    bool link_up = false;
    uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0;
    uint64_t rx_missed = 0, rx_errors = 0, tx_errors = 0, rx_nombuf = 0;
    std::vector<uint64_t> rx_queue_packets;  // per RX queue, as counted by workers
    uint64_t worker_tx_packets = 0;          // handed to the port by workers
};

struct WorkerCounters {
    uint16_t id = 0;
    unsigned lcore = 0;
    uint64_t loops = 0, busy_loops = 0, busy_cycles = 0;
    // Worker stalls (fastpath/worker.hpp LoopGaps): the longest poll iteration since start, and
    // how many took longer than 100 µs / 1 ms.
    uint64_t max_loop_gap_ns = 0, loop_gaps_over_100us = 0, loop_gaps_over_1ms = 0;
};

struct DataplaneCounters {
    uint64_t generation = 0;
    std::vector<PortCounters> ports;
    uint64_t drops[kDropCount] = {};
    uint64_t events[kEventCount] = {};
    std::vector<WorkerCounters> workers;
    uint32_t mempool_size = 0, mempool_in_use = 0, mempool_available = 0;
    struct Eni {
        std::string name;
        uint16_t port;
        bool gateway_known;
        rte_ether_addr gateway_mac;
    };
    std::vector<Eni> enis;
    struct Pod {
        std::string key;
        std::string kind;
        uint16_t port;
        bool link_up;
    };
    std::vector<Pod> pods;
    struct Lb {
        uint32_t service_ports = 0;
        uint32_t frontends = 0;
        uint32_t backends = 0;
        uint64_t table_generation = 0;
        lb::CtCounters conntrack;
        uint32_t affinity_entries = 0;
    } lb;
    PolicyStatus policy;
    uint64_t drops_total() const;
};

// One Service port's traffic since its stable id got its current owner.
struct ServicePortCounters {
    std::string service;           // "ns/name:port/proto"
    uint64_t new_flows = 0;        // flows created (a backend selected)
    uint64_t rejected = 0;         // answered REJECT / dropped for lack of (local) endpoints
    uint64_t active_flows = 0;     // live flows to its backends
    struct Backend {
        std::string endpoint;      // "ip:port"
        uint64_t flows = 0;        // flows sent to it
        uint32_t active = 0;       // live flows
    };
    std::vector<Backend> backends;
};

// The control thread's RCU reader id (workers use 0..kMaxWorkers-1).
inline constexpr uint32_t kControlRcuId = kMaxWorkers;

class Dataplane {
public:
    // EAL must be initialised. Creates the mempool and RCU state; no ports yet.
    static std::unique_ptr<Dataplane> create(const RuntimeSpec& spec, std::string& error);
    ~Dataplane();
    Dataplane(const Dataplane&) = delete;
    Dataplane& operator=(const Dataplane&) = delete;

    Status add_eni(const EniSpec& eni);
    // Creates the pod's port (hot-plug), configures and starts it, then publishes tables
    // in which the pod exists. On failure nothing is left behind.
    Status add_pod(const PodSpec& pod);
    // Unpublishes the pod, waits a grace period, then stops, closes and detaches its port.
    Status remove_pod(const std::string& key);
    std::vector<std::string> pod_keys() const;

    // Launches one worker per worker lcore (the first `workers` of them).
    Status start_workers();
    void stop_workers();

    // Periodic control work (call every ~100 ms): follows link state (memif raises no
    // event), asks for unresolved gateway MACs by ARP once a second.
    void tick();

    // Publishes a new Service table (lb/builder build_table). `statuses` are the live
    // backend ids and their readiness, applied before the table is visible; `retired` ids
    // are marked removed (the fast path stops using them at once), then the table is
    // published, the old one freed after a grace period, and every flow to a retired
    // backend purged from conntrack. After this returns the caller may reuse the retired
    // ids (StableIds::release_retired).
    void set_services(std::shared_ptr<const lb::ServiceTable> table,
                      const std::vector<std::pair<uint32_t, lb::BackendStatus>>& statuses,
                      const std::vector<uint32_t>& retired);
    const lb::ServiceTable& services() const { return *services_; }
    // Per Service port of the published table: flows created, rejects, live flows, per backend.
    std::vector<ServicePortCounters> service_counters() const;
    lb::Conntrack& conntrack() { return *ct_; }
    lb::LbState& lb_state() { return *lb_state_; }
    lb::Affinity& affinity() { return *affinity_; }

    // Publishes a NetworkPolicy snapshot (acl SnapshotBuilder) compiled for policy_pods(),
    // or none (null: no NetworkPolicy / PayloadPolicy exists; nothing is enforced). Pods
    // added while a snapshot is published are closed until a snapshot knowing them is.
    void set_policy(std::shared_ptr<const acl::PolicySnapshot> snap);
    const acl::PolicySnapshot* policy() const { return policy_pub_ ? policy_pub_->snapshot.get() : nullptr; }
    // Every local pod with the id the policy compiler must use for it.
    std::vector<std::pair<std::string, uint32_t>> policy_pods() const;
    std::map<std::string, uint32_t> pod_ips() const;  // pod key → IPv4 (network order)
    std::map<std::string, uint16_t> pod_eni_ports() const;  // pod key → its ENI's port
    // The node's ports as configured and as they run now (DumpPorts, `enidpctl ports` / `pool`),
    // in ENI / pod-key order. Control thread.
    struct EniInfo {
        std::string name, device, tap;     // tap: the kernel interface of a net_tap ENI
        uint16_t port = 0, queues = 1, mtu = 1500;
        rte_ether_addr mac{};
        uint32_t ip = 0, gateway_ip = 0;   // network order
        std::optional<rte_ether_addr> gateway_mac;  // configured or learned; none until resolved
        bool link_up = false;
        std::vector<std::string> pods;     // pod keys it serves (empty: a free ENI of the pool)
    };
    struct PodPortInfo {
        std::string key, eni, devname, socket, tap;
        PodPort kind = PodPort::kVhostUser;
        bool vhost_client = true;
        uint16_t port = 0, worker = 0;     // worker: the one polling it and owning its TX queue 0
        uint32_t ip = 0;                   // network order
        rte_ether_addr mac{};
        bool link_up = false;
    };
    std::vector<EniInfo> eni_inventory() const;
    std::vector<PodPortInfo> pod_inventory() const;
    // Verdict log records after `seq` (drained from the workers on tick()).
    std::vector<VerdictLogEntry> verdicts_since(uint64_t seq, size_t max) const { return policy_rt_.log_since(seq, max); }
    void set_verdict_sampling(uint32_t allow_one_in, uint32_t denies_per_second);

    DataplaneCounters counters() const;
    void reset_counters();  // workers must be stopped
    rte_mempool* mempool() const { return pool_; }
    const Snapshot* snapshot() const { return slot_.current.load(std::memory_order_acquire); }
    uint16_t workers() const { return spec_.workers; }

private:
    struct EniState {
        EniSpec spec;
        uint16_t port = 0;
        bool probed = false;       // we probed the device, so we detach it
        std::string tap;           // kernel interface when the ENI is a net_tap
        std::unique_ptr<NeighborCell> gateway;
        uint64_t last_arp_tsc = 0;
        bool link_up = false;
    };
    struct PodState {
        PodSpec spec;
        uint16_t port = 0;
        std::string devname;       // for detach
        uint16_t owner = 0;        // worker polling it and owning its TX queue 0
        std::string tap;           // kernel interface of a tap pod port
        bool link_up = false;
        uint32_t policy_id = 0;    // stable id for the NetworkPolicy compiler
    };
    struct PortRings {
        rte_ring* handoff = nullptr;
        uint16_t owner = 0;
        uint16_t tx_queues = 1;
    };

    explicit Dataplane(const RuntimeSpec& spec) : spec_(spec) {}
    Status configure_port(uint16_t port, uint16_t rx_queues, uint16_t mtu, uint16_t& tx_queues_out);
    Status make_ring(uint16_t port, uint16_t owner, uint16_t tx_queues);
    void release_port(uint16_t port, const std::string& devname, bool detach);
    std::unique_ptr<Snapshot> build() const;
    void publish();
    void send_arp_request(EniState& eni);
    uint16_t least_loaded_worker() const;

    RuntimeSpec spec_;
    rte_mempool* pool_ = nullptr;
    SnapshotSlot slot_;
    uint64_t generation_ = 0;
    std::vector<std::unique_ptr<EniState>> enis_;
    std::map<std::string, PodState> pods_;
    std::map<uint16_t, PortRings> rings_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<unsigned> worker_lcores_;
    uint32_t pod_seq_ = 0;
    bool workers_running_ = false;
    std::unique_ptr<lb::LbState> lb_state_;
    std::unique_ptr<lb::Conntrack> ct_;
    std::unique_ptr<lb::Affinity> affinity_;
    std::shared_ptr<const lb::ServiceTable> services_;
    std::vector<uint32_t> affinity_timeouts_;  // by service-port id
    uint64_t last_affinity_gc_ms_ = 0;
    // Counter values of each stable id when it got its current owner (name / endpoint): a
    // reused id starts from zero for its new owner.
    // Indexed by id; checked on every publication, so a backend's owner is its (ip, port) as
    // one integer, not a formatted string (100,000 backends: well under a millisecond).
    struct PortBaseline {
        std::string owner;  // the service port's name
        uint64_t new_flows = 0, rejected = 0;
    };
    struct BackendBaseline {
        uint64_t owner = 0;  // (ip << 16 | port) + 1, network order; 0: none yet
        uint64_t flows = 0;
    };
    std::vector<PortBaseline> port_base_;
    std::vector<BackendBaseline> backend_base_;
    PolicyRuntime policy_rt_;
    std::shared_ptr<PolicyPublication> policy_pub_;
};

}  // namespace enidp::dp

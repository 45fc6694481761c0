#include "dataplane/runtime/dataplane.hpp"

#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>

#include <rte_bus_vdev.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "dataplane/fastpath/responder.hpp"

#define DP_LOG(level, fmt, ...) RTE_LOG(level, USER1, "enidp: " fmt "\n", ##__VA_ARGS__)

namespace enidp::dp {

namespace {

// "10.0.0.5:8080" from network-order address and port.
std::string format_endpoint(uint32_t ip_net, uint16_t port_net) {
    const uint32_t a = rte_be_to_cpu_32(ip_net);
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) +
           "." + std::to_string(a & 255) + ":" + std::to_string(rte_be_to_cpu_16(port_net));
}

std::string errno_text(int err) { return rte_strerror(err < 0 ? -err : err); }

// rte_dev_probe says -EFAULT when no driver matches the name: say that instead.
std::string probe_error(int rc) {
    if (rc == -EFAULT) return "no such driver or malformed device arguments";
    return errno_text(rc);
}

std::string device_name(const std::string& devargs) { return devargs.substr(0, devargs.find(',')); }

// Finds the ethdev a probe of `devargs` created (vdev names and PCI addresses alike).
bool find_port(const std::string& devargs, uint16_t& port) {
    if (rte_eth_dev_get_port_by_name(device_name(devargs).c_str(), &port) == 0) return true;
    rte_dev_iterator it;
    uint16_t p;
    RTE_ETH_FOREACH_MATCHING_DEV(p, devargs.c_str(), &it) {
        port = p;
        rte_eth_iterator_cleanup(&it);
        return true;
    }
    return false;
}

// A server socket left by a previous run makes bind() fail; the directory may not exist yet.
void prepare_server_socket(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    ::unlink(path.c_str());
}

// The kernel interface behind a net_tap device string, "" for any other device.
std::string tap_iface(const std::string& devargs) {
    if (devargs.rfind("net_tap", 0) != 0) return {};
    const auto at = devargs.find("iface=");
    if (at == std::string::npos) return {};
    return devargs.substr(at + 6, devargs.find(',', at) - (at + 6));
}

// DPDK 22.11's tap PMD reads link state by ioctl on the interface name in our netns; once
// the interface is moved into a pod's (or the VPC's) netns that name is gone and the PMD
// reports "down" although the fd datapath works. Such a tap counts as up.
bool link_up(uint16_t port, const std::string& tap) {
    rte_eth_link link{};
    if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP) return true;
    return !tap.empty() && if_nametoindex(tap.c_str()) == 0;
}

int worker_main(void* arg) {
    static_cast<Worker*>(arg)->run();
    return 0;
}

}  // namespace

uint64_t DataplaneCounters::drops_total() const {
    uint64_t t = 0;
    for (uint64_t d : drops) t += d;
    return t;
}

std::unique_ptr<Dataplane> Dataplane::create(const RuntimeSpec& spec, std::string& error) {
    if (spec.workers == 0 || spec.workers > kMaxWorkers) {
        error = "workers must be between 1 and " + std::to_string(kMaxWorkers);
        return nullptr;
    }
    std::unique_ptr<Dataplane> dp(new Dataplane(spec));
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore) {
        if (dp->worker_lcores_.size() < spec.workers) dp->worker_lcores_.push_back(lcore);
    }
    if (dp->worker_lcores_.size() < spec.workers) {
        error = std::to_string(spec.workers) + " workers need " + std::to_string(spec.workers + 1) +
                " lcores (one main + one per worker); EAL has " + std::to_string(rte_lcore_count());
        return nullptr;
    }
    dp->pool_ = rte_pktmbuf_pool_create("enidp_mbufs", spec.mbufs, spec.mbuf_cache, 0, spec.data_room,
                                        static_cast<int>(rte_socket_id()));
    if (dp->pool_ == nullptr) {
        error = "cannot create the mbuf pool (" + std::to_string(spec.mbufs) + " mbufs): " + errno_text(rte_errno);
        return nullptr;
    }
    // Workers are RCU readers 0..kMaxWorkers-1; the control thread is kControlRcuId
    // while it walks conntrack.
    const size_t sz = rte_rcu_qsbr_get_memsize(kMaxWorkers + 1);
    dp->slot_.qsbr = static_cast<rte_rcu_qsbr*>(rte_zmalloc("enidp_qsbr", sz, RTE_CACHE_LINE_SIZE));
    if (dp->slot_.qsbr == nullptr || rte_rcu_qsbr_init(dp->slot_.qsbr, kMaxWorkers + 1) != 0) {
        error = "cannot create the RCU state";
        return nullptr;
    }
    rte_rcu_qsbr_thread_register(dp->slot_.qsbr, kControlRcuId);
    dp->lb_state_ = std::make_unique<lb::LbState>(spec.max_service_ports, spec.max_backends);
    lb::CtConfig cc;
    cc.max_flows = spec.conntrack_max;
    cc.socket = static_cast<int>(rte_socket_id());
    cc.timeouts = spec.ct_timeouts;
    cc.qsbr = dp->slot_.qsbr;
    cc.control_rcu_id = kControlRcuId;
    cc.snat_port_min = spec.snat_port_min;
    cc.snat_port_max = spec.snat_port_max;
    dp->ct_ = lb::Conntrack::create(cc, error);
    if (dp->ct_ == nullptr) return nullptr;
    dp->ct_->bind_state(dp->lb_state_.get());
    dp->affinity_ = lb::Affinity::create("enidp_aff", spec.affinity_max, cc.socket, dp->slot_.qsbr, error);
    if (dp->affinity_ == nullptr) return nullptr;
    dp->services_ = std::make_shared<lb::ServiceTable>();
    IdlePolicy idle{spec.idle_enabled, spec.idle_after_us * (rte_get_tsc_hz() / 1000000), spec.idle_sleep_us};
    for (uint16_t w = 0; w < spec.workers; w++)
        dp->workers_.push_back(std::make_unique<Worker>(w, dp->slot_, idle, spec.burst));
    dp->publish();
    return dp;
}

Dataplane::~Dataplane() {
    stop_workers();
    for (const auto& key : pod_keys()) remove_pod(key);
    for (auto& e : enis_) {
        auto it = rings_.find(e->port);
        if (it != rings_.end()) {
            rte_ring_free(it->second.handoff);
            rings_.erase(it);
        }
        release_port(e->port, device_name(e->spec.device), e->probed);
    }
    enis_.clear();
    delete slot_.current.exchange(nullptr);
    ct_.reset();
    affinity_.reset();
    rte_mempool_free(pool_);
    rte_free(slot_.qsbr);
}

Status Dataplane::configure_port(uint16_t port, uint16_t rx_queues, uint16_t mtu, uint16_t& tx_queues) {
    rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(port, &info);
    if (rc != 0) return Status::error("cannot read device info: " + errno_text(rc));
    if (rx_queues > info.max_rx_queues)
        return Status::error(std::to_string(rx_queues) + " RX queues requested, device has " +
                             std::to_string(info.max_rx_queues));
    tx_queues = std::min<uint16_t>(std::min<uint16_t>(tx_queues, spec_.workers), info.max_tx_queues);
    if (tx_queues == 0) tx_queues = 1;

    rte_eth_conf conf{};
    if (rx_queues > 1 && info.flow_type_rss_offloads != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    }
    rc = rte_eth_dev_configure(port, rx_queues, tx_queues, &conf);
    if (rc != 0) return Status::error("cannot configure " + std::to_string(rx_queues) + "/" +
                                      std::to_string(tx_queues) + " queues: " + errno_text(rc));
    uint16_t rxd = spec_.rx_desc, txd = spec_.tx_desc;
    rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
    const int socket = rte_eth_dev_socket_id(port);
    for (uint16_t q = 0; q < rx_queues; q++) {
        rc = rte_eth_rx_queue_setup(port, q, rxd, socket, nullptr, pool_);
        if (rc != 0) return Status::error("cannot set up RX queue " + std::to_string(q) + ": " + errno_text(rc));
    }
    for (uint16_t q = 0; q < tx_queues; q++) {
        rc = rte_eth_tx_queue_setup(port, q, txd, socket, nullptr);
        if (rc != 0) return Status::error("cannot set up TX queue " + std::to_string(q) + ": " + errno_text(rc));
    }
    if (mtu != 0) {
        rc = rte_eth_dev_set_mtu(port, mtu);
        if (rc != 0 && rc != -ENOTSUP) DP_LOG(WARNING, "port %u: cannot set MTU %u: %s", port, mtu, errno_text(rc).c_str());
    }
    rc = rte_eth_dev_start(port);
    if (rc != 0) return Status::error("cannot start the port: " + errno_text(rc));
    rte_eth_promiscuous_enable(port);  // not every PMD has it; MAC filtering is ours anyway
    return {};
}

Status Dataplane::make_ring(uint16_t port, uint16_t owner, uint16_t tx_queues) {
    const std::string name = "enidp_ho" + std::to_string(port);
    rte_ring* r = rte_ring_create(name.c_str(), spec_.handoff_ring_size, SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (r == nullptr) return Status::error("cannot create handoff ring: " + errno_text(rte_errno));
    rings_[port] = PortRings{r, owner, tx_queues};
    return {};
}

void Dataplane::release_port(uint16_t port, const std::string& devname, bool detach) {
    rte_eth_dev_stop(port);
    rte_eth_dev_close(port);
    if (!detach) return;
    const int rc = rte_eal_hotplug_remove(devname.rfind("net_", 0) == 0 ? "vdev" : "pci", devname.c_str());
    if (rc != 0) DP_LOG(WARNING, "cannot detach %s: %s", devname.c_str(), errno_text(rc).c_str());
}

Status Dataplane::add_eni(const EniSpec& e) {
    for (const auto& x : enis_)
        if (x->spec.name == e.name) return Status::error("ENI " + e.name + " already exists");
    auto st = std::make_unique<EniState>();
    st->spec = e;
    st->tap = tap_iface(e.device);
    if (e.existing_port) {
        st->port = *e.existing_port;
        if (!rte_eth_dev_is_valid_port(st->port))
            return Status::error("ENI " + e.name + ": no port " + std::to_string(st->port));
    } else {
        const int rc = rte_dev_probe(e.device.c_str());
        if (rc != 0) return Status::error("failed to probe ENI " + e.name + " device \"" + e.device + "\": " + probe_error(rc));
        st->probed = true;
        if (!find_port(e.device, st->port))
            return Status::error("ENI " + e.name + ": device \"" + e.device + "\" created no ethdev port");
    }
    uint16_t txq = spec_.workers;
    Status s = configure_port(st->port, e.queues, e.mtu, txq);
    const uint16_t owner = static_cast<uint16_t>(enis_.size() % spec_.workers);
    if (s.ok) s = make_ring(st->port, owner, txq);
    if (!s.ok) {
        release_port(st->port, device_name(e.device), st->probed);
        return Status::error("failed to set up ENI " + e.name + ": " + s.message);
    }
    st->gateway = std::make_unique<NeighborCell>();
    if (e.gateway_mac) st->gateway->set(*e.gateway_mac);
    enis_.push_back(std::move(st));
    publish();
    return {};
}

Status Dataplane::add_pod(const PodSpec& p) {
    if (pods_.count(p.key)) return Status::error("pod " + p.key + " already exists");
    const EniState* eni = nullptr;
    for (const auto& e : enis_)
        if (e->spec.name == p.eni) eni = e.get();
    if (eni == nullptr) return Status::error("pod " + p.key + ": no ENI named " + p.eni);
    for (const auto& [k, other] : pods_) {
        if (other.spec.eni == p.eni) return Status::error("pod " + p.key + ": ENI " + p.eni + " is owned by " + k);
        if (other.spec.ip == p.ip) return Status::error("pod " + p.key + ": its IP is used by " + k);
    }

    PodState ps;
    ps.spec = p;
    const std::string seq = std::to_string(pod_seq_++);
    std::string devargs;
    switch (p.kind) {
        case PodPort::kVhostUser:
            ps.devname = "net_vhost_pod" + seq;
            devargs = ps.devname + ",iface=" + p.socket + ",queues=1" + (p.vhost_client ? ",client=1" : "");
            if (!p.vhost_client) prepare_server_socket(p.socket);
            break;
        case PodPort::kMemif:
            ps.devname = "net_memif_pod" + seq;
            devargs = ps.devname + ",role=server,id=0,socket-abstract=no,socket=" + p.socket;
            prepare_server_socket(p.socket);
            break;
        case PodPort::kTap:
            ps.devname = "net_tap_pod" + seq;
            devargs = ps.devname + ",iface=" + p.socket;
            ps.tap = p.socket;
            break;
        case PodPort::kExisting: {
            if (!p.existing_port || !rte_eth_dev_is_valid_port(*p.existing_port))
                return Status::error("pod " + p.key + ": no port " +
                                     (p.existing_port ? std::to_string(*p.existing_port) : std::string("given")));
            ps.port = *p.existing_port;
            char name[RTE_ETH_NAME_MAX_LEN] = {};
            rte_eth_dev_get_name_by_port(ps.port, name);
            ps.devname = name;
            break;
        }
    }
    if (!devargs.empty()) {
        const int rc = rte_dev_probe(devargs.c_str());
        if (rc != 0)
            return Status::error("failed to create " + std::string(to_string(p.kind)) + " port for pod " + p.key +
                                 " (" + devargs + "): " + probe_error(rc));
        if (!find_port(devargs, ps.port)) {
            rte_eal_hotplug_remove("vdev", ps.devname.c_str());
            return Status::error("failed to create port for pod " + p.key + ": probe created no ethdev");
        }
    }
    ps.owner = least_loaded_worker();
    // Pod ports keep one queue pair: the pod decides its queue count and a TX queue the pod
    // does not poll would swallow packets. Other workers hand off to the owner.
    uint16_t txq = 1;
    Status s = configure_port(ps.port, 1, 0, txq);
    if (s.ok) s = make_ring(ps.port, ps.owner, txq);
    if (!s.ok) {
        release_port(ps.port, ps.devname, !devargs.empty());
        return Status::error("failed to set up port for pod " + p.key + ": " + s.message);
    }
    ps.link_up = link_up(ps.port, ps.tap);
    ps.policy_id = policy_rt_.acquire_id(p.key);
    DP_LOG(INFO, "pod %s: %s port %u (%s), link %s", p.key.c_str(), to_string(p.kind), ps.port, ps.devname.c_str(),
           ps.link_up ? "up" : "down");
    pods_.emplace(p.key, std::move(ps));
    publish();
    return {};
}

Status Dataplane::remove_pod(const std::string& key) {
    auto it = pods_.find(key);
    if (it == pods_.end()) return Status::error("no pod " + key);
    PodState ps = std::move(it->second);
    pods_.erase(it);
    // After this grace period no worker polls the port, buffers for it, or feeds its ring.
    publish();
    policy_rt_.retire_id(ps.policy_id);
    if (policy() == nullptr) policy_rt_.retired(nullptr, nullptr);
    auto r = rings_.find(ps.port);
    if (r != rings_.end()) {
        void* m;
        while (rte_ring_dequeue(r->second.handoff, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(r->second.handoff);
        rings_.erase(r);
    }
    release_port(ps.port, ps.devname, ps.spec.kind != PodPort::kExisting);
    if (ps.spec.kind == PodPort::kMemif || (ps.spec.kind == PodPort::kVhostUser && !ps.spec.vhost_client))
        ::unlink(ps.spec.socket.c_str());
    DP_LOG(INFO, "pod %s: port %u removed", key.c_str(), ps.port);
    return {};
}

uint16_t Dataplane::least_loaded_worker() const {
    std::vector<uint32_t> load(spec_.workers, 0);
    for (const auto& e : enis_)
        for (uint16_t q = 0; q < e->spec.queues; q++) load[(rings_.at(e->port).owner + q) % spec_.workers]++;
    for (const auto& [k, p] : pods_) load[p.owner]++;
    return static_cast<uint16_t>(std::min_element(load.begin(), load.end()) - load.begin());
}

std::vector<std::string> Dataplane::pod_keys() const {
    std::vector<std::string> keys;
    for (const auto& [k, v] : pods_) keys.push_back(k);
    return keys;
}

std::unique_ptr<Snapshot> Dataplane::build() const {
    auto s = std::make_unique<Snapshot>();
    s->gateway_mac = spec_.gateway_mac;
    s->workers = spec_.workers;
    for (uint32_t i = 0; i < enis_.size(); i++) {
        const EniState& e = *enis_[i];
        s->ports[e.port] = PortEntry{PortRole::kEni, i};
        EniEntry ee;
        ee.port = e.port;
        ee.mac = e.spec.mac;
        ee.ip = e.spec.ip;
        ee.gateway_ip = e.spec.gateway_ip;
        ee.gateway = e.gateway.get();
        s->enis.push_back(ee);
        const uint16_t owner = rings_.at(e.port).owner;
        for (uint16_t q = 0; q < e.spec.queues; q++)
            s->rx[(owner + q) % spec_.workers].push_back(RxQueue{e.port, q});
    }
    std::vector<std::pair<uint32_t, uint32_t>> by_ip;
    for (const auto& [key, p] : pods_) {
        const auto idx = static_cast<uint32_t>(s->pods.size());
        PodEntry pe;
        pe.ip = p.spec.ip;
        pe.mac = p.spec.mac;
        pe.port = p.port;
        pe.link_up = p.link_up;
        pe.policy_id = p.policy_id;
        for (uint32_t i = 0; i < enis_.size(); i++)
            if (enis_[i]->spec.name == p.spec.eni) {
                pe.eni = i;
                s->enis[i].pod = idx;
            }
        s->pods.push_back(pe);
        s->ports[p.port] = PortEntry{PortRole::kPod, idx};
        s->rx[p.owner].push_back(RxQueue{p.port, 0});
        by_ip.emplace_back(p.spec.ip, idx);
    }
    s->pod_by_ip.build(by_ip);
    for (const auto& [port, r] : rings_) {
        const bool direct = r.tx_queues >= spec_.workers;
        for (uint16_t w = 0; w < spec_.workers; w++) {
            if (direct) s->tx[port][w] = TxTarget{w, nullptr};
            else if (w == r.owner) s->tx[port][w] = TxTarget{0, nullptr};
            else s->tx[port][w] = TxTarget{0, r.handoff};
        }
        s->handoff_in[r.owner].push_back(Handoff{r.handoff, port});
    }
    s->lb = lb::LbTables{services_.get(), ct_.get(), affinity_.get(), lb_state_.get()};
    s->lb_table_owner = services_;
    if (policy_pub_ != nullptr && policy_pub_->snapshot != nullptr) {
        s->policy = PolicyTables{policy_pub_->snapshot.get(), PolicyTables::stamp(policy_pub_->snapshot->generation()),
                                 policy_pub_->counters.data()};
        s->policy_owner = policy_pub_;
    }
    return s;
}

void Dataplane::publish() {
    std::unique_ptr<Snapshot> next = build();
    next->generation = ++generation_;
    const Snapshot* old = slot_.current.exchange(next.release(), std::memory_order_acq_rel);
    if (old == nullptr) return;
    // Every worker that could still hold `old` reports quiescence (or is offline) first.
    rte_rcu_qsbr_synchronize(slot_.qsbr, RTE_QSBR_THRID_INVALID);
    delete old;
}

Status Dataplane::start_workers() {
    if (workers_running_) return {};
    for (size_t i = 0; i < workers_.size(); i++) {
        const int rc = rte_eal_remote_launch(worker_main, workers_[i].get(), worker_lcores_[i]);
        if (rc != 0) {
            stop_workers();
            return Status::error("cannot launch worker " + std::to_string(i) + " on lcore " +
                                 std::to_string(worker_lcores_[i]) + ": " + errno_text(rc));
        }
    }
    workers_running_ = true;
    // Registered with RCU before we return, so later grace periods wait for them.
    for (auto& w : workers_)
        while (!w->running()) rte_pause();
    return {};
}

void Dataplane::stop_workers() {
    if (!workers_running_) return;
    for (auto& w : workers_) w->request_stop();
    for (size_t i = 0; i < workers_.size(); i++) rte_eal_wait_lcore(worker_lcores_[i]);
    workers_running_ = false;
}

void Dataplane::send_arp_request(EniState& e) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) return;
    auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN));
    std::memset(data, 0, RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN);
    write_arp_request(data, e.spec.mac, e.spec.ip, e.spec.gateway_ip);
    if (rte_ring_mp_enqueue(rings_.at(e.port).handoff, m) != 0) rte_pktmbuf_free(m);
}

void Dataplane::set_services(std::shared_ptr<const lb::ServiceTable> table,
                             const std::vector<std::pair<uint32_t, lb::BackendStatus>>& statuses,
                             const std::vector<uint32_t>& retired) {
    for (const auto& [id, st] : statuses)
        if (id < lb_state_->backend_capacity)
            lb_state_->backends[id].status.store(static_cast<uint8_t>(st), std::memory_order_relaxed);
    for (uint32_t id : retired)
        if (id < lb_state_->backend_capacity)
            lb_state_->backends[id].status.store(static_cast<uint8_t>(lb::BackendStatus::kRemoved),
                                                 std::memory_order_relaxed);
    affinity_timeouts_.clear();
    for (const lb::ServicePort& sp : table->ports) {
        if (sp.id >= affinity_timeouts_.size()) affinity_timeouts_.resize(sp.id + 1, 0);
        affinity_timeouts_[sp.id] = sp.affinity_timeout_s;
    }
    // Ids that get a new owner in this table start counting from here.
    port_base_.resize(lb_state_->port_capacity);
    backend_base_.resize(lb_state_->backend_capacity);
    for (const lb::ServicePort& sp : table->ports) {
        if (sp.id >= lb_state_->port_capacity) continue;
        const std::string& name = table->names[sp.name];
        PortBaseline& b = port_base_[sp.id];
        if (b.owner != name) {
            b.owner = name;
            b.new_flows = lb_state_->ports[sp.id].new_flows.load(std::memory_order_relaxed);
            b.rejected = lb_state_->ports[sp.id].rejected.load(std::memory_order_relaxed);
        }
    }
    for (const lb::Backend& be : table->backends) {
        if (be.id >= lb_state_->backend_capacity) continue;
        const uint64_t owner = ((uint64_t{be.ip} << 16) | be.port) + 1;
        BackendBaseline& b = backend_base_[be.id];
        if (b.owner != owner) {
            b.owner = owner;
            b.flows = lb_state_->backends[be.id].flows.load(std::memory_order_relaxed);
        }
    }
    services_ = std::move(table);
    publish();  // the old table goes with the old snapshot, after a grace period
    if (!retired.empty()) {
        const lb::LbState& st = *lb_state_;
        ct_->purge([&st](uint32_t id) {
            return id < st.backend_capacity &&
                   st.backends[id].status.load(std::memory_order_relaxed) ==
                       static_cast<uint8_t>(lb::BackendStatus::kRemoved);
        });
    }
}

void Dataplane::set_policy(std::shared_ptr<const acl::PolicySnapshot> snap) {
    // Records logged under the outgoing snapshot are named with it.
    for (auto& w : workers_) policy_rt_.drain(w->policy_worker(), policy_pub_.get());
    std::shared_ptr<PolicyPublication> old = std::move(policy_pub_);
    policy_pub_ = snap != nullptr ? policy_rt_.publication(std::move(snap), spec_.workers) : nullptr;
    publish();  // after the grace period no worker counts into `old` any more
    for (auto& w : workers_) policy_rt_.drain(w->policy_worker(), old.get());
    policy_rt_.retired(old, policy());
}

std::vector<std::pair<std::string, uint32_t>> Dataplane::policy_pods() const {
    std::vector<std::pair<std::string, uint32_t>> out;
    for (const auto& [key, p] : pods_) out.emplace_back(key, p.policy_id);
    return out;
}

std::map<std::string, uint32_t> Dataplane::pod_ips() const {
    std::map<std::string, uint32_t> out;
    for (const auto& [key, p] : pods_) out.emplace(key, p.spec.ip);
    return out;
}

std::map<std::string, uint16_t> Dataplane::pod_eni_ports() const {
    std::map<std::string, uint16_t> out;
    for (const auto& [key, p] : pods_)
        for (const auto& e : enis_)
            if (e->spec.name == p.spec.eni) out.emplace(key, e->port);
    return out;
}

std::vector<Dataplane::EniInfo> Dataplane::eni_inventory() const {
    std::vector<EniInfo> out;
    for (const auto& e : enis_) {
        EniInfo i;
        i.name = e->spec.name;
        i.device = e->spec.device;
        i.tap = e->tap;
        i.port = e->port;
        i.queues = e->spec.queues;
        i.mtu = e->spec.mtu;
        i.mac = e->spec.mac;
        i.ip = e->spec.ip;
        i.gateway_ip = e->spec.gateway_ip;
        rte_ether_addr learned;
        if (e->spec.gateway_mac) i.gateway_mac = e->spec.gateway_mac;
        else if (e->gateway && e->gateway->get(learned)) i.gateway_mac = learned;
        i.link_up = e->link_up;
        for (const auto& [key, p] : pods_)
            if (p.spec.eni == e->spec.name) i.pods.push_back(key);
        out.push_back(std::move(i));
    }
    return out;
}

std::vector<Dataplane::PodPortInfo> Dataplane::pod_inventory() const {
    std::vector<PodPortInfo> out;
    for (const auto& [key, p] : pods_) {
        PodPortInfo i;
        i.key = key;
        i.eni = p.spec.eni;
        i.devname = p.devname;
        i.socket = p.spec.socket;
        i.tap = p.tap;
        i.kind = p.spec.kind;
        i.vhost_client = p.spec.vhost_client;
        i.port = p.port;
        i.worker = p.owner;
        i.ip = p.spec.ip;
        i.mac = p.spec.mac;
        i.link_up = p.link_up;
        out.push_back(std::move(i));
    }
    return out;
}

void Dataplane::set_verdict_sampling(uint32_t allow_one_in, uint32_t denies_per_second) {
    for (auto& w : workers_) {
        w->policy_worker().allow_sample = allow_one_in;
        w->policy_worker().deny_per_second = denies_per_second;
    }
}

std::vector<ServicePortCounters> Dataplane::service_counters() const {
    std::vector<ServicePortCounters> out;
    const lb::ServiceTable& t = *services_;
    const lb::LbState& st = *lb_state_;
    for (const lb::ServicePort& sp : t.ports) {
        if (sp.id >= st.port_capacity) continue;
        ServicePortCounters c;
        c.service = t.names[sp.name];
        const PortBaseline pb = sp.id < port_base_.size() ? port_base_[sp.id] : PortBaseline{};
        c.new_flows = st.ports[sp.id].new_flows.load(std::memory_order_relaxed) - pb.new_flows;
        c.rejected = st.ports[sp.id].rejected.load(std::memory_order_relaxed) - pb.rejected;
        std::vector<uint32_t> seen;
        for (const lb::BackendSet* set : {&sp.internal, &sp.external, &sp.cluster}) {
            for (uint32_t i = set->first; i < set->first + set->count; i++) {
                const lb::Backend& be = t.backends[i];
                if (be.id >= st.backend_capacity || std::find(seen.begin(), seen.end(), be.id) != seen.end()) continue;
                seen.push_back(be.id);
                ServicePortCounters::Backend b;
                b.endpoint = format_endpoint(be.ip, be.port);
                b.flows = st.backends[be.id].flows.load(std::memory_order_relaxed) -
                          (be.id < backend_base_.size() ? backend_base_[be.id].flows : 0);
                b.active = st.backends[be.id].active.load(std::memory_order_relaxed);
                c.active_flows += b.active;
                c.backends.push_back(std::move(b));
            }
        }
        out.push_back(std::move(c));
    }
    return out;
}

void Dataplane::tick() {
    const uint64_t now_ms = lb::clock_ms();
    for (auto& w : workers_) policy_rt_.drain(w->policy_worker(), policy_pub_.get());
    const lb::LbState& lst = *lb_state_;
    ct_->gc_step(now_ms, lb::GcBudget{}, [&lst](uint32_t id) {
        return id < lst.backend_capacity && lst.backends[id].status.load(std::memory_order_relaxed) ==
                                                static_cast<uint8_t>(lb::BackendStatus::kRemoved);
    });
    if (now_ms - last_affinity_gc_ms_ >= 1000) {
        last_affinity_gc_ms_ = now_ms;
        affinity_->gc(static_cast<uint32_t>(now_ms / 1000), [this](uint32_t sp) {
            return sp < affinity_timeouts_.size() ? affinity_timeouts_[sp] : 0u;
        });
    }

    bool changed = false;
    for (auto& [key, p] : pods_) {
        const bool up = link_up(p.port, p.tap);
        if (up != p.link_up) {
            DP_LOG(INFO, "pod %s: port %u link %s", key.c_str(), p.port, up ? "up" : "down");
            p.link_up = up;
            changed = true;
        }
    }
    const uint64_t now = rte_rdtsc();
    for (auto& e : enis_) {
        e->link_up = link_up(e->port, e->tap);
        if (!e->gateway->valid() && workers_running_ && now - e->last_arp_tsc > rte_get_tsc_hz()) {
            e->last_arp_tsc = now;
            send_arp_request(*e);
        }
    }
    if (changed) publish();
}

DataplaneCounters Dataplane::counters() const {
    DataplaneCounters c;
    c.generation = generation_;
    c.lb.service_ports = static_cast<uint32_t>(services_->ports.size());
    c.lb.frontends = static_cast<uint32_t>(services_->frontends.size());
    c.lb.backends = static_cast<uint32_t>(services_->backends.size());
    c.lb.table_generation = services_->generation;
    c.lb.conntrack = ct_->counters();
    c.lb.affinity_entries = affinity_->size();
    std::vector<PolicyWorker*> pws;
    for (const auto& w : workers_) pws.push_back(&w->policy_worker());
    c.policy = policy_rt_.status(policy_pub_.get(), pws);
    for (const auto& w : workers_) {
        const WorkerStats& st = w->stats();
        for (size_t i = 0; i < kDropCount; i++) c.drops[i] += st.drops[i].get();
        for (size_t i = 0; i < kEventCount; i++) c.events[i] += st.events[i].get();
        c.workers.push_back(WorkerCounters{w->id(), worker_lcores_[w->id()], st.loops.get(), st.busy_loops.get(),
                                           st.busy_cycles.get()});
        const LoopGaps& gaps = w->loop_gaps();
        c.workers.back().max_loop_gap_ns = static_cast<uint64_t>(
            static_cast<double>(gaps.max_cycles.load(std::memory_order_relaxed)) * 1e9 / static_cast<double>(rte_get_tsc_hz()));
        c.workers.back().loop_gaps_over_100us = gaps.over_100us.load(std::memory_order_relaxed);
        c.workers.back().loop_gaps_over_1ms = gaps.over_1ms.load(std::memory_order_relaxed);
    }
    auto port_counters = [&](uint16_t port, const char* role, const std::string& owner, uint16_t queues, bool up) {
        PortCounters pc;
        pc.port = port;
        pc.role = role;
        pc.owner = owner;
        pc.link_up = up;
        char name[RTE_ETH_NAME_MAX_LEN] = {};
        rte_eth_dev_get_name_by_port(port, name);
        pc.device = name;
        rte_eth_stats es{};
        if (rte_eth_stats_get(port, &es) == 0) {
            pc.rx_packets = es.ipackets;
            pc.tx_packets = es.opackets;
            pc.rx_bytes = es.ibytes;
            pc.tx_bytes = es.obytes;
            pc.rx_missed = es.imissed;
            pc.rx_errors = es.ierrors;
            pc.tx_errors = es.oerrors;
            pc.rx_nombuf = es.rx_nombuf;
        }
        pc.rx_queue_packets.assign(queues, 0);
        for (const auto& w : workers_) {
            for (uint16_t q = 0; q < queues && q < kMaxQueuesPerPort; q++) pc.rx_queue_packets[q] += w->stats().rx[port][q].get();
            pc.worker_tx_packets += w->stats().tx[port].get();
        }
        c.ports.push_back(std::move(pc));
    };
    for (const auto& e : enis_) {
        port_counters(e->port, "eni", e->spec.name, e->spec.queues, e->link_up);
        DataplaneCounters::Eni ec{e->spec.name, e->port, false, {}};
        ec.gateway_known = e->gateway->get(ec.gateway_mac);
        c.enis.push_back(ec);
    }
    for (const auto& [key, p] : pods_) {
        port_counters(p.port, "pod", key, 1, p.link_up);
        c.pods.push_back(DataplaneCounters::Pod{key, to_string(p.spec.kind), p.port, p.link_up});
    }
    c.mempool_size = pool_->size;
    c.mempool_available = rte_mempool_avail_count(pool_);
    c.mempool_in_use = rte_mempool_in_use_count(pool_);
    return c;
}

void Dataplane::reset_counters() {
    for (auto& w : workers_) w->stats().reset();
    for (const auto& e : enis_) rte_eth_stats_reset(e->port);
    for (const auto& [k, p] : pods_) rte_eth_stats_reset(p.port);
}

}  // namespace enidp::dp

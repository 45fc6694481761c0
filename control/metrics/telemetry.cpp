#include "control/metrics/telemetry.hpp"

#include <cctype>
#include <cstdlib>
#include <string>

#include <rte_telemetry.h>

namespace enidp::metrics {

namespace {

struct Shared {
    std::mutex mu;
    dp::DataplaneCounters c;
    std::string node;
    bool valid = false;
};

Shared& shared() {
    static Shared s;
    return s;
}

// Telemetry dict keys are at most RTE_TEL_MAX_STRING_LEN-1 characters and a restricted set
// of characters; pod keys use '/', which is allowed.
// Telemetry rejects dict keys with characters other than letters, digits, '_' and '/' (newer
// DPDK checks; 22.11 builds may too): anything else becomes '_' ("demo/pod-c" → "demo/pod_c").
std::string key(const std::string& k) {
    std::string out = k;
    for (char& c : out)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '/') c = '_';
    return out;
}
void u64(rte_tel_data* d, const std::string& k, uint64_t v) { rte_tel_data_add_dict_u64(d, key(k).c_str(), v); }

template <class Fn>
int answer(rte_tel_data* d, Fn&& fn) {
    rte_tel_data_start_dict(d);
    Shared& s = shared();
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.valid) {
        rte_tel_data_add_dict_string(d, "status", "starting");
        return 0;
    }
    fn(s);
    return 0;
}

int info(const char*, const char*, rte_tel_data* d) {
    return answer(d, [&](Shared& s) {
        rte_tel_data_add_dict_string(d, "node", s.node.c_str());
        u64(d, "generation", s.c.generation);
        u64(d, "workers", s.c.workers.size());
        u64(d, "pods", s.c.pods.size());
        u64(d, "enis", s.c.enis.size());
        u64(d, "mempool_size", s.c.mempool_size);
        u64(d, "mempool_in_use", s.c.mempool_in_use);
        u64(d, "drops_total", s.c.drops_total());
    });
}

int drops(const char*, const char*, rte_tel_data* d) {
    return answer(d, [&](Shared& s) {
        for (size_t i = 0; i < dp::kDropCount; i++) u64(d, dp::kDropNames[i], s.c.drops[i]);
    });
}

int events(const char*, const char*, rte_tel_data* d) {
    return answer(d, [&](Shared& s) {
        for (size_t i = 0; i < dp::kEventCount; i++) u64(d, dp::kEventNames[i], s.c.events[i]);
    });
}

int ports(const char*, const char* params, rte_tel_data* d) {
    if (params == nullptr || *params == '\0') {
        rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
        Shared& s = shared();
        std::lock_guard<std::mutex> lock(s.mu);
        for (const auto& p : s.c.ports) rte_tel_data_add_array_int(d, p.port);
        return 0;
    }
    char* end = nullptr;
    const long id = std::strtol(params, &end, 10);
    if (end == params || *end != '\0' || id < 0) return -1;
    return answer(d, [&](Shared& s) {
        for (const auto& p : s.c.ports) {
            if (p.port != id) continue;
            rte_tel_data_add_dict_string(d, "device", p.device.c_str());
            rte_tel_data_add_dict_string(d, "role", p.role.c_str());
            rte_tel_data_add_dict_string(d, "owner", p.owner.c_str());
            u64(d, "link_up", p.link_up ? 1 : 0);
            u64(d, "rx_packets", p.rx_packets);
            u64(d, "tx_packets", p.tx_packets);
            u64(d, "rx_bytes", p.rx_bytes);
            u64(d, "tx_bytes", p.tx_bytes);
            u64(d, "rx_missed", p.rx_missed);
            u64(d, "rx_errors", p.rx_errors);
            u64(d, "tx_errors", p.tx_errors);
            u64(d, "worker_tx_packets", p.worker_tx_packets);
        }
    });
}

int services(const char*, const char*, rte_tel_data* d) {
    return answer(d, [&](Shared& s) {
        u64(d, "service_ports", s.c.lb.service_ports);
        u64(d, "frontends", s.c.lb.frontends);
        u64(d, "backends", s.c.lb.backends);
        u64(d, "table_generation", s.c.lb.table_generation);
        u64(d, "affinity_entries", s.c.lb.affinity_entries);
    });
}

int conntrack(const char*, const char*, rte_tel_data* d) {
    return answer(d, [&](Shared& s) {
        const lb::CtCounters& ct = s.c.lb.conntrack;
        u64(d, "flows", ct.flows);
        u64(d, "capacity", ct.capacity);
        u64(d, "inserted", ct.inserted);
        u64(d, "insert_failed", ct.insert_failed);
        u64(d, "expired", ct.expired);
        u64(d, "evicted", ct.evicted);
        u64(d, "purged", ct.purged);
        u64(d, "replaced", ct.replaced);
        u64(d, "port_rewrites", ct.port_rewrites);
        u64(d, "gc_passes", ct.gc_passes);
    });
}

int policy(const char*, const char*, rte_tel_data* d) {
    return answer(d, [&](Shared& s) {
        const dp::PolicyStatus& p = s.c.policy;
        u64(d, "active", p.active ? 1 : 0);
        u64(d, "generation", p.generation);
        u64(d, "rules_ingress", p.rules_ingress);
        u64(d, "rules_egress", p.rules_egress);
        u64(d, "payload_patterns", p.patterns);
        u64(d, "verdict_log_records", p.log_records);
        u64(d, "verdict_log_lost", p.log_lost);
        for (const auto& [pod, ad] : p.by_pod) {
            u64(d, pod + "/allowed", ad.first);
            u64(d, pod + "/denied", ad.second);
        }
    });
}

int workers(const char*, const char*, rte_tel_data* d) {
    return answer(d, [&](Shared& s) {
        for (const auto& w : s.c.workers) {
            const std::string k = "worker" + std::to_string(w.id) + "/";
            u64(d, k + "lcore", w.lcore);
            u64(d, k + "loops", w.loops);
            u64(d, k + "busy_loops", w.busy_loops);
            u64(d, k + "busy_cycles", w.busy_cycles);
            u64(d, k + "max_loop_gap_ns", w.max_loop_gap_ns);
        }
    });
}

}  // namespace

bool Telemetry::register_commands(std::string& error) {
    struct Cmd {
        const char* name;
        telemetry_cb fn;
        const char* help;
    };
    const Cmd cmds[] = {
        {"/enidp/info", info, "enidp node summary. No parameters"},
        {"/enidp/drops", drops, "enidp drops by reason. No parameters"},
        {"/enidp/events", events, "enidp event counters. No parameters"},
        {"/enidp/ports", ports, "enidp port ids, or one port's counters. Parameters: [int port_id]"},
        {"/enidp/services", services, "enidp Service table. No parameters"},
        {"/enidp/conntrack", conntrack, "enidp conntrack counters. No parameters"},
        {"/enidp/policy", policy, "enidp NetworkPolicy state and per-pod verdicts. No parameters"},
        {"/enidp/workers", workers, "enidp workers: loops, busy cycles, longest loop gap. No parameters"},
    };
    for (const Cmd& c : cmds) {
        if (rte_telemetry_register_cmd(c.name, c.fn, c.help) != 0) {
            error = std::string("cannot register telemetry command ") + c.name;
            return false;
        }
    }
    return true;
}

void Telemetry::update(const dp::DataplaneCounters& c, const std::string& node) {
    Shared& s = shared();
    std::lock_guard<std::mutex> lock(s.mu);
    s.c = c;
    s.node = node;
    s.valid = true;
}

}  // namespace enidp::metrics

#include "control/report/report.hpp"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace enidp::report {

using nlohmann::json;

std::string mac_string(const rte_ether_addr& mac) {
    char buf[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(buf, sizeof buf, &mac);
    for (char* p = buf; *p; p++) *p = static_cast<char>(std::tolower(*p));
    return buf;
}

static json policy_json(const dp::PolicyStatus& p) {
    json by_pod = json::object();
    for (const auto& [pod, ad] : p.by_pod) by_pod[pod] = {{"allowed", ad.first}, {"denied", ad.second}};
    return {{"active", p.active},
            {"generation", p.generation},
            {"rules_ingress", p.rules_ingress},
            {"rules_egress", p.rules_egress},
            {"payload_patterns", p.patterns},
            {"allowed_by_policy", p.allowed_by_policy},
            {"denied_by_payload_policy", p.denied_by_payload_policy},
            {"by_pod", by_pod},
            {"verdict_log", {{"records", p.log_records}, {"lost", p.log_lost}}}};
}

json to_json(const dp::DataplaneCounters& c) {
    json j;
    j["generation"] = c.generation;
    j["ports"] = json::array();
    for (const auto& p : c.ports) {
        j["ports"].push_back({{"port", p.port},
                              {"device", p.device},
                              {"role", p.role},
                              {"owner", p.owner},
                              {"link_up", p.link_up},
                              {"rx_packets", p.rx_packets},
                              {"tx_packets", p.tx_packets},
                              {"rx_bytes", p.rx_bytes},
                              {"tx_bytes", p.tx_bytes},
                              {"rx_missed", p.rx_missed},
                              {"rx_errors", p.rx_errors},
                              {"tx_errors", p.tx_errors},
                              {"rx_nombuf", p.rx_nombuf},
                              {"rx_queue_packets", p.rx_queue_packets},
                              {"worker_tx_packets", p.worker_tx_packets}});
    }
    json drops = json::object();
    for (size_t i = 0; i < dp::kDropCount; i++) drops[dp::kDropNames[i]] = c.drops[i];
    j["drops"] = drops;
    j["drops_total"] = c.drops_total();
    json events = json::object();
    for (size_t i = 0; i < dp::kEventCount; i++) events[dp::kEventNames[i]] = c.events[i];
    j["events"] = events;
    j["mempool"] = {{"size", c.mempool_size}, {"in_use", c.mempool_in_use}, {"available", c.mempool_available}};
    const auto& ct = c.lb.conntrack;
    j["lb"] = {{"service_ports", c.lb.service_ports},
               {"frontends", c.lb.frontends},
               {"backends", c.lb.backends},
               {"table_generation", c.lb.table_generation},
               {"affinity_entries", c.lb.affinity_entries},
               {"conntrack",
                {{"flows", ct.flows},
                 {"capacity", ct.capacity},
                 {"inserted", ct.inserted},
                 {"insert_failed", ct.insert_failed},
                 {"expired", ct.expired},
                 {"evicted", ct.evicted},
                 {"purged", ct.purged},
                 {"replaced", ct.replaced},
                 {"port_rewrites", ct.port_rewrites},
                 {"gc_passes", ct.gc_passes}}}};
    j["policy"] = policy_json(c.policy);
    j["workers"] = json::array();
    for (const auto& w : c.workers)
        j["workers"].push_back({{"id", w.id},
                                {"lcore", w.lcore},
                                {"loops", w.loops},
                                {"busy_loops", w.busy_loops},
                                {"busy_cycles", w.busy_cycles},
                                {"max_loop_gap_us", static_cast<double>(w.max_loop_gap_ns) / 1e3},
                                {"loop_gaps_over_100us", w.loop_gaps_over_100us},
                                {"loop_gaps_over_1ms", w.loop_gaps_over_1ms}});
    j["enis"] = json::array();
    for (const auto& e : c.enis)
        j["enis"].push_back({{"name", e.name},
                             {"port", e.port},
                             {"gateway_mac", e.gateway_known ? json(mac_string(e.gateway_mac)) : json(nullptr)}});
    j["pods"] = json::array();
    for (const auto& p : c.pods)
        j["pods"].push_back({{"key", p.key}, {"kind", p.kind}, {"port", p.port}, {"link_up", p.link_up}});
    return j;
}

std::string to_text(const dp::DataplaneCounters& c) {
    std::string out;
    char line[256];
    std::snprintf(line, sizeof line, "  %-4s %-4s %-28s %-5s %14s %14s %10s %10s\n", "port", "role", "owner", "link",
                  "rx-packets", "tx-packets", "rx-missed", "tx-errors");
    out += line;
    for (const auto& p : c.ports) {
        std::snprintf(line, sizeof line, "  %-4u %-4s %-28s %-5s %14" PRIu64 " %14" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n",
                      p.port, p.role.c_str(), p.owner.c_str(), p.link_up ? "up" : "down", p.rx_packets, p.tx_packets,
                      p.rx_missed, p.tx_errors);
        out += line;
    }
    out += "  drops:";
    bool any = false;
    for (size_t i = 0; i < dp::kDropCount; i++)
        if (c.drops[i] != 0) {
            std::snprintf(line, sizeof line, " %s=%" PRIu64, dp::kDropNames[i], c.drops[i]);
            out += line;
            any = true;
        }
    out += any ? "\n" : " none\n";
    out += "  events:";
    for (size_t i = 0; i < dp::kEventCount; i++)
        if (c.events[i] != 0) {
            std::snprintf(line, sizeof line, " %s=%" PRIu64, dp::kEventNames[i], c.events[i]);
            out += line;
        }
    std::snprintf(line, sizeof line, "\n  mempool: %u in use of %u\n", c.mempool_in_use, c.mempool_size);
    out += line;
    if (c.lb.frontends != 0 || c.lb.conntrack.flows != 0) {
        const auto& ct = c.lb.conntrack;
        std::snprintf(line, sizeof line,
                      "  services: %u ports, %u frontends, %u backends; conntrack %" PRIu64 "/%" PRIu64
                      " flows (inserted %" PRIu64 ", failed %" PRIu64 ", expired %" PRIu64 ", evicted %" PRIu64
                      ", purged %" PRIu64 ")\n",
                      c.lb.service_ports, c.lb.frontends, c.lb.backends, ct.flows, ct.capacity, ct.inserted,
                      ct.insert_failed, ct.expired, ct.evicted, ct.purged);
        out += line;
    }
    if (c.policy.active) {
        std::snprintf(line, sizeof line,
                      "  policy: snapshot %" PRIu64 ", %zu/%zu ingress/egress rules, %zu payload patterns\n",
                      c.policy.generation, c.policy.rules_ingress, c.policy.rules_egress, c.policy.patterns);
        out += line;
        for (const auto& [pod, ad] : c.policy.by_pod) {
            std::snprintf(line, sizeof line, "    pod %s: %" PRIu64 " flows allowed, %" PRIu64 " denied\n", pod.c_str(),
                          ad.first, ad.second);
            out += line;
        }
    }
    return out;
}

std::string write_file_atomic(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        if (!f) return "cannot write " + tmp + ": " + std::strerror(errno);
        f << text;
        if (!f.flush()) return "cannot write " + tmp + ": " + std::strerror(errno);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) return "cannot rename " + tmp + ": " + std::strerror(errno);
    return {};
}

}  // namespace enidp::report

#include "perf/scenario.hpp"

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <rte_byteorder.h>
#include <yaml-cpp/yaml.h>

#include "control/config/config.hpp"
#include "dataplane/fastpath/worker.hpp"

namespace enidp::perf {

namespace {

struct Bad {
    std::string message;
};

class Reader {
public:
    explicit Reader(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const YAML::Node& n, const std::string& what) const {
        const int line = n.Mark().line;  // -1 for a node with no position (an empty file)
        throw Bad{source_ + (line >= 0 ? ":" + std::to_string(line + 1) : std::string()) + ": " + what};
    }
    void only_keys(const YAML::Node& n, const std::string& where, std::initializer_list<const char*> keys) const {
        if (!n.IsMap()) fail(n, where + " must be a mapping");
        for (const auto& kv : n) {
            const auto k = kv.first.as<std::string>();
            bool known = false;
            for (const char* x : keys) known = known || k == x;
            if (!known) fail(kv.first, "unknown key \"" + k + "\" in " + where);
        }
    }
    template <typename T>
    T integer(const YAML::Node& n, const std::string& what, long long lo, long long hi) const {
        long long v;
        try {
            v = n.as<long long>();
        } catch (const YAML::Exception&) {
            fail(n, what + ": \"" + n.Scalar() + "\" is not an integer");
        }
        if (v < lo || v > hi) fail(n, what + ": " + std::to_string(v) + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
        return static_cast<T>(v);
    }
    rte_ether_addr mac(const YAML::Node& n, const std::string& what) const {
        auto m = config::parse_mac(n.Scalar());
        if (!m) fail(n, what + ": \"" + n.Scalar() + "\" is not a MAC address (expected xx:xx:xx:xx:xx:xx)");
        rte_ether_addr a;
        std::memcpy(a.addr_bytes, m->bytes.data(), RTE_ETHER_ADDR_LEN);
        return a;
    }
    uint32_t ipv4(const YAML::Node& n, const std::string& what) const {
        auto ip = config::parse_ipv4(n.Scalar());
        if (!ip) fail(n, what + ": \"" + n.Scalar() + "\" is not an IPv4 address");
        return rte_cpu_to_be_32(ip->value);
    }
    const YAML::Node required(const YAML::Node& map, const char* key, const std::string& where) const {
        const YAML::Node n = map[key];
        if (!n) fail(map, where + ": missing required key \"" + key + "\"");
        return n;
    }

private:
    std::string source_;
};

Scenario parse(const YAML::Node& root, const std::string& source) {
    Reader r(source);
    Scenario s;
    s.source = source;
    s.runtime.idle_enabled = false;  // perf runs spin
    r.only_keys(root, "scenario", {"workers", "burst", "rx_desc", "tx_desc", "mbufs", "gateway_mac", "enis", "pods"});
    if (root["workers"]) s.runtime.workers = r.integer<uint16_t>(root["workers"], "workers", 1, dp::kMaxWorkers);
    if (root["burst"]) s.runtime.burst = r.integer<uint16_t>(root["burst"], "burst", 1, dp::kMaxBurst);
    if (root["rx_desc"]) s.runtime.rx_desc = r.integer<uint16_t>(root["rx_desc"], "rx_desc", 64, 4096);
    if (root["tx_desc"]) s.runtime.tx_desc = r.integer<uint16_t>(root["tx_desc"], "tx_desc", 64, 4096);
    if (root["mbufs"]) s.runtime.mbufs = r.integer<uint32_t>(root["mbufs"], "mbufs", 1024, 4u << 20);
    s.runtime.gateway_mac = root["gateway_mac"] ? r.mac(root["gateway_mac"], "gateway_mac")
                                                : rte_ether_addr{{0x02, 0, 0, 0, 0, 0x01}};
    std::set<uint16_t> ports;
    auto take_port = [&](const YAML::Node& n, const std::string& what) {
        const auto p = r.integer<uint16_t>(n, what, 0, RTE_MAX_ETHPORTS - 1);
        if (!ports.insert(p).second) r.fail(n, what + ": port " + std::to_string(p) + " is used twice");
        return p;
    };
    const YAML::Node enis = r.required(root, "enis", "scenario");
    if (!enis.IsSequence() || enis.size() == 0) r.fail(enis, "enis: expected a non-empty list");
    for (size_t i = 0; i < enis.size(); i++) {
        const YAML::Node e = enis[i];
        const std::string w = "enis[" + std::to_string(i) + "]";
        r.only_keys(e, w, {"name", "port", "mac", "ip", "gateway", "gateway_mac", "queues"});
        dp::EniSpec es;
        es.name = r.required(e, "name", w).Scalar();
        es.existing_port = take_port(r.required(e, "port", w), w + ".port");
        es.mac = r.mac(r.required(e, "mac", w), w + ".mac");
        es.ip = r.ipv4(r.required(e, "ip", w), w + ".ip");
        es.gateway_ip = r.ipv4(r.required(e, "gateway", w), w + ".gateway");
        if (e["gateway_mac"]) es.gateway_mac = r.mac(e["gateway_mac"], w + ".gateway_mac");
        if (e["queues"]) es.queues = r.integer<uint16_t>(e["queues"], w + ".queues", 1, dp::kMaxQueuesPerPort);
        es.mtu = 0;  // leave the PMD's MTU alone
        s.enis.push_back(es);
    }
    if (const YAML::Node pods = root["pods"]) {
        if (!pods.IsSequence()) r.fail(pods, "pods: expected a list");
        for (size_t i = 0; i < pods.size(); i++) {
            const YAML::Node p = pods[i];
            const std::string w = "pods[" + std::to_string(i) + "]";
            r.only_keys(p, w, {"name", "port", "eni", "ip", "mac"});
            dp::PodSpec ps;
            ps.key = r.required(p, "name", w).Scalar();
            ps.kind = dp::PodPort::kExisting;
            ps.existing_port = take_port(r.required(p, "port", w), w + ".port");
            ps.eni = r.required(p, "eni", w).Scalar();
            bool found = false;
            for (const auto& e : s.enis) {
                if (e.name == ps.eni) {
                    found = true;
                    ps.ip = e.ip;
                }
            }
            if (!found) r.fail(p["eni"], w + ".eni: no ENI named \"" + ps.eni + "\"");
            if (p["ip"]) ps.ip = r.ipv4(p["ip"], w + ".ip");
            ps.mac = r.mac(r.required(p, "mac", w), w + ".mac");
            s.pods.push_back(ps);
        }
    }
    return s;
}

}  // namespace

std::variant<Scenario, ScenarioError> parse_scenario(const std::string& yaml, const std::string& source) {
    try {
        return parse(YAML::Load(yaml), source);
    } catch (const Bad& b) {
        return ScenarioError{b.message};
    } catch (const YAML::Exception& e) {
        return ScenarioError{source + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg};
    }
}

std::variant<Scenario, ScenarioError> load_scenario(const std::string& path) {
    std::ifstream f(path);
    if (!f) return ScenarioError{"cannot read " + path + ": " + std::strerror(errno)};
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_scenario(ss.str(), path);
}

}  // namespace enidp::perf

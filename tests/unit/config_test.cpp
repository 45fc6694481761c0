#include "control/config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace enidp::config {
namespace {

using ::testing::HasSubstr;

Mac mac(const char* s) { return parse_mac(s).value(); }
Ipv4 ip(const char* s) { return parse_ipv4(s).value(); }

Config ok(const ConfigResult& r) {
    if (const auto* err = std::get_if<ConfigError>(&r)) ADD_FAILURE() << err->to_string();
    return std::get<Config>(r);
}

// Every key, none at its default.
constexpr const char* kFull = R"(node_name: node-a
eal:
  lcores: "0-2,3@4"
  no_huge: false
  no_pci: false
  memory_mb: 1024
  file_prefix: enidp_test-1
  log_level: "pmd.net.tap:debug"
  extra_args: ["--vdev", "net_null0"]
workers: 3
burst: 16
rx_desc: 512
tx_desc: 2048
mempool: {mbufs: 8191, cache: 128, data_room: 4096}
idle_backoff: {enabled: false, after_us: 50, sleep_us: 10}
gateway_mac: "02:00:00:00:00:FE"
stats: {interval_ms: 1000, file: /run/enidp/stats.json}
enis:
  - name: eni-a
    device: "net_tap0,iface=eni0"
    mac: "02:00:00:00:0a:0a"
    ip: 10.0.0.10/24
    gateway: 10.0.0.1
    gateway_mac: "06:00:00:00:00:01"
    queues: 2
    mtu: 9000
  - name: eni-b
    device: "00:05.0"
    mac: "02:00:00:00:0b:0b"
    ip: 10.0.1.10/31
    gateway: 10.0.1.11
  - name: eni-c
    device: "0000:00:06.0"
    mac: "02:00:00:00:0c:0c"
    ip: 10.0.2.10/24
    gateway: 10.0.2.1
pods:
  - namespace: default
    name: web-0
    eni: eni-a
    ip: 10.0.0.20
    mac: "02:00:00:00:00:10"
    port:
      kind: vhost-user
      socket: /run/enidp/pods/web-0.sock
      vhost_client: false
  - namespace: kube-system
    name: dns.0
    eni: eni-b
    mac: "02:00:00:00:00:11"
    port: {kind: memif, socket: /run/enidp/pods/dns-0.sock}
  - namespace: default
    name: cache-0
    eni: eni-c
    mac: "02:00:00:00:00:12"
    port: {kind: tap, interface: tap-cache0}
control: {heap_prefault_mb: 1024}
)";

TEST(ConfigLoad, FullConfigRoundTrips) {
    const Config c = ok(load_string(kFull, "full.yaml"));
    EXPECT_EQ(c.source, "full.yaml");
    EXPECT_EQ(c.node_name, "node-a");
    EXPECT_EQ(c.eal.lcores, "0-2,3@4");
    EXPECT_FALSE(c.eal.no_huge);
    EXPECT_FALSE(c.eal.no_pci);
    EXPECT_EQ(c.eal.memory_mb, 1024u);
    EXPECT_EQ(c.eal.file_prefix, "enidp_test-1");
    EXPECT_EQ(c.eal.log_level, "pmd.net.tap:debug");
    EXPECT_EQ(c.eal.extra_args, (std::vector<std::string>{"--vdev", "net_null0"}));
    EXPECT_EQ(c.workers, 3);
    EXPECT_EQ(c.burst, 16);
    EXPECT_EQ(c.rx_desc, 512);
    EXPECT_EQ(c.tx_desc, 2048);
    EXPECT_EQ(c.mempool.mbufs, 8191u);
    EXPECT_EQ(c.mempool.cache, 128u);
    EXPECT_EQ(c.mempool.data_room, 4096);
    EXPECT_FALSE(c.idle.enabled);
    EXPECT_EQ(c.idle.after_us, 50u);
    EXPECT_EQ(c.idle.sleep_us, 10u);
    EXPECT_EQ(c.gateway_mac, mac("02:00:00:00:00:fe"));
    EXPECT_EQ(c.stats_interval_ms, 1000u);
    EXPECT_EQ(c.control_heap_prefault_mb, 1024u);
    EXPECT_EQ(c.stats_file, "/run/enidp/stats.json");

    ASSERT_EQ(c.enis.size(), 3u);
    const Eni& a = c.enis[0];
    EXPECT_EQ(a.name, "eni-a");
    EXPECT_EQ(a.device, "net_tap0,iface=eni0");
    EXPECT_EQ(a.mac, mac("02:00:00:00:0a:0a"));
    EXPECT_EQ(a.ip.addr, ip("10.0.0.10"));
    EXPECT_EQ(a.ip.length, 24);
    EXPECT_EQ(a.gateway_ip, ip("10.0.0.1"));
    EXPECT_EQ(a.gateway_mac, mac("06:00:00:00:00:01"));
    EXPECT_EQ(a.queues, 2);
    EXPECT_EQ(a.mtu, 9000);
    EXPECT_EQ(a.line, 19);
    const Eni& b = c.enis[1];
    EXPECT_EQ(b.device, "00:05.0");
    EXPECT_EQ(b.ip.length, 31);
    EXPECT_EQ(b.gateway_ip, ip("10.0.1.11"));
    EXPECT_FALSE(b.gateway_mac.has_value());
    EXPECT_EQ(b.queues, 1);
    EXPECT_EQ(b.mtu, 1500);
    EXPECT_EQ(b.line, 27);
    EXPECT_EQ(c.enis[2].line, 32);

    ASSERT_EQ(c.pods.size(), 3u);
    const Pod& web = c.pods[0];
    EXPECT_EQ(web.key(), "default/web-0");
    EXPECT_EQ(web.eni, "eni-a");
    EXPECT_EQ(web.ip, ip("10.0.0.20"));
    EXPECT_EQ(web.mac, mac("02:00:00:00:00:10"));
    EXPECT_EQ(web.kind, PodPortKind::kVhostUser);
    EXPECT_EQ(web.socket, "/run/enidp/pods/web-0.sock");
    EXPECT_FALSE(web.vhost_client);
    EXPECT_EQ(web.line, 38);
    const Pod& dns = c.pods[1];
    EXPECT_EQ(dns.key(), "kube-system/dns.0");
    EXPECT_EQ(dns.ip, ip("10.0.1.10")) << "defaults to the ENI's address";
    EXPECT_EQ(dns.kind, PodPortKind::kMemif);
    EXPECT_EQ(dns.socket, "/run/enidp/pods/dns-0.sock");
    EXPECT_EQ(dns.line, 47);
    const Pod& cache = c.pods[2];
    EXPECT_EQ(cache.kind, PodPortKind::kTap);
    EXPECT_EQ(cache.socket, "tap-cache0");
    EXPECT_EQ(cache.line, 52);

    EXPECT_EQ(c.find_eni("eni-b"), &c.enis[1]);
    EXPECT_EQ(c.find_eni("eni-x"), nullptr);
}

TEST(ConfigLoad, MinimalConfigGetsDefaults) {
    const Config c = ok(load_string(R"(node_name: n
enis:
  - {name: e, device: net_tap0, mac: "02:00:00:00:00:02", ip: 192.168.1.2/30, gateway: 192.168.1.1}
)",
                                    "min.yaml"));
    const Config defaults;
    EXPECT_EQ(c.eal.lcores, "0,1");
    EXPECT_TRUE(c.eal.no_huge);
    EXPECT_TRUE(c.eal.no_pci);
    EXPECT_EQ(c.eal.memory_mb, 512u);
    EXPECT_EQ(c.eal.file_prefix, "enidp");
    EXPECT_EQ(c.eal.log_level, "");
    EXPECT_TRUE(c.eal.extra_args.empty());
    EXPECT_EQ(c.workers, 1);
    EXPECT_EQ(c.burst, 32);
    EXPECT_EQ(c.rx_desc, 1024);
    EXPECT_EQ(c.tx_desc, 1024);
    EXPECT_EQ(c.mempool.mbufs, 16383u);
    EXPECT_EQ(c.mempool.cache, 256u);
    EXPECT_EQ(c.mempool.data_room, 2176);
    EXPECT_TRUE(c.idle.enabled);
    EXPECT_EQ(c.idle.after_us, 200u);
    EXPECT_EQ(c.idle.sleep_us, 100u);
    EXPECT_EQ(c.gateway_mac, mac("02:00:00:00:00:01"));
    EXPECT_EQ(c.stats_interval_ms, 0u);
    EXPECT_EQ(c.stats_file, "");
    EXPECT_EQ(c.api_socket, "/run/enidp/enidp.sock");
    EXPECT_EQ(c.control_heap_prefault_mb, 512u);
    EXPECT_TRUE(c.pods.empty());
    ASSERT_EQ(c.enis.size(), 1u);
    EXPECT_EQ(c.enis[0].line, 3);
}

TEST(ConfigLoad, EmptyPodsListIsAllowed) {
    const Config c =
        ok(load_string("node_name: n\nenis: [{name: e, device: net_tap0, mac: \"02:00:00:00:00:02\", ip: 10.1.0.2/16, "
                       "gateway: 10.1.0.1}]\npods:\n",
                       "x.yaml"));
    EXPECT_TRUE(c.pods.empty());
}

TEST(ConfigLoad, ReadsFile) {
    char path[] = "/tmp/enidp_config_test_XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    std::ofstream(path) << kFull;
    const Config c = ok(load_file(path));
    EXPECT_EQ(c.source, path);
    EXPECT_EQ(c.pods.size(), 3u);
    std::ofstream(path) << "node_name: n\nworkerz: 1\n";
    const auto r = load_file(path);
    std::remove(path);
    const auto& err = std::get<ConfigError>(r);
    EXPECT_EQ(err.file, path);
    EXPECT_EQ(err.line, 2);
    EXPECT_EQ(err.to_string(),
              std::string(path) + ":2: unknown key \"workerz\" at top level (did you mean \"workers\"?)");
}

TEST(ConfigLoad, MissingFileIsAnError) {
    const auto r = load_file("/nonexistent/enidp.yaml");
    const auto& err = std::get<ConfigError>(r);
    EXPECT_EQ(err.file, "/nonexistent/enidp.yaml");
    EXPECT_EQ(err.line, 0);
    EXPECT_EQ(err.message, "cannot read /nonexistent/enidp.yaml: No such file or directory");
    EXPECT_EQ(err.to_string(), "/nonexistent/enidp.yaml: " + err.message);
}

TEST(ConfigLoad, DirectoryIsAnError) {
    const auto r = load_file("/tmp");
    const auto& err = std::get<ConfigError>(r);
    EXPECT_THAT(err.message, HasSubstr("cannot read /tmp: Is a directory"));
}

TEST(ConfigLoad, GarbageNeverThrows) {
    for (const char* text : {"{{{{", "]", "\x01\x02\xff", "node_name: [", "*x", "!!binary 3", "? [a]: b\n", "- - -"}) {
        ConfigResult r;
        EXPECT_NO_THROW(r = load_string(text, "g.yaml")) << text;
        const auto* err = std::get_if<ConfigError>(&r);
        ASSERT_NE(err, nullptr) << text;
        EXPECT_EQ(err->file, "g.yaml");
        EXPECT_FALSE(err->message.empty());
    }
}

// The base for the error cases, valid as is. Line numbers, for reading the table below:
//   1 node_name   3 eal.lcores   4 workers   5 gateway_mac
//   7-11 enis[0] (name, device, mac, ip, gateway)   12-16 enis[1] (same keys)
//   18-24 pods[0] (namespace, name, eni, mac, port, kind, socket)
//   25-32 pods[1] (namespace, name, eni, ip, mac, port, kind, interface)
constexpr const char* kBase = R"(node_name: node-a
eal:
  lcores: "0,1,2"
workers: 2
gateway_mac: "02:00:00:00:00:01"
enis:
  - name: eni-a
    device: "net_tap0,iface=eni0"
    mac: "02:00:00:00:0a:0a"
    ip: 10.0.0.10/24
    gateway: 10.0.0.1
  - name: eni-b
    device: "0000:00:05.0"
    mac: "02:00:00:00:0b:0b"
    ip: 10.0.1.10/24
    gateway: 10.0.1.1
pods:
  - namespace: default
    name: web-0
    eni: eni-a
    mac: "02:00:00:00:00:10"
    port:
      kind: vhost-user
      socket: /run/enidp/pods/web-0.sock
  - namespace: default
    name: cache-0
    eni: eni-b
    ip: 10.0.1.20
    mac: "02:00:00:00:00:11"
    port:
      kind: tap
      interface: tap-cache0
)";

// kBase with each `from` (which must occur exactly once) replaced by `to`.
std::string edit(std::vector<std::pair<std::string, std::string>> edits) {
    std::string s = kBase;
    for (const auto& [from, to] : edits) {
        const size_t at = s.find(from);
        if (at == std::string::npos || s.find(from, at + 1) != std::string::npos)
            throw std::logic_error("test edit not unique: " + from);
        s.replace(at, from.size(), to);
    }
    return s;
}

// The first `lines` lines of kBase.
std::string head(int lines) {
    std::string s = kBase;
    size_t at = 0;
    for (int i = 0; i < lines; ++i) at = s.find('\n', at) + 1;
    return s.substr(0, at);
}

struct BadCase {
    const char* name;
    std::string yaml;
    int line;
    const char* message;  // a distinctive part of the message
};

std::ostream& operator<<(std::ostream& os, const BadCase& c) { return os << c.name; }

class ConfigBadInput : public ::testing::TestWithParam<BadCase> {};

TEST(ConfigBadInputBase, IsValid) { ok(load_string(kBase, "enidp.yaml")); }

TEST(ConfigLoad, PolicySection) {
    const Config d = ok(load_string(kBase, "enidp.yaml"));
    EXPECT_FALSE(d.policy.offload);
    EXPECT_EQ(d.policy.offload_max_rules, 256u);
    EXPECT_EQ(d.policy.log_allow_one_in, 64u);
    EXPECT_EQ(d.policy.log_denies_per_second, 1000u);
    const Config c = ok(load_string(edit({{"workers: 2", "workers: 2\npolicy: {offload: true, offload_max_rules: 32, "
                                                         "log_allow_one_in: 0, log_denies_per_second: 10}"}}),
                                    "enidp.yaml"));
    EXPECT_TRUE(c.policy.offload);
    EXPECT_EQ(c.policy.offload_max_rules, 32u);
    EXPECT_EQ(c.policy.log_allow_one_in, 0u);
    EXPECT_EQ(c.policy.log_denies_per_second, 10u);
}

TEST(ConfigLoad, LbSection) {
    const Config d = ok(load_string(kBase, "enidp.yaml"));
    EXPECT_EQ(d.lb.maglev_table_size, 16381u);
    EXPECT_EQ(d.lb.min_sync_period_ms, 5u);
    EXPECT_EQ(d.lb.maglev_fill_budget_ms, 100u);
    const Config c = ok(load_string(
        edit({{"workers: 2", "workers: 2\nlb: {maglev_table_size: 65537, min_sync_period_ms: 0, maglev_fill_budget_ms: 0}"}}),
        "enidp.yaml"));
    EXPECT_EQ(c.lb.maglev_table_size, 65537u);
    EXPECT_EQ(c.lb.min_sync_period_ms, 0u);
    EXPECT_EQ(c.lb.maglev_fill_budget_ms, 0u);  // no budget: every table at its full size at once
    const Config e = ok(load_string(edit({{"workers: 2", "workers: 2\nlb:\n  maglev_fill_budget_ms: 60000"}}),
                                    "enidp.yaml"));
    EXPECT_EQ(e.lb.maglev_fill_budget_ms, 60000u);
}

TEST_P(ConfigBadInput, ReportsLineAndReason) {
    const BadCase& c = GetParam();
    ConfigResult r;
    ASSERT_NO_THROW(r = load_string(c.yaml, "enidp.yaml"));
    const auto* err = std::get_if<ConfigError>(&r);
    ASSERT_NE(err, nullptr) << "accepted:\n" << c.yaml;
    EXPECT_EQ(err->file, "enidp.yaml");
    EXPECT_EQ(err->line, c.line) << err->to_string();
    EXPECT_THAT(err->message, HasSubstr(c.message));
    const std::string where = c.line > 0 ? "enidp.yaml:" + std::to_string(c.line) : "enidp.yaml";
    EXPECT_EQ(err->to_string(), where + ": " + err->message);
}

const std::string kLongSocket = "/run/" + std::string(103, 's');  // 108 bytes: no room for the NUL

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigBadInput,
    ::testing::Values(
        // Document shape and syntax.
        BadCase{"Empty", "# nothing here\n", 0, "the configuration is empty"},
        BadCase{"SyntaxError", edit({{"workers: 2", "workers: 2\n  bad: [indent"}}), 5, "YAML syntax error"},
        BadCase{"UnclosedFlow",
                edit({{"  - namespace: default\n    name: cache-0", "  - {namespace: default\n    name: cache-0"}}), 26,
                "YAML syntax error: end of map flow not found"},
        BadCase{"TwoDocuments", head(4) + "---\nnode_name: b\n", 6, "a second YAML document"},
        BadCase{"LbFillBudgetNegative", edit({{"workers: 2", "workers: 2\nlb:\n  maglev_fill_budget_ms: -1"}}), 6,
                "lb.maglev_fill_budget_ms: -1 is out of range (expected 0..60000)"},
        BadCase{"LbFillBudgetTooLarge", edit({{"workers: 2", "workers: 2\nlb: {maglev_fill_budget_ms: 60001}"}}), 5,
                "lb.maglev_fill_budget_ms: 60001 is out of range (expected 0..60000)"},
        BadCase{"LbFillBudgetNotInteger", edit({{"workers: 2", "workers: 2\nlb:\n  maglev_fill_budget_ms: 0.5"}}), 6,
                "\"0.5\" is not an integer"},
        BadCase{"PolicyUnknownKey", edit({{"workers: 2", "workers: 2\npolicy:\n  ofload: true"}}), 6,
                "unknown key \"ofload\""},
        BadCase{"PolicyOffloadNotBool", edit({{"workers: 2", "workers: 2\npolicy: {offload: maybe}"}}), 5, "offload"},
        BadCase{"PolicyMaxRulesZero", edit({{"workers: 2", "workers: 2\npolicy:\n  offload_max_rules: 0"}}), 6,
                "offload_max_rules"},
        BadCase{"TopIsList", "- node_name: a\n", 1, "expected a map at top level, got a list"},
        BadCase{"UnknownTopKey", edit({{"workers: 2", "wrokers: 2"}}), 4,
                "unknown key \"wrokers\" at top level (did you mean \"workers\"?)"},
        BadCase{"UnknownTopKeyFar", edit({{"workers: 2", "workers: 2\ncolor: blue"}}), 5,
                "unknown key \"color\" at top level (expected one of: node_name, eal, workers"},
        BadCase{"UnknownEniKey", edit({{"gateway: 10.0.0.1", "gateway: 10.0.0.1\n    speed: fast"}}), 12,
                "unknown key \"speed\" in enis[0]"},
        BadCase{"UnknownPortKey", edit({{"kind: tap", "knid: tap"}}), 31,
                "unknown key \"knid\" in pods[1].port (did you mean \"kind\"?)"},
        BadCase{"UnknownEalKey", edit({{"  lcores", "  cores: \"0\"\n  lcores"}}), 3, "unknown key \"cores\" in eal"},
        BadCase{"DuplicateKey", edit({{"workers: 2", "workers: 2\nworkers: 1"}}), 5,
                "duplicate key \"workers\" at top level (first at line 4)"},
        // Top level.
        BadCase{"MissingNodeName", edit({{"node_name: node-a\n", ""}}), 1,
                "missing required key \"node_name\" at top level"},
        BadCase{"EmptyNodeName", edit({{"node_name: node-a", "node_name: \"\""}}), 1,
                "node_name: \"\" is not a valid node name (expected a non-empty string)"},
        BadCase{"NodeNameIsMap", edit({{"node_name: node-a", "node_name: {a: 1}"}}), 1,
                "node_name: expected a string, got a map"},
        BadCase{"WorkersNotInteger", edit({{"workers: 2", "workers: two"}}), 4,
                "workers: \"two\" is not an integer (expected 1..16)"},
        BadCase{"WorkersNoValue", edit({{"workers: 2", "workers:"}}), 4, "workers: expected an integer, got no value"},
        BadCase{"WorkersOutOfRange", edit({{"workers: 2", "workers: 17"}}), 4,
                "workers: 17 is out of range (expected 1..16)"},
        BadCase{"WorkersHuge", edit({{"workers: 2", "workers: 99999999999999999999"}}), 4, "is out of range"},
        BadCase{"WorkersNegative", edit({{"workers: 2", "workers: -1"}}), 4, "-1 is out of range (expected 1..16)"},
        BadCase{"WorkersExceedLcores", edit({{"workers: 2", "workers: 3"}}), 4,
                "workers: 3 worker(s) need 4 lcores (the first lcore is the main one) but eal.lcores \"0,1,2\" has 3"},
        BadCase{"LcoresTooFewForDefaultWorkers", edit({{"\"0,1,2\"", "\"3\""}, {"workers: 2\n", ""}}), 3,
                "eal.lcores: 1 worker(s) need 2 lcores"},
        BadCase{"LcoresMalformed", edit({{"\"0,1,2\"", "\"0,,1\""}}), 3,
                "eal.lcores: \"0,,1\" is not a valid lcore list"},
        BadCase{"LcoresRepeated", edit({{"\"0,1,2\"", "\"0-2,1\""}}), 3, "is not a valid lcore list"},
        BadCase{"MemoryTooSmall", edit({{"eal:", "eal:\n  memory_mb: 32"}}), 3,
                "eal.memory_mb: 32 is out of range (expected 64..65536)"},
        BadCase{"FilePrefixInvalid", edit({{"eal:", "eal:\n  file_prefix: a/b"}}), 3,
                "eal.file_prefix: \"a/b\" is not a valid file prefix"},
        BadCase{"NoHugeNotBool", edit({{"eal:", "eal:\n  no_huge: maybe"}}), 3,
                "eal.no_huge: \"maybe\" is not a boolean (expected true or false)"},
        BadCase{"ExtraArgsNotList", edit({{"eal:", "eal:\n  extra_args: --foo"}}), 3,
                "eal.extra_args: expected a list, got a scalar"},
        BadCase{"ExtraArgNotString", edit({{"eal:", "eal:\n  extra_args:\n    - [a]"}}), 4,
                "eal.extra_args[0]: expected a string, got a list"},
        BadCase{"BurstOutOfRange", edit({{"workers: 2", "workers: 2\nburst: 65"}}), 5,
                "burst: 65 is out of range (expected 1..64)"},
        BadCase{"RxDescNotPowerOfTwo", edit({{"workers: 2", "workers: 2\nrx_desc: 1000"}}), 5,
                "rx_desc: 1000 is not a power of two (expected 64..4096, a power of two)"},
        BadCase{"TxDescOutOfRange", edit({{"workers: 2", "workers: 2\ntx_desc: 8192"}}), 5,
                "tx_desc: 8192 is out of range (expected 64..4096)"},
        BadCase{"MbufsTooFew", edit({{"workers: 2", "workers: 2\nmempool: {mbufs: 512}"}}), 5,
                "mempool.mbufs: 512 is out of range (expected 1024..4294967295)"},
        BadCase{"MbufCacheTooLarge", edit({{"workers: 2", "workers: 2\nmempool:\n  cache: 513"}}), 6,
                "mempool.cache: 513 is out of range (expected 0..512)"},
        BadCase{"DataRoomTooSmall", edit({{"workers: 2", "workers: 2\nmempool: {data_room: 512}"}}), 5,
                "mempool.data_room: 512 is out of range (expected 1024..65535)"},
        BadCase{"MempoolNotMap", edit({{"workers: 2", "workers: 2\nmempool: 4096"}}), 5,
                "mempool: expected a map, got a scalar"},
        BadCase{"SleepZero", edit({{"workers: 2", "workers: 2\nidle_backoff: {sleep_us: 0}"}}), 5,
                "idle_backoff.sleep_us: 0 is out of range (expected 1..100000)"},
        BadCase{"IdleEnabledNotBool", edit({{"workers: 2", "workers: 2\nidle_backoff: {enabled: 1}"}}), 5,
                "idle_backoff.enabled: \"1\" is not a boolean"},
        BadCase{"StatsIntervalTooShort", edit({{"workers: 2", "workers: 2\nstats:\n  interval_ms: 50"}}), 6,
                "stats.interval_ms: 50 is out of range (expected 0 or 100..3600000)"},
        BadCase{"HeapPrefaultTooLarge", edit({{"workers: 2", "workers: 2\ncontrol: {heap_prefault_mb: 4096}"}}), 5,
                "control.heap_prefault_mb: 4096 is out of range (expected 0..1536)"},
        BadCase{"StatsFileNotString", edit({{"workers: 2", "workers: 2\nstats: {file: [a]}"}}), 5,
                "stats.file: expected a string, got a list"},
        BadCase{"ApiSocketRelative", edit({{"workers: 2", "workers: 2\napi: {socket: run/enidp.sock}"}}), 5,
                "api.socket: \"run/enidp.sock\" is not an absolute path"},
        BadCase{"ApiSocketTooLong", edit({{"workers: 2", "workers: 2\napi: {socket: /" + std::string(120, 'a') + "}"}}), 5,
                "api.socket: the path is 121 bytes long (at most 107)"},
        BadCase{"ApiUnknownKey", edit({{"workers: 2", "workers: 2\napi: {listen: 0.0.0.0:9000}"}}), 5,
                "unknown key \"listen\""},
        BadCase{"GatewayMacMulticast", edit({{"\"02:00:00:00:00:01\"", "\"03:00:00:00:00:01\""}}), 5,
                "gateway_mac: \"03:00:00:00:00:01\" is a multicast MAC (expected a unicast MAC"},
        BadCase{"GatewayMacZero", edit({{"\"02:00:00:00:00:01\"", "\"00:00:00:00:00:00\""}}), 5, "is the zero MAC"},
        // ENIs.
        BadCase{"EnisMissing", "node_name: a\n", 1, "missing required key \"enis\" at top level"},
        BadCase{"EnisEmpty", "node_name: a\nenis: []\n", 2, "enis: at least one ENI is required"},
        BadCase{"EnisNotList", "node_name: a\nenis: {name: x}\n", 2, "enis: expected a list, got a map"},
        BadCase{"EniNotMap", "node_name: a\nenis:\n  - eni-a\n", 3, "enis[0]: expected a map, got a scalar"},
        BadCase{"EniNameInvalid", edit({{"name: eni-a", "name: ENI_A"}}), 7,
                "enis[0].name: \"ENI_A\" is not a valid ENI name (expected lowercase letters, digits, '.' and '-')"},
        BadCase{"EniNameDuplicate", edit({{"name: eni-b", "name: eni-a"}}), 12,
                "enis[1].name: ENI name \"eni-a\" is already used by enis[0].name (line 7)"},
        BadCase{"EniMacMissing", edit({{"    mac: \"02:00:00:00:0a:0a\"\n", ""}}), 7,
                "enis[0]: missing required key \"mac\""},
        BadCase{"EniMacMalformed", edit({{"\"02:00:00:00:0b:0b\"", "\"02:00:00:00:0b\""}}), 14,
                "enis[1].mac: \"02:00:00:00:0b\" is not a MAC address (expected xx:xx:xx:xx:xx:xx)"},
        BadCase{"EniMacDuplicate", edit({{"\"02:00:00:00:0b:0b\"", "\"02:00:00:00:0A:0A\""}}), 14,
                "enis[1].mac: MAC \"02:00:00:00:0a:0a\" is already used by enis[0].mac (line 9)"},
        BadCase{"EniDeviceInvalid", edit({{"\"net_tap0,iface=eni0\"", "eth0"}}), 8,
                "enis[0].device: \"eth0\" is not a PCI address or vdev string (expected DDDD:BB:DD.F, BB:DD.F or "
                "net_<driver><id>"},
        BadCase{"EniDeviceBadPciFunction", edit({{"\"0000:00:05.0\"", "\"0000:00:05.8\""}}), 13,
                "is not a PCI address or vdev string"},
        BadCase{"EniDeviceDuplicateVdev", edit({{"\"0000:00:05.0\"", "\"net_tap0,iface=other\""}}), 13,
                "enis[1].device: device \"net_tap0\" is already used by enis[0].device (line 8)"},
        BadCase{"EniDeviceDuplicatePci", edit({{"\"net_tap0,iface=eni0\"", "\"00:05.0\""}}), 13,
                "device \"0000:00:05.0\" is already used by enis[0].device (line 8)"},
        BadCase{"EniIpNotPrefix", edit({{"ip: 10.0.0.10/24", "ip: 10.0.0.10"}}), 10,
                "enis[0].ip: \"10.0.0.10\" is not an IPv4 prefix (expected a.b.c.d/len"},
        BadCase{"EniIpPrefixTooLong", edit({{"ip: 10.0.0.10/24", "ip: 10.0.0.10/33"}}), 10, "is not an IPv4 prefix"},
        BadCase{"EniIpPrefixZero", edit({{"ip: 10.0.0.10/24", "ip: 10.0.0.10/0"}}), 10,
                "has prefix length 0 (expected 1..32)"},
        BadCase{"EniIpNetworkAddress", edit({{"ip: 10.0.0.10/24", "ip: 10.0.0.0/24"}}), 10,
                "enis[0].ip: 10.0.0.0 is the network address of 10.0.0.0/24 (expected a host address)"},
        BadCase{"EniIpBroadcast", edit({{"ip: 10.0.0.10/24", "ip: 10.0.0.255/24"}}), 10,
                "10.0.0.255 is the broadcast address of 10.0.0.0/24"},
        BadCase{"EniGatewayOutside", edit({{"gateway: 10.0.0.1", "gateway: 10.0.1.1"}}), 11,
                "enis[0].gateway: 10.0.1.1 is outside the ENI's subnet 10.0.0.10/24"},
        BadCase{"EniGatewayIsOwnIp", edit({{"gateway: 10.0.0.1", "gateway: 10.0.0.10"}}), 11,
                "10.0.0.10 is the ENI's own address"},
        BadCase{"EniGatewayNotIp", edit({{"gateway: 10.0.0.1", "gateway: 10.0.0.256"}}), 11,
                "enis[0].gateway: \"10.0.0.256\" is not an IPv4 address (expected a.b.c.d)"},
        BadCase{"EniGatewayMacBroadcast",
                edit({{"gateway: 10.0.0.1", "gateway: 10.0.0.1\n    gateway_mac: \"ff:ff:ff:ff:ff:ff\""}}), 12,
                "enis[0].gateway_mac: \"ff:ff:ff:ff:ff:ff\" is a multicast MAC"},
        BadCase{"EniQueuesZero", edit({{"gateway: 10.0.0.1", "gateway: 10.0.0.1\n    queues: 0"}}), 12,
                "enis[0].queues: 0 is out of range (expected 1..16)"},
        BadCase{"EniMtuTooLarge", edit({{"gateway: 10.0.1.1", "gateway: 10.0.1.1\n    mtu: 9001"}}), 17,
                "enis[1].mtu: 9001 is out of range (expected 68..9000)"},
        // Pods.
        BadCase{"PodsNotList", head(16) + "pods: web-0\n", 17, "pods: expected a list, got a scalar"},
        BadCase{"PodNotMap", head(16) + "pods:\n  - web-0\n", 18, "pods[0]: expected a map, got a scalar"},
        BadCase{"PodNamespaceInvalid",
                edit({{"namespace: default\n    name: web-0", "namespace: Default\n    name: web-0"}}), 18,
                "pods[0].namespace: \"Default\" is not a valid namespace (expected a DNS label"},
        BadCase{"PodNameInvalid", edit({{"name: web-0", "name: web_0"}}), 19,
                "pods[0].name: \"web_0\" is not a valid pod name"},
        BadCase{"PodDuplicate", edit({{"name: cache-0", "name: web-0"}}), 26,
                "pods[1].name: pod \"default/web-0\" is already used by pods[0].name (line 19)"},
        BadCase{"PodEniUnknown", edit({{"eni: eni-a", "eni: eni-x"}}), 20,
                "pods[0].eni: no ENI named \"eni-x\" (known: eni-a, eni-b)"},
        BadCase{"PodEniTaken", edit({{"eni: eni-b", "eni: eni-a"}}), 27,
                "pods[1].eni: ENI \"eni-a\" is already used by pods[0].eni (line 20); at most one pod per ENI"},
        BadCase{"PodEniMissing", edit({{"    eni: eni-a\n", ""}}), 18, "pods[0]: missing required key \"eni\""},
        BadCase{"PodIpOutsideEni", edit({{"ip: 10.0.1.20", "ip: 10.0.2.20"}}), 28,
                "pods[1].ip: 10.0.2.20 is outside ENI eni-b's subnet 10.0.1.10/24"},
        BadCase{"PodIpIsGateway", edit({{"ip: 10.0.1.20", "ip: 10.0.1.1"}}), 28, "10.0.1.1 is ENI eni-b's gateway"},
        BadCase{"PodIpBroadcast", edit({{"ip: 10.0.1.20", "ip: 10.0.1.255"}}), 28, "is the broadcast address"},
        BadCase{"PodIpDuplicate",
                edit({{"ip: 10.0.1.10/24", "ip: 10.0.0.11/24"},
                      {"gateway: 10.0.1.1", "gateway: 10.0.0.1"},
                      {"ip: 10.0.1.20", "ip: 10.0.0.10"}}),
                28, "pods[1].ip: pod IP \"10.0.0.10\" is already used by pods[0].ip (line 18)"},
        BadCase{"PodMacMissing", edit({{"    mac: \"02:00:00:00:00:10\"\n", ""}}), 18,
                "pods[0]: missing required key \"mac\""},
        BadCase{"PodMacSameAsEni", edit({{"\"02:00:00:00:00:11\"", "\"02:00:00:00:0a:0a\""}}), 29,
                "pods[1].mac: MAC \"02:00:00:00:0a:0a\" is already used by enis[0].mac (line 9)"},
        BadCase{"PodMacDuplicate", edit({{"\"02:00:00:00:00:11\"", "\"02:00:00:00:00:10\""}}), 29,
                "MAC \"02:00:00:00:00:10\" is already used by pods[0].mac (line 21)"},
        BadCase{"PodMacIsGatewayMac", edit({{"\"02:00:00:00:00:10\"", "\"02:00:00:00:00:01\""}}), 21,
                "pods[0].mac: \"02:00:00:00:00:01\" is the gateway_mac"},
        BadCase{"PodPortMissing",
                edit({{"    port:\n      kind: vhost-user\n      socket: /run/enidp/pods/web-0.sock\n", ""}}), 18,
                "pods[0]: missing required key \"port\""},
        BadCase{"PortKindInvalid", edit({{"kind: vhost-user", "kind: veth"}}), 23,
                "pods[0].port.kind: \"veth\" is not a port kind (expected vhost-user, memif or tap)"},
        BadCase{"PortSocketMissing", edit({{"      socket: /run/enidp/pods/web-0.sock\n", ""}}), 22,
                "pods[0].port: missing required key \"socket\" (kind vhost-user needs it)"},
        BadCase{"PortSocketRelative", edit({{"/run/enidp/pods/web-0.sock", "web-0.sock"}}), 24,
                "pods[0].port.socket: \"web-0.sock\" is not an absolute path"},
        BadCase{"PortSocketTooLong", edit({{"/run/enidp/pods/web-0.sock", kLongSocket}}), 24,
                "path is 108 bytes long (expected at most 107, the AF_UNIX limit)"},
        BadCase{
            "PortSocketDuplicate",
            edit({{"kind: tap\n      interface: tap-cache0", "kind: memif\n      socket: /run/enidp/pods/web-0.sock"}}),
            32,
            "pods[1].port.socket: socket \"/run/enidp/pods/web-0.sock\" is already used by pods[0].port.socket "
            "(line 24)"},
        BadCase{"PortInterfaceOnVhost", edit({{"web-0.sock", "web-0.sock\n      interface: tap0"}}), 25,
                "pods[0].port.interface: not allowed for kind vhost-user (expected \"socket\")"},
        BadCase{"PortSocketOnTap", edit({{"interface: tap-cache0", "socket: /run/x.sock"}}), 32,
                "pods[1].port.socket: not allowed for kind tap (expected \"interface\")"},
        BadCase{"PortVhostClientOnTap",
                edit({{"interface: tap-cache0", "interface: tap-cache0\n      vhost_client: true"}}), 33,
                "pods[1].port.vhost_client: only valid for kind vhost-user (this port is tap)"},
        BadCase{"PortVhostClientNotBool", edit({{"web-0.sock", "web-0.sock\n      vhost_client: sometimes"}}), 25,
                "pods[0].port.vhost_client: \"sometimes\" is not a boolean"},
        BadCase{"PortInterfaceTooLong", edit({{"interface: tap-cache0", "interface: tap-cache0-too-long"}}), 32,
                "pods[1].port.interface: \"tap-cache0-too-long\" is not a valid interface name (expected 1..15"},
        BadCase{"PortInterfaceSlash", edit({{"interface: tap-cache0", "interface: tap/0"}}), 32,
                "is not a valid interface name"},
        BadCase{"PortInterfaceMissing", edit({{"      interface: tap-cache0\n", ""}}), 30,
                "pods[1].port: missing required key \"interface\" (kind tap needs it)"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(ConfigErrorFormat, ToString) {
    EXPECT_EQ((ConfigError{"a.yaml", 3, "boom"}).to_string(), "a.yaml:3: boom");
    EXPECT_EQ((ConfigError{"a.yaml", 0, "boom"}).to_string(), "a.yaml: boom");
}

TEST(ParseMac, AcceptsColonSeparatedHex) {
    const auto m = parse_mac("02:aB:0c:Ff:00:9e");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->bytes, (std::array<uint8_t, 6>{0x02, 0xab, 0x0c, 0xff, 0x00, 0x9e}));
    EXPECT_EQ(m->to_string(), "02:ab:0c:ff:00:9e");
    EXPECT_EQ(parse_mac("ff:ff:ff:ff:ff:ff")->to_string(), "ff:ff:ff:ff:ff:ff");
}

TEST(ParseMac, RejectsMalformed) {
    for (const char* s :
         {"", "02:00:00:00:0a", "02:00:00:00:0a:0a:", "02:00:00:00:0a:0a:00", "02-00-00-00-0a-0a", "2:0:0:0:a:a",
          "02:00:00:00:0a:0g", "0200.0000.0a0a", " 02:00:00:00:0a:0a", "02:00:00:00:0a:+a"})
        EXPECT_FALSE(parse_mac(s)) << s;
}

TEST(ParseIpv4, AcceptsDottedQuad) {
    EXPECT_EQ(parse_ipv4("10.0.0.1")->value, 0x0a000001u);
    EXPECT_EQ(parse_ipv4("0.0.0.0")->value, 0u);
    EXPECT_EQ(parse_ipv4("255.255.255.255")->value, 0xffffffffu);
    EXPECT_EQ(parse_ipv4("192.168.100.200")->to_string(), "192.168.100.200");
}

TEST(ParseIpv4, RejectsMalformed) {
    for (const char* s :
         {"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.256", "01.2.3.4", "1.2.3.00", "1..3.4", "1.2.3.", ".1.2.3",
          " 1.2.3.4", "1.2.3.4 ", "+1.2.3.4", "-1.2.3.4", "0x1.2.3.4", "1.2.3.4/8", "1234.1.1.1", "99999999999.1.1.1"})
        EXPECT_FALSE(parse_ipv4(s)) << s;
}

TEST(ParsePrefix, KeepsHostBitsAndLength) {
    const auto p = parse_prefix("10.0.0.10/24");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->addr, ip("10.0.0.10"));
    EXPECT_EQ(p->length, 24);
    EXPECT_EQ(p->to_string(), "10.0.0.10/24");
    EXPECT_EQ(parse_prefix("0.0.0.0/0")->length, 0);
    EXPECT_EQ(parse_prefix("1.2.3.4/32")->length, 32);
}

TEST(ParsePrefix, RejectsMalformed) {
    for (const char* s : {"", "10.0.0.10", "10.0.0.10/", "/24", "10.0.0.10/33", "10.0.0.10/08", "10.0.0.10/-1",
                          "10.0.0.10/24/1", "10.0.0/24", "10.0.0.10/2x", "10.0.0.10 /24"})
        EXPECT_FALSE(parse_prefix(s)) << s;
}

TEST(Ipv4Prefix, Contains) {
    const Ipv4Prefix p = *parse_prefix("10.0.0.10/24");
    EXPECT_TRUE(p.contains(ip("10.0.0.0")));
    EXPECT_TRUE(p.contains(ip("10.0.0.255")));
    EXPECT_FALSE(p.contains(ip("10.0.1.0")));
    EXPECT_FALSE(p.contains(ip("9.255.255.255")));
    EXPECT_TRUE(parse_prefix("0.0.0.0/0")->contains(ip("203.0.113.7")));
    EXPECT_TRUE(parse_prefix("1.2.3.4/32")->contains(ip("1.2.3.4")));
    EXPECT_FALSE(parse_prefix("1.2.3.4/32")->contains(ip("1.2.3.5")));
    EXPECT_TRUE(parse_prefix("128.0.0.0/1")->contains(ip("255.0.0.1")));
    EXPECT_FALSE(parse_prefix("128.0.0.0/1")->contains(ip("127.255.255.255")));
}

TEST(PodPortKind, ToString) {
    EXPECT_STREQ(to_string(PodPortKind::kVhostUser), "vhost-user");
    EXPECT_STREQ(to_string(PodPortKind::kMemif), "memif");
    EXPECT_STREQ(to_string(PodPortKind::kTap), "tap");
}

}  // namespace
}  // namespace enidp::config

// Component test of the NetworkPolicy NIC offload (acl/offload/): EniOffload on a real
// net_tap port (rte_flow through TC flower in the kernel) with packets injected from the
// kernel side over AF_PACKET, plus the installer's diff / fallback logic against a
// recording backend. EAL --no-huge --no-pci with a unique --file-prefix; needs root and
// /dev/net/tun. The "packets dropped in the NIC" test skips only when the running kernel
// lacks the TC pieces net_tap's rte_flow needs (it says which).
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "acl/offload/eni_offload.hpp"

namespace enidp::acl::test {
namespace {

uint32_t hip(const char* s) {
    in_addr a{};
    inet_pton(AF_INET, s, &a);
    return ntohl(a.s_addr);
}

constexpr uint16_t kMarkPort = 47999;

std::string run(const std::string& cmd) {
    std::string out;
    if (FILE* f = popen((cmd + " 2>&1").c_str(), "r")) {
        char buf[512];
        while (fgets(buf, sizeof buf, f)) out += buf;
        pclose(f);
    }
    return out;
}

// What the running kernel lacks of what net_tap's rte_flow uses: multiq qdisc (where
// explicit rules hang), flower classifier, gact (DROP/PASSTHRU), skbedit (QUEUE).
// Empty when all are built in or loadable; "unknown" parts are reported as such.
std::string kernel_missing_tc_features() {
    const std::string cfg = run("zcat /proc/config.gz");
    if (cfg.find("CONFIG_NET_SCHED") == std::string::npos) return "";  // cannot tell
    utsname u{};
    uname(&u);
    const bool have_modules = access((std::string("/lib/modules/") + u.release).c_str(), F_OK) == 0;
    std::string missing;
    for (const char* opt : {"CONFIG_NET_SCH_MULTIQ", "CONFIG_NET_CLS_FLOWER", "CONFIG_NET_ACT_GACT", "CONFIG_NET_ACT_SKBEDIT"}) {
        const std::string o = opt;
        if (cfg.find(o + "=y") != std::string::npos) continue;
        if (cfg.find(o + "=m") != std::string::npos && have_modules) continue;
        missing += (missing.empty() ? "" : ", ") + o + (cfg.find(o + "=m") != std::string::npos ? "=m (no /lib/modules)" : " not set");
    }
    return missing;
}

// ---------------------------------------------------------------- net_tap fixture

class TapPort {
public:
    TapPort() {
        iface_ = "enofl" + std::to_string(getpid() % 100000);
        name_ = "net_tap_offl0";
        const std::string args = "iface=" + iface_;
        if (rte_eal_hotplug_add("vdev", name_.c_str(), args.c_str()) != 0) return;
        if (rte_eth_dev_get_port_by_name(name_.c_str(), &port_) != 0) return;
        pool_ = rte_pktmbuf_pool_create("offl_pool", 2047, 64, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
        if (!pool_) return;
        rte_eth_conf conf{};
        if (rte_eth_dev_configure(port_, 1, 1, &conf) != 0) return;
        if (rte_eth_rx_queue_setup(port_, 0, 256, rte_eth_dev_socket_id(port_), nullptr, pool_) != 0) return;
        if (rte_eth_tx_queue_setup(port_, 0, 256, rte_eth_dev_socket_id(port_), nullptr) != 0) return;
        if (rte_eth_dev_start(port_) != 0) return;
        rte_eth_macaddr_get(port_, &mac_);
        ifindex_ = if_nametoindex(iface_.c_str());
        sock_ = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
        ok_ = ifindex_ != 0 && sock_ >= 0;
    }
    ~TapPort() {
        if (sock_ >= 0) close(sock_);
        rte_eth_dev_stop(port_);
        rte_eth_dev_close(port_);
        rte_eal_hotplug_remove("vdev", name_.c_str());
        rte_mempool_free(pool_);
    }
    bool ok() const { return ok_; }
    uint16_t port() const { return port_; }
    const std::string& iface() const { return iface_; }

    // The kernel transmits one Ethernet/IPv4/UDP frame on the tap netdev (through its
    // qdisc and TC filters); the PMD reads whatever gets through.
    bool inject(uint32_t src, uint32_t dst, uint8_t proto = IPPROTO_UDP) {
        uint8_t f[64]{};
        auto* eth = reinterpret_cast<rte_ether_hdr*>(f);
        eth->dst_addr = mac_;
        const uint8_t smac[6] = {0x02, 0, 0, 0, 0, 0x42};
        memcpy(eth->src_addr.addr_bytes, smac, 6);
        eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f + sizeof(rte_ether_hdr));
        ip->version_ihl = 0x45;
        ip->total_length = htons(sizeof(f) - sizeof(rte_ether_hdr));
        ip->time_to_live = 64;
        ip->next_proto_id = proto;
        ip->src_addr = htonl(src);
        ip->dst_addr = htonl(dst);
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
        udp->src_port = htons(1234);
        udp->dst_port = htons(kMarkPort);  // ICMP: the bytes are an echo-ish header; we match on IPs
        udp->dgram_len = htons(sizeof(f) - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr));
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_ifindex = static_cast<int>(ifindex_);
        sll.sll_halen = 6;
        memcpy(sll.sll_addr, mac_.addr_bytes, 6);
        return sendto(sock_, f, sizeof f, 0, reinterpret_cast<sockaddr*>(&sll), sizeof sll) == sizeof f;
    }

    // Sources (host order) of our test frames the PMD received within `ms`.
    std::multiset<uint32_t> drain(int ms = 300) {
        std::multiset<uint32_t> got;
        const uint64_t end = rte_get_timer_cycles() + rte_get_timer_hz() * ms / 1000;
        rte_mbuf* b[32];
        while (rte_get_timer_cycles() < end) {
            const uint16_t n = rte_eth_rx_burst(port_, 0, b, 32);
            for (uint16_t i = 0; i < n; ++i) {
                const auto* eth = rte_pktmbuf_mtod(b[i], const rte_ether_hdr*);
                if (eth->ether_type == htons(RTE_ETHER_TYPE_IPV4) && b[i]->data_len >= 42) {
                    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
                    const auto* udp = reinterpret_cast<const rte_udp_hdr*>(ip + 1);
                    if (udp->dst_port == htons(kMarkPort)) got.insert(ntohl(ip->src_addr));
                }
                rte_pktmbuf_free(b[i]);
            }
            if (n == 0) rte_delay_us_sleep(1000);
        }
        return got;
    }

private:
    std::string name_, iface_;
    uint16_t port_ = 0;
    rte_mempool* pool_ = nullptr;
    rte_ether_addr mac_{};
    unsigned ifindex_ = 0;
    int sock_ = -1;
    bool ok_ = false;
};

TapPort* g_tap = nullptr;

const uint32_t kPodIp = hip("10.77.0.5");

// A pod isolated both ways that admits 10.1.0.0/16 (ingress) and 192.0.2.0/24 (egress,
// plus 8.8.8.0/24 with `more`), with a blocklist 203.0.113.0/24.
PodRules sample_pod(bool more = false) {
    PodRules pod;
    pod.id = 1;
    pod.ns = "t";
    pod.name = "p";
    pod.ips = {htonl(kPodIp)};
    pod.dir[0].isolated = pod.dir[1].isolated = true;
    pod.dir[0].entries.push_back({htonl(hip("10.1.0.0")), 16});
    pod.dir[1].entries.push_back({htonl(hip("192.0.2.0")), 24});
    if (more) pod.dir[1].entries.push_back({htonl(hip("8.8.8.0")), 24});
    return pod;
}

OffloadOptions sample_options(uint32_t base_priority = 0, uint16_t icmp_queue = 0) {
    OffloadOptions o;
    o.blocklist = {make_prefix(hip("203.0.113.0"), 24)};
    o.base_priority = base_priority;
    o.icmp_queue = icmp_queue;
    return o;
}

OffloadPlan sample_plan(uint32_t base_priority = 0, bool more = false, uint16_t icmp_queue = 0) {
    return plan_eni_offload(sample_pod(more), sample_options(base_priority, icmp_queue));
}

size_t count_state(const OffloadState& s, RuleState st) {
    return static_cast<size_t>(std::count_if(s.rules.begin(), s.rules.end(), [&](const RuleStatus& r) { return r.state == st; }));
}

// ------------------------------------------------------------- real net_tap tests

TEST(AclOffloadTap, ValidateAcceptsEveryRuleShape) {
    ASSERT_TRUE(g_tap && g_tap->ok());
    auto be = make_rte_flow_backend(g_tap->port());
    const OffloadPlan plan = sample_plan();
    ASSERT_TRUE(plan.policy_offloaded) << plan.reason;
    bool saw_zero_src = false;
    for (const OffloadRule& r : plan.rules) {
        std::string err;
        EXPECT_TRUE(be->validate(r, err)) << to_string(r) << ": " << err;
        saw_zero_src |= r.src == 0 && r.src_len > 0;
    }
    EXPECT_TRUE(saw_zero_src);  // 0.0.0.0/len goes through the host-bit encoding
}

TEST(AclOffloadTap, PlanThePmdRejectsStaysInSoftwareAndNothingIsInstalled) {
    ASSERT_TRUE(g_tap && g_tap->ok());
    // net_tap caps attr.priority (tap_flow.c: "priority value too big"); find the limit.
    auto be = make_rte_flow_backend(g_tap->port());
    OffloadRule probe{.kind = OffloadRuleKind::kBlock, .src = hip("203.0.113.0"), .dst = kPodIp, .src_len = 24};
    uint32_t lo = 0, hi = 1u << 20;
    std::string err;
    ASSERT_TRUE(be->validate(probe, err)) << err;
    probe.priority = hi;
    ASSERT_FALSE(be->validate(probe, err));
    while (hi - lo > 1) {
        probe.priority = (lo + hi) / 2;
        (be->validate(probe, err) ? lo : hi) = probe.priority;
    }
    printf("net_tap: highest accepted rte_flow priority %u\n", lo);

    ASSERT_GE(lo, 40u);

    // base priority lo - 20: the blocklist /24 (tier 8) is within the limit, the ICMP
    // exemption (tier 33) and every policy drop (34..66) are past it
    EniOffload off(g_tap->port());
    const OffloadPlan bad = sample_plan(lo - 20);
    off.sync(bad);
    const OffloadState& s = off.state();
    printf("%s", off.describe().c_str());
    ASSERT_EQ(s.rules.size(), bad.rules.size());
    EXPECT_FALSE(s.policy_in_nic);
    size_t rejected = 0;
    for (const RuleStatus& r : s.rules) {
        if (r.rule.kind == OffloadRuleKind::kBlock) {
            EXPECT_LE(r.rule.priority, lo);
            continue;  // validated; in the NIC if the kernel can hold it
        }
        ++rejected;
        EXPECT_EQ(r.state, RuleState::kSoftware) << to_string(r.rule);
        EXPECT_NE(r.error.find("validate: priority value too big"), std::string::npos) << r.error;
    }
    EXPECT_EQ(rejected, bad.rules.size() - 1);
    EXPECT_EQ(s.counters.validate_failures, rejected);
    EXPECT_LE(s.counters.created, 1u);  // at most the block: nothing of the policy half-installed

    // an exemption the PMD refuses (QUEUE beyond the port's RX queues) keeps every policy drop out
    PodRules pod;
    pod.id = 2;
    pod.ips = {htonl(kPodIp)};
    pod.dir[0].isolated = pod.dir[1].isolated = true;
    OffloadOptions o;
    o.icmp_queue = 7;
    EniOffload off2(g_tap->port());
    off2.sync(plan_eni_offload(pod, o));
    ASSERT_EQ(off2.state().rules.size(), 2u);
    EXPECT_NE(off2.state().rules[0].error.find("validate: queue index out of range"), std::string::npos)
        << off2.describe();
    EXPECT_EQ(off2.state().rules[1].state, RuleState::kSoftware);
    EXPECT_EQ(off2.state().counters.created, 0u);
}

// Sync a plan on the tap; where the kernel cannot hold TC flower rules, everything stays in
// software (with the PMD's message) and every packet reaches the PMD, i.e. the workers.
TEST(AclOffloadTap, SyncOnTapAndSoftwareFallback) {
    ASSERT_TRUE(g_tap && g_tap->ok());
    EniOffload off(g_tap->port());
    const OffloadPlan plan = sample_plan();
    off.sync(plan);
    const OffloadState& s = off.state();
    printf("%s", off.describe().c_str());
    if (s.counters.rules_offloaded == 0) {
        EXPECT_EQ(s.counters.rules_software, plan.rules.size());
        EXPECT_EQ(s.counters.validate_failures, 0u);
        EXPECT_GT(s.counters.create_failures, 0u);
        for (const RuleStatus& r : s.rules) EXPECT_FALSE(r.error.empty());
        // everything still arrives: the software path sees (and judges) it
        ASSERT_TRUE(g_tap->inject(hip("10.1.2.3"), kPodIp));
        ASSERT_TRUE(g_tap->inject(hip("8.8.8.8"), kPodIp));
        ASSERT_TRUE(g_tap->inject(hip("203.0.113.9"), kPodIp));
        const auto got = g_tap->drain();
        EXPECT_EQ(got.count(hip("10.1.2.3")), 1u);
        EXPECT_EQ(got.count(hip("8.8.8.8")), 1u);
        EXPECT_EQ(got.count(hip("203.0.113.9")), 1u);
    }
    off.flush();
    EXPECT_TRUE(off.state().rules.empty());
}

// The real thing: disallowed sources never reach the PMD, allowed ones do; incremental
// re-sync; flush. Needs TC flower + gact + skbedit + the multiq qdisc in the kernel.
TEST(AclOffloadTap, NicDropsDisallowedSourcesBeforeThePmd) {
    ASSERT_TRUE(g_tap && g_tap->ok());
    EniOffload off(g_tap->port());
    off.sync(sample_plan());
    if (!off.state().policy_in_nic) {
        const std::string missing = kernel_missing_tc_features();
        const std::string first_error = off.state().rules.empty() ? "" : off.state().rules.front().error;
        if (!missing.empty())
            GTEST_SKIP() << "kernel " << run("uname -r") << "lacks what net_tap's rte_flow needs: " << missing
                         << "; rte_flow_create said: " << first_error;
        FAIL() << "kernel seems to have TC flower, but the plan is not in the NIC:\n" << off.describe();
    }
    // tap puts explicit rules under its multiq root qdisc (1:), next to its own implicit
    // flower rules; ours are the ones on the pod's address
    const std::string tc_show = "tc filter show dev " + g_tap->iface() + " parent 1:";
    const std::string tc = run(tc_show);
    EXPECT_NE(tc.find("dst_ip 10.77.0.5"), std::string::npos) << tc;
    const uint32_t allowed_in = hip("10.1.2.3"), reply = hip("192.0.2.77"), stranger = hip("8.8.8.8"),
                   blocked = hip("203.0.113.9");
    for (uint32_t src : {allowed_in, reply, stranger, blocked}) ASSERT_TRUE(g_tap->inject(src, kPodIp));
    ASSERT_TRUE(g_tap->inject(stranger, kPodIp, IPPROTO_ICMP));  // exempt: an ICMP error, say
    ASSERT_TRUE(g_tap->inject(stranger, hip("10.77.0.6")));     // not the pod's address
    auto got = g_tap->drain();
    EXPECT_EQ(got.count(allowed_in), 1u);
    EXPECT_EQ(got.count(reply), 1u);
    EXPECT_EQ(got.count(stranger), 2u);  // the ICMP one and the one to another address
    EXPECT_EQ(got.count(blocked), 0u);

    // policy change: also admit 8.8.8.0/24 → only the affected drops change
    const uint64_t created = off.state().counters.created;
    const OffloadPlan next = sample_plan(0, true);
    off.sync(next);
    EXPECT_TRUE(off.state().policy_in_nic);
    EXPECT_LT(off.state().counters.created - created, next.rules.size());
    ASSERT_TRUE(g_tap->inject(stranger, kPodIp));
    ASSERT_TRUE(g_tap->inject(hip("8.8.4.4"), kPodIp));
    got = g_tap->drain();
    EXPECT_EQ(got.count(stranger), 1u);
    EXPECT_EQ(got.count(hip("8.8.4.4")), 0u);

    off.flush();
    EXPECT_EQ(run(tc_show).find("dst_ip 10.77.0.5"), std::string::npos);
    ASSERT_TRUE(g_tap->inject(blocked, kPodIp));
    EXPECT_EQ(g_tap->drain().count(blocked), 1u);
}

// ------------------------------------------------- installer logic, recording backend

struct Recorder {
    std::set<OffloadRule> in_nic;
    std::vector<std::string> log;  // "validate|create|destroy <rule>"
    std::function<bool(const OffloadRule&)> reject_validate = [](const OffloadRule&) { return false; };
    std::function<bool(const OffloadRule&)> reject_create = [](const OffloadRule&) { return false; };
};

class FakeBackend final : public FlowBackend {
public:
    explicit FakeBackend(Recorder& r) : r_(r) {}
    bool validate(const OffloadRule& rule, std::string& error) override {
        r_.log.push_back("validate " + to_string(rule));
        if (r_.reject_validate(rule)) error = "fake: not supported";
        return error.empty();
    }
    rte_flow* create(const OffloadRule& rule, std::string& error) override {
        r_.log.push_back("create " + to_string(rule));
        if (r_.reject_create(rule)) {
            error = "fake: kernel said no";
            return nullptr;
        }
        // a drop must never be created while no exemption of its pod IP is in the NIC
        if (rule.kind == OffloadRuleKind::kPolicyDrop) {
            bool exempt = false;
            for (const OffloadRule& x : r_.in_nic) exempt |= x.kind == OffloadRuleKind::kExemptIcmp && x.dst == rule.dst;
            EXPECT_TRUE(exempt) << "policy drop created before its exemption: " << to_string(rule);
        }
        EXPECT_TRUE(r_.in_nic.insert(rule).second);
        handles_[++next_] = rule;
        return reinterpret_cast<rte_flow*>(next_);
    }
    bool destroy(rte_flow* f, std::string&) override {
        const OffloadRule rule = handles_.at(reinterpret_cast<uintptr_t>(f));
        r_.log.push_back("destroy " + to_string(rule));
        if (rule.kind == OffloadRuleKind::kExemptIcmp) {
            for (const OffloadRule& x : r_.in_nic) {
                EXPECT_FALSE(x.kind == OffloadRuleKind::kPolicyDrop && x.dst == rule.dst)
                    << "exemption destroyed while a policy drop is still in: " << to_string(x);
            }
        }
        r_.in_nic.erase(rule);
        handles_.erase(reinterpret_cast<uintptr_t>(f));
        return true;
    }
    uint16_t port_id() const override { return 9; }

private:
    Recorder& r_;
    std::map<uintptr_t, OffloadRule> handles_;
    uintptr_t next_ = 0;
};

size_t count_log(const Recorder& r, const char* verb) {
    return static_cast<size_t>(std::count_if(r.log.begin(), r.log.end(), [&](const std::string& s) { return s.rfind(verb, 0) == 0; }));
}

TEST(AclOffloadInstaller, IncrementalSyncAndFlush) {
    Recorder rec;
    auto off = std::make_unique<EniOffload>(std::make_unique<FakeBackend>(rec));
    const OffloadPlan a = sample_plan();
    off->sync(a);
    EXPECT_TRUE(off->state().policy_in_nic);
    EXPECT_EQ(rec.in_nic.size(), a.rules.size());
    EXPECT_EQ(off->state().counters.rules_offloaded, a.rules.size());
    EXPECT_EQ(off->state().port_id, 9);

    // same plan again: nothing to do
    rec.log.clear();
    off->sync(a);
    EXPECT_TRUE(rec.log.empty());

    // one more egress /24: a few drops change, the rest stays
    const OffloadPlan b = sample_plan(0, true);
    rec.log.clear();
    off->sync(b);
    std::set<OffloadRule> want(b.rules.begin(), b.rules.end());
    EXPECT_EQ(rec.in_nic, want);
    std::vector<OffloadRule> gone, added;
    std::set_difference(a.rules.begin(), a.rules.end(), b.rules.begin(), b.rules.end(), std::back_inserter(gone));
    std::set_difference(b.rules.begin(), b.rules.end(), a.rules.begin(), a.rules.end(), std::back_inserter(added));
    EXPECT_EQ(count_log(rec, "destroy"), gone.size());
    EXPECT_EQ(count_log(rec, "create"), added.size());
    EXPECT_LT(added.size(), b.rules.size());
    EXPECT_EQ(rec.log.front().rfind("destroy", 0), 0u);  // stale rules go first

    // retire() alone removes without adding
    rec.log.clear();
    off->retire(a);
    EXPECT_EQ(count_log(rec, "create"), 0u);
    for (const OffloadRule& r : rec.in_nic) EXPECT_TRUE(std::binary_search(a.rules.begin(), a.rules.end(), r));

    // an exemption change (new queue) takes every policy drop out first, then back in
    const OffloadPlan c = sample_plan(0, true, 1);
    off->sync(c);
    EXPECT_EQ(rec.in_nic, std::set<OffloadRule>(c.rules.begin(), c.rules.end()));

    // destructor flushes
    off.reset();
    EXPECT_TRUE(rec.in_nic.empty());
}

TEST(AclOffloadInstaller, FailuresFallBackPerRuleOrPerPod) {
    Recorder rec;
    EniOffload off(std::make_unique<FakeBackend>(rec));
    const OffloadPlan a = sample_plan();
    // one policy drop fails validation, one block fails creation: only those stay software
    const OffloadRule bad_drop = *std::find_if(a.rules.begin(), a.rules.end(), [](const OffloadRule& r) { return r.kind == OffloadRuleKind::kPolicyDrop; });
    rec.reject_validate = [&](const OffloadRule& r) { return r == bad_drop; };
    rec.reject_create = [](const OffloadRule& r) { return r.kind == OffloadRuleKind::kBlock; };
    off.sync(a);
    EXPECT_EQ(off.state().counters.validate_failures, 1u);
    EXPECT_EQ(off.state().counters.create_failures, 1u);
    EXPECT_EQ(off.state().counters.rules_software, 2u);
    EXPECT_EQ(rec.in_nic.size(), a.rules.size() - 2);
    EXPECT_FALSE(off.state().policy_in_nic);
    for (const RuleStatus& s : off.state().rules) {
        if (s.rule == bad_drop) {
            EXPECT_EQ(s.error, "validate: fake: not supported");
        }
        if (s.rule.kind == OffloadRuleKind::kBlock) {
            EXPECT_EQ(s.error, "create: fake: kernel said no");
        }
    }

    // the same plan again: refused rules are not offered to the PMD again
    rec.log.clear();
    off.sync(a);
    EXPECT_TRUE(rec.log.empty());
    EXPECT_EQ(off.state().counters.rules_software, 2u);
    EXPECT_EQ(off.state().counters.validate_failures, 1u);

    // now the exemption cannot be created: every policy drop leaves the NIC, blocks stay
    off.forget_failures();
    rec.reject_validate = [](const OffloadRule&) { return false; };
    rec.reject_create = [](const OffloadRule& r) { return r.kind == OffloadRuleKind::kExemptIcmp; };
    off.sync(sample_plan(0, false, 3));  // a new exemption (queue 3), so it is re-created (and fails)
    for (const OffloadRule& r : rec.in_nic) EXPECT_EQ(r.kind, OffloadRuleKind::kBlock) << to_string(r);
    EXPECT_EQ(rec.in_nic.size(), 1u);
    EXPECT_EQ(count_state(off.state(), RuleState::kOffloaded), 1u);
    for (const RuleStatus& s : off.state().rules) {
        if (s.rule.kind == OffloadRuleKind::kPolicyDrop) {
            EXPECT_NE(s.error.find("not installed: exempt-icmp"), std::string::npos) << s.error;
        }
    }
    const std::string d = off.describe();
    EXPECT_NE(d.find("policy in software"), std::string::npos) << d;
    off.flush();
    EXPECT_TRUE(rec.in_nic.empty());
    EXPECT_EQ(off.state().counters.rules_offloaded, 0u);
}

}  // namespace
}  // namespace enidp::acl::test

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    const std::string prefix = "--file-prefix=enidp_offl_" + std::to_string(getpid());
    std::vector<std::string> args{argv[0], "--no-huge", "-m", "256", "--no-pci", prefix, "--lcores", "0@0",
                                  "--log-level", "*:warning"};
    std::vector<char*> eal;
    for (auto& a : args) eal.push_back(a.data());
    if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) {
        fprintf(stderr, "EAL init failed\n");
        return 1;
    }
    int rc;
    {
        enidp::acl::test::TapPort tap;
        if (!tap.ok()) fprintf(stderr, "net_tap port could not be set up (root and /dev/net/tun needed)\n");
        enidp::acl::test::g_tap = &tap;
        rc = RUN_ALL_TESTS();
        enidp::acl::test::g_tap = nullptr;
    }
    rte_eal_cleanup();
    return rc;
}

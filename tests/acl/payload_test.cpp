// Hyperscan PayloadPolicy rules: selection per pod/direction/port, deny/allow/log actions,
// per-worker scratches and compile errors with the pattern. Component suite (the snapshot
// builder needs EAL for rte_acl).
#include <cstring>

#include <gtest/gtest.h>

#include "acl/compiler/dump.hpp"
#include "acl/fastpath/payload.hpp"
#include "tests/acl/netpol_world.hpp"

namespace enidp::acl::test {
namespace {

using Kind = PayloadVerdict::Kind;

PayloadPolicy payload_policy(std::string name, LabelSelector sel, PayloadPolicy::Direction dir,
                             std::vector<PolicyPort> ports, std::vector<std::string> patterns,
                             PayloadPolicy::Action action) {
    PayloadPolicy p;
    p.ns = "x";
    p.name = std::move(name);
    p.pod_selector = std::move(sel);
    p.direction = dir;
    p.ports = std::move(ports);
    p.patterns = std::move(patterns);
    p.action = action;
    return p;
}

struct Built {
    CompiledPolicy compiled;
    BuildResult b;
};

Built build(const World& w, unsigned workers = 2) {
    Built out;
    CompileResult r = compile(w.state, w.local);
    EXPECT_TRUE(r.ok) << r.error;
    out.compiled = std::move(r.policy);
    out.b = SnapshotBuilder::build(out.compiled, 7, {-1, workers});
    return out;
}

PayloadVerdict scan(const PayloadSnapshot& p, uint32_t pod, Direction d, uint8_t proto, uint16_t port,
                    const std::string& data, unsigned worker = 0) {
    return p.scan(worker, pod, d, proto, port, reinterpret_cast<const uint8_t*>(data.data()),
                  static_cast<uint32_t>(data.size()));
}

TEST(AclPayload, NoPatternsNoPayloadSnapshot) {
    World w;
    const Built b = build(w);
    ASSERT_NE(b.b.snapshot, nullptr) << b.b.error;
    EXPECT_EQ(b.b.snapshot->payload(), nullptr);
}

TEST(AclPayload, DenyReflectionSignatureOnUdpIngress) {
    World w;
    // x/a is pod id 0, x/b id 1. A2S_INFO-style query reflection and a memcached "stats".
    w.state.payload_policies.push_back(
        payload_policy("no-reflection", labels({{"pod", "a"}}), PayloadPolicy::Direction::kIngress,
                       {port_range(27015, 27020, Protocol::kUdp)}, {"^\\xff\\xff\\xff\\xffTSource", "^stats\\r\\n"},
                       PayloadPolicy::Action::kDeny));
    const Built b = build(w);
    ASSERT_NE(b.b.snapshot, nullptr) << b.b.error;
    EXPECT_EQ(b.b.snapshot->generation(), 7u);
    const PayloadSnapshot* p = b.b.snapshot->payload();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->pattern_count(), 2u);
    EXPECT_EQ(p->workers(), 2u);

    EXPECT_TRUE(p->needs_scan(0, Direction::kIngress, 17, 27015));
    EXPECT_FALSE(p->needs_scan(0, Direction::kIngress, 17, 27021));  // port outside
    EXPECT_FALSE(p->needs_scan(0, Direction::kIngress, 6, 27015));   // protocol
    EXPECT_FALSE(p->needs_scan(0, Direction::kEgress, 17, 27015));   // direction
    EXPECT_FALSE(p->needs_scan(1, Direction::kIngress, 17, 27015));  // x/b not selected
    EXPECT_FALSE(p->needs_scan(999, Direction::kIngress, 17, 27015));

    const std::string a2s("\xff\xff\xff\xffTSource Engine Query\0", 25);
    PayloadVerdict v = scan(*p, 0, Direction::kIngress, 17, 27016, a2s);
    EXPECT_EQ(v.kind, Kind::kDenied);
    EXPECT_FALSE(v.allowed());
    EXPECT_EQ(p->payload_names()[v.policy], "x/no-reflection");
    EXPECT_EQ(v.pattern, 0u);
    v = scan(*p, 0, Direction::kIngress, 17, 27016, "stats\r\n", 1);  // the other worker's scratch
    EXPECT_EQ(v.kind, Kind::kDenied);
    EXPECT_EQ(v.pattern, 1u);
    EXPECT_EQ(scan(*p, 0, Direction::kIngress, 17, 27016, "hello").kind, Kind::kPass);
    EXPECT_EQ(scan(*p, 1, Direction::kIngress, 17, 27016, a2s).kind, Kind::kNotScanned);
    EXPECT_EQ(scan(*p, 0, Direction::kIngress, 17, 27016, a2s, 5).kind, Kind::kScanError);  // no such worker
}

TEST(AclPayload, AllowListOnTcpWithDenyWinningAndLog) {
    World w;
    const auto both = PayloadPolicy::Direction::kBoth;
    w.state.payload_policies.push_back(
        payload_policy("game-only", {}, both, {port(7777)}, {"^GAME[0-9]"}, PayloadPolicy::Action::kAllow));
    w.state.payload_policies.push_back(
        payload_policy("no-cheat", {}, both, {port(7777)}, {"CHEAT"}, PayloadPolicy::Action::kDeny));
    w.state.payload_policies.push_back(
        payload_policy("log-admin", {}, both, {}, {"admin"}, PayloadPolicy::Action::kLog));
    const Built b = build(w);
    ASSERT_NE(b.b.snapshot, nullptr) << b.b.error;
    const PayloadSnapshot* p = b.b.snapshot->payload();
    ASSERT_NE(p, nullptr);
    for (Direction d : {Direction::kIngress, Direction::kEgress}) {
        EXPECT_EQ(scan(*p, 2, d, 6, 7777, "GAME1 move 3 4").kind, Kind::kPass);
        PayloadVerdict v = scan(*p, 2, d, 6, 7777, "GET / HTTP/1.1");
        EXPECT_EQ(v.kind, Kind::kNoAllowMatch);
        EXPECT_EQ(p->payload_names()[v.policy], "x/game-only");
        v = scan(*p, 2, d, 6, 7777, "GAME1 CHEAT");
        EXPECT_EQ(v.kind, Kind::kDenied);
        EXPECT_EQ(p->payload_names()[v.policy], "x/no-cheat");
        v = scan(*p, 2, d, 6, 7777, "GAME2 admin");
        EXPECT_EQ(v.kind, Kind::kLogged);
        EXPECT_TRUE(v.allowed());
        EXPECT_EQ(scan(*p, 2, d, 6, 80, "GET / admin").kind, Kind::kLogged);  // only log-admin applies on 80
        EXPECT_EQ(scan(*p, 2, d, 6, 80, "GET /").kind, Kind::kPass);
    }
    // Pods of y are not selected (PayloadPolicy selects in its own namespace), nor x/h.
    EXPECT_FALSE(p->needs_scan(3, Direction::kIngress, 6, 7777));
    EXPECT_FALSE(p->needs_scan(9, Direction::kIngress, 6, 7777));
    EXPECT_NE(dump_pod_text(b.compiled, b.compiled.pods[2]).find("payload x/game-only allow ports tcp/7777 patterns 1"),
              std::string::npos);
}

TEST(AclPayload, LongPayloadAndBinaryData) {
    World w;
    w.state.payload_policies.push_back(payload_policy("deep", {}, PayloadPolicy::Direction::kIngress, {},
                                                      {"needle[0-9]{3}"}, PayloadPolicy::Action::kDeny));
    const Built b = build(w, 1);
    ASSERT_NE(b.b.snapshot, nullptr) << b.b.error;
    std::string data(4096, '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
    EXPECT_EQ(scan(*b.b.snapshot->payload(), 0, Direction::kIngress, 17, 1, data).kind, Kind::kPass);
    data.replace(4000, 9, "needle123");
    EXPECT_EQ(scan(*b.b.snapshot->payload(), 0, Direction::kIngress, 17, 1, data).kind, Kind::kDenied);
}

TEST(AclPayload, CompileErrorNamesPolicyPatternAndMessage) {
    World w;
    w.state.payload_policies.push_back(
        payload_policy("ok", {}, PayloadPolicy::Direction::kIngress, {}, {"fine"}, PayloadPolicy::Action::kDeny));
    w.state.payload_policies.push_back(payload_policy("bad", {}, PayloadPolicy::Direction::kIngress, {},
                                                      {"good", "a(b"}, PayloadPolicy::Action::kDeny));
    const Built b = build(w);
    EXPECT_EQ(b.b.snapshot, nullptr);
    EXPECT_NE(b.b.error.find("payloadpolicy x/bad pattern #1 \"a(b\": "), std::string::npos) << b.b.error;
    EXPECT_GT(b.b.error.size(), std::string("payloadpolicy x/bad pattern #1 \"a(b\": ").size());
}

TEST(AclPayload, NamedPortIsRejected) {
    World w;
    w.state.payload_policies.push_back(payload_policy("named", {}, PayloadPolicy::Direction::kIngress,
                                                      {named_port("web")}, {"x"}, PayloadPolicy::Action::kDeny));
    const Built b = build(w);
    EXPECT_EQ(b.b.snapshot, nullptr);
    EXPECT_NE(b.b.error.find("named port \"web\""), std::string::npos) << b.b.error;
}

}  // namespace
}  // namespace enidp::acl::test

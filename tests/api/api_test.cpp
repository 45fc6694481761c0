// control/api unit tests: validation helpers, ControlQueue, and the enidp.v1 service over a
// real unix socket with a fake DataplaneView (the control thread is a test thread draining
// the queue).
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "control/api/control_queue.hpp"
#include "control/api/server.hpp"
#include "control/api/service.hpp"
#include "control/api/validate.hpp"

namespace enidp::api {
namespace {

using namespace std::chrono_literals;

template <class T>
std::string error_of(const Checked<T>& c) {
    const auto* e = std::get_if<FieldError>(&c);
    return e ? e->to_string() : "";
}

TEST(Validate, Ipv4) {
    EXPECT_EQ(parse_ipv4("10.0.0.1"), 0x0a000001u);
    EXPECT_EQ(parse_ipv4("255.255.255.255"), 0xffffffffu);
    for (const char* bad : {"", "10.0.0", "10.0.0.1.2", "10.0.0.256", "010.0.0.1", "a.b.c.d", "10.0.0.1 ", "1..2.3"})
        EXPECT_FALSE(parse_ipv4(bad)) << bad;
    EXPECT_EQ(format_ipv4(0x0a600001u), "10.96.0.1");
}

TEST(Validate, ObjectRef) {
    EXPECT_EQ(error_of(check_object_ref("delete", "", "a", "b")),
              "delete.kind: required (one of " + known_kinds() + ")");
    EXPECT_EQ(
        error_of(check_object_ref("delete", "Deployment", "a", "b")).rfind("delete.kind: \"Deployment\" is not", 0),
        0u);
    EXPECT_EQ(error_of(check_object_ref("get", "Service", "", "web")), "get.namespace: required for a Service");
    EXPECT_EQ(error_of(check_object_ref("get", "Namespace", "x", "web")),
              "get.namespace: must be empty for a Namespace (cluster-scoped)");
    EXPECT_EQ(error_of(check_object_ref("get", "Service", "demo", "")), "get.name: required");
    EXPECT_EQ(error_of(check_object_ref("get", "Service", "demo", "Web")),
              "get.name: \"Web\" is not a valid object name");
    EXPECT_EQ(error_of(check_object_ref("get", "Service", "demo", "web")), "");
    EXPECT_EQ(error_of(check_object_ref("get", "Namespace", "", "demo")), "");
}

TEST(Validate, Trace) {
    v1::TraceRequest r;
    r.set_from("demo/pod-c");
    r.set_to("10.96.0.10");
    r.set_dport(80);
    r.set_protocol(v1::PROTOCOL_TCP);
    auto ok = check_trace(r);
    ASSERT_EQ(error_of(ok), "");
    const auto& q = std::get<TraceQuery>(ok);
    EXPECT_TRUE(q.from.is_pod);
    EXPECT_EQ(q.from.ns, "demo");
    EXPECT_EQ(q.to.ip, 0x0a60000au);
    EXPECT_EQ(q.sport, 40000);
    EXPECT_EQ(q.proto, 6);

    struct Case {
        std::function<void(v1::TraceRequest&)> edit;
        std::string error;
    };
    const Case cases[] = {
        {[](auto& x) { x.set_dport(0); }, "trace.dport: must be 1-65535"},
        {[](auto& x) { x.set_dport(65536); }, "trace.dport: must be 1-65535"},
        {[](auto& x) { x.set_sport(70000); }, "trace.sport: must be 0-65535 (0: 40000)"},
        {[](auto& x) { x.set_protocol(v1::PROTOCOL_UNSPECIFIED); }, "trace.protocol: must be TCP, UDP or SCTP"},
        {[](auto& x) { x.set_protocol(v1::PROTOCOL_ICMP); }, "trace.protocol: must be TCP, UDP or SCTP"},
        {[](auto& x) { x.set_from(""); }, "trace.from: required (namespace/pod or an IPv4 address)"},
        {[](auto& x) { x.set_to("10.96.0"); }, "trace.to: \"10.96.0\" is neither namespace/pod nor an IPv4 address"},
        {[](auto& x) { x.set_from("demo/"); }, "trace.from: \"demo/\" is not namespace/pod"},
    };
    for (const auto& c : cases) {
        v1::TraceRequest x = r;
        c.edit(x);
        EXPECT_EQ(error_of(check_trace(x)), c.error);
    }
}

TEST(Validate, Conntrack) {
    v1::DumpConntrackRequest r;
    auto ok = check_conntrack(r);
    ASSERT_EQ(error_of(ok), "");
    EXPECT_EQ(std::get<ConntrackFilter>(ok).limit, 1000u);
    r.set_state("tcp_established");
    r.set_protocol(v1::PROTOCOL_UDP);
    r.set_src_ip("10.0.0.12");
    auto f = std::get<ConntrackFilter>(check_conntrack(r));
    EXPECT_EQ(f.state, 2);
    EXPECT_EQ(f.proto, 17);
    EXPECT_EQ(*f.src, 0x0a00000cu);

    v1::DumpConntrackRequest bad;
    bad.set_state("open");
    EXPECT_EQ(error_of(check_conntrack(bad)).rfind("conntrack.state: \"open\" is not one of tcp_syn_sent", 0), 0u);
    bad = {};
    bad.set_dst_ip("x");
    EXPECT_EQ(error_of(check_conntrack(bad)), "conntrack.dst_ip: \"x\" is not an IPv4 address");
    bad = {};
    bad.set_port(65536);
    EXPECT_EQ(error_of(check_conntrack(bad)), "conntrack.port: must be 0-65535 (0: any)");
    bad = {};
    bad.set_limit(kMaxConntrackLimit + 1);
    EXPECT_EQ(error_of(check_conntrack(bad)), "conntrack.limit: must be 0-100000 (0: 1000)");
}

TEST(Validate, NodeSettingsUpdate) {
    v1::UpdateNodeSettingsRequest r;
    EXPECT_EQ(error_of(check_node_settings_update(r)), "update_mask: name at least one field to change");
    r.mutable_settings()->set_zone("zone-b");
    r.mutable_settings()->add_node_ips("10.0.0.12");
    r.mutable_settings()->add_node_ips("192.168.1.5");
    r.mutable_settings()->mutable_lb()->set_min_sync_period_ms(250);
    r.mutable_settings()->mutable_policy()->set_log_allow_one_in(0);
    r.mutable_settings()->mutable_lb()->set_maglev_table_size(7);  // not named: ignored
    for (const char* p : {"zone", "node_ips", "lb.min_sync_period_ms", "policy.log_allow_one_in"})
        r.mutable_update_mask()->add_paths(p);
    auto ok = check_node_settings_update(r);
    ASSERT_EQ(error_of(ok), "");
    const auto& c = std::get<reconcile::NodeSettingsChange>(ok);
    EXPECT_EQ(*c.zone, "zone-b");
    EXPECT_EQ(*c.node_ips, (std::vector<uint32_t>{0x0a00000cu, 0xc0a80105u}));
    EXPECT_EQ(*c.min_sync_period_ms, 250u);
    EXPECT_EQ(*c.log_allow_one_in, 0u);
    EXPECT_FALSE(c.log_denies_per_second.has_value());

    // An empty list is a valid change (the node serves NodePorts on no address).
    v1::UpdateNodeSettingsRequest none;
    none.mutable_update_mask()->add_paths("node_ips");
    EXPECT_TRUE(std::get<reconcile::NodeSettingsChange>(check_node_settings_update(none)).node_ips->empty());

    struct Case {
        const char* path;
        std::function<void(v1::NodeSettings&)> set;
        const char* error;
    };
    const Case cases[] = {
        {"node_ips", [](v1::NodeSettings& s) { s.add_node_ips("10.0.0.x"); },
         "settings.node_ips[0]: \"10.0.0.x\" is not an IPv4 address"},
        {"node_ips", [](v1::NodeSettings& s) { s.add_node_ips("10.0.0.1"), s.add_node_ips("224.0.0.1"); },
         "settings.node_ips[1]: 224.0.0.1 is not a unicast node address"},
        {"node_ips", [](v1::NodeSettings& s) { s.add_node_ips("10.0.0.1"), s.add_node_ips("10.0.0.1"); },
         "settings.node_ips[1]: 10.0.0.1 is listed twice"},
        {"zone", [](v1::NodeSettings& s) { s.set_zone("-zone"); },
         "settings.zone: \"-zone\" is not a label value (at most 63 of [A-Za-z0-9._-], alphanumeric at both ends)"},
        {"lb.min_sync_period_ms", [](v1::NodeSettings& s) { s.mutable_lb()->set_min_sync_period_ms(60001); },
         "settings.lb.min_sync_period_ms: must be 0-60000"},
        {"lb.maglev_table_size", [](v1::NodeSettings&) {},
         "update_mask.paths[0]: lb.maglev_table_size cannot change while the daemon runs (set it in the config file "
         "and restart)"},
        {"node_name", [](v1::NodeSettings&) {},
         "update_mask.paths[0]: node_name cannot change while the daemon runs (set it in the config file and "
         "restart)"},
        {"lb", [](v1::NodeSettings&) {}, "update_mask.paths[0]: name the fields of lb one by one (e.g. lb.min_sync_period_ms)"},
        {"nodeIPs", [](v1::NodeSettings&) {},
         "update_mask.paths[0]: unknown field \"nodeIPs\" (changeable: zone, node_ips, lb.min_sync_period_ms, "
         "policy.log_allow_one_in, policy.log_denies_per_second)"},
    };
    for (const Case& c : cases) {
        v1::UpdateNodeSettingsRequest bad;
        c.set(*bad.mutable_settings());
        bad.mutable_update_mask()->add_paths(c.path);
        EXPECT_EQ(error_of(check_node_settings_update(bad)), c.error) << c.path;
    }
}

constexpr const char* kService = R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"demo"},
  "spec":{"clusterIP":"10.96.0.10","ports":[{"port":80,"protocol":"TCP"}]}})";

TEST(Decode, NamesTheObjectAndItsLine) {
    v1::ApplyObjectsRequest req;
    EXPECT_EQ(error_of(decode_objects(req)), "objects: at least one object is required");
    req.add_objects()->set_text(kService);
    auto* second = req.add_objects();
    second->set_text("{not json");
    second->set_file("svc.yaml");
    EXPECT_EQ(error_of(decode_objects(req)).rfind("objects[1]: svc.yaml", 0), 0u) << error_of(decode_objects(req));
    second->set_text("   ");
    EXPECT_EQ(error_of(decode_objects(req)), "objects[1].text: required");
    second->set_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n");
    second->set_line(10);
    auto ok = decode_objects(req);
    ASSERT_EQ(error_of(ok), "");
    const auto& d = std::get<DecodedObjects>(ok);
    ASSERT_EQ(d.objects.size(), 2u);
    EXPECT_EQ(d.index[1], 1u);
    EXPECT_EQ(d.objects[1].line, 10);
    EXPECT_EQ(d.objects[1].file, "svc.yaml");
}

TEST(ControlQueue, RunsOnTheDrainingThreadAndWakesIt) {
    ControlQueue q;
    std::atomic<bool> stop{false};
    std::thread::id control_id;
    std::thread control([&] {
        control_id = std::this_thread::get_id();
        while (!stop) {
            q.wait_until(ControlQueue::Clock::now() + 10s);  // only a task or notify() wakes it in time
            q.run_pending();
        }
    });
    for (int i = 0; i < 20; i++) {
        std::thread::id ran_on;
        int out = 0;
        const auto t0 = std::chrono::steady_clock::now();
        ASSERT_EQ(q.call<int>(
                      [&] {
                          ran_on = std::this_thread::get_id();
                          return i * 2;
                      },
                      2s, out),
                  CallStatus::kOk);
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
        EXPECT_EQ(out, i * 2);
        EXPECT_EQ(ran_on, control_id);
    }
    stop = true;
    q.notify();
    control.join();
}

TEST(ControlQueue, ATaskThatThrowsFailsItsCallOnly) {
    ControlQueue q;
    std::thread control([&] {
        while (q.pending() == 0) std::this_thread::sleep_for(1ms);
        q.run_pending();
    });
    int out = 0;
    EXPECT_EQ(q.call<int>([]() -> int { throw std::runtime_error("boom"); }, 5s, out), CallStatus::kFailed);
    control.join();
}

TEST(ControlQueue, TimeoutSkipsTheTaskAndCloseReleasesCallers) {
    ControlQueue q;
    bool ran = false;
    int out = 0;
    EXPECT_EQ(q.call<int>(
                  [&] {
                      ran = true;
                      return 1;
                  },
                  50ms, out),
              CallStatus::kTimeout);
    EXPECT_EQ(q.run_pending(), 0u);  // the timed-out task is skipped
    EXPECT_FALSE(ran);

    std::thread caller([&] {
        int o = 0;
        EXPECT_EQ(q.call<int>([] { return 1; }, 10s, o), CallStatus::kClosed);
    });
    while (q.pending() == 0) std::this_thread::sleep_for(1ms);
    q.close();
    caller.join();
    EXPECT_EQ(q.call<int>([] { return 1; }, 10s, out), CallStatus::kClosed);
    // wait_until returns at once after close.
    const auto t0 = std::chrono::steady_clock::now();
    q.wait_until(ControlQueue::Clock::now() + 5s);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

// A data path that answers from fixed values, and says on which thread it was asked.
class FakeView final : public DataplaneView {
public:
    void stats(v1::GetStatsResponse& out) override {
        check();
        out.set_counters_json("{}");
        out.set_workers(1);
    }
    void dump_services(v1::DumpFormat f, v1::DumpServicesResponse& out) override {
        check();
        out.set_dump(f == v1::DUMP_FORMAT_JSON ? "[]" : "");
    }
    void dump_conntrack(const ConntrackFilter& f, v1::DumpConntrackResponse& out) override {
        check();
        out.set_matched(f.limit);
    }
    std::string trace(const TraceQuery& q, v1::TraceResponse& out) override {
        check();
        if (q.from.is_pod) return "trace.from: pod " + q.from.to_string() + " is unknown";
        out.set_verdict(v1::VERDICT_FORWARD);
        return "";
    }
    uint64_t realized_generation() override {
        check();
        return realized;
    }
    void dump_ports(v1::DumpPortsResponse& out) override {
        check();
        out.add_enis()->set_name("eni-a");
    }
    bool node_settings(v1::NodeSettings& out) override {
        check();
        out.set_zone(zone);
        return true;
    }
    bool update_node_settings(const reconcile::NodeSettingsChange& c, v1::NodeSettings& out) override {
        check();
        if (c.zone) zone = *c.zone;
        ++updates;
        return node_settings(out);
    }
    void check() { EXPECT_EQ(std::this_thread::get_id(), control); }
    std::thread::id control;
    uint64_t realized = 0;
    std::string zone = "zone-a";
    int updates = 0;
};

class Api : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = "/tmp/enidp-api-test-" + std::to_string(::getpid());
        path_ = dir_ + "/sub/enidp.sock";
        ASSERT_EQ(server_.start(path_, service_), "");
        control_ = std::thread([this] {
            view_.control = std::this_thread::get_id();
            while (!stop_) {
                queue_.wait_until(ControlQueue::Clock::now() + 100ms);
                view_.realized = store_.generation();  // the "reconciler"
                queue_.run_pending();
            }
        });
        stub_ = v1::Enidp::NewStub(grpc::CreateChannel("unix:" + path_, grpc::InsecureChannelCredentials()));
    }
    void TearDown() override {
        stop_ = true;
        queue_.close();
        control_.join();
        server_.stop();
        std::filesystem::remove_all(dir_);
    }
    template <class Req, class Resp, class M>
    grpc::Status call(M m, const Req& req, Resp& resp) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 5s);
        return ((*stub_).*m)(&ctx, req, &resp);
    }

    objects::Store store_;
    ControlQueue queue_;
    FakeView view_;
    Service service_{store_, queue_, view_};
    Server server_;
    std::string dir_, path_;
    std::atomic<bool> stop_{false};
    std::thread control_;
    std::unique_ptr<v1::Enidp::Stub> stub_;
};

TEST_F(Api, SocketIsRootOnly) {
    struct stat st {};
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    // A second server on a served socket refuses rather than stealing it.
    Server other;
    EXPECT_EQ(other.start(path_, service_), path_ + " is served by another process");
}

TEST_F(Api, ApplyGetListDelete) {
    v1::ApplyObjectsRequest req;
    req.add_objects()->set_text(kService);
    v1::ApplyObjectsResponse ar;
    ASSERT_TRUE(call(&v1::Enidp::Stub::ApplyObjects, req, ar).ok());
    EXPECT_TRUE(ar.changed());
    EXPECT_EQ(ar.generation(), 1u);

    v1::GetObjectRequest g;
    g.set_kind("Service");
    g.set_namespace_("demo");
    g.set_name("web");
    v1::GetObjectResponse gr;
    ASSERT_TRUE(call(&v1::Enidp::Stub::GetObject, g, gr).ok());
    EXPECT_EQ(gr.object().source(), "grpc");
    EXPECT_NE(gr.object().json().find("10.96.0.10"), std::string::npos);

    v1::GetGenerationsResponse gen;
    ASSERT_TRUE(call(&v1::Enidp::Stub::GetGenerations, v1::GetGenerationsRequest{}, gen).ok());
    EXPECT_EQ(gen.desired(), 1u);
    EXPECT_EQ(gen.realized(), 1u);

    v1::DeleteObjectRequest d;
    d.set_kind("Service");
    d.set_namespace_("demo");
    d.set_name("web");
    v1::DeleteObjectResponse dr;
    ASSERT_TRUE(call(&v1::Enidp::Stub::DeleteObject, d, dr).ok());
    auto again = call(&v1::Enidp::Stub::DeleteObject, d, dr);
    EXPECT_EQ(again.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(again.error_message(), "Service demo/web not found");
    v1::ListObjectsRequest l;
    l.set_kind("Service");
    v1::ListObjectsResponse lr;
    ASSERT_TRUE(call(&v1::Enidp::Stub::ListObjects, l, lr).ok());
    EXPECT_EQ(lr.objects_size(), 0);
}

TEST_F(Api, InvalidRequestsNameTheFieldAndChangeNothing) {
    v1::ApplyObjectsRequest req;
    req.add_objects()->set_text(kService);
    std::string bad = R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"db","namespace":"demo"},
      "spec":{"clusterIP":"10.96.0.11","ports":[{"port":800000,"protocol":"TCP"}]}})";
    auto* o = req.add_objects();
    o->set_text(bad);
    o->set_file("svc.yaml");
    o->set_line(7);
    (*o->mutable_field_lines())["/spec/ports/0/port"] = 12;
    v1::ApplyObjectsResponse ar;
    auto s = call(&v1::Enidp::Stub::ApplyObjects, req, ar);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "objects[1]: svc.yaml:12: Service demo/db: spec.ports[0].port: must be 1-65535");
    EXPECT_EQ(store_.generation(), 0u);  // all or nothing

    v1::TraceRequest t;
    t.set_from("10.0.0.1");
    t.set_to("10.96.0.10");
    t.set_protocol(v1::PROTOCOL_TCP);
    v1::TraceResponse tr;
    s = call(&v1::Enidp::Stub::Trace, t, tr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "trace.dport: must be 1-65535");
    t.set_dport(80);
    ASSERT_TRUE(call(&v1::Enidp::Stub::Trace, t, tr).ok());
    EXPECT_EQ(tr.verdict(), v1::VERDICT_FORWARD);
    t.set_from("demo/ghost");
    s = call(&v1::Enidp::Stub::Trace, t, tr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

    v1::DumpServicesResponse dr;
    s = call(&v1::Enidp::Stub::DumpServices, v1::DumpServicesRequest{}, dr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "services.format: must be DUMP_FORMAT_TEXT or DUMP_FORMAT_JSON");

    v1::ListObjectsRequest l;
    v1::ListObjectsResponse lr;
    s = call(&v1::Enidp::Stub::ListObjects, l, lr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message().rfind("list.kind: required", 0), 0u);
}

TEST_F(Api, NodeSettingsAndPorts) {
    v1::NodeSettings ns;
    ASSERT_TRUE(call(&v1::Enidp::Stub::GetNodeSettings, v1::GetNodeSettingsRequest{}, ns).ok());
    EXPECT_EQ(ns.zone(), "zone-a");
    v1::UpdateNodeSettingsRequest u;
    u.mutable_settings()->set_zone("zone-b");
    u.mutable_update_mask()->add_paths("zone");
    u.mutable_update_mask()->add_paths("policy.offload");
    auto s = call(&v1::Enidp::Stub::UpdateNodeSettings, u, ns);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(),
              "update_mask.paths[1]: policy.offload cannot change while the daemon runs (set it in the config file "
              "and restart)");
    EXPECT_EQ(view_.updates, 0);  // all or nothing: the valid zone was not applied either
    u.mutable_update_mask()->mutable_paths()->RemoveLast();
    ASSERT_TRUE(call(&v1::Enidp::Stub::UpdateNodeSettings, u, ns).ok());
    EXPECT_EQ(ns.zone(), "zone-b");
    EXPECT_EQ(view_.updates, 1);
    v1::DumpPortsResponse pr;
    ASSERT_TRUE(call(&v1::Enidp::Stub::DumpPorts, v1::DumpPortsRequest{}, pr).ok());
    ASSERT_EQ(pr.enis_size(), 1);
    EXPECT_EQ(pr.enis(0).name(), "eni-a");
}

// GetGenerations' wait_for_realized: answered by the gRPC thread once the control loop
// publishes the generation (GenerationWatch), without a call on the control thread.
TEST_F(Api, WaitForRealizedReturnsOnceTheControlLoopPublishesIt) {
    v1::GetGenerationsRequest g;
    v1::GetGenerationsResponse gr;
    g.set_wait_for_realized(1);
    v1::ApplyObjectsRequest req;
    req.add_objects()->set_text(kService);
    v1::ApplyObjectsResponse ar;
    ASSERT_TRUE(call(&v1::Enidp::Stub::ApplyObjects, req, ar).ok());
    ASSERT_EQ(ar.generation(), 1u);
    // Until the control loop marks the watch live, waits are not served.
    EXPECT_EQ(call(&v1::Enidp::Stub::GetGenerations, g, gr).error_code(), grpc::StatusCode::UNIMPLEMENTED);
    service_.generations().mark_live();

    // Realized 200 ms later, by a "reconciler" that is not the control thread.
    std::thread publisher([this] {
        std::this_thread::sleep_for(200ms);
        service_.generations().set(1);
    });
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(call(&v1::Enidp::Stub::GetGenerations, g, gr).ok());
    const auto waited = std::chrono::steady_clock::now() - t0;
    publisher.join();
    EXPECT_EQ(gr.realized(), 1u);
    EXPECT_EQ(gr.desired(), 1u);
    EXPECT_GE(waited, 150ms);
    EXPECT_LT(waited, 3s);

    // Already realized: at once. A timeout that passes first returns what is realized.
    ASSERT_TRUE(call(&v1::Enidp::Stub::GetGenerations, g, gr).ok());
    EXPECT_EQ(gr.realized(), 1u);
    ASSERT_TRUE(call(&v1::Enidp::Stub::ApplyObjects, req, ar).ok());  // unchanged: generation stays 1
    std::string other = kService;
    other.replace(other.find("10.96.0.10"), 10, "10.96.0.20");
    req.mutable_objects(0)->set_text(other);
    ASSERT_TRUE(call(&v1::Enidp::Stub::ApplyObjects, req, ar).ok());
    ASSERT_EQ(ar.generation(), 2u);
    g.set_wait_for_realized(2);
    g.set_timeout_ms(100);
    ASSERT_TRUE(call(&v1::Enidp::Stub::GetGenerations, g, gr).ok());
    EXPECT_EQ(gr.realized(), 1u);
    EXPECT_EQ(gr.desired(), 2u);

    // Bad requests name the field.
    g.set_timeout_ms(60001);
    auto s = call(&v1::Enidp::Stub::GetGenerations, g, gr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "generations.timeout_ms: must be 0-60000");
    g.set_timeout_ms(0);
    g.set_wait_for_realized(3);
    s = call(&v1::Enidp::Stub::GetGenerations, g, gr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "generations.wait_for_realized: generation 3 is ahead of the store's (2)");
}

TEST_F(Api, DataPathReadsRunOnTheControlThread) {
    v1::GetStatsResponse st;
    ASSERT_TRUE(call(&v1::Enidp::Stub::GetStats, v1::GetStatsRequest{}, st).ok());
    EXPECT_EQ(st.workers(), 1u);
    v1::DumpConntrackRequest c;
    v1::DumpConntrackResponse cr;
    ASSERT_TRUE(call(&v1::Enidp::Stub::DumpConntrack, c, cr).ok());
    EXPECT_EQ(cr.matched(), 1000u);
}

TEST(ApiServer, DeadlineWhenTheControlThreadIsBusy) {
    objects::Store store;
    ControlQueue queue;
    FakeView view;
    Service service(store, queue, view, 100ms);
    v1::GetStatsResponse resp;
    grpc::ServerContext ctx;
    // Nobody drains the queue.
    auto s = service.GetStats(&ctx, nullptr, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_EQ(queue.run_pending(), 0u);
}

}  // namespace
}  // namespace enidp::api

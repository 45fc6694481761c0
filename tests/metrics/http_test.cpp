// control/metrics HttpServer over real sockets on 127.0.0.1 (ephemeral port): /metrics,
// /healthz with a fresh and a stale heartbeat, /readyz before and after, a port in use.
#include "control/metrics/http.hpp"

#include <atomic>
#include <thread>

#include <httplib.h>
#include <gtest/gtest.h>

#include "tests/metrics/exposition.hpp"

namespace enidp::metrics {
namespace {

using namespace std::chrono_literals;

// A clock the test moves by hand.
struct FakeClock {
    std::atomic<int64_t> ns{1'000'000'000};
    std::chrono::steady_clock::time_point now() const {
        return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns.load()));
    }
    void advance(std::chrono::nanoseconds d) { ns += d.count(); }
};

class HttpTest : public ::testing::Test {
protected:
    void SetUp() override {
        HttpOptions o;
        o.port = 0;
        o.clock = [this] { return clock_.now(); };
        server_ = std::make_unique<HttpServer>(metrics_, o);
        ASSERT_EQ(server_->start(), "");
        ASSERT_NE(server_->port(), 0);
        client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
        client_->set_connection_timeout(2);
        client_->set_read_timeout(5);
    }

    httplib::Result get(const std::string& path) { return client_->Get(path.c_str()); }

    FakeClock clock_;
    Metrics metrics_;
    std::unique_ptr<HttpServer> server_;
    std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpTest, MetricsServesTheRegistry) {
    dp::DataplaneCounters c;
    c.drops[static_cast<size_t>(dp::Drop::kTxFull)] = 42;
    c.lb.conntrack.flows = 9;
    metrics_.update(c);
    auto r = get("/metrics");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    auto v = test::parse_exposition(r->body);
    EXPECT_EQ(v[R"(enidp_drops_total{reason="tx_full"})"], 42);
    EXPECT_EQ(v["enidp_conntrack_flows"], 9);
    EXPECT_EQ(r->body, metrics_.text());

    auto missing = get("/nope");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
}

TEST_F(HttpTest, HealthzFollowsTheHeartbeat) {
    auto r = get("/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_NE(r->body.find("not ticked yet"), std::string::npos) << r->body;

    server_->heartbeat();
    r = get("/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok\n");
    auto head = client_->Head("/healthz");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);

    clock_.advance(4900ms);
    r = get("/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);

    clock_.advance(1300ms);  // 6.2 s since the last tick
    r = get("/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_NE(r->body.find("last tick 6.200 s ago (limit 5.000 s)"), std::string::npos) << r->body;
    EXPECT_FALSE(server_->alive());

    server_->heartbeat();
    r = get("/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(HttpTest, ReadyzBeforeAndAfter) {
    auto r = get("/readyz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_NE(r->body.find("not ready"), std::string::npos) << r->body;

    server_->set_ready(true);
    r = get("/readyz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok\n");

    server_->set_ready(false, "shutting down");
    r = get("/readyz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->body, "shutting down\n");
}

TEST_F(HttpTest, PortInUseIsAnError) {
    HttpOptions o;
    o.port = server_->port();
    HttpServer second(metrics_, o);
    const std::string error = second.start();
    EXPECT_NE(error.find("cannot listen on 127.0.0.1:" + std::to_string(o.port)), std::string::npos) << error;
    EXPECT_NE(error.find("in use"), std::string::npos) << error;
    EXPECT_EQ(second.port(), 0);
    second.stop();  // harmless

    auto r = get("/metrics");  // the first one still serves
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(HttpTest, BadAddressIsAnError) {
    HttpOptions o;
    o.address = "192.0.2.1";  // TEST-NET-1: not an address of this host
    o.port = 0;
    HttpServer other(metrics_, o);
    const std::string error = other.start();
    EXPECT_NE(error.find("cannot listen on 192.0.2.1:0"), std::string::npos) << error;
}

TEST_F(HttpTest, StopsAndRestarts) {
    server_->stop();
    server_->stop();
    EXPECT_FALSE(get("/metrics"));
    // Listening again (same options: a new ephemeral port).
    ASSERT_EQ(server_->start(), "");
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    auto r = get("/metrics");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(HttpTest, ScrapesWhileTheControlThreadUpdates) {
    std::atomic<bool> done{false};
    std::thread updater([&] {
        dp::DataplaneCounters c;
        c.ports.resize(1);
        for (uint64_t i = 1; !done; i++) {
            c.drops[0] = i;
            c.ports[0].rx_packets = i;
            c.ports[0].owner = (i % 2) ? "a" : "b";  // series come and go
            metrics_.update(c);
            metrics_.observe(0.001 * static_cast<double>(i % 100));
            server_->heartbeat();
        }
    });
    double last = 0;
    for (int i = 0; i < 50; i++) {
        auto r = get("/metrics");
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200);
        const double now = test::parse_exposition(r->body)[R"(enidp_drops_total{reason="l2_truncated"})"];
        EXPECT_GE(now, last);
        last = now;
    }
    done = true;
    updater.join();
    EXPECT_GT(last, 0);
}

}  // namespace
}  // namespace enidp::metrics

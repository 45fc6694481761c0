// control/metrics HealthChecks: kube-proxy's healthCheckNodePort answers over real sockets
// (200/503, body, headers), listeners added and removed by update(), an unbindable port
// reported while the others keep answering.
#include "control/metrics/health_check.hpp"

#include <atomic>

#include <httplib.h>
#include <gtest/gtest.h>

#include "tests/metrics/exposition.hpp"

namespace enidp::metrics {
namespace {

httplib::Result get(uint16_t port, const std::string& path = "/") {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(2);
    c.set_read_timeout(5);
    return c.Get(path.c_str());
}

std::string body(const std::string& ns, const std::string& name, int n, bool healthy = true) {
    return R"({"service":{"namespace":")" + ns + R"(","name":")" + name + R"("},"localEndpoints":)" +
           std::to_string(n) + R"(,"serviceProxyHealthy":)" + (healthy ? "true" : "false") + "}";
}

TEST(HealthCheckAnswer, MatchesKubeProxy) {
    auto a = health_check_answer({"prod", "web", 3}, true);
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, body("prod", "web", 3));
    a = health_check_answer({"prod", "web", 0}, true);
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.body, body("prod", "web", 0));
    // Endpoints but an unhealthy proxy: kube-proxy answers 503.
    a = health_check_answer({"prod", "web", 2}, false);
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.body, body("prod", "web", 2, false));
    // Names are JSON-escaped.
    a = health_check_answer({"n\"s", "a\\b", 1}, true);
    EXPECT_EQ(a.body,
              R"({"service":{"namespace":"n\"s","name":"a\\b"},"localEndpoints":1,"serviceProxyHealthy":true})");
}

TEST(HealthChecks, AnswersAnyPathWithKubeProxyHeaders) {
    HealthChecks hc;
    const uint16_t p1 = test::free_port(), p2 = test::free_port();
    ASSERT_NE(p1, p2);
    auto errors = hc.update({{p1, {"prod", "web", 2}}, {p2, {"prod", "batch", 0}}});
    ASSERT_TRUE(errors.empty()) << errors[0];
    EXPECT_EQ(hc.ports(), (std::vector<uint16_t>{std::min(p1, p2), std::max(p1, p2)}));

    for (const char* path : {"/", "/healthz", "/any/thing?x=1"}) {
        auto r = get(p1, path);
        ASSERT_TRUE(r) << path << ": " << httplib::to_string(r.error());
        EXPECT_EQ(r->status, 200) << path;
        EXPECT_EQ(r->body, body("prod", "web", 2));
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
        EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
    }
    httplib::Client c("127.0.0.1", p1);
    auto head = c.Head("/");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->get_header_value("Content-Type"), "application/json");
    auto post = c.Post("/", "", "text/plain");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 200);
    EXPECT_EQ(post->body, body("prod", "web", 2));

    auto r = get(p2);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->body, body("prod", "batch", 0));
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST(HealthChecks, UpdateAddsRemovesAndKeepsListeners) {
    HealthChecks hc;
    const uint16_t p1 = test::free_port(), p2 = test::free_port();
    ASSERT_TRUE(hc.update({{p1, {"prod", "web", 1}}}).empty());
    auto r = get(p1);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(get(p2));

    // p1 stays (its endpoint count drops to 0), p2 appears.
    ASSERT_TRUE(hc.update({{p1, {"prod", "web", 0}}, {p2, {"prod", "api", 4}}}).empty());
    r = get(p1);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->body, body("prod", "web", 0));
    r = get(p2);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, body("prod", "api", 4));

    // p1 goes: its port is closed; p2 keeps answering.
    ASSERT_TRUE(hc.update({{p2, {"prod", "api", 3}}}).empty());
    EXPECT_FALSE(get(p1));
    r = get(p2);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, body("prod", "api", 3));
    EXPECT_EQ(hc.ports(), std::vector<uint16_t>{p2});

    // Everything goes.
    ASSERT_TRUE(hc.update({}).empty());
    EXPECT_FALSE(get(p2));
    EXPECT_TRUE(hc.ports().empty());
}

TEST(HealthChecks, UnbindablePortIsReportedOthersWork) {
    HealthChecks hc;
    const uint16_t good = test::free_port(), taken = test::free_port();
    auto holder = std::make_unique<test::PortHolder>(taken);
    ASSERT_TRUE(holder->ok());

    auto errors = hc.update({{good, {"prod", "web", 1}}, {taken, {"prod", "db", 1}}});
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find("healthCheckNodePort " + std::to_string(taken) + " (prod/db)"), std::string::npos)
        << errors[0];
    EXPECT_NE(errors[0].find("in use"), std::string::npos) << errors[0];
    EXPECT_EQ(hc.ports(), std::vector<uint16_t>{good});
    auto r = get(good);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);

    // Port 0 is no healthCheckNodePort.
    errors = hc.update({{good, {"prod", "web", 1}}, {0, {"prod", "zero", 1}}});
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0], "healthCheckNodePort 0 (prod/zero): not a port");
    EXPECT_EQ(hc.ports(), std::vector<uint16_t>{good});

    // Freed: the next update opens it.
    holder.reset();
    errors = hc.update({{good, {"prod", "web", 1}}, {taken, {"prod", "db", 1}}});
    EXPECT_TRUE(errors.empty());
    r = get(taken);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, body("prod", "db", 1));
}

TEST(HealthChecks, UnhealthyProxyAnswers503) {
    std::atomic<bool> healthy{false};
    HealthChecks hc({.address = "127.0.0.1", .proxy_healthy = [&] { return healthy.load(); }});
    const uint16_t p = test::free_port();
    ASSERT_TRUE(hc.update({{p, {"prod", "web", 2}}}).empty());
    auto r = get(p);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->body, body("prod", "web", 2, false));
    healthy = true;
    r = get(p);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    hc.stop();
    EXPECT_FALSE(get(p));
}

}  // namespace
}  // namespace enidp::metrics

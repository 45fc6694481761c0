#include "control/metrics/http.hpp"

#include <cinttypes>
#include <cstdio>
#include <limits>

#include "control/metrics/listener.hpp"

namespace enidp::metrics {

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::min();
constexpr const char* kDefaultNotReady = "not ready: workers not started or no Service table published yet";

int64_t to_ns(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void answer(httplib::Response& res, bool ok, const std::string& text) {
    res.status = ok ? 200 : 503;
    res.set_content(text + "\n", "text/plain; charset=utf-8");
}

}  // namespace

HttpServer::HttpServer(const Metrics& metrics, HttpOptions options)
    : metrics_(metrics), options_(std::move(options)), last_heartbeat_ns_(kNever) {
    if (!options_.clock) options_.clock = std::chrono::steady_clock::now;
}

HttpServer::~HttpServer() { stop(); }

std::string HttpServer::start() {
    if (listener_) return "the metrics server is already running on port " + std::to_string(listener_->port());
    auto server = std::make_unique<httplib::Server>();
    server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics_.text(), "text/plain; version=0.0.4; charset=utf-8");
    });
    server->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
        std::string why;
        const bool ok = alive(&why);
        answer(res, ok, ok ? "ok" : why);
    });
    server->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
        std::string why;
        const bool ok = ready(&why);
        answer(res, ok, ok ? "ok" : why);
    });
    // Two threads: a scrape and a probe at once; more is never needed on a node.
    auto listener = std::make_unique<detail::Listener>(std::move(server), detail::ListenerOptions{.workers = 2});
    std::string error = listener->start(options_.address, options_.port);
    if (!error.empty()) return error;
    listener_ = std::move(listener);
    return "";
}

void HttpServer::stop() {
    if (!listener_) return;
    listener_->stop();
    listener_.reset();
}

uint16_t HttpServer::port() const { return listener_ ? listener_->port() : 0; }

void HttpServer::heartbeat() { last_heartbeat_ns_.store(to_ns(options_.clock()), std::memory_order_release); }

void HttpServer::set_ready(bool ready, std::string reason) {
    std::lock_guard lock(ready_mu_);
    ready_ = ready;
    not_ready_reason_ = std::move(reason);
}

bool HttpServer::alive(std::string* why) const {
    const int64_t last = last_heartbeat_ns_.load(std::memory_order_acquire);
    if (last == kNever) {
        if (why) *why = "control loop has not ticked yet";
        return false;
    }
    const int64_t age_ns = to_ns(options_.clock()) - last;
    const int64_t limit_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.heartbeat_timeout).count();
    if (age_ns <= limit_ns) return true;
    if (why) {
        char text[128];
        std::snprintf(text, sizeof text, "control loop stalled: last tick %.3f s ago (limit %.3f s)",
                      static_cast<double>(age_ns) / 1e9, static_cast<double>(limit_ns) / 1e9);
        *why = text;
    }
    return false;
}

bool HttpServer::ready(std::string* why) const {
    std::lock_guard lock(ready_mu_);
    if (ready_) return true;
    if (why) *why = not_ready_reason_.empty() ? kDefaultNotReady : not_ready_reason_;
    return false;
}

}  // namespace enidp::metrics

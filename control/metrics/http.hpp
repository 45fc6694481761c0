// The daemon's HTTP endpoint: /metrics (Prometheus text), /healthz (liveness: the control
// loop has ticked recently) and /readyz (readiness: set by the daemon once it forwards).
// cpp-httplib on its own thread; see docs/metrics.md.
//
// Who may call: start() and stop() from one thread (the daemon's control thread);
// heartbeat(), set_ready(), alive() from any thread. The handlers run on the server's
// threads and only read atomics, a small locked string and Metrics::text().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "control/metrics/metrics.hpp"

namespace enidp::metrics {

namespace detail {
class Listener;
}

struct HttpOptions {
    std::string address = "127.0.0.1";
    uint16_t port = 9310;  // 0: any free port (tests); port() tells which
    // /healthz answers 503 when the last heartbeat is older than this.
    std::chrono::milliseconds heartbeat_timeout{5000};
    // The clock heartbeats are measured with; tests inject their own.
    std::function<std::chrono::steady_clock::time_point()> clock = std::chrono::steady_clock::now;
};

class HttpServer {
public:
    // `metrics` must outlive the server.
    explicit HttpServer(const Metrics& metrics, HttpOptions options = {});
    ~HttpServer();  // stop()
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and starts serving. Returns "" or an error such as
    // "cannot listen on 127.0.0.1:9310: Address already in use"; nothing is left running
    // on error. Ignores SIGPIPE when its disposition is the default (see listener.cpp).
    std::string start();
    // Stops serving; waits for requests in progress. Safe to call twice or before start().
    void stop();
    // The bound port (after a successful start()).
    uint16_t port() const;

    // The control loop calls this on every tick.
    void heartbeat();
    // /readyz: 200 while `ready`; otherwise 503 with `reason` (or a default one).
    void set_ready(bool ready, std::string reason = {});

    // What /healthz reports: a heartbeat within heartbeat_timeout. `why` gets the 503 text.
    bool alive(std::string* why = nullptr) const;
    bool ready(std::string* why = nullptr) const;

private:
    const Metrics& metrics_;
    HttpOptions options_;
    std::unique_ptr<detail::Listener> listener_;
    std::atomic<int64_t> last_heartbeat_ns_;  // clock time since its epoch; kNever before the first
    mutable std::mutex ready_mu_;
    bool ready_ = false;
    std::string not_ready_reason_;
};

}  // namespace enidp::metrics

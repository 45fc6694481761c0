// One cpp-httplib server on its own thread: bind, serve, stop. Internal to control/metrics
// (http.cpp, health_check.cpp); nothing outside this folder includes it.
//
// Who may call: one owning thread calls start() and stop(); the handlers registered on the
// server run on the listener's threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <httplib.h>

namespace enidp::metrics::detail {

struct ListenerOptions {
    // Threads that serve requests. 0: requests are served one at a time on the accepting
    // thread (health-check ports: one thread per port).
    unsigned workers = 0;
    int timeout_sec = 5;  // read and write timeouts of a connection
    // Requests per connection; 1 closes each connection after its answer, so a client that
    // keeps its connection open cannot hold a single-threaded listener.
    size_t keep_alive_max = 5;
};

class Listener {
public:
    // `server` has its handlers registered; the listener sets its socket and thread options.
    Listener(std::unique_ptr<httplib::Server> server, const ListenerOptions& options);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Binds `address`:`port` (port 0: a free port) and serves on a new thread once bound.
    // Returns "" or "cannot listen on ADDRESS:PORT: why". The socket has SO_REUSEADDR but
    // not cpp-httplib's default SO_REUSEPORT, so a port another process listens on is an
    // error instead of a silently shared port.
    std::string start(const std::string& address, uint16_t port);

    // Closes the listening socket, waits for requests in progress and joins the thread.
    void stop();

    uint16_t port() const { return port_; }

private:
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    std::atomic<bool> finished_{false};
    uint16_t port_ = 0;
};

}  // namespace enidp::metrics::detail

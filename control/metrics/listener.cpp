#include "control/metrics/listener.hpp"

#include <signal.h>  // NOLINT(modernize-deprecated-headers): sigaction is POSIX, not in <csignal>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>

namespace enidp::metrics::detail {

namespace {

// Runs each connection on the accepting thread: one thread per health-check port.
class InlineQueue : public httplib::TaskQueue {
public:
    void enqueue(std::function<void()> fn) override { fn(); }
    void shutdown() override {}
};

std::string endpoint(const std::string& address, uint16_t port) {
    const bool v6 = address.find(':') != std::string::npos;
    return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

// cpp-httplib writes with send(..., 0): a peer that closes early raises SIGPIPE, whose default
// action ends the process. Ignore it unless the process already chose a disposition.
void ignore_sigpipe_if_default() {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) != 0) return;
    if (current.sa_handler != SIG_DFL) return;
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, nullptr);
}

}  // namespace

Listener::Listener(std::unique_ptr<httplib::Server> server, const ListenerOptions& options)
    : server_(std::move(server)) {
    const unsigned workers = options.workers;
    server_->new_task_queue = [workers]() -> httplib::TaskQueue* {
        if (workers == 0) return new InlineQueue;
        return new httplib::ThreadPool(workers);
    };
    server_->set_socket_options([](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    server_->set_read_timeout(options.timeout_sec);
    server_->set_write_timeout(options.timeout_sec);
    server_->set_keep_alive_max_count(options.keep_alive_max);
}

Listener::~Listener() { stop(); }

std::string Listener::start(const std::string& address, uint16_t port) {
    if (thread_.joinable()) return "already listening on " + endpoint(address, port_);
    ignore_sigpipe_if_default();
    errno = 0;
    int bound = -1;
    if (port == 0) bound = server_->bind_to_any_port(address);
    else if (server_->bind_to_port(address, port)) bound = port;
    if (bound <= 0) {
        const int err = errno;
        return "cannot listen on " + endpoint(address, port) + ": " +
               (err != 0 ? std::strerror(err) : "the address cannot be bound (not local or not an address)");
    }
    port_ = static_cast<uint16_t>(bound);
    finished_ = false;
    thread_ = std::thread([this] {
        server_->listen_after_bind();
        finished_ = true;
    });
    // stop() only closes the socket of a running server: wait until the loop has started.
    while (!server_->is_running() && !finished_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (finished_) {
        thread_.join();
        return "cannot listen on " + endpoint(address, port_) + ": the server stopped at once";
    }
    return "";
}

void Listener::stop() {
    if (!thread_.joinable()) return;
    server_->stop();
    thread_.join();
}

}  // namespace enidp::metrics::detail

// The API server: the enidp.v1 gRPC service on a unix socket, root-only (mode 0600), and
// optionally on TCP with mutual TLS (clients must present a certificate from the given CA).
//
// Who may call: the control thread (start at daemon start-up, stop at shutdown). gRPC runs
// its handlers on its own threads.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/server.h>

#include "control/api/service.hpp"

namespace enidp::api {

inline constexpr const char* kDefaultSocket = "/run/enidp/enidp.sock";
// Largest request or response (both ways): a full node's objects or dumps fit.
inline constexpr int kMaxMessageBytes = 512 << 20;

// TCP with mutual TLS: PEM file contents.
struct TlsListener {
    std::string address;  // host:port
    std::string cert_chain, private_key, client_ca;
};

class Server {
public:
    ~Server() { stop(); }

    // Creates the socket's directory if needed (mode 0755), replaces a stale socket file (one
    // nobody listens on), refuses a socket another process serves, and listens with mode 0600.
    // Returns "" or what went wrong.
    // `tls`, when given, adds a TCP listener that requires and verifies client certificates.
    std::string start(const std::string& socket_path, Service& service, const TlsListener* tls = nullptr);
    int tcp_port() const { return tcp_port_; }  // the bound TCP port (0: none)
    // Stops accepting, waits up to `grace` for running calls, removes the socket file.
    void stop();
    const std::string& path() const { return path_; }

private:
    std::unique_ptr<grpc::Server> server_;
    std::string path_;
    int tcp_port_ = 0;
};

}  // namespace enidp::api

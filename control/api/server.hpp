// The API server: the enidp.v1 gRPC service on a unix socket, root-only (mode 0600).
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

class Server {
public:
    ~Server() { stop(); }

    // Creates the socket's directory if needed (mode 0755), replaces a stale socket file (one
    // nobody listens on), refuses a socket another process serves, and listens with mode 0600.
    // Returns "" or what went wrong.
    std::string start(const std::string& socket_path, Service& service);
    // Stops accepting, waits up to `grace` for running calls, removes the socket file.
    void stop();
    const std::string& path() const { return path_; }

private:
    std::unique_ptr<grpc::Server> server_;
    std::string path_;
};

}  // namespace enidp::api

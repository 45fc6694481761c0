// The API server: see server.hpp.
#include "control/api/server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

namespace enidp::api {

namespace {

// Whether a process accepts connections on the unix socket `path`.
bool someone_listens(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

std::string Server::start(const std::string& socket_path, Service& service, const TlsListener* tls) {
    if (socket_path.empty()) return "api.socket is empty";
    if (socket_path.size() >= sizeof(sockaddr_un::sun_path))
        return "api socket path " + socket_path + " is longer than " +
               std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes";
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path dir = fs::path(socket_path).parent_path();
    if (!dir.empty() && !fs::exists(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec) return "cannot create " + dir.string() + ": " + ec.message();
        ::chmod(dir.c_str(), 0755);
    }
    struct stat st {};
    if (::lstat(socket_path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) return socket_path + " exists and is not a socket";
        if (someone_listens(socket_path)) return socket_path + " is served by another process";
        ::unlink(socket_path.c_str());
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
    if (tls != nullptr) {
        grpc::SslServerCredentialsOptions o(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
        o.pem_root_certs = tls->client_ca;
        o.pem_key_cert_pairs.push_back({tls->private_key, tls->cert_chain});
        builder.AddListeningPort(tls->address, grpc::SslServerCredentials(o), &tcp_port_);
    }
    builder.RegisterService(&service);
    // A whole node's objects (10,000 Services with their slices) in one apply exceed gRPC's 4 MB default.
    builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
    builder.SetMaxSendMessageSize(kMaxMessageBytes);
    // The socket is created by BuildAndStart; a umask keeps it private from its first moment.
    const mode_t old_mask = ::umask(0177);
    server_ = builder.BuildAndStart();
    ::umask(old_mask);
    if (!server_) return "cannot listen on unix:" + socket_path + (tls != nullptr ? " and " + tls->address : "");
    if (tls != nullptr && tcp_port_ == 0) {
        stop();
        return "cannot listen on " + tls->address + " (TLS)";
    }
    if (::chmod(socket_path.c_str(), 0600) != 0) {
        const std::string e = std::strerror(errno);
        stop();
        return "chmod 0600 " + socket_path + ": " + e;
    }
    path_ = socket_path;
    return "";
}

void Server::stop() {
    if (!server_) return;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
    if (!path_.empty()) ::unlink(path_.c_str());
    path_.clear();
}

}  // namespace enidp::api

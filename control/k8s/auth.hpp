// Kubernetes API-server connection settings: where the server is, how to trust it and how
// to authenticate, from the in-cluster service account, a kubeconfig file or explicit flags.
//
// Control side only (never included by fast-path code). The loaders run on the control
// thread at start-up; a TokenSource is shared by the watcher threads and is thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

namespace enidp::k8s {

// A message a person can act on ("kubeconfig /x: context \"a\" names user \"u\", which is not in users").
struct Error {
    std::string message;
};

template <typename T>
using Result = std::variant<T, Error>;

template <typename T>
bool ok(const Result<T>& r) {
    return std::holds_alternative<T>(r);
}

// The bearer token, either fixed or read from a file. Service-account tokens are bound
// tokens that the kubelet rotates (by replacing the file), so a file-backed source re-reads
// the file whenever its inode, size or mtime changes, and on invalidate() (after a 401).
// Thread-safe: every watcher thread calls current().
class TokenSource {
public:
    TokenSource() = default;
    static std::shared_ptr<TokenSource> fixed(std::string token);
    static std::shared_ptr<TokenSource> from_file(std::string path);

    // The token to send now ("" = no token). An unreadable file keeps the last good token
    // and is reported by last_error().
    std::string current();
    // The server rejected the token: read the file again on the next current().
    void invalidate();
    std::string last_error();
    const std::string& file() const { return file_; }

private:
    std::mutex mutex_;
    std::string file_;
    std::string token_;
    std::string error_;
    bool stale_ = true;
    ino_t inode_ = 0;
    off_t size_ = -1;
    timespec mtime_{};
};

// Everything needed to talk to one API server.
struct ConnectionSettings {
    std::string server;   // "https://10.96.0.1:443" (http:// is accepted for the test server)
    std::string ca_file;  // PEM file of CAs to trust; empty with empty ca_pem = system CAs
    std::string ca_pem;   // or the PEM itself (kubeconfig certificate-authority-data)
    bool insecure_skip_tls_verify = false;
    std::string client_cert_file, client_cert_pem;  // client certificate auth (kubeconfig)
    std::string client_key_file, client_key_pem;
    std::shared_ptr<TokenSource> token;  // never null after loading; may yield ""
    std::string default_namespace;       // the service account's or the context's namespace
    std::string origin;                  // where these settings came from, for messages
};

// Where the in-cluster pieces live; tests point these at temporary files.
struct InClusterPaths {
    std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
    std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
    std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

// In-cluster: server https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (IPv6 hosts
// bracketed), token from the file (re-read on rotation), CA from ca.crt. Both env vars and
// both files must be present.
Result<ConnectionSettings> from_in_cluster(const InClusterPaths& paths = {});

// A kubeconfig file: the named context (or current-context) → its cluster's server,
// certificate-authority(-data), insecure-skip-tls-verify and its user's token, tokenFile,
// client-certificate(-data), client-key(-data). Relative file paths are relative to the
// kubeconfig's folder, as kubectl resolves them. exec/auth-provider users are rejected.
Result<ConnectionSettings> from_kubeconfig(const std::string& path, const std::string& context = "");
// The same from text (tests); base_dir resolves relative paths.
Result<ConnectionSettings> from_kubeconfig_string(const std::string& yaml, const std::string& source_name,
                                                  const std::string& base_dir, const std::string& context = "");

// Explicit flags. token_or_file: a token, or "@/path" to read (and follow) a token file.
Result<ConnectionSettings> from_flags(const std::string& server, const std::string& token_or_file,
                                      const std::string& ca_file, bool insecure_skip_tls_verify);

// How the daemon's command line or config says to connect. Precedence, as kubectl:
// server set → from_flags; else kubeconfig set (or $KUBECONFIG when use_env_kubeconfig)
// → from_kubeconfig; else in-cluster.
struct ConnectionOptions {
    std::string server;   // --server URL
    std::string token;    // --token value, or "@/path" for a token file
    std::string ca_file;  // --certificate-authority
    bool insecure_skip_tls_verify = false;
    std::string kubeconfig;  // --kubeconfig path
    std::string context;     // --context (kubeconfig only)
    bool use_env_kubeconfig = true;
    InClusterPaths in_cluster;  // tests move these
};
Result<ConnectionSettings> load_connection(const ConnectionOptions& options);

// RFC 4648 base64 (kubeconfig *-data fields); whitespace is skipped, anything else invalid is an Error.
Result<std::string> base64_decode(const std::string& text);

}  // namespace enidp::k8s

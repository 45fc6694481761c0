#include "control/k8s/auth.hpp"

#include <sys/stat.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace enidp::k8s {

namespace {

bool read_file(const std::string& path, std::string& out, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = "cannot read " + path;
        return false;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return true;
}

std::string trim(std::string s) {
    const char* ws = " \t\r\n";
    s.erase(0, s.find_first_not_of(ws));
    const auto end = s.find_last_not_of(ws);
    s.erase(end == std::string::npos ? 0 : end + 1);
    return s;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

// ---- TokenSource ----

std::shared_ptr<TokenSource> TokenSource::fixed(std::string token) {
    auto t = std::make_shared<TokenSource>();
    t->token_ = std::move(token);
    t->stale_ = false;
    return t;
}

std::shared_ptr<TokenSource> TokenSource::from_file(std::string path) {
    auto t = std::make_shared<TokenSource>();
    t->file_ = std::move(path);
    return t;
}

std::string TokenSource::current() {
    std::lock_guard lock(mutex_);
    if (file_.empty()) return token_;
    struct stat st {};
    if (::stat(file_.c_str(), &st) != 0) {
        error_ = "token file " + file_ + " is missing";
        return token_;
    }
    const bool changed = st.st_ino != inode_ || st.st_size != size_ || st.st_mtim.tv_sec != mtime_.tv_sec ||
                         st.st_mtim.tv_nsec != mtime_.tv_nsec;
    if (!changed && !stale_) return token_;
    std::string text, err;
    if (!read_file(file_, text, err)) {
        error_ = err;
        return token_;
    }
    token_ = trim(text);
    error_ = token_.empty() ? "token file " + file_ + " is empty" : "";
    inode_ = st.st_ino;
    size_ = st.st_size;
    mtime_ = st.st_mtim;
    stale_ = false;
    return token_;
}

void TokenSource::invalidate() {
    std::lock_guard lock(mutex_);
    stale_ = !file_.empty();
}

std::string TokenSource::last_error() {
    std::lock_guard lock(mutex_);
    return error_;
}

// ---- base64 ----

Result<std::string> base64_decode(const std::string& text) {
    std::array<int, 256> value{};
    value.fill(-1);
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < alphabet.size(); ++i) value[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    bool padding = false;
    for (const char c : text) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        const int v = value[static_cast<unsigned char>(c)];
        if (v < 0 || padding) return Error{"not valid base64"};
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    if (bits >= 6) return Error{"not valid base64 (truncated)"};
    return out;
}

// ---- in-cluster ----

Result<ConnectionSettings> from_in_cluster(const InClusterPaths& paths) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
        return Error{
            "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set "
            "(or give a kubeconfig or --server)"};
    }
    if (!exists(paths.token_file)) {
        return Error{"in-cluster: service-account token " + paths.token_file +
                     " is missing (is automountServiceAccountToken off?)"};
    }
    if (!exists(paths.ca_file)) return Error{"in-cluster: service-account CA " + paths.ca_file + " is missing"};
    ConnectionSettings s;
    const std::string h = host;
    s.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
    s.ca_file = paths.ca_file;
    s.token = TokenSource::from_file(paths.token_file);
    if (s.token->current().empty()) return Error{"in-cluster: " + s.token->last_error()};
    std::string ns, err;
    if (read_file(paths.namespace_file, ns, err)) s.default_namespace = trim(ns);
    s.origin = "in-cluster service account (" + paths.token_file + ")";
    return s;
}

// ---- kubeconfig ----

namespace {

// The entry `name` of a kubeconfig list (clusters, users, contexts): its inner map.
YAML::Node find_named(const YAML::Node& list, const std::string& name) {
    if (!list || !list.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
    for (const auto& entry : list) {
        if (entry.IsMap() && entry["name"] && entry["name"].as<std::string>() == name) return entry;
    }
    return YAML::Node(YAML::NodeType::Undefined);
}

std::string str(const YAML::Node& map, const char* key) {
    const YAML::Node v = map[key];
    return v && v.IsScalar() ? v.as<std::string>() : std::string();
}

std::string resolve(const std::string& base_dir, const std::string& path) {
    if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
    return (std::filesystem::path(base_dir) / path).string();
}

Result<ConnectionSettings> parse_kubeconfig(const YAML::Node& root, const std::string& where,
                                            const std::string& base_dir, const std::string& context_override) {
    if (!root.IsMap()) return Error{where + ": not a kubeconfig (expected a mapping)"};
    std::string context_name = context_override.empty() ? str(root, "current-context") : context_override;
    if (context_name.empty()) return Error{where + ": no current-context is set and no context was given"};
    const YAML::Node ctx_entry = find_named(root["contexts"], context_name);
    if (!ctx_entry) return Error{where + ": context \"" + context_name + "\" is not in contexts"};
    const YAML::Node ctx = ctx_entry["context"];
    if (!ctx || !ctx.IsMap()) return Error{where + ": context \"" + context_name + "\" has no context: mapping"};
    const std::string cluster_name = str(ctx, "cluster");
    const std::string user_name = str(ctx, "user");
    if (cluster_name.empty()) return Error{where + ": context \"" + context_name + "\" names no cluster"};

    const YAML::Node cl_entry = find_named(root["clusters"], cluster_name);
    if (!cl_entry) {
        return Error{where + ": context \"" + context_name + "\" names cluster \"" + cluster_name +
                     "\", which is not in clusters"};
    }
    const YAML::Node cluster = cl_entry["cluster"];
    if (!cluster || !cluster.IsMap())
        return Error{where + ": cluster \"" + cluster_name + "\" has no cluster: mapping"};

    ConnectionSettings s;
    s.server = str(cluster, "server");
    if (s.server.empty()) return Error{where + ": cluster \"" + cluster_name + "\" has no server"};
    if (s.server.rfind("https://", 0) != 0 && s.server.rfind("http://", 0) != 0) {
        return Error{where + ": cluster \"" + cluster_name + "\" server \"" + s.server + "\" is not an http(s):// URL"};
    }
    while (!s.server.empty() && s.server.back() == '/') s.server.pop_back();
    s.ca_file = resolve(base_dir, str(cluster, "certificate-authority"));
    if (const std::string data = str(cluster, "certificate-authority-data"); !data.empty()) {
        auto pem = base64_decode(data);
        if (!ok(pem)) {
            return Error{where + ": cluster \"" + cluster_name + "\" certificate-authority-data is " +
                         std::get<Error>(pem).message};
        }
        s.ca_pem = std::get<std::string>(pem);
    }
    if (const YAML::Node v = cluster["insecure-skip-tls-verify"]; v && v.IsScalar()) {
        s.insecure_skip_tls_verify = v.as<bool>(false);
    }
    if (!s.ca_file.empty() && !exists(s.ca_file)) {
        return Error{where + ": cluster \"" + cluster_name + "\" certificate-authority " + s.ca_file +
                     " does not exist"};
    }
    s.default_namespace = str(ctx, "namespace");

    s.token = TokenSource::fixed("");
    if (!user_name.empty()) {
        const YAML::Node u_entry = find_named(root["users"], user_name);
        if (!u_entry) {
            return Error{where + ": context \"" + context_name + "\" names user \"" + user_name +
                         "\", which is not in users"};
        }
        const YAML::Node user = u_entry["user"];
        if (user && user.IsMap()) {
            if (user["exec"] || user["auth-provider"]) {
                return Error{where + ": user \"" + user_name +
                             "\" uses exec/auth-provider credentials, which enidp does not run; use a token, "
                             "tokenFile or client certificate"};
            }
            const std::string token = str(user, "token");
            const std::string token_file = resolve(base_dir, str(user, "tokenFile"));
            if (!token.empty()) {
                s.token = TokenSource::fixed(token);
            } else if (!token_file.empty()) {
                if (!exists(token_file)) {
                    return Error{where + ": user \"" + user_name + "\" tokenFile " + token_file + " does not exist"};
                }
                s.token = TokenSource::from_file(token_file);
            }
            s.client_cert_file = resolve(base_dir, str(user, "client-certificate"));
            s.client_key_file = resolve(base_dir, str(user, "client-key"));
            for (auto [key, out] : {std::pair{"client-certificate-data", &s.client_cert_pem},
                                    std::pair{"client-key-data", &s.client_key_pem}}) {
                if (const std::string data = str(user, key); !data.empty()) {
                    auto pem = base64_decode(data);
                    if (!ok(pem)) {
                        return Error{where + ": user \"" + user_name + "\" " + key + " is " +
                                     std::get<Error>(pem).message};
                    }
                    *out = std::get<std::string>(pem);
                }
            }
            const bool has_cert = !s.client_cert_file.empty() || !s.client_cert_pem.empty();
            const bool has_key = !s.client_key_file.empty() || !s.client_key_pem.empty();
            if (has_cert != has_key) {
                return Error{where + ": user \"" + user_name +
                             "\" has a client certificate without a key or a key without a certificate"};
            }
        }
    }
    s.origin = where + " (context \"" + context_name + "\")";
    return s;
}

}  // namespace

Result<ConnectionSettings> from_kubeconfig_string(const std::string& yaml, const std::string& source_name,
                                                  const std::string& base_dir, const std::string& context) {
    const std::string where = "kubeconfig " + source_name;
    // yaml-cpp throws on bad syntax and on a value of the wrong shape (a map where a name
    // should be): either way, say where.
    auto yaml_error = [&](const YAML::Exception& e) {
        return Error{where + (e.mark.is_null() ? "" : ":" + std::to_string(e.mark.line + 1)) + ": " + e.msg};
    };
    try {
        return parse_kubeconfig(YAML::Load(yaml), where, base_dir, context);
    } catch (const YAML::Exception& e) {
        return yaml_error(e);
    }
}

Result<ConnectionSettings> from_kubeconfig(const std::string& path, const std::string& context) {
    std::string text, err;
    if (!read_file(path, text, err)) return Error{"kubeconfig: " + err};
    return from_kubeconfig_string(text, path, std::filesystem::path(path).parent_path().string(), context);
}

// ---- flags ----

Result<ConnectionSettings> from_flags(const std::string& server, const std::string& token_or_file,
                                      const std::string& ca_file, bool insecure_skip_tls_verify) {
    if (server.rfind("https://", 0) != 0 && server.rfind("http://", 0) != 0) {
        return Error{"--server \"" + server + "\" is not an http(s):// URL"};
    }
    ConnectionSettings s;
    s.server = server;
    while (!s.server.empty() && s.server.back() == '/') s.server.pop_back();
    if (!ca_file.empty() && !exists(ca_file)) return Error{"CA file " + ca_file + " does not exist"};
    s.ca_file = ca_file;
    s.insecure_skip_tls_verify = insecure_skip_tls_verify;
    if (token_or_file.rfind('@', 0) == 0) {
        const std::string file = token_or_file.substr(1);
        if (!exists(file)) return Error{"token file " + file + " does not exist"};
        s.token = TokenSource::from_file(file);
    } else {
        s.token = TokenSource::fixed(token_or_file);
    }
    s.origin = "flags (" + s.server + ")";
    return s;
}

// ---- precedence ----

Result<ConnectionSettings> load_connection(const ConnectionOptions& o) {
    if (!o.server.empty()) return from_flags(o.server, o.token, o.ca_file, o.insecure_skip_tls_verify);
    std::string kubeconfig = o.kubeconfig;
    if (kubeconfig.empty() && o.use_env_kubeconfig) {
        // $KUBECONFIG may list several files; like kubectl without merging, use the first.
        if (const char* env = std::getenv("KUBECONFIG"); env != nullptr) {
            kubeconfig = std::string(env).substr(0, std::string(env).find(':'));
        }
    }
    if (!kubeconfig.empty()) {
        auto r = from_kubeconfig(kubeconfig, o.context);
        if (ok(r) && !o.token.empty()) {  // an explicit token overrides the kubeconfig user's
            auto& s = std::get<ConnectionSettings>(r);
            s.token =
                o.token.rfind('@', 0) == 0 ? TokenSource::from_file(o.token.substr(1)) : TokenSource::fixed(o.token);
        }
        return r;
    }
    return from_in_cluster(o.in_cluster);
}

}  // namespace enidp::k8s

// Kubernetes API-server HTTP client: chunked LIST and streaming WATCH over libcurl, JSON by
// nlohmann_json.
//
// Control side only. A Client is used by one thread at a time (each watcher thread owns
// one; it keeps its connection for reuse). A Cancel may be triggered from any thread: it
// wakes a blocked request or back-off sleep at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/k8s/auth.hpp"

namespace enidp::k8s {

// Stops requests and back-off sleeps from another thread.
class Cancel {
public:
    void cancel();
    bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
    // Sleeps up to d; false when cancelled (before or during the sleep).
    bool sleep_for(std::chrono::milliseconds d);

    // For Client: a libcurl multi handle to wake while a request is blocked on it.
    void attach(void* multi);
    void detach(void* multi);

private:
    std::atomic<bool> cancelled_{false};
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<void*> multis_;
};

enum class Failure {
    kNone,
    kTransport,     // could not connect, TLS failure, connection dropped mid-stream
    kUnauthorized,  // 401: the token was rejected (the token source is told to re-read its file)
    kForbidden,     // 403: RBAC does not allow this
    kGone,          // 410, or a continue token that expired: list again from scratch
    kHttp,          // any other non-200 status
    kBadResponse,   // 200 but not the JSON we expect
    kCancelled,
};

struct Status {
    Failure failure = Failure::kNone;
    long http_status = 0;
    std::string message;  // what happened, with the server and path
    bool ok() const { return failure == Failure::kNone; }
};

// What to list or watch: the collection path and optional selectors.
struct Query {
    std::string path;  // "/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices"
    std::string label_selector;
    std::string field_selector;
};

struct ListResult {
    std::vector<nlohmann::json> items;
    std::string resource_version;  // the list's RV: watch from here
    int pages = 0;
};

// One line of a watch stream: type is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.
struct WatchEvent {
    std::string type;
    nlohmann::json object;
};

class Client {
public:
    explicit Client(ConnectionSettings settings);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Lists every item, `limit` per page, following continue tokens. All pages share the first
    // page's resourceVersion. A continue token that expired (410) restarts the list once.
    Status list(const Query& query, int limit, ListResult& out, Cancel* cancel = nullptr);

    // Streams a watch from resource_version; on_event gets each event as soon as its line is
    // complete. Returns ok when the server ends the stream (timeoutSeconds) or on_event
    // returns false; kGone on an HTTP 410; kTransport when the connection drops.
    Status watch(const Query& query, const std::string& resource_version, int timeout_seconds,
                 const std::function<bool(WatchEvent&&)>& on_event, Cancel* cancel = nullptr);

    // A plain GET of path?query returning the parsed JSON body.
    Status get(const std::string& path_and_query, nlohmann::json& out, Cancel* cancel = nullptr);

    const ConnectionSettings& settings() const { return settings_; }

private:
    using BodySink = std::function<bool(const char*, size_t)>;
    Status perform(const std::string& path_and_query, long timeout_seconds, const BodySink& sink, Cancel* cancel);
    std::string url_query(const Query& q, const std::vector<std::pair<std::string, std::string>>& extra) const;

    ConnectionSettings settings_;
    void* easy_ = nullptr;   // CURL*
    void* multi_ = nullptr;  // CURLM*
};

// The message of a Kubernetes Status object ({"kind":"Status","code":410,"reason":"Expired",...}).
std::string status_message(const nlohmann::json& status);

}  // namespace enidp::k8s

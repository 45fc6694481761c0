#include "control/k8s/client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>

namespace enidp::k8s {

// ---- Cancel ----

void Cancel::cancel() {
    std::lock_guard lock(mutex_);
    cancelled_.store(true, std::memory_order_release);
    for (void* m : multis_) curl_multi_wakeup(static_cast<CURLM*>(m));
    cv_.notify_all();
}

bool Cancel::sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    return !cv_.wait_for(lock, d, [this] { return cancelled(); });
}

void Cancel::attach(void* multi) {
    std::lock_guard lock(mutex_);
    multis_.push_back(multi);
}

void Cancel::detach(void* multi) {
    std::lock_guard lock(mutex_);
    std::erase(multis_, multi);
}

// ---- helpers ----

std::string status_message(const nlohmann::json& status) {
    if (!status.is_object()) return "";
    std::string out;
    if (auto r = status.find("reason"); r != status.end() && r->is_string()) out = r->get<std::string>();
    if (auto m = status.find("message"); m != status.end() && m->is_string()) {
        out += (out.empty() ? "" : ": ") + m->get<std::string>();
    }
    return out;
}

namespace {

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What one transfer saw, shared with libcurl's callbacks.
struct Transfer {
    CURL* easy = nullptr;
    const std::function<bool(const char*, size_t)>* sink = nullptr;
    long http_status = 0;
    std::string error_body;  // the body of a non-200 answer (a Status object, usually)
    bool stopped_by_sink = false;
};

size_t on_write(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t len = size * n;
    if (t->http_status == 0) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->http_status);
    if (t->http_status != 200) {
        if (t->error_body.size() < 65536) t->error_body.append(data, std::min<size_t>(len, 65536));
        return len;
    }
    if (!(*t->sink)(data, len)) {
        t->stopped_by_sink = true;
        return 0;  // aborts the transfer (CURLE_WRITE_ERROR), which we report as a normal end
    }
    return len;
}

std::string escape(CURL* easy, const std::string& s) {
    char* e = curl_easy_escape(easy, s.data(), static_cast<int>(s.size()));
    std::string out = e != nullptr ? e : "";
    curl_free(e);
    return out;
}

}  // namespace

// ---- Client ----

Client::Client(ConnectionSettings settings) : settings_(std::move(settings)) {
    global_init();
    if (!settings_.token) settings_.token = TokenSource::fixed("");
    easy_ = curl_easy_init();
    multi_ = curl_multi_init();
}

Client::~Client() {
    if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
    if (easy_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(easy_));
}

std::string Client::url_query(const Query& q, const std::vector<std::pair<std::string, std::string>>& extra) const {
    CURL* easy = static_cast<CURL*>(easy_);
    std::string out = q.path;
    char sep = '?';
    auto add = [&](const std::string& k, const std::string& v) {
        out += sep + k + "=" + escape(easy, v);
        sep = '&';
    };
    if (!q.label_selector.empty()) add("labelSelector", q.label_selector);
    if (!q.field_selector.empty()) add("fieldSelector", q.field_selector);
    for (const auto& [k, v] : extra) add(k, v);
    return out;
}

Status Client::perform(const std::string& path_and_query, long timeout_seconds, const BodySink& sink, Cancel* cancel) {
    CURL* easy = static_cast<CURL*>(easy_);
    CURLM* multi = static_cast<CURLM*>(multi_);
    const std::string url = settings_.server + path_and_query;
    const std::string where = "GET " + url;
    if (easy == nullptr || multi == nullptr) return {Failure::kTransport, 0, where + ": libcurl did not initialise"};
    if (cancel != nullptr && cancel->cancelled()) return {Failure::kCancelled, 0, where + ": cancelled"};

    curl_easy_reset(easy);
    Transfer t;
    t.easy = easy;
    t.sink = &sink;
    char curl_error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    // No signals from libcurl in a threaded process. libcurl sends with MSG_NOSIGNAL, but the
    // daemon should ignore SIGPIPE anyway (a TLS library may write on its own).
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT, timeout_seconds);
    // A watch can be silent for minutes; keepalive probes notice a peer that vanished
    // without a reset (node or LB gone) within about a minute instead of at the timeout.
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "enidp/0.1");
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // gzip if the server offers it

    // TLS: the CA to trust (file or in-memory PEM), or no verification when asked to.
    if (settings_.insecure_skip_tls_verify) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!settings_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, settings_.ca_file.c_str());
    curl_blob ca_blob{settings_.ca_pem.data(), settings_.ca_pem.size(), CURL_BLOB_NOCOPY};
    if (!settings_.ca_pem.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &ca_blob);
    curl_blob cert_blob{settings_.client_cert_pem.data(), settings_.client_cert_pem.size(), CURL_BLOB_NOCOPY};
    curl_blob key_blob{settings_.client_key_pem.data(), settings_.client_key_pem.size(), CURL_BLOB_NOCOPY};
    if (!settings_.client_cert_file.empty())
        curl_easy_setopt(easy, CURLOPT_SSLCERT, settings_.client_cert_file.c_str());
    if (!settings_.client_cert_pem.empty()) curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cert_blob);
    if (!settings_.client_key_file.empty()) curl_easy_setopt(easy, CURLOPT_SSLKEY, settings_.client_key_file.c_str());
    if (!settings_.client_key_pem.empty()) curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &key_blob);

    curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
    const std::string token = settings_.token->current();
    const std::string auth = "Authorization: Bearer " + token;
    if (!token.empty()) headers = curl_slist_append(headers, auth.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

    // The multi interface only so that Cancel can wake curl_multi_poll from another thread.
    curl_multi_add_handle(multi, easy);
    if (cancel != nullptr) cancel->attach(multi);
    bool cancelled = false;
    CURLMcode multi_code = CURLM_OK;
    int running = 1;
    while (running != 0) {
        if ((multi_code = curl_multi_perform(multi, &running)) != CURLM_OK) break;
        if (running == 0) break;
        if (cancel != nullptr && cancel->cancelled()) {
            cancelled = true;
            break;
        }
        curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
    CURLcode code = CURLE_OK;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) code = msg->data.result;
    }
    if (cancel != nullptr) cancel->detach(multi);
    curl_multi_remove_handle(multi, easy);
    curl_slist_free_all(headers);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
    if (t.http_status == 0) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t.http_status);

    if (cancelled) return {Failure::kCancelled, t.http_status, where + ": cancelled"};
    if (multi_code != CURLM_OK)
        return {Failure::kTransport, t.http_status, where + ": " + curl_multi_strerror(multi_code)};
    if (t.stopped_by_sink) return {Failure::kNone, t.http_status, ""};
    if (t.http_status != 0 && t.http_status != 200) {
        const auto body = nlohmann::json::parse(t.error_body, nullptr, false);
        std::string detail = status_message(body);
        if (detail.empty()) detail = t.error_body.substr(0, 200);
        const std::string msg =
            where + ": HTTP " + std::to_string(t.http_status) + (detail.empty() ? "" : " " + detail);
        switch (t.http_status) {
            case 401:
                settings_.token->invalidate();
                return {Failure::kUnauthorized, 401,
                        msg + " (the bearer token was rejected; credentials from " + settings_.origin + ")"};
            case 403: return {Failure::kForbidden, 403, msg + " (RBAC: list/watch not allowed)"};
            case 410: return {Failure::kGone, 410, msg};
            default: return {Failure::kHttp, t.http_status, msg};
        }
    }
    if (code != CURLE_OK) {
        std::string detail = curl_error[0] != '\0' ? curl_error : curl_easy_strerror(code);
        return {Failure::kTransport, t.http_status, where + ": " + detail};
    }
    return {Failure::kNone, t.http_status, ""};
}

Status Client::get(const std::string& path_and_query, nlohmann::json& out, Cancel* cancel) {
    std::string body;
    Status s = perform(
        path_and_query, 60,
        [&body](const char* d, size_t n) {
            body.append(d, n);
            return true;
        },
        cancel);
    if (!s.ok()) return s;
    out = nlohmann::json::parse(body, nullptr, false);
    if (out.is_discarded() || !out.is_object()) {
        return {Failure::kBadResponse, s.http_status,
                "GET " + settings_.server + path_and_query + ": not a JSON object"};
    }
    return s;
}

Status Client::list(const Query& query, int limit, ListResult& out, Cancel* cancel) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        out = {};
        std::string cont;
        Status s;
        do {
            std::vector<std::pair<std::string, std::string>> extra;
            if (limit > 0) extra.emplace_back("limit", std::to_string(limit));
            if (!cont.empty()) extra.emplace_back("continue", cont);
            nlohmann::json page;
            s = get(url_query(query, extra), page, cancel);
            if (!s.ok()) break;
            const std::string where = "GET " + settings_.server + query.path;
            auto items = page.find("items");
            const auto& meta = page.value("metadata", nlohmann::json::object());
            if (items == page.end() || !(items->is_array() || items->is_null()) || !meta.is_object()) {
                return {Failure::kBadResponse, s.http_status, where + ": the answer is not a list (no items)"};
            }
            if (items->is_array()) {
                for (auto& item : *items) out.items.push_back(std::move(item));
            }
            if (out.pages++ == 0) out.resource_version = meta.value("resourceVersion", "");
            cont = meta.value("continue", "");
        } while (!cont.empty());
        // A continue token that expired mid-list: the snapshot is gone, start over once.
        if (s.failure == Failure::kGone && out.pages > 0) continue;
        if (s.ok() && out.resource_version.empty()) {
            return {Failure::kBadResponse, s.http_status,
                    "GET " + settings_.server + query.path + ": the list has no metadata.resourceVersion"};
        }
        return s;
    }
    return {Failure::kGone, 410, "GET " + settings_.server + query.path + ": continue tokens expired twice"};
}

Status Client::watch(const Query& query, const std::string& resource_version, int timeout_seconds,
                     const std::function<bool(WatchEvent&&)>& on_event, Cancel* cancel) {
    std::vector<std::pair<std::string, std::string>> extra = {{"watch", "1"}, {"allowWatchBookmarks", "true"}};
    if (!resource_version.empty()) extra.emplace_back("resourceVersion", resource_version);
    extra.emplace_back("timeoutSeconds", std::to_string(timeout_seconds));
    std::string pending;  // bytes of an event whose newline has not arrived yet
    std::string bad;
    auto sink = [&](const char* data, size_t n) {
        pending.append(data, n);
        size_t start = 0;
        for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
            const std::string_view line(pending.data() + start, nl - start);
            if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.is_object() || !j.contains("type") || !j["type"].is_string()) {
                bad = std::string(line.substr(0, 200));
                return false;
            }
            WatchEvent ev{j["type"].get<std::string>(), std::move(j["object"])};
            if (!on_event(std::move(ev))) return false;
        }
        pending.erase(0, start);
        return true;
    };
    // The server ends the watch at timeoutSeconds; libcurl gives up a little later.
    Status s = perform(url_query(query, extra), timeout_seconds + 30L, sink, cancel);
    if (!bad.empty()) {
        return {Failure::kBadResponse, s.http_status,
                "GET " + settings_.server + query.path + " (watch): not a watch event: " + bad};
    }
    return s;
}

}  // namespace enidp::k8s

#include "control/k8s/watcher.hpp"

#include <algorithm>
#include <ctime>
#include <random>
#include <thread>

namespace enidp::k8s {

namespace {

// kube-proxy watches Services and EndpointSlices without the objects another proxy owns;
// headless Services have no ClusterIP to program, so their slices are skipped too.
constexpr std::array<ResourceInfo, kAllResources.size()> kInfos = {{
    {Resource::kServices, "services", "/api/v1/services", "!service.kubernetes.io/service-proxy-name"},
    {Resource::kEndpointSlices, "endpointslices", "/apis/discovery.k8s.io/v1/endpointslices",
     "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name"},
    {Resource::kNetworkPolicies, "networkpolicies", "/apis/networking.k8s.io/v1/networkpolicies", ""},
    {Resource::kNamespaces, "namespaces", "/api/v1/namespaces", ""},
    {Resource::kPods, "pods", "/api/v1/pods", ""},
    {Resource::kPayloadPolicies, "payloadpolicies", "/apis/enidp.io/v1alpha1/payloadpolicies", ""},
}};

std::string object_rv(const nlohmann::json& obj) {
    if (!obj.is_object()) return "";
    auto meta = obj.find("metadata");
    if (meta == obj.end() || !meta->is_object()) return "";
    auto rv = meta->find("resourceVersion");
    return rv != meta->end() && rv->is_string() ? rv->get<std::string>() : "";
}

}  // namespace

const ResourceInfo& resource_info(Resource r) { return kInfos[static_cast<size_t>(r)]; }

std::string_view to_string(EventType t) {
    switch (t) {
        case EventType::kAdded: return "ADDED";
        case EventType::kModified: return "MODIFIED";
        case EventType::kDeleted: return "DELETED";
        case EventType::kSynced: return "SYNCED";
    }
    return "?";
}

nlohmann::json to_json(const ResourceState& s) {
    std::string when;
    if (s.last_error_time.time_since_epoch().count() != 0) {
        const std::time_t t = std::chrono::system_clock::to_time_t(s.last_error_time);
        std::tm tm{};
        gmtime_r(&t, &tm);
        char buf[32];
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        when = buf;
    }
    return {{"resource", resource_info(s.resource).name},
            {"synced", s.synced},
            {"resourceVersion", s.resource_version},
            {"lists", s.lists},
            {"relists", s.relists},
            {"watches", s.watches},
            {"reconnects", s.reconnects},
            {"events", s.events},
            {"bookmarks", s.bookmarks},
            {"lastError", s.last_error},
            {"lastErrorTime", when}};
}

// ---- EventQueue ----

void EventQueue::push(Event ev) {
    {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(ev));
    }
    cv_.notify_all();
}

std::vector<Event> EventQueue::drain() {
    std::lock_guard lock(mutex_);
    std::vector<Event> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
    events_.clear();
    return out;
}

bool EventQueue::wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return !events_.empty(); });
}

size_t EventQueue::size() const {
    std::lock_guard lock(mutex_);
    return events_.size();
}

// ---- Reflector ----

// One resource: list, then watch from the list's resourceVersion, forever.
class Reflector {
public:
    Reflector(const ConnectionSettings& settings, EventQueue& queue, const WatchOptions& options, Resource r)
        : client_(settings), queue_(queue), options_(options), info_(resource_info(r)), rng_(std::random_device{}()) {
        state_.resource = r;
        query_.path = std::string(info_.path);
        query_.label_selector = std::string(info_.label_selector);
        if (r == Resource::kPods) query_.field_selector = options.pod_field_selector;
    }

    void start() {
        thread_ = std::thread([this] { run(); });
    }
    void request_stop() { cancel_.cancel(); }
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    ResourceState state() const {
        std::lock_guard lock(mutex_);
        return state_;
    }

private:
    enum class WatchEnd { kResume, kRelist, kFailed, kStopped };

    void run() {
        bool need_list = true;
        auto backoff = options_.backoff_initial;
        while (!cancel_.cancelled()) {
            if (need_list) {
                if (!list()) {
                    if (cancel_.cancelled() || !sleep(backoff)) break;
                    continue;
                }
                need_list = false;  // the back-off is reset by a watch that works, not by a list
            }
            bool went_well = false;
            switch (watch(went_well)) {
                case WatchEnd::kStopped: return;
                case WatchEnd::kRelist:
                    need_list = true;
                    if (went_well) continue;
                    break;  // refused at once again and again: relist after a back-off, not in a loop
                case WatchEnd::kResume:
                    if (went_well) {
                        backoff = options_.backoff_initial;
                        continue;
                    }
                    break;  // an empty watch that ended at once: do not spin on it
                case WatchEnd::kFailed:
                    if (went_well) backoff = options_.backoff_initial;
                    update([](ResourceState& s) { ++s.reconnects; });
                    break;
            }
            if (!sleep(backoff)) break;
        }
    }

    // Waits backoff (jittered down by up to half) and doubles it; false when stopped.
    bool sleep(std::chrono::milliseconds& backoff) {
        std::uniform_real_distribution<double> jitter(0.5, 1.0);
        const auto wait =
            std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(backoff.count()) * jitter(rng_)));
        backoff = std::min(backoff * 2, options_.backoff_max);
        return cancel_.sleep_for(wait);
    }

    void fail(const std::string& message) {
        update([&](ResourceState& s) {
            s.last_error = message;
            s.last_error_time = std::chrono::system_clock::now();
        });
    }

    template <typename F>
    void update(F&& f) {
        std::lock_guard lock(mutex_);
        f(state_);
    }

    // Updates the state and queues the event in one critical section, so that whoever sees
    // one sees the other: the state already counts an event the consumer drained, and an
    // event is already queued once the state says so.
    template <typename F>
    void deliver(Event ev, F&& f) {
        std::lock_guard lock(mutex_);
        f(state_);
        queue_.push(std::move(ev));
    }

    bool list() {
        ListResult result;
        const Status s = client_.list(query_, options_.list_limit, result, &cancel_);
        if (!s.ok()) {
            if (s.failure != Failure::kCancelled) fail(s.message);
            return false;
        }
        rv_ = result.resource_version;
        nlohmann::json all = nlohmann::json::array();
        for (auto& item : result.items) all.push_back(std::move(item));
        deliver({state_.resource, EventType::kSynced, std::move(all), rv_}, [&](ResourceState& st) {
            st.synced = true;
            st.relists += st.lists > 0 ? 1 : 0;
            ++st.lists;
            st.resource_version = rv_;
            st.last_error.clear();
        });
        return true;
    }

    WatchEnd watch(bool& went_well) {
        std::uniform_int_distribution<int64_t> pick(
            options_.watch_timeout_min.count(),
            std::max(options_.watch_timeout_min, options_.watch_timeout_max).count());
        const int timeout = static_cast<int>(pick(rng_));
        bool gone = false;
        std::string error_event;
        uint64_t delivered = 0;
        update([](ResourceState& s) { ++s.watches; });
        const auto started = std::chrono::steady_clock::now();

        const Status s = client_.watch(
            query_, rv_, timeout,
            [&](WatchEvent&& ev) {
                if (ev.type == "ERROR") {
                    // 410 Expired (or Gone from older servers): our resourceVersion left the history.
                    if (ev.object.is_object() && ev.object.value("code", 0) == 410) {
                        gone = true;
                    } else {
                        error_event = status_message(ev.object);
                        if (error_event.empty()) error_event = ev.object.dump();
                    }
                    return false;
                }
                const std::string rv = object_rv(ev.object);
                if (ev.type == "BOOKMARK") {
                    if (!rv.empty()) rv_ = rv;
                    update([&](ResourceState& st) {
                        ++st.bookmarks;
                        st.resource_version = rv_;
                        st.last_error.clear();  // the server answers again
                    });
                    return true;
                }
                EventType type;
                if (ev.type == "ADDED") {
                    type = EventType::kAdded;
                } else if (ev.type == "MODIFIED") {
                    type = EventType::kModified;
                } else if (ev.type == "DELETED") {
                    type = EventType::kDeleted;
                } else {
                    error_event = "unknown watch event type \"" + ev.type + "\"";
                    return false;
                }
                if (!rv.empty()) rv_ = rv;
                ++delivered;
                deliver({state_.resource, type, std::move(ev.object), rv}, [&](ResourceState& st) {
                    ++st.events;
                    st.resource_version = rv_;
                    st.last_error.clear();
                });
                return true;
            },
            &cancel_);

        went_well = delivered > 0 || std::chrono::steady_clock::now() - started >= std::chrono::seconds(1);
        if (s.failure == Failure::kCancelled || cancel_.cancelled()) return WatchEnd::kStopped;
        if (gone || s.failure == Failure::kGone) {
            fail(std::string(info_.name) + ": watch from resourceVersion " + rv_ + " expired (410): relisting");
            return WatchEnd::kRelist;
        }
        if (!error_event.empty()) {
            fail(std::string(info_.name) + ": watch error event: " + error_event);
            return WatchEnd::kFailed;
        }
        if (!s.ok()) {
            fail(s.message);
            return WatchEnd::kFailed;
        }
        if (went_well) update([](ResourceState& st) { st.last_error.clear(); });
        return WatchEnd::kResume;
    }

    Client client_;
    EventQueue& queue_;
    const WatchOptions options_;
    const ResourceInfo& info_;
    Query query_;
    Cancel cancel_;
    std::thread thread_;
    std::mt19937_64 rng_;
    std::string rv_;  // the resume point: only the reflector thread touches it
    mutable std::mutex mutex_;
    ResourceState state_;
};

// ---- Watchers ----

Watchers::Watchers(const ConnectionSettings& settings, EventQueue& queue, const WatchOptions& options,
                   const std::vector<Resource>& resources) {
    for (Resource r : resources) reflectors_.push_back(std::make_unique<Reflector>(settings, queue, options, r));
}

Watchers::~Watchers() { stop(); }

void Watchers::start() {
    if (started_) return;
    started_ = true;
    for (auto& r : reflectors_) r->start();
}

void Watchers::stop() {
    for (auto& r : reflectors_) r->request_stop();
    for (auto& r : reflectors_) r->join();
}

std::vector<ResourceState> Watchers::states() const {
    std::vector<ResourceState> out;
    for (const auto& r : reflectors_) out.push_back(r->state());
    return out;
}

bool Watchers::all_synced() const {
    return std::all_of(reflectors_.begin(), reflectors_.end(), [](const auto& r) { return r->state().synced; });
}

}  // namespace enidp::k8s

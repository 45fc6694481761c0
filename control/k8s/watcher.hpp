// Kubernetes reflectors: for each watched resource, list (chunked) then watch, resume,
// relist on 410 and reconnect with back-off; events go to an EventQueue.
//
// Threads: Watchers runs one thread per resource. start(), stop(), states() and all_synced()
// may be called from any thread (the daemon calls them from the control thread). Events are
// pushed from the watcher threads into the EventQueue, which the control thread drains;
// nothing else of the daemon is touched from a watcher thread.
//
//   auto conn = k8s::from_in_cluster();               // or from_kubeconfig / from_flags
//   k8s::EventQueue queue;
//   k8s::Watchers watchers(std::get<k8s::ConnectionSettings>(conn), queue);
//   watchers.start();
//   ... every control-loop tick: for (auto& ev : queue.drain()) store.apply(ev);
//   watchers.stop();                                   // returns within a moment
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/k8s/auth.hpp"
#include "control/k8s/client.hpp"

namespace enidp::k8s {

enum class Resource : uint8_t { kServices, kEndpointSlices, kNetworkPolicies, kNamespaces, kPods, kPayloadPolicies };

inline constexpr std::array kAllResources = {
    Resource::kServices,   Resource::kEndpointSlices, Resource::kNetworkPolicies,
    Resource::kNamespaces, Resource::kPods,           Resource::kPayloadPolicies};

struct ResourceInfo {
    Resource resource;
    std::string_view name;            // "services", "endpointslices", ... (as in metrics and logs)
    std::string_view path;            // the cluster-wide collection path
    std::string_view label_selector;  // kube-proxy's selectors for Services and EndpointSlices
};

const ResourceInfo& resource_info(Resource r);

enum class EventType : uint8_t {
    kAdded,
    kModified,
    kDeleted,
    // The initial list, or a relist after 410, is complete. The event's object is a JSON array
    // of every object of the resource now: replace the whole set (drop what is not in it).
    // Listed objects come only in this event, not as kAdded.
    kSynced,
};

std::string_view to_string(EventType t);

struct Event {
    Resource resource;
    EventType type;
    nlohmann::json object;         // the object (the last state for kDeleted); an array for kSynced
    std::string resource_version;  // the object's, or the list's for kSynced
};

// A thread-safe FIFO: watcher threads push, the control thread drains. Unbounded (the
// consumer drains it every tick; a relist of a big cluster arrives as one kSynced event).
class EventQueue {
public:
    void push(Event ev);
    // Everything queued now, oldest first; never blocks.
    std::vector<Event> drain();
    // Waits until something is queued or the timeout passes; true when not empty.
    bool wait(std::chrono::milliseconds timeout);
    size_t size() const;

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Event> events_;
};

struct WatchOptions {
    int list_limit = 500;  // items per list page
    // Each watch asks for a random timeoutSeconds in [min, max] (client-go: 5–10 minutes), so
    // a fleet of nodes does not reconnect in step.
    std::chrono::seconds watch_timeout_min{300};
    std::chrono::seconds watch_timeout_max{600};
    // Back-off after failures: initial × 2^n, capped, each wait jittered down by up to half;
    // back to initial once a watch runs well (events, or ≥ 1 s open). A watch refused at once
    // with 410 relists after a back-off too, so a broken server is not listed in a loop.
    std::chrono::milliseconds backoff_initial{500};
    std::chrono::milliseconds backoff_max{30000};
    // Optional Pods field selector (e.g. "spec.nodeName=node-1"); empty = all Pods, which acl/
    // needs for IP → labels of remote pods.
    std::string pod_field_selector;
};

// Per-resource state for status and metrics.
struct ResourceState {
    Resource resource;
    bool synced = false;           // the first list completed
    std::string resource_version;  // the last seen (list, event or bookmark)
    uint64_t lists = 0;            // completed lists, the first one included
    uint64_t relists = 0;          // lists after 410 Gone / Expired
    uint64_t watches = 0;          // watch requests started
    uint64_t reconnects = 0;       // retries after a failure (connection, HTTP error)
    uint64_t events = 0;           // ADDED/MODIFIED/DELETED delivered
    uint64_t bookmarks = 0;
    std::string last_error;  // empty after the next success
    std::chrono::system_clock::time_point last_error_time{};
};

// {"resource":"services","synced":true,"resourceVersion":"123","lists":1,...,"lastError":"",
// "lastErrorTime":"2026-12-02T05:00:00Z"} for status dumps and the API.
nlohmann::json to_json(const ResourceState& state);

class Reflector;

// All reflectors of one node. Not copyable; destroying it stops it.
class Watchers {
public:
    Watchers(const ConnectionSettings& settings, EventQueue& queue, const WatchOptions& options = {},
             const std::vector<Resource>& resources = {kAllResources.begin(), kAllResources.end()});
    ~Watchers();
    Watchers(const Watchers&) = delete;
    Watchers& operator=(const Watchers&) = delete;

    void start();
    // Cancels every request and back-off sleep and joins the threads. Idempotent.
    void stop();
    std::vector<ResourceState> states() const;
    bool all_synced() const;

private:
    std::vector<std::unique_ptr<Reflector>> reflectors_;
    bool started_ = false;
};

}  // namespace enidp::k8s

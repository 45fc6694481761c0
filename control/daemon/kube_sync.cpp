#include "control/daemon/kube_sync.hpp"

#include <set>
#include <tuple>

namespace enidp::daemon {

namespace {

struct KindOf {
    const char* api_version;
    const char* kind;
};

KindOf kind_of(k8s::Resource r) {
    switch (r) {
        case k8s::Resource::kServices: return {"v1", "Service"};
        case k8s::Resource::kEndpointSlices: return {"discovery.k8s.io/v1", "EndpointSlice"};
        case k8s::Resource::kNetworkPolicies: return {"networking.k8s.io/v1", "NetworkPolicy"};
        case k8s::Resource::kNamespaces: return {"v1", "Namespace"};
        case k8s::Resource::kPods: return {"v1", "Pod"};
        case k8s::Resource::kPayloadPolicies: return {"enidp.io/v1alpha1", "PayloadPolicy"};
    }
    return {"v1", "Unknown"};
}

// List items carry no kind / apiVersion; watch events do. Fill them from the resource.
nlohmann::json typed(nlohmann::json obj, const KindOf& k) {
    if (obj.is_object()) {
        if (!obj.contains("kind")) obj["kind"] = k.kind;
        if (!obj.contains("apiVersion")) obj["apiVersion"] = k.api_version;
    }
    return obj;
}

// One object into the store; false (with the error) when it does not convert.
bool apply_one(objects::Store& store, const nlohmann::json& obj, KubeSyncReport& rep, objects::Key* key_out) {
    auto parsed = objects::objects_from_json(obj, "watch");
    if (auto* e = std::get_if<objects::Error>(&parsed)) {
        rep.errors.push_back(e->to_string());
        return false;
    }
    for (const objects::Object& o : std::get<std::vector<objects::Object>>(parsed)) {
        if (key_out != nullptr) *key_out = objects::Key{o.kind, o.ns, o.name};
        auto r = store.apply(o, objects::Source::kWatch);
        if (auto* e = std::get_if<objects::Error>(&r)) {
            rep.errors.push_back(e->to_string());
            return false;
        }
        rep.applied++;
    }
    return true;
}

}  // namespace

KubeSyncReport apply_watch_events(objects::Store& store, std::vector<k8s::Event> events) {
    KubeSyncReport rep;
    for (k8s::Event& ev : events) {
        const KindOf k = kind_of(ev.resource);
        switch (ev.type) {
            case k8s::EventType::kAdded:
            case k8s::EventType::kModified:
                apply_one(store, typed(std::move(ev.object), k), rep, nullptr);
                break;
            case k8s::EventType::kDeleted: {
                const auto& md = ev.object.value("metadata", nlohmann::json::object());
                const std::string ns = md.value("namespace", std::string(k.kind) == "Namespace" ? "" : "default");
                if (store.remove(k.kind, ns, md.value("name", ""))) rep.removed++;
                break;
            }
            case k8s::EventType::kSynced: {
                // Everything listed now; what the watch wrote before and is not listed goes.
                std::set<std::tuple<std::string, std::string>> listed;
                if (ev.object.is_array())
                    for (auto& item : ev.object) {
                        const auto& md = item.value("metadata", nlohmann::json::object());
                        // Listed even if it does not convert: an invalid update keeps the old copy.
                        listed.emplace(md.value("namespace", std::string(k.kind) == "Namespace" ? "" : "default"),
                                       md.value("name", ""));
                        apply_one(store, typed(std::move(item), k), rep, nullptr);
                    }
                for (const objects::Entry& e : store.list(k.kind)) {
                    if (e.source != objects::Source::kWatch) continue;
                    if (listed.count({e.object.ns, e.object.name}) == 0 &&
                        store.remove(k.kind, e.object.ns, e.object.name))
                        rep.removed++;
                }
                break;
            }
        }
    }
    return rep;
}

}  // namespace enidp::daemon

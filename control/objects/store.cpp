#include "control/objects/store.hpp"

#include <algorithm>
#include <set>
#include <type_traits>

namespace enidp::objects {
namespace {

using nlohmann::json;

// Whether two objects are the same but for what the API server changes on every write and no
// builder reads, so that the same object sent again (or re-listed by the watcher) is recognised
// as unchanged. Compares in place: no copy of either body.
bool same_member(const json& a, const json& b, const char* const* ignored, size_t n_ignored, bool keep_listed) {
    if (!a.is_object() || !b.is_object()) return a == b;
    auto listed = [&](const std::string& key) {
        for (size_t i = 0; i < n_ignored; ++i)
            if (key == ignored[i]) return true;
        return false;
    };
    // keep_listed: only the listed keys count; otherwise every key but the listed ones.
    auto counts = [&](const std::string& key) { return listed(key) == keep_listed; };
    size_t na = 0, nb = 0;
    for (auto it = a.begin(); it != a.end(); ++it) {
        if (!counts(it.key())) continue;
        ++na;
        auto other = b.find(it.key());
        if (other == b.end() || *other != it.value()) return false;
    }
    for (auto it = b.begin(); it != b.end(); ++it) nb += counts(it.key());
    return na == nb;
}

// Whether `b` (converted to `model_b`) is the same as the stored `a`. Two objects whose
// models differ differ (the model is read from what the comparison below counts), so the
// models are compared first: cheaper than the DOMs, and an update usually changes them. Equal
// models leave the fields no model holds (annotations enidp does not read, ...) to compare.
bool same_object(const Entry& stored, const Object& b, const Model& model_b) {
    const Object& a = stored.object;
    if (a.api_version != b.api_version) return false;
    if (stored.model != model_b) return false;
    static constexpr const char* kVolatileMeta[] = {"resourceVersion", "managedFields", "generation",
                                                    "creationTimestamp", "uid", "selfLink"};
    // A Pod's status changes all the time (conditions, container states); only its IPs and
    // phase (a finished Pod is dropped, see ignore_reason) are read.
    static constexpr const char* kPodStatus[] = {"podIP", "podIPs", "phase"};
    const json &x = a.body, &y = b.body;
    if (!x.is_object() || !y.is_object()) return x == y;
    const auto kind = x.find("kind");
    const bool pod = kind != x.end() && kind->is_string() && kind->get_ref<const std::string&>() == "Pod";
    size_t nx = 0, ny = 0;
    for (auto it = x.begin(); it != x.end(); ++it) {
        ++nx;
        auto other = y.find(it.key());
        if (other == y.end()) return false;
        if (it.key() == "metadata") {
            if (!same_member(it.value(), *other, kVolatileMeta, std::size(kVolatileMeta), false)) return false;
        } else if (pod && it.key() == "status") {
            if (!same_member(it.value(), *other, kPodStatus, std::size(kPodStatus), true)) return false;
        } else if (it.value() != *other) {
            return false;
        }
    }
    for (auto it = y.begin(); it != y.end(); ++it) ++ny;
    return nx == ny;
}

}  // namespace

const char* to_string(Source s) {
    switch (s) {
        case Source::kManifest: return "manifest";
        case Source::kWatch: return "watch";
        case Source::kGrpc: return "grpc";
    }
    return "?";
}

std::string Key::to_string() const { return ns.empty() ? kind + " " + name : kind + " " + ns + "/" + name; }

void Store::erase_locked(const Key& key, std::vector<Change>& changes) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return;
    live_.erase(it->second.generation);
    entries_.erase(it);
    const uint64_t gen = ++generation_;
    tombstones_.emplace(gen, key);
    while (tombstones_.size() > kMaxTombstones) {
        forgotten_ = tombstones_.begin()->first;
        tombstones_.erase(tombstones_.begin());
    }
    changes.push_back(Change{key, gen, true});
}

void Store::commit_locked(Pending& p, Source source, std::vector<Change>& changes) {
    if (p.object == nullptr) {
        erase_locked(p.key, changes);
        return;
    }
    const auto it = entries_.find(p.key);
    if (it != entries_.end() && same_object(it->second, *p.object, *p.model)) {
        it->second.source = source;  // who sent it last, for dumps; not a change of desired state
        return;
    }
    const uint64_t gen = ++generation_;
    Entry entry{p.movable != nullptr ? std::move(*p.movable) : *p.object, std::move(*p.model), source, gen};
    if (it != entries_.end()) {
        live_.erase(it->second.generation);
        p.replaced.emplace(std::move(it->second));  // freed by the caller, after the lock
        it->second = std::move(entry);
        live_.emplace(gen, it);
    } else {
        live_.emplace(gen, entries_.emplace(p.key, std::move(entry)).first);
    }
    changes.push_back(Change{p.key, gen, false});
}

void Store::notify(const std::vector<Change>& changes) {
    if (changes.empty()) return;
    std::vector<Listener> listeners;
    {
        const std::lock_guard lock(mu_);
        for (const auto& [id, l] : listeners_) listeners.push_back(l);
    }
    for (const Listener& l : listeners) l(changes);
}

Result<ApplyOutcome> Store::apply_batch(const Object* objects, size_t count, Source source, bool replace,
                                        Object* owned) {
    // Validate everything before touching the store.
    std::vector<Pending> pending;
    pending.reserve(count);
    std::optional<std::string> ignored;
    std::set<Key> named;  // replace only
    for (size_t i = 0; i < count; ++i) {
        const Object& o = objects[i];
        Pending p{Key{o.kind, o.ns, o.name}, &o, owned != nullptr ? &owned[i] : nullptr, std::nullopt, std::nullopt};
        if (replace) named.insert(p.key);
        if (auto reason = ignore_reason(o)) {
            ignored = o.describe() + ": " + *reason;
            p.object = nullptr;  // not ours: whatever we held under this key goes
        } else {
            auto model = convert(o);
            if (auto* e = std::get_if<Error>(&model)) return std::move(*e);
            p.model = std::move(std::get<Model>(model));
        }
        pending.push_back(std::move(p));
    }
    std::vector<Change> changes;
    ApplyOutcome out;
    {
        const std::lock_guard lock(mu_);
        for (Pending& p : pending) commit_locked(p, source, changes);
        if (replace) {
            std::vector<Key> gone;
            for (const auto& [key, entry] : entries_) {
                if (entry.source == source && !named.contains(key)) gone.push_back(key);
            }
            for (const Key& key : gone) erase_locked(key, changes);
        }
        out.generation = generation_;
    }
    out.changed = !changes.empty();
    out.ignored = std::move(ignored);
    notify(changes);
    return out;
}

Result<ApplyOutcome> Store::apply(const Object& object, Source source) {
    // Keep the bare reason for one object (the batch form prefixes the object's name).
    auto r = apply_batch(&object, 1, source, false);
    if (auto* o = std::get_if<ApplyOutcome>(&r); o != nullptr && o->ignored) o->ignored = ignore_reason(object);
    return r;
}

Result<ApplyOutcome> Store::apply_all(const std::vector<Object>& objects, Source source) {
    return apply_batch(objects.data(), objects.size(), source, false);
}

Result<ApplyOutcome> Store::apply_all_moved(std::vector<Object>& objects, Source source) {
    return apply_batch(objects.data(), objects.size(), source, false, objects.data());
}

Result<ApplyOutcome> Store::replace_source(const std::vector<Object>& objects, Source source) {
    return apply_batch(objects.data(), objects.size(), source, true);
}

bool Store::remove(std::string_view kind, std::string_view ns, std::string_view name) {
    std::vector<Change> changes;
    {
        const std::lock_guard lock(mu_);
        erase_locked(Key{std::string(kind), std::string(ns), std::string(name)}, changes);
    }
    notify(changes);
    return !changes.empty();
}

std::optional<Entry> Store::get(std::string_view kind, std::string_view ns, std::string_view name) const {
    const std::lock_guard lock(mu_);
    const auto it = entries_.find(Key{std::string(kind), std::string(ns), std::string(name)});
    if (it == entries_.end()) return std::nullopt;
    return it->second;
}

std::vector<Entry> Store::list(std::string_view kind) const {
    const std::lock_guard lock(mu_);
    std::vector<Entry> out;
    for (auto it = entries_.lower_bound(Key{std::string(kind), "", ""}); it != entries_.end() && it->first.kind == kind;
         ++it) {
        out.push_back(it->second);
    }
    return out;
}

uint64_t Store::generation() const {
    const std::lock_guard lock(mu_);
    return generation_;
}

Snapshot Store::snapshot() const {
    const std::lock_guard lock(mu_);
    Snapshot s;
    s.generation = generation_;
    for (const auto& [key, entry] : entries_) {
        std::visit(
            [&s](const auto& m) {
                using T = std::decay_t<decltype(m)>;
                if constexpr (std::is_same_v<T, lb::Service>) s.services.push_back(m);
                if constexpr (std::is_same_v<T, lb::EndpointSlice>) s.slices.push_back(m);
                if constexpr (std::is_same_v<T, acl::Pod>) s.pods.push_back(m);
                if constexpr (std::is_same_v<T, acl::Namespace>) s.namespaces.push_back(m);
                if constexpr (std::is_same_v<T, acl::NetworkPolicy>) s.policies.push_back(m);
                if constexpr (std::is_same_v<T, acl::PayloadPolicy>) s.payload_policies.push_back(m);
            },
            entry.model);
    }
    return s;
}

ChangesSince Store::changes_since(uint64_t generation) const {
    const std::lock_guard lock(mu_);
    ChangesSince out;
    out.generation = generation_;
    out.complete = generation >= forgotten_;
    for (auto it = live_.upper_bound(generation); it != live_.end(); ++it)
        out.changes.push_back(Change{it->second->first, it->first, false});
    for (auto it = tombstones_.upper_bound(generation); it != tombstones_.end(); ++it) {
        out.changes.push_back(Change{it->second, it->first, true});
    }
    std::sort(out.changes.begin(), out.changes.end(),
              [](const Change& a, const Change& b) { return a.generation < b.generation; });
    return out;
}

ModelsSince Store::models_since(uint64_t generation, const std::vector<std::string>& kinds) const {
    auto wanted = [&kinds](const Key& key) { return std::find(kinds.begin(), kinds.end(), key.kind) != kinds.end(); };
    const std::lock_guard lock(mu_);
    ModelsSince out;
    out.generation = generation_;
    out.complete = generation >= forgotten_;
    for (auto it = live_.upper_bound(generation); it != live_.end(); ++it)
        if (wanted(it->second->first)) out.changes.push_back(ModelChange{it->second->first, it->first, it->second->second.model});
    for (auto it = tombstones_.upper_bound(generation); it != tombstones_.end(); ++it)
        if (wanted(it->second)) out.changes.push_back(ModelChange{it->second, it->first, std::nullopt});
    std::sort(out.changes.begin(), out.changes.end(),
              [](const ModelChange& a, const ModelChange& b) { return a.generation < b.generation; });
    return out;
}

uint64_t Store::subscribe(Listener listener) {
    const std::lock_guard lock(mu_);
    const uint64_t id = next_listener_++;
    listeners_.emplace(id, std::move(listener));
    return id;
}

void Store::unsubscribe(uint64_t id) {
    const std::lock_guard lock(mu_);
    listeners_.erase(id);
}

}  // namespace enidp::objects

#include "control/objects/store.hpp"

#include <algorithm>
#include <set>
#include <type_traits>

namespace enidp::objects {
namespace {

using nlohmann::json;

// The object without what the API server changes on every write and no builder reads, so that
// the same object sent again (or re-listed by the watcher) is recognised as unchanged.
json comparable_body(const json& body) {
    json out = body;
    if (auto meta = out.find("metadata"); meta != out.end() && meta->is_object()) {
        for (const char* key :
             {"resourceVersion", "managedFields", "generation", "creationTimestamp", "uid", "selfLink"}) {
            meta->erase(key);
        }
    }
    // A Pod's status changes all the time (conditions, container states); only its IPs and
    // phase (a finished Pod is dropped, see ignore_reason) are read.
    if (auto status = out.find("status");
        status != out.end() && status->is_object() && out.value("kind", "") == "Pod") {
        json kept = json::object();
        for (const char* key : {"podIP", "podIPs", "phase"}) {
            if (status->contains(key)) kept[key] = (*status)[key];
        }
        *status = std::move(kept);
    }
    return out;
}

bool same_object(const Object& a, const Object& b) {
    return a.api_version == b.api_version && comparable_body(a.body) == comparable_body(b.body);
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
    if (entries_.erase(key) == 0) return;
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
    if (it != entries_.end() && same_object(it->second.object, *p.object)) {
        it->second.source = source;  // who sent it last, for dumps; not a change of desired state
        return;
    }
    const uint64_t gen = ++generation_;
    Entry entry{*p.object, std::move(*p.model), source, gen};
    if (it != entries_.end()) {
        it->second = std::move(entry);
    } else {
        entries_.emplace(p.key, std::move(entry));
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

Result<ApplyOutcome> Store::apply_batch(const std::vector<Object>& objects, Source source, bool replace) {
    // Validate everything before touching the store.
    std::vector<Pending> pending;
    std::optional<std::string> ignored;
    std::set<Key> named;
    for (const Object& o : objects) {
        Pending p{Key{o.kind, o.ns, o.name}, &o, std::nullopt};
        named.insert(p.key);
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
    auto r = apply_batch({object}, source, false);
    if (auto* o = std::get_if<ApplyOutcome>(&r); o != nullptr && o->ignored) o->ignored = ignore_reason(object);
    return r;
}

Result<ApplyOutcome> Store::apply_all(const std::vector<Object>& objects, Source source) {
    return apply_batch(objects, source, false);
}

Result<ApplyOutcome> Store::replace_source(const std::vector<Object>& objects, Source source) {
    return apply_batch(objects, source, true);
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
    for (const auto& [key, entry] : entries_) {
        if (entry.generation > generation) out.changes.push_back(Change{key, entry.generation, false});
    }
    for (auto it = tombstones_.upper_bound(generation); it != tombstones_.end(); ++it) {
        out.changes.push_back(Change{it->second, it->first, true});
    }
    std::sort(out.changes.begin(), out.changes.end(),
              [](const Change& a, const Change& b) { return a.generation < b.generation; });
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

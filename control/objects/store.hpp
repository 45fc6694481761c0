// The desired-state store: every Kubernetes object this node should act on, whoever sent it.
//
// Control side only (never included by fast-path code). Thread-safe: manifests (daemon
// start-up, SIGHUP, enidpctl), the API watcher and the gRPC server may call it from their own
// threads; one mutex guards it, and listeners run on the calling thread after it is released.
// Every object is validated by convert.hpp before it is stored; a rejected apply leaves the
// store as it was and returns the error. Each accepted change bumps the generation by one; an
// apply that changes nothing (the same object again) does not. The reconciler reads
// snapshot() and follows changes with subscribe() or changes_since().
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/objects/convert.hpp"
#include "control/objects/manifest.hpp"

namespace enidp::objects {

// Who last wrote an object (for dumps, and for replace_source).
enum class Source : uint8_t { kManifest, kWatch, kGrpc };
const char* to_string(Source);

struct Key {
    std::string kind;
    std::string ns;  // empty for Namespace
    std::string name;
    auto operator<=>(const Key&) const = default;
    std::string to_string() const;  // "Service default/web"
};

struct Entry {
    Object object;  // as last applied
    Model model;    // its converted form
    Source source = Source::kManifest;
    uint64_t generation = 0;  // the store generation of its last change
};

struct Change {
    Key key;
    uint64_t generation = 0;  // the store generation this change produced
    bool deleted = false;
};

struct ApplyOutcome {
    bool changed = false;                // the store changed (the generation moved)
    uint64_t generation = 0;             // the store generation after the call
    std::optional<std::string> ignored;  // not ours (ignore_reason): not stored, and any old copy removed
};

// What the builders take, each vector in (ns, name) order.
struct Snapshot {
    uint64_t generation = 0;
    std::vector<lb::Service> services;
    std::vector<lb::EndpointSlice> slices;
    std::vector<acl::Pod> pods;
    std::vector<acl::Namespace> namespaces;
    std::vector<acl::NetworkPolicy> policies;
    std::vector<acl::PayloadPolicy> payload_policies;
};

struct ChangesSince {
    uint64_t generation = 0;      // the store generation now
    bool complete = true;         // false: deletions that old were forgotten; rebuild from snapshot()
    std::vector<Change> changes;  // live objects changed and objects deleted after G, by generation
};

// changes_since with the converted form of each live object (what a reconciler applies).
struct ModelChange {
    Key key;
    uint64_t generation = 0;
    std::optional<Model> model;  // nullopt: deleted
};
struct ModelsSince {
    uint64_t generation = 0;  // the store generation now: pass it next time
    bool complete = true;     // as ChangesSince::complete
    std::vector<ModelChange> changes;  // by generation
};

class Store {
public:
    // Validates and stores (or replaces) one object.
    Result<ApplyOutcome> apply(const Object& object, Source source);
    // All or nothing: every object is validated first; the first error leaves the store unchanged.
    Result<ApplyOutcome> apply_all(const std::vector<Object>& objects, Source source);
    // The same, moving the objects into the store once every one is valid (on an error they
    // are left as they were; on success they are moved-from): no copy of each body (the API's
    // bulk applies).
    Result<ApplyOutcome> apply_all_moved(std::vector<Object>& objects, Source source);
    // apply_all, then removes what `source` wrote earlier and `objects` no longer hold (a
    // manifest reload, a watch re-list). Objects last written by other sources are kept.
    Result<ApplyOutcome> replace_source(const std::vector<Object>& objects, Source source);
    // Whether it was there. Removing what is not there changes nothing.
    bool remove(std::string_view kind, std::string_view ns, std::string_view name);

    std::optional<Entry> get(std::string_view kind, std::string_view ns, std::string_view name) const;
    std::vector<Entry> list(std::string_view kind) const;  // in (ns, name) order
    uint64_t generation() const;
    Snapshot snapshot() const;
    ChangesSince changes_since(uint64_t generation) const;
    // The objects of `kinds` changed or deleted after `generation`, with their models. Costs
    // O(changes), not O(objects): a reconciler follows the store with it instead of snapshot().
    ModelsSince models_since(uint64_t generation, const std::vector<std::string>& kinds) const;

    // `listener` gets the changes of each accepted apply/remove, after the store's lock is
    // released, on the thread that made them. Listeners may call the store. Two threads
    // changing the store at once may deliver out of order: use Change::generation.
    using Listener = std::function<void(const std::vector<Change>&)>;
    uint64_t subscribe(Listener listener);
    void unsubscribe(uint64_t id);

    // How many deletions changes_since() remembers.
    static constexpr size_t kMaxTombstones = 4096;

private:
    struct Pending {
        Key key;
        const Object* object = nullptr;  // nullptr: remove
        Object* movable = nullptr;       // the same object when the caller gave it away
        std::optional<Model> model;
        std::optional<Entry> replaced;  // the entry it replaced, freed once the lock is released
    };
    // Runs under mu_: stores `p` and records the change, if it changes anything.
    void commit_locked(Pending& p, Source source, std::vector<Change>& changes);
    void erase_locked(const Key& key, std::vector<Change>& changes);
    void notify(const std::vector<Change>& changes);
    // `owned`: the same `count` objects when they may be moved into the store.
    Result<ApplyOutcome> apply_batch(const Object* objects, size_t count, Source source, bool replace,
                                     Object* owned = nullptr);

    using Entries = std::map<Key, Entry>;
    mutable std::mutex mu_;
    Entries entries_;
    std::map<uint64_t, Entries::iterator> live_;  // Entry::generation → the entry (changes since G)
    std::map<uint64_t, Key> tombstones_;  // generation of the deletion → key
    uint64_t generation_ = 0;
    uint64_t forgotten_ = 0;  // highest generation of a dropped tombstone
    std::map<uint64_t, Listener> listeners_;
    uint64_t next_listener_ = 1;
};

}  // namespace enidp::objects

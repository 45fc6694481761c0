// The API-server watcher's events into the desired-state store.
//
// Control thread only: the daemon drains k8s::EventQueue each loop iteration and hands the
// events here. Objects are converted and validated by control/objects; one that does not
// convert is reported (and, if an older copy exists, that copy stays) while the rest are
// applied: a bad object never blocks the others. SYNCED (initial list or relist) replaces
// every watch-sourced object of that kind.
#pragma once

#include <string>
#include <vector>

#include "control/k8s/watcher.hpp"
#include "control/objects/store.hpp"

namespace enidp::daemon {

struct KubeSyncReport {
    size_t applied = 0;
    size_t removed = 0;
    std::vector<std::string> errors;  // "watch: Service default/web: spec.ports[0].port: must be 1-65535"
};

KubeSyncReport apply_watch_events(objects::Store& store, std::vector<k8s::Event> events);

}  // namespace enidp::daemon

// The Service-stage objects a dataplane Snapshot points to.
//
// Who may call: workers read through a published Snapshot; the runtime fills it when it
// builds one (control thread).
#pragma once

#include "lb/fastpath/affinity.hpp"
#include "lb/fastpath/conntrack.hpp"
#include "lb/fastpath/service_table.hpp"

namespace enidp::lb {

// What a snapshot carries for the Service stage. The table is immutable; the conntrack,
// affinity and state objects live as long as the dataplane.
struct LbTables {
    const ServiceTable* table = nullptr;
    Conntrack* ct = nullptr;
    Affinity* affinity = nullptr;
    LbState* state = nullptr;

    // Nothing to do when there is no Service and no flow: the stage is skipped.
    bool active() const {
        return table != nullptr && ct != nullptr && (!table->frontends.empty() || ct->size() != 0);
    }
};

}  // namespace enidp::lb

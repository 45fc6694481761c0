// SnapshotBuilder: CompiledPolicy → PolicySnapshot (rte_acl contexts, pod flags, rule table).
//
// Control thread only: rte_acl_build is not thread-safe and takes milliseconds to seconds.
// Needs EAL (rte_acl allocates from DPDK memory). A failed build returns an error and leaves
// whatever snapshot is published untouched.
#pragma once

#include <memory>
#include <string>

#include "acl/compiler/compiler.hpp"
#include "acl/fastpath/policy_snapshot.hpp"

namespace enidp::acl {

struct BuildResult {
    std::unique_ptr<PolicySnapshot> snapshot;  // null on error
    std::string error;
};

class SnapshotBuilder {
public:
    // generation: stamped into the snapshot (the caller's publication counter).
    static BuildResult build(const CompiledPolicy& compiled, uint64_t generation, int socket_id = -1 /*any*/);
};

}  // namespace enidp::acl

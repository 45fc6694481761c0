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

struct BuildOptions {
    int socket_id = -1;    // SOCKET_ID_ANY
    unsigned workers = 1;  // Hyperscan scratches to clone, one per worker index
};

class SnapshotBuilder {
public:
    // generation: stamped into the snapshot (the caller's publication counter). Errors:
    // rte_acl failures, and Hyperscan pattern compile errors as
    // "payloadpolicy ns/name pattern #i \"regex\": message".
    static BuildResult build(const CompiledPolicy& compiled, uint64_t generation, const BuildOptions& opt = {});

private:
    static std::string build_payload(const CompiledPolicy& compiled, const BuildOptions& opt, PolicySnapshot& snap);
};

}  // namespace enidp::acl

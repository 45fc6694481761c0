#include "acl/compiler/snapshot_builder.hpp"

#include <arpa/inet.h>

#include <atomic>
#include <cstddef>
#include <map>
#include <tuple>

#include <rte_errno.h>

namespace enidp::acl {

namespace {

RTE_ACL_RULE_DEF(AclRule, kAclFieldCount);

rte_acl_config acl_config() {
    rte_acl_config cfg{};
    cfg.num_categories = 1;
    cfg.num_fields = kAclFieldCount;
    const auto def = [&](AclField f, uint8_t type, uint8_t size, uint8_t input_index, size_t offset) {
        cfg.defs[f] = {type, size, f, input_index, static_cast<uint32_t>(offset)};
    };
    def(kFieldProto, RTE_ACL_FIELD_TYPE_BITMASK, 1, 0, offsetof(AclKey, proto));
    def(kFieldPod, RTE_ACL_FIELD_TYPE_MASK, 4, 1, offsetof(AclKey, pod_id));
    def(kFieldRemoteIp, RTE_ACL_FIELD_TYPE_MASK, 4, 2, offsetof(AclKey, remote_ip));
    def(kFieldDport, RTE_ACL_FIELD_TYPE_RANGE, 2, 3, offsetof(AclKey, dport));
    def(kFieldSport, RTE_ACL_FIELD_TYPE_RANGE, 2, 3, offsetof(AclKey, sport));
    cfg.max_size = 0;
    return cfg;
}

std::atomic<uint64_t> g_ctx_serial{0};

}  // namespace

BuildResult SnapshotBuilder::build(const CompiledPolicy& compiled, uint64_t generation, int socket_id) {
    auto snap = std::make_unique<PolicySnapshot>();
    snap->generation_ = generation;
    snap->policy_names_ = compiled.policy_names;

    uint32_t max_id = 0;
    for (const PodRules& p : compiled.pods) max_id = std::max(max_id, p.id + 1);
    snap->flags_.assign(max_id, 0);

    std::map<std::tuple<uint32_t, uint32_t, int>, uint32_t> rule_ids;
    std::vector<AclRule> rules[kDirections];
    for (const PodRules& p : compiled.pods) {
        uint8_t& f = snap->flags_[p.id];
        f |= kPodKnown;
        if (p.dir[0].isolated) f |= kPodIsolatedIngress;
        if (p.dir[1].isolated) f |= kPodIsolatedEgress;
        for (int d = 0; d < kDirections; ++d) {
            const auto& entries = p.dir[d].entries;
            for (size_t i = 0; i < entries.size(); ++i) {
                const AllowEntry& e = entries[i];
                auto [it, fresh] = rule_ids.try_emplace({e.policy, e.rule, d}, 0);
                if (fresh) {
                    snap->rules_.push_back({e.policy, e.rule, static_cast<Direction>(d)});
                    it->second = static_cast<uint32_t>(snap->rules_.size());
                }
                AclRule r{};
                r.data.category_mask = 1;
                // Earlier entries (lower policy, then rule index) win when several match.
                r.data.priority =
                    static_cast<int32_t>(RTE_ACL_MAX_PRIORITY - std::min<size_t>(i, RTE_ACL_MAX_PRIORITY - 1));
                r.data.userdata = it->second;
                r.field[kFieldProto].value.u8 = e.protocol;
                r.field[kFieldProto].mask_range.u8 = e.protocol == kAnyProtocol ? 0 : 0xff;
                r.field[kFieldPod].value.u32 = p.id;
                r.field[kFieldPod].mask_range.u32 = 32;
                r.field[kFieldRemoteIp].value.u32 = ntohl(e.addr);
                r.field[kFieldRemoteIp].mask_range.u32 = e.prefix_len;
                r.field[kFieldDport].value.u16 = e.port_lo;
                r.field[kFieldDport].mask_range.u16 = e.port_hi;
                r.field[kFieldSport].value.u16 = 0;
                r.field[kFieldSport].mask_range.u16 = 65535;
                rules[d].push_back(r);
            }
        }
    }

    const rte_acl_config cfg = acl_config();
    const uint64_t serial = g_ctx_serial.fetch_add(1);
    for (int d = 0; d < kDirections; ++d) {
        snap->acl_rules_[d] = rules[d].size();
        if (rules[d].empty()) continue;  // isolated pods in this direction are default-deny
        const std::string name = "enidp_acl_" + std::to_string(serial) + (d == 0 ? "_in" : "_eg");
        rte_acl_param prm{};
        prm.name = name.c_str();
        prm.socket_id = socket_id;
        prm.rule_size = RTE_ACL_RULE_SZ(kAclFieldCount);
        prm.max_rule_num = static_cast<uint32_t>(rules[d].size());
        rte_acl_ctx* ctx = rte_acl_create(&prm);
        if (ctx == nullptr) return {nullptr, "rte_acl_create " + name + ": " + rte_strerror(rte_errno)};
        snap->ctx_[d] = ctx;  // freed by ~PolicySnapshot on any error below
        int rc = rte_acl_add_rules(ctx, reinterpret_cast<const rte_acl_rule*>(rules[d].data()),
                                   static_cast<uint32_t>(rules[d].size()));
        if (rc != 0) return {nullptr, "rte_acl_add_rules " + name + ": " + rte_strerror(-rc)};
        rc = rte_acl_build(ctx, &cfg);
        if (rc != 0) return {nullptr, "rte_acl_build " + name + ": " + rte_strerror(-rc)};
    }
    return {std::move(snap), {}};
}

}  // namespace enidp::acl

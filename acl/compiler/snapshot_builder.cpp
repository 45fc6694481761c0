#include "acl/compiler/snapshot_builder.hpp"

#include <arpa/inet.h>

#include <atomic>
#include <cstddef>
#include <map>
#include <tuple>

#include <rte_errno.h>

#include "acl/fastpath/payload.hpp"

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

BuildResult SnapshotBuilder::build(const CompiledPolicy& compiled, uint64_t generation, const BuildOptions& opt) {
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
        prm.socket_id = opt.socket_id;
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
    if (std::string err = build_payload(compiled, opt, *snap); !err.empty()) return {nullptr, err};
    return {std::move(snap), {}};
}

std::string SnapshotBuilder::build_payload(const CompiledPolicy& compiled, const BuildOptions& opt,
                                           PolicySnapshot& snap) {
    auto ps = std::make_unique<PayloadSnapshot>();
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (uint32_t pi = 0; pi < compiled.payload_policies.size(); ++pi) {
        const PayloadPolicy& pp = compiled.payload_policies[pi];
        ps->names_.push_back(pp.ns + "/" + pp.name);
        PayloadRuleSet rs;
        rs.action = pp.action == PayloadPolicy::Action::kDeny    ? PayloadAction::kDeny
                    : pp.action == PayloadPolicy::Action::kAllow ? PayloadAction::kAllow
                                                                 : PayloadAction::kLog;
        for (const PolicyPort& port : pp.ports) {
            const auto proto = static_cast<uint8_t>(port.protocol);
            if (port.port) {
                rs.ports.push_back({proto, *port.port, port.end_port.value_or(*port.port)});
            } else if (port.port_name.empty()) {
                rs.ports.push_back({proto, 0, 65535});
            } else {
                return "payloadpolicy " + ps->names_.back() + ": named port \"" + port.port_name +
                       "\" is not supported in PayloadPolicy ports (use a number)";
            }
        }
        ps->policies_.push_back(std::move(rs));
        for (uint32_t k = 0; k < pp.patterns.size(); ++k) {
            ids.push_back(static_cast<unsigned>(ps->owner_.size()));
            ps->owner_.push_back({pi, k});
            exprs.push_back(pp.patterns[k].c_str());
            flags.push_back(HS_FLAG_SINGLEMATCH);
        }
    }
    for (int d = 0; d < kDirections; ++d) {
        ps->begin_[d].assign(snap.flags_.size() + 1, 0);
        std::vector<std::vector<uint32_t>> per_pod(snap.flags_.size());
        for (const PodRules& p : compiled.pods) {
            if (p.dir[d].payload_policies.size() > kMaxPayloadPoliciesPerPod)
                return "pod " + p.ns + "/" + p.name + ": selected by " +
                       std::to_string(p.dir[d].payload_policies.size()) +
                       " payload policies in one direction, at most " + std::to_string(kMaxPayloadPoliciesPerPod);
            per_pod[p.id] = p.dir[d].payload_policies;
        }
        for (size_t id = 0; id < per_pod.size(); ++id) {
            ps->list_[d].insert(ps->list_[d].end(), per_pod[id].begin(), per_pod[id].end());
            ps->begin_[d][id + 1] = static_cast<uint32_t>(ps->list_[d].size());
        }
    }
    if (exprs.empty()) return {};  // no patterns: no payload snapshot, nothing is ever scanned

    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK,
                         nullptr, &ps->db_, &err) != HS_SUCCESS) {
        std::string msg = "hyperscan: ";
        if (err != nullptr && err->expression >= 0) {
            const auto [pi, k] = ps->owner_[static_cast<size_t>(err->expression)];
            msg = "payloadpolicy " + ps->names_[pi] + " pattern #" + std::to_string(k) + " \"" +
                  compiled.payload_policies[pi].patterns[k] + "\": ";
        }
        msg += err != nullptr ? err->message : "compile failed";
        hs_free_compile_error(err);
        return msg;
    }
    hs_scratch_t* proto = nullptr;
    if (hs_alloc_scratch(ps->db_, &proto) != HS_SUCCESS) return "hyperscan: cannot allocate scratch";
    for (unsigned w = 0; w < std::max(1u, opt.workers); ++w) {
        hs_scratch_t* s = nullptr;
        if (hs_clone_scratch(proto, &s) != HS_SUCCESS) {
            hs_free_scratch(proto);
            return "hyperscan: cannot clone scratch for worker " + std::to_string(w);
        }
        ps->scratch_.push_back(s);
    }
    hs_free_scratch(proto);
    snap.payload_ = std::move(ps);
    return {};
}

}  // namespace enidp::acl

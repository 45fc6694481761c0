// DataplaneView on the real data path: see dataplane_view.hpp.
#include "control/api/dataplane_view.hpp"

#include <cstdio>
#include <map>

#include <rte_byteorder.h>

#include "acl/compiler/dump.hpp"
#include "control/report/report.hpp"
#include "dataplane/fastpath/policy_stage.hpp"
#include "lb/builder/dump.hpp"
#include "lb/fastpath/trace.hpp"

namespace enidp::api {

namespace {

void set_endpoint(v1::Endpoint& e, uint32_t ip_net, uint16_t port_net) {
    e.set_ip(format_ipv4(rte_be_to_cpu_32(ip_net)));
    e.set_port(rte_be_to_cpu_16(port_net));
}

v1::Protocol proto_enum(uint8_t p) {
    switch (p) {
        case 6: return v1::PROTOCOL_TCP;
        case 17: return v1::PROTOCOL_UDP;
        case 132: return v1::PROTOCOL_SCTP;
        case 1: return v1::PROTOCOL_ICMP;
        default: return v1::PROTOCOL_UNSPECIFIED;
    }
}

}  // namespace

std::string DaemonView::service_counters_json() {
    nlohmann::json arr = nlohmann::json::array();
    for (const dp::ServicePortCounters& c : dp_.service_counters()) {
        nlohmann::json backends = nlohmann::json::array();
        for (const auto& b : c.backends)
            backends.push_back({{"endpoint", b.endpoint}, {"flows", b.flows}, {"active", b.active}});
        arr.push_back({{"service", c.service},
                       {"new_flows", c.new_flows},
                       {"rejected", c.rejected},
                       {"active_flows", c.active_flows},
                       {"backends", backends}});
    }
    return arr.dump();
}

void DaemonView::stats(v1::GetStatsResponse& out) {
    const dp::DataplaneCounters c = dp_.counters();
    out.set_counters_json(report::to_json(c).dump(2));
    out.set_drops_total(c.drops_total());
    out.set_conntrack_flows(c.lb.conntrack.flows);
    out.set_conntrack_capacity(c.lb.conntrack.capacity);
    out.set_service_table_generation(c.lb.table_generation);
    out.set_service_ports(c.lb.service_ports);
    out.set_frontends(c.lb.frontends);
    out.set_backends(c.lb.backends);
    out.set_pods(static_cast<uint32_t>(c.pods.size()));
    out.set_workers(static_cast<uint32_t>(c.workers.size()));
}

void DaemonView::dump_services(v1::DumpFormat format, v1::DumpServicesResponse& out) {
    const lb::ServiceTable& t = dp_.services();
    out.set_dump(format == v1::DUMP_FORMAT_JSON ? lb::dump_json(t, 2) : lb::dump_text(t));
    out.set_table_generation(t.generation);
}

void DaemonView::dump_conntrack(const ConntrackFilter& f, v1::DumpConntrackResponse& out) {
    const lb::ServiceTable& table = dp_.services();
    std::map<uint32_t, const std::string*> names;  // stable service-port id → name
    for (const lb::ServicePort& sp : table.ports) names[sp.id] = &table.names[sp.name];
    const uint64_t now = lb::clock_ms();
    const uint32_t want_src = f.src ? rte_cpu_to_be_32(*f.src) : 0;
    const uint32_t want_dst = f.dst ? rte_cpu_to_be_32(*f.dst) : 0;
    const uint16_t want_port = rte_cpu_to_be_16(f.port);
    uint64_t matched = 0;
    dp_.conntrack().for_each([&](const lb::Flow& fl) {
        const lb::CtKey& o = fl.orig;
        const lb::CtKey& r = fl.reply;
        if (f.proto != 0 && o.proto != f.proto) return;
        if (f.src && o.src != want_src && r.src != want_src) return;
        if (f.dst && o.dst != want_dst && r.src != want_dst) return;
        if (f.port != 0 && o.sport != want_port && o.dport != want_port && r.sport != want_port && r.dport != want_port)
            return;
        if (f.state >= 0 && fl.state.load(std::memory_order_relaxed) != f.state) return;
        auto name = names.find(fl.service_port);
        const std::string service = name != names.end() ? *name->second : std::string();
        if (!f.service.empty() && service.compare(0, f.service.size(), f.service) != 0) return;
        matched++;
        if (out.flows_size() >= static_cast<int>(f.limit)) return;
        v1::ConntrackFlow& x = *out.add_flows();
        x.set_protocol(proto_enum(o.proto));
        x.set_client_ip(format_ipv4(rte_be_to_cpu_32(o.src)));
        x.set_client_port(rte_be_to_cpu_16(o.sport));
        x.set_frontend_ip(format_ipv4(rte_be_to_cpu_32(o.dst)));
        x.set_frontend_port(rte_be_to_cpu_16(o.dport));
        x.set_backend_ip(format_ipv4(rte_be_to_cpu_32(r.src)));
        x.set_backend_port(rte_be_to_cpu_16(r.sport));
        x.set_reply_dst_ip(format_ipv4(rte_be_to_cpu_32(r.dst)));
        x.set_reply_dst_port(rte_be_to_cpu_16(r.dport));
        const uint8_t st = fl.state.load(std::memory_order_relaxed);
        x.set_state(st < static_cast<uint8_t>(lb::CtState::kCount) ? lb::kCtStateNames[st] : "?");
        x.set_service(service);
        const uint8_t flags = fl.flags.load(std::memory_order_relaxed);
        static constexpr std::pair<uint8_t, const char*> kFlags[] = {{lb::kFlowFromEni, "from_eni"},
                                                                     {lb::kFlowSnat, "snat"},
                                                                     {lb::kFlowHairpin, "hairpin"},
                                                                     {lb::kFlowFinOrig, "fin_orig"},
                                                                     {lb::kFlowFinReply, "fin_reply"}};
        for (const auto& [bit, n] : kFlags)
            if (flags & bit) x.add_flags(n);
        const uint64_t last = fl.last_seen_ms.load(std::memory_order_relaxed);
        x.set_age_ms(now > uint64_t{fl.created_s} * 1000 ? now - uint64_t{fl.created_s} * 1000 : 0);
        x.set_idle_ms(now > last ? now - last : 0);
    });
    out.set_matched(matched);
    out.set_total(dp_.conntrack().size());
}

bool DaemonView::resolve(const Peer& peer, uint32_t& ip) const {
    if (!peer.is_pod) {
        ip = peer.ip;
        return true;
    }
    for (const LocalPod& p : pods_)
        if (p.ns == peer.ns && p.name == peer.name) {
            ip = p.ip;
            return true;
        }
    if (auto e = store_.get(objects::kKindPod, peer.ns, peer.name)) {
        if (const auto* pod = std::get_if<acl::Pod>(&e->model); pod != nullptr && !pod->ips.empty()) {
            ip = rte_be_to_cpu_32(pod->ips.front());
            return true;
        }
    }
    return false;
}

std::string DaemonView::trace(const TraceQuery& q, v1::TraceResponse& out) {
    uint32_t src = 0, dst = 0;
    if (!resolve(q.from, src))
        return "trace.from: pod " + q.from.to_string() +
               " is neither in this node's config nor a stored Pod with an IP";
    if (!resolve(q.to, dst))
        return "trace.to: pod " + q.to.to_string() + " is neither in this node's config nor a stored Pod with an IP";
    const dp::Snapshot* snap = dp_.snapshot();
    lb::TraceInput in;
    in.src = rte_cpu_to_be_32(src);
    in.dst = rte_cpu_to_be_32(dst);
    in.sport = rte_cpu_to_be_16(q.sport);
    in.dport = rte_cpu_to_be_16(q.dport);
    in.proto = q.proto;
    in.tcp_syn = true;
    // A source that is no local pod is external traffic: it arrives on an ENI (the one whose
    // address it is sent to, else the first), which is also the address SNAT would use.
    const uint32_t src_pod = snap->pod_by_ip.find(in.src);
    in.from_eni = src_pod == dp::kNoIndex;
    if (in.from_eni && !snap->enis.empty()) {
        in.snat_ip = snap->enis.front().ip;
        for (const dp::EniEntry& e : snap->enis)
            if (e.ip == in.dst) in.snat_ip = e.ip;
    }
    const lb::TraceResult r = lb::trace(snap->lb, in);

    switch (r.verdict) {
        case lb::TraceVerdict::kNotService:
        case lb::TraceVerdict::kFlow:
        case lb::TraceVerdict::kNewFlow: out.set_verdict(v1::VERDICT_FORWARD); break;
        case lb::TraceVerdict::kReject: out.set_verdict(v1::VERDICT_REJECT); break;
        case lb::TraceVerdict::kDrop: out.set_verdict(v1::VERDICT_DROP); break;
    }
    out.set_reason(r.reason);
    out.set_service_stage(lb::to_string(r.verdict));
    out.set_service(r.service);
    out.set_frontend_kind(r.frontend_kind);
    out.set_backend_set(r.backend_set);
    out.set_backends_in_set(r.backends_in_set);
    set_endpoint(*out.mutable_in_src(), in.src, in.sport);
    set_endpoint(*out.mutable_in_dst(), in.dst, in.dport);
    set_endpoint(*out.mutable_out_src(), r.out_src, r.out_sport);
    set_endpoint(*out.mutable_out_dst(), r.out_dst, r.out_dport);
    if (r.verdict == lb::TraceVerdict::kNewFlow || r.verdict == lb::TraceVerdict::kFlow)
        set_endpoint(*out.mutable_backend(), r.out_dst, r.out_dport);
    out.set_snat(r.snat);
    out.set_affinity_hit(r.affinity_hit);
    out.set_flow_state(r.flow_state);
    out.set_flow_direction(r.flow_direction);

    // NetworkPolicy on the translated packet, as the workers decide a flow's first packet.
    if (r.verdict != lb::TraceVerdict::kReject && r.verdict != lb::TraceVerdict::kDrop) {
        if (!snap->policy.active()) {
            out.set_policy_verdict("off");
        } else {
            const dp::PolicyDecision d = dp::decide_flow(*snap, in.src, r.out_dst, r.out_dport, in.proto);
            const acl::PolicySnapshot& ps = *snap->policy.snap;
            std::string pod;
            for (const auto& [key, id] : dp_.policy_pods())
                if (id == d.pod) pod = key;
            out.set_policy_direction(d.dir == acl::Direction::kEgress ? "egress" : "ingress");
            if (d.drop == dp::Drop::kPolicyPending) {
                out.set_policy_verdict("pending");
                out.set_verdict(v1::VERDICT_DROP);
                out.set_reason("NetworkPolicy: pod " + pod + " was attached after the published policy snapshot " +
                               std::to_string(ps.generation()) + "; it stays closed until its policy is published");
            } else if (!d.allowed()) {
                out.set_policy_verdict("denied");
                out.set_verdict(v1::VERDICT_DROP);
                const bool eg = d.dir == acl::Direction::kEgress;
                out.set_reason("NetworkPolicy: pod " + pod + " is isolated for " + (eg ? "egress" : "ingress") +
                               " and no rule admits " + (eg ? "destination " : "source ") +
                               format_ipv4(rte_be_to_cpu_32(d.peer)) + " " + acl::protocol_name(in.proto) + "/" +
                               std::to_string(rte_be_to_cpu_16(r.out_dport)) + " (policy snapshot " +
                               std::to_string(ps.generation()) + ")");
            } else if (const acl::RuleRef* ref = ps.rule(d.rule)) {
                out.set_policy_verdict("allowed");
                if (ref->policy < ps.policy_names().size()) out.set_policy(ps.policy_names()[ref->policy]);
                out.set_policy_rule(ps.describe_rule(d.rule));
            } else {
                out.set_policy_verdict("not_isolated");
            }
        }
    }

    // Where it leaves, by the pipeline's routing: a local pod destination goes to its port; a
    // pod's other traffic out of its ENI; a REJECT answer back to the sender.
    auto set_port = [&](uint16_t port, const char* role, std::string owner) {
        v1::OutputPort& p = *out.mutable_output_port();
        p.set_port(port);
        p.set_role(role);
        p.set_owner(std::move(owner));
    };
    auto pod_owner = [&](uint16_t port) {
        for (const auto& p : dp_.counters().pods)
            if (p.port == port) return p.key;
        return std::string();
    };
    auto eni_owner = [&](uint16_t port) {
        for (const auto& e : dp_.counters().enis)
            if (e.port == port) return e.name;
        return std::string();
    };
    if (r.verdict == lb::TraceVerdict::kReject) {
        if (src_pod != dp::kNoIndex) set_port(snap->pods[src_pod].port, "pod", pod_owner(snap->pods[src_pod].port));
    } else if (r.verdict != lb::TraceVerdict::kDrop && out.verdict() != v1::VERDICT_DROP) {
        const uint32_t dst_pod = snap->pod_by_ip.find(r.out_dst);
        if (dst_pod != dp::kNoIndex) {
            set_port(snap->pods[dst_pod].port, "pod", pod_owner(snap->pods[dst_pod].port));
        } else if (src_pod != dp::kNoIndex && snap->pods[src_pod].eni != dp::kNoIndex) {
            const uint16_t port = snap->enis[snap->pods[src_pod].eni].port;
            set_port(port, "eni", eni_owner(port));
        }
    }
    return "";
}

std::string DaemonView::dump_policy(const std::string& pod, v1::DumpFormat format, v1::DumpPolicyResponse& out) {
    const acl::PolicySnapshot* snap = dp_.policy();
    out.set_active(snap != nullptr);
    out.set_policy_generation(snap != nullptr ? snap->generation() : 0);
    if (!pod.empty()) {
        bool local = false;
        for (const auto& [key, id] : dp_.policy_pods()) local = local || key == pod;
        if (!local) return "policy.pod: " + pod + " is not a pod of this node";
    }
    const bool json = format == v1::DUMP_FORMAT_JSON;
    nlohmann::json arr = nlohmann::json::array();
    std::string text;
    if (snap == nullptr || policies_ == nullptr) {
        text = "no NetworkPolicy or PayloadPolicy is published: nothing is enforced\n";
    } else {
        const acl::CompiledPolicy& c = policies_->compiled();
        for (const acl::PodRules& p : c.pods) {
            if (!pod.empty() && p.ns + "/" + p.name != pod) continue;
            if (json) arr.push_back(acl::dump_pod_json(c, p));
            else text += acl::dump_pod_text(c, p);
        }
    }
    if (!json && policies_ != nullptr) text += policies_->offload_text();
    out.set_dump(json ? arr.dump(2) + "\n" : text);
    return "";
}

void DaemonView::read_verdicts(uint64_t after_seq, const std::string& pod, size_t max,
                               std::vector<v1::VerdictRecord>& out) {
    uint64_t seq = after_seq;
    while (out.size() < max) {
        const auto batch = dp_.verdicts_since(seq, max);
        if (batch.empty()) return;
        for (const dp::VerdictLogEntry& e : batch) {
            seq = e.seq;
            if (!pod.empty() && e.pod != pod) continue;
            v1::VerdictRecord& r = out.emplace_back();
            r.set_seq(e.seq);
            r.set_time_ms(e.time_ms);
            r.set_pod(e.pod);
            r.set_peer(format_ipv4(rte_be_to_cpu_32(e.peer)));
            r.set_port(e.port);
            r.set_protocol(e.proto == 1 ? "icmp" : acl::protocol_name(e.proto));
            r.set_direction(e.direction);
            r.set_verdict(e.verdict);
            r.set_policy(e.policy);
            r.set_policy_generation(e.policy_generation);
            if (out.size() >= max) return;
        }
    }
}

void DaemonView::dump_ports(v1::DumpPortsResponse& out) {
    const dp::DataplaneCounters c = dp_.counters();
    std::map<uint16_t, const dp::PortCounters*> by_port;
    for (const dp::PortCounters& p : c.ports) by_port[p.port] = &p;
    auto ip = [](uint32_t be) { return be == 0 ? std::string() : format_ipv4(rte_be_to_cpu_32(be)); };
    for (const dp::Dataplane::EniInfo& e : dp_.eni_inventory()) {
        v1::EniPort& o = *out.add_enis();
        o.set_name(e.name);
        o.set_device(e.device);
        o.set_port(e.port);
        o.set_mac(report::mac_string(e.mac));
        o.set_ip(ip(e.ip));
        o.set_gateway(ip(e.gateway_ip));
        if (e.gateway_mac) o.set_gateway_mac(report::mac_string(*e.gateway_mac));
        o.set_queues(e.queues);
        o.set_mtu(e.mtu);
        o.set_link_up(e.link_up);
        for (const std::string& pod : e.pods) o.add_pods(pod);
        o.set_tap(e.tap);
        if (auto it = by_port.find(e.port); it != by_port.end()) {
            o.set_rx_packets(it->second->rx_packets);
            o.set_tx_packets(it->second->tx_packets);
            o.set_rx_missed(it->second->rx_missed);
            o.set_rx_nombuf(it->second->rx_nombuf);
        }
    }
    for (const dp::Dataplane::PodPortInfo& p : dp_.pod_inventory()) {
        v1::PodPort& o = *out.add_pods();
        o.set_pod(p.key);
        o.set_eni(p.eni);
        o.set_ip(ip(p.ip));
        o.set_mac(report::mac_string(p.mac));
        o.set_kind(dp::to_string(p.kind));
        o.set_socket(p.kind == dp::PodPort::kTap ? p.tap : p.socket);
        o.set_vhost_client(p.kind == dp::PodPort::kVhostUser && p.vhost_client);
        o.set_port(p.port);
        o.set_worker(p.worker);
        o.set_link_up(p.link_up);
        if (auto it = by_port.find(p.port); it != by_port.end()) {
            o.set_rx_packets(it->second->rx_packets);
            o.set_tx_packets(it->second->tx_packets);
            o.set_rx_bytes(it->second->rx_bytes);
            o.set_tx_bytes(it->second->tx_bytes);
        }
    }
}

bool DaemonView::node_settings(v1::NodeSettings& out) {
    if (node_settings_ == nullptr) return false;
    const config::Config& c = node_settings_->current();
    out.set_node_name(c.node_name);
    out.set_zone(c.node_zone);
    for (const config::Ipv4& a : c.node_ips) out.add_node_ips(a.to_string());
    out.mutable_lb()->set_min_sync_period_ms(c.lb.min_sync_period_ms);
    out.mutable_lb()->set_maglev_table_size(c.lb.maglev_table_size);
    out.mutable_lb()->set_conntrack_max(c.lb.conntrack_max);
    out.mutable_policy()->set_log_allow_one_in(c.policy.log_allow_one_in);
    out.mutable_policy()->set_log_denies_per_second(c.policy.log_denies_per_second);
    out.mutable_policy()->set_offload(c.policy.offload);
    return true;
}

bool DaemonView::update_node_settings(const reconcile::NodeSettingsChange& change, v1::NodeSettings& out) {
    if (node_settings_ == nullptr) return false;
    const std::string done = node_settings_->apply(change);
    std::fprintf(stderr, "enidp: node settings: %s\n", done.c_str());
    return node_settings(out);
}

}  // namespace enidp::api

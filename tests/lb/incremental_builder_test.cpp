// IncrementalBuilder: after any sequence of Service / EndpointSlice changes, its table is the
// one build_table makes from scratch on the same objects (same order, backends, Maglev entries,
// wheels, errors, health checks), ids of endpoints that stay keep their id, and ids of those
// that go are retired exactly once.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "lb/builder/dump.hpp"
#include "lb/builder/table_builder.hpp"
#include "tests/lb/fixtures.hpp"

namespace enidp::lb::test {
namespace {

// The dump without its " id=N" fields (ids differ between an incremental and a fresh build).
// Hand-rolled: <regex> trips GCC 12's -Wmaybe-uninitialized under ASan/UBSan at -O2.
std::string without_ids(const std::string& dump) {
    std::string out;
    out.reserve(dump.size());
    for (size_t i = 0; i < dump.size();) {
        if (dump.compare(i, 4, " id=") == 0 && i + 4 < dump.size() && std::isdigit(static_cast<unsigned char>(dump[i + 4]))) {
            i += 4;
            while (i < dump.size() && std::isdigit(static_cast<unsigned char>(dump[i]))) i++;
            continue;
        }
        out += dump[i++];
    }
    return out;
}

// Everything a worker selects by, set by set: backends and the backend each Maglev entry or
// wheel slot names (ids left out: a fresh build hands them out in another order).
std::string selection(const ServiceTable& t) {
    std::string out;
    for (const ServicePort& sp : t.ports) {
        out += t.names[sp.name] + '\n';
        for (const BackendSet* set : {&sp.internal, &sp.external, &sp.cluster}) {
            auto backend = [&](uint32_t i) {
                const Backend& b = t.backends[set->first + i];
                return std::to_string(b.ip) + ':' + std::to_string(b.port) + '/' + std::to_string(b.weight) +
                       (b.local ? "L" : "") + (b.serving_terminating ? "T" : "");
            };
            out += " set " + std::to_string(set->count) + " empty=" + std::to_string(int(set->empty_action)) + ':';
            for (uint32_t i = 0; i < set->count; ++i) out += ' ' + backend(i);
            uint64_t h = 1469598103934665603ull;  // FNV-1a over the entries
            for (uint32_t i = 0; i < set->maglev_size; ++i) h = (h ^ set->maglev[i]) * 1099511628211ull;
            for (uint32_t i = 0; i < set->wheel_size; ++i) h = (h ^ set->wheel[i]) * 1099511628211ull;
            out += " m" + std::to_string(set->maglev_size) + " w" + std::to_string(set->wheel_size) + " #" +
                   std::to_string(h) + '\n';
        }
    }
    return out;
}

void expect_same_table(const BuildResult& inc, const BuildResult& ref) {
    const ServiceTable &a = *inc.table, &b = *ref.table;
    EXPECT_EQ(inc.errors, ref.errors);
    EXPECT_EQ(inc.health_check_local_endpoints, ref.health_check_local_endpoints);
    ASSERT_EQ(without_ids(dump_text(a)), without_ids(dump_text(b)));
    EXPECT_EQ(selection(a), selection(b));
    ASSERT_EQ(a.frontends.size(), b.frontends.size());
    for (size_t f = 0; f < a.frontends.size(); ++f) {
        const Frontend &x = a.frontends[f], &y = b.frontends[f];
        EXPECT_TRUE(x.ip == y.ip && x.port == y.port && x.protocol == y.protocol && x.kind == y.kind &&
                    x.service_port == y.service_port);
        const uint64_t key = FrontendMap::key(x.ip, x.port, x.protocol);
        EXPECT_EQ((x.kind == FrontendKind::kNodePort ? a.by_node_port : a.by_vip).find(key), f);
    }
}

BuildOptions small_tables() {
    BuildOptions options;
    options.maglev_default_size = 1021;
    return options;
}

// A random small cluster that exercises what the builder decides: several ports, NodePorts
// that collide, shared cluster IPs, eTP Local with health-check ports (some shared), other
// algorithms, ExternalName and headless Services, slices split and moved between Services.
struct World {
    std::mt19937 rng{12345};
    std::map<std::string, Service> services;      // by name (one namespace each of 2)
    std::map<std::string, EndpointSlice> slices;  // by ns/name

    uint32_t pick(uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng); }

    Service random_service(const std::string& ns, const std::string& name) {
        const std::string vip = "10.96.0." + std::to_string(1 + pick(30));  // collisions on purpose
        std::vector<ServicePortSpec> ports = {tcp_port("http", 80)};
        if (pick(3) == 0) ports.push_back(tcp_port("metrics", 9090));
        Service s = cluster_ip_service(ns, name, vip.c_str(), ports);
        switch (pick(8)) {
            case 0:
                s.type = ServiceType::kNodePort;
                s.ports[0].node_port = static_cast<uint16_t>(30000 + pick(6));
                break;
            case 1:
                s.type = ServiceType::kLoadBalancer;
                s.ports[0].node_port = static_cast<uint16_t>(30010 + pick(20));
                s.external_policy = TrafficPolicy::kLocal;
                s.health_check_node_port = static_cast<uint16_t>(32000 + pick(4));
                break;
            case 2: s.algorithm = Algorithm::kWeighted; break;
            case 3: s.algorithm = Algorithm::kRoundRobin; break;
            case 4: s.type = ServiceType::kExternalName; break;
            case 5: s.internal_policy = TrafficPolicy::kLocal; break;
            default: break;
        }
        if (pick(20) == 0) s.headless = true;
        return s;
    }

    EndpointSlice random_slice(const std::string& ns, const std::string& name, const std::string& service) {
        std::vector<Endpoint> eps;
        const uint32_t n = pick(6);
        for (uint32_t e = 0; e < n; ++e) {
            const std::string a = "10.1." + std::to_string(pick(4)) + "." + std::to_string(1 + pick(12));
            const Cond c = pick(5) == 0 ? kServingTerminating : kReady;
            eps.push_back(endpoint(a.c_str(), pick(3) == 0 ? "node-a" : "node-b", c));
        }
        std::vector<EndpointPort> ports = {slice_port("http", static_cast<uint16_t>(8080 + pick(2)))};
        if (pick(2) == 0) ports.push_back(slice_port("metrics", 9090));
        return slice(ns, name, service, ports, eps);
    }

    std::vector<Service> service_list() const {
        std::vector<Service> v;
        for (const auto& [k, s] : services) v.push_back(s);
        return v;
    }
    std::vector<EndpointSlice> slice_list() const {
        std::vector<EndpointSlice> v;
        for (const auto& [k, s] : slices) v.push_back(s);
        return v;
    }
};

std::string ns_of(uint32_t i) { return i % 2 ? "b" : "a"; }

// The live (service port, ip, port) → id of a table, to check that ids stay.
std::map<std::string, uint32_t> backend_ids(const ServiceTable& t) {
    std::map<std::string, uint32_t> out;
    for (const ServicePort& sp : t.ports)
        for (const BackendSet* set : {&sp.internal, &sp.external, &sp.cluster})
            for (uint32_t i = 0; i < set->count; ++i) {
                const Backend& b = t.backends[set->first + i];
                out[t.names[sp.name] + ' ' + std::to_string(b.ip) + ':' + std::to_string(b.port)] = b.id;
            }
    return out;
}

TEST(IncrementalBuilder, EqualsBuildFromScratchAfterRandomChanges) {
    World w;
    BuildOptions options = small_tables();
    StableIds ids = big_ids();
    IncrementalBuilder inc(this_node(), options, ids);
    for (uint32_t i = 0; i < 40; ++i) {
        const std::string name = "svc-" + std::to_string(i);
        Service s = w.random_service(ns_of(i), name);
        w.services[name] = s;
        inc.set_service(s);
        EndpointSlice sl = w.random_slice(ns_of(i), name + "-x", name);
        w.slices[ns_of(i) + '/' + sl.name] = sl;
        inc.set_slice(sl);
    }
    std::set<uint32_t> live;  // backend ids handed out and not retired
    std::map<std::string, uint32_t> last_ids;
    for (int round = 0; round < 300; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        if (round > 0) {
            for (uint32_t op = 0, n = 1 + w.pick(4); op < n; ++op) {
                const uint32_t i = w.pick(48);
                const std::string name = "svc-" + std::to_string(i);
                const std::string ns = ns_of(i);
                switch (w.pick(6)) {
                    case 0: {
                        Service s = w.random_service(ns, name);
                        w.services[name] = s;
                        inc.set_service(s);
                        break;
                    }
                    case 1:
                        w.services.erase(name);
                        inc.remove_service(ns, name);
                        break;
                    case 2:
                    case 3: {  // a slice of this Service, or another's slice moved over
                        const std::string sname = name + (w.pick(3) == 0 ? "-y" : "-x");
                        EndpointSlice sl = w.random_slice(ns, sname, w.pick(5) == 0 ? "svc-" + std::to_string(i ^ 2) : name);
                        w.slices[ns + '/' + sname] = sl;
                        inc.set_slice(sl);
                        break;
                    }
                    case 4: {
                        const std::string sname = name + "-x";
                        w.slices.erase(ns + '/' + sname);
                        inc.remove_slice(ns, sname);
                        break;
                    }
                    default: break;  // nothing: a build without changes
                }
            }
        }
        BuildResult a = inc.build(static_cast<uint64_t>(round + 1));
        StableIds fresh = big_ids();
        options.generation = static_cast<uint64_t>(round + 1);
        const auto svcs = w.service_list();
        const auto sls = w.slice_list();
        BuildResult b = build_table(svcs, sls, this_node(), options, fresh);
        expect_same_table(a, b);

        for (uint32_t id : a.retired_backends) {
            EXPECT_EQ(live.erase(id), 1u) << "retired id " << id << " was not live";
        }
        for (const auto& [id, st] : a.backend_status) live.insert(id);
        ids.release_retired();
        // Endpoints present before and now keep their id; every id in the table is live.
        const auto now = backend_ids(*a.table);
        for (const auto& [key, id] : now) {
            EXPECT_TRUE(live.count(id)) << key;
            auto before = last_ids.find(key);
            if (before != last_ids.end()) {
                EXPECT_EQ(before->second, id) << key;
            }
        }
        last_ids = now;
        EXPECT_EQ(ids.live_backends(), live.size());
        if (HasFatalFailure()) return;
    }
}

TEST(IncrementalBuilder, OneChangeReplansOneServiceAndSharesTheOthersTables) {
    StableIds ids = big_ids();
    IncrementalBuilder inc(this_node(), small_tables(), ids);
    for (int i = 0; i < 50; ++i) {
        const std::string name = "s" + std::to_string(i);
        const std::string vip = "10.96.1." + std::to_string(i + 1);
        inc.set_service(cluster_ip_service("d", name, vip.c_str(), {tcp_port("http", 80)}));
        std::vector<Endpoint> eps;
        for (int e = 1; e <= 3; ++e) {
            const std::string a = "10.2." + std::to_string(i) + "." + std::to_string(e);
            eps.push_back(endpoint(a.c_str(), "node-b"));
        }
        inc.set_slice(slice("d", name + "-a", name, {slice_port("http", 8080)}, eps));
    }
    BuildResult first = inc.build(1);
    EXPECT_EQ(inc.stats().replanned, 50u);
    EXPECT_EQ(first.backend_status.size(), 150u);
    ids.release_retired();
    EXPECT_FALSE(inc.pending());

    inc.set_slice(slice("d", "s7-a", "s7", {slice_port("http", 8080)},
                        {endpoint("10.2.7.1", "node-b"), endpoint("10.2.7.9", "node-b")}));
    EXPECT_TRUE(inc.pending());
    BuildResult next = inc.build(2);
    EXPECT_EQ(inc.stats().replanned, 1u);
    EXPECT_FALSE(inc.stats().full_acceptance);
    EXPECT_EQ(next.backend_status.size(), 2u) << "only the changed Service's backends";
    EXPECT_EQ(next.retired_backends.size(), 2u) << "10.2.7.2 and 10.2.7.3";
    EXPECT_EQ(next.table->ports.size(), 50u);
    // The 49 untouched Services' Maglev tables are the very same chunks.
    size_t same = 0;
    for (size_t c = 0; c < next.table->chunks.size(); ++c)
        for (const auto& old : first.table->chunks) same += old.get() == next.table->chunks[c].get();
    EXPECT_EQ(same, 49u);
    // A Service deleted: its ids retire, its slice stays (and waits for it).
    inc.remove_service("d", "s3");
    BuildResult gone = inc.build(3);
    EXPECT_EQ(gone.retired_ports.size(), 1u);
    EXPECT_EQ(gone.retired_backends.size(), 3u);
    EXPECT_EQ(gone.table->ports.size(), 49u);
}

TEST(IncrementalBuilder, ConflictResolvedWhenTheOwnerGoes) {
    StableIds ids = big_ids();
    IncrementalBuilder inc(this_node(), BuildOptions{}, ids);
    inc.set_service(cluster_ip_service("d", "a", "10.96.0.1", {tcp_port("http", 80)}));
    inc.set_service(cluster_ip_service("d", "b", "10.96.0.1", {tcp_port("http", 80)}));
    BuildResult r = inc.build(1);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0], "d/b: spec.clusterIPs[0]: 10.96.0.1:80/TCP is already a frontend of d/a");
    inc.remove_service("d", "a");
    r = inc.build(2);
    EXPECT_TRUE(r.errors.empty());
    ASSERT_EQ(r.table->ports.size(), 1u);
    EXPECT_EQ(r.table->names[0], "d/b:http/TCP");
    EXPECT_TRUE(inc.stats().full_acceptance);
    r = inc.build(3);  // no conflict left: back to the fast path
    EXPECT_FALSE(inc.stats().full_acceptance);
}

}  // namespace
}  // namespace enidp::lb::test

// IncrementalBuilder: after any sequence of Service / EndpointSlice changes, its table is the
// one build_table makes from scratch on the same objects (same order, backends, Maglev entries,
// wheels, errors, health checks), ids of endpoints that stay keep their id, and ids of those
// that go are retired exactly once. With a Maglev fill budget, the same except for provisional
// Maglev tables (next_prime(100 n) entries, balanced), and the same exactly once upgrade builds
// have replaced them.
#include <arpa/inet.h>

#include <gtest/gtest.h>

#include <algorithm>
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

// `inc` equals `ref` except that some of inc's Maglev tables may be provisional: of size
// provisional_maglev_size(n), every backend holding ⌊M/n⌋ or ⌈M/n⌉ entries, with ref's size
// as the size pending. Returns the provisional sets (a set shared within a port counted once).
size_t expect_same_but_provisional(const BuildResult& inc, const BuildResult& ref) {
    const ServiceTable &a = *inc.table, &b = *ref.table;
    EXPECT_EQ(inc.errors, ref.errors);
    EXPECT_EQ(inc.health_check_local_endpoints, ref.health_check_local_endpoints);
    EXPECT_EQ(a.names, b.names);
    size_t provisional = 0;
    [&] {
        ASSERT_EQ(a.ports.size(), b.ports.size());
        for (size_t p = 0; p < a.ports.size(); ++p) {
            const ServicePort &x = a.ports[p], &y = b.ports[p];
            SCOPED_TRACE(a.names[x.name]);
            EXPECT_TRUE(x.protocol == y.protocol && x.algorithm == y.algorithm && x.flags == y.flags &&
                        x.affinity_timeout_s == y.affinity_timeout_s &&
                        x.health_check_node_port == y.health_check_node_port && x.name == y.name);
            const BackendSet* xs[3] = {&x.internal, &x.external, &x.cluster};
            const BackendSet* ys[3] = {&y.internal, &y.external, &y.cluster};
            for (int s = 0; s < 3; ++s) {
                const BackendSet &u = *xs[s], &v = *ys[s];
                ASSERT_EQ(u.count, v.count);
                EXPECT_EQ(u.empty_action, v.empty_action);
                for (uint32_t i = 0; i < u.count; ++i) {
                    const Backend &m = a.backends[u.first + i], &n = b.backends[v.first + i];
                    EXPECT_TRUE(m.ip == n.ip && m.port == n.port && m.weight == n.weight && m.local == n.local &&
                                m.serving_terminating == n.serving_terminating);
                }
                ASSERT_EQ(u.wheel_size, v.wheel_size);
                EXPECT_TRUE(std::equal(u.wheel, u.wheel + u.wheel_size, v.wheel));
                if (u.maglev_full_size == 0) {
                    ASSERT_EQ(u.maglev_size, v.maglev_size);
                    EXPECT_TRUE(std::equal(u.maglev, u.maglev + u.maglev_size, v.maglev));
                    continue;
                }
                EXPECT_EQ(u.maglev_full_size, v.maglev_size);
                ASSERT_EQ(u.maglev_size, provisional_maglev_size(u.count));
                EXPECT_LT(u.maglev_size, v.maglev_size);
                for (uint32_t held : maglev_fill(std::span(u.maglev, u.maglev_size), u.count)) {
                    EXPECT_GE(held, u.maglev_size / u.count);
                    EXPECT_LE(held, (u.maglev_size + u.count - 1) / u.count);
                }
                bool shared = false;
                for (int k = 0; k < s; ++k) shared |= xs[k]->chunk == u.chunk;
                provisional += !shared;
            }
        }
        ASSERT_EQ(a.frontends.size(), b.frontends.size());
        for (size_t f = 0; f < a.frontends.size(); ++f) {
            const Frontend &x = a.frontends[f], &y = b.frontends[f];
            EXPECT_TRUE(x.ip == y.ip && x.port == y.port && x.protocol == y.protocol && x.kind == y.kind &&
                        x.service_port == y.service_port);
        }
    }();
    return provisional;
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

// 300 rounds of random changes, each followed by a build compared with build_table from
// scratch. With `budget_us` (a tiny one: nearly every new table is provisional) the table must
// equal it but for provisional tables; some rounds then build without changes until none is
// left (the upgrades) and must equal it exactly, the others leave them for the next round's
// changes to meet.
void random_changes(uint32_t budget_us, bool exact) {
    World w;
    BuildOptions options = small_tables();
    options.maglev_fill_budget_us = budget_us;
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
    size_t provisional_seen = 0, upgrade_builds = 0, patched = 0;
    std::unique_ptr<ServiceTable> last;
    for (int round = 0; round < 300; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        if (round > 0) {
            for (uint32_t op = 0, n = 1 + w.pick(4); op < n; ++op) {
                const uint32_t i = w.pick(48);
                const std::string name = "svc-" + std::to_string(i);
                const std::string ns = ns_of(i);
                switch (w.pick(8)) {
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
                    case 5:
                    case 6: {  // one endpoint moves to another address: the Service keeps its layout
                        auto it = w.slices.find(ns + '/' + name + "-x");
                        if (it == w.slices.end() || it->second.endpoints.empty()) break;
                        EndpointSlice sl = it->second;
                        Endpoint& ep = sl.endpoints[w.pick(static_cast<uint32_t>(sl.endpoints.size()))];
                        ep.addresses[0] = htonl(0x0a020000u | (w.pick(4) << 8) | (1 + w.pick(200)));
                        it->second = sl;
                        inc.set_slice(sl);
                        break;
                    }
                    default: break;  // nothing: a build without changes
                }
            }
        }
        // The last table goes in as `previous`: builds whose changes keep every layout patch it.
        BuildResult a = inc.build(static_cast<uint64_t>(round + 1), last.get());
        patched += inc.stats().patched;
        StableIds fresh = big_ids();
        options.generation = static_cast<uint64_t>(round + 1);
        const auto svcs = w.service_list();
        const auto sls = w.slice_list();
        BuildResult b = build_table(svcs, sls, this_node(), options, fresh);
        if (exact) {
            expect_same_table(a, b);
            EXPECT_EQ(inc.provisional(), 0u);
        } else {
            EXPECT_EQ(expect_same_but_provisional(a, b), inc.provisional());
            provisional_seen += inc.provisional();
        }

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
        if (::testing::Test::HasFatalFailure()) return;
        if (exact || (round % 3 != 0 && round != 299)) {
            last = std::move(a.table);
            continue;
        }
        // Upgrades: builds without a change, until nothing is provisional. They re-plan
        // nothing, hand out and retire no id, and end with the exact table.
        while (inc.provisional() > 0) {
            const size_t before = inc.provisional();
            BuildResult u = inc.build(static_cast<uint64_t>(round + 1), a.table.get());
            patched += inc.stats().patched;
            EXPECT_EQ(inc.stats().replanned, 0u);
            EXPECT_GE(inc.stats().upgraded, 1u);
            EXPECT_EQ(inc.provisional(), before - inc.stats().upgraded);
            EXPECT_TRUE(u.backend_status.empty());
            EXPECT_TRUE(u.retired_backends.empty());
            EXPECT_TRUE(u.retired_ports.empty());
            EXPECT_EQ(backend_ids(*u.table), now);
            a = std::move(u);
            upgrade_builds++;
            if (::testing::Test::HasFailure()) return;
        }
        expect_same_table(a, b);
        last = std::move(a.table);
    }
    EXPECT_GT(patched, 30u) << "builds that patched the previous table";
    if (!exact) {
        EXPECT_GT(provisional_seen, 20u) << "the budget made provisional tables";
        EXPECT_GT(upgrade_builds, 5u);
    }
}

TEST(IncrementalBuilder, EqualsBuildFromScratchAfterRandomChanges) { random_changes(0, true); }

// A budget no fill reaches changes nothing.
TEST(IncrementalBuilder, LargeBudgetEqualsBuildFromScratch) { random_changes(60'000'000, true); }

// A 1 µs budget: the first fill of a build spends it, every later new table is provisional.
TEST(IncrementalBuilder, ProvisionalTablesAfterRandomChangesConvergeToBuildFromScratch) { random_changes(1, false); }

// n Services with 10 ready endpoints each (all addresses distinct), the issue's shape.
struct Bulk {
    std::vector<Service> services;
    std::vector<EndpointSlice> slices;
    explicit Bulk(uint32_t n) {
        for (uint32_t i = 0; i < n; ++i) {
            const std::string name = "s" + std::to_string(i);
            const std::string vip = "10.96." + std::to_string(i / 250) + "." + std::to_string(1 + i % 250);
            services.push_back(cluster_ip_service("d", name, vip.c_str(), {tcp_port("http", 80)}));
            std::vector<Endpoint> eps;
            for (uint32_t e = 1; e <= 10; ++e) {
                const std::string a = "10." + std::to_string(2 + i / 250) + "." + std::to_string(i % 250) + "." +
                                      std::to_string(e);
                eps.push_back(endpoint(a.c_str(), "node-b"));
            }
            slices.push_back(slice("d", name + "-a", name, {slice_port("http", 8080)}, eps));
        }
    }
    void load(IncrementalBuilder& b) const {
        for (const Service& s : services) b.set_service(s);
        for (const EndpointSlice& s : slices) b.set_slice(s);
    }
    BuildResult reference(uint64_t generation) const {
        StableIds fresh = big_ids();
        BuildOptions o;
        o.generation = generation;
        return build_table(services, slices, this_node(), o, fresh);
    }
};

BuildOptions tiny_budget() {
    BuildOptions o;  // the default size, 16381
    o.maglev_fill_budget_us = 1;
    return o;
}

// Churn builds (changes arriving faster than publications): after kChurnFillBudgetUs of fills
// the changed Services get provisional tables, and nothing is upgraded; the first build without
// churn upgrades them (within the normal budget) to the table of a build from scratch.
TEST(IncrementalBuilder, ChurnBuildsFillLittleAndUpgradeNothing) {
    const Bulk bulk(300);
    StableIds ids = big_ids();
    BuildOptions o;
    o.maglev_fill_budget_us = 60'000'000;  // a budget no quiet build reaches
    IncrementalBuilder inc(this_node(), o, ids);
    bulk.load(inc);
    BuildResult first = inc.build(1, nullptr, true);
    ids.release_retired();
    // 300 fills of 16381 entries take 10-30 ms: far past the 1 ms a churn build may spend.
    EXPECT_GT(inc.provisional(), 200u);
    EXPECT_LT(inc.provisional(), 300u);
    EXPECT_EQ(inc.stats().upgraded, 0u);
    expect_same_but_provisional(first, bulk.reference(1));
    // Another churn build without a change upgrades nothing.
    const size_t provisional = inc.provisional();
    BuildResult again = inc.build(2, first.table.get(), true);
    EXPECT_EQ(inc.stats().upgraded, 0u);
    EXPECT_EQ(inc.provisional(), provisional);
    // The first quiet build upgrades every one of them.
    BuildResult quiet = inc.build(3, again.table.get(), false);
    EXPECT_EQ(inc.stats().upgraded, provisional);
    EXPECT_EQ(inc.provisional(), 0u);
    EXPECT_TRUE(inc.stats().patched);
    expect_same_table(quiet, bulk.reference(3));
}

// Only the table the last build returned is patched; an older one (still alive) is not a base.
TEST(IncrementalBuilder, PatchesOnlyTheLastTable) {
    Bulk bulk(20);
    StableIds ids = big_ids();
    IncrementalBuilder inc(this_node(), BuildOptions{}, ids);
    bulk.load(inc);
    BuildResult a = inc.build(1);
    ids.release_retired();
    auto move_endpoint = [&](uint32_t e) {
        bulk.slices[3].endpoints[e].addresses[0] ^= htonl(0x80);  // same count, another address
        inc.set_slice(bulk.slices[3]);
    };
    move_endpoint(0);
    BuildResult b = inc.build(2, a.table.get());
    ids.release_retired();
    EXPECT_TRUE(inc.stats().patched);
    expect_same_table(b, bulk.reference(2));
    move_endpoint(1);
    BuildResult c = inc.build(3, a.table.get());  // not the last table
    ids.release_retired();
    EXPECT_FALSE(inc.stats().patched);
    expect_same_table(c, bulk.reference(3));
    move_endpoint(2);
    BuildResult d = inc.build(4, c.table.get());
    EXPECT_TRUE(inc.stats().patched);
    expect_same_table(d, bulk.reference(4));
}

TEST(IncrementalBuilder, ProvisionalTablesAreBalancedThenUpgradedOneBuildAtATime) {
    const Bulk bulk(200);
    StableIds ids = big_ids();
    IncrementalBuilder inc(this_node(), tiny_budget(), ids);
    bulk.load(inc);
    BuildResult first = inc.build(1);
    ids.release_retired();
    // The first fill (16381 entries, tens of µs) spends the 1 µs budget: the other 199
    // Services get 1009 entries (next_prime(100 × 10)), 100 or 101 per backend.
    EXPECT_EQ(inc.stats().provisional_filled, 199u);
    EXPECT_EQ(inc.provisional(), 199u);
    EXPECT_EQ(inc.stats().upgraded, 0u);
    EXPECT_EQ(first.backend_status.size(), 2000u);
    ASSERT_EQ(first.table->ports.size(), 200u);
    EXPECT_EQ(first.table->ports[0].internal.maglev_size, 16381u);
    EXPECT_EQ(first.table->ports[0].internal.maglev_full_size, 0u);
    for (size_t p = 1; p < 200; ++p) {
        const BackendSet& set = first.table->ports[p].internal;
        ASSERT_EQ(set.count, 10u);
        ASSERT_EQ(set.maglev_size, 1009u);
        EXPECT_EQ(set.maglev_full_size, 16381u);
        EXPECT_EQ(first.table->ports[p].cluster.maglev, set.maglev) << "identical sets share one table";
        for (uint32_t held : maglev_fill(std::span(set.maglev, set.maglev_size), 10)) {
            EXPECT_GE(held, 100u);
            EXPECT_LE(held, 101u);
        }
    }
    const std::string dump = dump_text(*first.table);
    EXPECT_NE(dump.find(", 199 provisional maglev tables\n"), std::string::npos);
    EXPECT_NE(dump.find("internal: 10 backends maglev=1009 (provisional, 16381 pending) empty="), std::string::npos);
    const std::string json = dump_json(*first.table);
    EXPECT_NE(json.find("\"maglev_provisional_sets\": 199"), std::string::npos);
    EXPECT_NE(json.find("\"maglev_size\": 1009,\n"), std::string::npos);
    EXPECT_NE(json.find("\"maglev_pending_size\": 16381"), std::string::npos);
    expect_same_but_provisional(first, bulk.reference(1));

    // Builds without a change: one Service upgraded each (its fill spends the budget), in
    // (ns, name) order; nothing else moves.
    const auto ids_before = backend_ids(*first.table);
    std::unique_ptr<ServiceTable> last = std::move(first.table);
    for (uint64_t g = 2; inc.provisional() > 0; ++g) {
        ASSERT_LT(g, 300u);
        BuildResult u = inc.build(g);
        EXPECT_FALSE(inc.pending());
        EXPECT_EQ(inc.stats().replanned, 0u);
        EXPECT_EQ(inc.stats().upgraded, 1u);
        EXPECT_EQ(inc.provisional(), 200u - g);
        EXPECT_TRUE(u.backend_status.empty() && u.retired_backends.empty() && u.retired_ports.empty());
        EXPECT_EQ(backend_ids(*u.table), ids_before);
        // The upgraded Service's table is new; every other one is the very same chunk.
        size_t changed = 0;
        for (size_t c = 0; c < u.table->chunks.size(); ++c) changed += u.table->chunks[c] != last->chunks[c];
        EXPECT_EQ(changed, 1u);
        last = std::move(u.table);
    }
    // Converged: the table build_table makes without a budget, entry for entry.
    BuildResult done;
    done.table = std::move(last);
    expect_same_table(done, bulk.reference(done.table->generation));
    for (const ServicePort& sp : done.table->ports) EXPECT_EQ(sp.internal.maglev_size, 16381u);
    // Nothing provisional left: a build without changes upgrades nothing.
    BuildResult idle = inc.build(999);
    EXPECT_EQ(inc.stats().upgraded, 0u);
    EXPECT_EQ(inc.provisional(), 0u);
}

TEST(IncrementalBuilder, ChangeWhileProvisionalGoesFirstAndIsAppliedAtOnce) {
    Bulk bulk(50);
    StableIds ids = big_ids();
    IncrementalBuilder inc(this_node(), tiny_budget(), ids);
    bulk.load(inc);
    inc.build(1);
    ids.release_retired();
    ASSERT_EQ(inc.provisional(), 49u);
    // s7 (provisional) loses an endpoint and gains another; s9 goes away.
    EndpointSlice& s7 = bulk.slices[7];
    s7.endpoints[3] = endpoint("10.9.9.9", "node-b");
    inc.set_slice(s7);
    inc.remove_service("d", "s9");
    bulk.services.erase(bulk.services.begin() + 9);
    BuildResult r = inc.build(2);
    ids.release_retired();
    EXPECT_EQ(inc.stats().replanned, 2u);
    EXPECT_EQ(r.retired_backends.size(), 11u) << "s7's old endpoint and s9's ten";
    EXPECT_EQ(r.retired_ports.size(), 1u);
    EXPECT_EQ(r.backend_status.size(), 10u) << "s7's";
    // The changed Service was filled first, at its full size, and spent the budget: no upgrade.
    const ServicePort* p7 = port_named(*r.table, "d/s7:http/TCP");
    ASSERT_NE(p7, nullptr);
    EXPECT_EQ(p7->internal.maglev_size, 16381u);
    EXPECT_EQ(p7->internal.maglev_full_size, 0u);
    const auto b7 = backends_of(*r.table, p7->internal);
    EXPECT_NE(std::find(b7.begin(), b7.end(), "10.9.9.9:8080"), b7.end());
    EXPECT_EQ(port_named(*r.table, "d/s9:http/TCP"), nullptr);
    EXPECT_EQ(inc.stats().upgraded, 0u);
    EXPECT_EQ(inc.provisional(), 47u);  // 49 - s7 - s9
    expect_same_but_provisional(r, bulk.reference(2));
    while (inc.provisional() > 0) r = inc.build(3);
    expect_same_table(r, bulk.reference(3));
}

// Budget 0 (the default): no provisional table, whatever the build costs.
TEST(IncrementalBuilder, NoBudgetNoProvisionalTable) {
    const Bulk bulk(60);
    StableIds ids = big_ids();
    IncrementalBuilder inc(this_node(), BuildOptions{}, ids);
    bulk.load(inc);
    BuildResult r = inc.build(1);
    EXPECT_EQ(inc.provisional(), 0u);
    EXPECT_EQ(inc.stats().provisional_filled, 0u);
    EXPECT_EQ(inc.stats().maglev_fill_ms, 0.0) << "fills are not timed";
    EXPECT_EQ(dump_text(*r.table).find("provisional"), std::string::npos);
    expect_same_table(r, bulk.reference(1));
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

// New Services in one build may use every free id (each takes its ids before the next is
// checked, so none is counted twice), and the first that does not fit is refused.
TEST(IncrementalBuilder, OneBuildFillsTheIdCapacity) {
    const Bulk bulk(9);
    StableIds ids(8, 1024);
    IncrementalBuilder inc(this_node(), BuildOptions{}, ids);
    bulk.load(inc);
    BuildResult r = inc.build(1);
    EXPECT_EQ(r.table->ports.size(), 8u);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0], "d/s8: spec.ports: needs 1 new service-port ids, 0 free (capacity 8)");
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

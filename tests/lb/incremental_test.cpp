// Incremental builds: build_table with the previous generation shares the Maglev tables and
// wheels of unchanged sets, rebuilds the changed ones, and selects exactly like a build from
// scratch.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "lb/builder/dump.hpp"
#include "lb/builder/table_builder.hpp"
#include "tests/lb/fixtures.hpp"

namespace enidp::lb::test {
namespace {

struct Cluster {
    std::vector<Service> services;
    std::vector<EndpointSlice> slices;
};

std::string addr(uint32_t a, uint32_t b) { return "10." + std::to_string(a) + ".0." + std::to_string(b); }

// n Services with 3 ready endpoints each; svc-0 is weighted, svc-1 round-robin, the rest Maglev.
Cluster cluster(uint32_t n) {
    Cluster c;
    for (uint32_t s = 0; s < n; ++s) {
        const std::string name = "svc-" + std::to_string(s);
        const std::string vip = "10.96.0." + std::to_string(s + 1);
        Service svc = cluster_ip_service("default", name, vip.c_str(), {tcp_port("http", 80)});
        if (s == 0) {
            svc.algorithm = Algorithm::kWeighted;
            svc.endpoint_weights = {{addr(1, 1), "3"}};
        }
        if (s == 1) svc.algorithm = Algorithm::kRoundRobin;
        std::vector<Endpoint> eps;
        for (uint32_t e = 1; e <= 3; ++e) eps.push_back(endpoint(addr(s + 1, e).c_str(), "node-b"));
        c.services.push_back(std::move(svc));
        c.slices.push_back(slice("default", name + "-abc", name, {slice_port("http", 8080)}, std::move(eps)));
    }
    return c;
}

BuildResult build(const Cluster& c, StableIds& ids, const ServiceTable* previous, uint64_t generation = 1) {
    BuildOptions o;
    o.maglev_default_size = 1021;
    o.generation = generation;
    BuildResult r = build_table(c.services, c.slices, this_node(), o, ids, previous);
    EXPECT_TRUE(r.errors.empty()) << r.errors.front();
    return r;
}

const BackendSet& set_at(const ServicePort& sp, int s) {
    return s == 0 ? sp.internal : (s == 1 ? sp.external : sp.cluster);
}

// Same ports, ids, backends and, set by set, the same Maglev entries and wheel slots.
void expect_same_selection(const ServiceTable& a, const ServiceTable& b) {
    EXPECT_EQ(dump_text(a), dump_text(b));
    ASSERT_EQ(a.ports.size(), b.ports.size());
    for (size_t p = 0; p < a.ports.size(); ++p) {
        SCOPED_TRACE(a.names[a.ports[p].name]);
        for (int s = 0; s < 3; ++s) {
            const BackendSet &x = set_at(a.ports[p], s), &y = set_at(b.ports[p], s);
            ASSERT_EQ(x.count, y.count);
            ASSERT_EQ(x.maglev_size, y.maglev_size);
            ASSERT_EQ(x.wheel_size, y.wheel_size);
            if (x.maglev_size) {
                EXPECT_EQ(std::memcmp(x.maglev, y.maglev, x.maglev_size * sizeof(uint16_t)), 0);
            }
            if (x.wheel_size) {
                EXPECT_EQ(std::memcmp(x.wheel, y.wheel, x.wheel_size * sizeof(uint16_t)), 0);
            }
            for (uint32_t i = 0; i < x.count; ++i) {
                const Backend &u = a.backends[x.first + i], &v = b.backends[y.first + i];
                EXPECT_TRUE(u.ip == v.ip && u.port == v.port && u.weight == v.weight && u.id == v.id);
            }
        }
    }
}

TEST(Incremental, UnchangedSetsShareTheirChunkTheChangedOneIsRebuilt) {
    StableIds ids = big_ids();
    Cluster c = cluster(20);
    BuildResult r1 = build(c, ids, nullptr);
    EXPECT_EQ(r1.shared_tables, 0u);
    ids.release_retired();
    // 19 tables: 18 Maglev + 1 wheel (round-robin has none).
    ASSERT_EQ(r1.table->chunks.size(), 19u);

    // One endpoint of svc-7 changes its address.
    c.slices[7].endpoints[1].addresses = {ip("10.8.0.99")};
    BuildResult r2 = build(c, ids, r1.table.get(), 2);
    EXPECT_EQ(r2.shared_tables, 18u);
    EXPECT_EQ(r2.retired_backends.size(), 1u);
    for (const ServicePort& sp : r2.table->ports) {
        const std::string& name = r2.table->names[sp.name];
        SCOPED_TRACE(name);
        const ServicePort* old = port_named(*r1.table, name);
        ASSERT_NE(old, nullptr);
        EXPECT_EQ(sp.id, old->id);  // ids are stable
        if (name == "default/svc-7:http/TCP") {
            EXPECT_NE(sp.internal.maglev, old->internal.maglev);
            EXPECT_EQ(r2.table->chunks[sp.internal.chunk].use_count(), 1);
            // The unchanged endpoints keep their ids (10.8.0.1, 10.8.0.3; 10.8.0.99 sorts last).
            EXPECT_EQ(r2.table->backends[sp.internal.first].id, r1.table->backends[old->internal.first].id);
            EXPECT_EQ(r2.table->backends[sp.internal.first + 1].id, r1.table->backends[old->internal.first + 2].id);
        } else {
            EXPECT_EQ(sp.internal.maglev, old->internal.maglev);
            EXPECT_EQ(sp.internal.wheel, old->internal.wheel);
            if (sp.internal.chunk != kNone) {
                EXPECT_EQ(r2.table->chunks[sp.internal.chunk].use_count(), 2);
            }
            for (uint32_t i = 0; i < sp.internal.count; ++i)
                EXPECT_EQ(r2.table->backends[sp.internal.first + i].id, r1.table->backends[old->internal.first + i].id);
        }
    }
    // The shared chunks outlive the tables that built them.
    const uint16_t* svc3 = port_named(*r2.table, "default/svc-3:http/TCP")->internal.maglev;
    const std::vector<uint16_t> before(svc3, svc3 + 1021);
    const BuildResult r3 = build(c, ids, r2.table.get(), 3);
    EXPECT_EQ(r3.shared_tables, 19u);
    r1.table.reset();
    r2.table.reset();
    EXPECT_EQ(std::vector<uint16_t>(svc3, svc3 + 1021), before);
    EXPECT_EQ(port_named(*r3.table, "default/svc-3:http/TCP")->internal.maglev, svc3);
}

TEST(Incremental, SelectsExactlyLikeABuildFromScratch) {
    StableIds inc_ids = big_ids(), scratch_ids = big_ids();
    Cluster c = cluster(12);
    std::unique_ptr<ServiceTable> prev;
    // Each step changes the cluster, then both builds must agree.
    const std::vector<std::function<void(Cluster&)>> steps = {
        [](Cluster&) {},                                                                      // nothing
        [](Cluster& c) { c.slices[3].endpoints.push_back(endpoint("10.4.0.9", "node-c")); },  // add
        [](Cluster& c) { c.slices[4].endpoints.erase(c.slices[4].endpoints.begin()); },       // remove
        [](Cluster& c) {
            c.slices[5].endpoints[0].conditions = {false, true, true};
        },  // terminating
        [](Cluster& c) {
            c.slices[5].endpoints[0].conditions = {false, false, true};
        },                                                                           // not serving
        [](Cluster& c) { c.slices[0].endpoints[2].addresses = {ip("10.1.0.77")}; },  // weighted set
        [](Cluster& c) {
            c.services[0].endpoint_weights = {{"10.1.0.1", "5"}};
        },                                                                          // weights
        [](Cluster& c) { c.services[6].maglev_table_size = 2039; },                 // size
        [](Cluster& c) { c.services[7].algorithm = Algorithm::kWeighted; },         // algorithm
        [](Cluster& c) { c.services[8].algorithm = Algorithm::kRandom; },           // no table
        [](Cluster& c) { c.services[8].algorithm = Algorithm::kMaglev; },           // and back
        [](Cluster& c) { c.services[9].internal_policy = TrafficPolicy::kLocal; },  // empty set
        [](Cluster& c) { c.slices[10].endpoints[0].node_name = "node-a"; },         // local
        [](Cluster& c) { c.slices[2].ports[0].port = 9090; },                       // new port
        [](Cluster& c) { c.services.erase(c.services.begin() + 11); },              // Service gone
        [](Cluster& c) {                                                            // Service added
            c.services.push_back(cluster_ip_service("default", "svc-11", "10.96.0.12", {tcp_port("http", 80)}));
        },
        [](Cluster& c) { std::swap(c.slices[3].endpoints[0], c.slices[3].endpoints[1]); },  // slice order
    };
    for (size_t i = 0; i < steps.size(); ++i) {
        SCOPED_TRACE("step " + std::to_string(i));
        steps[i](c);
        BuildResult inc = build(c, inc_ids, prev.get(), i + 1);
        BuildResult scratch = build(c, scratch_ids, nullptr, i + 1);
        expect_same_selection(*inc.table, *scratch.table);
        EXPECT_EQ(inc.backend_status, scratch.backend_status);
        EXPECT_EQ(inc.retired_backends, scratch.retired_backends);
        EXPECT_EQ(scratch.shared_tables, 0u);
        if (i > 0) {
            EXPECT_GT(inc.shared_tables, 0u);
        }
        inc_ids.release_retired();
        scratch_ids.release_retired();
        prev = std::move(inc.table);
    }
}

}  // namespace
}  // namespace enidp::lb::test

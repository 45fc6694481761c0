// StableIds: stability across builds, retirement/quarantine, capacity.
#include "lb/builder/ids.hpp"

#include <gtest/gtest.h>

#include "lb/fastpath/service_table.hpp"

namespace enidp::lb {
namespace {

TEST(StableIds, SameKeysSameIdsAcrossBuilds) {
    StableIds ids(8, 8);
    ids.begin_build();
    const uint32_t a = ids.port_id("ns/a/http/6");
    const uint32_t b = ids.port_id("ns/b/http/6");
    const uint32_t ba = ids.backend_id(a, 1, 80);
    EXPECT_EQ(ids.port_id("ns/a/http/6"), a);  // asking twice in a build is fine
    RetiredIds r = ids.end_build();
    EXPECT_TRUE(r.ports.empty() && r.backends.empty());
    ids.begin_build();
    EXPECT_EQ(ids.port_id("ns/b/http/6"), b);
    EXPECT_EQ(ids.port_id("ns/a/http/6"), a);
    EXPECT_EQ(ids.backend_id(a, 1, 80), ba);
    EXPECT_NE(ids.backend_id(b, 1, 80), ba);  // same address, other service port: other id
    ids.end_build();
}

TEST(StableIds, RetiredIdsAreQuarantinedUntilReleased) {
    StableIds ids(2, 2);
    ids.begin_build();
    const uint32_t a = ids.port_id("a");
    const uint32_t b = ids.port_id("b");
    const uint32_t ab = ids.backend_id(a, 1, 1);
    ids.end_build();

    ids.begin_build();
    ids.port_id("b");
    RetiredIds r = ids.end_build();
    EXPECT_EQ(r.ports, std::vector<uint32_t>{a});
    EXPECT_EQ(r.backends, std::vector<uint32_t>{ab});
    EXPECT_EQ(ids.retired_ports(), 1u);
    EXPECT_EQ(ids.free_ports(), 0u);

    // "a" comes back before the runtime purged its flows: no id for it, the old one is
    // quarantined and the capacity (2) is used up by "b" + the retired id.
    ids.begin_build();
    ids.port_id("b");
    EXPECT_EQ(ids.port_id("a"), kNone);
    ids.end_build();

    ids.release_retired();
    ids.begin_build();
    EXPECT_EQ(ids.port_id("b"), b);
    EXPECT_EQ(ids.port_id("a"), a);  // reusable now (the only free id)
    ids.end_build();
}

TEST(StableIds, ReturningKeyGetsAFreshIdWhileTheOldIsRetired) {
    StableIds ids(4, 4);
    ids.begin_build();
    const uint32_t a = ids.port_id("a");
    ids.end_build();
    ids.begin_build();
    ids.end_build();  // "a" retired
    ids.begin_build();
    const uint32_t again = ids.port_id("a");
    ids.end_build();
    EXPECT_NE(again, a);
    EXPECT_NE(again, kNone);
}

TEST(StableIds, CapacityIsAnErrorNotACrash) {
    StableIds ids(1, 2);
    ids.begin_build();
    const uint32_t p = ids.port_id("a");
    EXPECT_EQ(ids.port_id("b"), kNone);
    EXPECT_NE(ids.backend_id(p, 1, 1), kNone);
    EXPECT_NE(ids.backend_id(p, 2, 1), kNone);
    EXPECT_EQ(ids.backend_id(p, 3, 1), kNone);
    EXPECT_EQ(ids.find_backend(p, 3, 1), kNone);
    EXPECT_EQ(ids.free_backends(), 0u);
    ids.end_build();
}

}  // namespace
}  // namespace enidp::lb

namespace enidp::lb {
namespace {

TEST(StableIds, CapacitiesFromLbState) {
    const LbState state(3, 5);
    const StableIds ids(state);
    EXPECT_EQ(ids.port_capacity(), 3u);
    EXPECT_EQ(ids.backend_capacity(), 5u);
    EXPECT_EQ(ids.free_ports(), 3u);
    EXPECT_EQ(ids.free_backends(), 5u);
}

}  // namespace
}  // namespace enidp::lb

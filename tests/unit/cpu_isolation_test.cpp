#include "control/daemon/cpu_isolation.hpp"

#include <gtest/gtest.h>

namespace enidp::daemon {
namespace {

TEST(CpuList, ParsesTheKernelFormat) {
    EXPECT_EQ(parse_cpu_list(""), std::set<unsigned>{});
    EXPECT_EQ(parse_cpu_list("\n"), std::set<unsigned>{});
    EXPECT_EQ(parse_cpu_list("1\n"), (std::set<unsigned>{1}));
    EXPECT_EQ(parse_cpu_list("0-3,8,10-11\n"), (std::set<unsigned>{0, 1, 2, 3, 8, 10, 11}));
}

TEST(CpuList, RejectsMalformedText) {
    for (const char* bad : {"a", "1-", "-1", "3-1", "1,,2", "1 2", "0-99999999"})
        EXPECT_FALSE(parse_cpu_list(bad).has_value()) << bad;
}

TEST(Isolation, NamesEachWorkerCpuThatIsNotKeptForTheWorker) {
    const auto w = isolation_warnings({1, 2, 3}, "2-3\n", "3\n");
    ASSERT_EQ(w.size(), 2u);
    EXPECT_EQ(w[0], "worker CPU 1 is not isolated (no isolcpus=): other tasks and kernel threads run there and stall the worker");
    EXPECT_EQ(w[1], "worker CPU 2 is isolated but not tickless (no nohz_full=): the scheduler tick interrupts the worker");
}

TEST(Isolation, SaysNothingWhenEveryWorkerCpuIsIsolatedAndTickless) {
    EXPECT_TRUE(isolation_warnings({1, 2}, "1-2", "1-2").empty());
    EXPECT_TRUE(isolation_warnings({}, "", "").empty());
}

TEST(Isolation, UnreadableOrMalformedSysfsCountsAsNotIsolated) {
    EXPECT_EQ(isolation_warnings({1}, "garbage", "").size(), 1u);
}

}  // namespace
}  // namespace enidp::daemon

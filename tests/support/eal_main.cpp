// gtest main for tests that need EAL: --no-huge, no PCI, no shared config (so component
// tests run side by side with each other and with a daemon), two lcores.
#include <gtest/gtest.h>

#include <rte_eal.h>

#include <string>
#include <vector>

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    std::vector<std::string> args{argv[0], "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                                  "--lcores", "0@0,1@1,2@1", "--log-level", "*:warning"};
    std::vector<char*> eal;
    for (auto& a : args) eal.push_back(a.data());
    if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) {
        fprintf(stderr, "EAL init failed\n");
        return 1;
    }
    const int rc = RUN_ALL_TESTS();
    rte_eal_cleanup();
    return rc;
}

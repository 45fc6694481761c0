#include "dataplane/runtime/eal.hpp"

#include <cstring>

#include <rte_eal.h>
#include <rte_errno.h>

namespace enidp::dp {

const char* to_string(PodPort kind) {
    switch (kind) {
        case PodPort::kVhostUser: return "vhost-user";
        case PodPort::kMemif: return "memif";
        case PodPort::kTap: return "tap";
        case PodPort::kExisting: return "existing";
    }
    return "?";
}

std::vector<std::string> eal_args(const EalSpec& spec) {
    std::vector<std::string> a{spec.program, "--lcores", spec.lcores, "--file-prefix", spec.file_prefix,
                               "-m", std::to_string(spec.memory_mb)};
    if (spec.no_huge) a.emplace_back("--no-huge");
    if (spec.no_pci && spec.pci_allow.empty()) a.emplace_back("--no-pci");
    for (const auto& pci : spec.pci_allow) {
        a.emplace_back("-a");
        a.push_back(pci);
    }
    if (!spec.log_level.empty()) {
        a.emplace_back("--log-level");
        a.push_back(spec.log_level);
    }
    a.insert(a.end(), spec.extra_args.begin(), spec.extra_args.end());
    return a;
}

std::string eal_init(const EalSpec& spec) {
    std::vector<std::string> args = eal_args(spec);
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::string error;
    if (eal_init_raw(static_cast<int>(args.size()), argv.data(), error) < 0) return error;
    return {};
}

int eal_init_raw(int argc, char** argv, std::string& error) {
    const int n = rte_eal_init(argc, argv);
    if (n < 0) error = std::string("EAL initialisation failed: ") + rte_strerror(rte_errno);
    return n;
}

void eal_cleanup() { rte_eal_cleanup(); }

}  // namespace enidp::dp

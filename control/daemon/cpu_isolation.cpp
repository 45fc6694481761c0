// See cpu_isolation.hpp.
#include "control/daemon/cpu_isolation.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

#include <rte_lcore.h>

namespace enidp::daemon {
namespace {

std::string read_sysfs(const char* path) {
    std::ifstream f(path);
    if (!f) return "";
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool parse_uint(std::string_view s, unsigned& v) {
    if (s.empty()) return false;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::optional<std::set<unsigned>> parse_cpu_list(std::string_view text) {
    std::set<unsigned> cpus;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    if (text.empty()) return cpus;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = text.find(',', start);
        const std::string_view part = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        const size_t dash = part.find('-');
        unsigned lo = 0, hi = 0;
        if (dash == std::string_view::npos) {
            if (!parse_uint(part, lo)) return std::nullopt;
            hi = lo;
        } else if (!parse_uint(part.substr(0, dash), lo) || !parse_uint(part.substr(dash + 1), hi) || hi < lo ||
                   hi - lo > 65535) {
            return std::nullopt;
        }
        for (unsigned c = lo; c <= hi; c++) cpus.insert(c);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return cpus;
}

std::vector<std::string> isolation_warnings(const std::set<unsigned>& worker_cpus, std::string_view isolated,
                                            std::string_view nohz_full) {
    std::vector<std::string> out;
    const auto iso = parse_cpu_list(isolated).value_or(std::set<unsigned>{});
    const auto tickless = parse_cpu_list(nohz_full).value_or(std::set<unsigned>{});
    for (const unsigned cpu : worker_cpus) {
        if (!iso.contains(cpu)) {
            out.push_back("worker CPU " + std::to_string(cpu) +
                          " is not isolated (no isolcpus=): other tasks and kernel threads run there and stall the worker");
        } else if (!tickless.contains(cpu)) {
            out.push_back("worker CPU " + std::to_string(cpu) +
                          " is isolated but not tickless (no nohz_full=): the scheduler tick interrupts the worker");
        }
    }
    return out;
}

std::vector<std::string> check_worker_cpu_isolation() {
    std::set<unsigned> cpus;
    unsigned lcore = 0;
    RTE_LCORE_FOREACH_WORKER(lcore) {
        const rte_cpuset_t set = rte_lcore_cpuset(lcore);
        for (unsigned c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &set)) cpus.insert(c);
    }
    return isolation_warnings(cpus, read_sysfs("/sys/devices/system/cpu/isolated"),
                              read_sysfs("/sys/devices/system/cpu/nohz_full"));
}

}  // namespace enidp::daemon

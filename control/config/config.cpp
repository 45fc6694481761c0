#include "control/config/config.hpp"

#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <string_view>

namespace enidp::config {

namespace {

constexpr Mac kDefaultGatewayMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
constexpr uint32_t kMaxLcoreId = 127;   // RTE_MAX_LCORE - 1 of a default DPDK build
constexpr uint32_t kMaxCpuId = 1023;    // CPU_SETSIZE - 1
constexpr size_t kMaxSocketPath = 107;  // sockaddr_un::sun_path holds 108 bytes with the NUL
constexpr size_t kMaxIfName = 15;       // IFNAMSIZ - 1

// Thrown by the readers below and turned into a ConfigError at the entry points, so that
// validation reads as straight-line code instead of threading error returns through it.
struct Failure {
    int line;
    std::string message;
};

// Appends rather than `"\"" + std::string(s)`, which trips GCC 12's -Wrestrict false positive at -O3.
std::string quoted(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    return out.append(1, '"').append(s).append(1, '"');
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
    return out;
}

int line_of(const YAML::Node& n, int fallback) {
    const YAML::Mark m = n.Mark();
    return m.is_null() ? fallback : m.line + 1;
}

const char* shape(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map: return "a map";
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Scalar: return "a scalar";
        default: return "no value";
    }
}

// A node together with the key path and line that every error about it must name.
struct Field {
    YAML::Node node;
    std::string path;  // "enis[1].mac"; empty for the document root
    int line = 0;

    [[noreturn]] void fail(const std::string& what) const {
        throw Failure{line, path.empty() ? what : path + ": " + what};
    }
};

// Strict decimal: digits only, no sign, no leading zeros (inet_aton reads "010" as octal).
std::optional<uint32_t> parse_dec(std::string_view s, uint32_t max) {
    if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > max) return std::nullopt;
    return static_cast<uint32_t>(v);
}

uint32_t prefix_mask(uint8_t length) { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }

// Optimal string alignment distance: a swap of two neighbours ("wrokers") counts as one edit.
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1] ? 1 : 0)});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

// Checks the shape of a map once (unknown and duplicate keys) and then hands out its fields.
// yaml-cpp silently keeps only one of two equal keys, so duplicates are caught here.
class MapReader {
public:
    MapReader(const Field& self, std::initializer_list<std::string_view> known) : self_(self) {
        if (self.node.IsNull()) return;  // "eal:" with every child commented out
        if (!self.node.IsMap())
            self.fail(std::string("expected a map") + (self.path.empty() ? " at top level" : "") + ", got " +
                      shape(self.node));
        const std::string where = self.path.empty() ? "at top level" : "in " + self.path;
        for (const auto& kv : self.node) {
            const int line = line_of(kv.first, self.line);
            if (!kv.first.IsScalar()) throw Failure{line, "keys " + where + " must be plain strings"};
            const std::string& key = kv.first.Scalar();
            if (std::find(known.begin(), known.end(), key) == known.end())
                throw Failure{line, "unknown key " + quoted(key) + " " + where + " " + suggest(key, known)};
            const std::string path = self.path.empty() ? key : self.path + "." + key;
            const auto [it, fresh] = fields_.try_emplace(key, Field{kv.second, path, line});
            if (!fresh)
                throw Failure{line, "duplicate key " + quoted(key) + " " + where + " (first at line " +
                                        std::to_string(it->second.line) + ")"};
        }
    }

    const Field* get(std::string_view key) const {
        const auto it = fields_.find(std::string(key));
        return it == fields_.end() ? nullptr : &it->second;
    }

    const Field& require(std::string_view key, std::string_view why = {}) const {
        if (const Field* f = get(key)) return *f;
        self_.fail("missing required key " + quoted(key) + (self_.path.empty() ? " at top level" : "") +
                   std::string(why));
    }

    template <class T, class Read>
    void read(std::string_view key, T& out, Read&& reader) const {
        if (const Field* f = get(key)) out = static_cast<T>(reader(*f));
    }

private:
    static std::string suggest(const std::string& key, std::initializer_list<std::string_view> known) {
        // A near miss is most likely a typo; a short key two edits away is more likely something else.
        std::string_view best;
        size_t best_distance = 3;
        for (std::string_view k : known) {
            const size_t d = edit_distance(key, k);
            if (d < best_distance && d * 3 <= std::max(key.size(), k.size())) best = k, best_distance = d;
        }
        if (!best.empty()) return "(did you mean " + quoted(best) + "?)";
        return "(expected one of: " + join(std::vector<std::string>(known.begin(), known.end())) + ")";
    }

    Field self_;
    std::map<std::string, Field> fields_;
};

// Calls fn for each item of a list; a missing value ("pods:") counts as an empty list.
template <class Fn>
void for_each_item(const Field& list, Fn&& fn) {
    if (list.node.IsNull()) return;
    if (!list.node.IsSequence()) list.fail(std::string("expected a list, got ") + shape(list.node));
    for (size_t i = 0; i < list.node.size(); ++i) {
        const YAML::Node item = list.node[i];
        fn(Field{item, list.path + "[" + std::to_string(i) + "]", line_of(item, list.line)});
    }
}

// Remembers where each value was first used, so a duplicate names both places.
class Registry {
public:
    void add(const std::string& value, const Field& at, std::string_view what, std::string_view note = {}) {
        const auto [it, fresh] = seen_.try_emplace(value, at.path, at.line);
        if (!fresh)
            at.fail(std::string(what) + " " + quoted(value) + " is already used by " + it->second.first + " (line " +
                    std::to_string(it->second.second) + ")" + std::string(note));
    }

private:
    std::map<std::string, std::pair<std::string, int>> seen_;
};

std::string scalar(const Field& f, const char* expected) {
    if (!f.node.IsScalar()) f.fail(std::string("expected ") + expected + ", got " + shape(f.node));
    return f.node.Scalar();
}

std::string read_string(const Field& f) { return scalar(f, "a string"); }

auto int_in(int64_t lo, int64_t hi) {
    return [lo, hi](const Field& f) {
        const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
        const std::string s = scalar(f, "an integer");
        int64_t v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || end != s.data() + s.size() || (ec != std::errc{} && ec != std::errc::result_out_of_range))
            f.fail(quoted(s) + " is not an integer (expected " + range + ")");
        if (ec != std::errc{} || v < lo || v > hi) f.fail(s + " is out of range (expected " + range + ")");
        return v;
    };
}

// DPDK rings need power-of-two descriptor counts; the PMD would reject others at start.
int64_t read_ring_size(const Field& f) {
    const int64_t v = int_in(64, 4096)(f);
    if ((v & (v - 1)) != 0) f.fail(std::to_string(v) + " is not a power of two (expected 64..4096, a power of two)");
    return v;
}

bool read_bool(const Field& f) {
    const std::string s = scalar(f, "a boolean");
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    f.fail(quoted(s) + " is not a boolean (expected true or false)");
}

template <class Valid>
std::string read_token(const Field& f, Valid&& valid, const char* noun, const char* expected) {
    std::string s = read_string(f);
    if (!valid(std::string_view(s))) f.fail(quoted(s) + " is not a valid " + noun + " (expected " + expected + ")");
    return s;
}

Mac read_mac(const Field& f) {
    const std::string s = read_string(f);
    const auto mac = parse_mac(s);
    if (!mac) f.fail(quoted(s) + " is not a MAC address (expected xx:xx:xx:xx:xx:xx)");
    if ((mac->bytes[0] & 1) != 0) f.fail(quoted(s) + " is a multicast MAC (expected a unicast MAC: first byte even)");
    if (*mac == Mac{}) f.fail(quoted(s) + " is the zero MAC (expected a unicast MAC)");
    return *mac;
}

Ipv4 read_ipv4(const Field& f) {
    const std::string s = read_string(f);
    const auto ip = parse_ipv4(s);
    if (!ip) f.fail(quoted(s) + " is not an IPv4 address (expected a.b.c.d)");
    return *ip;
}

// On /31 and /32 every address is a host (RFC 3021); below that the all-zeros and
// all-ones host parts are the subnet's own addresses and never a NIC's.
void require_host_address(const Field& f, Ipv4 ip, const Ipv4Prefix& net) {
    if (net.length >= 31) return;
    const uint32_t host = ip.value & ~prefix_mask(net.length);
    const std::string subnet = Ipv4Prefix{Ipv4{ip.value & prefix_mask(net.length)}, net.length}.to_string();
    if (host == 0) f.fail(ip.to_string() + " is the network address of " + subnet + " (expected a host address)");
    if (host == ~prefix_mask(net.length))
        f.fail(ip.to_string() + " is the broadcast address of " + subnet + " (expected a host address)");
}

// An interface address with its subnet, as in "10.0.0.10/24".
Ipv4Prefix read_interface_prefix(const Field& f) {
    const std::string s = read_string(f);
    const auto prefix = parse_prefix(s);
    if (!prefix) f.fail(quoted(s) + " is not an IPv4 prefix (expected a.b.c.d/len, e.g. 10.0.0.10/24)");
    if (prefix->length == 0) f.fail(quoted(s) + " has prefix length 0 (expected 1..32)");
    require_host_address(f, prefix->addr, *prefix);
    return *prefix;
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool all_chars(std::string_view s, std::string_view extra, bool upper_ok = false) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
        return is_lower_alnum(c) || (upper_ok && c >= 'A' && c <= 'Z') || extra.find(c) != std::string_view::npos;
    });
}

bool valid_eni_name(std::string_view s) { return all_chars(s, ".-"); }
bool valid_file_prefix(std::string_view s) { return all_chars(s, "_-", true); }
bool valid_node_name(std::string_view s) { return !s.empty(); }

// Kubernetes naming rules, so that a pod's key matches what the CNI plugin reports.
bool valid_dns_label(std::string_view s) {
    return s.size() <= 63 && all_chars(s, "-") && is_lower_alnum(s.front()) && is_lower_alnum(s.back());
}
bool valid_dns_subdomain(std::string_view s) {
    return s.size() <= 253 && all_chars(s, ".-") && is_lower_alnum(s.front()) && is_lower_alnum(s.back());
}

// The kernel's dev_valid_name().
bool valid_ifname(std::string_view s) {
    return !s.empty() && s.size() <= kMaxIfName && s != "." && s != ".." &&
           std::none_of(s.begin(), s.end(), [](char c) { return c == '/' || c == ':' || is_space(c); });
}

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// "DDDD:BB:DD.F" or "BB:DD.F", as the canonical lowercase DDDD:BB:DD.F.
std::optional<std::string> canonical_pci(std::string_view s) {
    constexpr std::string_view kShape = "xxxx:xx:xx.x";
    std::string id = s.size() == kShape.size() - 5 ? "0000:" + std::string(s) : std::string(s);
    if (id.size() != kShape.size()) return std::nullopt;
    for (size_t i = 0; i < id.size(); ++i) {
        if (kShape[i] == 'x' ? !is_hex(id[i]) : id[i] != kShape[i]) return std::nullopt;
        id[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(id[i])));
    }
    // A PCI bus has 32 devices of 8 functions each.
    if (id[8] > '1' || id[11] > '7') return std::nullopt;
    return id;
}

// "net_<driver><id>[,key=value...]": returns the vdev name, which EAL requires to be unique.
std::optional<std::string> vdev_name(std::string_view s) {
    const std::string_view name = s.substr(0, s.find(','));
    if (name.size() < 6 || name.substr(0, 4) != "net_" || !(name[4] >= 'a' && name[4] <= 'z') ||
        !all_chars(name, "_") || !(name.back() >= '0' && name.back() <= '9'))
        return std::nullopt;
    for (std::string_view rest = s.substr(name.size()); !rest.empty();) {
        rest.remove_prefix(1);  // the ','
        const std::string_view arg = rest.substr(0, rest.find(','));
        const size_t eq = arg.find('=');
        if (eq == 0 || eq == std::string_view::npos || eq + 1 == arg.size() ||
            !all_chars(arg.substr(0, eq), "_", true) || std::any_of(arg.begin(), arg.end(), is_space))
            return std::nullopt;
        rest.remove_prefix(arg.size());
    }
    return std::string(name);
}

// What makes two ENIs the same device: the PCI address or the vdev name; nullopt when neither.
std::optional<std::string> device_identity(std::string_view s) {
    if (auto pci = canonical_pci(s)) return pci;
    return vdev_name(s);
}

// Counts the lcores of a DPDK --lcores value: comma-separated "N", "N-M" or "(list)", each
// optionally pinned with "@cpu" or "@(list)". nullopt when malformed or when an lcore appears
// twice; EAL rejects both too, but only with a generic usage message.
std::optional<size_t> count_lcores(std::string_view s) {
    size_t pos = 0;
    const auto number = [&](uint32_t max) {
        const size_t start = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
        return parse_dec(s.substr(start, pos - start), max);
    };
    const auto range = [&](uint32_t max, std::vector<uint32_t>& out) {
        const auto lo = number(max);
        if (!lo) return false;
        auto hi = lo;
        if (pos < s.size() && s[pos] == '-') {
            ++pos;
            hi = number(max);
            if (!hi || *hi < *lo) return false;
        }
        for (uint32_t i = *lo; i <= *hi; ++i) out.push_back(i);
        return true;
    };
    const auto set = [&](uint32_t max, std::vector<uint32_t>& out) {
        if (pos >= s.size() || s[pos] != '(') return range(max, out);
        do {
            ++pos;
            if (!range(max, out)) return false;
        } while (pos < s.size() && s[pos] == ',');
        return pos < s.size() && s[pos++] == ')';
    };
    std::vector<uint32_t> lcores;
    for (;;) {
        if (!set(kMaxLcoreId, lcores)) return std::nullopt;
        if (pos < s.size() && s[pos] == '@') {
            ++pos;
            std::vector<uint32_t> cpus;
            if (!set(kMaxCpuId, cpus)) return std::nullopt;
        }
        if (pos == s.size() || s[pos] != ',') break;
        ++pos;
    }
    std::sort(lcores.begin(), lcores.end());
    if (pos != s.size() || std::adjacent_find(lcores.begin(), lcores.end()) != lcores.end()) return std::nullopt;
    return lcores.size();
}

struct PortKindInfo {
    const char* name;
    PodPortKind kind;
    const char* target;  // the key naming the port's endpoint
};
constexpr PortKindInfo kPortKinds[] = {
    {"vhost-user", PodPortKind::kVhostUser, "socket"},
    {"memif", PodPortKind::kMemif, "socket"},
    {"tap", PodPortKind::kTap, "interface"},
};

// Values that must be unique across the whole file.
struct Seen {
    Registry eni_names, devices, macs, pods, pod_enis, pod_ips, sockets, interfaces;
};

// Returns the eal.lcores field when given, so that a workers/lcores mismatch can point at it.
std::optional<Field> parse_eal(const Field& f, EalSettings& eal) {
    const MapReader m(f, {"lcores", "no_huge", "no_pci", "memory_mb", "file_prefix", "log_level", "extra_args"});
    m.read("lcores", eal.lcores, [](const Field& x) {
        std::string s = read_string(x);
        if (!count_lcores(s))
            x.fail(quoted(s) + " is not a valid lcore list (expected distinct lcore ids 0.." +
                   std::to_string(kMaxLcoreId) + " as in \"0,1\", \"0-3\" or \"0@2,(1-2)@(3,4)\")");
        return s;
    });
    m.read("no_huge", eal.no_huge, read_bool);
    m.read("no_pci", eal.no_pci, read_bool);
    m.read("memory_mb", eal.memory_mb, int_in(64, 65536));
    m.read("file_prefix", eal.file_prefix, [](const Field& x) {
        return read_token(x, valid_file_prefix, "file prefix", "letters, digits, '_' and '-'");
    });
    m.read("log_level", eal.log_level, read_string);
    if (const Field* args = m.get("extra_args"))
        for_each_item(*args, [&](const Field& item) { eal.extra_args.push_back(read_string(item)); });
    const Field* lcores = m.get("lcores");
    return lcores ? std::optional<Field>(*lcores) : std::nullopt;
}

Eni parse_eni(const Field& item, Seen& seen) {
    const MapReader m(item, {"name", "device", "mac", "ip", "gateway", "gateway_mac", "queues", "mtu"});
    Eni e;
    e.line = item.line;

    const Field& name = m.require("name");
    e.name = read_token(name, valid_eni_name, "ENI name", "lowercase letters, digits, '.' and '-'");
    seen.eni_names.add(e.name, name, "ENI name");

    const Field& device = m.require("device");
    e.device = read_string(device);
    const auto id = device_identity(e.device);
    if (!id)
        device.fail(quoted(e.device) +
                    " is not a PCI address or vdev string (expected DDDD:BB:DD.F, BB:DD.F or "
                    "net_<driver><id>[,key=value...])");
    seen.devices.add(*id, device, "device");

    const Field& mac = m.require("mac");
    e.mac = read_mac(mac);
    seen.macs.add(e.mac.to_string(), mac, "MAC");

    e.ip = read_interface_prefix(m.require("ip"));

    const Field& gateway = m.require("gateway");
    e.gateway_ip = read_ipv4(gateway);
    if (!e.ip.contains(e.gateway_ip))
        gateway.fail(e.gateway_ip.to_string() + " is outside the ENI's subnet " + e.ip.to_string() +
                     " (expected an address inside it)");
    if (e.gateway_ip == e.ip.addr)
        gateway.fail(e.gateway_ip.to_string() + " is the ENI's own address (expected the subnet's router)");
    require_host_address(gateway, e.gateway_ip, e.ip);

    m.read("gateway_mac", e.gateway_mac, read_mac);
    m.read("queues", e.queues, int_in(1, 16));
    m.read("mtu", e.mtu, int_in(68, 9000));
    return e;
}

void parse_port(const Field& f, Pod& p, Seen& seen) {
    const MapReader m(f, {"kind", "socket", "interface", "vhost_client"});
    const Field& kind = m.require("kind");
    const std::string name = read_string(kind);
    const auto* info = std::find_if(std::begin(kPortKinds), std::end(kPortKinds),
                                    [&](const PortKindInfo& k) { return name == k.name; });
    if (info == std::end(kPortKinds))
        kind.fail(quoted(name) + " is not a port kind (expected vhost-user, memif or tap)");
    p.kind = info->kind;

    // Naming the key that does not belong beats silently ignoring it.
    const std::string_view other = std::string_view(info->target) == "socket" ? "interface" : "socket";
    if (const Field* x = m.get(other))
        x->fail("not allowed for kind " + name + " (expected " + quoted(info->target) + ")");
    if (const Field* x = m.get("vhost_client"); x && p.kind != PodPortKind::kVhostUser)
        x->fail("only valid for kind vhost-user (this port is " + name + ")");
    m.read("vhost_client", p.vhost_client, read_bool);

    const Field& target = m.require(info->target, " (kind " + name + " needs it)");
    if (p.kind == PodPortKind::kTap) {
        p.socket =
            read_token(target, valid_ifname, "interface name", "1..15 characters without '/', ':' or whitespace");
        seen.interfaces.add(p.socket, target, "interface");
        return;
    }
    p.socket = read_string(target);
    if (p.socket.empty() || p.socket.front() != '/')
        target.fail(quoted(p.socket) + " is not an absolute path (expected a path starting with '/')");
    if (p.socket.size() > kMaxSocketPath)
        target.fail("path is " + std::to_string(p.socket.size()) + " bytes long (expected at most " +
                    std::to_string(kMaxSocketPath) + ", the AF_UNIX limit)");
    seen.sockets.add(p.socket, target, "socket");
}

Pod parse_pod(const Field& item, const Config& c, Seen& seen) {
    const MapReader m(item, {"namespace", "name", "eni", "ip", "mac", "port"});
    Pod p;
    p.line = item.line;

    p.ns = read_token(m.require("namespace"), valid_dns_label, "namespace",
                      "a DNS label: 1..63 of a-z, 0-9 and '-', starting and ending with a letter or digit");
    const Field& name = m.require("name");
    p.name = read_token(name, valid_dns_subdomain, "pod name",
                        "1..253 of a-z, 0-9, '.' and '-', starting and ending with a letter or digit");
    seen.pods.add(p.key(), name, "pod");

    const Field& eni_field = m.require("eni");
    p.eni = read_string(eni_field);
    const Eni* eni = c.find_eni(p.eni);
    if (!eni) {
        std::vector<std::string> known;
        for (const auto& e : c.enis) known.push_back(e.name);
        eni_field.fail("no ENI named " + quoted(p.eni) + " (known: " + join(known) + ")");
    }
    seen.pod_enis.add(p.eni, eni_field, "ENI", "; at most one pod per ENI");

    if (const Field* ip = m.get("ip")) {
        p.ip = read_ipv4(*ip);
        if (!eni->ip.contains(p.ip))
            ip->fail(p.ip.to_string() + " is outside ENI " + eni->name + "'s subnet " + eni->ip.to_string() +
                     " (expected an address inside it)");
        if (p.ip == eni->gateway_ip)
            ip->fail(p.ip.to_string() + " is ENI " + eni->name + "'s gateway (expected a host address)");
        require_host_address(*ip, p.ip, eni->ip);
        seen.pod_ips.add(p.ip.to_string(), *ip, "pod IP");
    } else {
        p.ip = eni->ip.addr;
        seen.pod_ips.add(p.ip.to_string(), Field{item.node, item.path + ".ip", item.line}, "pod IP",
                         " (the default: ENI " + eni->name + "'s address)");
    }

    const Field& mac = m.require("mac");
    p.mac = read_mac(mac);
    // The pod resolves its gateway to gateway_mac; owning it too would blackhole its traffic.
    if (p.mac == c.gateway_mac)
        mac.fail(quoted(p.mac.to_string()) + " is the gateway_mac (expected the pod's own MAC)");
    seen.macs.add(p.mac.to_string(), mac, "MAC");

    parse_port(m.require("port"), p, seen);
    return p;
}

Config parse_config(const YAML::Node& root, const std::string& source) {
    const MapReader top(Field{root, "", line_of(root, 1)},
                        {"node_name", "eal", "workers", "burst", "rx_desc", "tx_desc", "mempool", "idle_backoff",
                         "gateway_mac", "stats", "enis", "pods", "node_zone", "node_ips", "manifests", "lb", "policy", "kubernetes", "metrics", "api",
                         "control"});
    Config c;
    c.source = source;
    c.gateway_mac = kDefaultGatewayMac;
    Seen seen;

    c.node_name = read_token(top.require("node_name"), valid_node_name, "node name", "a non-empty string");

    std::optional<Field> lcores_field;
    if (const Field* eal = top.get("eal")) lcores_field = parse_eal(*eal, c.eal);
    top.read("workers", c.workers, int_in(1, 16));
    // The defaults fit each other, so a mismatch is blamed on whichever of the two was written.
    const size_t lcores = count_lcores(c.eal.lcores).value_or(0);
    const Field* at = top.get("workers");
    if (!at && lcores_field) at = &*lcores_field;
    if (at && c.workers + 1u > lcores) {
        at->fail(std::to_string(c.workers) + " worker(s) need " + std::to_string(c.workers + 1) +
                 " lcores (the first lcore is the main one) but eal.lcores " + quoted(c.eal.lcores) + " has " +
                 std::to_string(lcores));
    }
    top.read("burst", c.burst, int_in(1, 64));
    top.read("rx_desc", c.rx_desc, read_ring_size);
    top.read("tx_desc", c.tx_desc, read_ring_size);

    if (const Field* f = top.get("mempool")) {
        const MapReader m(*f, {"mbufs", "cache", "data_room"});
        m.read("mbufs", c.mempool.mbufs, int_in(1024, UINT32_MAX));
        // rte_mempool also wants cache * 1.5 <= mbufs; mbufs >= 1024 already guarantees it.
        m.read("cache", c.mempool.cache, int_in(0, 512));
        m.read("data_room", c.mempool.data_room, int_in(1024, 65535));
    }
    if (const Field* f = top.get("idle_backoff")) {
        const MapReader m(*f, {"enabled", "after_us", "sleep_us"});
        m.read("enabled", c.idle.enabled, read_bool);
        m.read("after_us", c.idle.after_us, int_in(0, 10'000'000));
        m.read("sleep_us", c.idle.sleep_us, int_in(1, 100'000));
    }
    top.read("gateway_mac", c.gateway_mac, read_mac);
    if (const Field* f = top.get("control")) {
        const MapReader m(*f, {"heap_prefault_mb"});
        m.read("heap_prefault_mb", c.control_heap_prefault_mb, int_in(0, kMaxHeapPrefaultMb));
    }
    if (const Field* f = top.get("stats")) {
        const MapReader m(*f, {"interval_ms", "file"});
        m.read("interval_ms", c.stats_interval_ms, [](const Field& x) {
            const int64_t v = int_in(0, 3'600'000)(x);
            if (v != 0 && v < 100) x.fail(std::to_string(v) + " is out of range (expected 0 or 100..3600000)");
            return v;
        });
        m.read("file", c.stats_file, read_string);
    }

    if (const Field* f = top.get("api")) {
        const MapReader m(*f, {"socket", "tcp"});
        m.read("socket", c.api_socket, [](const Field& x) {
            std::string v = read_string(x);
            // sockaddr_un::sun_path holds 108 bytes with the terminating NUL.
            if (v.empty() || v[0] != '/') x.fail(quoted(v) + " is not an absolute path");
            if (v.size() > 107) x.fail("the path is " + std::to_string(v.size()) + " bytes long (at most 107)");
            return v;
        });
        if (const Field* t = m.get("tcp")) {
            const MapReader tm(*t, {"address", "cert_file", "key_file", "client_ca_file"});
            auto& a = c.api_tcp;
            a.enabled = true;
            auto file = [](const Field& x) {
                std::string v = read_string(x);
                if (::access(v.c_str(), R_OK) != 0) x.fail("cannot read " + quoted(v) + ": " + std::strerror(errno));
                return v;
            };
            tm.require("address");
            tm.require("cert_file");
            tm.require("key_file");
            tm.require("client_ca_file");
            tm.read("address", a.address, [](const Field& x) {
                std::string v = read_string(x);
                const auto colon = v.rfind(':');
                if (colon == std::string::npos || colon == 0 || colon + 1 == v.size())
                    x.fail(quoted(v) + " is not host:port");
                return v;
            });
            tm.read("cert_file", a.cert_file, file);
            tm.read("key_file", a.key_file, file);
            tm.read("client_ca_file", a.client_ca_file, file);
        }
    }

    top.read("node_zone", c.node_zone, read_string);
    if (const Field* f = top.get("node_ips"))
        for_each_item(*f, [&](const Field& item) { c.node_ips.push_back(read_ipv4(item)); });
    if (const Field* f = top.get("manifests"))
        for_each_item(*f, [&](const Field& item) { c.manifests.push_back(read_string(item)); });
    if (const Field* f = top.get("lb")) {
        const MapReader m(*f, {"conntrack_max", "affinity_max", "maglev_table_size", "snat_port_min", "snat_port_max",
                               "ct_tcp_established_s", "ct_udp_s", "ct_udp_stream_s", "min_sync_period_ms",
                               "maglev_fill_budget_ms"});
        m.read("conntrack_max", c.lb.conntrack_max, int_in(64, 64 << 20));
        m.read("affinity_max", c.lb.affinity_max, int_in(64, 16 << 20));
        m.read("maglev_table_size", c.lb.maglev_table_size, int_in(3, 1 << 24));
        m.read("snat_port_min", c.lb.snat_port_min, int_in(1024, 65535));
        m.read("snat_port_max", c.lb.snat_port_max, int_in(1024, 65535));
        if (c.lb.snat_port_min > c.lb.snat_port_max)
            f->fail("snat_port_min " + std::to_string(c.lb.snat_port_min) + " is above snat_port_max " +
                    std::to_string(c.lb.snat_port_max));
        m.read("ct_tcp_established_s", c.lb.ct_tcp_established_s, int_in(1, 30 * 86400));
        m.read("ct_udp_s", c.lb.ct_udp_s, int_in(1, 86400));
        m.read("ct_udp_stream_s", c.lb.ct_udp_stream_s, int_in(1, 86400));
        m.read("min_sync_period_ms", c.lb.min_sync_period_ms, int_in(0, 60000));
        m.read("maglev_fill_budget_ms", c.lb.maglev_fill_budget_ms, int_in(0, 60000));
    }

    if (const Field* f = top.get("policy")) {
        const MapReader m(*f, {"offload", "offload_max_rules", "log_allow_one_in", "log_denies_per_second"});
        m.read("offload", c.policy.offload, read_bool);
        m.read("offload_max_rules", c.policy.offload_max_rules, int_in(1, 65536));
        m.read("log_allow_one_in", c.policy.log_allow_one_in, int_in(0, 1 << 30));
        m.read("log_denies_per_second", c.policy.log_denies_per_second, int_in(0, 1 << 30));
    }

    if (const Field* f = top.get("kubernetes")) {
        const MapReader m(*f, {"server", "token_file", "ca_file", "insecure_skip_tls_verify", "kubeconfig"});
        c.kubernetes.enabled = true;
        m.read("server", c.kubernetes.server, read_string);
        m.read("token_file", c.kubernetes.token_file, read_string);
        m.read("ca_file", c.kubernetes.ca_file, read_string);
        m.read("insecure_skip_tls_verify", c.kubernetes.insecure_skip_tls_verify, read_bool);
        m.read("kubeconfig", c.kubernetes.kubeconfig, read_string);
    }
    if (const Field* f = top.get("metrics")) {
        const MapReader m(*f, {"enabled", "address", "port"});
        m.read("enabled", c.metrics.enabled, read_bool);
        m.read("address", c.metrics.address, read_string);
        m.read("port", c.metrics.port, int_in(1, 65535));
    }

    const Field& enis = top.require("enis");
    for_each_item(enis, [&](const Field& item) { c.enis.push_back(parse_eni(item, seen)); });
    if (c.enis.empty()) enis.fail("at least one ENI is required");

    if (const Field* pods = top.get("pods"))
        for_each_item(*pods, [&](const Field& item) { c.pods.push_back(parse_pod(item, c, seen)); });
    return c;
}

Config parse_document(const std::string& yaml, const std::string& source) {
    const std::vector<YAML::Node> docs = YAML::LoadAll(yaml);
    if (docs.size() > 1)
        throw Failure{line_of(docs[1], 0), "a second YAML document starts here (expected a single document)"};
    if (docs.empty() || docs[0].IsNull())
        throw Failure{0, "the configuration is empty (expected a map with at least node_name and enis)"};
    return parse_config(docs[0], source);
}

}  // namespace

std::string Mac::to_string() const {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4],
                  bytes[5]);
    return buf;
}

std::string Ipv4::to_string() const {
    return std::to_string(value >> 24) + "." + std::to_string((value >> 16) & 0xff) + "." +
           std::to_string((value >> 8) & 0xff) + "." + std::to_string(value & 0xff);
}

bool Ipv4Prefix::contains(Ipv4 ip) const {
    const uint32_t mask = prefix_mask(length);
    return (ip.value & mask) == (addr.value & mask);
}

std::string Ipv4Prefix::to_string() const { return addr.to_string() + "/" + std::to_string(length); }

const char* to_string(PodPortKind kind) {
    for (const auto& k : kPortKinds)
        if (k.kind == kind) return k.name;
    return "unknown";
}

const Eni* Config::find_eni(const std::string& name) const {
    const auto it = std::find_if(enis.begin(), enis.end(), [&](const Eni& e) { return e.name == name; });
    return it == enis.end() ? nullptr : &*it;
}

std::string ConfigError::to_string() const {
    return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
}

ConfigResult load_string(const std::string& yaml, const std::string& source_name) {
    try {
        return parse_document(yaml, source_name);
    } catch (const Failure& f) {
        return ConfigError{source_name, f.line, f.message};
    } catch (const YAML::ParserException& e) {
        return ConfigError{source_name, e.mark.is_null() ? 0 : e.mark.line + 1, "YAML syntax error: " + e.msg};
    } catch (const YAML::Exception& e) {
        return ConfigError{source_name, e.mark.is_null() ? 0 : e.mark.line + 1, e.msg};
    } catch (const std::exception& e) {
        return ConfigError{source_name, 0, std::string("internal error while reading the configuration: ") + e.what()};
    }
}

ConfigResult load_file(const std::string& path) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) return ConfigError{path, 0, "cannot read " + path + ": " + std::strerror(errno)};
    std::string text;
    char buf[65536];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) text.append(buf, n);
    // fopen succeeds on a directory; the read is what fails (EISDIR).
    const int read_errno = std::ferror(file) ? errno : 0;
    std::fclose(file);
    if (read_errno != 0) return ConfigError{path, 0, "cannot read " + path + ": " + std::strerror(read_errno)};
    return load_string(text, path);
}

std::optional<Mac> parse_mac(const std::string& s) {
    const auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    if (s.size() != 17) return std::nullopt;
    Mac mac;
    for (size_t i = 0; i < 6; ++i) {
        const int hi = hex(s[i * 3]), lo = hex(s[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':')) return std::nullopt;
        mac.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return mac;
}

std::optional<Ipv4> parse_ipv4(const std::string& s) {
    std::string_view rest = s;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
        const size_t end = i < 3 ? rest.find('.') : rest.size();
        if (end == std::string_view::npos) return std::nullopt;
        const auto octet = parse_dec(rest.substr(0, end), 255);
        if (!octet) return std::nullopt;
        value = value << 8 | *octet;
        rest.remove_prefix(std::min(end + 1, rest.size()));
    }
    return Ipv4{value};
}

std::optional<Ipv4Prefix> parse_prefix(const std::string& s) {
    const size_t slash = s.find('/');
    if (slash == std::string::npos) return std::nullopt;
    const auto addr = parse_ipv4(s.substr(0, slash));
    const auto length = parse_dec(std::string_view(s).substr(slash + 1), 32);
    if (!addr || !length) return std::nullopt;
    return Ipv4Prefix{*addr, static_cast<uint8_t>(*length)};
}

}  // namespace enidp::config

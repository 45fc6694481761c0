// enidpctl: the command line client of the enidp.v1 gRPC API (docs/api.md).
//
// Exit status: 0 done, 1 the call failed (the gRPC status message is printed) or an input file
// is invalid, 2 usage error. Runs as its own process; talks to the daemon over its unix socket.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "control/objects/manifest.hpp"
#include "enidp.grpc.pb.h"

namespace {

using nlohmann::json;
namespace v1 = enidp::v1;

struct Failure {
    int code;
    std::string message;
};

const char* code_name(grpc::StatusCode c) {
    switch (c) {
        case grpc::StatusCode::INVALID_ARGUMENT: return "invalid argument";
        case grpc::StatusCode::NOT_FOUND: return "not found";
        case grpc::StatusCode::DEADLINE_EXCEEDED: return "deadline exceeded";
        case grpc::StatusCode::UNAVAILABLE: return "unavailable";
        case grpc::StatusCode::PERMISSION_DENIED: return "permission denied";
        case grpc::StatusCode::UNIMPLEMENTED: return "unimplemented";
        default: return "error";
    }
}

class Client {
public:
    explicit Client(std::string socket) : socket_(std::move(socket)) {}
    // TCP with mutual TLS instead of the unix socket (PEM file paths).
    void use_tls(std::string address, std::string cert, std::string key, std::string ca) {
        address_ = std::move(address);
        cert_ = std::move(cert);
        key_ = std::move(key);
        ca_ = std::move(ca);
    }

    template <class Req, class Resp, class Method>
    Resp call(Method method, const Req& req, std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
        connect();
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + deadline);
        Resp resp;
        grpc::Status s = ((*stub_).*method)(&ctx, req, &resp);
        if (!s.ok()) throw Failure{1, std::string(code_name(s.error_code())) + ": " + s.error_message()};
        return resp;
    }

    // The verdict log: `fn` for each record until the server ends the stream (no follow) or
    // the user interrupts (follow).
    template <class Fn>
    void read_verdicts(const v1::ReadVerdictsRequest& req, Fn&& fn) {
        connect();
        grpc::ClientContext ctx;
        auto reader = stub_->ReadVerdicts(&ctx, req);
        v1::VerdictRecord r;
        while (reader->Read(&r)) fn(r);
        grpc::Status s = reader->Finish();
        if (!s.ok()) throw Failure{1, std::string(code_name(s.error_code())) + ": " + s.error_message()};
    }

private:
    void connect() {
        if (stub_) return;
        // Large applies and dumps: the daemon accepts up to 512 MB (control/api/server.hpp).
        grpc::ChannelArguments args;
        args.SetMaxReceiveMessageSize(512 << 20);
        args.SetMaxSendMessageSize(512 << 20);
        if (!address_.empty()) {
            auto slurp = [](const std::string& path) {
                std::ifstream f(path);
                if (!f) throw Failure{1, "cannot read " + path};
                return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
            };
            grpc::SslCredentialsOptions o;
            o.pem_root_certs = slurp(ca_);
            o.pem_private_key = slurp(key_);
            o.pem_cert_chain = slurp(cert_);
            stub_ = v1::Enidp::NewStub(grpc::CreateCustomChannel(address_, grpc::SslCredentials(o), args));
            return;
        }
        struct stat st {};
        if (::stat(socket_.c_str(), &st) != 0)
            throw Failure{1, "cannot reach enidp: " + socket_ + " does not exist (is enidp running? --socket PATH)"};
        stub_ = v1::Enidp::NewStub(grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args));
    }

    std::string socket_;
    std::string address_, cert_, key_, ca_;
    std::unique_ptr<v1::Enidp::Stub> stub_;
};

// ---------------------------------------------------------------- output helpers

void emit_yaml(YAML::Emitter& out, const json& j) {
    if (j.is_object()) {
        out << YAML::BeginMap;
        for (auto it = j.begin(); it != j.end(); ++it) {
            out << YAML::Key << it.key() << YAML::Value;
            emit_yaml(out, it.value());
        }
        out << YAML::EndMap;
    } else if (j.is_array()) {
        out << YAML::BeginSeq;
        for (const auto& v : j) emit_yaml(out, v);
        out << YAML::EndSeq;
    } else if (j.is_string()) {
        const std::string& s = j.get_ref<const std::string&>();
        // The emitter quotes what YAML syntax needs; strings that would read back as a
        // number, a bool or null are quoted here.
        static const char* const kWords[] = {"true", "false", "yes", "no", "on", "off", "null", "~",
                                             "True", "False", "Yes", "No", "On", "Off", "Null", "NULL"};
        char* end = nullptr;
        std::strtod(s.c_str(), &end);
        bool plain = !s.empty() && end != s.c_str() + s.size();  // not a number (strtod also reads 0x.., inf, nan)
        for (const char* w : kWords)
            if (s == w) plain = false;
        if (plain) out << s;
        else out << YAML::DoubleQuoted << s;
    } else if (j.is_boolean()) {
        out << (j.get<bool>() ? "true" : "false");
    } else if (j.is_null()) {
        out << YAML::Null;
    } else {
        out << j.dump();
    }
}

std::string to_yaml(const json& j) {
    YAML::Emitter out;
    emit_yaml(out, j);
    return std::string(out.c_str()) + "\n";
}

void print_json_or_yaml(const json& j, const std::string& format) {
    if (format == "yaml") std::cout << to_yaml(j);
    else std::cout << j.dump(2) << "\n";
}

// Columns padded to the widest cell.
void print_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> width;
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size(); i++) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], r[i].size());
        }
    for (const auto& r : rows) {
        std::string line;
        for (size_t i = 0; i < r.size(); i++) {
            line += r[i];
            if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
        }
        std::cout << line << "\n";
    }
}

json parse_body(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    return j.is_discarded() ? json(text) : j;
}

std::vector<std::string> object_row(const v1::StoredObject& o) {
    return {
        o.kind(),  o.namespace_().empty() ? "-" : o.namespace_(), o.name(), o.source(), std::to_string(o.generation()),
        o.origin()};
}

// A Get/Delete request for KIND and "ns/name" (a Namespace: "name"; no namespace: "default").
template <class Req>
Req ref_request(const std::string& kind, const std::string& ref) {
    Req req;
    req.set_kind(kind);
    const size_t slash = ref.find('/');
    if (kind == "Namespace") {
        req.set_name(ref);
    } else if (slash == std::string::npos) {
        req.set_namespace_("default");
        req.set_name(ref);
    } else {
        req.set_namespace_(ref.substr(0, slash));
        req.set_name(ref.substr(slash + 1));
    }
    return req;
}

std::string endpoint(const v1::Endpoint& e) { return e.ip() + ":" + std::to_string(e.port()); }

const char* proto_name(v1::Protocol p) {
    switch (p) {
        case v1::PROTOCOL_TCP: return "TCP";
        case v1::PROTOCOL_UDP: return "UDP";
        case v1::PROTOCOL_SCTP: return "SCTP";
        case v1::PROTOCOL_ICMP: return "ICMP";
        default: return "?";
    }
}

v1::Protocol parse_proto(const std::string& s, bool icmp_ok) {
    std::string l;
    for (char c : s) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (l == "tcp") return v1::PROTOCOL_TCP;
    if (l == "udp") return v1::PROTOCOL_UDP;
    if (l == "sctp") return v1::PROTOCOL_SCTP;
    if (icmp_ok && l == "icmp") return v1::PROTOCOL_ICMP;
    throw Failure{2, "--proto: \"" + s + "\" is not " + (icmp_ok ? "tcp, udp, sctp or icmp" : "tcp, udp or sctp")};
}

const char* verdict_name(v1::Verdict v) {
    switch (v) {
        case v1::VERDICT_FORWARD: return "forward";
        case v1::VERDICT_DROP: return "drop";
        case v1::VERDICT_REJECT: return "reject";
        default: return "unspecified";
    }
}

// The trace JSON shape documented in docs/api.md ("Trace JSON"). Keys are never removed;
// new keys may be added.
json trace_json(const v1::TraceRequest& req, const v1::TraceResponse& r) {
    json j;
    j["verdict"] = verdict_name(r.verdict());
    j["reason"] = r.reason();
    j["service_stage"] = r.service_stage();
    j["service"] = r.service().empty() ? json(nullptr) : json(r.service());
    j["frontend_kind"] = r.frontend_kind().empty() ? json(nullptr) : json(r.frontend_kind());
    j["backend_set"] = r.backend_set().empty() ? json(nullptr) : json(r.backend_set());
    j["backends_in_set"] = r.backends_in_set();
    j["packet"] = {
        {"protocol", proto_name(req.protocol())}, {"src", endpoint(r.in_src())}, {"dst", endpoint(r.in_dst())}};
    j["translated"] = {{"src", endpoint(r.out_src())}, {"dst", endpoint(r.out_dst())}};
    j["backend"] = r.has_backend() ? json(endpoint(r.backend())) : json(nullptr);
    j["snat"] = r.snat();
    j["affinity_hit"] = r.affinity_hit();
    j["flow"] =
        r.flow_state().empty() ? json(nullptr) : json{{"state", r.flow_state()}, {"direction", r.flow_direction()}};
    j["output_port"] = r.has_output_port() ? json{{"port", r.output_port().port()},
                                                  {"role", r.output_port().role()},
                                                  {"owner", r.output_port().owner()}}
                                           : json(nullptr);
    j["policy"] = r.policy_verdict().empty() || r.policy_verdict() == "off" ? json(nullptr)
                                             : json{{"verdict", r.policy_verdict()},
                                                    {"direction", r.policy_direction().empty() ? json(nullptr)
                                                                                               : json(r.policy_direction())},
                                                    {"policy", r.policy().empty() ? json(nullptr) : json(r.policy())},
                                                    {"rule", r.policy_rule().empty() ? json(nullptr) : json(r.policy_rule())}};
    return j;
}

// A response as JSON with the proto's field names (docs/api.md: the shape of each message);
// fields at their default value are printed too, so every key is always there.
json proto_json(const google::protobuf::Message& m) {
    google::protobuf::util::JsonPrintOptions o;
    o.preserve_proto_field_names = true;
    o.always_print_primitive_fields = true;
    std::string text;
    if (!google::protobuf::util::MessageToJsonString(m, &text, o).ok()) throw Failure{1, "cannot print the response"};
    return json::parse(text);
}

std::string packets(uint64_t n) { return std::to_string(n); }

void check_format(const std::string& f, std::initializer_list<const char*> allowed) {
    for (const char* a : allowed)
        if (f == a) return;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    throw Failure{2, "-o: \"" + f + "\" is not one of " + list};
}

}  // namespace

namespace {

int run(int argc, char** argv) {
    CLI::App app{"enidpctl: drive an enidp node through its gRPC API (docs/api.md)"};
    app.require_subcommand(1);
    std::string socket = "/run/enidp/enidp.sock";
    app.add_option("--socket", socket, "enidp's API socket")->capture_default_str();
    std::string address, tls_cert, tls_key, tls_ca;
    auto* addr_opt = app.add_option("--address", address, "HOST:PORT of the API over TCP with mutual TLS (api.tcp)");
    app.add_option("--cert", tls_cert, "client certificate (PEM) for --address")->needs(addr_opt);
    app.add_option("--key", tls_key, "client private key (PEM) for --address")->needs(addr_opt);
    app.add_option("--ca", tls_ca, "CA of the server certificate (PEM) for --address")->needs(addr_opt);

    std::vector<std::string> files;
    auto* apply =
        app.add_subcommand("apply", "store Kubernetes objects (YAML/JSON files or directories), all or nothing");
    apply->add_option("-f,--filename", files, "file or directory (*.yaml, *.yml, *.json)")->required();
    uint32_t wait_ms = 0;
    auto wait_flag = [&wait_ms](CLI::App* cmd) {
        cmd->add_option("--wait", wait_ms,
                        "then wait up to this many ms until the change is in the data path (realized); "
                        "exit 1 if it is not by then")
            ->expected(0, 1)
            ->default_str("10000")
            ->check(CLI::Range(1u, 60000u));
    };
    wait_flag(apply);

    std::string kind, ref, format = "table", ns_filter;
    auto* del = app.add_subcommand("delete", "remove one object");
    del->add_option("kind", kind, "Service, EndpointSlice, Pod, Namespace, NetworkPolicy, PayloadPolicy")->required();
    del->add_option("ref", ref, "namespace/name (a Namespace: name)")->required();
    wait_flag(del);

    auto* get = app.add_subcommand("get", "show one object");
    get->add_option("kind", kind)->required();
    get->add_option("ref", ref, "namespace/name (a Namespace: name)")->required();
    get->add_option("-o,--output", format, "table | json | yaml")->capture_default_str();

    auto* list = app.add_subcommand("list", "list the objects of one kind");
    list->add_option("kind", kind)->required();
    list->add_option("-n,--namespace", ns_filter, "only this namespace");
    list->add_option("-o,--output", format, "table | json | yaml")->capture_default_str();

    std::string text_format = "text";
    bool stats_services = false;
    auto* stats = app.add_subcommand("stats", "the data path's counters");
    stats->add_flag("--services", stats_services, "also per Service port and backend: flows, rejects, live flows");
    stats->add_option("-o,--output", text_format, "text | json")->capture_default_str();

    auto* services = app.add_subcommand("services", "dump the published Service table");
    services->add_option("-o,--output", text_format, "text | json")->capture_default_str();

    std::string src, dst, proto, state, service;
    uint32_t port = 0, limit = 0;
    auto* ct = app.add_subcommand("conntrack", "list conntrack flows");
    ct->add_option("--src", src, "client or backend IPv4 address");
    ct->add_option("--dst", dst, "frontend or backend IPv4 address");
    ct->add_option("--port", port, "a port on any side");
    ct->add_option("--proto", proto, "tcp | udp | sctp | icmp");
    ct->add_option("--state", state, "tcp_established, unreplied, replied, ...");
    ct->add_option("--service", service, "Service \"ns/name\" prefix");
    ct->add_option("--limit", limit, "at most this many flows (default 1000)");
    ct->add_option("-o,--output", text_format, "text | json")->capture_default_str();

    std::string from, to;
    uint32_t dport = 0, sport = 0;
    std::string trace_proto = "tcp";
    auto* trace = app.add_subcommand("trace", "what the data path would do with a packet (changes nothing)");
    trace->add_option("--from", from, "namespace/pod or IPv4 address")->required();
    trace->add_option("--to", to, "IPv4 address or namespace/pod")->required();
    trace->add_option("--dport", dport, "destination port")->required();
    trace->add_option("--sport", sport, "source port (default 40000)");
    trace->add_option("--proto", trace_proto, "tcp | udp | sctp")->capture_default_str();
    trace->add_option("-o,--output", text_format, "text | json")->capture_default_str();

    std::string policy_pod;
    auto* policy = app.add_subcommand("policy", "what local pods' NetworkPolicy / PayloadPolicy state was compiled to");
    policy->add_option("pod", policy_pod, "namespace/name of one local pod (default: all)");
    policy->add_option("-o,--output", text_format, "text | json")->capture_default_str();

    bool follow = false;
    std::string log_pod;
    uint64_t after = 0;
    auto* log = app.add_subcommand("log", "the sampled NetworkPolicy verdict log");
    log->add_flag("-f,--follow", follow, "keep printing new verdicts");
    log->add_option("--pod", log_pod, "only this local pod (namespace/name)");
    log->add_option("--after", after, "only records after this sequence number");
    log->add_option("-o,--output", text_format, "text | json (one object per line)")->capture_default_str();

    auto* ports = app.add_subcommand("ports", "the node's ENIs and pod ports, with their links and counters");
    ports->add_option("-o,--output", text_format, "text | json")->capture_default_str();

    auto* pool = app.add_subcommand("pool", "the node's ENI pool: which ENI serves which pod, which are free");
    pool->add_option("-o,--output", text_format, "text | json")->capture_default_str();

    auto* node = app.add_subcommand("node", "the node settings in force; `node set` changes the run-time ones");
    node->add_option("-o,--output", format, "table | json | yaml")->capture_default_str();
    std::string set_zone, set_node_ips;
    uint32_t set_min_sync = 0, set_allow = 0, set_denies = 0;
    auto* node_set = node->add_subcommand("set", "change run-time node settings (until the daemon restarts)");
    node_set->fallthrough();  // `node set ... -o json`
    auto* zone_opt = node_set->add_option("--zone", set_zone, "topology.kubernetes.io/zone (\"\" for none)");
    auto* ips_opt = node_set->add_option("--node-ips", set_node_ips, "comma-separated node addresses (\"\" for none)");
    auto* sync_opt = node_set->add_option("--min-sync-period-ms", set_min_sync, "lb.min_sync_period_ms (0-60000)");
    auto* allow_opt =
        node_set->add_option("--log-allow-one-in", set_allow, "policy.log_allow_one_in (0: no allowed decisions)");
    auto* denies_opt = node_set->add_option("--log-denies-per-second", set_denies, "policy.log_denies_per_second");

    auto* gen = app.add_subcommand("generation", "desired (store) and realized (data path) generations");
    gen->add_option("-o,--output", text_format, "text | json")->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }

    Client client(socket);
    if (!address.empty()) {
        if (tls_cert.empty() || tls_key.empty() || tls_ca.empty()) {
            std::fprintf(stderr, "enidpctl: --address needs --cert, --key and --ca (mutual TLS)\n");
            return 2;
        }
        client.use_tls(address, tls_cert, tls_key, tls_ca);
    }
    // --wait: GetGenerations waits server side until `generation` is realized.
    auto wait_realized = [&](uint64_t generation) {
        if (wait_ms == 0) return;
        v1::GetGenerationsRequest req;
        req.set_wait_for_realized(generation);
        req.set_timeout_ms(wait_ms);
        const auto t0 = std::chrono::steady_clock::now();
        // The server answers by wait_ms at the latest: the call's own deadline is later.
        auto r = client.call<v1::GetGenerationsRequest, v1::GetGenerationsResponse>(
            &v1::Enidp::Stub::GetGenerations, req, std::chrono::milliseconds(wait_ms) + std::chrono::seconds(10));
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (r.realized() < generation)
            throw Failure{1, "generation " + std::to_string(generation) + " not realized after " +
                                 std::to_string(wait_ms) + " ms (realized " + std::to_string(r.realized()) + ")"};
        std::printf("realized (generation %llu) after %.1f ms\n", static_cast<unsigned long long>(r.realized()), ms);
    };
    try {
        if (*apply) {
            v1::ApplyObjectsRequest req;
            for (const auto& f : files) {
                auto loaded = enidp::objects::load_path(f);
                if (auto* e = std::get_if<enidp::objects::Error>(&loaded)) throw Failure{1, e->to_string()};
                for (const auto& o : std::get<std::vector<enidp::objects::Object>>(loaded)) {
                    v1::ObjectText& t = *req.add_objects();
                    t.set_text(o.body.dump());
                    t.set_file(o.file);
                    t.set_line(o.line);
                    for (const auto& [ptr, line] : o.lines) (*t.mutable_field_lines())[ptr] = line;
                }
            }
            if (req.objects().empty()) throw Failure{1, "no objects in " + files.front()};
            auto r =
                client.call<v1::ApplyObjectsRequest, v1::ApplyObjectsResponse>(&v1::Enidp::Stub::ApplyObjects, req);
            std::printf("%u object(s) applied, %s (generation %llu)\n", r.objects(),
                        r.changed() ? "changed" : "unchanged", static_cast<unsigned long long>(r.generation()));
            wait_realized(r.generation());
        } else if (*del) {
            const auto req = ref_request<v1::DeleteObjectRequest>(kind, ref);
            auto r =
                client.call<v1::DeleteObjectRequest, v1::DeleteObjectResponse>(&v1::Enidp::Stub::DeleteObject, req);
            std::printf("%s %s%s deleted (generation %llu)\n", kind.c_str(),
                        req.namespace_().empty() ? "" : (req.namespace_() + "/").c_str(), req.name().c_str(),
                        static_cast<unsigned long long>(r.generation()));
            wait_realized(r.generation());
        } else if (*get) {
            check_format(format, {"table", "json", "yaml"});
            const auto req = ref_request<v1::GetObjectRequest>(kind, ref);
            auto r = client.call<v1::GetObjectRequest, v1::GetObjectResponse>(&v1::Enidp::Stub::GetObject, req);
            if (format == "table")
                print_table({{"KIND", "NAMESPACE", "NAME", "SOURCE", "GENERATION", "ORIGIN"}, object_row(r.object())});
            else print_json_or_yaml(parse_body(r.object().json()), format);
        } else if (*list) {
            check_format(format, {"table", "json", "yaml"});
            v1::ListObjectsRequest req;
            req.set_kind(kind);
            req.set_namespace_(ns_filter);
            auto r = client.call<v1::ListObjectsRequest, v1::ListObjectsResponse>(&v1::Enidp::Stub::ListObjects, req);
            if (format == "table") {
                std::vector<std::vector<std::string>> rows{
                    {"KIND", "NAMESPACE", "NAME", "SOURCE", "GENERATION", "ORIGIN"}};
                for (const auto& o : r.objects()) rows.push_back(object_row(o));
                if (r.objects().empty()) std::printf("no %s objects\n", kind.c_str());
                else print_table(rows);
            } else {
                json items = json::array();
                for (const auto& o : r.objects()) items.push_back(parse_body(o.json()));
                print_json_or_yaml(json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}, format);
            }
        } else if (*stats) {
            check_format(text_format, {"text", "json"});
            v1::GetStatsRequest sreq;
            sreq.set_services(stats_services);
            auto r = client.call<v1::GetStatsRequest, v1::GetStatsResponse>(&v1::Enidp::Stub::GetStats, sreq);
            if (text_format == "json" && stats_services) {
                json j = json::parse(r.counters_json());
                j["services"] = json::parse(r.services_json());
                std::cout << j.dump(2) << "\n";
            } else if (text_format == "json") {
                std::cout << r.counters_json() << "\n";
            } else {
                std::printf("pods %u, workers %u, drops %llu\n", r.pods(), r.workers(),
                            static_cast<unsigned long long>(r.drops_total()));
                std::printf("services: table %llu, %u service ports, %u frontends, %u backends\n",
                            static_cast<unsigned long long>(r.service_table_generation()), r.service_ports(),
                            r.frontends(), r.backends());
                std::printf("conntrack: %llu / %llu flows\n", static_cast<unsigned long long>(r.conntrack_flows()),
                            static_cast<unsigned long long>(r.conntrack_capacity()));
                if (stats_services) {
                    std::vector<std::vector<std::string>> rows{{"SERVICE", "NEW FLOWS", "REJECTED", "ACTIVE", "BACKEND FLOWS"}};
                    for (const auto& sv : json::parse(r.services_json())) {
                        std::string per;
                        for (const auto& b : sv["backends"])
                            per += (per.empty() ? "" : " ") + b["endpoint"].get<std::string>() + "=" +
                                   std::to_string(b["flows"].get<uint64_t>());
                        rows.push_back({sv["service"].get<std::string>(), std::to_string(sv["new_flows"].get<uint64_t>()),
                                        std::to_string(sv["rejected"].get<uint64_t>()),
                                        std::to_string(sv["active_flows"].get<uint64_t>()), per.empty() ? "-" : per});
                    }
                    print_table(rows);
                }
            }
        } else if (*services) {
            check_format(text_format, {"text", "json"});
            v1::DumpServicesRequest req;
            req.set_format(text_format == "json" ? v1::DUMP_FORMAT_JSON : v1::DUMP_FORMAT_TEXT);
            auto r =
                client.call<v1::DumpServicesRequest, v1::DumpServicesResponse>(&v1::Enidp::Stub::DumpServices, req);
            std::cout << r.dump();
            if (!r.dump().empty() && r.dump().back() != '\n') std::cout << "\n";
        } else if (*ct) {
            check_format(text_format, {"text", "json"});
            v1::DumpConntrackRequest req;
            req.set_src_ip(src);
            req.set_dst_ip(dst);
            req.set_port(port);
            if (!proto.empty()) req.set_protocol(parse_proto(proto, true));
            req.set_state(state);
            req.set_service(service);
            req.set_limit(limit);
            auto r =
                client.call<v1::DumpConntrackRequest, v1::DumpConntrackResponse>(&v1::Enidp::Stub::DumpConntrack, req);
            if (text_format == "json") {
                json flows = json::array();
                for (const auto& f : r.flows())
                    flows.push_back({{"protocol", proto_name(f.protocol())},
                                     {"client", f.client_ip() + ":" + std::to_string(f.client_port())},
                                     {"frontend", f.frontend_ip() + ":" + std::to_string(f.frontend_port())},
                                     {"backend", f.backend_ip() + ":" + std::to_string(f.backend_port())},
                                     {"reply_dst", f.reply_dst_ip() + ":" + std::to_string(f.reply_dst_port())},
                                     {"state", f.state()},
                                     {"service", f.service()},
                                     {"flags", std::vector<std::string>(f.flags().begin(), f.flags().end())},
                                     {"age_ms", f.age_ms()},
                                     {"idle_ms", f.idle_ms()}});
                std::cout << json{{"flows", flows}, {"matched", r.matched()}, {"total", r.total()}}.dump(2) << "\n";
            } else {
                std::vector<std::vector<std::string>> rows{
                    {"PROTO", "CLIENT", "FRONTEND", "BACKEND", "STATE", "SERVICE", "AGE", "IDLE"}};
                for (const auto& f : r.flows())
                    rows.push_back({proto_name(f.protocol()), f.client_ip() + ":" + std::to_string(f.client_port()),
                                    f.frontend_ip() + ":" + std::to_string(f.frontend_port()),
                                    f.backend_ip() + ":" + std::to_string(f.backend_port()), f.state(),
                                    f.service().empty() ? "-" : f.service(), std::to_string(f.age_ms() / 1000) + "s",
                                    std::to_string(f.idle_ms() / 1000) + "s"});
                print_table(rows);
                std::printf("%d shown, %llu matched, %llu flows in the table\n", r.flows_size(),
                            static_cast<unsigned long long>(r.matched()), static_cast<unsigned long long>(r.total()));
            }
        } else if (*trace) {
            check_format(text_format, {"text", "json"});
            v1::TraceRequest req;
            req.set_from(from);
            req.set_to(to);
            req.set_dport(dport);
            req.set_sport(sport);
            req.set_protocol(parse_proto(trace_proto, false));
            auto r = client.call<v1::TraceRequest, v1::TraceResponse>(&v1::Enidp::Stub::Trace, req);
            const json j = trace_json(req, r);
            if (text_format == "json") {
                std::cout << j.dump(2) << "\n";
            } else {
                std::printf("verdict   %s (%s)\n", verdict_name(r.verdict()), r.service_stage().c_str());
                std::printf("reason    %s\n", r.reason().c_str());
                if (!r.service().empty())
                    std::printf("service   %s (%s, %s set, %u backends)\n", r.service().c_str(),
                                r.frontend_kind().c_str(), r.backend_set().c_str(), r.backends_in_set());
                std::printf("packet    %s %s -> %s\n", proto_name(req.protocol()), endpoint(r.in_src()).c_str(),
                            endpoint(r.in_dst()).c_str());
                std::printf("leaves as %s -> %s%s\n", endpoint(r.out_src()).c_str(), endpoint(r.out_dst()).c_str(),
                            r.snat() ? " (source NAT)" : "");
                if (r.has_backend())
                    std::printf("backend   %s%s\n", endpoint(r.backend()).c_str(),
                                r.affinity_hit() ? " (affinity)" : "");
                if (!r.flow_state().empty())
                    std::printf("flow      %s, %s direction\n", r.flow_state().c_str(), r.flow_direction().c_str());
                if (r.has_output_port())
                    std::printf("output    port %u (%s %s)\n", r.output_port().port(), r.output_port().role().c_str(),
                                r.output_port().owner().c_str());
                if (r.policy_verdict() == "off" || r.policy_verdict().empty())
                    std::printf("policy    off (no NetworkPolicy published)\n");
                else if (r.policy_verdict() == "allowed")
                    std::printf("policy    allowed by %s (%s)\n", r.policy().c_str(), r.policy_rule().c_str());
                else
                    std::printf("policy    %s (%s)\n", r.policy_verdict().c_str(), r.policy_direction().c_str());
            }
        } else if (*policy) {
            check_format(text_format, {"text", "json"});
            v1::DumpPolicyRequest req;
            req.set_pod(policy_pod);
            req.set_format(text_format == "json" ? v1::DUMP_FORMAT_JSON : v1::DUMP_FORMAT_TEXT);
            auto r = client.call<v1::DumpPolicyRequest, v1::DumpPolicyResponse>(&v1::Enidp::Stub::DumpPolicy, req);
            if (text_format == "text")
                std::printf("policy snapshot %llu%s\n", static_cast<unsigned long long>(r.policy_generation()),
                            r.active() ? "" : " (none published)");
            std::cout << r.dump();
        } else if (*log) {
            check_format(text_format, {"text", "json"});
            v1::ReadVerdictsRequest req;
            req.set_after_seq(after);
            req.set_follow(follow);
            req.set_pod(log_pod);
            client.read_verdicts(req, [&](const v1::VerdictRecord& v) {
                if (text_format == "json") {
                    std::cout << json{{"seq", v.seq()}, {"time_ms", v.time_ms()}, {"pod", v.pod()},
                                      {"direction", v.direction()}, {"peer", v.peer()}, {"port", v.port()},
                                      {"protocol", v.protocol()}, {"verdict", v.verdict()},
                                      {"policy", v.policy().empty() ? json(nullptr) : json(v.policy())},
                                      {"policy_generation", v.policy_generation()}}
                                     .dump()
                              << "\n";
                } else {
                    std::printf("%llu %s %s %s %s/%u %s%s%s\n", static_cast<unsigned long long>(v.seq()),
                                v.pod().c_str(), v.direction().c_str(), v.peer().c_str(), v.protocol().c_str(),
                                v.port(), v.verdict().c_str(), v.policy().empty() ? "" : " by ",
                                v.policy().c_str());
                }
                std::fflush(stdout);
            });
        } else if (*ports || *pool) {
            check_format(text_format, {"text", "json"});
            auto r = client.call<v1::DumpPortsRequest, v1::DumpPortsResponse>(&v1::Enidp::Stub::DumpPorts, {});
            if (*ports && text_format == "json") {
                std::cout << proto_json(r).dump(2) << "\n";
            } else if (*ports) {
                std::vector<std::vector<std::string>> enis{
                    {"ENI", "DEVICE", "PORT", "MAC", "IP", "GATEWAY", "LINK", "QUEUES", "PODS", "RX", "TX", "MISSED"}};
                for (const auto& e : r.enis()) {
                    std::string pods;
                    for (const auto& p : e.pods()) pods += (pods.empty() ? "" : ",") + p;
                    enis.push_back({e.name(), e.device(), std::to_string(e.port()), e.mac(), e.ip(),
                                    e.gateway() + (e.gateway_mac().empty() ? " (unresolved)" : " " + e.gateway_mac()),
                                    e.link_up() ? "up" : "down", std::to_string(e.queues()), pods.empty() ? "-" : pods,
                                    packets(e.rx_packets()), packets(e.tx_packets()), packets(e.rx_missed())});
                }
                print_table(enis);
                std::cout << "\n";
                std::vector<std::vector<std::string>> pods{
                    {"POD", "ENI", "KIND", "SOCKET", "PORT", "WORKER", "LINK", "IP", "RX", "TX"}};
                for (const auto& p : r.pods())
                    pods.push_back({p.pod(), p.eni(), p.kind() + (p.vhost_client() ? " (client)" : ""),
                                    p.socket().empty() ? "-" : p.socket(), std::to_string(p.port()),
                                    std::to_string(p.worker()), p.link_up() ? "up" : "down", p.ip(),
                                    packets(p.rx_packets()), packets(p.tx_packets())});
                if (r.pods().empty()) std::printf("no pod ports\n");
                else print_table(pods);
            } else {
                size_t attached = 0;
                json items = json::array();
                std::vector<std::vector<std::string>> rows{{"ENI", "DEVICE", "IP", "MAC", "STATE", "POD"}};
                for (const auto& e : r.enis()) {
                    std::vector<std::string> owners(e.pods().begin(), e.pods().end());
                    attached += !owners.empty();
                    std::string list;
                    for (const auto& p : owners) list += (list.empty() ? "" : ",") + p;
                    rows.push_back({e.name(), e.device(), e.ip(), e.mac(), owners.empty() ? "free" : "attached",
                                    owners.empty() ? "-" : list});
                    items.push_back({{"eni", e.name()}, {"device", e.device()}, {"ip", e.ip()}, {"mac", e.mac()},
                                     {"state", owners.empty() ? "free" : "attached"}, {"pods", owners}});
                }
                const size_t total = static_cast<size_t>(r.enis_size());
                if (text_format == "json") {
                    std::cout << json{{"enis", items}, {"total", total}, {"attached", attached},
                                      {"free", total - attached}}.dump(2)
                              << "\n";
                } else {
                    print_table(rows);
                    std::printf("%zu ENIs: %zu attached, %zu free\n", total, attached, total - attached);
                }
            }
        } else if (*node) {
            check_format(format, {"table", "json", "yaml"});
            v1::NodeSettings r;
            if (*node_set) {
                v1::UpdateNodeSettingsRequest req;
                auto* m = req.mutable_update_mask();
                auto* st = req.mutable_settings();
                if (*zone_opt) st->set_zone(set_zone), m->add_paths("zone");
                if (*ips_opt) {
                    size_t at = 0;
                    while (at < set_node_ips.size()) {
                        const size_t comma = std::min(set_node_ips.find(',', at), set_node_ips.size());
                        if (comma > at) st->add_node_ips(set_node_ips.substr(at, comma - at));
                        at = comma + 1;
                    }
                    m->add_paths("node_ips");
                }
                if (*sync_opt) st->mutable_lb()->set_min_sync_period_ms(set_min_sync), m->add_paths("lb.min_sync_period_ms");
                if (*allow_opt) st->mutable_policy()->set_log_allow_one_in(set_allow), m->add_paths("policy.log_allow_one_in");
                if (*denies_opt)
                    st->mutable_policy()->set_log_denies_per_second(set_denies), m->add_paths("policy.log_denies_per_second");
                if (m->paths().empty()) throw Failure{2, "node set: name at least one setting (see --help)"};
                r = client.call<v1::UpdateNodeSettingsRequest, v1::NodeSettings>(&v1::Enidp::Stub::UpdateNodeSettings,
                                                                                 req);
            } else {
                r = client.call<v1::GetNodeSettingsRequest, v1::NodeSettings>(&v1::Enidp::Stub::GetNodeSettings, {});
            }
            if (format != "table") {
                print_json_or_yaml(proto_json(r), format);
            } else {
                std::string ips;
                for (const auto& ip : r.node_ips()) ips += (ips.empty() ? "" : ",") + ip;
                print_table({{"node_name", r.node_name(), "fixed"},
                             {"zone", r.zone().empty() ? "-" : r.zone(), "changeable"},
                             {"node_ips", ips.empty() ? "-" : ips, "changeable"},
                             {"lb.min_sync_period_ms", std::to_string(r.lb().min_sync_period_ms()), "changeable"},
                             {"lb.maglev_table_size", std::to_string(r.lb().maglev_table_size()), "fixed"},
                             {"lb.conntrack_max", std::to_string(r.lb().conntrack_max()), "fixed"},
                             {"policy.log_allow_one_in", std::to_string(r.policy().log_allow_one_in()), "changeable"},
                             {"policy.log_denies_per_second", std::to_string(r.policy().log_denies_per_second()),
                              "changeable"},
                             {"policy.offload", r.policy().offload() ? "true" : "false", "fixed"}});
            }
        } else if (*gen) {
            check_format(text_format, {"text", "json"});
            auto r = client.call<v1::GetGenerationsRequest, v1::GetGenerationsResponse>(
                &v1::Enidp::Stub::GetGenerations, {});
            if (text_format == "json")
                std::cout << json{{"desired", r.desired()}, {"realized", r.realized()}}.dump(2) << "\n";
            else
                std::printf("desired %llu realized %llu%s\n", static_cast<unsigned long long>(r.desired()),
                            static_cast<unsigned long long>(r.realized()),
                            r.realized() >= r.desired() ? "" : " (pending)");
        }
    } catch (const Failure& f) {
        std::fprintf(stderr, "enidpctl: %s\n", f.message.c_str());
        return f.code;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // Nothing is expected to throw (CLI11, JSON and allocation failures aside): say what and exit 1.
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", "enidpctl", e.what());
        return 1;
    }
}

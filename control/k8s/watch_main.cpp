// enidp-k8s-watch: runs the daemon's Kubernetes watchers alone and prints what they deliver,
// to check connectivity, RBAC and selectors against a real cluster or the fake API server.
//
//   enidp-k8s-watch --kubeconfig ~/.kube/config
//   enidp-k8s-watch --server http://127.0.0.1:8001 --token s3cret --resources services,pods
//
// Prints one line per event; on SIGINT/SIGTERM (or after --seconds) the per-resource state
// as JSON. Exit status 2 when the connection settings do not load.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "control/k8s/auth.hpp"
#include "control/k8s/watcher.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

}  // namespace

int main(int argc, char** argv) {
    using namespace enidp;
    CLI::App app{"Watch the Kubernetes resources enidp consumes and print the events"};
    k8s::ConnectionOptions conn;
    std::string resources = "all";
    double seconds = 0;
    bool print_objects = false;
    app.add_option("--server", conn.server, "API server URL (overrides kubeconfig and in-cluster)");
    app.add_option("--token", conn.token, "bearer token, or @FILE to read and follow a token file");
    app.add_option("--certificate-authority", conn.ca_file, "CA file to trust");
    app.add_flag("--insecure-skip-tls-verify", conn.insecure_skip_tls_verify, "do not verify the server");
    app.add_option("--kubeconfig", conn.kubeconfig, "kubeconfig file (default: $KUBECONFIG, then in-cluster)");
    app.add_option("--context", conn.context, "kubeconfig context (default: current-context)");
    app.add_option("--resources", resources,
                   "comma-separated: services,endpointslices,networkpolicies,"
                   "namespaces,pods,payloadpolicies or all");
    app.add_option("--seconds", seconds, "stop after this long (0 = until SIGINT)");
    app.add_flag("--objects", print_objects, "print each object's JSON too");
    CLI11_PARSE(app, argc, argv);

    std::vector<k8s::Resource> chosen;
    std::stringstream list(resources);
    for (std::string name; std::getline(list, name, ',');) {
        bool found = false;
        for (k8s::Resource r : k8s::kAllResources) {
            if (name == "all" || k8s::resource_info(r).name == name) {
                chosen.push_back(r);
                found = true;
            }
        }
        if (!found) {
            std::cerr << "enidp-k8s-watch: unknown resource \"" << name << "\"\n";
            return 2;
        }
    }

    auto settings = k8s::load_connection(conn);
    if (!k8s::ok(settings)) {
        std::cerr << "enidp-k8s-watch: " << std::get<k8s::Error>(settings).message << "\n";
        return 2;
    }
    std::cerr << "enidp-k8s-watch: " << std::get<k8s::ConnectionSettings>(settings).origin << "\n";

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    k8s::EventQueue queue;
    k8s::Watchers watchers(std::get<k8s::ConnectionSettings>(settings), queue, {}, chosen);
    watchers.start();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    std::string last_errors;
    while (g_stop == 0 && (seconds <= 0 || std::chrono::steady_clock::now() < deadline)) {
        queue.wait(std::chrono::milliseconds(200));
        for (const k8s::Event& ev : queue.drain()) {
            const auto name = k8s::resource_info(ev.resource).name;
            if (ev.type == k8s::EventType::kSynced) {
                std::cout << "SYNCED " << name << " " << ev.object.size() << " objects rv=" << ev.resource_version
                          << "\n";
            } else {
                const auto& meta = ev.object["metadata"];
                std::cout << k8s::to_string(ev.type) << " " << name << " " << meta.value("namespace", "")
                          << (meta.contains("namespace") ? "/" : "") << meta.value("name", "")
                          << " rv=" << ev.resource_version << "\n";
            }
            if (print_objects) std::cout << ev.object.dump() << "\n";
        }
        // Errors are printed when they change, not on every retry.
        std::string errors;
        for (const auto& s : watchers.states()) {
            if (!s.last_error.empty()) errors += "  " + s.last_error + "\n";
        }
        if (errors != last_errors && !errors.empty()) std::cerr << "enidp-k8s-watch: errors:\n" << errors;
        last_errors = errors;
        std::cout.flush();
    }
    watchers.stop();
    nlohmann::json states = nlohmann::json::array();
    for (const auto& s : watchers.states()) states.push_back(k8s::to_json(s));
    std::cout << states.dump(2) << "\n";
    return 0;
}

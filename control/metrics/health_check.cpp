#include "control/metrics/health_check.hpp"

#include <nlohmann/json.hpp>

#include "control/metrics/listener.hpp"

namespace enidp::metrics {

namespace {

// What a port's handler reads; replaced by update() without touching the listener.
struct State {
    std::mutex mu;
    HealthCheckInfo info;
};

}  // namespace

HealthCheckAnswer health_check_answer(const HealthCheckInfo& info, bool proxy_healthy) {
    // ordered_json keeps kube-proxy's key order: service, localEndpoints, serviceProxyHealthy.
    nlohmann::ordered_json body;
    body["service"]["namespace"] = info.ns;
    body["service"]["name"] = info.name;
    body["localEndpoints"] = info.local_endpoints;
    body["serviceProxyHealthy"] = proxy_healthy;
    return {info.local_endpoints > 0 && proxy_healthy ? 200 : 503, body.dump()};
}

struct HealthChecks::Port {
    std::shared_ptr<State> state = std::make_shared<State>();
    std::unique_ptr<detail::Listener> listener;
};

HealthChecks::HealthChecks(HealthCheckOptions options) : options_(std::move(options)) {}

HealthChecks::~HealthChecks() { stop(); }

std::vector<std::string> HealthChecks::update(const std::map<uint16_t, HealthCheckInfo>& services) {
    std::lock_guard lock(mu_);
    for (auto it = ports_.begin(); it != ports_.end();) {
        if (services.count(it->first) != 0) {
            ++it;
            continue;
        }
        it->second->listener->stop();
        it = ports_.erase(it);
    }

    std::vector<std::string> errors;
    for (const auto& [port, info] : services) {
        if (auto it = ports_.find(port); it != ports_.end()) {
            std::lock_guard state_lock(it->second->state->mu);
            it->second->state->info = info;
            continue;
        }
        if (port == 0) {  // Listener would take any free port: not what a load balancer probes
            errors.push_back("healthCheckNodePort 0 (" + info.ns + "/" + info.name + "): not a port");
            continue;
        }
        auto p = std::make_unique<Port>();
        p->state->info = info;
        auto server = std::make_unique<httplib::Server>();
        auto handler = [state = p->state, healthy = options_.proxy_healthy](const httplib::Request&,
                                                                            httplib::Response& res) {
            HealthCheckInfo now;
            {
                std::lock_guard state_lock(state->mu);
                now = state->info;
            }
            const HealthCheckAnswer a = health_check_answer(now, healthy ? healthy() : true);
            res.status = a.status;
            res.set_header("X-Content-Type-Options", "nosniff");
            res.set_content(a.body, "application/json");
        };
        // Any path, as kube-proxy's handler; GET covers HEAD too.
        server->Get(".*", handler);
        server->Post(".*", handler);
        // One thread per port; one request per connection so no client can hold the port.
        p->listener = std::make_unique<detail::Listener>(
            std::move(server), detail::ListenerOptions{.workers = 0, .timeout_sec = 2, .keep_alive_max = 1});
        std::string error = p->listener->start(options_.address, port);
        if (!error.empty()) {
            errors.push_back("healthCheckNodePort " + std::to_string(port) + " (" + info.ns + "/" + info.name +
                             "): " + error);
            continue;
        }
        ports_.emplace(port, std::move(p));
    }
    return errors;
}

std::vector<uint16_t> HealthChecks::ports() const {
    std::lock_guard lock(mu_);
    std::vector<uint16_t> out;
    for (const auto& [port, p] : ports_) out.push_back(port);
    return out;
}

void HealthChecks::stop() {
    std::lock_guard lock(mu_);
    for (auto& [port, p] : ports_) p->listener->stop();
    ports_.clear();
}

}  // namespace enidp::metrics

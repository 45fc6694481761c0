// kube-proxy-compatible healthCheckNodePort responders for Services with
// externalTrafficPolicy: Local. Each port gets an HTTP listener that answers any path with
//   {"service":{"namespace":"NS","name":"NAME"},"localEndpoints":N,"serviceProxyHealthy":B}
// and 200 when N > 0 and the proxy is healthy, 503 otherwise (Content-Type:
// application/json, X-Content-Type-Options: nosniff), so cloud load balancers send traffic
// only to nodes with a local endpoint. See docs/metrics.md.
//
// Who may call: update() and stop() from one thread (the Service reconciler's); requests
// are answered on the listeners' own threads (one per port).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace enidp::metrics {

struct HealthCheckInfo {
    std::string ns;
    std::string name;
    uint32_t local_endpoints = 0;  // endpoints on this node that traffic may use (kube-proxy's count)

    bool operator==(const HealthCheckInfo&) const = default;
};

struct HealthCheckOptions {
    std::string address = "0.0.0.0";
    // serviceProxyHealthy: as kube-proxy, a port answers 503 while the proxy itself is not
    // healthy (pass HttpServer::alive). Unset: always healthy.
    std::function<bool()> proxy_healthy;
};

// The answer a port gives (exposed for tests and for a dump).
struct HealthCheckAnswer {
    int status = 503;
    std::string body;
};
HealthCheckAnswer health_check_answer(const HealthCheckInfo& info, bool proxy_healthy);

class HealthChecks {
public:
    explicit HealthChecks(HealthCheckOptions options = {});
    ~HealthChecks();  // stop()
    HealthChecks(const HealthChecks&) = delete;
    HealthChecks& operator=(const HealthChecks&) = delete;

    // Makes `services` (healthCheckNodePort → Service) the set served: ports no longer in it
    // are closed, new ports are opened, existing ones keep their listener and only take the
    // new Service and endpoint count. Returns one message per port that could not be opened
    // ("healthCheckNodePort 30123 (ns/name): cannot listen on 0.0.0.0:30123: Address already
    // in use", or "...: not a port" for port 0); those ports are tried again on the next
    // update(), the others keep working.
    std::vector<std::string> update(const std::map<uint16_t, HealthCheckInfo>& services);

    // The ports with a listener now.
    std::vector<uint16_t> ports() const;

    // Closes every listener.
    void stop();

private:
    struct Port;
    HealthCheckOptions options_;
    mutable std::mutex mu_;  // guards ports_ (the map, not what requests read)
    std::map<uint16_t, std::unique_ptr<Port>> ports_;
};

}  // namespace enidp::metrics

// Prometheus metrics of the enidp daemon: a registry fed from dp::DataplaneCounters, the
// network-programming latency histogram and the desired/realized generations.
//
// Who may call: update() from the control thread (once a second); observe() and
// set_generations() from the control or reconciler thread; text() from any thread (the
// HTTP server's). Every method takes the object's lock, so a scrape sees one whole update.
// Counters in the registry never go backwards: when a source counter does (reset_counters,
// a port re-created between two updates), nothing is added that round and the new value
// becomes the base. Series of ports and workers that are gone are removed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/runtime/dataplane.hpp"

namespace prometheus {
class Registry;
}

namespace enidp::metrics {

class Metrics {
public:
    Metrics();
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // Feeds the registry from a fresh counters snapshot (Dataplane::counters()).
    void update(const dp::DataplaneCounters& c);
    // Per Service port series (enidp_service_*{service}); control thread, every few seconds.
    void update_services(const std::vector<dp::ServicePortCounters>& services);

    // One "object change → realized snapshot" latency, in seconds.
    void observe(double seconds);

    // enidp_desired_generation / enidp_realized_generation.
    void set_generations(uint64_t desired, uint64_t realized);
    // enidp_lb_maglev_provisional_sets (reconcile::SyncReport::provisional, per publication).
    void set_maglev_provisional_sets(uint64_t sets);
    // enidp_service_table_publications_total{build, churn}: one Service table publication,
    // `patched` (a copy of the last table with the changed Services written over) or assembled
    // from every Service, and whether it was a churn build (changes waited for the minimum sync
    // period: Maglev fills cut short, provisional tables upgraded once changes calm down).
    void count_publication(bool patched, bool churn);

    // The Prometheus text exposition (format 0.0.4) of everything in the registry.
    std::string text() const;

    // The histogram's upper bounds, 1 ms to 10 s.
    static const std::vector<double>& programming_buckets();

    // For callers that want to add their own families (they must be thread-safe on their own).
    std::shared_ptr<prometheus::Registry> registry() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace enidp::metrics

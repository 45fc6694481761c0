// The desired-state store: validation before any change, generations, no-op re-applies,
// removal, snapshots, change tracking, filters, per-source replacement, concurrent writers.
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "control/objects/store.hpp"
#include "tests/objects/objects_test_util.hpp"

namespace enidp::objects {
namespace {

using testing::load_one;

Object service(const std::string& name, int port, const std::string& extra_meta = "") {
    return load_one("apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n  namespace: shop\n" + extra_meta +
                    "spec:\n  ports: [{port: " + std::to_string(port) + "}]\n");
}

ApplyOutcome applied(const Result<ApplyOutcome>& r) {
    if (const auto* e = std::get_if<Error>(&r)) {
        ADD_FAILURE() << e->to_string();
        return {};
    }
    return std::get<ApplyOutcome>(r);
}

TEST(Store, ApplyGetListAndGenerations) {
    Store store;
    EXPECT_EQ(store.generation(), 0u);
    const ApplyOutcome a = applied(store.apply(service("web", 80), Source::kManifest));
    EXPECT_TRUE(a.changed);
    EXPECT_EQ(a.generation, 1u);
    EXPECT_FALSE(a.ignored);
    applied(store.apply(service("api", 81), Source::kWatch));
    EXPECT_EQ(store.generation(), 2u);

    const auto web = store.get("Service", "shop", "web");
    ASSERT_TRUE(web.has_value());
    EXPECT_EQ(web->source, Source::kManifest);
    EXPECT_EQ(web->generation, 1u);
    EXPECT_EQ(std::get<lb::Service>(web->model).ports.at(0).port, 80);
    EXPECT_EQ(web->object.source, "test.yaml:1");
    EXPECT_FALSE(store.get("Service", "default", "web").has_value());

    const auto list = store.list("Service");
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].object.name, "api");  // (ns, name) order
    EXPECT_EQ(list[1].object.name, "web");
    EXPECT_TRUE(store.list("Pod").empty());

    // A changed object replaces the old one and bumps the generation.
    const ApplyOutcome c = applied(store.apply(service("web", 8080), Source::kGrpc));
    EXPECT_TRUE(c.changed);
    EXPECT_EQ(c.generation, 3u);
    EXPECT_EQ(std::get<lb::Service>(store.get("Service", "shop", "web")->model).ports.at(0).port, 8080);
    EXPECT_EQ(store.get("Service", "shop", "web")->source, Source::kGrpc);
}

TEST(Store, IdenticalApplyIsANoOp) {
    Store store;
    applied(store.apply(service("web", 80), Source::kManifest));
    const ApplyOutcome again = applied(store.apply(service("web", 80), Source::kWatch));
    EXPECT_FALSE(again.changed);
    EXPECT_EQ(again.generation, 1u);
    EXPECT_EQ(store.get("Service", "shop", "web")->source, Source::kWatch);  // who sent it last
    EXPECT_EQ(store.get("Service", "shop", "web")->generation, 1u);
    // Only the API server's bookkeeping differs: still the same object.
    const ApplyOutcome bookkeeping =
        applied(store.apply(service("web", 80, "  resourceVersion: \"99\"\n  uid: abc\n"), Source::kWatch));
    EXPECT_FALSE(bookkeeping.changed);
    EXPECT_EQ(store.generation(), 1u);
}

// An EndpointSlice as the gRPC edge decodes it (JSON text, file "grpc"): endpoint e at 10.1.0.e,
// endpoint `moved` at 10.2.0.e instead; `annotations` goes into metadata as written.
Object grpc_slice(int moved = -1, const std::string& annotations = "") {
    std::string endpoints;
    for (int e = 0; e < 4; ++e) {
        endpoints += std::string(e == 0 ? "" : ",") + R"({"addresses": ["10.)" + (e == moved ? "2" : "1") + ".0." +
                     std::to_string(e) + R"("], "conditions": {"ready": true}, "nodeName": "node-)" +
                     std::to_string(e) + "\"}";
    }
    auto loaded = load_string(R"({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name":
        "web-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"})" +
                                  (annotations.empty() ? "" : R"(, "annotations": )" + annotations) +
                                  R"(}, "addressType": "IPv4", "endpoints": [)" + endpoints +
                                  R"(], "ports": [{"name": "http", "port": 8080}]})",
                              "grpc");
    if (auto* e = std::get_if<Error>(&loaded)) ADD_FAILURE() << e->to_string();
    auto* objs = std::get_if<std::vector<Object>>(&loaded);
    return objs != nullptr && objs->size() == 1 ? std::move(objs->front()) : Object{};
}

// What the gRPC edge does: the decoded objects moved into the store.
ApplyOutcome apply_moved(Store& store, Object object) {
    std::vector<Object> objects;
    objects.push_back(std::move(object));
    return applied(store.apply_all_moved(objects, Source::kGrpc));
}

TEST(Store, SameSliceAgainIsNotAChange) {
    Store store;
    EXPECT_TRUE(apply_moved(store, grpc_slice()).changed);
    const ApplyOutcome again = apply_moved(store, grpc_slice());
    EXPECT_FALSE(again.changed);
    EXPECT_EQ(again.generation, 1u);
    // Only the API server's bookkeeping differs: still the same.
    Object bookkeeping = grpc_slice();
    bookkeeping.body["metadata"]["resourceVersion"] = "42";
    EXPECT_FALSE(apply_moved(store, std::move(bookkeeping)).changed);
    EXPECT_EQ(store.generation(), 1u);
}

TEST(Store, SliceWithAnotherEndpointIsAChange) {
    Store store;
    apply_moved(store, grpc_slice());
    const ApplyOutcome moved = apply_moved(store, grpc_slice(2));
    EXPECT_TRUE(moved.changed);
    EXPECT_EQ(moved.generation, 2u);
    const auto entry = store.get("EndpointSlice", "shop", "web-1");
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->generation, 2u);
    const auto& slice = std::get<lb::EndpointSlice>(entry->model);
    ASSERT_EQ(slice.endpoints.size(), 4u);
    EXPECT_EQ(slice.endpoints[2].addresses, std::vector<uint32_t>{testing::ip("10.2.0.2")});
    EXPECT_EQ(entry->object.body["endpoints"][2]["addresses"][0], "10.2.0.2");
    // And back.
    EXPECT_TRUE(apply_moved(store, grpc_slice()).changed);
    EXPECT_EQ(std::get<lb::EndpointSlice>(store.get("EndpointSlice", "shop", "web-1")->model).endpoints[2].addresses,
              std::vector<uint32_t>{testing::ip("10.1.0.2")});
    EXPECT_EQ(store.generation(), 3u);
}

// The models are equal (a slice's annotations are not in lb::EndpointSlice, nor an annotation
// enidp does not read in lb::Service), the objects are not: still a change.
TEST(Store, EqualModelsWithOtherAnnotationsAreAChange) {
    Store store;
    apply_moved(store, grpc_slice());
    const Object annotated = grpc_slice(-1, R"({"team": "shop"})");
    auto model = convert(annotated);
    ASSERT_TRUE(std::holds_alternative<Model>(model));
    EXPECT_TRUE(std::get<Model>(model) == store.get("EndpointSlice", "shop", "web-1")->model);
    const ApplyOutcome a = apply_moved(store, annotated);
    EXPECT_TRUE(a.changed);
    EXPECT_EQ(a.generation, 2u);
    EXPECT_EQ(store.get("EndpointSlice", "shop", "web-1")->object.body["metadata"]["annotations"]["team"], "shop");
    EXPECT_FALSE(apply_moved(store, grpc_slice(-1, R"({"team": "shop"})")).changed);
    EXPECT_TRUE(apply_moved(store, grpc_slice(-1, R"({"team": "web"})")).changed);
    EXPECT_EQ(store.generation(), 3u);

    applied(store.apply(service("web", 80), Source::kManifest));
    const ApplyOutcome svc =
        applied(store.apply(service("web", 80, "  annotations: {team: shop}\n"), Source::kManifest));
    EXPECT_TRUE(svc.changed);
    EXPECT_EQ(svc.generation, 5u);
}

TEST(Store, ApplyLeavesTheCallersObjectAlone) {
    Store store;
    const Object slice = grpc_slice();
    applied(store.apply(slice, Source::kWatch));
    EXPECT_EQ(slice.body["endpoints"].size(), 4u);
    EXPECT_EQ(store.get("EndpointSlice", "shop", "web-1")->object.body, slice.body);
}

TEST(Store, PodStatusOtherThanIpsAndPhaseIsNotAChange) {
    Store store;
    const std::string pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus:\n  podIP: 10.0.0.1\n";
    applied(store.apply(load_one(pod + "  conditions: [{type: Ready, status: 'False'}]\n"), Source::kWatch));
    EXPECT_FALSE(applied(store.apply(load_one(pod + "  conditions: [{type: Ready, status: 'True'}]\n"), Source::kWatch))
                     .changed);
    EXPECT_TRUE(applied(store.apply(load_one(pod + "  podIPs: [{ip: 10.0.0.1}]\n"), Source::kWatch)).changed);
    const ApplyOutcome done = applied(store.apply(load_one(pod + "  phase: Succeeded\n"), Source::kWatch));
    EXPECT_TRUE(done.changed);
    EXPECT_EQ(done.ignored, "phase Succeeded: a finished Pod no longer holds its IP");
    EXPECT_TRUE(store.list("Pod").empty());
}

TEST(Store, InvalidObjectLeavesTheStoreUnchanged) {
    Store store;
    applied(store.apply(service("web", 80), Source::kManifest));
    int calls = 0;
    store.subscribe([&](const std::vector<Change>&) { ++calls; });

    auto bad = store.apply(service("web", 0), Source::kGrpc);
    ASSERT_TRUE(std::holds_alternative<Error>(bad));
    EXPECT_EQ(std::get<Error>(bad).to_string(), "test.yaml:7: Service shop/web: spec.ports[0].port: must be 1-65535");
    EXPECT_EQ(store.generation(), 1u);
    EXPECT_EQ(std::get<lb::Service>(store.get("Service", "shop", "web")->model).ports.at(0).port, 80);
    EXPECT_EQ(store.get("Service", "shop", "web")->source, Source::kManifest);

    // A batch is all or nothing.
    auto batch = store.apply_all({service("a", 1), service("b", 2), service("c", 70000)}, Source::kManifest);
    ASSERT_TRUE(std::holds_alternative<Error>(batch));
    EXPECT_EQ(store.generation(), 1u);
    EXPECT_EQ(store.list("Service").size(), 1u);
    EXPECT_EQ(calls, 0);
}

TEST(Store, RemoveAndChangesSince) {
    Store store;
    applied(store.apply(service("a", 1), Source::kManifest));  // gen 1
    applied(store.apply(service("b", 2), Source::kManifest));  // gen 2
    applied(store.apply(load_one("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"),
                        Source::kManifest));            // gen 3
    EXPECT_TRUE(store.remove("Service", "shop", "a"));  // gen 4
    EXPECT_FALSE(store.remove("Service", "shop", "a"));
    EXPECT_FALSE(store.remove("Service", "shop", "never"));
    EXPECT_EQ(store.generation(), 4u);
    EXPECT_FALSE(store.get("Service", "shop", "a").has_value());
    EXPECT_TRUE(store.get("Namespace", "", "shop").has_value());

    const ChangesSince since = store.changes_since(2);
    EXPECT_TRUE(since.complete);
    EXPECT_EQ(since.generation, 4u);
    ASSERT_EQ(since.changes.size(), 2u);
    EXPECT_EQ(since.changes[0].key.to_string(), "Namespace shop");
    EXPECT_EQ(since.changes[0].generation, 3u);
    EXPECT_FALSE(since.changes[0].deleted);
    EXPECT_EQ(since.changes[1].key.to_string(), "Service shop/a");
    EXPECT_TRUE(since.changes[1].deleted);
    EXPECT_TRUE(store.changes_since(4).changes.empty());
    EXPECT_EQ(store.changes_since(0).changes.size(), 3u);  // b, Namespace, the deletion of a
}

TEST(Store, ModelsSinceFollowsOneKindCheaply) {
    Store store;
    applied(store.apply(service("web", 80), Source::kGrpc));
    applied(store.apply(load_one("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"), Source::kGrpc));
    applied(store.apply(service("api", 81), Source::kGrpc));
    ModelsSince all = store.models_since(0, {"Service"});
    EXPECT_EQ(all.generation, 3u);
    ASSERT_EQ(all.changes.size(), 2u);
    EXPECT_EQ(all.changes[0].key.name, "web");
    EXPECT_EQ(std::get<lb::Service>(*all.changes[1].model).ports.at(0).port, 81);

    // web changes (its old generation is no longer listed), api goes, web again unchanged.
    applied(store.apply(service("web", 8080), Source::kGrpc));
    EXPECT_TRUE(store.remove("Service", "shop", "api"));
    applied(store.apply(service("web", 8080, "  resourceVersion: \"99\"\n"), Source::kWatch));
    ModelsSince next = store.models_since(all.generation, {"Service", "EndpointSlice"});
    EXPECT_EQ(next.generation, 5u);
    EXPECT_TRUE(next.complete);
    ASSERT_EQ(next.changes.size(), 2u);
    EXPECT_EQ(next.changes[0].key.name, "web");
    EXPECT_EQ(next.changes[0].generation, 4u);
    EXPECT_EQ(std::get<lb::Service>(*next.changes[0].model).ports.at(0).port, 8080);
    EXPECT_EQ(next.changes[1].key.name, "api");
    EXPECT_FALSE(next.changes[1].model.has_value()) << "deleted";
    EXPECT_TRUE(store.models_since(next.generation, {"Service"}).changes.empty());
    EXPECT_TRUE(store.models_since(0, {"Pod"}).changes.empty());
}

TEST(Store, ForgottenDeletionsAskForAFullResync) {
    Store store;
    for (size_t i = 0; i < Store::kMaxTombstones + 2; ++i) {
        const std::string name = "s" + std::to_string(i);
        applied(store.apply(service(name, 80), Source::kWatch));
        store.remove("Service", "shop", name);
    }
    EXPECT_FALSE(store.changes_since(0).complete);
    const uint64_t now = store.generation();
    EXPECT_TRUE(store.changes_since(now - 10).complete);
}

TEST(Store, SubscribersSeeEachAcceptedChange) {
    Store store;
    std::vector<Change> seen;
    const uint64_t id = store.subscribe([&](const std::vector<Change>& changes) {
        seen.insert(seen.end(), changes.begin(), changes.end());
        (void)store.generation();  // listeners may call the store
    });
    applied(store.apply(service("a", 1), Source::kManifest));
    applied(store.apply(service("a", 1), Source::kManifest));  // no-op: no call
    store.remove("Service", "shop", "a");
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].generation, 1u);
    EXPECT_FALSE(seen[0].deleted);
    EXPECT_TRUE(seen[1].deleted);
    store.unsubscribe(id);
    applied(store.apply(service("b", 1), Source::kManifest));
    EXPECT_EQ(seen.size(), 2u);
}

TEST(Store, SnapshotHoldsEveryKind) {
    Store store;
    auto objs = load_string(R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1]}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web}}
status: {podIP: 10.0.0.1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: shop}
spec: {podSelector: {}}
---
apiVersion: enidp.io/v1alpha1
kind: PayloadPolicy
metadata: {name: pp, namespace: shop}
spec: {patterns: [x]}
)",
                            "all.yaml");
    ASSERT_TRUE(std::holds_alternative<std::vector<Object>>(objs));
    const ApplyOutcome a = applied(store.apply_all(std::get<std::vector<Object>>(objs), Source::kManifest));
    EXPECT_EQ(a.generation, 6u);
    const Snapshot s = store.snapshot();
    EXPECT_EQ(s.generation, 6u);
    ASSERT_EQ(s.namespaces.size(), 1u);
    EXPECT_EQ(s.namespaces[0].name, "shop");
    ASSERT_EQ(s.services.size(), 1u);
    EXPECT_EQ(s.services[0].name, "web");
    ASSERT_EQ(s.slices.size(), 1u);
    EXPECT_EQ(s.slices[0].service_name, "web");
    ASSERT_EQ(s.pods.size(), 1u);
    EXPECT_EQ(s.pods[0].ips.size(), 1u);
    EXPECT_EQ(s.policies.size(), 1u);
    EXPECT_EQ(s.payload_policies.size(), 1u);

    // Deleting everything returns to empty.
    for (const char* kind : {"Namespace", "Service", "EndpointSlice", "Pod", "NetworkPolicy", "PayloadPolicy"}) {
        for (const Entry& e : store.list(kind)) store.remove(kind, e.object.ns, e.object.name);
    }
    const Snapshot empty = store.snapshot();
    EXPECT_EQ(empty.generation, 12u);
    EXPECT_TRUE(empty.namespaces.empty() && empty.services.empty() && empty.slices.empty() && empty.pods.empty() &&
                empty.policies.empty() && empty.payload_policies.empty());
}

TEST(Store, ObjectsThatAreNotOursAreNotStored) {
    Store store;
    applied(store.apply(service("web", 80), Source::kWatch));
    // The Service moves to another proxy: it is no longer ours, so it goes.
    const ApplyOutcome moved = applied(store.apply(
        service("web", 80, "  labels: {service.kubernetes.io/service-proxy-name: other}\n"), Source::kWatch));
    EXPECT_TRUE(moved.changed);
    EXPECT_EQ(moved.ignored,
              "label service.kubernetes.io/service-proxy-name=other: the Service belongs to another proxy");
    EXPECT_FALSE(store.get("Service", "shop", "web").has_value());
    // Not ours and not held: nothing changes. Not validated either (port 0 would be an error).
    const ApplyOutcome other = applied(
        store.apply(service("x", 0, "  labels: {service.kubernetes.io/service-proxy-name: other}\n"), Source::kWatch));
    EXPECT_FALSE(other.changed);
    EXPECT_TRUE(other.ignored.has_value());
    EXPECT_EQ(store.generation(), 2u);
    const ApplyOutcome v6 = applied(store.apply(
        load_one("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, labels: "
                 "{kubernetes.io/service-name: web}}\naddressType: IPv6\nendpoints: [{addresses: ['fd00::1']}]\n"),
        Source::kWatch));
    EXPECT_EQ(v6.ignored, "addressType IPv6: only IPv4 slices are programmed");
    EXPECT_TRUE(store.list("EndpointSlice").empty());
}

TEST(Store, ReplaceSourceRemovesWhatTheSourceNoLongerHolds) {
    Store store;
    applied(store.replace_source({service("a", 1), service("b", 2)}, Source::kManifest));
    applied(store.apply(service("w", 3), Source::kWatch));
    const ApplyOutcome r = applied(store.replace_source({service("b", 2), service("c", 4)}, Source::kManifest));
    EXPECT_TRUE(r.changed);
    std::vector<std::string> names;
    for (const Entry& e : store.list("Service")) names.push_back(e.object.name);
    EXPECT_EQ(names, (std::vector<std::string>{"b", "c", "w"}));  // a gone; w is the watcher's
    EXPECT_EQ(store.generation(), 5u);                            // a, b, w, c added; a removed
}

TEST(Store, ConcurrentWritersAndReaders) {
    Store store;
    std::vector<Object> objs;
    for (int i = 0; i < 50; ++i) objs.push_back(service("s" + std::to_string(i), 1000 + i));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 20; ++round) {
                for (size_t i = static_cast<size_t>(t); i < objs.size(); i += 4) {
                    (void)store.apply(objs[i], static_cast<Source>(t % 3));
                    if (round % 5 == 4) store.remove("Service", "shop", objs[i].name);
                }
                (void)store.snapshot();
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(store.snapshot().services.size(), 0u);  // every thread ends on a removal round
    uint64_t last = 0;
    for (const Change& c : store.changes_since(0).changes) {
        EXPECT_GT(c.generation, last);
        last = c.generation;
    }
}

}  // namespace
}  // namespace enidp::objects

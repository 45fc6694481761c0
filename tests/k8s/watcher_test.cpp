// Watcher and client tests against the fake API server (tests/k8s/fake_apiserver.py), which
// speaks the real list/watch protocol: chunked lists, watch streams, bookmarks, 410, drops.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "control/k8s/auth.hpp"
#include "control/k8s/client.hpp"
#include "control/k8s/watcher.hpp"
#include "tests/k8s/fake_server.hpp"

namespace enidp::k8s {
namespace {

using namespace std::chrono_literals;
using testing::FakeApiServer;
using testing::testdata;

const std::string kToken = "s3cret";

// The consumer's view: what the daemon's store would hold after applying the events.
struct Mirror {
    std::map<Resource, std::map<std::string, nlohmann::json>> objects;
    std::vector<Event> log;

    static std::string key(const nlohmann::json& o) {
        const auto& m = o["metadata"];
        return m.value("namespace", "") + "/" + m.value("name", "");
    }
    void apply(Event ev) {
        auto& set = objects[ev.resource];
        switch (ev.type) {
            case EventType::kSynced:
                set.clear();
                for (const auto& o : ev.object) set[key(o)] = o;
                break;
            case EventType::kAdded:
            case EventType::kModified: set[key(ev.object)] = ev.object; break;
            case EventType::kDeleted: set.erase(key(ev.object)); break;
        }
        log.push_back(std::move(ev));
    }
    std::set<std::string> names(Resource r) const {
        std::set<std::string> out;
        if (auto it = objects.find(r); it != objects.end()) {
            for (const auto& [k, v] : it->second) out.insert(k);
        }
        return out;
    }
    size_t count(Resource r, EventType t) const {
        size_t n = 0;
        for (const auto& e : log) n += e.resource == r && e.type == t ? 1 : 0;
        return n;
    }
};

// Drains the queue into the mirror until pred() holds or the timeout passes.
bool pump(EventQueue& q, Mirror& m, const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        for (auto& ev : q.drain()) m.apply(std::move(ev));
        if (pred()) {
            // What the predicate saw may have come with events queued after the drain.
            for (auto& ev : q.drain()) m.apply(std::move(ev));
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) return false;
        q.wait(50ms);
    }
}

std::string service(const std::string& ns, const std::string& name, const std::string& labels = "{}",
                    const std::string& ip = "10.96.1.1") {
    return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: " + ns + ", labels: " + labels +
           "}\nspec: {clusterIP: " + ip + ", ports: [{port: 80, protocol: TCP}]}\n";
}

ResourceState state_of(const Watchers& w, Resource r) {
    for (const auto& s : w.states()) {
        if (s.resource == r) return s;
    }
    return {};
}

class WatcherTest : public ::testing::Test {
protected:
    static WatchOptions fast_options() {
        WatchOptions o;
        o.list_limit = 2;  // the test cluster has 2–4 objects per resource: several pages
        o.backoff_initial = 50ms;
        o.backoff_max = 400ms;
        return o;
    }
    static ConnectionSettings connect(const FakeApiServer& s, const std::string& token = kToken) {
        auto r = from_flags(s.url(), token, "", false);
        EXPECT_TRUE(ok(r));
        return std::get<ConnectionSettings>(r);
    }
    bool synced(Watchers& w) {
        return pump(queue_, mirror_, [&] { return w.all_synced(); });
    }

    // Starts the fake server (on the test cluster, with kToken, unless server_args say
    // otherwise) and watchers for `resources`; returns once every resource is listed and its
    // watch is open on the server.
    Watchers& watch(std::vector<Resource> resources, std::vector<std::string> server_args = {},
                    const WatchOptions& options = fast_options()) {
        if (server_args.empty()) server_args = {"--token", kToken, testdata("cluster.yaml")};
        server_ = std::make_unique<FakeApiServer>(server_args);
        watchers_ = std::make_unique<Watchers>(connect(*server_), queue_, options, resources);
        watchers_->start();
        EXPECT_TRUE(synced(*watchers_));
        EXPECT_TRUE(pump(queue_, mirror_, [&] { return server_->state()["watches_active"] == resources.size(); }));
        return *watchers_;
    }

    EventQueue queue_;
    Mirror mirror_;
    std::unique_ptr<FakeApiServer> server_;
    std::unique_ptr<Watchers> watchers_;  // destroyed (stopped) before the server
};

TEST_F(WatcherTest, InitialChunkedListOfEveryResourceWithKubeProxySelectors) {
    Watchers& w = watch({kAllResources.begin(), kAllResources.end()});
    ASSERT_FALSE(HasFailure());
    FakeApiServer& server = *server_;

    EXPECT_EQ(mirror_.names(Resource::kServices),
              (std::set<std::string>{"default/kubernetes", "shop/cache", "shop/db", "shop/web"}))
        << "mesh-only has service.kubernetes.io/service-proxy-name and must be skipped";
    EXPECT_EQ(mirror_.names(Resource::kEndpointSlices), (std::set<std::string>{"shop/db-x7k2p", "shop/web-abc12"}))
        << "headless and other-proxy slices must be skipped";
    EXPECT_EQ(mirror_.names(Resource::kPods), (std::set<std::string>{"shop/db-1", "shop/web-1", "shop/web-2"}));
    EXPECT_EQ(mirror_.names(Resource::kNamespaces), (std::set<std::string>{"/default", "/shop"}));
    EXPECT_EQ(mirror_.names(Resource::kNetworkPolicies), (std::set<std::string>{"shop/db-from-web"}));
    EXPECT_EQ(mirror_.names(Resource::kPayloadPolicies), (std::set<std::string>{"shop/drop-amplification"}));
    for (Resource r : kAllResources) {
        EXPECT_EQ(mirror_.count(r, EventType::kSynced), 1u) << resource_info(r).name;
        EXPECT_EQ(mirror_.count(r, EventType::kAdded), 0u) << "listed objects come only in SYNCED";
    }

    const auto st = server.state();
    EXPECT_EQ(st["requests"]["list"]["services"], 2) << "4 services at limit=2: two pages";
    EXPECT_EQ(st["requests"]["list"]["pods"], 2) << "3 pods at limit=2: two pages";
    const auto svc = state_of(w, Resource::kServices);
    EXPECT_TRUE(svc.synced);
    EXPECT_EQ(svc.resource_version, server.rv()) << "all pages share the first page's resourceVersion";
    EXPECT_EQ(svc.lists, 1u);
    EXPECT_EQ(svc.relists, 0u);
    const auto j = to_json(svc);
    EXPECT_EQ(j["resource"], "services");
    EXPECT_EQ(j["synced"], true);
    EXPECT_EQ(j["lastErrorTime"], "");
}

// 1,200 more Services with the production page size: three pages of one snapshot.
TEST_F(WatcherTest, LargeListInPagesOfFiveHundred) {
    FakeApiServer server({"--token", kToken, testdata("cluster.yaml")});
    nlohmann::json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", nlohmann::json::array()}};
    for (int i = 0; i < 1200; ++i) {
        list["items"].push_back({{"apiVersion", "v1"},
                                 {"kind", "Service"},
                                 {"metadata", {{"name", "svc-" + std::to_string(i)}, {"namespace", "bulk"}}},
                                 {"spec", {{"clusterIP", "10.97.0.1"}}}});
    }
    server.post("/_test/apply", list.dump());
    WatchOptions o;  // list_limit 500
    Watchers w(connect(server), queue_, o, {Resource::kServices});
    w.start();
    ASSERT_TRUE(synced(w));
    EXPECT_EQ(mirror_.names(Resource::kServices).size(), 1204u);
    EXPECT_EQ(server.state()["requests"]["list"]["services"], 3);
    EXPECT_EQ(mirror_.count(Resource::kServices, EventType::kSynced), 1u);
}

TEST_F(WatcherTest, AddModifyDeleteAreDeliveredInOrder) {
    Watchers& w = watch({Resource::kServices, Resource::kPods});
    ASSERT_FALSE(HasFailure());
    FakeApiServer& server = *server_;
    mirror_.log.clear();

    server.post("/_test/apply", service("shop", "api", "{}", "10.96.0.20"));
    server.post("/_test/apply", service("shop", "api", "{tier: front}", "10.96.0.20"));
    server.post("/_test/delete", service("shop", "api"));
    ASSERT_TRUE(pump(queue_, mirror_, [&] { return mirror_.log.size() >= 3; }));
    ASSERT_EQ(mirror_.log.size(), 3u);
    EXPECT_EQ(mirror_.log[0].type, EventType::kAdded);
    EXPECT_EQ(mirror_.log[1].type, EventType::kModified);
    EXPECT_EQ(mirror_.log[1].object["metadata"]["labels"]["tier"], "front");
    EXPECT_EQ(mirror_.log[2].type, EventType::kDeleted);
    for (const auto& e : mirror_.log) {
        EXPECT_EQ(e.resource, Resource::kServices);
        EXPECT_EQ(e.object["metadata"]["name"], "api");
    }
    EXPECT_LT(std::stoll(mirror_.log[0].resource_version), std::stoll(mirror_.log[2].resource_version));
    EXPECT_EQ(mirror_.names(Resource::kServices).count("shop/api"), 0u);
    const auto s = state_of(w, Resource::kServices);
    EXPECT_EQ(s.resource_version, server.rv());
    EXPECT_EQ(s.events, 3u);
}

TEST_F(WatcherTest, LabelSelectorFollowsObjectsInAndOutOfScope) {
    watch({Resource::kServices, Resource::kEndpointSlices});
    ASSERT_FALSE(HasFailure());
    FakeApiServer& server = *server_;
    mirror_.log.clear();

    // Created for another proxy: never seen.
    server.post("/_test/apply", service("shop", "other", "{service.kubernetes.io/service-proxy-name: x}"));
    // web handed to another proxy: leaves our view as a DELETED; handed back: ADDED again.
    server.post("/_test/apply", service("shop", "web", "{service.kubernetes.io/service-proxy-name: x}", "10.96.0.10"));
    ASSERT_TRUE(pump(queue_, mirror_, [&] { return !mirror_.names(Resource::kServices).contains("shop/web"); }));
    server.post("/_test/apply", service("shop", "web", "{}", "10.96.0.10"));
    // A slice that becomes headless disappears.
    server.post("/_test/apply",
                "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: db-x7k2p, namespace: shop, "
                "labels: {service.kubernetes.io/headless: ''}}\naddressType: IPv4\nendpoints: []\n");
    ASSERT_TRUE(pump(queue_, mirror_, [&] {
        return mirror_.names(Resource::kServices).contains("shop/web") &&
               !mirror_.names(Resource::kEndpointSlices).contains("shop/db-x7k2p");
    }));
    EXPECT_FALSE(mirror_.names(Resource::kServices).contains("shop/other"));
    EXPECT_EQ(mirror_.count(Resource::kServices, EventType::kDeleted), 1u);
    EXPECT_EQ(mirror_.count(Resource::kServices, EventType::kAdded), 1u);
    EXPECT_EQ(mirror_.count(Resource::kEndpointSlices, EventType::kDeleted), 1u);
}

TEST_F(WatcherTest, BookmarkAdvancesResourceVersion) {
    Watchers& w = watch({Resource::kServices});
    ASSERT_FALSE(HasFailure());
    FakeApiServer& server = *server_;
    const std::string before = state_of(w, Resource::kServices).resource_version;

    // A Pod change moves the global resourceVersion; the Services watch sees no event.
    server.post("/_test/apply", "apiVersion: v1\nkind: Pod\nmetadata: {name: p9, namespace: shop}\n");
    const std::string now = server.rv();
    ASSERT_NE(before, now);
    server.post("/_test/bookmark");
    ASSERT_TRUE(pump(queue_, mirror_, [&] { return state_of(w, Resource::kServices).resource_version == now; }));
    EXPECT_GE(state_of(w, Resource::kServices).bookmarks, 1u);
    EXPECT_EQ(mirror_.log.size(), 1u) << "a bookmark is not an event for the consumer";

    // Resuming after a drop starts from the bookmark's resourceVersion.
    server.post("/_test/compact");  // anything older than `now` would be 410 now
    server.post("/_test/drop-watches?mode=clean");
    server.post("/_test/apply", service("shop", "after-bookmark"));
    ASSERT_TRUE(
        pump(queue_, mirror_, [&] { return mirror_.names(Resource::kServices).contains("shop/after-bookmark"); }));
    EXPECT_EQ(state_of(w, Resource::kServices).relists, 0u);
}

// timeoutSeconds ends each watch normally; the next one continues from the last version.
TEST_F(WatcherTest, WatchTimeoutResumesWithoutRelistOrBackoff) {
    auto o = fast_options();
    o.watch_timeout_min = o.watch_timeout_max = 1s;
    o.backoff_initial = o.backoff_max = 10s;  // a back-off here would stall the test
    watch({Resource::kServices}, {}, o);
    ASSERT_FALSE(HasFailure());
    FakeApiServer& server = *server_;
    ASSERT_TRUE(pump(
        queue_, mirror_, [&] { return state_of(*watchers_, Resource::kServices).watches >= 3; }, 8s));
    server.post("/_test/apply", service("shop", "after-timeouts"));
    ASSERT_TRUE(pump(
        queue_, mirror_, [&] { return mirror_.names(Resource::kServices).contains("shop/after-timeouts"); }, 3s));
    const auto s = state_of(*watchers_, Resource::kServices);
    EXPECT_EQ(s.lists, 1u);
    EXPECT_EQ(s.reconnects, 0u);
    EXPECT_TRUE(s.last_error.empty()) << s.last_error;
}

// The client fell behind (watch held), the server compacted its history: the stream ends
// with an ERROR 410 Expired event, and the relist's SYNCED carries the full current set.
TEST_F(WatcherTest, ExpiredErrorEventRelistsWithTheRightSet) {
    Watchers& w = watch({Resource::kServices});
    ASSERT_FALSE(HasFailure());
    FakeApiServer& server = *server_;

    server.post("/_test/hold-watches");
    server.post("/_test/delete", service("shop", "cache"));
    server.post("/_test/apply", service("shop", "new-one"));
    server.post("/_test/compact");
    server.post("/_test/expire-watches");
    ASSERT_TRUE(pump(queue_, mirror_, [&] { return mirror_.count(Resource::kServices, EventType::kSynced) == 2; }));
    EXPECT_EQ(mirror_.names(Resource::kServices),
              (std::set<std::string>{"default/kubernetes", "shop/db", "shop/new-one", "shop/web"}));
    EXPECT_EQ(mirror_.count(Resource::kServices, EventType::kDeleted), 0u) << "the missed changes were never streamed";
    const auto s = state_of(w, Resource::kServices);
    EXPECT_EQ(s.relists, 1u);
    EXPECT_EQ(s.lists, 2u);
    EXPECT_EQ(s.resource_version, server.rv());
}

// The same, but the client learns it on reconnecting: HTTP 410 to the watch request, or
// (as the apiserver's watch cache answers) a 200 stream with one ERROR 410 event.
class GoneOnReconnect : public WatcherTest, public ::testing::WithParamInterface<bool> {};

TEST_P(GoneOnReconnect, Relists) {
    std::vector<std::string> args = {"--token", kToken, testdata("cluster.yaml")};
    if (GetParam()) args.emplace_back("--gone-as-event");
    Watchers& w = watch({Resource::kServices}, args);
    ASSERT_FALSE(HasFailure());
    FakeApiServer& server = *server_;

    server.post("/_test/hold-watches");
    server.post("/_test/delete", service("shop", "web"));
    server.post("/_test/compact");
    server.post("/_test/drop-watches");
    ASSERT_TRUE(pump(queue_, mirror_, [&] { return mirror_.count(Resource::kServices, EventType::kSynced) == 2; }));
    EXPECT_FALSE(mirror_.names(Resource::kServices).contains("shop/web"));
    EXPECT_GE(server.state()["requests"]["gone"].get<int>(), 1);
    EXPECT_EQ(state_of(w, Resource::kServices).relists, 1u);

    // And it keeps watching from the new list.
    server.post("/_test/apply", service("shop", "later"));
    ASSERT_TRUE(pump(queue_, mirror_, [&] { return mirror_.names(Resource::kServices).contains("shop/later"); }));
}

INSTANTIATE_TEST_SUITE_P(WatcherTest, GoneOnReconnect, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "ErrorEvent" : "HttpStatus"; });

TEST_F(WatcherTest, DroppedConnectionResumesWithoutRelist) {
    Watchers& w = watch({Resource::kServices, Resource::kPods});
    ASSERT_FALSE(HasFailure());
    FakeApiServer& server = *server_;

    server.post("/_test/hold-watches");  // these changes are in flight when the connection dies
    server.post("/_test/apply", service("shop", "during-drop"));
    server.post("/_test/drop-watches");  // reset, no final chunk
    server.post("/_test/apply", service("shop", "after-drop"));
    ASSERT_TRUE(pump(queue_, mirror_, [&] {
        const auto n = mirror_.names(Resource::kServices);
        return n.contains("shop/during-drop") && n.contains("shop/after-drop");
    }));
    const auto st = server.state();
    EXPECT_EQ(st["requests"]["list"]["services"], 2) << "no relist: only the first list's two pages";
    EXPECT_GE(st["requests"]["watch"]["services"].get<int>(), 2);
    const auto s = state_of(w, Resource::kServices);
    EXPECT_EQ(s.lists, 1u);
    EXPECT_EQ(s.relists, 0u);
    EXPECT_GE(s.reconnects, 1u);
    EXPECT_EQ(mirror_.count(Resource::kServices, EventType::kAdded), 2u) << "each change exactly once";
}

TEST_F(WatcherTest, ServerRestartMidWatchReconnects) {
    const std::string state_file = "/tmp/enidp-k8s-test-state-" + std::to_string(getpid()) + ".json";
    std::remove(state_file.c_str());
    Watchers& w = watch({Resource::kServices, Resource::kNamespaces},
                        {"--token", kToken, "--state", state_file, testdata("cluster.yaml")});
    ASSERT_FALSE(HasFailure());
    FakeApiServer& server = *server_;

    server.kill();
    std::this_thread::sleep_for(300ms);  // the watchers see refused connections and back off
    server.restart();                    // same port, same state file
    server.post("/_test/apply", service("shop", "after-restart"));
    server.post("/_test/apply", "apiVersion: v1\nkind: Namespace\nmetadata: {name: new-ns}\n");
    ASSERT_TRUE(pump(queue_, mirror_, [&] {
        return mirror_.names(Resource::kServices).contains("shop/after-restart") &&
               mirror_.names(Resource::kNamespaces).contains("/new-ns");
    }));
    const auto s = state_of(w, Resource::kServices);
    EXPECT_EQ(s.relists, 0u) << "the state file kept the history: resume, no relist";
    EXPECT_GE(s.reconnects, 1u);
    EXPECT_TRUE(s.last_error.empty()) << "cleared by the first event after the restart: " << s.last_error;
    std::remove(state_file.c_str());
}

// Restarted from the manifests alone (an etcd restored from an older backup, say): the
// client's resourceVersion is ahead of the server's, the watch gets 410 and a relist
// brings the client back to what the server has.
TEST_F(WatcherTest, ServerRestartWithoutHistoryRelists) {
    watch({Resource::kServices});
    ASSERT_FALSE(HasFailure());
    FakeApiServer& server = *server_;
    server.post("/_test/apply", service("shop", "lost-on-restart"));
    ASSERT_TRUE(
        pump(queue_, mirror_, [&] { return mirror_.names(Resource::kServices).contains("shop/lost-on-restart"); }));

    server.restart();
    ASSERT_TRUE(pump(queue_, mirror_, [&] { return mirror_.count(Resource::kServices, EventType::kSynced) == 2; }));
    EXPECT_EQ(mirror_.names(Resource::kServices),
              (std::set<std::string>{"default/kubernetes", "shop/cache", "shop/db", "shop/web"}));
    EXPECT_EQ(state_of(*watchers_, Resource::kServices).relists, 1u);
}

TEST_F(WatcherTest, WrongTokenIsAClearError) {
    FakeApiServer server({"--token", kToken, testdata("cluster.yaml")});
    Client client(connect(server, "not-the-token"));
    ListResult list;
    const Status st = client.list({"/api/v1/services", "", ""}, 0, list);
    EXPECT_EQ(st.failure, Failure::kUnauthorized);
    EXPECT_NE(st.message.find("HTTP 401"), std::string::npos) << st.message;
    EXPECT_NE(st.message.find("token was rejected"), std::string::npos) << st.message;

    Watchers w(connect(server, "not-the-token"), queue_, fast_options(), {Resource::kServices});
    w.start();
    ASSERT_TRUE(pump(queue_, mirror_, [&] { return !state_of(w, Resource::kServices).last_error.empty(); }));
    const auto s = state_of(w, Resource::kServices);
    EXPECT_FALSE(s.synced);
    EXPECT_NE(s.last_error.find("401"), std::string::npos) << s.last_error;
    EXPECT_TRUE(queue_.drain().empty());
}

TEST_F(WatcherTest, RotatedTokenFileIsPickedUp) {
    const std::string token_file = "/tmp/enidp-k8s-test-token-" + std::to_string(getpid());
    auto write_token = [&](const std::string& t) {
        // Like the kubelet: write elsewhere, then rename over the old file.
        { std::ofstream(token_file + ".new") << t << "\n"; }
        std::filesystem::rename(token_file + ".new", token_file);
    };
    write_token("token-1");
    FakeApiServer server({"--token", "token-1", testdata("cluster.yaml")});
    Watchers w(connect(server, "@" + token_file), queue_, fast_options(), {Resource::kServices});
    w.start();
    ASSERT_TRUE(synced(w));
    ASSERT_TRUE(pump(queue_, mirror_, [&] { return server.state()["watches_active"] == 1; }));

    // The server moves to a new token first: the reconnect is refused with 401 ...
    server.post("/_test/tokens", R"({"tokens": ["token-2"]})");
    server.post("/_test/drop-watches");
    ASSERT_TRUE(pump(queue_, mirror_, [&] { return server.state()["requests"]["unauthorized"].get<int>() >= 1; }));
    // ... until the rotated file appears; the next retry reads it.
    write_token("token-2");
    server.post("/_test/apply", service("shop", "after-rotation"));
    ASSERT_TRUE(
        pump(queue_, mirror_, [&] { return mirror_.names(Resource::kServices).contains("shop/after-rotation"); }));
    EXPECT_EQ(state_of(w, Resource::kServices).relists, 0u);
    std::remove(token_file.c_str());
}

TEST_F(WatcherTest, ExpiredContinueTokenIsGone) {
    // Continue tokens that live 0 s: the second page is always 410; list() retries once, then says so.
    FakeApiServer server({"--continue-ttl", "0", testdata("cluster.yaml")});
    Client client(connect(server, ""));
    ListResult list;
    const Status st = client.list({"/api/v1/pods", "", ""}, 1, list);
    EXPECT_EQ(st.failure, Failure::kGone) << st.message;
    EXPECT_EQ(server.state()["requests"]["list"]["pods"], 4) << "first page + expired page, twice";
    // Unchunked works.
    ASSERT_TRUE(client.list({"/api/v1/pods", "app=web", ""}, 0, list).ok());
    EXPECT_EQ(list.items.size(), 2u);
}

TEST_F(WatcherTest, StopIsPromptDuringWatchAndBackoff) {
    FakeApiServer server({"--token", kToken, testdata("cluster.yaml")});
    auto o = fast_options();
    o.backoff_initial = 10s;  // a stop must not wait for a back-off sleep either
    o.backoff_max = 10s;
    Watchers w(connect(server), queue_, o);
    w.start();
    ASSERT_TRUE(synced(w));
    ASSERT_TRUE(pump(queue_, mirror_, [&] { return server.state()["watches_active"] == 6; }));
    server.kill();  // every watcher fails and sleeps 5–10 s
    std::this_thread::sleep_for(200ms);
    const auto t0 = std::chrono::steady_clock::now();
    w.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);

    server.restart();
    Watchers w2(connect(server), queue_, fast_options());
    w2.start();
    ASSERT_TRUE(pump(queue_, mirror_, [&] { return server.state()["watches_active"] == 6; }));
    const auto t1 = std::chrono::steady_clock::now();
    w2.stop();  // blocked in open watches
    EXPECT_LT(std::chrono::steady_clock::now() - t1, 1s);
}

}  // namespace
}  // namespace enidp::k8s

namespace enidp::k8s {
namespace {

// HTTPS with the CA from a file, from kubeconfig certificate-authority-data, with
// insecure-skip-tls-verify, and without any: a clear TLS error.
TEST(ClientTls, VerifiesTheServerCertificate) {
    const std::string cert = testdata("tls.crt");
    FakeApiServer server(
        {"--token", kToken, "--tls-cert", cert, "--tls-key", testdata("tls.key"), testdata("cluster.yaml")});
    const std::string url = "https://127.0.0.1:" + std::to_string(server.port());
    const Query pods{"/api/v1/pods", "", ""};
    ListResult list;

    auto with_ca = from_flags(url, kToken, cert, false);
    ASSERT_TRUE(ok(with_ca));
    Status st = Client(std::get<ConnectionSettings>(with_ca)).list(pods, 2, list);
    EXPECT_TRUE(st.ok()) << st.message;
    EXPECT_EQ(list.items.size(), 3u);

    std::ifstream in(cert);
    const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string b64;
    for (size_t i = 0; i < pem.size(); i += 3) {
        uint32_t v = static_cast<uint8_t>(pem[i]) << 16;
        if (i + 1 < pem.size()) v |= static_cast<uint8_t>(pem[i + 1]) << 8;
        if (i + 2 < pem.size()) v |= static_cast<uint8_t>(pem[i + 2]);
        b64 += alphabet[(v >> 18) & 63];
        b64 += alphabet[(v >> 12) & 63];
        b64 += i + 1 < pem.size() ? alphabet[(v >> 6) & 63] : '=';
        b64 += i + 2 < pem.size() ? alphabet[v & 63] : '=';
    }
    auto kc = from_kubeconfig_string(
        "current-context: t\ncontexts: [{name: t, context: {cluster: c, user: u}}]\n"
        "clusters: [{name: c, cluster: {server: '" +
            url + "', certificate-authority-data: " + b64 + "}}]\nusers: [{name: u, user: {token: " + kToken + "}}]\n",
        "tls-test", "");
    ASSERT_TRUE(ok(kc)) << std::get<Error>(kc).message;
    st = Client(std::get<ConnectionSettings>(kc)).list(pods, 0, list);
    EXPECT_TRUE(st.ok()) << st.message;

    auto insecure = from_flags(url, kToken, "", true);
    st = Client(std::get<ConnectionSettings>(insecure)).list(pods, 0, list);
    EXPECT_TRUE(st.ok()) << st.message;

    auto untrusted = from_flags(url, kToken, "", false);
    st = Client(std::get<ConnectionSettings>(untrusted)).list(pods, 0, list);
    EXPECT_EQ(st.failure, Failure::kTransport);
    EXPECT_NE(st.message.find("certificate"), std::string::npos) << st.message;
}

}  // namespace
}  // namespace enidp::k8s

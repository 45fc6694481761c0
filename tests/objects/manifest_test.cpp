// Loading manifests: multi-document YAML, Lists, JSON, directories, scalar typing, field lines,
// and the example manifests under deploy/.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "control/objects/store.hpp"
#include "tests/objects/objects_test_util.hpp"

namespace enidp::objects {
namespace {

using testing::load;

std::string error_text(const Result<std::vector<Object>>& r) {
    const auto* e = std::get_if<Error>(&r);
    return e ? e->to_string() : "";
}

TEST(Manifest, MultiDocumentYaml) {
    const auto objs = load(R"(# leading comment
---
apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: prod
spec:
  ports:
    - port: 80
...
)");
    ASSERT_EQ(objs.size(), 2u);
    EXPECT_EQ(objs[0].kind, "Namespace");
    EXPECT_EQ(objs[0].ns, "");
    EXPECT_EQ(objs[0].source, "test.yaml:3");
    EXPECT_EQ(objs[1].api_version, "v1");
    EXPECT_EQ(objs[1].kind, "Service");
    EXPECT_EQ(objs[1].ns, "prod");
    EXPECT_EQ(objs[1].name, "web");
    EXPECT_EQ(objs[1].source, "test.yaml:8");
    EXPECT_EQ(objs[1].body["spec"]["ports"][0]["port"], 80);
    EXPECT_EQ(objs[1].line_of("/spec/ports/0/port"), 15);
    EXPECT_EQ(objs[1].line_of("/spec/ports/0"), 15);
    EXPECT_EQ(objs[1].line_of("/spec/ports/0/targetPort"), 15);  // absent: its parent's line
    EXPECT_EQ(objs[1].line_of("/spec"), 13);
    EXPECT_EQ(objs[1].line_of("/nothing/here"), 8);
}

TEST(Manifest, ListsAndTypedLists) {
    const auto objs = load(R"(apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Namespace
    metadata: {name: a}
  - apiVersion: v1
    kind: Pod
    metadata:
      name: p
      namespace: a
---
apiVersion: v1
kind: ServiceList
metadata: {resourceVersion: "7"}
items:
  - metadata: {name: s1, namespace: a}
    spec:
      ports: [{port: 1}]
)");
    ASSERT_EQ(objs.size(), 3u);
    EXPECT_EQ(objs[0].kind, "Namespace");
    EXPECT_EQ(objs[0].source, "test.yaml:4");
    EXPECT_EQ(objs[1].describe(), "Pod a/p");
    EXPECT_EQ(objs[1].source, "test.yaml:7");
    EXPECT_EQ(objs[1].line_of("/metadata/namespace"), 11);
    EXPECT_EQ(objs[2].kind, "Service");  // from ServiceList
    EXPECT_EQ(objs[2].api_version, "v1");
    EXPECT_EQ(objs[2].line_of("/spec/ports/0/port"), 19);

    EXPECT_EQ(error_text(load_string("apiVersion: v1\nkind: List\nitems:\n  - kind: List\n    apiVersion: v1\n    "
                                     "items: []\n",
                                     "l.yaml")),
              "l.yaml:4: List: items[0]: a List may not hold another List");
    EXPECT_EQ(error_text(load_string("apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Pod\n    "
                                     "metadata: {}\n",
                                     "l.yaml")),
              "l.yaml:6: Pod: metadata.name: is required (a non-empty string)");
}

TEST(Manifest, YamlScalarTypes) {
    const auto objs = load(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data:
  plain_int: 42
  negative: -7
  hex: 0x1F
  float: 1.5
  quoted_int: "42"
  tagged: !!str 42
  yes_is_a_string: yes
  bool: true
  null_value: ~
  empty:
  version: 1.2.3
  ip: 10.0.0.1
)");
    ASSERT_EQ(objs.size(), 1u);
    const nlohmann::json& d = objs[0].body["data"];
    EXPECT_EQ(d["plain_int"], 42);
    EXPECT_EQ(d["negative"], -7);
    EXPECT_EQ(d["hex"], 31);
    EXPECT_EQ(d["float"], 1.5);
    EXPECT_EQ(d["quoted_int"], "42");
    EXPECT_EQ(d["tagged"], "42");
    EXPECT_EQ(d["yes_is_a_string"], "yes");
    EXPECT_EQ(d["bool"], true);
    EXPECT_TRUE(d["null_value"].is_null());
    EXPECT_TRUE(d["empty"].is_null());
    EXPECT_EQ(d["version"], "1.2.3");
    EXPECT_EQ(d["ip"], "10.0.0.1");
}

TEST(Manifest, AnchorsAndAliases) {
    const auto objs = load(R"(apiVersion: v1
kind: Service
metadata:
  name: web
  labels: &labels {app: web}
  annotations: *labels
spec:
  ports:
    - &http {name: http, port: 80}
    - *http
)");
    ASSERT_EQ(objs.size(), 1u);
    EXPECT_EQ(objs[0].body["metadata"]["annotations"]["app"], "web");
    EXPECT_EQ(objs[0].body["spec"]["ports"][1]["port"], 80);
    EXPECT_EQ(objs[0].line_of("/spec/ports/1/port"), 10);  // an alias's fields are on the alias's line
}

TEST(Manifest, Json) {
    const auto objs = load(R"(
  {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"ports": [{"port": 80}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b", "namespace": "x"}}
  ]})",
                           "in.json");
    ASSERT_EQ(objs.size(), 2u);
    EXPECT_EQ(objs[0].source, "in.json:2");
    EXPECT_EQ(objs[1].describe(), "Service x/b");
    // JSON has only the document's start line.
    auto r = convert(objs[0]);
    ASSERT_TRUE(std::holds_alternative<Model>(r));
    Object bad = objs[0];
    bad.body["spec"]["ports"][0]["port"] = 0;
    auto e = convert(bad);
    ASSERT_TRUE(std::holds_alternative<Error>(e));
    EXPECT_EQ(std::get<Error>(e).to_string(), "in.json:2: Service default/a: spec.ports[0].port: must be 1-65535");

    EXPECT_EQ(error_text(load_string("{\"kind\": \"Service\",\n \"apiVersion\": }", "j.json")),
              "j.json:2: JSON syntax error: parse error at line 2, column 16: syntax error while parsing value - "
              "unexpected '}'; expected '[', '{', or a literal");
    // Flow-style YAML that is not JSON still loads.
    const auto flow = load("{apiVersion: v1, kind: Namespace, metadata: {name: n}}");
    ASSERT_EQ(flow.size(), 1u);
    EXPECT_EQ(flow[0].name, "n");
}

TEST(Manifest, ObjectsFromJsonExpandsLists) {
    const nlohmann::json list = {{"apiVersion", "v1"},
                                 {"kind", "PodList"},
                                 {"items", {{{"metadata", {{"name", "p1"}}}}, {{"metadata", {{"name", "p2"}}}}}}};
    auto r = objects_from_json(list, "watch");
    ASSERT_TRUE(std::holds_alternative<std::vector<Object>>(r)) << error_text(r);
    const auto& objs = std::get<std::vector<Object>>(r);
    ASSERT_EQ(objs.size(), 2u);
    EXPECT_EQ(objs[1].describe(), "Pod default/p2");
    EXPECT_EQ(objs[1].source, "watch");
    EXPECT_EQ(error_text(objects_from_json(nlohmann::json::array(), "grpc")),
              "grpc: a manifest document must be a mapping (a Kubernetes object)");
}

class ManifestDir : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ =
            std::filesystem::temp_directory_path() / ("enidp-objects-" + std::to_string(::getpid()) + "-" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_ / "sub");
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
    std::filesystem::path dir_;
};

TEST_F(ManifestDir, SortedYamlYmlJsonNotRecursive) {
    write("b.yml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n");
    write("a.yaml",
          "apiVersion: v1\nkind: Namespace\nmetadata: {name: a1}\n---\napiVersion: v1\nkind: "
          "Namespace\nmetadata: {name: a2}\n");
    write("c.json", R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "c"}})");
    write("README.md", "not a manifest");
    write("sub/d.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: d}\n");
    auto r = load_path(dir_.string());
    ASSERT_TRUE(std::holds_alternative<std::vector<Object>>(r)) << error_text(r);
    const auto& objs = std::get<std::vector<Object>>(r);
    std::vector<std::string> names;
    for (const Object& o : objs) names.push_back(o.name);
    EXPECT_EQ(names, (std::vector<std::string>{"a1", "a2", "b", "c"}));
    EXPECT_EQ(objs[1].source, (dir_ / "a.yaml").string() + ":5");
    EXPECT_EQ(objs[3].source, (dir_ / "c.json").string() + ":1");
}

TEST_F(ManifestDir, FirstErrorNamesItsFile) {
    write("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
    write("b.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [x]\n");
    EXPECT_EQ(error_text(load_path(dir_.string())),
              (dir_ / "b.yaml").string() + ":4: Namespace: metadata.name: is required (a non-empty string)");
    EXPECT_EQ(error_text(load_path((dir_ / "missing.yaml").string())),
              (dir_ / "missing.yaml").string() + ": no such file or directory");
}

// An Object frees its body depth first, so far down; deeper nesting is left to nlohmann's
// destructor (no recursion as deep as the document). Copies and moves keep the whole body.
TEST(Manifest, DeeplyNestedBodyIsFreed) {
    const int depth = 50000;
    const std::string text = R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}, "data": )" +
                             std::string(depth, '[') + std::string(depth, ']') + "}";
    {
        auto r = load_string(text, "deep.json");
        ASSERT_TRUE(std::holds_alternative<std::vector<Object>>(r));
        auto& objs = std::get<std::vector<Object>>(r);
        ASSERT_EQ(objs.size(), 1u);
        Object moved = std::move(objs[0]);
        EXPECT_TRUE(moved.body["data"].is_array());
        EXPECT_TRUE(objs[0].body.is_null());  // NOLINT(bugprone-use-after-move): moved-from is null
    }
    Object small =
        load(R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "labels": {"a": "b"}}})", "n.json")
            .at(0);
    Object copy(small);
    EXPECT_EQ(copy.body, small.body);
    Object assigned;
    assigned = copy;
    EXPECT_EQ(assigned.body, small.body);
    assigned = std::move(copy);
    EXPECT_EQ(assigned.body["metadata"]["labels"]["a"], "b");
    EXPECT_EQ(assigned.describe(), "Namespace n");
}

TEST(Manifest, PointerPaths) {
    EXPECT_EQ(pointer_to_path("/spec/ports/0/port"), "spec.ports[0].port");
    EXPECT_EQ(pointer_to_path("/metadata/annotations/enidp.io~1lb-algorithm"),
              "metadata.annotations[enidp.io/lb-algorithm]");
    EXPECT_EQ(pointer_to_path("/a~0b"), "a~b");
    EXPECT_EQ(pointer_to_path(""), "");
    EXPECT_EQ(pointer_append("/x", "a/b~c"), "/x/a~1b~0c");
    EXPECT_EQ(pointer_append("/x", size_t{3}), "/x/3");
}

// Every example manifest loads, converts and is accepted by the store.
TEST(Examples, DeployExamplesLoad) {
    const std::string dir = std::string(ENIDP_SOURCE_DIR) + "/deploy/examples";
    auto r = load_path(dir);
    ASSERT_TRUE(std::holds_alternative<std::vector<Object>>(r)) << error_text(r);
    const auto& objs = std::get<std::vector<Object>>(r);
    EXPECT_GE(objs.size(), 6u);
    Store store;
    auto applied = store.apply_all(objs, Source::kManifest);
    ASSERT_TRUE(std::holds_alternative<ApplyOutcome>(applied)) << std::get<Error>(applied).to_string();
    const Snapshot s = store.snapshot();
    EXPECT_EQ(s.services.size(), 2u);
    EXPECT_EQ(s.slices.size(), 2u);
    EXPECT_EQ(s.policies.size(), 1u);
    EXPECT_EQ(s.payload_policies.size(), 1u);
    bool local_lb = false;
    for (const lb::Service& svc : s.services) {
        local_lb = local_lb || (svc.type == lb::ServiceType::kLoadBalancer &&
                                svc.external_policy == lb::TrafficPolicy::kLocal && !svc.lb_ingress_ips.empty());
    }
    EXPECT_TRUE(local_lb);
}

TEST(Examples, CrdIsACustomResourceDefinition) {
    const std::string file = std::string(ENIDP_SOURCE_DIR) + "/deploy/crds/payloadpolicies.enidp.io.yaml";
    auto r = load_path(file);
    ASSERT_TRUE(std::holds_alternative<std::vector<Object>>(r)) << error_text(r);
    const Object& crd = std::get<std::vector<Object>>(r).at(0);
    EXPECT_EQ(crd.kind, "CustomResourceDefinition");
    EXPECT_EQ(crd.ns, "");
    EXPECT_EQ(crd.body["spec"]["names"]["kind"], "PayloadPolicy");
    EXPECT_EQ(crd.body["spec"]["versions"][0]["name"], "v1alpha1");
    EXPECT_TRUE(crd.body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].is_object());
}

}  // namespace
}  // namespace enidp::objects

// Every supported kind from YAML to its model, the kube-proxy filters, and a table of bad
// objects each checked for its exact `file:line: object: field: message`.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/objects/objects_test_util.hpp"

namespace enidp::objects {
namespace {

using testing::error_of;
using testing::ip;
using testing::load_one;
using testing::model_of;

TEST(ConvertService, AllFields) {
    const lb::Service s = model_of<lb::Service>(R"(
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  annotations:
    enidp.io/lb-algorithm: least-conn
    enidp.io/maglev-table-size: "251"
    enidp.io/endpoint-weights: '{"10.0.0.1": 5, "10.0.0.2": 0}'
    service.kubernetes.io/topology-aware-hints: auto
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.1
  clusterIPs: [10.96.0.1, "fd00::1"]
  ports:
    - {name: http, port: 80, targetPort: 8080, nodePort: 30080}
    - {name: dns, protocol: UDP, port: 53, targetPort: dns}
    - {name: sig, protocol: SCTP, port: 3868}
  externalIPs: [192.0.2.1, "2001:db8::1"]
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 30}}
  externalTrafficPolicy: Local
  internalTrafficPolicy: Local
  healthCheckNodePort: 31000
status:
  loadBalancer:
    ingress: [{ip: 203.0.113.7}, {hostname: lb.example.com}, {ip: 203.0.113.8, ipMode: Proxy}, {ip: 203.0.113.9, ipMode: VIP}]
)");
    EXPECT_EQ(s.ns, "shop");
    EXPECT_EQ(s.name, "web");
    EXPECT_EQ(s.type, lb::ServiceType::kLoadBalancer);
    EXPECT_FALSE(s.headless);
    EXPECT_EQ(s.cluster_ips, std::vector<uint32_t>{ip("10.96.0.1")});  // IPv6 skipped
    ASSERT_EQ(s.ports.size(), 3u);
    EXPECT_EQ(s.ports[0].name, "http");
    EXPECT_EQ(s.ports[0].protocol, lb::Protocol::kTcp);
    EXPECT_EQ(s.ports[0].port, 80);
    EXPECT_EQ(s.ports[0].target_port, 8080);
    EXPECT_EQ(s.ports[0].node_port, 30080);
    EXPECT_EQ(s.ports[1].protocol, lb::Protocol::kUdp);
    EXPECT_EQ(s.ports[1].target_port, 0);
    EXPECT_EQ(s.ports[1].target_port_name, "dns");
    EXPECT_EQ(s.ports[2].protocol, lb::Protocol::kSctp);
    EXPECT_EQ(s.ports[2].target_port, 3868);  // defaults to port
    EXPECT_EQ(s.ports[2].node_port, 0);
    EXPECT_EQ(s.external_ips, std::vector<uint32_t>{ip("192.0.2.1")});
    EXPECT_EQ(s.lb_ingress_ips, (std::vector<uint32_t>{ip("203.0.113.7"), ip("203.0.113.9")}));  // not Proxy
    EXPECT_TRUE(s.affinity_client_ip);
    EXPECT_EQ(s.affinity_timeout_s, 30u);
    EXPECT_EQ(s.external_policy, lb::TrafficPolicy::kLocal);
    EXPECT_EQ(s.internal_policy, lb::TrafficPolicy::kLocal);
    EXPECT_EQ(s.health_check_node_port, 31000);
    EXPECT_EQ(s.algorithm, lb::Algorithm::kLeastConn);
    EXPECT_EQ(s.maglev_table_size, 251u);
    EXPECT_TRUE(s.topology_aware);
    EXPECT_EQ(s.endpoint_weights, (std::map<std::string, std::string>{{"10.0.0.1", "5"}, {"10.0.0.2", "0"}}));
}

TEST(ConvertService, Defaults) {
    const lb::Service s = model_of<lb::Service>(R"(
apiVersion: v1
kind: Service
metadata: {name: minimal}
spec:
  ports: [{port: 443}]
)");
    EXPECT_EQ(s.ns, "default");
    EXPECT_EQ(s.type, lb::ServiceType::kClusterIP);
    EXPECT_TRUE(s.cluster_ips.empty());  // not allocated yet
    ASSERT_EQ(s.ports.size(), 1u);
    EXPECT_EQ(s.ports[0].name, "");
    EXPECT_EQ(s.ports[0].protocol, lb::Protocol::kTcp);
    EXPECT_EQ(s.ports[0].target_port, 443);
    EXPECT_FALSE(s.affinity_client_ip);
    EXPECT_EQ(s.affinity_timeout_s, 10800u);
    EXPECT_EQ(s.external_policy, lb::TrafficPolicy::kCluster);
    EXPECT_EQ(s.internal_policy, lb::TrafficPolicy::kCluster);
    EXPECT_EQ(s.algorithm, lb::Algorithm::kMaglev);
    EXPECT_EQ(s.maglev_table_size, 0u);
    EXPECT_FALSE(s.topology_aware);
    EXPECT_TRUE(s.endpoint_weights.empty());
}

TEST(ConvertService, HeadlessGlobalTopologyModeAndAlgorithms) {
    const lb::Service headless = model_of<lb::Service>(R"(
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {clusterIP: None, clusterIPs: [None]}
)");
    EXPECT_TRUE(headless.headless);
    EXPECT_TRUE(headless.cluster_ips.empty());

    const lb::Service global = model_of<lb::Service>(R"(
apiVersion: v1
kind: Service
metadata:
  name: np
  annotations: {service.kubernetes.io/topology-mode: Auto, enidp.io/lb-algorithm: round-robin}
spec: {type: NodePort, externalTrafficPolicy: Global, ports: [{port: 80, targetPort: 0}], sessionAffinity: ClientIP}
)");
    EXPECT_EQ(global.external_policy, lb::TrafficPolicy::kCluster);
    EXPECT_TRUE(global.topology_aware);
    EXPECT_EQ(global.algorithm, lb::Algorithm::kRoundRobin);
    EXPECT_EQ(global.ports[0].target_port, 80);  // 0 defaults like absent
    EXPECT_EQ(global.affinity_timeout_s, 10800u);

    const lb::Service other = model_of<lb::Service>(R"(
apiVersion: v1
kind: Service
metadata:
  name: x
  annotations: {service.kubernetes.io/topology-mode: Disabled, enidp.io/lb-algorithm: random}
spec: {ports: [{port: 80}], externalIPs: [198.51.100.1], externalTrafficPolicy: Cluster}
)");
    EXPECT_FALSE(other.topology_aware);
    EXPECT_EQ(other.algorithm, lb::Algorithm::kRandom);

    const lb::Service external = model_of<lb::Service>(R"(
apiVersion: v1
kind: Service
metadata: {name: alias}
spec: {type: ExternalName, externalName: db.example.com}
)");
    EXPECT_EQ(external.type, lb::ServiceType::kExternalName);
}

TEST(ConvertEndpointSlice, AllFields) {
    const lb::EndpointSlice s = model_of<lb::EndpointSlice>(R"(
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints:
  - addresses: [10.0.0.1, 10.0.0.9]
    conditions: {ready: true, serving: false, terminating: true}
    nodeName: n1
    zone: z1
    hints: {forZones: [{name: z1}, {name: z2}]}
    targetRef: {kind: Pod, name: web-0}
  - addresses: [10.0.0.2]
    conditions: {ready: null}
  - addresses: [10.0.0.3]
ports:
  - {name: http, port: 8080}
  - {name: dns, protocol: UDP, port: 53}
  - {name: sctp, protocol: SCTP}
)");
    EXPECT_EQ(s.ns, "shop");
    EXPECT_EQ(s.name, "web-1");
    EXPECT_EQ(s.service_name, "web");
    ASSERT_EQ(s.endpoints.size(), 3u);
    const lb::Endpoint& e = s.endpoints[0];
    EXPECT_EQ(e.addresses, (std::vector<uint32_t>{ip("10.0.0.1"), ip("10.0.0.9")}));
    EXPECT_EQ(e.conditions.ready, true);
    EXPECT_EQ(e.conditions.serving, false);
    EXPECT_EQ(e.conditions.terminating, true);
    EXPECT_EQ(e.node_name, "n1");
    EXPECT_EQ(e.zone, "z1");
    EXPECT_EQ(e.hint_zones, (std::vector<std::string>{"z1", "z2"}));
    EXPECT_EQ(e.target_pod, "shop/web-0");
    for (size_t i = 1; i < 3; ++i) {
        EXPECT_FALSE(s.endpoints[i].conditions.ready.has_value());
        EXPECT_FALSE(s.endpoints[i].conditions.serving.has_value());
        EXPECT_FALSE(s.endpoints[i].conditions.terminating.has_value());
    }
    ASSERT_EQ(s.ports.size(), 3u);
    EXPECT_EQ(s.ports[0].name, "http");
    EXPECT_EQ(s.ports[0].protocol, lb::Protocol::kTcp);
    EXPECT_EQ(s.ports[0].port, std::optional<uint16_t>(8080));
    EXPECT_EQ(s.ports[1].protocol, lb::Protocol::kUdp);
    EXPECT_EQ(s.ports[2].protocol, lb::Protocol::kSctp);
    EXPECT_FALSE(s.ports[2].port.has_value());
}

TEST(ConvertPod, AllFields) {
    const acl::Pod p = model_of<acl::Pod>(R"(
apiVersion: v1
kind: Pod
metadata:
  name: api-0
  namespace: prod
  labels: {app: api, tier: backend}
spec:
  nodeName: node-a
  containers:
    - name: app
      ports:
        - {name: http, containerPort: 8080}
        - {containerPort: 53, protocol: UDP}
    - name: sidecar
      ports: [{name: metrics, containerPort: 9090, protocol: TCP}]
status:
  podIP: 10.1.0.5
  podIPs: [{ip: 10.1.0.5}, {ip: "fd00::5"}]
)");
    EXPECT_EQ(p.ns, "prod");
    EXPECT_EQ(p.name, "api-0");
    EXPECT_EQ(p.labels, (std::map<std::string, std::string>{{"app", "api"}, {"tier", "backend"}}));
    EXPECT_EQ(p.ips, std::vector<uint32_t>{ip("10.1.0.5")});
    EXPECT_FALSE(p.host_network);
    EXPECT_EQ(p.node_name, "node-a");
    ASSERT_EQ(p.ports.size(), 3u);
    EXPECT_EQ(p.ports[0].name, "http");
    EXPECT_EQ(p.ports[0].port, 8080);
    EXPECT_EQ(p.ports[0].protocol, acl::Protocol::kTcp);
    EXPECT_EQ(p.ports[1].protocol, acl::Protocol::kUdp);
    EXPECT_EQ(p.ports[2].name, "metrics");

    const acl::Pod host = model_of<acl::Pod>(R"(
apiVersion: v1
kind: Pod
metadata: {name: agent}
spec: {hostNetwork: true, containers: [{name: a}]}
status: {podIP: 192.168.0.2}
)");
    EXPECT_TRUE(host.host_network);
    EXPECT_EQ(host.ips, std::vector<uint32_t>{ip("192.168.0.2")});  // podIP when podIPs is absent
}

TEST(ConvertNamespace, LabelsIncludeMetadataName) {
    const acl::Namespace n = model_of<acl::Namespace>(R"(
apiVersion: v1
kind: Namespace
metadata:
  name: prod
  namespace: ignored-for-cluster-scoped
  labels: {team: payments, kubernetes.io/metadata.name: wrong}
)");
    EXPECT_EQ(n.name, "prod");
    EXPECT_EQ(n.labels,
              (std::map<std::string, std::string>{{"team", "payments"}, {"kubernetes.io/metadata.name", "prod"}}));
    EXPECT_EQ(load_one("apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n").ns, "");
}

TEST(ConvertNetworkPolicy, AllFields) {
    const acl::NetworkPolicy np = model_of<acl::NetworkPolicy>(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: prod}
spec:
  podSelector:
    matchLabels: {app: db}
    matchExpressions:
      - {key: tier, operator: NotIn, values: [web, cache]}
      - {key: canary, operator: DoesNotExist}
  policyTypes: [Egress, Ingress]
  ingress:
    - from:
        - podSelector: {}
        - namespaceSelector: {matchLabels: {team: x}}
          podSelector: {matchExpressions: [{key: role, operator: Exists}]}
        - ipBlock: {cidr: 10.0.0.7/16, except: [10.0.5.0/24, 10.0.6.1/32]}
      ports:
        - {port: 5432}
        - {protocol: UDP, port: dns}
        - {protocol: SCTP, port: 1000, endPort: 2000}
        - {protocol: TCP}
    - {}
  egress: []
)");
    EXPECT_EQ(np.ns, "prod");
    EXPECT_EQ(np.name, "np");
    EXPECT_EQ(np.pod_selector.match_labels, (std::map<std::string, std::string>{{"app", "db"}}));
    ASSERT_EQ(np.pod_selector.match_expressions.size(), 2u);
    EXPECT_EQ(np.pod_selector.match_expressions[0].key, "tier");
    EXPECT_EQ(np.pod_selector.match_expressions[0].op, acl::LabelRequirement::Op::kNotIn);
    EXPECT_EQ(np.pod_selector.match_expressions[0].values, (std::vector<std::string>{"web", "cache"}));
    EXPECT_EQ(np.pod_selector.match_expressions[1].op, acl::LabelRequirement::Op::kDoesNotExist);
    EXPECT_TRUE(np.policy_types_given);
    EXPECT_TRUE(np.type_ingress);
    EXPECT_TRUE(np.type_egress);
    ASSERT_TRUE(np.ingress.has_value());
    ASSERT_EQ(np.ingress->size(), 2u);
    const acl::Rule& r = (*np.ingress)[0];
    ASSERT_EQ(r.peers.size(), 3u);
    ASSERT_TRUE(r.peers[0].pod_selector.has_value());
    EXPECT_TRUE(r.peers[0].pod_selector->match_labels.empty());
    EXPECT_FALSE(r.peers[0].namespace_selector.has_value());
    ASSERT_TRUE(r.peers[1].namespace_selector.has_value());
    EXPECT_EQ(r.peers[1].namespace_selector->match_labels.at("team"), "x");
    ASSERT_TRUE(r.peers[1].pod_selector.has_value());
    EXPECT_EQ(r.peers[1].pod_selector->match_expressions[0].op, acl::LabelRequirement::Op::kExists);
    ASSERT_TRUE(r.peers[2].ip_block.has_value());
    EXPECT_EQ(r.peers[2].ip_block->addr, ip("10.0.0.0"));  // host bits cleared
    EXPECT_EQ(r.peers[2].ip_block->prefix_len, 16);
    EXPECT_EQ(r.peers[2].ip_block->except,
              (std::vector<std::pair<uint32_t, uint8_t>>{{ip("10.0.5.0"), 24}, {ip("10.0.6.1"), 32}}));
    ASSERT_EQ(r.ports.size(), 4u);
    EXPECT_EQ(r.ports[0].protocol, acl::Protocol::kTcp);
    EXPECT_EQ(r.ports[0].port, std::optional<uint16_t>(5432));
    EXPECT_EQ(r.ports[1].protocol, acl::Protocol::kUdp);
    EXPECT_EQ(r.ports[1].port_name, "dns");
    EXPECT_FALSE(r.ports[1].port.has_value());
    EXPECT_EQ(r.ports[2].protocol, acl::Protocol::kSctp);
    EXPECT_EQ(r.ports[2].end_port, std::optional<uint16_t>(2000));
    EXPECT_FALSE(r.ports[3].port.has_value());
    EXPECT_TRUE((*np.ingress)[1].peers.empty());
    EXPECT_TRUE((*np.ingress)[1].ports.empty());
    ASSERT_TRUE(np.egress.has_value());  // `egress: []` is not the same as no egress field
    EXPECT_TRUE(np.egress->empty());
}

TEST(ConvertNetworkPolicy, AbsentRulesAndInferredTypes) {
    const acl::NetworkPolicy np = model_of<acl::NetworkPolicy>(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec:
  podSelector: {}
)");
    EXPECT_FALSE(np.ingress.has_value());
    EXPECT_FALSE(np.egress.has_value());
    EXPECT_FALSE(np.policy_types_given);
    EXPECT_FALSE(np.type_ingress);
    EXPECT_FALSE(np.type_egress);
    EXPECT_TRUE(np.pod_selector.match_labels.empty());
    EXPECT_TRUE(np.pod_selector.match_expressions.empty());
}

// IPv6 ipBlocks never match IPv4 traffic: the peer goes, and a rule left without peers goes
// (an empty peer list would mean "everyone").
TEST(ConvertNetworkPolicy, Ipv6IpBlocksAreDropped) {
    const acl::NetworkPolicy np = model_of<acl::NetworkPolicy>(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: v6}
spec:
  podSelector: {}
  ingress:
    - from: [{ipBlock: {cidr: "fd00::/8"}}]
    - from: [{ipBlock: {cidr: "fd00::/8", except: ["fd00:1::/32"]}}, {ipBlock: {cidr: 10.0.0.0/8}}]
)");
    ASSERT_TRUE(np.ingress.has_value());
    ASSERT_EQ(np.ingress->size(), 1u);
    ASSERT_EQ((*np.ingress)[0].peers.size(), 1u);
    EXPECT_EQ((*np.ingress)[0].peers[0].ip_block->prefix_len, 8);
}

TEST(ConvertPayloadPolicy, AllFieldsAndDefaults) {
    const acl::PayloadPolicy p = model_of<acl::PayloadPolicy>(R"(
apiVersion: enidp.io/v1alpha1
kind: PayloadPolicy
metadata: {name: block, namespace: web}
spec:
  podSelector: {matchLabels: {app: web}}
  direction: Both
  ports: [{protocol: UDP, port: 53}, {port: 8000, endPort: 8080}]
  patterns: ['evil\d+', "\\$\\{jndi:"]
  action: Log
)");
    EXPECT_EQ(p.ns, "web");
    EXPECT_EQ(p.name, "block");
    EXPECT_EQ(p.pod_selector.match_labels.at("app"), "web");
    EXPECT_EQ(p.direction, acl::PayloadPolicy::Direction::kBoth);
    ASSERT_EQ(p.ports.size(), 2u);
    EXPECT_EQ(p.ports[0].protocol, acl::Protocol::kUdp);
    EXPECT_EQ(p.ports[1].end_port, std::optional<uint16_t>(8080));
    EXPECT_EQ(p.patterns, (std::vector<std::string>{"evil\\d+", "\\$\\{jndi:"}));
    EXPECT_EQ(p.action, acl::PayloadPolicy::Action::kLog);

    const acl::PayloadPolicy d = model_of<acl::PayloadPolicy>(R"(
apiVersion: enidp.io/v1alpha1
kind: PayloadPolicy
metadata: {name: d}
spec: {patterns: [x]}
)");
    EXPECT_EQ(d.direction, acl::PayloadPolicy::Direction::kIngress);
    EXPECT_EQ(d.action, acl::PayloadPolicy::Action::kDeny);
    EXPECT_TRUE(d.ports.empty());
    EXPECT_TRUE(d.pod_selector.match_labels.empty());
}

TEST(ConvertNode, NodeInfo) {
    const Object o = load_one(R"(
apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {topology.kubernetes.io/zone: zone-a}
status:
  addresses:
    - {type: Hostname, address: node-a}
    - {type: ExternalIP, address: 198.51.100.4}
    - {type: InternalIP, address: 10.0.0.4}
    - {type: InternalIP, address: "fd00::4"}
)");
    EXPECT_EQ(o.ns, "");
    auto r = to_node_info(o);
    ASSERT_TRUE(std::holds_alternative<lb::NodeInfo>(r)) << std::get<Error>(r).to_string();
    const lb::NodeInfo& n = std::get<lb::NodeInfo>(r);
    EXPECT_EQ(n.name, "node-a");
    EXPECT_EQ(n.zone, "zone-a");
    EXPECT_EQ(n.node_ips, (std::vector<uint32_t>{ip("10.0.0.4"), ip("198.51.100.4")}));
    auto bad =
        to_node_info(load_one("apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus:\n  addresses:\n    - "
                              "{type: InternalIP, address: 10.0.0}\n"));
    ASSERT_TRUE(std::holds_alternative<Error>(bad));
    EXPECT_EQ(std::get<Error>(bad).to_string(),
              "test.yaml:6: Node n: status.addresses[0].address: not a valid IP address: \"10.0.0\"");
}

TEST(ConvertFromJson, WatcherObject) {
    const nlohmann::json body = {{"apiVersion", "v1"},
                                 {"kind", "Service"},
                                 {"metadata", {{"name", "web"}, {"namespace", "default"}, {"resourceVersion", "42"}}},
                                 {"spec", {{"clusterIP", "10.96.0.3"}, {"ports", {{{"port", 0}}}}}}};
    auto r = objects_from_json(body, "watch");
    ASSERT_TRUE(std::holds_alternative<std::vector<Object>>(r));
    const Object& o = std::get<std::vector<Object>>(r).at(0);
    EXPECT_EQ(o.source, "watch");
    auto c = convert(o);
    ASSERT_TRUE(std::holds_alternative<Error>(c));
    EXPECT_EQ(std::get<Error>(c).to_string(), "watch: Service default/web: spec.ports[0].port: must be 1-65535");
}

// ---- filters ----

struct FilterCase {
    const char* name;
    const char* yaml;
    const char* reason;  // "" = ours
};

class Filters : public ::testing::TestWithParam<FilterCase> {};

TEST_P(Filters, Reason) {
    const Object o = load_one(GetParam().yaml);
    EXPECT_EQ(ignore_reason(o).value_or(""), GetParam().reason);
}

INSTANTIATE_TEST_SUITE_P(
    Objects, Filters,
    ::testing::Values(
        FilterCase{"plain_service", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n", ""},
        FilterCase{"other_proxy",
                   "apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: "
                   "{service.kubernetes.io/service-proxy-name: cilium}}\n",
                   "label service.kubernetes.io/service-proxy-name=cilium: the Service belongs to another proxy"},
        FilterCase{"other_proxy_empty_value",
                   "apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: "
                   "{service.kubernetes.io/service-proxy-name: ''}}\n",
                   "label service.kubernetes.io/service-proxy-name=: the Service belongs to another proxy"},
        FilterCase{"headless_slice",
                   "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: a, labels: "
                   "{kubernetes.io/service-name: a, service.kubernetes.io/headless: ''}}\naddressType: IPv4\n",
                   "label service.kubernetes.io/headless: a headless Service's slice"},
        FilterCase{"ipv6_slice",
                   "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: a, labels: "
                   "{kubernetes.io/service-name: a}}\naddressType: IPv6\n",
                   "addressType IPv6: only IPv4 slices are programmed"},
        FilterCase{"fqdn_slice",
                   "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: a, labels: "
                   "{kubernetes.io/service-name: a}}\naddressType: FQDN\n",
                   "addressType FQDN: only IPv4 slices are programmed"},
        FilterCase{"orphan_slice",
                   "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: a}\naddressType: IPv4\n",
                   "no kubernetes.io/service-name label: the slice belongs to no Service"},
        FilterCase{"ipv4_slice",
                   "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: a, labels: "
                   "{kubernetes.io/service-name: a}}\naddressType: IPv4\n",
                   ""},
        FilterCase{"failed_pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nstatus: {phase: Failed}\n",
                   "phase Failed: a finished Pod no longer holds its IP"},
        FilterCase{"running_pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nstatus: {phase: Running}\n", ""},
        FilterCase{"policy_with_proxy_label",
                   "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, labels: "
                   "{service.kubernetes.io/service-proxy-name: x}}\nspec: {}\n",
                   ""}),
    [](const ::testing::TestParamInfo<FilterCase>& info) { return std::string(info.param.name); });

// A bad field deep in an object sent as JSON (as over gRPC): its path, the document's line.
TEST(ConvertFromJson, DeepFieldErrorFromGrpc) {
    auto loaded = load_string(
        R"({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
  "metadata": {"name": "s", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
  "addressType": "IPv4",
  "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}, {"addresses": ["10.0.0.3"]},
                {"addresses": ["10.0.0.4"], "conditions": {"ready": 1}}]})",
        "grpc");
    ASSERT_TRUE(std::holds_alternative<std::vector<Object>>(loaded));
    auto r = convert(std::get<std::vector<Object>>(loaded).at(0));
    ASSERT_TRUE(std::holds_alternative<Error>(r));
    const Error& e = std::get<Error>(r);
    EXPECT_EQ(e.field, "endpoints[3].conditions.ready");
    EXPECT_EQ(e.to_string(), "grpc:1: EndpointSlice shop/s: endpoints[3].conditions.ready: must be true or false");
}

// ---- bad objects ----

struct BadCase {
    const char* name;
    const char* yaml;  // loaded as "bad.yaml"; line 1 is the first line of the text
    const char* error;
};

class BadObjects : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadObjects, ExactError) { EXPECT_EQ(error_of(GetParam().yaml), GetParam().error); }

constexpr const char* kSvc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n";
constexpr const char* kNp =
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec:\n  podSelector: {}\n";
constexpr const char* kPp = "apiVersion: enidp.io/v1alpha1\nkind: PayloadPolicy\nmetadata: {name: pp}\nspec:\n";
constexpr const char* kSlice =
    "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: s\n  labels: "
    "{kubernetes.io/service-name: web}\naddressType: IPv4\n";
constexpr const char* kPod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n";

std::string cat(const char* a, const char* b) { return std::string(a) + b; }

std::vector<BadCase> bad_cases() {
    // Strings built here must outlive the cases: keep them in a static list.
    static std::vector<std::string> texts;
    std::vector<BadCase> out;
    const auto add = [&](const char* name, std::string text, const char* error) {
        texts.push_back(std::move(text));
        out.push_back(BadCase{name, nullptr, error});
    };
    // Manifest level.
    add("yaml_syntax", "kind: Service\n  bad: [\n", "bad.yaml:2: YAML syntax error: illegal map value");
    // yaml-cpp 0.7 loops forever on these (jbeder/yaml-cpp#1040); the loader stops it.
    add("stray_comma", ", a\n", "bad.yaml:1: YAML syntax error: unexpected ','");
    add("stray_comma_second_document", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n,\n",
        "bad.yaml:5: YAML syntax error: unexpected ','");
    add("duplicate_key", "kind: Service\nkind: Pod\n", "bad.yaml:2: duplicate key \"kind\" (first at line 1)");
    add("not_a_mapping", "- a\n- b\n", "bad.yaml:1: a manifest document must be a mapping (a Kubernetes object)");
    add("no_kind", "apiVersion: v1\nmetadata: {name: a}\n", "bad.yaml:1: kind: is required (a non-empty string)");
    add("no_api_version", "kind: Service\nmetadata: {name: a}\n",
        "bad.yaml:1: Service: apiVersion: is required (a non-empty string)");
    add("no_name", "apiVersion: v1\nkind: Service\nmetadata:\n  namespace: x\n",
        "bad.yaml:3: Service: metadata.name: is required (a non-empty string)");
    add("unknown_kind", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n",
        "bad.yaml:2: Deployment default/a: kind: unsupported kind \"Deployment\" (supported: Service, "
        "EndpointSlice, Pod, Namespace, NetworkPolicy, PayloadPolicy)");
    add("wrong_api_version", "apiVersion: v2\nkind: Service\nmetadata: {name: a}\n",
        "bad.yaml:1: Service default/a: apiVersion: unsupported apiVersion \"v2\" for Service (expected v1)");
    add("bad_name", "apiVersion: v1\nkind: Service\nmetadata: {name: Web}\n",
        "bad.yaml:3: Service default/Web: metadata.name: \"Web\": must consist of lower case letters, digits and '-'");
    add("service_name_digit", "apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\n",
        "bad.yaml:3: Service default/1web: metadata.name: \"1web\": must start with a lower case letter");
    add("bad_label", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    app: -x\n",
        "bad.yaml:6: Pod default/p: metadata.labels.app: label value \"-x\": must start and end with a letter or "
        "digit");
    add("label_not_string", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    on: true\n",
        "bad.yaml:6: Pod default/p: metadata.labels.on: must be a string");
    // Service.
    add("port_range", cat(kSvc, "  ports:\n    - port: 70000\n"),
        "bad.yaml:7: Service default/web: spec.ports[0].port: must be 1-65535");
    add("port_zero", cat(kSvc, "  ports:\n    - name: a\n      port: 0\n"),
        "bad.yaml:8: Service default/web: spec.ports[0].port: must be 1-65535");
    add("port_missing", cat(kSvc, "  ports:\n    - name: a\n"),
        "bad.yaml:7: Service default/web: spec.ports[0].port: is required");
    add("port_not_int", cat(kSvc, "  ports:\n    - port: \"80\"\n"),
        "bad.yaml:7: Service default/web: spec.ports[0].port: must be an integer");
    add("port_float", cat(kSvc, "  ports:\n    - port: 80.5\n"),
        "bad.yaml:7: Service default/web: spec.ports[0].port: must be an integer");
    add("port_huge", cat(kSvc, "  ports:\n    - port: 99999999999999999999999\n"),
        "bad.yaml:7: Service default/web: spec.ports[0].port: must be 1-65535");
    add("no_ports", cat(kSvc, "  type: ClusterIP\n"),
        "bad.yaml:5: Service default/web: spec.ports: is required (at least one port)");
    add("protocol", cat(kSvc, "  ports:\n    - port: 80\n      protocol: tcp\n"),
        "bad.yaml:8: Service default/web: spec.ports[0].protocol: unsupported value \"tcp\" (supported: TCP, "
        "UDP, SCTP)");
    add("name_required", cat(kSvc, "  ports:\n    - {name: a, port: 80}\n    - {port: 81}\n"),
        "bad.yaml:8: Service default/web: spec.ports[1].name: is required when the Service has more than one port");
    add("duplicate_port", cat(kSvc, "  ports:\n    - {name: a, port: 80}\n    - {name: b, port: 80}\n"),
        "bad.yaml:8: Service default/web: spec.ports[1].port: duplicate port 80/TCP");
    add("target_port_name", cat(kSvc, "  ports:\n    - port: 80\n      targetPort: \"8080\"\n"),
        "bad.yaml:8: Service default/web: spec.ports[0].targetPort: named port \"8080\": must contain at least one "
        "letter");
    add("target_port_range", cat(kSvc, "  ports:\n    - port: 80\n      targetPort: 65536\n"),
        "bad.yaml:8: Service default/web: spec.ports[0].targetPort: must be 0-65535");
    add("node_port_on_cluster_ip", cat(kSvc, "  ports:\n    - port: 80\n      nodePort: 30000\n"),
        "bad.yaml:8: Service default/web: spec.ports[0].nodePort: may not be used when spec.type is ClusterIP");
    add("type", cat(kSvc, "  type: Internal\n"),
        "bad.yaml:6: Service default/web: spec.type: unsupported value \"Internal\" (supported: ClusterIP, "
        "NodePort, LoadBalancer, ExternalName)");
    add("cluster_ip", cat(kSvc, "  clusterIP: 10.96.0.300\n  ports: [{port: 80}]\n"),
        "bad.yaml:6: Service default/web: spec.clusterIP: not a valid IP address: \"10.96.0.300\"");
    add("cluster_ips_mismatch", cat(kSvc, "  clusterIP: 10.96.0.1\n  clusterIPs:\n    - 10.96.0.2\n"),
        "bad.yaml:8: Service default/web: spec.clusterIPs[0]: must match spec.clusterIP \"10.96.0.1\"");
    add("headless_node_port", cat(kSvc, "  type: NodePort\n  clusterIP: None\n"),
        "bad.yaml:7: Service default/web: spec.clusterIP: may be \"None\" only when spec.type is ClusterIP");
    add("external_ip", cat(kSvc, "  ports: [{port: 80}]\n  externalIPs:\n    - 1.2.3\n"),
        "bad.yaml:8: Service default/web: spec.externalIPs[0]: not a valid IP address: \"1.2.3\"");
    add("lb_ingress_ip", cat(kSvc, "  ports: [{port: 80}]\nstatus:\n  loadBalancer:\n    ingress:\n      - ip: x\n"),
        "bad.yaml:10: Service default/web: status.loadBalancer.ingress[0].ip: not a valid IP address: \"x\"");
    add("ip_mode",
        cat(kSvc,
            "  ports: [{port: 80}]\nstatus:\n  loadBalancer:\n    ingress:\n      - ip: 1.2.3.4\n        ipMode: "
            "proxy\n"),
        "bad.yaml:11: Service default/web: status.loadBalancer.ingress[0].ipMode: unsupported value \"proxy\" "
        "(supported: VIP, Proxy)");
    add("affinity", cat(kSvc, "  ports: [{port: 80}]\n  sessionAffinity: Cookie\n"),
        "bad.yaml:7: Service default/web: spec.sessionAffinity: unsupported value \"Cookie\" (supported: None, "
        "ClientIP)");
    add("affinity_timeout",
        cat(kSvc,
            "  ports: [{port: 80}]\n  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n    clientIP:\n      "
            "timeoutSeconds: 86401\n"),
        "bad.yaml:10: Service default/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: must be 1-86400");
    add("affinity_config_without_affinity",
        cat(kSvc, "  ports: [{port: 80}]\n  sessionAffinityConfig:\n    clientIP: {timeoutSeconds: 5}\n"),
        "bad.yaml:7: Service default/web: spec.sessionAffinityConfig: may not be set when spec.sessionAffinity is "
        "None");
    add("etp_value", cat(kSvc, "  type: NodePort\n  ports: [{port: 80}]\n  externalTrafficPolicy: Node\n"),
        "bad.yaml:8: Service default/web: spec.externalTrafficPolicy: unsupported value \"Node\" (supported: "
        "Cluster, Local, Global)");
    add("etp_cluster_ip", cat(kSvc, "  ports: [{port: 80}]\n  externalTrafficPolicy: Local\n"),
        "bad.yaml:7: Service default/web: spec.externalTrafficPolicy: may only be set for externally-accessible "
        "Services");
    add("itp_value", cat(kSvc, "  ports: [{port: 80}]\n  internalTrafficPolicy: Global\n"),
        "bad.yaml:7: Service default/web: spec.internalTrafficPolicy: unsupported value \"Global\" (supported: "
        "Cluster, Local)");
    add("health_check_cluster",
        cat(kSvc, "  type: LoadBalancer\n  ports: [{port: 80}]\n  healthCheckNodePort: 30001\n"),
        "bad.yaml:8: Service default/web: spec.healthCheckNodePort: may only be set when spec.type is LoadBalancer "
        "and spec.externalTrafficPolicy is Local");
    add("algorithm",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    enidp.io/lb-algorithm: "
        "fastest\nspec: {ports: [{port: 80}]}\n",
        "bad.yaml:6: Service default/web: metadata.annotations[enidp.io/lb-algorithm]: unsupported value "
        "\"fastest\" (supported: maglev, random, round-robin, weighted, least-conn)");
    add("maglev_size",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    enidp.io/maglev-table-size: "
        "\"-3\"\nspec: {ports: [{port: 80}]}\n",
        "bad.yaml:6: Service default/web: metadata.annotations[enidp.io/maglev-table-size]: must be a positive "
        "integer, not \"-3\"");
    add("maglev_size_not_string",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    enidp.io/maglev-table-size: "
        "65537\nspec: {ports: [{port: 80}]}\n",
        "bad.yaml:6: Service default/web: metadata.annotations[enidp.io/maglev-table-size]: must be a string");
    add("weights_json",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    enidp.io/endpoint-weights: "
        "'{10.0.0.1: 3}'\nspec: {ports: [{port: 80}]}\n",
        "bad.yaml:6: Service default/web: metadata.annotations[enidp.io/endpoint-weights]: must be a JSON object "
        "of IP address to weight");
    add("weights_ip",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    enidp.io/endpoint-weights: "
        "'{\"web-0\": 3}'\nspec: {ports: [{port: 80}]}\n",
        "bad.yaml:6: Service default/web: metadata.annotations[enidp.io/endpoint-weights]: key \"web-0\" is not an "
        "IPv4 address");
    add("weights_value",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    enidp.io/endpoint-weights: "
        "'{\"10.0.0.1\": 1.5}'\nspec: {ports: [{port: 80}]}\n",
        "bad.yaml:6: Service default/web: metadata.annotations[enidp.io/endpoint-weights]: weight of 10.0.0.1 must "
        "be a non-negative integer");
    add("external_name", cat(kSvc, "  type: ExternalName\n"),
        "bad.yaml:5: Service default/web: spec.externalName: is required");
    // EndpointSlice.
    add("slice_address", cat(kSlice, "endpoints:\n  - addresses: [10.0.0.1, 10.0.0]\n"),
        "bad.yaml:8: EndpointSlice default/s: endpoints[0].addresses[1]: not a valid IPv4 address: \"10.0.0\"");
    add("slice_no_addresses", cat(kSlice, "endpoints:\n  - nodeName: a\n"),
        "bad.yaml:8: EndpointSlice default/s: endpoints[0].addresses: must hold 1-100 addresses");
    add("slice_condition", cat(kSlice, "endpoints:\n  - addresses: [10.0.0.1]\n    conditions: {ready: yes}\n"),
        "bad.yaml:9: EndpointSlice default/s: endpoints[0].conditions.ready: must be true or false");
    // Deep in an array: the field is named exactly, on its own line.
    add("slice_condition_fourth_endpoint",
        cat(kSlice,
            "endpoints:\n  - addresses: [10.0.0.1]\n  - addresses: [10.0.0.2]\n  - addresses: [10.0.0.3]\n"
            "  - addresses: [10.0.0.4]\n    conditions:\n      serving: true\n      ready: \"no\"\n"),
        "bad.yaml:14: EndpointSlice default/s: endpoints[3].conditions.ready: must be true or false");
    add("slice_conditions_not_mapping",
        cat(kSlice, "endpoints:\n  - addresses: [10.0.0.1]\n  - addresses: [10.0.0.2]\n    conditions: [ready]\n"),
        "bad.yaml:10: EndpointSlice default/s: endpoints[1].conditions: must be a mapping");
    add("slice_endpoints_not_list", cat(kSlice, "endpoints: {addresses: [10.0.0.1]}\n"),
        "bad.yaml:7: EndpointSlice default/s: endpoints: must be a list");
    add("slice_hint_zone_name",
        cat(kSlice,
            "endpoints:\n  - addresses: [10.0.0.1]\n  - addresses: [10.0.0.2]\n    hints:\n      forZones:\n"
            "        - name: a\n        - {}\n"),
        "bad.yaml:13: EndpointSlice default/s: endpoints[1].hints.forZones[1].name: is required");
    add("slice_port", cat(kSlice, "ports:\n  - name: http\n    port: 0\n"),
        "bad.yaml:9: EndpointSlice default/s: ports[0].port: must be 1-65535");
    add("slice_port_protocol", cat(kSlice, "ports:\n  - protocol: ICMP\n"),
        "bad.yaml:8: EndpointSlice default/s: ports[0].protocol: unsupported value \"ICMP\" (supported: TCP, UDP, "
        "SCTP)");
    add("slice_address_type",
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: s\n  labels: "
        "{kubernetes.io/service-name: web}\naddressType: IPv5\n",
        "bad.yaml:6: EndpointSlice default/s: addressType: unsupported value \"IPv5\" (supported: IPv4, IPv6, FQDN)");
    // Pod.
    add("pod_container_port",
        cat(kPod, "spec:\n  containers:\n    - name: a\n      ports:\n        - containerPort: -1\n"),
        "bad.yaml:8: Pod default/p: spec.containers[0].ports[0].containerPort: must be 1-65535");
    add("pod_port_name",
        cat(kPod, "spec:\n  containers:\n    - name: a\n      ports:\n        - {name: Http, containerPort: 80}\n"),
        "bad.yaml:8: Pod default/p: spec.containers[0].ports[0].name: \"Http\": must consist of lower case letters, "
        "digits and '-'");
    add("pod_ip", cat(kPod, "status:\n  podIPs:\n    - ip: 10.0.0.256\n"),
        "bad.yaml:6: Pod default/p: status.podIPs[0].ip: not a valid IP address: \"10.0.0.256\"");
    add("pod_host_network", cat(kPod, "spec:\n  hostNetwork: \"true\"\n"),
        "bad.yaml:5: Pod default/p: spec.hostNetwork: must be true or false");
    // NetworkPolicy.
    add("np_operator",
        cat(kNp,
            "  ingress:\n    - from:\n        - podSelector:\n            matchExpressions:\n              - {key: a, "
            "operator: Equals, values: [x]}\n"),
        "bad.yaml:10: NetworkPolicy default/np: spec.ingress[0].from[0].podSelector.matchExpressions[0].operator: "
        "unsupported value \"Equals\" (supported: In, NotIn, Exists, DoesNotExist)");
    add("np_in_without_values",
        cat(kNp,
            "  egress:\n    - to:\n        - namespaceSelector:\n            matchExpressions:\n              - key: "
            "a\n                operator: In\n"),
        "bad.yaml:10: NetworkPolicy default/np: spec.egress[0].to[0].namespaceSelector.matchExpressions[0].values: "
        "must be non-empty when operator is In or NotIn");
    add("np_exists_with_values",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec:\n  podSelector:\n    "
        "matchExpressions:\n      - key: a\n        operator: Exists\n        values: [x]\n",
        "bad.yaml:9: NetworkPolicy default/np: spec.podSelector.matchExpressions[0].values: must be empty when "
        "operator is Exists or DoesNotExist");
    add("np_label_key",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec:\n  podSelector:\n    "
        "matchLabels:\n      \"a/b/c\": x\n",
        "bad.yaml:7: NetworkPolicy default/np: spec.podSelector.matchLabels[a/b/c]: key \"a/b/c\": name part may "
        "only hold letters, digits, '-', '_' and '.'");
    // Deeper than a Field keeps in place (control/objects/convert.cpp): the same paths and lines.
    add("np_deep_label_value",
        cat(kNp,
            "  ingress:\n    - from:\n        - podSelector: {}\n        - namespaceSelector:\n"
            "            matchExpressions:\n              - key: a\n                operator: In\n"
            "                values:\n                  - ok\n                  - \"-bad\"\n"),
        "bad.yaml:15: NetworkPolicy default/np: spec.ingress[0].from[1].namespaceSelector.matchExpressions[0]."
        "values[1]: \"-bad\": must start and end with a letter or digit");
    add("np_deep_label_key",
        cat(kNp,
            "  egress:\n    - to:\n        - podSelector:\n            matchLabels:\n              ok: x\n"
            "              \"a/b/c\": x\n"),
        "bad.yaml:11: NetworkPolicy default/np: spec.egress[0].to[0].podSelector.matchLabels[a/b/c]: key "
        "\"a/b/c\": name part may only hold letters, digits, '-', '_' and '.'");
    add("np_cidr", cat(kNp, "  ingress:\n    - from:\n        - ipBlock:\n            cidr: 10.0.0.0/33\n"),
        "bad.yaml:9: NetworkPolicy default/np: spec.ingress[0].from[0].ipBlock.cidr: not a valid CIDR: "
        "\"10.0.0.0/33\"");
    add("np_cidr_missing_prefix", cat(kNp, "  ingress:\n    - from:\n        - ipBlock:\n            cidr: 10.0.0.0\n"),
        "bad.yaml:9: NetworkPolicy default/np: spec.ingress[0].from[0].ipBlock.cidr: not a valid CIDR: "
        "\"10.0.0.0\"");
    add("np_except_outside",
        cat(kNp,
            "  ingress:\n    - from:\n        - ipBlock:\n            cidr: 10.0.0.0/16\n            except: "
            "[10.1.0.0/24]\n"),
        "bad.yaml:10: NetworkPolicy default/np: spec.ingress[0].from[0].ipBlock.except[0]: must be a strict subset "
        "of cidr \"10.0.0.0/16\"");
    add("np_except_same",
        cat(kNp,
            "  ingress:\n    - from:\n        - ipBlock:\n            cidr: 10.0.0.0/16\n            except: "
            "[10.0.0.0/16]\n"),
        "bad.yaml:10: NetworkPolicy default/np: spec.ingress[0].from[0].ipBlock.except[0]: must be a strict subset "
        "of cidr \"10.0.0.0/16\"");
    add("np_peer_empty", cat(kNp, "  ingress:\n    - from:\n        - {}\n"),
        "bad.yaml:8: NetworkPolicy default/np: spec.ingress[0].from[0]: must specify podSelector, namespaceSelector "
        "or ipBlock");
    add("np_peer_mixed",
        cat(kNp, "  ingress:\n    - from:\n        - podSelector: {}\n          ipBlock: {cidr: 10.0.0.0/8}\n"),
        "bad.yaml:8: NetworkPolicy default/np: spec.ingress[0].from[0]: ipBlock may not be combined with "
        "podSelector or namespaceSelector");
    add("np_port_range", cat(kNp, "  ingress:\n    - ports:\n        - port: 65536\n"),
        "bad.yaml:8: NetworkPolicy default/np: spec.ingress[0].ports[0].port: must be 1-65535");
    add("np_end_port_named", cat(kNp, "  ingress:\n    - ports:\n        - port: http\n          endPort: 90\n"),
        "bad.yaml:9: NetworkPolicy default/np: spec.ingress[0].ports[0].endPort: may not be used with a named port");
    add("np_end_port_without_port", cat(kNp, "  ingress:\n    - ports:\n        - endPort: 90\n"),
        "bad.yaml:8: NetworkPolicy default/np: spec.ingress[0].ports[0].endPort: may not be used without port");
    add("np_end_port_below", cat(kNp, "  ingress:\n    - ports:\n        - port: 100\n          endPort: 90\n"),
        "bad.yaml:9: NetworkPolicy default/np: spec.ingress[0].ports[0].endPort: must be greater than or equal to "
        "port (100)");
    add("np_policy_type", cat(kNp, "  policyTypes: [Ingress, Both]\n"),
        "bad.yaml:6: NetworkPolicy default/np: spec.policyTypes[1]: unsupported value \"Both\" (supported: Ingress, "
        "Egress)");
    add("np_policy_type_twice", cat(kNp, "  policyTypes:\n    - Egress\n    - Egress\n"),
        "bad.yaml:8: NetworkPolicy default/np: spec.policyTypes[1]: duplicate policy type \"Egress\"");
    add("np_ingress_not_list", cat(kNp, "  ingress: {}\n"),
        "bad.yaml:6: NetworkPolicy default/np: spec.ingress: must be a list");
    add("np_no_spec", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\n",
        "bad.yaml:1: NetworkPolicy default/np: spec: is required");
    // PayloadPolicy.
    add("pp_no_patterns", cat(kPp, "  direction: Egress\n"),
        "bad.yaml:4: PayloadPolicy default/pp: spec.patterns: is required (at least one pattern)");
    add("pp_empty_pattern", cat(kPp, "  patterns:\n    - abc\n    - \"\"\n"),
        "bad.yaml:7: PayloadPolicy default/pp: spec.patterns[1]: must not be empty");
    add("pp_direction", cat(kPp, "  patterns: [a]\n  direction: Inbound\n"),
        "bad.yaml:6: PayloadPolicy default/pp: spec.direction: unsupported value \"Inbound\" (supported: Ingress, "
        "Egress, Both)");
    add("pp_action", cat(kPp, "  patterns: [a]\n  action: Drop\n"),
        "bad.yaml:6: PayloadPolicy default/pp: spec.action: unsupported value \"Drop\" (supported: Deny, Allow, Log)");
    add("pp_port", cat(kPp, "  patterns: [a]\n  ports:\n    - {protocol: UDP, port: 0}\n"),
        "bad.yaml:7: PayloadPolicy default/pp: spec.ports[0].port: must be 1-65535");
    for (size_t i = 0; i < out.size(); ++i) out[i].yaml = texts[texts.size() - out.size() + i].c_str();
    return out;
}

INSTANTIATE_TEST_SUITE_P(Objects, BadObjects, ::testing::ValuesIn(bad_cases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace enidp::objects

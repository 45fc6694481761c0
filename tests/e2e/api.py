#!/usr/bin/env python3
"""The gRPC API and enidpctl end to end: the real enidp daemon with `api: {socket: ...}`, a pod
in a network namespace behind a tap (a real kernel TCP/UDP stack) and a backend in the VPC
namespace (the same topology and helpers as services.py).

Asserts: the socket is root-only (0600); `enidpctl apply` of a Service + EndpointSlice is
realized at once (generation desired == realized), shows in `enidpctl services`, and a probe
from the pod reaches the backend through the ClusterIP; `enidpctl conntrack` then shows the
flow; an invalid object exits 1 naming objects[i], file:line and the field, and changes
nothing; `enidpctl trace` JSON for a ClusterIP (new_flow with its backend), a Service
without endpoints (reject) and a non-Service destination; `get -o json|yaml`; delete makes the
Service go from the store and the data path. Prints how long applying 1,000 Services over
gRPC takes to be visible in the data path.
"""
import json
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import e2e_main  # this directory
from services import CLIENT, SERVER  # the backend and probe programs of the Services e2e test

sys.path.insert(0, os.path.join(os.environ.get("ENIDP_SOURCE", "."), "scripts"))
from enidp_topology import VPC_HOST, Topology, run  # noqa: E402

BUILD = os.environ.get("ENIDP_BUILD", "build")
CTL = os.path.join(BUILD, "control/ctl/enidpctl")

WEB = textwrap.dedent(f"""\
    apiVersion: v1
    kind: Service
    metadata: {{name: web, namespace: demo}}
    spec:
      clusterIP: 10.96.0.10
      ports: [{{name: http, port: 80, targetPort: 8080, protocol: TCP}}]
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata:
      name: web-1
      namespace: demo
      labels: {{kubernetes.io/service-name: web}}
    addressType: IPv4
    endpoints:
      - addresses: [{VPC_HOST}]
        conditions: {{ready: true}}
    ports: [{{name: http, port: 8080, protocol: TCP}}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {{name: empty, namespace: demo}}
    spec:
      clusterIP: 10.96.0.99
      ports: [{{name: tcp, port: 80, protocol: TCP}}]
    """)

BAD = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata: {name: ok, namespace: demo}
    spec:
      clusterIP: 10.96.0.20
      ports: [{port: 80, protocol: TCP}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: broken, namespace: demo}
    spec:
      clusterIP: 10.96.0.21
      ports:
        - port: 800000
          protocol: TCP
    """)


class Api(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="enidp-api-")
        cls.sock = os.path.join(cls.work, "run", "enidp.sock")  # the directory is created by enidp
        cls.topo = Topology(BUILD, prefix="enidp-api", pods=("pod-c",), api=cls.sock)
        cls.topo.setup_vpc()
        cls.server = subprocess.Popen(["ip", "netns", "exec", cls.topo.vpc, sys.executable, "-c", SERVER, VPC_HOST])
        cls.topo.start_enidp()
        cls.topo.start_pod("pod-c")
        ok, out = cls.topo.wait_ping(VPC_HOST, netns=cls.topo.podc_ns, src=None)
        assert ok, out

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        cls.server.wait()
        cls.topo.cleanup()
        subprocess.run(["rm", "-rf", cls.work])

    def ctl(self, *args, ok=True):
        r = run([CTL, "--socket", self.sock] + [str(a) for a in args], check=False)
        if ok:
            self.assertEqual(r.returncode, 0, f"enidpctl {' '.join(map(str, args))}: {r.stderr}")
        return r

    def ctl_json(self, *args):
        return json.loads(self.ctl(*args, "-o", "json").stdout)

    def write(self, name, text):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def probe(self, kind, host, port):
        r = run(["ip", "netns", "exec", self.topo.podc_ns, sys.executable, "-c", CLIENT, kind, host, str(port)],
                check=False)
        return r.stdout.strip()

    def services(self):
        return sorted(o["metadata"]["name"] for o in self.ctl_json("list", "Service")["items"])

    def test_1_socket_is_root_only(self):
        st = os.stat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_uid, 0)

    def test_2_apply_is_realized_and_forwarded(self):
        r = self.ctl("apply", "-f", self.write("web.yaml", WEB), "--wait")
        self.assertIn("3 object(s) applied, changed", r.stdout)
        # --wait: GetGenerations waited server side until the apply was in the data path.
        self.assertRegex(r.stdout, r"realized \(generation \d+\) after [0-9.]+ ms")
        gen = self.ctl_json("generation")
        self.assertEqual(gen["desired"], gen["realized"], "the loop reconciles an apply at once")
        dump = self.ctl("services").stdout
        self.assertIn("demo/web:http/TCP", dump)
        self.assertIn("10.0.0.100:8080", dump)
        self.assertEqual(self.probe("tcp", "10.96.0.10", 80), "peer=10.96.0.10:80 data=backend 8080")
        self.assertEqual(self.services(), ["empty", "web"])
        table = self.ctl("list", "Service").stdout
        self.assertRegex(table, r"Service\s+demo\s+web\s+grpc")

    def test_3_conntrack_shows_the_flow(self):
        self.assertIn("backend 8080", self.probe("tcp", "10.96.0.10", 80))
        ct = self.ctl_json("conntrack", "--dst", "10.96.0.10", "--proto", "tcp")
        self.assertGreaterEqual(ct["matched"], 1, ct)
        flow = ct["flows"][0]
        self.assertEqual(flow["frontend"], "10.96.0.10:80")
        self.assertEqual(flow["backend"], f"{VPC_HOST}:8080")
        self.assertTrue(flow["client"].startswith("10.0.0.12:"))
        self.assertEqual(flow["service"], "demo/web:http/TCP")
        text = self.ctl("conntrack", "--service", "demo/web").stdout
        self.assertIn("10.96.0.10:80", text)
        bad = self.ctl("conntrack", "--state", "open", ok=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("conntrack.state: \"open\" is not one of", bad.stderr)

    def test_3b_per_service_counters(self):
        before = {s["service"]: s for s in self.ctl_json("stats", "--services")["services"]}
        self.assertIn("backend 8080", self.probe("tcp", "10.96.0.10", 80))
        self.assertEqual(self.probe("tcp", "10.96.0.99", 80), "refused")  # the Service without endpoints
        after = {s["service"]: s for s in self.ctl_json("stats", "--services")["services"]}
        web = after["demo/web:http/TCP"]
        self.assertEqual(web["new_flows"], before["demo/web:http/TCP"]["new_flows"] + 1)
        self.assertEqual(web["backends"][0]["endpoint"], f"{VPC_HOST}:8080")
        self.assertGreaterEqual(web["backends"][0]["flows"], 1)
        empty = [v for k, v in after.items() if k.startswith("demo/empty:")]
        self.assertTrue(any(e["rejected"] >= 1 for e in empty), after)
        self.assertIn("demo/web:http/TCP", self.ctl("stats", "--services").stdout)

    def test_4_invalid_object_changes_nothing(self):
        before = self.ctl_json("list", "Service")
        gen = self.ctl_json("generation")
        path = self.write("bad.yaml", BAD)
        r = self.ctl("apply", "-f", path, ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"objects[1]: {path}:14: Service demo/broken: spec.ports[0].port: must be 1-65535", r.stderr)
        self.assertEqual(self.ctl_json("list", "Service"), before, "all or nothing: 'ok' was not stored either")
        self.assertEqual(self.ctl_json("generation"), gen)
        # Usage errors exit 2.
        self.assertEqual(self.ctl("apply", ok=False).returncode, 2)
        self.assertEqual(self.ctl("trace", "--from", "demo/pod-c", "--to", "10.96.0.10", ok=False).returncode, 2)

    def test_5_trace(self):
        t = self.ctl_json("trace", "--from", "demo/pod-c", "--to", "10.96.0.10", "--dport", 80, "--proto", "tcp")
        self.assertEqual(t["verdict"], "forward")
        self.assertEqual(t["service_stage"], "new_flow")
        self.assertEqual(t["service"], "demo/web:http/TCP")
        self.assertEqual(t["frontend_kind"], "cluster_ip")
        self.assertEqual(t["backend"], f"{VPC_HOST}:8080")
        self.assertEqual(t["packet"], {"protocol": "TCP", "src": "10.0.0.12:40000", "dst": "10.96.0.10:80"})
        self.assertEqual(t["translated"], {"src": "10.0.0.12:40000", "dst": f"{VPC_HOST}:8080"})
        self.assertEqual(t["output_port"]["role"], "eni")
        self.assertEqual(t["output_port"]["owner"], "eni-c")
        self.assertIsNone(t["policy"])

        t = self.ctl_json("trace", "--from", "10.0.0.12", "--to", "10.96.0.99", "--dport", 80, "--proto", "tcp")
        self.assertEqual(t["verdict"], "reject")
        self.assertEqual(t["service_stage"], "reject")
        self.assertIsNone(t["backend"])
        self.assertEqual(t["output_port"]["owner"], "demo/pod-c", "the RST goes back to the client pod")

        t = self.ctl_json("trace", "--from", "demo/pod-c", "--to", VPC_HOST, "--dport", 22, "--proto", "udp",
                          "--sport", 5000)
        self.assertEqual(t["verdict"], "forward")
        self.assertEqual(t["service_stage"], "not_service")
        self.assertIsNone(t["service"])
        self.assertEqual(t["translated"], {"src": "10.0.0.12:5000", "dst": f"{VPC_HOST}:22"})
        self.assertEqual(t["output_port"]["owner"], "eni-c")

        text = self.ctl("trace", "--from", "demo/pod-c", "--to", "10.96.0.10", "--dport", 80).stdout
        self.assertIn("verdict   forward (new_flow)", text)
        r = self.ctl("trace", "--from", "demo/ghost", "--to", "10.96.0.10", "--dport", 80, ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("trace.from: pod demo/ghost", r.stderr)
        r = self.ctl("trace", "--from", "demo/pod-c", "--to", "10.96.0.10", "--dport", 70000, ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("trace.dport: must be 1-65535", r.stderr)

    def test_6_get(self):
        svc = self.ctl_json("get", "Service", "demo/web")
        self.assertEqual(svc["spec"]["clusterIP"], "10.96.0.10")
        y = self.ctl("get", "Service", "demo/web", "-o", "yaml").stdout
        self.assertIn("clusterIP: 10.96.0.10", y)
        self.assertIn("name: web", y)
        r = self.ctl("get", "Service", "demo/nope", ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not found: Service demo/nope not found", r.stderr)
        st = self.ctl_json("stats")
        self.assertIn("lb", st)

    def test_7_delete(self):
        self.ctl("delete", "Service", "demo/web")
        self.assertEqual(self.services(), ["empty"])
        gen = self.ctl_json("generation")
        self.assertEqual(gen["desired"], gen["realized"])
        self.assertNotIn("demo/web:", self.ctl("services").stdout)
        t = self.ctl_json("trace", "--from", "demo/pod-c", "--to", "10.96.0.10", "--dport", 80)
        self.assertEqual(t["service_stage"], "not_service")
        self.assertEqual(self.ctl("delete", "Service", "demo/web", ok=False).returncode, 1)
        self.ctl("delete", "EndpointSlice", "demo/web-1")

    def test_8_bulk_apply_visible(self):
        # ENIDP_API_BULK=10000 ENIDP_API_BULK_ENDPOINTS=10 for the figure (10,000 x 10).
        n = int(os.environ.get("ENIDP_API_BULK", "1000"))
        eps = int(os.environ.get("ENIDP_API_BULK_ENDPOINTS", "1"))
        docs = []
        for i in range(n):
            docs.append(textwrap.dedent(f"""\
                apiVersion: v1
                kind: Service
                metadata: {{name: bulk-{i}, namespace: bulk}}
                spec:
                  clusterIP: 10.{97 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}
                  ports: [{{port: 80, protocol: TCP}}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: bulk-{i}-1
                  namespace: bulk
                  labels: {{kubernetes.io/service-name: bulk-{i}}}
                addressType: IPv4
                endpoints: [{", ".join(f"{{addresses: [10.{100 + e}.{i // 250 % 250}.{i % 250 + 1}]}}" for e in range(eps))}]
                ports: [{{port: 8080, protocol: TCP}}]
                """))
        path = self.write("bulk.yaml", "---\n".join(docs))
        t0 = time.time()
        self.ctl("apply", "-f", path)
        t_apply = time.time() - t0
        while True:
            gen = self.ctl_json("generation")
            if gen["desired"] == gen["realized"]:
                break
            self.assertLess(time.time() - t0, 30)
        t_visible = time.time() - t0
        last = n - 1
        t = self.ctl_json("trace", "--from", "demo/pod-c", "--to",
                          f"10.{97 + last // 62500}.{last // 250 % 250}.{last % 250 + 1}", "--dport", 80)
        self.assertEqual(t["service"], f"bulk/bulk-{last}:80/TCP")
        self.assertEqual(t["backends_in_set"], eps)
        print(f"\n    {n} Services + {n} EndpointSlices x {eps} endpoints: enidpctl apply (parse + gRPC + store) {t_apply:.2f} s, "
              f"visible in the data path (realized) after {t_visible:.2f} s", file=sys.stderr)
        st = self.ctl_json("stats")
        self.assertGreaterEqual(st["lb"]["service_ports"], n)


    def test_9_one_change_latency(self):
        # One EndpointSlice change applied by enidpctl until GetGenerations says realized:
        # includes two enidpctl process starts per sample, and a full table rebuild (the
        # reconciler rebuilds the whole Service table; test_8's Services are still there).
        samples = []
        for i in range(30):
            path = self.write("one.yaml", WEB.replace("targetPort: 8080", f"targetPort: {9000 + i % 2}"))
            t0 = time.time()
            self.ctl("apply", "-f", path)
            while True:
                gen = self.ctl_json("generation")
                if gen["desired"] == gen["realized"]:
                    break
            samples.append(time.time() - t0)
        samples.sort()
        print(f"\n    one change, apply -> realized ({len(self.services())} Services stored): "
              f"p50 {samples[len(samples) // 2] * 1000:.1f} ms, max {samples[-1] * 1000:.1f} ms", file=sys.stderr)

    def test_9b_ports_pool_and_node_settings(self):
        ports = self.ctl_json("ports")
        self.assertEqual([e["name"] for e in ports["enis"]], ["eni-c"])
        eni = ports["enis"][0]
        self.assertEqual(eni["pods"], ["demo/pod-c"])
        self.assertEqual(eni["ip"], "10.0.0.12")
        self.assertTrue(eni["link_up"])
        self.assertGreater(int(eni["rx_packets"]), 0, "the earlier tests' replies came in on it")  # uint64: a JSON string
        self.assertEqual(len(ports["pods"]), 1)
        pod = ports["pods"][0]
        self.assertEqual((pod["pod"], pod["eni"], pod["kind"]), ("demo/pod-c", "eni-c", "tap"))
        self.assertGreater(int(pod["rx_packets"]), 0)
        self.assertIn("demo/pod-c", self.ctl("ports").stdout)
        pool = self.ctl_json("pool")
        self.assertEqual((pool["total"], pool["attached"], pool["free"]), (1, 1, 0))
        self.assertEqual(pool["enis"][0]["state"], "attached")
        self.assertIn("1 ENIs: 1 attached, 0 free", self.ctl("pool").stdout)

        # A NodePort Service answers on the node IPs: none are configured, so not yet.
        np = self.write("np.yaml", textwrap.dedent(f"""\
            apiVersion: v1
            kind: Service
            metadata: {{name: np, namespace: demo}}
            spec:
              type: NodePort
              clusterIP: 10.96.0.30
              ports: [{{port: 80, targetPort: 8080, nodePort: 30080, protocol: TCP}}]
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: np-1
              namespace: demo
              labels: {{kubernetes.io/service-name: np}}
            addressType: IPv4
            endpoints: [{{addresses: [{VPC_HOST}], conditions: {{ready: true}}}}]
            ports: [{{port: 8080, protocol: TCP}}]
            """))
        self.ctl("apply", "-f", np)
        node = self.ctl_json("node")
        self.assertEqual(node["node_name"], "demo-node")
        self.assertEqual(node["node_ips"], [])
        trace = ["trace", "--from", VPC_HOST, "--to", "10.0.0.12", "--dport", 30080, "--proto", "tcp"]
        self.assertEqual(self.ctl_json(*trace)["service_stage"], "not_service")

        # Changed at run time: the table is rebuilt with the new node IP, at once.
        node = self.ctl_json("node", "set", "--node-ips", "10.0.0.12", "--zone", "zone-b", "--log-allow-one-in", 1)
        self.assertEqual((node["node_ips"], node["zone"], node["policy"]["log_allow_one_in"]),
                         (["10.0.0.12"], "zone-b", 1))
        t = self.ctl_json(*trace)
        self.assertEqual((t["verdict"], t["frontend_kind"], t["backend"]), ("forward", "node_port", f"{VPC_HOST}:8080"))

        # Invalid and fixed fields are refused, naming the field, and nothing changes.
        r = self.ctl("node", "set", "--node-ips", "10.0.0.12,10.0.0.x", "--zone", "zone-c", ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid argument: settings.node_ips[1]: \"10.0.0.x\" is not an IPv4 address", r.stderr)
        node = self.ctl_json("node")
        self.assertEqual((node["node_ips"], node["zone"]), (["10.0.0.12"], "zone-b"))

        self.ctl("node", "set", "--node-ips", "")
        self.assertEqual(self.ctl_json(*trace)["service_stage"], "not_service")
        self.assertRegex(self.ctl("node").stdout, r"node_ips +- +changeable")
        self.ctl("delete", "Service", "demo/np")
        self.ctl("delete", "EndpointSlice", "demo/np-1")


if __name__ == "__main__":
    e2e_main.run("api", os.path.join(BUILD, "control/daemon/enidp"), "network namespaces, taps, DPDK")

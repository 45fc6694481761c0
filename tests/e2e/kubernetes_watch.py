#!/usr/bin/env python3
"""The daemon driven by a Kubernetes API server: enidp lists and watches the fake API server
(tests/k8s/fake_apiserver.py, the real list/watch protocol) and programs Services from it,
with a kernel pod behind a tap and a backend in the VPC namespace.

Asserts: Services listed at start-up are served; an EndpointSlice change made on the API
server moves new connections; a Service created later is served, and deleting it makes it
refuse (no endpoints → not a Service → routed to the VPC, where nothing listens); an invalid
object from the server is reported and the rest keeps working; the metrics endpoint reports
the realized generation and conntrack; the API server restarting is survived.
"""
import os
import re
import subprocess
import sys
import textwrap
import time
import unittest
import urllib.request

import e2e_main  # this directory

sys.path.insert(0, os.path.join(os.environ.get("ENIDP_SOURCE", "."), "scripts"))
from enidp_topology import VPC_HOST, Topology, run, wait_for  # noqa: E402

BUILD = os.environ.get("ENIDP_BUILD", "build")
SOURCE = os.environ.get("ENIDP_SOURCE", ".")
FAKE = os.path.join(SOURCE, "tests/k8s/fake_apiserver.py")
METRICS_PORT = 19310


def service(name, vip, port_name="http"):
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Service
        metadata: {{name: {name}, namespace: demo}}
        spec:
          clusterIP: {vip}
          ports: [{{name: {port_name}, port: 80, targetPort: {port_name}, protocol: TCP}}]
        """)


def endpoints(svc, port, port_name="http"):
    return textwrap.dedent(f"""\
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: {svc}-1
          namespace: demo
          labels: {{kubernetes.io/service-name: {svc}}}
        addressType: IPv4
        endpoints:
          - addresses: [{VPC_HOST}]
            nodeName: vpc-host
            conditions: {{ready: true}}
        ports: [{{name: {port_name}, port: {port}, protocol: TCP}}]
        """)


SERVER = textwrap.dedent("""\
    import socket, sys, threading
    def tcp(port):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((sys.argv[1], port)); s.listen(64)
        while True:
            c, _ = s.accept(); c.sendall(b"backend %d\\n" % port); c.close()
    for p in (8080, 8081):
        threading.Thread(target=tcp, args=(p,), daemon=True).start()
    threading.Event().wait()
    """)

CLIENT = textwrap.dedent("""\
    import socket, sys
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
        print(s.recv(100).decode().strip())
    except ConnectionRefusedError:
        print("refused")
    except OSError as e:
        print("error", e)
    """)


class KubernetesWatch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Topology(BUILD, prefix="enidp-k8s", pods=("pod-c",))  # for its work dir
        d = cls.tmp.dir
        cls.state = os.path.join(d, "apiserver.json")
        with open(os.path.join(d, "cluster.yaml"), "w") as f:
            f.write(service("web", "10.96.0.10") + "---\n" + endpoints("web", 8080))
        with open(os.path.join(d, "token"), "w") as f:
            f.write("s3cret\n")
        cls.start_apiserver()
        cls.topo = Topology(BUILD, prefix="enidp-k8s", pods=("pod-c",), workdir=d, extra_config=[
            "kubernetes:",
            f"  server: http://127.0.0.1:{cls.port}",
            f"  token_file: {os.path.join(d, 'token')}",
            f"metrics: {{address: 127.0.0.1, port: {METRICS_PORT}}}",
        ])
        cls.topo.setup_vpc()
        cls.backend = subprocess.Popen(["ip", "netns", "exec", cls.topo.vpc, sys.executable, "-c", SERVER, VPC_HOST])
        cls.topo.start_enidp()
        cls.topo.start_pod("pod-c")
        ok, out = cls.topo.wait_ping(VPC_HOST, netns=cls.topo.podc_ns, src=None)
        assert ok, out

    @classmethod
    def start_apiserver(cls, port=0):
        cmd = [sys.executable, FAKE, "--port", str(port), "--token", "s3cret", "--state", cls.state,
               "--bookmark-interval", "1", os.path.join(cls.tmp.dir, "cluster.yaml")]
        cls.apiserver = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = cls.apiserver.stdout.readline()
        cls.port = int(line.split()[1])

    @classmethod
    def tearDownClass(cls):
        cls.backend.kill()
        cls.backend.wait()
        cls.topo.cleanup()
        cls.apiserver.kill()
        cls.apiserver.wait()
        cls.apiserver.stdout.close()

    def post(self, path, body=""):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.read()

    def probe(self, vip="10.96.0.10"):
        r = run(["ip", "netns", "exec", self.topo.podc_ns, sys.executable, "-c", CLIENT, vip, "80"], check=False)
        return r.stdout.strip()

    def wait_probe(self, want, vip="10.96.0.10", timeout=10):
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            got = self.probe(vip)
            if got == want:
                return got
            time.sleep(0.2)
        self.fail(f"probe {vip}: wanted {want!r}, last got {got!r}")

    def log(self):
        with open(os.path.join(self.topo.dir, "enidp.log")) as f:
            return f.read()

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5) as r:
            return r.read().decode()

    def test_1_listed_service_is_served(self):
        self.wait_probe("backend 8080")
        self.assertIn("kubernetes: watching", self.log())

    def test_2_endpoint_change_on_the_server_moves_new_connections(self):
        self.post("/_test/apply", endpoints("web", 8081))
        self.wait_probe("backend 8081")

    def test_3_service_created_then_deleted(self):
        self.post("/_test/apply", service("api", "10.96.0.20") + "---\n" + endpoints("api", 8080))
        self.wait_probe("backend 8080", vip="10.96.0.20")
        self.post("/_test/delete", service("api", "10.96.0.20"))
        # Not a Service any more: the packet goes to the VPC as it is, where nobody has that address.
        self.wait_probe("error timed out", vip="10.96.0.20", timeout=15)

    def test_4_invalid_object_is_reported_and_the_rest_keeps_working(self):
        bad = service("broken", "10.96.0.30").replace("port: 80,", "port: 0,")
        self.post("/_test/apply", bad)
        wait_for(lambda: re.search(r"kubernetes: .*Service demo/broken: spec\.ports\[0\]\.port", self.log()), 10,
                 "the invalid Service reported")
        self.assertIn("backend", self.probe())

    def test_5_metrics_report_generations_and_conntrack(self):
        m = self.metrics()
        desired = re.search(r"^enidp_desired_generation (\d+)", m, re.M)
        realized = re.search(r"^enidp_realized_generation (\d+)", m, re.M)
        self.assertTrue(desired and realized, m[:500])
        self.assertEqual(desired.group(1), realized.group(1))
        self.assertRegex(m, r"enidp_network_programming_duration_seconds_count [1-9]")
        # Every publication counted by how it was built (the watch's updates: some publications).
        pubs = re.findall(r'^enidp_service_table_publications_total\{build="(\w+)",churn="(\w+)"\} (\d+)', m, re.M)
        self.assertEqual(len(pubs), 4, m[:500])
        self.assertGreater(sum(int(n) for _, _, n in pubs), 0)
        with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/readyz", timeout=5) as r:
            self.assertEqual(r.status, 200)

    def test_6_apiserver_restart_is_survived(self):
        self.apiserver.kill()
        self.apiserver.wait()
        self.apiserver.stdout.close()
        time.sleep(1)
        self.start_apiserver(self.port)
        self.post("/_test/apply", endpoints("web", 8080))
        self.wait_probe("backend 8080", timeout=30)


if __name__ == "__main__":
    e2e_main.run("kubernetes_watch", os.path.join(BUILD, "control/daemon/enidp"), "network namespaces, taps, DPDK")

#!/usr/bin/env python3
"""Services end to end: the real enidp daemon with Kubernetes manifests, a pod in a network
namespace behind a tap (a real kernel TCP/UDP stack) and backends in the VPC namespace.

Asserts: a TCP connection and a UDP exchange through ClusterIPs reach the backend and the
pod sees the ClusterIP as its peer; a Service without endpoints refuses at once (TCP RST,
ICMP port unreachable), as kube-proxy's REJECT; a manifest change delivered by SIGHUP moves
new connections to the new endpoint and purges the removed endpoint's flows; a bad
manifest on reload is rejected with file:line and changes nothing.
"""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import unittest

import e2e_main  # this directory

sys.path.insert(0, os.path.join(os.environ.get("ENIDP_SOURCE", "."), "scripts"))
from enidp_topology import VPC_HOST, Topology, run, wait_for  # noqa: E402

BUILD = os.environ.get("ENIDP_BUILD", "build")


def manifests(endpoint_port):
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Service
        metadata: {{name: web, namespace: demo}}
        spec:
          clusterIP: 10.96.0.10
          ports: [{{name: http, port: 80, targetPort: http, protocol: TCP}}]
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
            nodeName: vpc-host
            conditions: {{ready: true}}
        ports: [{{name: http, port: {endpoint_port}, protocol: TCP}}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: dns, namespace: demo}}
        spec:
          clusterIP: 10.96.0.53
          ports: [{{port: 53, targetPort: 5353, protocol: UDP}}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: dns-1
          namespace: demo
          labels: {{kubernetes.io/service-name: dns}}
        addressType: IPv4
        endpoints:
          - addresses: [{VPC_HOST}]
            nodeName: vpc-host
        ports: [{{port: 5353, protocol: UDP}}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: empty, namespace: demo}}
        spec:
          clusterIP: 10.96.0.99
          ports: [{{name: tcp, port: 80, protocol: TCP}}, {{name: udp, port: 53, protocol: UDP}}]
        """)


# Backends in the VPC namespace: a TCP server that says which port it is, and a UDP echo.
SERVER = textwrap.dedent("""\
    import socket, sys, threading
    host = sys.argv[1]
    def tcp(port):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port)); s.listen(64)
        while True:
            c, _ = s.accept(); c.sendall(b"backend %d\\n" % port); c.close()
    def udp(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((host, port))
        while True:
            d, a = s.recvfrom(2048); s.sendto(b"echo " + d, a)
    for p in (8080, 8081):
        threading.Thread(target=tcp, args=(p,), daemon=True).start()
    udp(5353)
    """)

# Runs in the pod's namespace: one probe, prints a result line.
CLIENT = textwrap.dedent("""\
    import socket, sys
    kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        if kind == "tcp":
            s = socket.create_connection((host, port), timeout=3)
            print("peer=%s:%d data=%s" % (s.getpeername() + (s.recv(100).decode().strip(),)))
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
            s.connect((host, port)); s.send(b"ping")
            d = s.recv(100)
            print("peer=%s:%d data=%s" % (s.getpeername() + (d.decode(),)))
    except ConnectionRefusedError:
        print("refused")
    except socket.timeout:
        print("timeout")
    """)


class Services(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology(BUILD, prefix="enidp-svc", pods=("pod-c",), manifests=manifests(8080))
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

    def probe(self, kind, host, port):
        r = run(["ip", "netns", "exec", self.topo.podc_ns, sys.executable, "-c", CLIENT, kind, host, str(port)],
                check=False)
        return r.stdout.strip()

    def log(self):
        with open(os.path.join(self.topo.dir, "enidp.log")) as f:
            return f.read()

    def test_1_tcp_through_cluster_ip(self):
        self.assertEqual(self.probe("tcp", "10.96.0.10", 80), "peer=10.96.0.10:80 data=backend 8080")

    def test_2_udp_through_cluster_ip(self):
        self.assertEqual(self.probe("udp", "10.96.0.53", 53), "peer=10.96.0.53:53 data=echo ping")

    def test_3_no_endpoints_is_refused(self):
        t0 = time.time()
        self.assertEqual(self.probe("tcp", "10.96.0.99", 80), "refused")
        self.assertEqual(self.probe("udp", "10.96.0.99", 53), "refused")
        self.assertLess(time.time() - t0, 2.5, "REJECT answers at once, no timeout")
        st = self.topo.wait_stats(lambda s: s["events"]["service_rejected"] >= 2, 5, "service_rejected counted")
        self.assertGreaterEqual(st["events"]["service_rejected"], 2)

    def test_4_reload_moves_new_connections_and_purges_old_flows(self):
        for _ in range(3):
            self.assertIn("backend 8080", self.probe("tcp", "10.96.0.10", 80))
        self.topo.write_manifests(manifests(8081))
        self.topo.enidp.send_signal(signal.SIGHUP)
        wait_for(lambda: "flows purged" in self.log() and self.log().count("services: table") >= 2, 10,
                 "service table rebuilt")
        self.assertEqual(self.probe("tcp", "10.96.0.10", 80), "peer=10.96.0.10:80 data=backend 8081")
        st = self.topo.wait_stats(lambda s: s["lb"]["conntrack"]["purged"] >= 1, 5, "flows of the old endpoint purged")
        self.assertGreaterEqual(st["lb"]["conntrack"]["purged"], 1)

    def test_5_bad_manifest_on_reload_changes_nothing(self):
        before = self.probe("tcp", "10.96.0.10", 80)
        bad = manifests(8081).replace("port: 80, targetPort: http", "port: 800000, targetPort: http")
        self.topo.write_manifests(bad)
        self.topo.enidp.send_signal(signal.SIGHUP)
        wait_for(lambda: "manifests rejected" in self.log(), 10, "reload rejected")
        self.assertRegex(self.log(), r"services\.yaml:\d+: Service demo/web: spec\.ports\[0\]\.port")
        self.assertEqual(self.probe("tcp", "10.96.0.10", 80), before)
        self.topo.write_manifests(manifests(8081))


if __name__ == "__main__":
    e2e_main.run("services", os.path.join(BUILD, "control/daemon/enidp"), "network namespaces, taps, DPDK")

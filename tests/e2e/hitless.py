#!/usr/bin/env python3
"""Hitless Service updates through the real daemon: a pod keeps opening TCP connections and
exchanging UDP datagrams through two ClusterIPs while 10,000 other Services churn over the gRPC
API (enidpctl): a bulk apply of 10,000 Services + EndpointSlices, rounds of endpoint moves in
every one of them, Service changes and deletions, and the traffic's own Service gaining and
losing a second endpoint.

Asserts: every connection and every datagram of the traffic succeeds (no refusal, no timeout,
answers only from the Service's endpoints); the daemon's drop counters by reason move only for
the reasons the kernel's own chatter causes (IPv6, ARP for others, IP options), never for
Services, conntrack, TX or policy; every change is realized. Prints the worker's loop stalls
(> 100 us, > 1 ms) during the churn next to an equally long quiet window before it (this shared
2-core VM stalls the worker now and then whatever the daemon does, so they are reported, not
asserted). ENIDP_HITLESS_SERVICES (default 10000) and ENIDP_HITLESS_ROUNDS (default 6) size it.
"""
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import e2e_main  # this directory
from services import SERVER  # the backends: TCP 8080/8081 say which port they are, UDP 5353 echoes

sys.path.insert(0, os.path.join(os.environ.get("ENIDP_SOURCE", "."), "scripts"))
from enidp_topology import VPC_HOST, Topology, run, wait_for  # noqa: E402

BUILD = os.environ.get("ENIDP_BUILD", "build")
CTL = os.path.join(BUILD, "control/ctl/enidpctl")
N = int(os.environ.get("ENIDP_HITLESS_SERVICES", "10000"))
ROUNDS = int(os.environ.get("ENIDP_HITLESS_ROUNDS", "6"))

# Runs in the pod's namespace until the stop file appears: one TCP connection after another to
# the web ClusterIP and one UDP datagram after another to the dns ClusterIP; prints the counts.
TRAFFIC = textwrap.dedent("""\
    import json, os, socket, sys, time
    stop = sys.argv[1]
    out = {"tcp_ok": 0, "tcp_fail": [], "udp_ok": 0, "udp_fail": [], "backends": {}}
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2); u.connect(("10.96.0.53", 53))
    i = 0
    while not os.path.exists(stop):
        i += 1
        try:
            s = socket.create_connection(("10.96.0.10", 80), timeout=2)
            data = s.recv(100).decode().strip(); s.close()
            if data.startswith("backend "):
                out["tcp_ok"] += 1
                out["backends"][data] = out["backends"].get(data, 0) + 1
            else:
                out["tcp_fail"].append("%.3f %r" % (time.time(), data))
        except Exception as e:
            out["tcp_fail"].append("%.3f %s" % (time.time(), e))
        try:
            u.send(b"p%d" % i)
            if u.recv(100) == b"echo p%d" % i: out["udp_ok"] += 1
            else: out["udp_fail"].append("%.3f wrong answer" % time.time())
        except Exception as e:
            out["udp_fail"].append("%.3f %s" % (time.time(), e))
    print(json.dumps(out))
    """)

# Drops the kernels' own traffic causes on this topology (IPv6 ND/MLD, ARP for the other
# addresses of the VPC bridge, IGMP with router alert); nothing else may move.
NOISE = {"ipv6_unsupported", "arp_not_for_us", "ipv4_options", "l2_not_for_us", "ethertype_unsupported"}


def web(second_ready):
    """web (TCP, backends 8080 and 8081 on the VPC host; 8081 ready or terminating, as in a rolling
    update: new connections only to ready endpoints, established ones keep going) and dns (UDP)."""
    cond = "{ready: true}" if second_ready else "{ready: false, serving: true, terminating: true}"
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
          name: web-8080
          namespace: demo
          labels: {{kubernetes.io/service-name: web}}
        addressType: IPv4
        endpoints: [{{addresses: [{VPC_HOST}], conditions: {{ready: true}}}}]
        ports: [{{name: http, port: 8080, protocol: TCP}}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: web-8081
          namespace: demo
          labels: {{kubernetes.io/service-name: web}}
        addressType: IPv4
        endpoints: [{{addresses: [{VPC_HOST}], conditions: {cond}}}]
        ports: [{{name: http, port: 8081, protocol: TCP}}]
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
        endpoints: [{{addresses: [{VPC_HOST}], conditions: {{ready: true}}}}]
        ports: [{{port: 5353, protocol: UDP}}]
        """)


def bulk(first, count, version, target_port=8080):
    """Services bulk/svc-i and their slices (two endpoints, one moved by `version`) as a List."""
    items = []
    for i in range(first, first + count):
        items.append({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": f"svc-{i}", "namespace": "bulk"},
                      "spec": {"clusterIP": f"10.{128 + i // 65536}.{i // 256 % 256}.{i % 256}",
                               "ports": [{"name": "http", "port": 80, "targetPort": target_port}]}})
        eps = [{"addresses": [f"11.{i // 256 % 256}.{i % 256}.{2 * e + (version & 1 if e == 0 else 0) + 1}"],
                "conditions": {"ready": True}} for e in range(2)]
        items.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                      "metadata": {"name": f"svc-{i}-1", "namespace": "bulk",
                                   "labels": {"kubernetes.io/service-name": f"svc-{i}"}},
                      "addressType": "IPv4", "endpoints": eps,
                      "ports": [{"name": "http", "port": target_port, "protocol": "TCP"}]})
    return {"apiVersion": "v1", "kind": "List", "items": items}


class Hitless(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="enidp-hitless-")
        cls.sock = os.path.join(cls.work, "enidp.sock")
        cls.topo = Topology(BUILD, prefix="enidp-hl", pods=("pod-c",), api=cls.sock)
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

    def ctl(self, *args):
        r = run([CTL, "--socket", self.sock] + [str(a) for a in args], check=False)
        self.assertEqual(r.returncode, 0, f"enidpctl {' '.join(map(str, args))}: {r.stderr}")
        return r.stdout

    def apply(self, name, doc):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        self.ctl("apply", "-f", path)

    def stats(self):
        return json.loads(self.ctl("stats", "-o", "json"))

    def realized(self):
        gen = json.loads(self.ctl("generation", "-o", "json"))
        return gen["desired"] == gen["realized"]

    @staticmethod
    def stalls(st):
        w = st["workers"][0]
        return w["loop_gaps_over_100us"], w["loop_gaps_over_1ms"], w["max_loop_gap_us"]

    def test_churn_is_hitless(self):
        self.apply("web.yaml", web(False))
        wait_for(self.realized, 10, "web realized")
        stop = os.path.join(self.work, "stop")
        traffic = subprocess.Popen(["ip", "netns", "exec", self.topo.podc_ns, sys.executable, "-c", TRAFFIC, stop],
                                   stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        # The quiet window: the worker's stalls with the same traffic and no change, for comparison
        # (with tap ports a worker's TX is a write() into the kernel's stack, whose time counts).
        t_quiet = 8
        before = self.stats()
        time.sleep(t_quiet)
        quiet = start = self.stats()
        t0 = time.time()
        self.apply("bulk.json", bulk(0, N, 0))
        wait_for(self.realized, 120, f"{N} Services realized")
        t_bulk = time.time() - t0
        for r in range(1, ROUNDS + 1):
            # Every Service's first endpoint moves (a Maglev refill each); web's second endpoint
            # turns ready or terminating; every third round every Service changes its port; a few go.
            self.apply(f"round{r}.json", bulk(0, N, r, target_port=8080 if r % 3 else 9090))
            self.apply("web.yaml", web(r % 2 == 1))
            for i in range(r * 10, r * 10 + 5):
                self.ctl("delete", "Service", f"bulk/svc-{i}")
        wait_for(self.realized, 60, "every change realized")
        t_churn = time.time() - t0
        end = self.stats()
        open(stop, "w").close()
        out, _ = traffic.communicate(timeout=30)
        res = json.loads(out)

        q = [a - b for a, b in zip(self.stalls(quiet)[:2], self.stalls(before)[:2])]
        c = [a - b for a, b in zip(self.stalls(end)[:2], self.stalls(start)[:2])]
        print(f"\n    {N} Services bulk-applied and realized in {t_bulk:.1f} s; {ROUNDS} rounds of {N} endpoint moves "
              f"+ Service changes and deletions, {t_churn:.1f} s in all; "
              f"traffic: {res['tcp_ok']} TCP connections ({res['backends']}), {res['udp_ok']} UDP exchanges, "
              f"{len(res['tcp_fail'])}+{len(res['udp_fail'])} failed\n"
              f"    worker stalls > 100 us / > 1 ms: {c[0]} / {c[1]} during the churn ({t_churn:.0f} s), "
              f"{q[0]} / {q[1]} in {t_quiet} s of the same traffic without changes; longest since start "
              f"{self.stalls(end)[2]:.0f} us",
              file=sys.stderr)

        self.assertEqual(res["tcp_fail"], [], "every connection through the ClusterIP succeeds")
        self.assertEqual(res["udp_fail"], [], "every datagram through the ClusterIP is answered")
        self.assertGreater(res["tcp_ok"], 20)
        self.assertGreater(res["udp_ok"], 20)
        self.assertTrue(set(res["backends"]) <= {"backend 8080", "backend 8081"}, res["backends"])
        moved = {k: end["drops"][k] - start["drops"][k] for k in end["drops"] if end["drops"][k] != start["drops"][k]}
        self.assertEqual({k: v for k, v in moved.items() if k not in NOISE}, {},
                         f"drops other than the kernel's chatter: {moved}")
        self.assertGreaterEqual(end["lb"]["service_ports"], N - 5 * ROUNDS)


if __name__ == "__main__":
    e2e_main.run("hitless", os.path.join(BUILD, "control/daemon/enidp"), "network namespaces, taps, DPDK")

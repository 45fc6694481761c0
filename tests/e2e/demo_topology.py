#!/usr/bin/env python3
"""The demo topology as a test: the real enidp daemon, two dpdk-testpmd pods (vhost-user,
memif) and a netns pod behind a tap, three ENIs as taps in a VPC network namespace.

Asserts: pings through each pod kind; the pod-to-local-pod shortcut; the router answers
pings to the gateway; spoofed source IP and MAC are dropped and counted; pod ports are
hot-unplugged and re-plugged by SIGHUP with no device, socket or mbuf left behind.
"""
import os
import sys
import time
import unittest

import e2e_main  # this directory

sys.path.insert(0, os.path.join(os.environ.get("ENIDP_SOURCE", "."), "scripts"))
from enidp_topology import PODS, POD_TAP, ROUTER_MAC, VPC_GW, VPC_HOST, Topology, run  # noqa: E402

BUILD = os.environ.get("ENIDP_BUILD", "build")


def drops(stats, reason):
    return stats["drops"][reason]


def event(stats, name):
    return stats["events"][name]


def pod_keys(stats):
    return sorted(p["key"] for p in stats["pods"])


class DemoTopology(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology(BUILD, prefix="enidp-e2e", pods=("pod-a", "pod-b", "pod-c"))
        cls.topo.setup_vpc()
        cls.topo.start_enidp()
        for name in ("pod-a", "pod-b", "pod-c"):
            cls.topo.start_pod(name)
        for name in ("pod-a", "pod-b", "pod-c"):
            ok, out = cls.topo.wait_ping(PODS[name]["ip"], timeout=45)
            if not ok:
                cls.topo.cleanup()
                raise AssertionError(f"{name} never answered: {out}")

    @classmethod
    def tearDownClass(cls):
        cls.topo.cleanup()

    def settle(self):
        time.sleep(1.3)  # the stats file is rewritten every second
        return self.topo.stats()

    def podc(self, *cmd, check=True):
        return run(["ip", "netns", "exec", self.topo.podc_ns] + list(cmd), check=check)

    def test_01_ping_every_pod_kind_from_the_vpc(self):
        before = self.settle()
        for name in ("pod-a", "pod-b", "pod-c"):
            ok, out = self.topo.ping(PODS[name]["ip"], count=5)
            self.assertTrue(ok, f"{name} ({PODS[name]['kind']}): {out}")
            self.assertIn("5 received", out)
        after = self.settle()
        self.assertGreaterEqual(event(after, "to_pod") - event(before, "to_pod"), 15)
        self.assertGreaterEqual(event(after, "to_eni") - event(before, "to_eni"), 15)
        for eni in after["enis"]:
            self.assertIsNotNone(eni["gateway_mac"], f"{eni['name']} never resolved the VPC gateway")
        for p in after["pods"]:
            self.assertTrue(p["link_up"], p)

    def test_02_local_pod_shortcut_and_gateway_ping(self):
        before = self.settle()
        # pod-c (netns) → pod-a (testpmd behind vhost-user): never leaves the node.
        r = self.podc("ping", "-n", "-c", "3", "-W", "2", "-i", "0.2", PODS["pod-a"]["ip"], check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.podc("ping", "-n", "-c", "3", "-W", "2", "-i", "0.2", VPC_GW, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        after = self.settle()
        self.assertGreaterEqual(event(after, "local_shortcut") - event(before, "local_shortcut"), 6)  # both ways
        self.assertGreaterEqual(event(after, "icmp_echo_replied") - event(before, "icmp_echo_replied"), 3)

    def test_03_spoofed_source_ip_is_dropped_and_counted(self):
        self.podc("ip", "addr", "add", "10.0.0.99/32", "dev", POD_TAP)
        try:
            before = self.settle()
            r = self.podc("ping", "-n", "-c", "4", "-W", "1", "-i", "0.2", "-I", "10.0.0.99", VPC_HOST, check=False)
            self.assertNotEqual(r.returncode, 0, "spoofed ping got an answer")
            after = self.settle()
            self.assertGreaterEqual(drops(after, "spoofed_ip") - drops(before, "spoofed_ip"), 4)
        finally:
            self.podc("ip", "addr", "del", "10.0.0.99/32", "dev", POD_TAP, check=False)

    def test_04_spoofed_source_mac_is_dropped_and_counted(self):
        self.podc("ip", "link", "set", POD_TAP, "address", "02:00:00:00:99:99")
        try:
            # A static neighbour, so the pings themselves leave (not only ARP requests).
            self.podc("ip", "neigh", "replace", VPC_HOST, "lladdr", ROUTER_MAC, "dev", POD_TAP, "nud", "permanent")
            before = self.settle()
            r = self.podc("ping", "-n", "-c", "4", "-W", "1", "-i", "0.2", VPC_HOST, check=False)
            self.assertNotEqual(r.returncode, 0, "ping from a spoofed MAC got an answer")
            after = self.settle()
            self.assertGreaterEqual(drops(after, "spoofed_mac") - drops(before, "spoofed_mac"), 4)
        finally:
            self.podc("ip", "link", "set", POD_TAP, "address", PODS["pod-c"]["mac"])
            self.podc("ip", "neigh", "del", VPC_HOST, "dev", POD_TAP, check=False)
        ok, out = self.topo.wait_ping(PODS["pod-c"]["ip"], timeout=10)
        self.assertTrue(ok, out)

    def test_05_hot_unplug_and_replug_leave_nothing_behind(self):
        baseline = self.settle()
        for name in ("pod-b", "pod-a"):  # memif, then vhost-user
            with self.subTest(pod=name):
                ports_before = {p["device"] for p in self.topo.stats()["ports"]}
                others = [p for p in self.topo.pods if p != name]
                self.topo.stop_pod(name)
                self.topo.reload(others)
                stats = self.topo.wait_stats(lambda s: f"demo/{name}" not in pod_keys(s), 20, f"{name} unplugged")
                gone = ports_before - {p["device"] for p in stats["ports"]}
                self.assertEqual(len(gone), 1, f"expected one port removed, got {gone}")
                if PODS[name]["kind"] == "memif":
                    self.assertFalse(os.path.exists(self.topo.socket(name)), "memif socket left behind")
                ok, _ = self.topo.ping(PODS[name]["ip"], count=2, timeout=1)
                self.assertFalse(ok, f"{name} still answers after unplug")

                self.topo.reload(self.topo.pods)
                self.topo.wait_stats(lambda s: f"demo/{name}" in pod_keys(s), 20, f"{name} replugged")
                self.topo.start_pod(name)
                ok, out = self.topo.wait_ping(PODS[name]["ip"], timeout=45)
                self.assertTrue(ok, f"{name} after replug: {out}")
        # Mbufs: every queue holds what it held before (ping traffic has drained by now).
        deadline = time.time() + 10
        while True:
            now = self.settle()
            if now["mempool"]["in_use"] == baseline["mempool"]["in_use"] or time.time() > deadline:
                break
        self.assertEqual(now["mempool"]["in_use"], baseline["mempool"]["in_use"], "mbufs leaked across re-plug")
        self.assertEqual(len(now["ports"]), len(baseline["ports"]))

    def test_06_daemon_exits_cleanly_and_reports(self):
        # Runs last: stop everything and check the exit path releases the taps.
        topo = self.topo
        for name in list(topo.pod_procs):
            topo.stop_pod(name)
        topo.enidp.send_signal(15)
        rc = topo.enidp.wait(timeout=30)
        self.assertEqual(rc, 0)
        with open(os.path.join(topo.dir, "enidp.out")) as f:
            self.assertIn("final counters", f.read())
        for name in ("pod-a", "pod-b"):
            tap = PODS[name]["tap"]
            r = run(["ip", "netns", "exec", topo.vpc, "ip", "link", "show", tap], check=False)
            self.assertNotEqual(r.returncode, 0, f"{tap} still exists after enidp exited")


if __name__ == "__main__":
    e2e_main.run("demo_topology", os.path.join(BUILD, "control/daemon/enidp"), "netns, taps, DPDK")

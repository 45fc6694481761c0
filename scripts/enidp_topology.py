#!/usr/bin/env python3
"""The demo topology on virtual devices, shared by scripts/demo.sh and the e2e tests.

    netns <prefix>-vpc                         enidp (workers poll every port)
    ┌──────────────────────────────┐
    │ br0 10.0.0.1/24 (VPC gateway)│ ◄─ tap enidp-eni0 ─► ENI eni-a 10.0.0.10 ─► vhost-user ─► pod-a (dpdk-testpmd icmpecho)
    │     10.0.0.100/24 (VPC host) │ ◄─ tap enidp-eni1 ─► ENI eni-b 10.0.0.11 ─► memif ──────► pod-b (dpdk-testpmd icmpecho)
    └──────────────────────────────┘ ◄─ tap enidp-eni2 ─► ENI eni-c 10.0.0.12 ─► tap ────────► pod-c (netns <prefix>-podc)

Everything stays inside network namespaces this script creates; nothing is sent
anywhere else. Root is required (netns, taps, DPDK).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

VPC_GW = "10.0.0.1"
VPC_HOST = "10.0.0.100"
ROUTER_MAC = "02:00:00:00:00:01"

# name, ENI, pod IP, pod MAC, ENI MAC, kernel-side MAC of the ENI's tap (in the VPC netns)
PODS = {
    "pod-a": dict(eni="eni-a", ip="10.0.0.10", mac="02:00:00:00:00:0a", eni_mac="02:00:00:00:0e:0a",
                  tap="enidp-eni0", tap_kernel_mac="02:00:00:00:fe:0a", kind="vhost-user"),
    "pod-b": dict(eni="eni-b", ip="10.0.0.11", mac="02:00:00:00:00:0b", eni_mac="02:00:00:00:0e:0b",
                  tap="enidp-eni1", tap_kernel_mac="02:00:00:00:fe:0b", kind="memif"),
    "pod-c": dict(eni="eni-c", ip="10.0.0.12", mac="02:00:00:00:00:0c", eni_mac="02:00:00:00:0e:0c",
                  tap="enidp-eni2", tap_kernel_mac="02:00:00:00:fe:0c", kind="tap"),
}
POD_TAP = "enidp-podc"


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, text=True, capture_output=True, **kw)


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def link_exists(name, netns=None):
    cmd = ["ip", "link", "show", name]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    return run(cmd, check=False).returncode == 0


class Topology:
    def __init__(self, build_dir, prefix="enidp-demo", pods=("pod-a", "pod-b"), workdir=None, manifests=None,
                 node_ips=(), api=None, extra_config=()):
        self.build = os.path.abspath(build_dir)
        self.prefix = prefix
        self.vpc = f"{prefix}-vpc"
        self.podc_ns = f"{prefix}-podc"
        self.pods = list(pods)
        self.dir = workdir or tempfile.mkdtemp(prefix=f"{prefix}-")
        self.config = os.path.join(self.dir, "enidp.yaml")
        self.stats_file = os.path.join(self.dir, "stats.json")
        self.manifests = manifests      # Kubernetes YAML (Services, EndpointSlices) or None
        self.node_ips = list(node_ips)
        self.api = api                  # the gRPC API's unix socket path (config api.socket) or None
        self.extra_config = list(extra_config)  # more top-level config lines (e.g. kubernetes:)
        self.enidp = None
        self.pod_procs = {}
        self.logs = []

    # ---------------------------------------------------------------- config
    def socket(self, pod):
        return os.path.join(self.dir, f"{pod}.sock")

    def write_config(self, pods=None):
        pods = self.pods if pods is None else pods
        lines = [
            "node_name: demo-node",
            "eal:",
            '  lcores: "0,1"',
            "  no_huge: true",
            "  memory_mb: 512",
            f"  file_prefix: {self.prefix}",
            '  log_level: "*:notice"',
            "workers: 1",
            "mempool: {mbufs: 8191, cache: 0}",
            "idle_backoff: {enabled: true, after_us: 100, sleep_us: 200}",
            f'gateway_mac: "{ROUTER_MAC}"',
            f"stats: {{interval_ms: 0, file: {self.stats_file}}}",
        ]
        if self.manifests is not None:
            self.write_manifests(self.manifests)
            lines.append("manifests: [services.yaml]")
        if self.api:
            lines.append(f"api: {{socket: {self.api}}}")
        lines += self.extra_config
        if self.node_ips:
            lines.append("node_ips: [" + ", ".join(self.node_ips) + "]")
        lines.append("enis:")
        for name in self.pods:  # every ENI exists from the start; pods come and go
            p = PODS[name]
            lines += [
                f"  - name: {p['eni']}",
                f'    device: "net_tap_eni{p["tap"][-1]},iface={p["tap"]}"',
                f'    mac: "{p["eni_mac"]}"',
                f"    ip: {p['ip']}/24",
                f"    gateway: {VPC_GW}",
            ]
        lines.append("pods:" if pods else "pods: []")
        for name in pods:
            p = PODS[name]
            lines += [
                "  - namespace: demo",
                f"    name: {name}",
                f"    eni: {p['eni']}",
                f'    mac: "{p["mac"]}"',
                "    port:",
                f"      kind: {p['kind']}",
            ]
            if p["kind"] == "tap":
                lines.append(f"      interface: {POD_TAP}")
            else:
                lines.append(f"      socket: {self.socket(name)}")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        return self.config

    def write_manifests(self, text):
        self.manifests = text
        with open(os.path.join(self.dir, "services.yaml"), "w") as f:
            f.write(text)

    # ---------------------------------------------------------------- VPC
    def setup_vpc(self):
        self.teardown_netns()
        run(["ip", "netns", "add", self.vpc])
        ns = ["ip", "netns", "exec", self.vpc]
        run(ns + ["ip", "link", "set", "lo", "up"])
        run(ns + ["ip", "link", "add", "br0", "type", "bridge"])
        run(ns + ["ip", "addr", "add", f"{VPC_GW}/24", "dev", "br0"])
        run(ns + ["ip", "addr", "add", f"{VPC_HOST}/24", "dev", "br0"])
        run(ns + ["ip", "link", "set", "br0", "up"])

    def attach_eni_tap(self, pod):
        """Moves the kernel side of an ENI's tap into the VPC netns and onto its bridge."""
        p = PODS[pod]
        wait_for(lambda: link_exists(p["tap"]) or link_exists(p["tap"], self.vpc), 20, f"tap {p['tap']}")
        if link_exists(p["tap"]):
            run(["ip", "link", "set", p["tap"], "netns", self.vpc])
        ns = ["ip", "netns", "exec", self.vpc]
        # The kernel side is the VPC's end of the wire: it must not share the ENI's MAC.
        run(ns + ["ip", "link", "set", p["tap"], "address", p["tap_kernel_mac"]])
        run(ns + ["ip", "link", "set", p["tap"], "master", "br0"])
        run(ns + ["ip", "link", "set", p["tap"], "up"])

    # ---------------------------------------------------------------- enidp
    def start_enidp(self):
        self.write_config()
        out = open(os.path.join(self.dir, "enidp.out"), "w")
        err = open(os.path.join(self.dir, "enidp.log"), "w")
        self.logs += [out, err]
        self.enidp = subprocess.Popen([os.path.join(self.build, "control/daemon/enidp"), "--config", self.config],
                                      stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        for name in self.pods:
            self.attach_eni_tap(name)
        wait_for(lambda: os.path.exists(self.stats_file), 20, "enidp stats file")

    def reload(self, pods):
        self.write_config(pods)
        self.enidp.send_signal(signal.SIGHUP)

    def stats(self):
        with open(self.stats_file) as f:
            return json.load(f)

    def wait_stats(self, pred, timeout, what):
        def ok():
            try:
                return pred(self.stats())
            except (OSError, ValueError, KeyError):
                return False
        wait_for(ok, timeout, what)
        return self.stats()

    # ---------------------------------------------------------------- pods
    def _testpmd(self, name, vdev):
        log = open(os.path.join(self.dir, f"{name}.log"), "w")
        self.logs.append(log)
        cmd = ["dpdk-testpmd", "-l", "0,1", "--no-huge", "-m", "512", "--no-pci",
               "--file-prefix", f"{self.prefix}-{name}", "--vdev", vdev, "--",
               "--forward-mode=icmpecho", "-a", "--no-mlockall", "--total-num-mbufs", "4096"]
        # testpmd without -i waits for a line on stdin before it exits: keep stdin open.
        return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)

    def start_pod(self, name):
        p = PODS[name]
        if p["kind"] == "vhost-user":
            # The pod is the vhost-user server, so enidp (client) can restart without it.
            self.pod_procs[name] = self._testpmd(
                name, f"net_virtio_user0,path={self.socket(name)},server=1,mac={p['mac']}")
        elif p["kind"] == "memif":
            wait_for(lambda: os.path.exists(self.socket(name)), 20, f"memif socket of {name}")
            self.pod_procs[name] = self._testpmd(
                name, f"net_memif0,role=client,socket={self.socket(name)},socket-abstract=no,mac={p['mac']}")
        else:
            self.setup_tap_pod(name)

    def setup_tap_pod(self, name):
        p = PODS[name]
        run(["ip", "netns", "del", self.podc_ns], check=False)
        run(["ip", "netns", "add", self.podc_ns])
        wait_for(lambda: link_exists(POD_TAP), 20, f"tap {POD_TAP}")
        run(["ip", "link", "set", POD_TAP, "netns", self.podc_ns])
        ns = ["ip", "netns", "exec", self.podc_ns]
        run(ns + ["ip", "link", "set", "lo", "up"])
        run(ns + ["ip", "link", "set", POD_TAP, "address", p["mac"]])
        run(ns + ["ip", "addr", "add", f"{p['ip']}/24", "dev", POD_TAP])
        run(ns + ["ip", "link", "set", POD_TAP, "up"])
        run(ns + ["ip", "route", "add", "default", "via", VPC_GW])

    def stop_pod(self, name):
        proc = self.pod_procs.pop(name, None)
        if proc is None:
            return
        proc.stdin.close()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def ping(self, dst, count=3, src=VPC_HOST, netns=None, timeout=2):
        netns = netns or self.vpc
        cmd = ["ip", "netns", "exec", netns, "ping", "-n", "-c", str(count), "-W", str(timeout), "-i", "0.2"]
        if src:
            cmd += ["-I", src]
        r = run(cmd + [dst], check=False)
        return r.returncode == 0, r.stdout + r.stderr

    def wait_ping(self, dst, timeout=30, **kw):
        deadline = time.time() + timeout
        out = ""
        while time.time() < deadline:
            ok, out = self.ping(dst, count=1, **kw)
            if ok:
                return True, out
        return False, out

    # ---------------------------------------------------------------- teardown
    def teardown_netns(self):
        run(["ip", "netns", "del", self.vpc], check=False)
        run(["ip", "netns", "del", self.podc_ns], check=False)

    def stop(self):
        for name in list(self.pod_procs):
            self.stop_pod(name)
        if self.enidp and self.enidp.poll() is None:
            self.enidp.send_signal(signal.SIGTERM)
            try:
                self.enidp.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.enidp.kill()
                self.enidp.wait()
        for f in self.logs:
            f.close()
        self.logs = []
        self.teardown_netns()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def print_counters(stats):
    print(f"  {'port':<5}{'role':<5}{'owner':<14}{'link':<6}{'rx-packets':>12}{'tx-packets':>12}")
    for p in stats["ports"]:
        print(f"  {p['port']:<5}{p['role']:<5}{p['owner']:<14}{'up' if p['link_up'] else 'down':<6}"
              f"{p['rx_packets']:>12}{p['tx_packets']:>12}")
    drops = {k: v for k, v in stats["drops"].items() if v}
    events = {k: v for k, v in stats["events"].items() if v and k != "idle_sleeps"}
    print("  drops:", ", ".join(f"{k}={v}" for k, v in drops.items()) or "none")
    print("  events:", ", ".join(f"{k}={v}" for k, v in events.items()))
    m = stats["mempool"]
    print(f"  mempool: {m['in_use']} of {m['size']} mbufs in use")


def demo(build_dir):
    topo = Topology(build_dir, pods=("pod-a", "pod-b"))
    ok_all = True
    try:
        print("== starting enidp: ENIs eni-a, eni-b are taps in netns", topo.vpc)
        topo.setup_vpc()
        topo.start_enidp()
        print("== starting pod-a: dpdk-testpmd icmpecho on vhost-user; pod-b: dpdk-testpmd icmpecho on memif")
        topo.start_pod("pod-a")
        topo.start_pod("pod-b")
        for name in ("pod-a", "pod-b"):
            ip = PODS[name]["ip"]
            ok, _ = topo.wait_ping(ip, timeout=40)
            ok, out = topo.ping(ip, count=5) if ok else (ok, _)
            summary = [l for l in out.splitlines() if "packets transmitted" in l or "rtt" in l]
            print(f"== ping {ip} ({name}, {PODS[name]['kind']}) from {VPC_HOST} in {topo.vpc}: "
                  f"{'OK' if ok else 'FAILED'}")
            for l in summary:
                print("   ", l)
            ok_all &= ok
        time.sleep(1.2)  # one stats-file period
        print("== enidp counters")
        print_counters(topo.stats())
    finally:
        topo.cleanup()
    print("demo:", "PASSED" if ok_all else "FAILED")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(demo(sys.argv[1] if len(sys.argv) > 1 else "build"))

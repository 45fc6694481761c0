#!/usr/bin/env python3
"""e2e: the daemon rejects a bad configuration cleanly.

  * `--check` on a valid config prints OK, exits 0 and creates nothing; the same config
    really runs (so every failure below is caused by the one thing each case breaks).
  * A table of bad configs: each run (without --check) exits 2 before touching anything,
    with one `file:line: message` on stderr naming the right line, and leaves no tap
    interface, socket, stats file or DPDK runtime directory behind.
  * A config that loads but whose ENI device cannot be probed fails (non-zero, no hang),
    naming the ENI's config line, and releases the ENI taps it had already created.

Run as root: `ENIDP_BUILD=build ENIDP_SOURCE=. python3 tests/e2e/config_errors.py`.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import e2e_main

BUILD = os.path.abspath(os.environ.get("ENIDP_BUILD", "build"))
SOURCE = os.path.abspath(os.environ.get("ENIDP_SOURCE", "."))
ENIDP = os.path.join(BUILD, "control/daemon/enidp")
DPDK_RUNTIME = "/var/run/dpdk"

# Names unique to this run, short enough for IFNAMSIZ.
TAG = str(os.getpid() % 100000)
TAP_ENI0 = f"ce{TAG}e0"
TAP_ENI1 = f"ce{TAG}e1"
TAP_POD = f"ce{TAG}p0"
PREFIX = f"enidp-ce-{TAG}"
LONG_SOCKET = f"/tmp/enidp-ce-{TAG}-" + "s" * (110 - len(f"/tmp/enidp-ce-{TAG}-")) + ".sock"  # 115 bytes


def link_exists(name):
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def delete_link(name):
    subprocess.run(["ip", "link", "del", name], capture_output=True)


def base_config(workdir, prefix=PREFIX):
    """A valid config: two tap ENIs, a memif pod and a tap pod. Returns its text."""
    return f"""\
# enidp config used by tests/e2e/config_errors.py
node_name: ce-node
eal:
  lcores: "0,1"
  no_huge: true
  memory_mb: 256
  file_prefix: {prefix}
  log_level: "*:notice"
workers: 1
burst: 32
mempool: {{mbufs: 8191, cache: 0}}
stats: {{interval_ms: 0, file: {workdir}/stats.json}}
enis:
  - name: eni-a
    device: "net_tap_ce0,iface={TAP_ENI0}"
    mac: "02:00:00:00:0e:0a"
    ip: 10.0.0.10/24
    gateway: 10.0.0.1
    gateway_mac: "02:00:00:00:fe:01"
  - name: eni-b
    device: "net_tap_ce1,iface={TAP_ENI1}"
    mac: "02:00:00:00:0e:0b"
    ip: 10.0.0.11/24
    gateway: 10.0.0.1
pods:
  - namespace: demo
    name: pod-a
    eni: eni-a
    mac: "02:00:00:00:00:0a"
    port: {{kind: memif, socket: {workdir}/pod-a.sock}}
  - namespace: demo
    name: pod-b
    eni: eni-b
    mac: "02:00:00:00:00:0b"
    port: {{kind: tap, interface: {TAP_POD}}}
"""


def replace_once(text, old, new):
    if text.count(old) != 1:
        raise AssertionError(f"test bug: {old!r} occurs {text.count(old)} times in the base config")
    return text.replace(old, new)


def line_of(text, needle):
    """1-based line of the only line containing needle."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    if len(hits) != 1:
        raise AssertionError(f"test bug: {needle!r} is on lines {hits}")
    return hits[0]


class Case:
    """A bad config: the base config with one edit, the line the error must name (the only
    line of the edited text containing a substring, or (substring, offset) for the line
    `offset` lines from it) and a fragment of the message."""

    def __init__(self, name, edit, at, fragment):
        self.name, self.edit, self.at, self.fragment = name, edit, at, fragment


def cases(workdir):
    long_socket = LONG_SOCKET
    return [
        Case("yaml syntax error",
             lambda t: replace_once(t, "burst: 32\n", "burst: 32\n  rx_desc: 1024\n"),
             "rx_desc: 1024", "YAML syntax error"),
        Case("unknown key",
             lambda t: replace_once(t, "workers: 1\n", "wrokers: 1\n"),
             "wrokers", 'unknown key "wrokers" at top level (did you mean "workers"?)'),
        Case("unknown key in an ENI",
             lambda t: replace_once(t, "    gateway_mac: \"02:00:00:00:fe:01\"\n",
                                    "    gateway_mac: \"02:00:00:00:fe:01\"\n    speed: 100\n"),
             "speed: 100", 'unknown key "speed" in enis[0]'),
        Case("duplicate key",
             lambda t: replace_once(t, "burst: 32\n", "burst: 32\nburst: 16\n"),
             "burst: 16", 'duplicate key "burst" at top level (first at line'),
        Case("bad MAC",
             lambda t: replace_once(t, 'mac: "02:00:00:00:0e:0b"', 'mac: "02:00:00:00:0e"'),
             '"02:00:00:00:0e"', 'enis[1].mac: "02:00:00:00:0e" is not a MAC address'),
        Case("multicast MAC",
             lambda t: replace_once(t, 'mac: "02:00:00:00:00:0a"', 'mac: "03:00:00:00:00:0a"'),
             '"03:00:00:00:00:0a"', "pods[0].mac: \"03:00:00:00:00:0a\" is a multicast MAC"),
        Case("duplicate MAC",
             lambda t: replace_once(t, 'mac: "02:00:00:00:00:0b"', 'mac: "02:00:00:00:0e:0a"'),
             ("name: pod-b", 2),  # pod-b's mac line
             'pods[1].mac: MAC "02:00:00:00:0e:0a" is already used by enis[0].mac (line'),
        Case("bad IP",
             lambda t: replace_once(t, "ip: 10.0.0.11/24", "ip: 10.0.0.300/24"),
             "10.0.0.300", 'enis[1].ip: "10.0.0.300/24" is not an IPv4 prefix'),
        Case("gateway outside subnet",
             lambda t: replace_once(t, "gateway: 10.0.0.1\n    gateway_mac", "gateway: 10.0.1.1\n    gateway_mac"),
             "10.0.1.1", "enis[0].gateway: 10.0.1.1 is outside the ENI's subnet 10.0.0.10/24"),
        Case("pod on unknown ENI",
             lambda t: replace_once(t, "eni: eni-b", "eni: eni-x"),
             "eni: eni-x", 'pods[1].eni: no ENI named "eni-x" (known: eni-a, eni-b)'),
        Case("duplicate ENI name",
             lambda t: replace_once(t, "- name: eni-b", "- name: eni-a"),
             ('device: "net_tap_ce1', -1),  # the second "- name:" line
             'enis[1].name: ENI name "eni-a" is already used by enis[0].name (line'),
        Case("two pods on one ENI",
             lambda t: replace_once(t, "eni: eni-b", "eni: eni-a"),
             ("name: pod-b", 1), 'pods[1].eni: ENI "eni-a" is already used by pods[0].eni'),
        Case("socket path too long",
             lambda t: replace_once(t, f"socket: {workdir}/pod-a.sock", f"socket: {long_socket}"),
             long_socket, "pods[0].port.socket: path is 115 bytes long (expected at most 107"),
        Case("socket for a tap pod",
             lambda t: replace_once(t, f"interface: {TAP_POD}", f"interface: {TAP_POD}, socket: {workdir}/x.sock"),
             "x.sock", "pods[1].port.socket: not allowed for kind tap"),
        Case("workers > lcores - 1",
             lambda t: replace_once(t, "workers: 1\n", "workers: 2\n"),
             "workers: 2", 'workers: 2 worker(s) need 3 lcores (the first lcore is the main one) but eal.lcores "0,1" has 2'),
        Case("bad lcores",
             lambda t: replace_once(t, 'lcores: "0,1"', 'lcores: "0,0"'),
             'lcores: "0,0"', 'eal.lcores: "0,0" is not a valid lcore list'),
        Case("tap interface name too long",
             lambda t: replace_once(t, f"interface: {TAP_POD}", "interface: a-very-long-ifname"),
             "a-very-long-ifname", 'pods[1].port.interface: "a-very-long-ifname" is not a valid interface name'),
        Case("bad device",
             lambda t: replace_once(t, f'device: "net_tap_ce1,iface={TAP_ENI1}"', f'device: "tap1,iface={TAP_ENI1}"'),
             '"tap1,', 'enis[1].device: "tap1,iface=' + TAP_ENI1 + '" is not a PCI address or vdev string'),
        Case("missing node_name",
             lambda t: replace_once(t, "node_name: ce-node\n", ""),
             "eal:", 'missing required key "node_name" at top level'),
        Case("missing ENI key",
             lambda t: replace_once(t, "    ip: 10.0.0.11/24\n", ""),
             "- name: eni-b", 'enis[1]: missing required key "ip"'),
    ]


def expected_line(text, at):
    if isinstance(at, tuple):
        return line_of(text, at[0]) + at[1]
    return line_of(text, at)


class ConfigErrors(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="enidp-ce-")
        self.socket = os.path.join(self.dir, "pod-a.sock")
        self.stats = os.path.join(self.dir, "stats.json")
        self.prefixes = []
        for tap in (TAP_ENI0, TAP_ENI1, TAP_POD):
            delete_link(tap)
        self.base = base_config(self.dir)

    def tearDown(self):
        for tap in (TAP_ENI0, TAP_ENI1, TAP_POD):
            delete_link(tap)
        for p in self.prefixes + [PREFIX]:
            shutil.rmtree(os.path.join(DPDK_RUNTIME, p), ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, text, name="enidp.yaml"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_enidp(self, path, *extra, timeout=30):
        try:
            return subprocess.run([ENIDP, "--config", path, *extra], capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            self.fail(f"enidp {' '.join(extra)} on {path} did not exit within {timeout}s: {e.stderr!r}")

    def assert_nothing_created(self, prefix=PREFIX, socket=None, what=""):
        for tap in (TAP_ENI0, TAP_ENI1, TAP_POD):
            self.assertFalse(link_exists(tap), f"{what}: tap {tap} exists afterwards")
        for path in (socket or self.socket, self.stats, LONG_SOCKET):
            self.assertFalse(os.path.exists(path), f"{what}: {path} was created")
        # Sockets, stats: nothing but the config files appears in the work directory.
        extra = [n for n in os.listdir(self.dir) if not n.endswith(".yaml")]
        self.assertEqual(extra, [], f"{what}: created {extra} in {self.dir}")
        runtime = os.path.join(DPDK_RUNTIME, prefix)
        self.assertFalse(os.path.exists(runtime), f"{what}: DPDK runtime directory {runtime} was created")

    # ------------------------------------------------------------------ (a)
    def test_check_valid_config(self):
        path = self.write(self.base)
        r = self.run_enidp(path, "--check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), f"{path}: OK (2 ENIs, 2 pods, 1 workers, 0 Kubernetes objects)")
        self.assertEqual(r.stderr, "")
        self.assert_nothing_created(what="--check")

    def test_example_config_checks(self):
        r = self.run_enidp(os.path.join(SOURCE, "deploy/enidp.example.yaml"), "--check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(": OK (2 ENIs, 2 pods, 1 workers, ", r.stdout)

    def test_valid_config_runs(self):
        """The base config really starts (taps, socket), and stops cleanly on SIGTERM."""
        prefix = PREFIX + "-run"
        self.prefixes.append(prefix)
        path = self.write(base_config(self.dir, prefix))
        err = open(os.path.join(self.dir, "run.log"), "w+")
        proc = subprocess.Popen([ENIDP, "--config", path], stdout=subprocess.DEVNULL, stderr=err,
                                stdin=subprocess.DEVNULL)
        try:
            deadline = time.time() + 30
            while time.time() < deadline and proc.poll() is None:
                err.seek(0)
                if "running: 2 ENIs, 2 pods, 1 workers" in err.read():
                    break
                time.sleep(0.1)
            err.seek(0)
            log = err.read()
            self.assertIsNone(proc.poll(), f"enidp exited early: {log}")
            self.assertIn("enidp: node ce-node running: 2 ENIs, 2 pods, 1 workers", log)
            for tap in (TAP_ENI0, TAP_ENI1, TAP_POD):
                self.assertTrue(link_exists(tap), f"tap {tap} missing while running")
            self.assertTrue(os.path.exists(self.socket), "memif socket missing while running")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = None
            err.close()
        self.assertEqual(rc, 0, "enidp did not stop cleanly on SIGTERM")
        for tap in (TAP_ENI0, TAP_ENI1, TAP_POD):
            self.assertFalse(link_exists(tap), f"tap {tap} left behind after SIGTERM")
        self.assertFalse(os.path.exists(self.socket), "memif socket left behind after SIGTERM")

    # ------------------------------------------------------------------ (b)
    def test_bad_configs(self):
        table = cases(self.dir)
        self.assertGreaterEqual(len(table), 10)
        for c in table:
            with self.subTest(case=c.name):
                text = c.edit(self.base)
                path = self.write(text, "bad.yaml")
                line = expected_line(text, c.at)
                for extra in ((), ("--check",)):
                    r = self.run_enidp(path, *extra)
                    what = f"{c.name}{' --check' if extra else ''}"
                    self.assertEqual(r.returncode, 2, f"{what}: stderr {r.stderr!r}")
                    self.assertEqual(r.stdout, "", what)
                    lines = r.stderr.strip().splitlines()
                    self.assertEqual(len(lines), 1, f"{what}: expected one error line, got {r.stderr!r}")
                    head = f"enidp: {path}:{line}: "
                    self.assertTrue(lines[0].startswith(head), f"{what}: expected {head!r}..., got {lines[0]!r}")
                    self.assertIn(c.fragment, lines[0], what)
                    self.assert_nothing_created(what=what)

    def test_empty_file(self):
        path = self.write("# nothing but a comment\n")
        r = self.run_enidp(path)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.strip(), f"enidp: {path}: the configuration is empty "
                                           "(expected a map with at least node_name and enis)")
        self.assert_nothing_created(what="empty file")

    def test_missing_file(self):
        path = os.path.join(self.dir, "no-such.yaml")
        r = self.run_enidp(path)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.strip(), f"enidp: {path}: cannot read {path}: No such file or directory")
        self.assertFalse(os.path.exists(path))
        self.assert_nothing_created(what="missing file")

    def test_directory_instead_of_file(self):
        r = self.run_enidp(self.dir)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"enidp: {self.dir}: cannot read {self.dir}: Is a directory", r.stderr)

    # ------------------------------------------------------------------ (c)
    def test_unprobeable_device(self):
        """Loads, but EAL has no such driver: the daemon names the ENI and its line, and exits."""
        prefix = PREFIX + "-probe"
        self.prefixes.append(prefix)
        text = base_config(self.dir, prefix)
        text = replace_once(text, f'device: "net_tap_ce1,iface={TAP_ENI1}"', 'device: "net_nosuchdrv0"')
        path = self.write(text)
        check = self.run_enidp(path, "--check")
        self.assertEqual(check.returncode, 0, f"the validator should accept net_nosuchdrv0: {check.stderr}")
        start = time.time()
        r = self.run_enidp(path, timeout=30)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        line = line_of(text, "- name: eni-b")
        self.assertIn(f"enidp: {path}:{line}: ", r.stderr)
        self.assertRegex(r.stderr, rf"{path}:{line}: .*ENI eni-b.*net_nosuchdrv0")
        self.assertNotIn("running", r.stderr)
        self.assertLess(time.time() - start, 30)
        # eni-a's tap had been created before eni-b failed: it is released again, and the
        # pods were never plugged in.
        for tap in (TAP_ENI0, TAP_ENI1, TAP_POD):
            self.assertFalse(link_exists(tap), f"tap {tap} left behind")
        self.assertFalse(os.path.exists(self.socket), "memif socket created although startup failed")


if __name__ == "__main__":
    e2e_main.run("config_errors", ENIDP, "taps, DPDK")

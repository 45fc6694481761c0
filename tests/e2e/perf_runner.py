#!/usr/bin/env python3
"""e2e: enidp-perf runs the real pipeline on a net_pcap source and a net_null sink.

  * `enidp-perf gen` writes the pcap it is asked for (checked by reading it back).
  * Clean pod traffic (64 B UDP, 16384 flows) is forwarded to the ENI: > 1 Mpps, no drop,
    and every packet the pod port received went out of the ENI port (to_eni == ENI tx).
  * Pod traffic with a foreign source MAC or source IP is dropped as spoofed_mac /
    spoofed_ip, every packet of it, and nothing is transmitted.
  * A bad scenario file fails with `file:line: message` and exit status 2.
  * `gen` with bad arguments exits 2 with a message and writes nothing.

Run as root: `ENIDP_BUILD=build ENIDP_SOURCE=. python3 tests/e2e/perf_runner.py`.
"""
import json
import os
import shutil
import struct
import subprocess
import tempfile
import unittest

import e2e_main

BUILD = os.path.abspath(os.environ.get("ENIDP_BUILD", "build"))
SOURCE = os.path.abspath(os.environ.get("ENIDP_SOURCE", "."))
PERF = os.path.join(BUILD, "perf/enidp-perf")
SCENARIO = os.path.join(SOURCE, "perf/scenarios/pod_to_eni.yaml")
DPDK_RUNTIME = "/var/run/dpdk"

POD_MAC = "02:00:00:00:00:10"
POD_IP = "10.0.0.10"
GATEWAY_MAC = "02:00:00:00:00:01"

_runs = 0


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def read_pcap(path):
    """(link type, [(caplen, wire len, frame bytes)]) of a classic little-endian pcap."""
    with open(path, "rb") as f:
        data = f.read()
    magic, _major, _minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack_from("<IHHiIII", data, 0)
    assert magic == 0xA1B2C3D4, f"{path}: not a little-endian microsecond pcap (magic {magic:#x})"
    off, packets = 24, []
    while off < len(data):
        _sec, _usec, caplen, length = struct.unpack_from("<IIII", data, off)
        off += 16
        packets.append((caplen, length, data[off:off + caplen]))
        off += caplen
    return linktype, packets


class PerfRunner(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="enidp-perf-e2e-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    # ------------------------------------------------------------------ helpers
    def path(self, name):
        return os.path.join(self.dir, name)

    def gen(self, name, *args):
        out = self.path(name)
        r = subprocess.run([PERF, "gen", "--out", out, *args], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, f"gen {args}: {r.stderr}")
        self.assertIn(f"to {out}", r.stdout)
        return out

    def perf(self, pcap, scenario=SCENARIO, duration=3, summary=True):
        """Runs enidp-perf with pcap as port 0 (the pod) and a null sink as port 1 (the ENI).
        Returns (CompletedProcess, summary dict or None)."""
        global _runs
        _runs += 1
        prefix = f"enidp-perf-e2e-{os.getpid()}-{_runs}"
        out = self.path(f"summary-{_runs}.json")
        cmd = [PERF, "--lcores", "0,1", "--no-huge", "-m", "1024", "--no-pci", "--file-prefix", prefix,
               "--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "--vdev", "net_null0,no-rx=1", "--",
               "--scenario", scenario, "--duration", str(duration), "--quiet"]
        if summary:
            cmd += ["--summary-json", out]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            self.fail(f"enidp-perf did not finish: {e.stderr!r}")
        finally:
            shutil.rmtree(os.path.join(DPDK_RUNTIME, prefix), ignore_errors=True)
        result = None
        if summary and os.path.exists(out):
            with open(out) as f:
                result = json.load(f)
        return r, result

    def run_ok(self, pcap, **kw):
        r, s = self.perf(pcap, **kw)
        self.assertEqual(r.returncode, 0, f"enidp-perf failed:\n{r.stdout}\n{r.stderr}")
        self.assertIsNotNone(s, "no summary JSON written")
        for key in ("mpps", "cycles_per_packet", "drops", "drops_total", "events", "ports"):
            self.assertIn(key, s)
        # The SUMMARY line on stdout is the same document.
        lines = [l for l in r.stdout.splitlines() if l.startswith("SUMMARY ")]
        self.assertEqual(len(lines), 1, r.stdout)
        self.assertEqual(json.loads(lines[0][len("SUMMARY "):]), s)
        self.assertEqual(sum(s["drops"].values()), s["drops_total"])
        return s

    @staticmethod
    def port(s, role):
        ports = [p for p in s["ports"] if p["role"] == role]
        assert len(ports) == 1, s["ports"]
        return ports[0]

    # ------------------------------------------------------------------ gen
    def test_gen_writes_requested_traffic(self):
        pcap = self.gen("gen.pcap", "--flows", "100", "--dst-count", "10", "--size", "128",
                        "--src-mac", POD_MAC, "--dst-mac", GATEWAY_MAC, "--src-ip", POD_IP, "--dst", "10.1.0.0")
        linktype, packets = read_pcap(pcap)
        self.assertEqual(linktype, 1)  # DLT_EN10MB
        self.assertEqual(len(packets), 100)
        tuples = set()
        for caplen, length, frame in packets:
            self.assertEqual((caplen, length), (124, 124))  # 128 on the wire minus the FCS
            self.assertEqual(frame[0:6], mac_bytes(GATEWAY_MAC))
            self.assertEqual(frame[6:12], mac_bytes(POD_MAC))
            self.assertEqual(frame[12:14], b"\x08\x00")
            ip = frame[14:34]
            self.assertEqual(ip[9], 17)  # UDP
            self.assertEqual(ip[12:16], bytes([10, 0, 0, 10]))
            self.assertEqual(ip[16:19], bytes([10, 1, 0]))
            self.assertLess(ip[19], 10)
            self.assertEqual(struct.unpack("!H", ip[2:4])[0], 124 - 14)
            sport, dport = struct.unpack("!HH", frame[34:38])
            tuples.add((ip[16:20], sport, dport))
        self.assertEqual(len(tuples), 100)

    def test_gen_bad_arguments(self):
        cases = [
            (["--size", "10"], "frame size 10 is outside 64..9018"),
            (["--size", "9019"], "frame size 9019 is outside 64..9018"),
            (["--proto", "sctp"], "proto must be udp, tcp or icmp"),
            (["--src-mac", "02:00:00:00:00"], "bad --src-mac"),
            (["--src-ip", "10.0.0.256"], "bad --src-ip"),
            (["--flows", "0"], "flows must be at least 1"),
            (["--flows", "70000"], "need source ports up to"),
            (["--size", "ten"], "--size"),
            (["--no-such-option", "1"], "--no-such-option"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                out = self.path("bad-gen.pcap")
                r = subprocess.run([PERF, "gen", "--out", out, *args], capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 2, f"{args}: {r.stdout} {r.stderr}")
                self.assertIn(fragment, r.stderr)
                self.assertFalse(os.path.exists(out), f"{args}: wrote {out} anyway")
        r = subprocess.run([PERF, "gen", "--size", "64"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--out is required", r.stderr)

    # ------------------------------------------------------------------ (a) clean traffic
    def test_clean_udp_forwards(self):
        pcap = self.gen("clean.pcap", "--flows", "16384", "--size", "64", "--proto", "udp")
        s = self.run_ok(pcap)
        self.assertGreater(s["mpps"], 1.0, s["mpps_samples"])
        self.assertGreater(s["cycles_per_packet"], 0)
        self.assertEqual(s["duration_s"], 3)
        self.assertEqual(s["drops_total"], 0, {k: v for k, v in s["drops"].items() if v})
        ev = s["events"]
        self.assertGreater(ev["to_eni"], 0)
        self.assertEqual(ev["to_pod"], 0)
        eni, pod = self.port(s, "eni"), self.port(s, "pod")
        self.assertEqual(eni["device"], "net_null0")
        self.assertEqual(pod["device"], "net_pcap0")
        self.assertEqual(eni["tx_packets"], ev["to_eni"])
        self.assertEqual(eni["tx_errors"], 0)
        self.assertEqual(pod["tx_packets"], 0)
        self.assertEqual(eni["rx_packets"], 0)
        # Every packet the pod port received went out of the ENI.
        self.assertEqual(pod["rx_packets"], ev["to_eni"])
        # net_null counts no bytes; the pcap source does (60 B captured per 64 B frame).
        self.assertEqual(pod["rx_bytes"], pod["rx_packets"] * 60)

    def test_clean_tcp_forwards(self):
        pcap = self.gen("tcp.pcap", "--flows", "4096", "--dst-count", "64", "--proto", "tcp")
        s = self.run_ok(pcap, duration=2)
        self.assertEqual(s["drops_total"], 0, {k: v for k, v in s["drops"].items() if v})
        self.assertGreater(s["events"]["to_eni"], 0)
        self.assertEqual(self.port(s, "eni")["tx_packets"], s["events"]["to_eni"])

    # ------------------------------------------------------------------ (b) spoofing
    def assert_all_dropped(self, s, reason):
        pod, eni = self.port(s, "pod"), self.port(s, "eni")
        self.assertGreater(pod["rx_packets"], 0)
        nonzero = {k: v for k, v in s["drops"].items() if v}
        self.assertEqual(nonzero, {reason: pod["rx_packets"]})
        self.assertEqual(s["drops_total"], pod["rx_packets"])
        self.assertEqual(s["events"]["to_eni"], 0)
        self.assertEqual(s["events"]["to_pod"], 0)
        self.assertEqual(sum(p["tx_packets"] for p in s["ports"]), 0)
        self.assertEqual(s["mpps"], 0)

    def test_spoofed_source_mac_dropped(self):
        pcap = self.gen("spoof-mac.pcap", "--src-mac", "02:00:00:00:00:99", "--flows", "1024")
        self.assert_all_dropped(self.run_ok(pcap, duration=2), "spoofed_mac")

    def test_spoofed_source_ip_dropped(self):
        pcap = self.gen("spoof-ip.pcap", "--src-ip", "10.0.0.99", "--flows", "1024")
        self.assert_all_dropped(self.run_ok(pcap, duration=2), "spoofed_ip")

    def test_pod_ip_from_scenario(self):
        """A scenario copy giving the pod a secondary address: its traffic passes, the ENI's
        primary address as source is now spoofing."""
        with open(SCENARIO) as f:
            text = f.read()
        self.assertEqual(text.count("    eni: eni-a\n"), 1)
        scenario = self.path("pod_secondary_ip.yaml")
        with open(scenario, "w") as f:
            f.write(text.replace("    eni: eni-a\n", "    eni: eni-a\n    ip: 10.0.0.20\n"))
        good = self.gen("secondary.pcap", "--src-ip", "10.0.0.20", "--flows", "1024")
        s = self.run_ok(good, scenario=scenario, duration=2)
        self.assertEqual(s["drops_total"], 0, {k: v for k, v in s["drops"].items() if v})
        self.assertGreater(s["events"]["to_eni"], 0)
        primary = self.gen("primary.pcap", "--src-ip", POD_IP, "--flows", "1024")
        self.assert_all_dropped(self.run_ok(primary, scenario=scenario, duration=2), "spoofed_ip")

    # ------------------------------------------------------------------ (c) bad scenario
    def test_bad_scenarios(self):
        with open(SCENARIO) as f:
            base = f.read()
        pcap = self.gen("small.pcap", "--flows", "64")

        def edit(old, new):
            self.assertEqual(base.count(old), 1, old)
            return base.replace(old, new)

        def line_of(text, needle):
            if isinstance(needle, tuple):  # (substring, offset in lines)
                return line_of(text, needle[0]) + needle[1]
            hits = [i + 1 for i, l in enumerate(text.splitlines()) if needle in l]
            self.assertEqual(len(hits), 1, needle)
            return hits[0]

        cases = [
            ("unknown key", edit("burst: 32\n", "burst: 32\nspeed: 10\n"), "speed: 10",
             'unknown key "speed" in scenario'),
            ("unknown pod key", edit("    port: 0\n", "    port: 0\n    vlan: 7\n"), "vlan: 7",
             'unknown key "vlan" in pods[0]'),
            ("bad MAC", edit('mac: "02:00:00:00:00:10"', 'mac: "02:00:00:00:00"'), '"02:00:00:00:00"',
             'pods[0].mac: "02:00:00:00:00" is not a MAC address'),
            ("unknown ENI", edit("eni: eni-a", "eni: eni-x"), "eni: eni-x", 'pods[0].eni: no ENI named "eni-x"'),
            ("port used twice", edit("    port: 1\n", "    port: 0\n"), ("name: default/pod-a", 1),
             "pods[0].port: port 0 is used twice"),
            ("workers out of range", edit("workers: 1\n", "workers: 0\n"), "workers: 0",
             "workers: 0 is out of range"),
            ("YAML syntax error", base + "extra: [1, 2\n", "extra: [1, 2", "end of sequence flow not found"),
        ]
        for name, text, needle, fragment in cases:
            with self.subTest(case=name):
                scenario = self.path("bad-scenario.yaml")
                with open(scenario, "w") as f:
                    f.write(text)
                line = line_of(text, needle) + (1 if name == "YAML syntax error" else 0)
                r, s = self.perf(pcap, scenario=scenario, duration=1)
                self.assertEqual(r.returncode, 2, f"{name}: {r.stderr}")
                self.assertIn(f"enidp-perf: {scenario}:{line}: {fragment}", r.stderr)
                self.assertIsNone(s, "a summary was written for a bad scenario")
                self.assertNotIn("SUMMARY", r.stdout)
        missing = self.path("no-such-scenario.yaml")
        r, _ = self.perf(pcap, scenario=missing, duration=1)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"cannot read {missing}: No such file or directory", r.stderr)


if __name__ == "__main__":
    e2e_main.run("perf_runner", PERF, "DPDK runtime directory")

#!/usr/bin/env python3
"""The gRPC API over TCP with mutual TLS (config api.tcp): enidpctl with a certificate from
the configured client CA is served; one from another CA is refused during the handshake;
enidpctl refuses --address without a client certificate; a config naming an unreadable key
file is rejected with file:line before anything starts.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

import e2e_main  # this directory

sys.path.insert(0, os.path.join(os.environ.get("ENIDP_SOURCE", "."), "scripts"))
from enidp_topology import Topology, run, wait_for  # noqa: E402

BUILD = os.environ.get("ENIDP_BUILD", "build")
CTL = os.path.join(BUILD, "control/ctl/enidpctl")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem",
            "-days", "2", "-subj", f"/CN={name}", cwd=d)


def make_cert(d, name, ca, ext):
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(ext + "\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj",
            f"/CN={name}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)


class ApiTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.mkdtemp(prefix="enidp-tls-")
        d = cls.certs
        make_ca(d, "ca")
        make_ca(d, "rogue-ca")
        make_cert(d, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")
        make_cert(d, "client", "ca", "extendedKeyUsage=clientAuth")
        make_cert(d, "rogue", "rogue-ca", "extendedKeyUsage=clientAuth")
        cls.sock = f"/tmp/enidp-tls-{os.getpid()}.sock"
        api = (f"api:\n  socket: {cls.sock}\n"
               f"  tcp: {{address: \"127.0.0.1:0\", cert_file: {d}/server.pem, key_file: {d}/server.key, "
               f"client_ca_file: {d}/ca.pem}}")
        cls.topo = Topology(BUILD, prefix="enidp-tls", pods=("pod-c",), extra_config=(api, "metrics: {enabled: false}"))
        try:
            cls.topo.setup_vpc()
            cls.topo.start_enidp()
            wait_for(lambda: re.search(r"mutual TLS, port (\d+)", cls.log()), 20, "the TLS listener")
            cls.port = int(re.search(r"mutual TLS, port (\d+)", cls.log()).group(1))
        except BaseException:
            print(cls.log()[-3000:], file=sys.stderr)
            cls.topo.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.topo.cleanup()

    @classmethod
    def log(cls):
        with open(os.path.join(cls.topo.dir, "enidp.log")) as f:
            return f.read()

    def ctl_tls(self, cert, key, ca="ca.pem", *args):
        d = self.certs
        return run([CTL, "--address", f"127.0.0.1:{self.port}", "--cert", f"{d}/{cert}", "--key", f"{d}/{key}",
                    "--ca", f"{d}/{ca}", *args], check=False)

    def test_1_client_certificate_from_the_ca_is_served(self):
        r = self.ctl_tls("client.pem", "client.key", "ca.pem", "generation")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"desired \d+ realized \d+")
        # The unix socket keeps working next to it.
        self.assertEqual(run([CTL, "--socket", self.sock, "generation"], check=False).returncode, 0)

    def test_2_certificate_from_another_ca_is_refused(self):
        r = self.ctl_tls("rogue.pem", "rogue.key", "ca.pem", "generation")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("UNAVAILABLE", r.stderr)

    def test_3_address_without_a_certificate_is_a_usage_error(self):
        r = run([CTL, "--address", f"127.0.0.1:{self.port}", "generation"], check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--cert, --key and --ca", r.stderr)

    def test_4_unreadable_key_file_is_a_config_error(self):
        d = tempfile.mkdtemp(prefix="enidp-tls-cfg-")
        cfg = os.path.join(d, "enidp.yaml")
        with open(self.topo.config) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace(f"{self.certs}/server.key", f"{self.certs}/missing.key"))
        r = run([os.path.join(BUILD, "control/daemon/enidp"), "--config", cfg], check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr, r"enidp\.yaml:\d+: .*key_file.*cannot read .*missing\.key")


if __name__ == "__main__":
    e2e_main.run("api_tls", os.path.join(BUILD, "control/daemon/enidp"), "network namespaces, taps, DPDK")

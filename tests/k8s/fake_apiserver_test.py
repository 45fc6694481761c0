#!/usr/bin/env python3
"""Checks of the fake API server itself, over HTTP: selectors, paths, paging, watch replay,
401 and 410, so the watcher tests stand on a server that follows the protocol."""

import json
import os
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "fake_apiserver.py")
CLUSTER = os.path.join(HERE, "testdata", "cluster.yaml")
TOKEN = "t0k"


class FakeApiServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([sys.executable, SERVER, "--port", "0", "--token", TOKEN, "--history", "5",
                                     CLUSTER], stdout=subprocess.PIPE, text=True)
        line = cls.proc.stdout.readline()
        assert line.startswith("PORT "), line
        cls.base = f"http://127.0.0.1:{int(line.split()[1])}"

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait()

    def get(self, path, token=TOKEN):
        req = urllib.request.Request(self.base + path, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def names(self, path):
        code, body = self.get(path)
        self.assertEqual(code, 200, body)
        return sorted(i["metadata"]["name"] for i in json.loads(body)["items"])

    def post(self, path, body=""):
        with urllib.request.urlopen(urllib.request.Request(self.base + path, data=body.encode()), timeout=10) as r:
            return json.loads(r.read())

    def test_label_selectors(self):
        p = "/api/v1/pods?labelSelector="
        self.assertEqual(self.names(p + "app%3Dweb"), ["web-1", "web-2"])
        self.assertEqual(self.names(p + "app%21%3Dweb"), ["db-1"])
        self.assertEqual(self.names(p + "app+in+(db,%20cache)"), ["db-1"])
        self.assertEqual(self.names(p + "app+notin+(db)"), ["web-1", "web-2"])
        self.assertEqual(self.names(p + "app"), ["db-1", "web-1", "web-2"])
        self.assertEqual(self.names(p + "%21app"), [])
        self.assertEqual(self.names("/api/v1/services?labelSelector=%21service.kubernetes.io%2Fservice-proxy-name"),
                         ["cache", "db", "kubernetes", "web"])

    def test_field_selector_and_paths(self):
        self.assertEqual(self.names("/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a"), ["db-1", "web-1"])
        self.assertEqual(self.names("/api/v1/namespaces/default/services"), ["kubernetes"])
        self.assertEqual(self.names("/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies"), ["db-from-web"])
        code, body = self.get("/api/v1/namespaces/shop/pods/web-1")
        self.assertEqual((code, json.loads(body)["metadata"]["name"]), (200, "web-1"))
        self.assertEqual(self.get("/apis/discovery.k8s.io/v2/endpointslices")[0], 404)
        self.assertEqual(self.get("/api/v1/namespaces/shop/namespaces")[0], 404)

    def test_paging_is_one_snapshot(self):
        code, body = self.get("/api/v1/pods?limit=2")
        first = json.loads(body)
        self.assertEqual(len(first["items"]), 2)
        self.assertNotIn("kind", first["items"][0], "list items come without kind, like the real server")
        self.post("/_test/apply", "apiVersion: v1\nkind: Pod\nmetadata: {name: zz-late, namespace: shop}\n")
        code, body = self.get("/api/v1/pods?limit=2&continue=" + first["metadata"]["continue"])
        rest = json.loads(body)
        self.assertEqual(rest["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"])
        self.assertNotIn("zz-late", [i["metadata"]["name"] for i in rest["items"]])
        self.assertEqual(self.get("/api/v1/pods?limit=2&continue=bm90LWEtdG9rZW4=")[0], 400)
        self.post("/_test/delete", "apiVersion: v1\nkind: Pod\nmetadata: {name: zz-late, namespace: shop}\n")

    def test_auth_and_expiry(self):
        code, body = self.get("/api/v1/pods", token="wrong")
        self.assertEqual((code, json.loads(body)["reason"]), (401, "Unauthorized"))
        state = json.loads(self.get("/_test/state")[1])
        for i in range(6):  # more than --history 5: the oldest versions fall out
            self.post("/_test/apply", f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: churn-{i}}}\n")
        code, body = self.get(f"/api/v1/namespaces?watch=1&resourceVersion={state['resourceVersion']}")
        self.assertEqual((code, json.loads(body)["reason"]), (410, "Expired"))

    def test_watch_replays_history_and_ends_at_timeout(self):
        state = json.loads(self.get("/_test/state")[1])
        self.post("/_test/apply", "apiVersion: v1\nkind: Service\nmetadata: {name: w1, namespace: shop}\n")
        self.post("/_test/delete", "apiVersion: v1\nkind: Service\nmetadata: {name: w1, namespace: shop}\n")
        code, body = self.get(f"/api/v1/services?watch=true&resourceVersion={state['resourceVersion']}"
                              "&timeoutSeconds=1&allowWatchBookmarks=true")
        events = [json.loads(line) for line in body.splitlines() if line]
        self.assertEqual([e["type"] for e in events], ["ADDED", "DELETED"])
        self.assertLess(int(events[0]["object"]["metadata"]["resourceVersion"]),
                        int(events[1]["object"]["metadata"]["resourceVersion"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)

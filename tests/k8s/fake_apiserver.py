#!/usr/bin/env python3
"""A fake Kubernetes API server that speaks the real list/watch protocol, for enidp's tests.

Objects come from ordinary Kubernetes YAML manifests (files or folders on the command line)
and from the test-control endpoints below. Supported resources: Services, EndpointSlices
(discovery.k8s.io/v1), NetworkPolicies (networking.k8s.io/v1), Namespaces, Pods and
PayloadPolicies (enidp.io/v1alpha1), cluster-wide and per namespace.

Protocol, as the real apiserver does it:
  * one global resourceVersion counter; every create/update/delete takes the next value;
  * LIST with limit/continue: a consistent snapshot per list; continue tokens expire after
    --continue-ttl seconds or on compaction (410 Expired);
  * labelSelector (k, !k, k=v, k==v, k!=v, k in (a,b), k notin (a,b)) and simple
    fieldSelector (a.b.c=v, a.b.c!=v);
  * WATCH (?watch=1|true): chunked transfer encoding, one JSON event per line
    (ADDED, MODIFIED, DELETED, BOOKMARK with allowWatchBookmarks, ERROR); no
    resourceVersion or "0" starts with synthetic ADDED events; an object that starts or
    stops matching the label selector is sent as ADDED / DELETED; timeoutSeconds ends the
    stream normally;
  * a history window (--history events): a watch from a resourceVersion that fell out of
    it gets HTTP 410 Expired, or with --gone-as-event a 200 stream holding one ERROR 410
    event (a resourceVersion from the future, e.g. after a restart without the state file,
    gets the same, so clients relist);
  * bearer tokens (--token, repeatable; none = no check): a wrong one gets 401.

Test control (no token needed):
  POST /_test/apply           body: YAML/JSON manifests → create or update
  POST /_test/delete          body: YAML/JSON manifests (kind + metadata.name/namespace)
  POST /_test/compact         forget all history: older resourceVersions get 410
  POST /_test/drop-watches    ?mode=abort (default: reset without the last chunk) | clean
  POST /_test/expire-watches  send an ERROR 410 Expired event on every watch and close it
  POST /_test/bookmark        send a BOOKMARK on every watch that allows them
  POST /_test/hold-watches    open watches stop sending events (as if the client fell behind)
  POST /_test/release-watches they send again (drop/expire also release)
  POST /_test/tokens          body: {"tokens": ["a", "b"]} (empty list = no check)
  GET  /_test/state           resourceVersion, object counts, active watches, request counts

  fake_apiserver.py [--port 0] [--state FILE] [--token T] manifests...
prints "PORT <n>" on stdout once it listens. With --state, every change is saved to FILE
and a restart with the same FILE continues from the same objects, resourceVersion and
history (manifests are only read when FILE does not exist yet).
"""

import argparse
import base64
import bisect
import copy
import json
import os
import random
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml

# plural → (group, version, kind, namespaced)
RESOURCES = {
    "services": ("", "v1", "Service", True),
    "endpointslices": ("discovery.k8s.io", "v1", "EndpointSlice", True),
    "networkpolicies": ("networking.k8s.io", "v1", "NetworkPolicy", True),
    "namespaces": ("", "v1", "Namespace", False),
    "pods": ("", "v1", "Pod", True),
    "payloadpolicies": ("enidp.io", "v1alpha1", "PayloadPolicy", True),
}


def api_version(plural):
    group, version, _, _ = RESOURCES[plural]
    return f"{group}/{version}" if group else version


KIND_TO_PLURAL = {(api_version(p), r[2]): p for p, r in RESOURCES.items()}


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class BadRequest(Exception):
    pass


# ---- selectors ----

def split_requirements(text):
    """Splits a selector on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(text):
    """Returns a predicate over a labels dict."""
    reqs = []
    for req in split_requirements(text or ""):
        words = req.split()
        if len(words) >= 2 and words[1] in ("in", "notin"):
            key, op = words[0], words[1]
            rest = req[req.index(op) + len(op):].strip()
            if not (rest.startswith("(") and rest.endswith(")")):
                raise BadRequest(f"bad label selector requirement {req!r}")
            values = {v.strip() for v in rest[1:-1].split(",") if v.strip()}
            reqs.append((op, key, values))
        elif req.startswith("!"):
            reqs.append(("!", req[1:].strip(), None))
        elif "!=" in req:
            k, v = req.split("!=", 1)
            reqs.append(("!=", k.strip(), v.strip()))
        elif "==" in req:
            k, v = req.split("==", 1)
            reqs.append(("=", k.strip(), v.strip()))
        elif "=" in req:
            k, v = req.split("=", 1)
            reqs.append(("=", k.strip(), v.strip()))
        else:
            reqs.append(("exists", req, None))

    def match(labels):
        labels = labels or {}
        for op, key, val in reqs:
            present = key in labels
            if op == "exists" and not present:
                return False
            if op == "!" and present:
                return False
            if op == "=" and labels.get(key) != val:
                return False
            if op == "!=" and labels.get(key) == val:
                return False
            if op == "in" and labels.get(key) not in val:
                return False
            if op == "notin" and present and labels[key] in val:
                return False
        return True
    return match


def parse_field_selector(text):
    reqs = []
    for req in split_requirements(text or ""):
        neg = "!=" in req
        k, v = req.split("!=" if neg else ("==" if "==" in req else "="), 1)
        reqs.append((k.strip().split("."), v.strip(), neg))

    def get(obj, path):
        for part in path:
            if not isinstance(obj, dict):
                return ""
            obj = obj.get(part, "")
        return "" if obj is None else str(obj)

    return lambda obj: all((get(obj, p) != v) if neg else (get(obj, p) == v) for p, v, neg in reqs)


# ---- the store ----

class Store:
    def __init__(self, args):
        self.cond = threading.Condition()
        self.rv = 0
        self.compacted = 0          # a watch from RV < compacted gets 410
        self.objects = {p: {} for p in RESOURCES}
        self.events = []            # {"rv", "plural", "type", "object", "old"}, oldest first
        self.history = args.history
        self.continue_ttl = args.continue_ttl
        self.snapshots = {}         # continue id → (items, rv, created)
        self.tokens = set(args.token or [])
        self.state_file = args.state
        self.drop_epoch = 0
        self.drop_mode = "abort"
        self.expire_epoch = 0
        self.bookmark_epoch = 0
        self.active_watches = 0
        self.hold = False
        self.counts = {"list": {p: 0 for p in RESOURCES}, "watch": {p: 0 for p in RESOURCES},
                       "unauthorized": 0, "gone": 0}

    # -- persistence --
    def load_state(self):
        with open(self.state_file) as f:
            st = json.load(f)
        self.rv, self.compacted = st["resourceVersion"], st["compacted"]
        for plural, items in st["objects"].items():
            for obj in items:
                self.objects[plural][self.key(plural, obj)] = obj
        self.events = st["events"]

    def save_state(self):
        if not self.state_file:
            return
        st = {"resourceVersion": self.rv, "compacted": self.compacted,
              "objects": {p: list(objs.values()) for p, objs in self.objects.items()},
              "events": self.events}
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(st, f)
        os.replace(tmp, self.state_file)

    # -- objects --
    @staticmethod
    def plural_of(obj):
        key = (obj.get("apiVersion", ""), obj.get("kind", ""))
        if key not in KIND_TO_PLURAL:
            raise BadRequest(f"unsupported apiVersion/kind {key[0]}/{key[1]}")
        return KIND_TO_PLURAL[key]

    @staticmethod
    def key(plural, obj):
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace", "default") if RESOURCES[plural][3] else ""
        return (ns, meta.get("name", ""))

    def _record(self, plural, etype, obj, old):
        self.events.append({"rv": self.rv, "plural": plural, "type": etype, "object": obj, "old": old})
        if len(self.events) > self.history:
            dropped = self.events[: len(self.events) - self.history]
            self.events = self.events[len(dropped):]
            self.compacted = dropped[-1]["rv"]

    def apply(self, obj):
        """Creates or replaces obj (caller holds the lock). Returns the stored copy."""
        plural = self.plural_of(obj)
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise BadRequest(f"{obj.get('kind')} without metadata.name")
        if RESOURCES[plural][3]:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        k = self.key(plural, obj)
        old = self.objects[plural].get(k)
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        meta["uid"] = (old or {}).get("metadata", {}).get("uid") or meta.get("uid") or str(uuid.uuid4())
        meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self.objects[plural][k] = obj
        self._record(plural, "MODIFIED" if old else "ADDED", obj, old)
        return obj

    def delete(self, obj):
        plural = self.plural_of(obj)
        k = self.key(plural, obj)
        old = self.objects[plural].pop(k, None)
        if old is None:
            return False
        self.rv += 1
        gone = copy.deepcopy(old)
        gone["metadata"]["resourceVersion"] = str(self.rv)
        self._record(plural, "DELETED", gone, old)
        return True

    def compact(self):
        self.events = []
        self.compacted = self.rv
        self.snapshots.clear()

    def events_after(self, rv):
        i = bisect.bisect_right([e["rv"] for e in self.events], rv)
        return self.events[i:]


def load_manifests(paths):
    docs = []
    for path in paths:
        files = [path]
        if os.path.isdir(path):
            files = sorted(os.path.join(path, f) for f in os.listdir(path)
                           if f.endswith((".yaml", ".yml", ".json")))
        for fn in files:
            with open(fn) as f:
                docs.extend(parse_docs(f.read()))
    return docs


def parse_docs(text):
    out = []
    if text.lstrip().startswith("{"):
        docs = [json.loads(text)]  # JSON is YAML, but the YAML loader is slow on big bodies
    else:
        docs = yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for doc in docs:
        if not doc:
            continue
        if not isinstance(doc, dict):
            raise BadRequest("a manifest is not a mapping")
        if doc.get("kind", "").endswith("List") and "items" in doc:
            out.extend(d for d in doc["items"] if d)
        else:
            out.append(doc)
    return out


# ---- HTTP ----

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver/1"
    store = None   # set in main
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("fake-apiserver: " + (fmt % args) + "\n")

    def send_json(self, code, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode() if n else ""

    # -- routing --
    def do_POST(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        st = self.store
        try:
            if url.path == "/_test/apply":
                docs = parse_docs(self.read_body())
                with st.cond:
                    for d in docs:
                        st.plural_of(d)  # validate all before changing anything
                    for d in docs:
                        st.apply(d)
                    st.save_state()
                    st.cond.notify_all()
                    return self.send_json(200, {"applied": len(docs), "resourceVersion": str(st.rv)})
            if url.path == "/_test/delete":
                docs = parse_docs(self.read_body())
                with st.cond:
                    deleted = sum(1 for d in docs if st.delete(d))
                    st.save_state()
                    st.cond.notify_all()
                    return self.send_json(200, {"deleted": deleted, "resourceVersion": str(st.rv)})
            if url.path == "/_test/compact":
                with st.cond:
                    st.compact()
                    st.save_state()
                    return self.send_json(200, {"compacted": str(st.compacted)})
            if url.path in ("/_test/hold-watches", "/_test/release-watches"):
                self.read_body()
                with st.cond:
                    st.hold = url.path == "/_test/hold-watches"
                    st.cond.notify_all()
                return self.send_json(200, {"hold": st.hold})
            if url.path in ("/_test/drop-watches", "/_test/expire-watches", "/_test/bookmark"):
                self.read_body()
                with st.cond:
                    n = st.active_watches
                    if url.path != "/_test/bookmark":
                        st.hold = False
                    if url.path == "/_test/drop-watches":
                        st.drop_mode = q.get("mode", ["abort"])[0]
                        st.drop_epoch += 1
                    elif url.path == "/_test/expire-watches":
                        st.expire_epoch += 1
                    else:
                        st.bookmark_epoch += 1
                    st.cond.notify_all()
                return self.send_json(200, {"watches": n})
            if url.path == "/_test/tokens":
                body = json.loads(self.read_body() or "{}")
                with st.cond:
                    st.tokens = set(body.get("tokens") or [])
                return self.send_json(200, {"tokens": len(st.tokens)})
        except BadRequest as e:
            return self.send_json(400, status(400, "BadRequest", str(e)))
        except (yaml.YAMLError, json.JSONDecodeError) as e:
            return self.send_json(400, status(400, "BadRequest", f"cannot parse the body: {e}"))
        return self.send_json(404, status(404, "NotFound", f"no test endpoint {url.path}"))

    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        st = self.store
        if url.path == "/_test/state":
            with st.cond:
                return self.send_json(200, {
                    "resourceVersion": str(st.rv), "compacted": str(st.compacted),
                    "objects": {p: len(o) for p, o in st.objects.items()},
                    "watches_active": st.active_watches, "requests": st.counts})
        if url.path in ("/healthz", "/readyz", "/livez"):
            return self.send_json(200, "ok")
        if url.path == "/version":
            return self.send_json(200, {"major": "1", "minor": "28", "gitVersion": "v1.28.0-enidp-fake"})
        if st.tokens:
            auth = self.headers.get("Authorization", "")
            if not (auth.startswith("Bearer ") and auth[len("Bearer "):] in st.tokens):
                with st.cond:
                    st.counts["unauthorized"] += 1
                return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        route = self.route(url.path)
        if route is None:
            return self.send_json(404, status(404, "NotFound", f"the server could not find the requested resource ({url.path})"))
        plural, namespace, name = route
        try:
            labels = parse_label_selector(q.get("labelSelector", ""))
            fields = parse_field_selector(q.get("fieldSelector", ""))
        except (BadRequest, ValueError) as e:
            return self.send_json(400, status(400, "BadRequest", f"unable to parse selector: {e}"))

        def matches(obj):
            meta = obj.get("metadata") or {}
            if namespace is not None and meta.get("namespace") != namespace:
                return False
            return labels(meta.get("labels")) and fields(obj)

        if name is not None:
            with st.cond:
                obj = st.objects[plural].get((namespace or "", name))
            if obj is None:
                return self.send_json(404, status(404, "NotFound", f'{plural} "{name}" not found'))
            return self.send_json(200, obj)
        if q.get("watch") in ("1", "true"):
            return self.watch(plural, matches, q)
        return self.list(plural, matches, q)

    @staticmethod
    def route(path):
        """(plural, namespace or None, name or None) for an API path, or None."""
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2 or rest[0] not in RESOURCES:
            return None
        g, v, _, namespaced = RESOURCES[rest[0]]
        if (g, v) != (group, version) or (namespace is not None and not namespaced):
            return None
        return rest[0], namespace, (rest[1] if len(rest) == 2 else None)

    # -- list --
    def list(self, plural, matches, q):
        st = self.store
        limit = int(q.get("limit") or 0)
        token = q.get("continue", "")
        with st.cond:
            st.counts["list"][plural] += 1
            now = time.monotonic()
            if token:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(token.encode()))
                    snap_id, offset = tok["id"], int(tok["offset"])
                except (ValueError, KeyError, TypeError):
                    return self.send_json(400, status(400, "BadRequest", "invalid continue token"))
                snap = st.snapshots.get(snap_id)
                if snap is None or now - snap[2] > st.continue_ttl or snap[1] < st.compacted:
                    st.snapshots.pop(snap_id, None)
                    st.counts["gone"] += 1
                    return self.send_json(410, status(
                        410, "Expired", "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue parameter."))
                items, rv = snap[0], snap[1]
            else:
                snap_id, offset, rv = uuid.uuid4().hex, 0, st.rv
                items = [o for _, o in sorted(st.objects[plural].items()) if matches(o)]
            page = items[offset:offset + limit] if limit > 0 else items[offset:]
            meta = {"resourceVersion": str(rv)}
            if limit > 0 and offset + limit < len(items):
                st.snapshots[snap_id] = (items, rv, st.snapshots.get(snap_id, (None, None, now))[2])
                nxt = json.dumps({"id": snap_id, "offset": offset + limit}).encode()
                meta["continue"] = base64.urlsafe_b64encode(nxt).decode()
                meta["remainingItemCount"] = len(items) - offset - limit
            else:
                st.snapshots.pop(snap_id, None)
            body_items = []
            for o in page:  # real list items usually come without kind/apiVersion
                o = dict(o)
                o.pop("kind", None)
                o.pop("apiVersion", None)
                body_items.append(o)
        _, _, kind, _ = RESOURCES[plural]
        self.send_json(200, {"kind": kind + "List", "apiVersion": api_version(plural),
                             "metadata": meta, "items": body_items})

    # -- watch --
    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def send_event(self, etype, obj):
        self.write_chunk((json.dumps({"type": etype, "object": obj}) + "\n").encode())

    @staticmethod
    def visible_type(event, matches):
        """The event type this watch sees: an update that moves an object into or out of the
        selector is an ADDED or a DELETED; None when the watch does not see it at all."""
        now_in = matches(event["object"])
        was_in = event["old"] is not None and matches(event["old"])
        if event["type"] == "ADDED":
            return "ADDED" if now_in else None
        if event["type"] == "DELETED":
            return "DELETED" if was_in else None
        if now_in:
            return "MODIFIED" if was_in else "ADDED"
        return "DELETED" if was_in else None

    def watch(self, plural, matches, q):
        st = self.store
        rv_text = q.get("resourceVersion", "")
        bookmarks = q.get("allowWatchBookmarks") == "true"
        timeout = float(q.get("timeoutSeconds") or random.uniform(1800, 3600))
        deadline = time.monotonic() + timeout
        group, version, kind, _ = RESOURCES[plural]
        with st.cond:
            st.counts["watch"][plural] += 1
            if rv_text not in ("", "0"):
                try:
                    cursor = int(rv_text)
                except ValueError:
                    return self.send_json(400, status(400, "BadRequest", f"invalid resourceVersion {rv_text!r}"))
                if cursor < st.compacted or cursor > st.rv:
                    st.counts["gone"] += 1
                    gone = status(410, "Expired", f"too old resource version: {cursor} ({st.compacted})")
                    if not self.server.gone_as_event:
                        return self.send_json(410, gone)
                    # As the watch cache does it: 200, then the ERROR event, then the end.
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.send_event("ERROR", gone)
                    self.write_chunk(b"")
                    return
                initial = []
            else:
                cursor = st.rv
                initial = [o for _, o in sorted(st.objects[plural].items()) if matches(o)]
            epochs = (st.drop_epoch, st.expire_epoch, st.bookmark_epoch)
            st.active_watches += 1
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for o in initial:
                self.send_event("ADDED", o)
            bookmark_every = self.server.bookmark_interval
            next_bookmark = time.monotonic() + bookmark_every if bookmark_every > 0 else None
            while True:
                with st.cond:
                    def ready():
                        return ((st.rv > cursor and not st.hold) or (st.drop_epoch, st.expire_epoch, st.bookmark_epoch) != epochs
                                or time.monotonic() >= deadline
                                or (next_bookmark is not None and time.monotonic() >= next_bookmark))
                    wake = min(deadline, next_bookmark or deadline) - time.monotonic()
                    st.cond.wait_for(ready, timeout=max(0.0, wake))
                    expired = cursor < st.compacted and st.rv > cursor
                    batch = []
                    if not expired and not st.hold:
                        batch = [e for e in st.events_after(cursor) if e["plural"] == plural]
                        cursor = st.rv
                    drop = st.drop_epoch != epochs[0]
                    drop_mode = st.drop_mode
                    expire = st.expire_epoch != epochs[1]
                    bookmark = st.bookmark_epoch != epochs[2]
                    epochs = (st.drop_epoch, st.expire_epoch, st.bookmark_epoch)
                    compacted = st.compacted
                if drop:
                    if drop_mode == "clean":
                        self.write_chunk(b"")
                    else:
                        # Reset the connection mid-stream: no terminating chunk.
                        self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if expired or expire:
                    self.send_event("ERROR", status(410, "Expired", f"too old resource version: {cursor} ({compacted})"))
                    self.write_chunk(b"")
                    self.close_connection = True
                    return
                for e in batch:
                    etype = self.visible_type(e, matches)
                    if etype:
                        self.send_event(etype, e["object"])
                now = time.monotonic()
                if bookmarks and (bookmark or (next_bookmark is not None and now >= next_bookmark)):
                    self.send_event("BOOKMARK", {"kind": kind, "apiVersion": f"{group}/{version}" if group else version,
                                                 "metadata": {"resourceVersion": str(cursor)}})
                if next_bookmark is not None and now >= next_bookmark:
                    next_bookmark = now + bookmark_every
                if now >= deadline:
                    self.write_chunk(b"")
                    return
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            with st.cond:
                st.active_watches -= 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("manifests", nargs="*", help="YAML/JSON files or folders")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = any free port (printed)")
    ap.add_argument("--token", action="append", help="accepted bearer token (repeatable; none = no check)")
    ap.add_argument("--state", help="save the state here and continue from it on restart")
    ap.add_argument("--history", type=int, default=1000, help="events kept for watches to resume from")
    ap.add_argument("--continue-ttl", type=float, default=300.0, help="seconds a continue token lives")
    ap.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds between bookmarks (0 = only on request)")
    ap.add_argument("--gone-as-event", action="store_true",
                    help="answer a watch from an expired resourceVersion with 200 + an ERROR 410 event, not HTTP 410")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", help="and this key")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    store = Store(args)
    if args.state and os.path.exists(args.state):
        store.load_state()
    else:
        try:
            with store.cond:
                for doc in load_manifests(args.manifests):
                    store.apply(doc)
                store.save_state()
        except (BadRequest, yaml.YAMLError, OSError) as e:
            sys.exit(f"fake-apiserver: {e}")

    Handler.store = store
    Handler.verbose = args.verbose
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.bookmark_interval = args.bookmark_interval
    server.gone_as_event = args.gone_as_event
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

"""Test helpers: start a kube-emulator process, talk to it over HTTP(S), follow watches."""

import http.client
import json
import os
import queue
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(os.path.dirname(HERE), "kube-emulator")
TESTDATA = os.path.join(HERE, "testdata")
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def load_yaml(name):
    import yaml
    with open(os.path.join(TESTDATA, name), encoding="utf-8") as f:
        return yaml.safe_load(f)


def wait_until(predicate, timeout=5.0, interval=0.02, message="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.raw = status, headers, body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header_values(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return f"<Response {self.status} {self.raw[:300]!r}>"


class Emulator:
    """One kube-emulator process for a test class."""

    def __init__(self, *args, tls=False, token=None):
        self.dir = tempfile.mkdtemp(prefix="kube-emulator-test-")
        self.port_file = os.path.join(self.dir, "port")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.log_file = os.path.join(self.dir, "requests.log")
        self.tls, self.token = tls, token
        cmd = ["/usr/bin/python3", EMULATOR, "--port", "0", "--port-file", self.port_file,
               "--kubeconfig", self.kubeconfig, "--log-file", self.log_file, "--exit-with-parent", *args]
        if tls:
            cmd += ["--tls", "--cert-dir", os.path.join(self.dir, "certs")]
        if token:
            cmd += ["--token", token]
        self.stderr = open(os.path.join(self.dir, "stderr"), "w+b")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr)
        try:
            wait_until(lambda: os.path.exists(self.port_file) or self.proc.poll() is not None, 10,
                       message="the emulator's port file")
            if self.proc.poll() is not None:
                raise RuntimeError(f"kube-emulator exited with {self.proc.returncode}: {self.read_stderr()}")
            with open(self.port_file, encoding="ascii") as f:
                self.port = int(f.read().strip())
        except BaseException:
            self.stop()
            raise

    def read_stderr(self):
        self.stderr.flush()
        with open(self.stderr.name, "rb") as f:
            return f.read().decode(errors="replace")

    def ssl_context(self):
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=os.path.join(self.dir, "certs", "ca.crt"))

    def connection(self, timeout=10):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self.ssl_context())
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, ctype=None, accept="application/json", token=None,
                headers=None, params=None):
        if params:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
        hdrs = {"Accept": accept}
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            ctype = ctype or "application/json"
        if ctype:
            hdrs["Content-Type"] = ctype
        tok = self.token if token is None else token
        if tok:
            hdrs["Authorization"] = f"Bearer {tok}"
        hdrs.update(headers or {})
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return Response(resp.status, resp.getheaders(), resp.read().decode())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body, ctype="application/merge-patch+json", **kw):
        return self.request("PATCH", path, body if isinstance(body, (str, bytes)) else json.dumps(body),
                            ctype=ctype, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def faults(self, **knobs):
        r = self.post("/_emulator/faults", knobs)
        assert r.status == 200, r
        return r.json

    def info(self):
        return self.get("/_emulator/info").json

    def watch(self, path, params=None, accept="application/json", wait_registered=True):
        w = Watch(self, path, params or {}, accept)
        if wait_registered:
            wait_until(lambda: w.registered() or w.done.is_set(), 5, message=f"watch on {path} to start")
        return w

    def log_entries(self):
        with open(self.log_file, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Watch:
    """Reads a watch stream in a thread; events land in a queue."""

    def __init__(self, emu, path, params, accept):
        self.emu, self.events, self.done = emu, queue.Queue(), threading.Event()
        self.marker = f"watch-{id(self)}"
        params = dict(params, watch="true")
        self.path = path + "?" + urllib.parse.urlencode(params)
        self.status = None
        self.conn = emu.connection(timeout=30)
        hdrs = {"Accept": accept, "User-Agent": self.marker}
        if emu.token:
            hdrs["Authorization"] = f"Bearer {emu.token}"
        self.conn.request("GET", self.path, headers=hdrs)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def registered(self):
        return self.status == 200 and any(w.get("userAgent") == self.marker for w in self.emu.info()["watches"])

    def _read(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                if line.strip():
                    self.events.put(json.loads(line))
        except Exception:  # the connection was closed under the reader
            pass
        finally:
            self.done.set()

    def next(self, timeout=5.0):
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no watch event within {timeout}s on {self.path}") from None

    def next_matching(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                ev = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if predicate(ev):
                return ev
            seen.append(ev["type"])
        raise AssertionError(f"no matching watch event within {timeout}s (saw {seen})")

    def drain(self, quiet=0.3):
        out = []
        while True:
            try:
                out.append(self.events.get(timeout=quiet))
            except queue.Empty:
                return out

    def close(self):
        try:
            self.conn.sock and self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()
        self.done.wait(5)


class EmulatorTest(unittest.TestCase):
    """Base class: one emulator per test class, the widgets CRD installed."""

    emulator_args = ()
    install_crds = ("widgets-crd.yaml",)
    tls = False
    token = None

    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(*cls.emulator_args, tls=cls.tls, token=cls.token)
        for name in cls.install_crds:
            r = cls.emu.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", load_yaml(name))
            assert r.status == 201, r

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    WIDGETS = "/apis/example.dev/v1/namespaces/default/widgets"

    def widget(self, name, size=3, labels=None, **spec):
        meta = {"name": name}
        if labels:
            meta["labels"] = labels
        return {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": meta, "spec": dict(spec, size=size)}

    def create_widget(self, name, **kw):
        r = self.emu.post(self.WIDGETS, self.widget(name, **kw))
        self.assertEqual(r.status, 201, r)
        return r.json

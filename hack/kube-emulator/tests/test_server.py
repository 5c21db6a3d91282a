"""Server-level behaviour: discovery, OpenAPI, content negotiation, TLS and tokens, fault
knobs, the request log and shutdown."""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import unittest

from emu import EMULATOR, TABLE, Emulator, EmulatorTest, wait_until

AGG = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
       "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")


class DiscoveryTest(EmulatorTest):
    def test_version(self):
        v = self.emu.get("/version").json
        self.assertEqual((v["major"], v["minor"], v["gitVersion"]), ("1", "32", "v1.32.0"))

    def test_aggregated_discovery(self):
        r = self.emu.get("/apis", accept=AGG)
        self.assertEqual(r.header_values("Content-Type"),
                         ["application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"])
        groups = {g["metadata"]["name"]: g for g in r.json["items"]}
        for g in ("apps", "rbac.authorization.k8s.io", "coordination.k8s.io", "events.k8s.io",
                  "apiextensions.k8s.io", "example.dev"):
            self.assertIn(g, groups)
        ex = groups["example.dev"]["versions"]
        self.assertEqual([v["version"] for v in ex], ["v1", "v1beta1"])
        widgets = ex[0]["resources"][0]
        self.assertEqual(widgets["resource"], "widgets")
        self.assertEqual(widgets["responseKind"], {"group": "example.dev", "version": "v1", "kind": "Widget"})
        self.assertEqual(widgets["scope"], "Namespaced")
        self.assertEqual(widgets["shortNames"], ["wd"])
        self.assertEqual(widgets["subresources"][0]["subresource"], "status")
        core = self.emu.get("/api", accept=AGG).json
        names = [r["resource"] for r in core["items"][0]["versions"][0]["resources"]]
        for res in ("namespaces", "configmaps", "secrets", "events", "serviceaccounts", "services"):
            self.assertIn(res, names)
        beta = self.emu.get("/apis", accept="application/json;g=apidiscovery.k8s.io;v=v2beta1;"
                                            "as=APIGroupDiscoveryList")
        self.assertEqual(beta.json["apiVersion"], "apidiscovery.k8s.io/v2beta1")
        self.assertIn("v2beta1", beta.header_values("Content-Type")[0])

    def test_legacy_discovery(self):
        self.assertEqual(self.emu.get("/api").json["versions"], ["v1"])
        groups = {g["name"]: g for g in self.emu.get("/apis").json["groups"]}
        self.assertEqual(groups["example.dev"]["preferredVersion"]["version"], "v1")
        res = self.emu.get("/apis/example.dev/v1").json
        self.assertEqual(res["kind"], "APIResourceList")
        self.assertIn({"name": "widgets", "singularName": "widget", "namespaced": True, "kind": "Widget",
                       "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                       "shortNames": ["wd"], "categories": ["examples"]}, res["resources"])
        self.assertEqual(self.emu.get("/apis/example.dev").json["kind"], "APIGroup")
        self.assertEqual(self.emu.get("/apis/nothing.dev/v1").status, 404)

    def test_openapi_v3(self):
        index = self.emu.get("/openapi/v3").json["paths"]
        url = index["apis/example.dev/v1"]["serverRelativeURL"]
        self.assertTrue(url.startswith("/openapi/v3/apis/example.dev/v1?hash="))
        doc = self.emu.get(url).json
        op = doc["paths"]["/apis/example.dev/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
        self.assertEqual(op["x-kubernetes-group-version-kind"], {"group": "example.dev", "version": "v1",
                                                                 "kind": "Widget"})
        self.assertIn("fieldValidation", [p["name"] for p in op["parameters"]])
        schema = doc["components"]["schemas"]["dev.example.v1.Widget"]
        self.assertEqual(schema["properties"]["spec"]["required"], ["size"])
        self.assertIn("api/v1", index)
        self.assertEqual(self.emu.get("/openapi/v2").status, 404)

    def test_tables(self):
        self.create_widget("tab-a", labels={"x": "y"})
        self.emu.patch(f"{self.WIDGETS}/tab-a/status",
                       {"status": {"phase": "Up", "conditions": [{"type": "Ready", "status": "True"}]}})
        t = self.emu.get(self.WIDGETS, accept=TABLE).json
        self.assertEqual(t["kind"], "Table")
        self.assertEqual([(c["name"], c["type"], c["priority"]) for c in t["columnDefinitions"]],
                         [("Name", "string", 0), ("Size", "integer", 0), ("Color", "string", 0),
                          ("Phase", "string", 0), ("Ready", "string", 0), ("Owner", "string", 1),
                          ("Age", "date", 0)])
        row = t["rows"][0]
        self.assertEqual(row["cells"][:6], ["tab-a", 3, "blue", "Up", "True", None])
        self.assertRegex(row["cells"][6], r"^\d+s$")
        self.assertEqual(row["object"]["metadata"]["labels"], {"x": "y"})
        t = self.emu.get(self.WIDGETS + "?includeObject=Object", accept=TABLE).json
        self.assertEqual(t["rows"][0]["object"]["kind"], "Widget")
        one = self.emu.get(f"{self.WIDGETS}/tab-a", accept=TABLE).json
        self.assertEqual(len(one["rows"]), 1)
        cms = self.emu.get("/api/v1/namespaces", accept=TABLE).json
        self.assertEqual([c["name"] for c in cms["columnDefinitions"]], ["Name", "Status", "Age"])
        meta = self.emu.get(self.WIDGETS, accept="application/json;as=PartialObjectMetadataList;v=v1;"
                                                 "g=meta.k8s.io").json
        self.assertEqual(meta["kind"], "PartialObjectMetadataList")
        self.assertEqual(self.emu.get(self.WIDGETS, accept="application/vnd.kubernetes.protobuf").status, 406)

    def test_method_not_allowed(self):
        self.assertEqual(self.emu.post("/version", {}).status, 405)
        self.assertEqual(self.emu.put(self.WIDGETS, {}).status, 405)


class FaultTest(EmulatorTest):
    def tearDown(self):
        self.emu.faults(errorRate=0, latencyMs=0, errorCode=500)

    def test_error_rate_500(self):
        self.emu.faults(errorRate=1.0, errorCode=500)
        r = self.emu.get(self.WIDGETS)
        self.assertEqual(r.status, 500)
        self.assertEqual(r.json["reason"], "InternalError")
        self.assertEqual(self.emu.get("/_emulator/faults").status, 200, "the control endpoint is never faulted")

    def test_error_rate_429_has_retry_after(self):
        self.emu.faults(errorRate=1.0, errorCode=429)
        r = self.emu.get(self.WIDGETS)
        self.assertEqual(r.status, 429)
        self.assertEqual(r.header_values("Retry-After"), ["1"])
        self.assertEqual(r.json["reason"], "TooManyRequests")
        self.assertEqual(r.json["details"], {"retryAfterSeconds": 1})

    def test_partial_error_rate(self):
        self.emu.faults(errorRate=0.5, errorCode=500)
        codes = [self.emu.get(self.WIDGETS).status for _ in range(60)]
        self.assertGreater(codes.count(500), 5)
        self.assertGreater(codes.count(200), 5)

    def test_latency(self):
        self.emu.faults(latencyMs=300)
        start = time.monotonic()
        self.emu.get(self.WIDGETS)
        self.assertGreaterEqual(time.monotonic() - start, 0.29)

    def test_faults_are_listed(self):
        state = self.emu.faults(latencyMs=5)
        self.assertEqual(state["latencyMs"], 5)
        self.assertEqual(self.emu.post("/_emulator/faults", {"errorCode": 404}).status, 400)


class RequestLogTest(EmulatorTest):
    def test_log_lines_carry_rbac_attributes(self):
        self.create_widget("log-a")
        self.emu.get(f"{self.WIDGETS}/log-a")
        self.emu.get("/apis/example.dev/v1/widgets")
        self.emu.patch(f"{self.WIDGETS}/log-a/status", {"status": {"phase": "x"}})
        self.emu.delete(f"{self.WIDGETS}/log-a")
        self.emu.delete(self.WIDGETS)
        w = self.emu.watch(self.WIDGETS, {"resourceVersion": "0"})
        w.close()
        entries = [e for e in self.emu.log_entries() if e.get("resource") == "widgets"]
        got = [(e["verb"], e["namespace"], e["name"], e["subresource"], e["code"]) for e in entries]
        self.assertEqual(got, [("create", "default", "", "", 201), ("get", "default", "log-a", "", 200),
                               ("list", "", "", "", 200), ("patch", "default", "log-a", "status", 200),
                               ("delete", "default", "log-a", "", 200), ("deletecollection", "default", "", "", 200),
                               ("watch", "default", "", "", 200)])
        self.assertTrue(all(e["apiGroup"] == "example.dev" and e["method"] for e in entries))


class TlsTokenTest(EmulatorTest):
    tls = True
    token = "s3cret-token"

    def test_token_required(self):
        self.assertEqual(self.emu.get(self.WIDGETS).status, 200)
        r = self.emu.get(self.WIDGETS, token="wrong")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json["reason"], "Unauthorized")
        self.assertEqual(r.json["message"], "Unauthorized")
        conn = self.emu.connection()
        conn.request("GET", self.WIDGETS)
        self.assertEqual(conn.getresponse().status, 401)
        conn.close()

    def test_kubeconfig_has_server_ca_and_token(self):
        import yaml
        with open(self.emu.kubeconfig, encoding="utf-8") as f:
            kc = yaml.safe_load(f)
        cluster = kc["clusters"][0]["cluster"]
        self.assertEqual(cluster["server"], f"https://127.0.0.1:{self.emu.port}")
        self.assertTrue(cluster["certificate-authority-data"])
        self.assertEqual(kc["users"][0]["user"], {"token": self.token})

    def test_certificate_names(self):
        ctx = self.emu.ssl_context()
        for host in ("127.0.0.1", "localhost"):
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.emu.port)),
                                 server_hostname=host) as s:
                self.assertTrue(s.getpeercert())
        plain = ssl.create_default_context()
        with self.assertRaises(ssl.SSLError):
            with plain.wrap_socket(socket.create_connection(("127.0.0.1", self.emu.port)),
                                   server_hostname="127.0.0.1"):
                pass


class LifecycleTest(unittest.TestCase):
    def test_exit_with_parent(self):
        import tempfile
        d = tempfile.mkdtemp()
        port_file = os.path.join(d, "p")
        # a shell starts the emulator in the background and exits at once
        subprocess.run(["/bin/sh", "-c", f'/usr/bin/python3 "{EMULATOR}" --exit-with-parent --port-file "{port_file}" '
                                         f'>/dev/null 2>&1 & echo $! > "{d}/pid"; sleep 1'], check=True, timeout=10)
        with open(os.path.join(d, "pid"), encoding="ascii") as f:
            pid = int(f.read())

        def gone():
            try:
                os.kill(pid, 0)
                return False
            except ProcessLookupError:
                return True
        try:
            wait_until(gone, 5, message="the orphaned emulator to stop")
        finally:
            if not gone():
                os.kill(pid, signal.SIGKILL)
            shutil.rmtree(d, ignore_errors=True)

    def test_fixed_port_and_clean_sigterm(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free = s.getsockname()[1]
        emu = Emulator("--port", str(free))
        try:
            self.assertEqual(emu.port, free)
            self.assertEqual(emu.get("/healthz").raw, "ok")
            w = emu.watch("/api/v1/namespaces", {"resourceVersion": "0"})
            emu.proc.send_signal(signal.SIGTERM)
            self.assertEqual(emu.proc.wait(5), 0)
            self.assertTrue(w.done.wait(5), "open watches end when the server stops")
            w.close()
        finally:
            emu.stop()

    def test_starts_quickly_and_reports_port(self):
        import tempfile
        d = tempfile.mkdtemp()
        port_file = os.path.join(d, "p")
        start = time.monotonic()
        proc = subprocess.Popen(["/usr/bin/python3", EMULATOR, "--port-file", port_file],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: os.path.exists(port_file), 5, message="port file")
            self.assertLess(time.monotonic() - start, 1.5)
            with open(port_file, encoding="ascii") as f:
                port = f.read().strip()
            self.assertEqual(proc.stdout.readline().decode().strip(),
                             f"kube-emulator listening on http://127.0.0.1:{port}")
        finally:
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(5), 0)
            proc.stdout.close()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()

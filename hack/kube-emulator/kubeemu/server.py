"""HTTP(S) front end: routing, content negotiation, authentication, fault injection, the
request log and the /_emulator control endpoint."""

import json
import ssl
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml

from . import discovery, protobuf, tables
from .api import parse_body
from .errors import (ApiError, bad_request, internal_error, method_not_allowed, not_acceptable,
                     path_not_found, unauthorized)
from .watch import WatchStream, connection_closed

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "0" * 40,
           "gitTreeState": "clean", "buildDate": "2024-12-11T18:04:20Z", "goVersion": "go1.23.3",
           "compiler": "gc", "platform": "linux/amd64"}
OPEN_PATHS = ("/version", "/healthz", "/livez", "/readyz")


def parse_accept(header):
    """[(mime, params)] in the client's order of preference (q-values respected)."""
    out = []
    for i, part in enumerate((header or "*/*").split(",")):
        bits = [b.strip() for b in part.split(";") if b.strip()]
        if not bits:
            continue
        params = dict(b.split("=", 1) for b in bits[1:] if "=" in b)
        q = float(params.pop("q", 1) or 1)
        out.append((-q, i, bits[0].lower(), params))
    return [(m, p) for _, _, m, p in sorted(out)]


def negotiate(accept, kind):
    """Picks the representation: ("json"|"yaml"|"table"|"meta", version) for kind "object" or
    "list"; for discovery ("agg", "v2"|"v2beta1") or ("json", None)."""
    for mime, p in parse_accept(accept):
        if mime in ("application/json", "*/*", "application/*"):
            if kind == "discovery" and p.get("as") == "APIGroupDiscoveryList" and \
                    p.get("g") == "apidiscovery.k8s.io" and p.get("v") in ("v2", "v2beta1"):
                return "agg", p["v"]
            if p.get("as") == "Table" and p.get("g") == "meta.k8s.io" and kind != "discovery":
                if p.get("v") in ("v1", "v1beta1"):
                    return "table", p["v"]
                continue
            if p.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList") and kind != "discovery":
                if p.get("g") == "meta.k8s.io" and p.get("v") in ("v1", "v1beta1"):
                    return "meta", p["v"]
                continue
            if p.get("as"):
                continue
            return "json", None
        if mime == "application/yaml" and kind != "discovery":
            return "yaml", None
    raise not_acceptable(accept)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-emulator"
    # Headers and body leave in separate writes: without TCP_NODELAY each answer on a
    # keep-alive connection waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):  # the JSON request log replaces the default access log
        pass

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    # --- plumbing -------------------------------------------------------------------------

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _decode(self, body):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/vnd.kubernetes.protobuf":
            try:
                return protobuf.decode(body)
            except protobuf.UnsupportedKind as e:
                raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown "
                               f"format - protobuf encoding of {e} is not supported by this server") from None
            except (ValueError, IndexError, UnicodeDecodeError) as e:
                raise bad_request(f"error decoding protobuf request body: {e}") from None
        if ctype in ("application/yaml",):
            return parse_body(body, allow_yaml=True)
        return parse_body(body)

    def _send(self, code, payload, ctype="application/json", headers=None):
        body = payload if isinstance(payload, bytes) else (
            json.dumps(payload, separators=(",", ":")) + "\n").encode()
        self._log(code)
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or []):
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _log(self, code):
        """Logs the request before its answer leaves, so the log order is the order in which
        clients saw the answers."""
        if not self.info.get("logged"):
            self.info["code"] = code
            self.info["durationMs"] = round((time.monotonic() - self.started) * 1000, 1)
            self.server.app.log.write({k: v for k, v in self.info.items() if k != "logged"})
            self.info["logged"] = True

    def _send_error(self, err):
        headers = list(err.headers.items())
        self._send(err.code, err.status(), headers=headers)

    def _handle(self):
        app = self.server.app
        url = urlsplit(self.path)
        self.info = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "method": self.command,
                     "path": url.path, "query": url.query, "contentType": self.headers.get("Content-Type", ""),
                     "accept": self.headers.get("Accept", ""),
                     "userAgent": self.headers.get("User-Agent", "")}
        self.started = time.monotonic()
        try:
            body = self._read_body()
            params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            control = url.path.startswith("/_emulator/")
            auth = self.headers.get("Authorization")
            if app.token and not (control or (auth is None and url.path in OPEN_PATHS)):
                if auth != f"Bearer {app.token}":
                    raise unauthorized()
            if not control:
                app.inject_faults()
            self._route(url.path, params, body)
        except ApiError as e:
            self._send_error(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:  # an emulator bug must still answer like a server
            traceback.print_exc()
            try:
                self._send_error(internal_error(repr(e)))
            except OSError:
                self.close_connection = True
        finally:
            self._log(self.info.get("code", 499))

    # --- routing --------------------------------------------------------------------------

    def _route(self, path, params, body):
        app, method = self.server.app, self.command
        parts = [p for p in path.split("/") if p]
        accept = self.headers.get("Accept", "*/*")
        if not parts:
            return self._send(200, {"paths": ["/api", "/api/v1", "/apis", "/openapi/v3", "/version"]})
        if parts[0] == "_emulator":
            return self._control(parts[1:], method, body)
        is_resource = (parts[0] == "api" and len(parts) > 2) or (parts[0] == "apis" and len(parts) > 3)
        if method not in ("GET", "HEAD") and not is_resource:
            raise method_not_allowed()
        if path == "/version":
            return self._send(200, VERSION)
        if parts[0] in ("healthz", "livez", "readyz"):
            return self._send(200, b"ok", "text/plain; charset=utf-8")
        if parts[0] == "openapi":
            return self._openapi(parts[1:])
        if parts == ["api"] or parts == ["apis"]:
            fmt, ver = negotiate(accept, "discovery")
            if fmt == "agg":
                return self._send(200, discovery.aggregated(app.registry, parts == ["api"], ver),
                                  discovery.AGG_V2 if ver == "v2" else discovery.AGG_V2BETA1)
            if parts == ["api"]:
                return self._send(200, discovery.api_versions(f"{self.server.server_address[0]}:"
                                                              f"{self.server.server_address[1]}"))
            return self._send(200, discovery.api_group_list(app.registry))
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) == 2:
            doc = discovery.api_group(app.registry, parts[1])
            if doc is None:
                raise path_not_found()
            return self._send(200, doc)
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise path_not_found()
        if not rest:
            doc = discovery.resource_list(app.registry, group, version)
            if doc is None:
                raise path_not_found()
            return self._send(200, doc)
        return self._resource(group, version, rest, params, body, accept)

    def _resource(self, group, version, rest, params, body, accept):
        app, method = self.server.app, self.command
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            ns, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise path_not_found()
        plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else None)
        rt = app.registry.lookup(group, version, plural)
        if rt is None or (ns is not None and not rt.namespaced):
            raise path_not_found()
        if sub is not None and (sub != "status" or not rt.has_status(version)):
            raise path_not_found()
        watching = params.get("watch") in ("true", "1") and method == "GET"
        verb = {"GET": "watch" if watching else ("get" if name else "list"), "HEAD": "get", "POST": "create",
                "PUT": "update", "PATCH": "patch", "DELETE": "delete" if name else "deletecollection"}[method]
        self.info.update({"verb": verb, "apiGroup": group, "apiVersion": version, "resource": plural,
                          "subresource": sub or "", "namespace": ns or "", "name": name or ""})
        if ns is None and rt.namespaced and method not in ("GET", "HEAD") and verb != "deletecollection":
            raise method_not_allowed()
        ns = ns or ""
        fmt, fver = negotiate(accept, "object")
        api = app.api
        if watching:
            if name:
                params["fieldSelector"] = ",".join(filter(None, [params.get("fieldSelector"),
                                                                 f"metadata.name={name}"]))
            return self._watch(rt, version, ns, params, fmt, fver)
        warnings = []
        if verb == "get":
            return self._object(200, rt, version, api.get(rt, version, ns, name), fmt, fver, params)
        if verb == "list":
            items, meta = api.list(rt, version, ns, params)
            return self._list(rt, version, items, meta, fmt, fver, params)
        if verb == "create":
            if name:
                raise method_not_allowed()
            code, obj, warnings = api.create(rt, version, ns, self._decode(body), params)
        elif verb == "update":
            if not name:
                raise method_not_allowed()
            code, obj, warnings = api.update(rt, version, ns, name, self._decode(body), params, sub)
        elif verb == "patch":
            if not name:
                raise method_not_allowed()
            code, obj, warnings = api.patch(rt, version, ns, name, body, self.headers.get("Content-Type"),
                                            params, sub)
        elif verb == "delete":
            if sub:
                raise method_not_allowed()
            options = self._decode(body) if body.strip() else {}
            code, obj = api.delete(rt, version, ns, name, options, params)
            if obj.get("kind") == "Status":
                return self._send(code, obj)
        else:
            options = self._decode(body) if body.strip() else {}
            code, obj = api.delete_collection(rt, version, ns, options, params)
            return self._send(code, obj)
        return self._object(code, rt, version, obj, fmt, fver, params, warnings)

    def _object(self, code, rt, version, obj, fmt, fver, params, warnings=()):
        headers = [("Warning", w) for w in warnings]
        if fmt == "table":
            table = tables.build_table(rt.versions[version].columns, [obj],
                                       {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                       params.get("includeObject", "Metadata"))
            table["apiVersion"] = f"meta.k8s.io/{fver}"
            return self._send(code, table, headers=headers)
        if fmt == "meta":
            return self._send(code, _partial(obj, fver), headers=headers)
        if fmt == "yaml":
            return self._send(code, yaml.safe_dump(obj, sort_keys=False).encode(), "application/yaml", headers)
        return self._send(code, obj, headers=headers)

    def _list(self, rt, version, items, meta, fmt, fver, params):
        if fmt == "table":
            table = tables.build_table(rt.versions[version].columns, items, meta,
                                       params.get("includeObject", "Metadata"))
            table["apiVersion"] = f"meta.k8s.io/{fver}"
            return self._send(200, table)
        if fmt == "meta":
            return self._send(200, {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{fver}",
                                    "metadata": meta, "items": [_partial(o, fver) for o in items]})
        lst = {"kind": rt.list_kind, "apiVersion": rt.api_version(version), "metadata": meta, "items": items}
        if fmt == "yaml":
            return self._send(200, yaml.safe_dump(lst, sort_keys=False).encode(), "application/yaml")
        return self._send(200, lst)

    def _watch(self, rt, version, ns, params, fmt, fver):
        app = self.server.app

        def transform(obj):
            if fmt == "table":
                t = tables.build_table(rt.versions[version].columns, [obj],
                                       {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                       params.get("includeObject", "Metadata"))
                t["apiVersion"] = f"meta.k8s.io/{fver}"
                return t
            if fmt == "meta":
                return _partial(obj, fver)
            return obj

        stream = WatchStream(app.api, rt, version, ns, params, app.faults, transform)
        self._log(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

        def send(event):
            data = (json.dumps(event, separators=(",", ":")) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        app.watch_started(self, rt, ns, params)
        try:
            stream.run(send, lambda: connection_closed(self.connection))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            app.watch_ended(self)

    def _openapi(self, parts):
        app = self.server.app
        if parts == ["v3"]:
            return self._send(200, discovery.openapi_index(app.registry))
        if len(parts) >= 3 and parts[0] == "v3":
            if parts[1] == "api" and len(parts) == 3:
                doc = discovery.openapi_doc(app.registry, "", parts[2])
            elif parts[1] == "apis" and len(parts) == 4:
                doc = discovery.openapi_doc(app.registry, parts[2], parts[3])
            else:
                doc = None
            if doc is not None:
                return self._send(200, doc)
        raise path_not_found()

    def _control(self, parts, method, body):
        app = self.server.app
        if parts == ["faults"] and method == "POST":
            req = parse_body(body) if body.strip() else {}
            if not isinstance(req, dict):
                raise bad_request("expected a JSON object")
            app.faults.update(req)
            if req.get("compact"):
                with app.store.cond:
                    app.store.compact()
            return self._send(200, app.faults.snapshot())
        if parts == ["faults"] and method == "GET":
            return self._send(200, app.faults.snapshot())
        if parts == ["info"] and method == "GET":
            with app.store.cond:
                rv, window = app.store.rv, app.store.window_start
            return self._send(200, {"resourceVersion": str(rv), "oldestResourceVersion": str(window),
                                    "watches": app.watch_list()})
        raise path_not_found()


def _partial(obj, ver):
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{ver}", "metadata": obj.get("metadata")}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app, ssl_context=None):
        self.app, self.ssl_context = app, ssl_context
        super().__init__(address, Handler)

    def finish_request(self, request, client_address):
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        try:
            request.settimeout(10)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (ssl.SSLError, OSError):
            request.close()
            return None
        try:
            return super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass

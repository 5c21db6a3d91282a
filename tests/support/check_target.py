#!/usr/bin/env python3
"""check_target: a controllable target for health-check probes, on 127.0.0.1 only.

Contract
--------
Usage: check_target.py [--http-port N] [--https-port N --cert FILE --key FILE [--client-ca FILE]]
                       [--tcp [--tcp-port N]] [--expect-token-file FILE]
                       [--exit-with-parent] [-q]

Port 0 picks a free port (the default for every listener). HTTP always listens. HTTPS
listens when --cert and --key are given (--https-port alone is an error, exit 2); with
--client-ca it requires a client certificate signed by that CA. The raw TCP listener
listens with --tcp (--tcp-port implies --tcp).

Once every listener is up, exactly one line is printed to stdout (and flushed), JSON, with
the disabled listeners left out:

    {"http": 41234, "https": 41235, "tcp": 41236}

HTTP/1.1 with keep-alive; every response carries Content-Length. HTTP and HTTPS share one
handler and one global state.

Health endpoint: any GET path other than /_control and /_stats. Its answer follows the mode:

    ok                  200 text/plain "ok" (the initial mode)
    fail                503 text/plain "unavailable"
    json-healthy        200 application/json
                        {"status":"healthy","timestamp":"<RFC3339 UTC>",
                         "dependencies":{"database":"healthy","redis":"healthy"}}
    json-unhealthy      503, the same shape with "status":"unhealthy", "database":"unhealthy"
    json-unhealthy-200  200 with the body of json-unhealthy: only the JSON status tells
    hang                read the request, send nothing until the mode changes or 60 s
                        pass, then close the connection
    close               read the request, close the connection without an answer
    status-NNN          status NNN (200..599), text/plain "status NNN" (no body for 204
                        and 304, as HTTP requires)

Each health request is counted and recorded: its path, scheme and whether it carried an
Authorization header (a boolean; header values are never stored or printed).

Control (not counted as health requests):

    GET /_control?mode=M    set the mode; 400 on an unknown mode. Answers {"mode":M}.
    GET /_control?tcp=off   close the TCP listener: connections to its port are refused.
    GET /_control?tcp=on    listen again on the same port.
        Both parameters may be given at once; the answer is {"mode":M, "tcp":"on"|"off"}
        (the "tcp" key only when the listener exists). The change is in effect when the
        answer is sent.
    GET /_stats             {"requests": <health requests>, "connections": <connections
                            accepted on the HTTP and HTTPS ports>, "authorized": <health
                            requests whose Authorization equals "Bearer <token>">,
                            "last_path": <path of the last health request, or null>,
                            "last_authorization": <bool>, "tcp_connections": <n>,
                            "mode": <mode>, "recent": [{"path","scheme","authorization"},
                            ... the last 100 health requests, oldest first]}

The token is the content of --expect-token-file with surrounding whitespace stripped, read
again at every request (so a test may rotate it); without that option "authorized" stays 0.

The TCP listener accepts each connection and closes it at once.

Logs go to stderr, at most one line per request (none with -q), never a header value.
SIGTERM and SIGINT stop the target with status 0; with --exit-with-parent it also stops
when its parent process goes away (checked every 0.5 s).
"""

import argparse
import collections
import datetime
import hmac
import http.server
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse

HOST = "127.0.0.1"
HANG_SECONDS = 60.0
IDLE_TIMEOUT = 300.0  # an idle keep-alive connection is closed after this long
RECENT = 100
FIXED_MODES = ("ok", "fail", "json-healthy", "json-unhealthy", "json-unhealthy-200",
               "hang", "close")

_quiet = False
_log_lock = threading.Lock()


def log(message):
    if _quiet:
        return
    line = f"{time.strftime('%H:%M:%S')} check_target: {message}\n"
    with _log_lock:  # one write per line, so lines of concurrent requests do not mix
        sys.stderr.write(line)
        sys.stderr.flush()


def valid_mode(mode):
    if mode in FIXED_MODES:
        return True
    if mode.startswith("status-"):
        code = mode[len("status-"):]
        return len(code) == 3 and code.isdigit() and 200 <= int(code) <= 599
    return False


def rfc3339_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    """The state shared by every listener and handler thread."""

    def __init__(self, token_file):
        self.cond = threading.Condition()
        self.mode = "ok"
        self.mode_generation = 0  # bumped at every mode change; wakes hanging requests
        self.requests = 0
        self.connections = 0
        self.authorized = 0
        self.tcp_connections = 0
        self.last_path = None
        self.last_authorization = False
        self.recent = collections.deque(maxlen=RECENT)
        self.token_file = token_file

    def set_mode(self, mode):
        with self.cond:
            self.mode = mode
            self.mode_generation += 1
            self.cond.notify_all()

    def expected_authorization(self):
        if not self.token_file:
            return None
        try:
            with open(self.token_file, "r", encoding="utf-8") as f:
                token = f.read().strip()
        except OSError:
            return None
        return "Bearer " + token if token else None

    def record(self, path, scheme, authorization):
        expected = self.expected_authorization()
        matches = (authorization is not None and expected is not None and
                   hmac.compare_digest(authorization.encode(), expected.encode()))
        with self.cond:
            self.requests += 1
            if matches:
                self.authorized += 1
            self.last_path = path
            self.last_authorization = authorization is not None
            self.recent.append({"path": path, "scheme": scheme,
                                "authorization": authorization is not None})

    def count_connection(self):
        with self.cond:
            self.connections += 1

    def count_tcp_connection(self):
        with self.cond:
            self.tcp_connections += 1


class TcpListener:
    """Accepts connections and closes them at once; can be closed and opened again."""

    def __init__(self, state, port):
        self.state = state
        self.port = port
        self.lock = threading.Lock()
        self.sock = None
        self.thread = None

    def start(self):
        with self.lock:
            if self.sock is not None:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, self.port))
            sock.listen(128)
            self.port = sock.getsockname()[1]
            self.sock = sock
            self.thread = threading.Thread(target=self._accept_loop, args=(sock,), daemon=True)
            self.thread.start()

    def stop(self):
        with self.lock:
            sock, thread = self.sock, self.thread
            self.sock = self.thread = None
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the loop
        except OSError:
            pass
        sock.close()
        thread.join(timeout=5)

    @property
    def listening(self):
        with self.lock:
            return self.sock is not None

    def _accept_loop(self, sock):
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            self.state.count_tcp_connection()
            conn.close()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "check_target/1"
    timeout = IDLE_TIMEOUT

    # --- plumbing -------------------------------------------------------------------------

    def log_request(self, code="-", size="-"):
        # The request line holds the method, path and version only: no header values.
        log(f"{self.server.scheme} {self.requestline!r} {code}")

    def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
        log(f"{self.server.scheme} " + (format % args))

    def discard_body(self):
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > 0:
            self.rfile.read(int(length))

    def reply(self, code, body, content_type="text/plain; charset=utf-8"):
        data = body.encode() if isinstance(body, str) else body
        if code in (204, 304) or code < 200:
            data = b""
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def reply_json(self, code, obj):
        self.reply(code, json.dumps(obj, separators=(",", ":")), "application/json")

    # --- requests -------------------------------------------------------------------------

    def do_GET(self):
        self.discard_body()
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_control":
            self.control(url.query)
        elif url.path == "/_stats":
            self.stats()
        else:
            self.health(url.path)

    def control(self, query):
        state = self.server.state
        tcp = self.server.tcp
        try:
            params = urllib.parse.parse_qs(query, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            params = None
        if not params or set(params) - {"mode", "tcp"} or any(len(v) != 1 for v in params.values()):
            self.reply(400, "expected mode=M and/or tcp=on|off\n")
            return
        mode = params.get("mode", [None])[0]
        tcp_switch = params.get("tcp", [None])[0]
        if mode is not None and not valid_mode(mode):
            self.reply(400, f"unknown mode {mode!r}\n")
            return
        if tcp_switch is not None:
            if tcp_switch not in ("on", "off"):
                self.reply(400, "tcp must be on or off\n")
                return
            if tcp is None:
                self.reply(400, "no TCP listener (start with --tcp)\n")
                return
        if mode is not None:
            state.set_mode(mode)
        if tcp_switch == "off":
            tcp.stop()
        elif tcp_switch == "on":
            try:
                tcp.start()
            except OSError as e:
                self.reply(500, f"cannot listen on {tcp.port}: {e}\n")
                return
        with state.cond:
            answer = {"mode": state.mode}
        if tcp is not None:
            answer["tcp"] = "on" if tcp.listening else "off"
        self.reply_json(200, answer)

    def stats(self):
        state = self.server.state
        with state.cond:
            answer = {
                "requests": state.requests,
                # Every connection accepted on the HTTP and HTTPS ports, those that carried
                # only /_control or /_stats requests included.
                "connections": state.connections,
                "authorized": state.authorized,
                "last_path": state.last_path,
                "last_authorization": state.last_authorization,
                "tcp_connections": state.tcp_connections,
                "mode": state.mode,
                "recent": list(state.recent),
            }
        self.reply_json(200, answer)

    def health(self, path):
        state = self.server.state
        state.record(path, self.server.scheme, self.headers.get("Authorization"))
        with state.cond:
            mode = state.mode
            generation = state.mode_generation
        if mode == "ok":
            self.reply(200, "ok")
        elif mode == "fail":
            self.reply(503, "unavailable")
        elif mode in ("json-healthy", "json-unhealthy", "json-unhealthy-200"):
            healthy = mode == "json-healthy"
            word = "healthy" if healthy else "unhealthy"
            body = {"status": word, "timestamp": rfc3339_now(),
                    "dependencies": {"database": word, "redis": "healthy"}}
            self.reply_json(503 if mode == "json-unhealthy" else 200, body)
        elif mode == "hang":
            deadline = time.monotonic() + HANG_SECONDS
            with state.cond:
                while state.mode_generation == generation:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    state.cond.wait(left)
            self.close_connection = True
            self.log_request("hang-closed")
        elif mode == "close":
            self.close_connection = True
            self.log_request("closed")
        elif mode.startswith("status-"):
            code = int(mode[len("status-"):])
            self.reply(code, f"status {code}")
        else:  # unreachable: modes are checked when set
            self.reply(500, "bad mode")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port, scheme, state, tcp, ssl_context=None):
        self.scheme = scheme
        self.state = state
        self.tcp = tcp
        self.ssl_context = ssl_context
        super().__init__((HOST, port), Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        self.state.count_connection()
        if self.ssl_context is not None:
            # The handshake happens in the connection's own thread (finish_request), so a
            # client that never completes it does not hold up the accept loop.
            sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        if self.ssl_context is not None:
            try:
                request.settimeout(10)
                request.do_handshake()
                request.settimeout(None)
            except (OSError, ssl.SSLError) as e:
                log(f"{self.scheme} TLS handshake failed: {e}")
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        log(f"{self.scheme} connection error: {exc!r}")


def watch_parent():
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def main():
    global _quiet
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--https-port", type=int, default=None)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca")
    parser.add_argument("--tcp", action="store_true")
    parser.add_argument("--tcp-port", type=int, default=None)
    parser.add_argument("--expect-token-file")
    parser.add_argument("--exit-with-parent", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true", help="no request log")
    args = parser.parse_args()
    _quiet = args.quiet

    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together")
    if (args.https_port is not None or args.client_ca) and not args.cert:
        parser.error("--https-port and --client-ca need --cert and --key")
    for port in (args.http_port, args.https_port, args.tcp_port):
        if port is not None and not 0 <= port <= 65535:
            parser.error(f"bad port {port}")

    ssl_context = None
    if args.cert:
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_context.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ssl_context.verify_mode = ssl.CERT_REQUIRED
            ssl_context.load_verify_locations(cafile=args.client_ca)

    state = State(args.expect_token_file)
    tcp = None
    if args.tcp or args.tcp_port is not None:
        tcp = TcpListener(state, args.tcp_port or 0)
        tcp.start()
    servers = [Server(args.http_port, "http", state, tcp)]
    if ssl_context is not None:
        servers.append(Server(args.https_port or 0, "https", state, tcp, ssl_context))

    ports = {s.scheme: s.server_address[1] for s in servers}
    if tcp is not None:
        ports["tcp"] = tcp.port

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()
    if args.exit_with_parent:
        threading.Thread(target=watch_parent, daemon=True).start()

    print(json.dumps(ports), flush=True)
    log("listening " + " ".join(f"{k}={v}" for k, v in ports.items()))
    while not stop.wait(1.0):
        pass
    for server in servers:
        server.shutdown()
        server.server_close()
    if tcp is not None:
        tcp.stop()
    with state.cond:
        state.mode_generation += 1  # releases hanging requests
        state.cond.notify_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())

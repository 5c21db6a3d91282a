#!/usr/bin/env python3
"""webhook_receiver: a webhook receiver for the notification tests, on 127.0.0.1 only.

Usage: webhook_receiver.py --port-file FILE [--port N] [--secret-file FILE]

Listens on 127.0.0.1 (port 0: a free one, written to --port-file once listening). Every
POST is a delivery attempt. Its answer follows the mode:

    ok      200, and the delivery is recorded (the initial mode)
    fail    500, nothing recorded
    hang    no answer until the mode changes (or 60 s), then the connection is closed;
            nothing recorded

A recorded delivery keeps its X-Heartbeat-Delivery id, X-Heartbeat-Event, parsed body and
whether X-Heartbeat-Signature equals sha256=HMAC-SHA256(secret, timestamp + "." + body)
(with --secret-file; without, whether the header is absent). A second recorded delivery of
an id counts as a duplicate.

Control:
    GET /_control?mode=M   set the mode; answers {"mode": M}
    GET /_state            {"mode", "attempts", "failed", "hung", "duplicates",
                            "deliveries": [{"id", "event", "signature_ok", "body"}, ...]}
SIGTERM stops it with status 0.
"""

import argparse
import hashlib
import hmac
import http.server
import json
import os
import signal
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
STATE = {"mode": "ok", "attempts": 0, "failed": 0, "hung": 0, "duplicates": 0, "deliveries": []}
SECRET = None


def signature_ok(headers, body):
    given = headers.get("X-Heartbeat-Signature")
    if SECRET is None:
        return given is None
    timestamp = headers.get("X-Heartbeat-Timestamp", "")
    want = "sha256=" + hmac.new(SECRET, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return given is not None and hmac.compare_digest(given, want)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/_control":
            mode = urllib.parse.parse_qs(url.query).get("mode", [""])[0]
            if mode not in ("ok", "fail", "hang"):
                return self.answer(400, {"error": "unknown mode"})
            with LOCK:
                STATE["mode"] = mode
            return self.answer(200, {"mode": mode})
        if url.path == "/_state":
            with LOCK:
                return self.answer(200, STATE)
        self.answer(404, {"error": "not found"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with LOCK:
            STATE["attempts"] += 1
            mode = STATE["mode"]
        if mode == "hang":
            with LOCK:
                STATE["hung"] += 1
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with LOCK:
                    if STATE["mode"] != "hang":
                        break
                time.sleep(0.05)
            self.close_connection = True
            return
        if mode == "fail":
            with LOCK:
                STATE["failed"] += 1
            return self.answer(500, {"error": "failing on purpose"})
        delivery = {
            "id": self.headers.get("X-Heartbeat-Delivery"),
            "event": self.headers.get("X-Heartbeat-Event"),
            "signature_ok": signature_ok(self.headers, body),
            "body": json.loads(body or b"null"),
        }
        with LOCK:
            if any(d["id"] == delivery["id"] for d in STATE["deliveries"]):
                STATE["duplicates"] += 1
            else:
                STATE["deliveries"].append(delivery)
        self.answer(200, {"ok": True})


def main():
    global SECRET
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--secret-file")
    args = parser.parse_args()
    if args.secret_file:
        with open(args.secret_file, "rb") as f:
            SECRET = f.read().rstrip(b"\r\n")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))

    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

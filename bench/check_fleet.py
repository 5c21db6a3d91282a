#!/usr/bin/env python3
"""check_fleet: a loopback fleet of HTTP health endpoints for the health-check benchmark.

Contract
--------
Usage: check_fleet.py [--port N] [--ports K] [--slow-every N] [--exit-with-parent]

One asyncio process on 127.0.0.1 stands for many services. It listens on K ports (default
1): with --port N > 0 on N, N+1, ..., N+K-1; with --port 0 (the default) on K free ports
picked by the kernel. Once all listen, exactly one line is printed to stdout (and flushed):

    {"ports": [41234, ...], "pid": <this process>}

Requests (HTTP/1.1, keep-alive, pipelining kept in order):

    GET /svc/<i>/health   200 application/json {"status":"healthy"}. With --slow-every N,
                          the answer for every service i with i % N == N - 1 (every Nth
                          service: 1-based numbers N, 2N, ...) is sent after 50 ms.
    GET /_stats           {"requests": <health requests>, "connections": <connections
                          accepted>, "open": <connections open now>, "services":
                          <distinct i seen>, "not_found": <other requests>}
    anything else         404.

Parsing is minimal, as fits a fixture: a request is its header block up to the blank line;
request bodies are not supported (a request with a body gets 400 and the connection is
closed). "Connection: close", and any version but HTTP/1.1, close the connection after
the answer. All ports share the counters.

SIGTERM and SIGINT stop the fleet with status 0; with --exit-with-parent it also stops when
its parent process goes away (checked every 0.5 s).
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import sys

HOST = "127.0.0.1"
SLOW_SECONDS = 0.050
MAX_HEADER = 16 * 1024
BACKLOG = 4096

HEALTH_BODY = b'{"status":"healthy"}'


def response(status, body, content_type=b"application/json", close=False):
    head = (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type +
            b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n")
    if close:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + body


OK = response(b"200 OK", HEALTH_BODY)
OK_CLOSE = response(b"200 OK", HEALTH_BODY, close=True)
NOT_FOUND = response(b"404 Not Found", b"not found\n", b"text/plain")
NOT_FOUND_CLOSE = response(b"404 Not Found", b"not found\n", b"text/plain", close=True)
BAD_REQUEST = response(b"400 Bad Request", b"bad request\n", b"text/plain", close=True)


class Stats:
    def __init__(self):
        self.requests = 0
        self.connections = 0
        self.open = 0
        self.not_found = 0
        self.services = set()

    def as_json(self):
        return json.dumps({"requests": self.requests, "connections": self.connections,
                           "open": self.open, "services": len(self.services),
                           "not_found": self.not_found}).encode()


class FleetProtocol(asyncio.Protocol):
    """One connection. Answers are queued in request order; a slow answer holds back the
    answers of later pipelined requests until it is sent."""

    def __init__(self, stats, slow_every, loop):
        self.stats = stats
        self.slow_every = slow_every
        self.loop = loop
        self.transport = None
        self.buffer = b""
        self.pending = []  # [ready, data, close] in request order
        self.closing = False

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.stats.connections += 1
        self.stats.open += 1

    def connection_lost(self, exc):
        self.stats.open -= 1
        self.closing = True
        self.pending.clear()

    def data_received(self, data):
        if self.closing:
            return
        buffer = self.buffer + data if self.buffer else data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            buffer = buffer[end + 4:]
            self.handle(head)
            if self.closing:
                buffer = b""
                break
        if len(buffer) > MAX_HEADER:
            self.enqueue(BAD_REQUEST, True, None)
            buffer = b""
        self.buffer = buffer
        self.flush()

    def handle(self, head):
        line_end = head.find(b"\r\n")
        request_line = head if line_end < 0 else head[:line_end]
        parts = request_line.split(b" ")
        if len(parts) != 3:
            self.enqueue(BAD_REQUEST, True, None)
            return
        method, target, version = parts
        close = version != b"HTTP/1.1"
        if line_end >= 0:
            for line in head[line_end + 2:].split(b"\r\n"):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"connection":
                    if b"close" in value.lower():
                        close = True
                elif name == b"transfer-encoding" or (
                        name == b"content-length" and value.strip() != b"0"):
                    self.enqueue(BAD_REQUEST, True, None)
                    return
        stats = self.stats
        if method == b"GET" and target.startswith(b"/svc/") and target.endswith(b"/health"):
            number = target[5:-7]
            if number.isdigit():
                i = int(number)
                stats.requests += 1
                stats.services.add(i)
                slow = self.slow_every and i % self.slow_every == self.slow_every - 1
                self.enqueue(OK_CLOSE if close else OK, close, SLOW_SECONDS if slow else None)
                return
        if method == b"GET" and target == b"/_stats":
            self.enqueue(response(b"200 OK", stats.as_json(), close=close), close, None)
            return
        stats.not_found += 1
        self.enqueue(NOT_FOUND_CLOSE if close else NOT_FOUND, close, None)

    def enqueue(self, data, close, delay):
        entry = [delay is None, data, close]
        self.pending.append(entry)
        if close:
            self.closing = True  # later requests on this connection are not read
        if delay is not None:
            self.loop.call_later(delay, self.release, entry)

    def release(self, entry):
        entry[0] = True
        self.flush()

    def flush(self):
        pending = self.pending
        if not pending or not pending[0][0] or self.transport is None:
            return
        out = []
        close = False
        while pending and pending[0][0]:
            _, data, close = pending.pop(0)
            out.append(data)
            if close:
                break
        if self.transport.is_closing():
            return
        self.transport.write(b"".join(out))
        if close:
            pending.clear()
            self.transport.close()


async def watch_parent(stop):
    parent = os.getppid()
    while not stop.is_set():
        await asyncio.sleep(0.5)
        if os.getppid() != parent:
            stop.set()


async def serve(args):
    loop = asyncio.get_running_loop()
    stats = Stats()
    servers = []
    for k in range(args.ports):
        port = args.port + k if args.port else 0
        server = await loop.create_server(
            lambda: FleetProtocol(stats, args.slow_every, loop), HOST, port,
            family=socket.AF_INET, reuse_address=True, backlog=BACKLOG)
        servers.append(server)
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(watch_parent(stop)) if args.exit_with_parent else None
    print(json.dumps({"ports": ports, "pid": os.getpid()}), flush=True)
    await stop.wait()
    if watcher is not None:
        watcher.cancel()
    for server in servers:
        server.close()
    print(f"check_fleet: stopping: {stats.as_json().decode()}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0, help="first port; 0 picks free ports")
    parser.add_argument("--ports", type=int, default=1, help="how many ports to listen on")
    parser.add_argument("--slow-every", type=int, default=0,
                        help="every Nth service answers after 50 ms")
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args()
    if args.ports < 1:
        parser.error("--ports must be at least 1")
    if not 0 <= args.port <= 65535 or (args.port and args.port + args.ports - 1 > 65535):
        parser.error("bad --port")
    if args.slow_every < 0:
        parser.error("--slow-every must be >= 0")
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A ccache remote storage over HTTP, for building the image with a warm compiler cache.

    ccache-http-server.py --dir DIR [--bind 127.0.0.1] [--port 0] [--port-file FILE]
                          [--exit-with-parent]

Serves ccache's HTTP storage protocol (GET and HEAD read an entry, PUT writes one, DELETE
removes one; 404 when absent) with DIR holding one file per entry. A build stage started with
`docker build --network host --build-arg CCACHE_REMOTE_STORAGE=http://127.0.0.1:PORT/ccache`
reads and writes it. Writes are atomic (a temporary file renamed), so an interrupted build
never leaves a truncated entry; a read refreshes the entry's modification time, so entries
not used for a while can be pruned by age. GET /.stats answers "gets hits puts" counted since
start. Binds 127.0.0.1 by default; with --port 0 the kernel picks the port, written to
--port-file once the server listens.
"""
import argparse
import http.server
import os
import re
import sys
import tempfile
import threading
import time

KEY = re.compile(r"^/[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.gets = self.hits = self.puts = 0

    def add(self, **counts):
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def line(self):
        with self.lock:
            return f"{self.gets} {self.hits} {self.puts}\n"


def handler(root, stats):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def path_of(self):
            path = self.path.split("?", 1)[0]
            if not KEY.match(path) or "/../" in path + "/" or "/./" in path + "/":
                self.answer(400, b"bad key\n")
                return None
            return os.path.join(root, path.lstrip("/"))

        def answer(self, code, body=b"", head=False):
            self.send_response(code)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and not head:
                self.wfile.write(body)

        def read(self, head):
            if self.path == "/.stats":
                self.answer(200, stats.line().encode(), head)
                return
            path = self.path_of()
            if path is None:
                return
            try:
                with open(path, "rb") as f:
                    body = f.read()
                os.utime(path)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                stats.add(gets=0 if head else 1)
                self.answer(404, head=head)
                return
            stats.add(gets=0 if head else 1, hits=0 if head else 1)
            self.answer(200, body, head)

        def do_GET(self):
            self.read(head=False)

        def do_HEAD(self):
            self.read(head=True)

        def do_PUT(self):
            path = self.path_of()
            if path is None:
                return
            length = int(self.headers.get("Content-Length", "-1"))
            if length < 0:
                self.answer(411)
                return
            body = self.rfile.read(length)
            if len(body) != length:
                self.answer(400, b"short body\n")
                return
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".put-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(body)
                os.replace(tmp, path)
            except OSError:
                os.unlink(tmp)
                raise
            stats.add(puts=1)
            self.answer(201)

        def do_DELETE(self):
            path = self.path_of()
            if path is None:
                return
            try:
                os.unlink(path)
            except FileNotFoundError:
                self.answer(404)
                return
            self.answer(204)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    server = http.server.ThreadingHTTPServer((args.bind, args.port), handler(os.path.abspath(args.dir), Stats()))
    server.daemon_threads = True
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{server.server_address[1]}\n")
        os.replace(args.port_file + ".tmp", args.port_file)
    if args.exit_with_parent:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(1)
            server.shutdown()

        threading.Thread(target=watch, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

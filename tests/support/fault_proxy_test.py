#!/usr/bin/env python3
"""Self-test of fault_proxy.py: the proxy runs as a subprocess in front of an echo server in
this file, both on 127.0.0.1, and every mode is checked from a client socket.

Every socket operation has a timeout and every wait has a deadline, so a broken proxy fails
a test instead of hanging it. Run: python3 tests/support/fault_proxy_test.py
"""

import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

PROXY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_proxy.py")
TIMEOUT = 5.0  # every socket operation and every wait, unless a test needs a shorter one
READY = re.compile(r"^READY listen=(\d+) control=(\d+)$")


def wait_until(condition, timeout=TIMEOUT, interval=0.01):
    """Polls `condition` until it is true or `timeout` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"EOF after {len(data)} of {n} bytes")
        data += chunk
    return data


def round_trip(sock, payload):
    """Sends `payload`, reads the echo; (echo, seconds taken)."""
    start = time.monotonic()
    sock.sendall(payload)
    echo = recv_exactly(sock, len(payload))
    return echo, time.monotonic() - start


class EchoServer:
    """Echoes every byte back; on EOF shuts its side down. Counts resets seen."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)  # the accept loop also checks `stopping` this often
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.lock = threading.Condition()
        self.accepted = 0
        self.resets = 0
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.lock.notify_all()
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        conn.settimeout(10.0)
        with conn:
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        conn.shutdown(socket.SHUT_WR)
                        return
                    conn.sendall(data)
            except ConnectionResetError:
                with self.lock:
                    self.resets += 1
                    self.lock.notify_all()
            except OSError:
                pass

    def wait_for(self, predicate, timeout=TIMEOUT):
        with self.lock:
            return self.lock.wait_for(lambda: predicate(self), timeout)

    def close(self):
        self.stopping.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept on Linux
        except OSError:
            pass
        self.threads[0].join(TIMEOUT)
        self.listener.close()


class ProxyProcess:
    """fault_proxy.py as a child process; raises if it does not print READY in time."""

    def __init__(self, target_port, extra_args=()):
        self.dir = tempfile.TemporaryDirectory(prefix="fault-proxy-test-")
        self.ready_file = os.path.join(self.dir.name, "ready")
        self.stderr = open(os.path.join(self.dir.name, "stderr"), "w+b")
        self.exit_code = None
        self.stopped = False
        self.proc = subprocess.Popen(
            [sys.executable, PROXY, "--listen", "127.0.0.1:0", "--target",
             f"127.0.0.1:{target_port}", "--control-port", "0", "--ready-file",
             self.ready_file, *extra_args],
            stdout=subprocess.PIPE, stderr=self.stderr)
        self.ready_line = self._read_ready_line()
        m = READY.match(self.ready_line)
        if not m:
            self.stop()
            raise AssertionError(f"bad READY line {self.ready_line!r}; stderr: {self.log()}")
        self.port, self.control_port = int(m.group(1)), int(m.group(2))

    def _read_ready_line(self):
        deadline = time.monotonic() + 10.0
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([self.proc.stdout], [], [], max(remaining, 0))
            if not readable:
                self.stop()
                raise AssertionError(f"no READY line within 10 s; stderr: {self.log()}")
            byte = os.read(self.proc.stdout.fileno(), 1)
            if not byte:
                self.stop()
                raise AssertionError(f"proxy exited before READY; stderr: {self.log()}")
            line += byte
        return line.decode().rstrip("\n")

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def control(self, command):
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=TIMEOUT) as s:
            s.sendall(command.encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
            return answer.decode().strip()

    def stats(self):
        answer = self.control("stats")
        if not answer.startswith("OK "):
            raise AssertionError(f"stats answered {answer!r}")
        fields = dict(kv.split("=", 1) for kv in answer[3:].split())
        return {k: (v if k == "mode" else int(v)) for k, v in fields.items()}

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)

    def stop(self):
        """SIGTERM (once); the exit code, None if it had to be killed."""
        if self.stopped:
            return self.exit_code
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.exit_code = self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(TIMEOUT)
        else:
            self.exit_code = self.proc.returncode
        self.proc.stdout.close()
        self.stderr.close()
        self.dir.cleanup()
        return self.exit_code


class FaultProxyTest(unittest.TestCase):
    def setUp(self):
        self.echo = EchoServer()
        self.addCleanup(self.echo.close)
        self.proxy = ProxyProcess(self.echo.port)
        self.addCleanup(self._stop_proxy)

    def _stop_proxy(self):
        self.proxy.stop()

    def connect(self):
        s = self.proxy.connect()
        self.addCleanup(s.close)
        return s

    def assertResetSoon(self, sock, timeout=TIMEOUT):
        """The next recv on `sock` fails with ECONNRESET (data still queued is skipped)."""
        sock.settimeout(timeout)
        with self.assertRaises(ConnectionResetError):
            while sock.recv(65536):
                pass

    def test_ready_line_on_stdout_and_in_ready_file(self):
        self.assertRegex(self.proxy.ready_line, READY)
        with open(self.proxy.ready_file, encoding="ascii") as f:
            self.assertEqual(f.read(), self.proxy.ready_line + "\n")
        self.assertNotEqual(self.proxy.port, self.proxy.control_port)

    def test_pass_forwards_both_ways(self):
        s = self.connect()
        echo, _ = round_trip(s, b"hello")
        self.assertEqual(echo, b"hello")
        big = os.urandom(1 << 20)  # more than one chunk and more than a socket buffer
        sender = threading.Thread(target=s.sendall, args=(big,), daemon=True)
        sender.start()
        self.assertEqual(recv_exactly(s, len(big)), big)
        sender.join(TIMEOUT)

    def test_half_close_is_forwarded(self):
        s = self.connect()
        s.sendall(b"last words")
        s.shutdown(socket.SHUT_WR)  # the echo server sees EOF only if the proxy forwards it
        received = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break  # the echo server's EOF came back through the proxy
            received += chunk
        self.assertEqual(received, b"last words")
        self.assertTrue(wait_until(lambda: self.proxy.stats()["connections"] == 0),
                        "connection still open after both directions ended")

    def test_latency_adds_delay_and_keeps_order(self):
        s = self.connect()
        base = min(round_trip(s, b"ping")[1] for _ in range(3))  # robust to one slow trip
        self.assertEqual(self.proxy.control("latency 200"), "OK mode=latency latency_ms=200")
        echo, delayed = round_trip(s, b"ping")
        self.assertEqual(echo, b"ping")
        # 200 ms each way; only a generous lower bound on the extra time is asserted.
        self.assertGreaterEqual(delayed - base, 0.19, f"pass {base:.3f} s, latency {delayed:.3f} s")

        parts = [b"%03d;" % i for i in range(50)]  # many small chunks, in flight together
        for p in parts:
            s.sendall(p)
        self.assertEqual(recv_exactly(s, sum(map(len, parts))), b"".join(parts))

        t = self.connect()  # a new connection is delayed too
        _, delayed_new = round_trip(t, b"ping")
        self.assertGreaterEqual(delayed_new - base, 0.19)
        self.assertEqual(self.proxy.control("pass"), "OK mode=pass")
        self.assertEqual(round_trip(s, b"pong")[0], b"pong")

    def test_blackhole_delivers_nothing_and_drops_what_it_swallowed(self):
        old = self.connect()
        self.assertEqual(round_trip(old, b"before")[0], b"before")
        self.assertEqual(self.proxy.control("blackhole"), "OK mode=blackhole")
        before = self.proxy.stats()
        new = self.connect()  # accepted, but as silent as the open one
        old.sendall(b"lost-old")
        new.sendall(b"lost-new")
        readable, _, _ = select.select([old, new], [], [], 1.0)
        self.assertEqual(readable, [], "an answer (or EOF) came through the blackhole")
        after = self.proxy.stats()
        self.assertEqual((after["bytes_up"], after["bytes_down"]),
                         (before["bytes_up"], before["bytes_down"]))
        self.assertEqual(after["connections"], 2)
        self.assertEqual(after["mode"], "blackhole")

        self.assertEqual(self.proxy.control("pass"), "OK mode=pass")
        fresh = self.connect()
        self.assertEqual(round_trip(fresh, b"alive")[0], b"alive")
        # Had the swallowed bytes been delivered, they would come back first.
        self.assertEqual(round_trip(old, b"after")[0], b"after")
        self.assertEqual(round_trip(new, b"after")[0], b"after")

    def test_blackhole_drops_data_still_delayed_by_latency(self):
        s = self.connect()
        self.assertEqual(round_trip(s, b"x")[0], b"x")
        self.assertEqual(self.proxy.control("latency 200"), "OK mode=latency latency_ms=200")
        s.sendall(b"late")
        self.assertEqual(self.proxy.control("blackhole"), "OK mode=blackhole")
        readable, _, _ = select.select([s], [], [], 0.5)  # well past the 200 ms it was due
        self.assertEqual(readable, [])
        self.assertEqual(self.proxy.stats()["bytes_up"], 1, "delayed data crossed the blackhole")
        self.assertEqual(self.proxy.control("pass"), "OK mode=pass")
        self.assertEqual(round_trip(s, b"after")[0], b"after")

    def test_blackhole_holds_back_eof(self):
        s = self.connect()
        self.assertEqual(round_trip(s, b"x")[0], b"x")
        self.assertEqual(self.proxy.control("blackhole"), "OK mode=blackhole")
        s.shutdown(socket.SHUT_WR)
        readable, _, _ = select.select([s], [], [], 0.5)
        self.assertEqual(readable, [], "the EOF crossed the blackhole")
        self.assertEqual(self.proxy.control("pass"), "OK mode=pass")
        self.assertEqual(s.recv(10), b"", "the EOF was not delivered after the blackhole")

    def test_reset_aborts_open_connections_both_sides(self):
        s = self.connect()
        self.assertEqual(round_trip(s, b"mid-stream")[0], b"mid-stream")
        self.assertEqual(self.proxy.control("latency 300"), "OK mode=latency latency_ms=300")
        s.sendall(b"in flight")  # held by the proxy when the reset comes
        self.assertEqual(self.proxy.control("reset"), "OK reset=1 mode=latency")
        self.assertResetSoon(s)
        self.assertTrue(self.echo.wait_for(lambda e: e.resets == 1),
                        "the upstream side was not reset")
        stats = self.proxy.stats()
        self.assertEqual((stats["connections"], stats["mode"]), (0, "latency"))
        # One-shot: new connections forward again, in the mode from before.
        t = self.connect()
        self.assertEqual(round_trip(t, b"again")[0], b"again")

    def test_refuse_resets_new_connections_only(self):
        old = self.connect()
        self.assertEqual(round_trip(old, b"before")[0], b"before")
        self.assertEqual(self.proxy.control("refuse"), "OK mode=refuse")
        refused = self.connect()  # the kernel completes the handshake; the proxy resets it
        self.assertResetSoon(refused)
        self.assertEqual(round_trip(old, b"still here")[0], b"still here")
        stats = self.proxy.stats()
        self.assertEqual((stats["accepted"], stats["connections"]), (1, 1))
        self.assertEqual(self.echo.accepted, 1, "a refused connection reached the upstream")

        self.assertEqual(self.proxy.control("pass"), "OK mode=pass")
        again = self.connect()
        self.assertEqual(round_trip(again, b"welcome")[0], b"welcome")

    def test_upstream_down_resets_client(self):
        self.echo.close()  # nothing listens on the target port now
        self.assertEqual(self.proxy.stats()["mode"], "pass")
        s = self.connect()
        self.assertResetSoon(s)
        self.assertTrue(wait_until(lambda: self.proxy.stats()["connections"] == 0))

    def test_stats_counts(self):
        self.assertEqual(self.proxy.stats(),
                         {"connections": 0, "accepted": 0, "bytes_up": 0, "bytes_down": 0,
                          "mode": "pass"})
        a = self.connect()
        b = self.connect()
        round_trip(a, b"x" * 1000)
        round_trip(b, b"y" * 234)
        stats = self.proxy.stats()
        self.assertEqual(stats, {"connections": 2, "accepted": 2, "bytes_up": 1234,
                                 "bytes_down": 1234, "mode": "pass"})
        a.close()
        self.assertTrue(wait_until(lambda: self.proxy.stats()["connections"] == 1))
        self.assertEqual(self.proxy.stats()["accepted"], 2)

    def test_control_errors(self):
        self.assertTrue(self.proxy.control("bogus").startswith("ERR "))
        self.assertTrue(self.proxy.control("latency").startswith("ERR "))
        self.assertTrue(self.proxy.control("latency soon").startswith("ERR "))
        self.assertTrue(self.proxy.control("latency -5").startswith("ERR "))
        self.assertTrue(self.proxy.control("latency nan").startswith("ERR "))
        self.assertTrue(self.proxy.control("pass now").startswith("ERR "))
        self.assertTrue(self.proxy.control("").startswith("ERR "))
        self.assertEqual(self.proxy.stats()["mode"], "pass")

    def test_sigterm_exits_zero_with_open_connections(self):
        s = self.connect()
        self.assertEqual(round_trip(s, b"x")[0], b"x")
        self.assertEqual(self.proxy.stop(), 0)
        s.settimeout(TIMEOUT)
        try:
            self.assertEqual(s.recv(10), b"")
        except ConnectionResetError:
            pass  # closed either way


class CommandLineTest(unittest.TestCase):
    def run_proxy(self, *args):
        return subprocess.run([sys.executable, PROXY, *args], capture_output=True, text=True,
                              timeout=TIMEOUT)

    def test_help(self):
        r = self.run_proxy("--help")
        self.assertEqual(r.returncode, 0)
        for word in ("--listen", "--target", "--control-port", "--ready-file", "blackhole",
                     "latency MS", "refuse", "reset", "stats"):
            self.assertIn(word, r.stdout)

    def test_only_loopback_addresses(self):
        for args in (["--listen", "0.0.0.0:0", "--target", "127.0.0.1:2379"],
                     ["--listen", "127.0.0.1:0", "--target", "10.0.0.1:2379"],
                     ["--listen", "127.0.0.1:0", "--target", "localhost:2379"],
                     ["--listen", "[::1]:0", "--target", "127.0.0.1:2379"],
                     ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:0"],
                     ["--listen", "127.0.0.1", "--target", "127.0.0.1:2379"]):
            with self.subTest(args=args):
                r = self.run_proxy(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("error:", r.stderr)
                self.assertEqual(r.stdout, "")


if __name__ == "__main__":
    unittest.main()

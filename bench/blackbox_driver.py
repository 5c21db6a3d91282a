#!/usr/bin/env python3
"""blackbox_driver: drives a Prometheus blackbox exporter at a fixed probe rate.

Contract
--------
Usage: blackbox_driver.py --exporter 127.0.0.1:PORT --url-template URL -n COUNT
                          --period S --duration D [--module M] [--concurrency C]
                          [--grace S] [--exit-with-parent]

Plays the part Prometheus plays in front of the exporter: COUNT services are each probed
once per period S, so probes are issued at COUNT/S per second, spread evenly, for D seconds;
probe k targets service k % COUNT, whose URL is --url-template with "{i}" replaced by the
service number. Each probe is `GET /probe?module=M&target=<url>` on one of C keep-alive
connections to the exporter (default 64); a probe due while all C are busy waits for one.
Probes not started by D + grace seconds (default 5) are counted as missed, and so are those
still unanswered then.

A probe succeeds when the exporter answers 200 with the line `probe_success 1`; any other
answer, a transport error or no answer within 10 s is a failure.

Prints human-readable lines, then, last, one JSON line:

    {"checks": <probes answered>, "expected": <COUNT/S*D>, "successes": n, "failures": n,
     "missed": n, "checks_per_s": x, "p50_ms": x, "p99_ms": x, "max_ms": x,
     "probe_p99_ms": <p99 of the exporter's own probe_duration_seconds>,
     "max_start_lag_ms": <latest start of a probe after it was due>,
     "driver_cpu_s": x, "driver_cpu_us_per_check": x}

Latencies are the driver's: from sending the request to the end of the answer. The driver's
CPU is its own (user+system), reported apart from the exporter's. With --exit-with-parent
the driver stops (status 1, no figures) when its parent process goes away.
"""

import argparse
import asyncio
import ipaddress
import json
import math
import os
import re
import resource
import sys
import time
import urllib.parse

REQUEST_TIMEOUT = 10.0
SUCCESS = re.compile(rb"^probe_success 1$", re.M)
DURATION = re.compile(rb"^probe_duration_seconds ([0-9.eE+-]+)$", re.M)


class Result:
    def __init__(self):
        self.checks = 0
        self.successes = 0
        self.failures = 0
        self.transport_failures = 0  # failures without an answer
        self.errors = {}
        self.latencies = []
        self.probe_durations = []
        self.max_lag = 0.0
        self.last_done = 0.0

    def error(self, why, answered=True):
        self.failures += 1
        if not answered:
            self.transport_failures += 1
        self.errors[why] = self.errors.get(why, 0) + 1


class Connection:
    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.reader = None
        self.writer = None

    async def ensure(self):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def drop(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def get(self, target):
        """Sends one GET and returns (status, body, keep_alive)."""
        await self.ensure()
        self.writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: " +
                          f"{self.host}:{self.port}".encode() + b"\r\n\r\n")
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        chunked = False
        keep_alive = True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                keep_alive = False
        if chunked:
            parts = []
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:
            body = await self.reader.read()
            keep_alive = False
        return status, body, keep_alive


async def watch_parent():
    parent = os.getppid()
    while True:
        await asyncio.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    index = max(0, math.ceil(p * len(sorted_values)) - 1)
    return sorted_values[index]


async def worker(queue, conn, module, template, deadline, result):
    while True:
        k, due = await queue.get()
        try:
            now = time.monotonic()
            if now > deadline:
                continue  # missed
            result.max_lag = max(result.max_lag, now - due)
            url = template.replace("{i}", str(k))
            target = ("/probe?module=" + urllib.parse.quote(module, safe="") +
                      "&target=" + urllib.parse.quote(url, safe="")).encode()
            start = time.monotonic()
            try:
                status, body, keep_alive = await asyncio.wait_for(conn.get(target),
                                                                  REQUEST_TIMEOUT)
            except asyncio.TimeoutError:
                conn.drop()
                result.error("timeout", answered=False)
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
                conn.drop()
                result.error(type(e).__name__, answered=False)
                continue
            end = time.monotonic()
            if not keep_alive:
                conn.drop()
            result.checks += 1
            result.latencies.append(end - start)
            result.last_done = end
            match = DURATION.search(body)
            if match:
                result.probe_durations.append(float(match.group(1)))
            if status == 200 and SUCCESS.search(body):
                result.successes += 1
            else:
                result.error(f"http {status}" if status != 200 else "probe_success 0")
        finally:
            queue.task_done()


async def run(args, host, port):
    rate = args.count / args.period
    expected = int(round(rate * args.duration))
    result = Result()
    queue = asyncio.Queue()
    t0 = time.monotonic()
    deadline = t0 + args.duration + args.grace
    watcher = asyncio.create_task(watch_parent()) if args.exit_with_parent else None
    workers = [asyncio.create_task(worker(queue, Connection(host, port), args.module,
                                          args.url_template, deadline, result))
               for _ in range(args.concurrency)]
    k = 0
    while k < expected:
        now = time.monotonic()
        while k < expected and t0 + k / rate <= now:
            queue.put_nowait((k % args.count, t0 + k / rate))
            k += 1
        if k < expected:
            await asyncio.sleep(max(0.001, t0 + k / rate - time.monotonic()))
    try:
        await asyncio.wait_for(queue.join(), max(0.1, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        pass
    for task in workers + ([watcher] if watcher else []):
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    # Missed: probes not started in time, still queued, or cancelled in flight.
    result.missed = expected - result.checks - result.transport_failures
    elapsed = max(args.duration, (result.last_done or t0) - t0)
    return result, expected, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--exporter", required=True, help="HOST:PORT of the exporter")
    parser.add_argument("--url-template", required=True)
    parser.add_argument("-n", "--count", type=int, required=True)
    parser.add_argument("--period", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--module", default="http_2xx")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--grace", type=float, default=5.0)
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args()
    host, _, port = args.exporter.rpartition(":")
    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError
        port = int(port)
    except ValueError:
        parser.error("--exporter must be a loopback HOST:PORT")
    if args.count < 1 or args.period <= 0 or args.duration <= 0 or args.concurrency < 1:
        parser.error("-n, --period, --duration and --concurrency must be positive")

    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    result, expected, elapsed = asyncio.run(run(args, host, port))
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)

    latencies = sorted(result.latencies)
    probes = sorted(result.probe_durations)
    done = result.checks
    out = {
        "checks": done,
        "expected": expected,
        "successes": result.successes,
        "failures": result.failures,
        "missed": result.missed,
        "checks_per_s": round(done / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1e3, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1e3, 3),
        "max_ms": round((latencies[-1] if latencies else 0.0) * 1e3, 3),
        "probe_p99_ms": round(percentile(probes, 0.99) * 1e3, 3),
        "max_start_lag_ms": round(result.max_lag * 1e3, 3),
        "driver_cpu_s": round(cpu, 3),
        "driver_cpu_us_per_check": round(cpu * 1e6 / done, 1) if done else None,
    }
    print(f"blackbox driver: {done}/{expected} probes answered in {elapsed:.1f} s "
          f"({out['checks_per_s']}/s), {result.successes} succeeded, "
          f"{result.failures} failed, {result.missed} missed")
    if result.errors:
        print("blackbox driver: failures: " +
              ", ".join(f"{why}={n}" for why, n in sorted(result.errors.items())))
    print(f"blackbox driver: latency p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms, "
          f"max {out['max_ms']} ms; exporter probe_duration p99 {out['probe_p99_ms']} ms; "
          f"max start lag {out['max_start_lag_ms']} ms")
    print(f"blackbox driver: own CPU {cpu:.2f} s ({out['driver_cpu_us_per_check']} us per probe)")
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

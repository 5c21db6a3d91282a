#!/usr/bin/env python3
"""fault_proxy: a TCP proxy on 127.0.0.1 in front of one upstream, for fault tests.

Contract
--------
Usage: fault_proxy.py --listen 127.0.0.1:PORT --target 127.0.0.1:PORT
                      [--control-port PORT] [--ready-file PATH] [--exit-with-parent] [-v]

Every connection accepted on --listen is connected to --target and bytes are copied both
ways. Port 0 picks a free port. Both hosts must be IPv4 literals in 127.0.0.0/8; anything
else exits with status 2 and a message, before anything is bound. The control port is on
the --listen host.

Once both ports listen, exactly one line is printed to stdout (and flushed):

    READY listen=<port> control=<port>

and, with --ready-file, the same line is written to PATH (atomically: written to PATH.tmp,
then renamed, so a reader that sees PATH sees the whole line).

Control: connect to the control port, send one command line, read one answer line (`OK ...`
or `ERR <why>`); the proxy then closes the connection. A command is in effect when its
answer is sent. Commands:

    pass         forward bytes both ways as they arrive (the initial mode); accept normally.
    latency MS   deliver every chunk, in both directions, MS milliseconds (a number >= 0)
                 after it was read; order is kept per direction, EOF and resets are delayed
                 the same way.
    blackhole    connections, open and new, stay open but nothing is delivered either way:
                 no data, no EOF, no reset. Data read meanwhile is dropped, not buffered:
                 switching back to `pass` (or `latency`) does NOT deliver it, as the packets
                 of a frozen host are lost. Only bytes the proxy handed to the kernel before
                 the switch may still arrive. An EOF or a reset read during the blackhole is
                 held back and delivered once it ends. New connections are still accepted
                 and connected upstream.
    reset        abort every open connection with a TCP RST on both sides (SO_LINGER {1, 0},
                 then close) and keep the current mode: a one-shot reset mid-stream.
                 Answers `OK reset=<connections reset> mode=<mode>`.
    refuse       reset every new connection as soon as it is accepted (SO_LINGER {1, 0},
                 close); open connections keep forwarding as in `pass`. `pass` (or
                 `latency`, `blackhole`) accepts normally again.
    stats        `OK connections=<open> accepted=<total> bytes_up=<n> bytes_down=<n>
                 mode=<mode>`: connections accepted and proxied (refused ones are not
                 counted), and bytes delivered client->upstream (up) and upstream->client
                 (down); bytes dropped by a blackhole are not counted.

Half-close is forwarded: an EOF read from one side becomes shutdown(SHUT_WR) on the other,
and the connection is closed once both directions have ended. A reset or error on one side
resets the other. If the target refuses the connection, the client is reset.

SIGTERM and SIGINT stop the proxy: it closes its sockets and exits 0. With
--exit-with-parent it also stops when the process that started it goes away.
"""

import argparse
import asyncio
import collections
import ipaddress
import os
import signal
import socket
import struct
import sys
import time

CHUNK = 64 * 1024
QUEUE_CHUNKS = 64  # per direction; beyond that the proxy stops reading from the sender
CONNECT_TIMEOUT = 10.0
CONTROL_TIMEOUT = 5.0
MAX_LATENCY_MS = 3_600_000

_DATA, _EOF, _RESET = "data", "eof", "reset"


def log(message):
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp} fault_proxy: {message}", file=sys.stderr, flush=True)


def rst_close(sock):
    """Closes `sock` with a TCP RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class _Abort(Exception):
    """A direction ended with an error: the whole connection is reset."""


class Connection:
    def __init__(self, proxy, client, number):
        self.proxy = proxy
        self.client = client
        self.upstream = None
        self.number = number
        self.task = None

    async def run(self):
        proxy = self.proxy
        loop = asyncio.get_running_loop()
        graceful = False
        tasks = []
        try:
            self.upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.upstream.setblocking(False)
            try:
                await asyncio.wait_for(loop.sock_connect(self.upstream, proxy.target),
                                       CONNECT_TIMEOUT)
            except (OSError, asyncio.TimeoutError) as e:
                log(f"connection {self.number}: upstream connect failed: {e!r}")
                return
            try:
                for sock in (self.client, self.upstream):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                return  # the client is already gone
            up = asyncio.Queue(QUEUE_CHUNKS)
            down = asyncio.Queue(QUEUE_CHUNKS)
            tasks = [
                asyncio.create_task(self._read(self.client, up)),
                asyncio.create_task(self._read(self.upstream, down)),
                asyncio.create_task(self._write(self.upstream, up, "bytes_up")),
                asyncio.create_task(self._write(self.client, down, "bytes_down")),
            ]
            writers = tasks[2:]
            await asyncio.wait(writers, return_when=asyncio.FIRST_EXCEPTION)
            graceful = all(w.done() and not w.cancelled() and w.exception() is None
                           for w in writers)
        finally:
            for t in tasks:
                t.cancel()
            if tasks:
                # Waiting lets the event loop drop its interest in the sockets before they close.
                await asyncio.gather(*tasks, return_exceptions=True)
            for sock in (self.client, self.upstream):
                if sock is None:
                    continue
                if graceful or proxy.stopping:
                    sock.close()
                else:
                    rst_close(sock)
            proxy.connections.discard(self)
            if proxy.verbose:
                log(f"connection {self.number}: closed ({'eof' if graceful else 'reset'})")

    async def _read(self, sock, queue):
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await loop.sock_recv(sock, CHUNK)
            except OSError:
                await queue.put((self.proxy.due(), _RESET, b""))
                return
            if not data:
                await queue.put((self.proxy.due(), _EOF, b""))
                return
            if self.proxy.mode == "blackhole":
                continue  # lost, never delivered
            await queue.put((self.proxy.due(), _DATA, data))

    async def _write(self, sock, queue, counter):
        loop = asyncio.get_running_loop()
        proxy = self.proxy
        while True:
            due, kind, data = await queue.get()
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if kind == _DATA:
                if proxy.mode == "blackhole":
                    continue
                try:
                    await loop.sock_sendall(sock, data)
                except OSError as e:
                    raise _Abort() from e
                proxy.stats[counter] += len(data)
                continue
            await proxy.flowing.wait()  # nothing, not even an EOF, crosses a blackhole
            if kind == _RESET:
                raise _Abort()
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                raise _Abort() from e
            return


class Proxy:
    def __init__(self, listen, target, control_port, verbose):
        self.listen = listen
        self.target = target
        self.control_port = control_port
        self.verbose = verbose
        self.mode = "pass"
        self.latency = 0.0  # seconds, in mode latency
        self.flowing = None  # asyncio.Event: set unless the mode is blackhole
        self.connections = set()
        self.stats = collections.Counter()
        self.stopping = False
        self.accepted = 0

    def due(self):
        now = asyncio.get_running_loop().time()
        return now + self.latency if self.mode == "latency" else now

    def set_mode(self, mode, latency=0.0):
        self.mode = mode
        self.latency = latency
        if mode == "blackhole":
            self.flowing.clear()
        else:
            self.flowing.set()
        log(f"mode {mode}" + (f" {latency * 1000:g} ms" if mode == "latency" else ""))

    async def accept_loop(self, listener):
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _ = await loop.sock_accept(listener)
            except OSError as e:
                log(f"accept failed: {e!r}")
                await asyncio.sleep(0.1)
                continue
            if self.mode == "refuse":
                rst_close(client)
                if self.verbose:
                    log("refused a connection")
                continue
            self.accepted += 1
            conn = Connection(self, client, self.accepted)
            self.connections.add(conn)
            conn.task = asyncio.create_task(conn.run())
            if self.verbose:
                log(f"connection {conn.number}: accepted")

    async def reset_all(self):
        conns = list(self.connections)
        for c in conns:
            c.task.cancel()
        await asyncio.gather(*(c.task for c in conns), return_exceptions=True)
        log(f"{'closed' if self.stopping else 'reset'} {len(conns)} connection(s)")
        return len(conns)

    async def command(self, line):
        words = line.split()
        if not words:
            return "ERR empty command"
        name, args = words[0].lower(), words[1:]
        if name in ("pass", "blackhole", "refuse", "reset", "stats") and args:
            return f"ERR {name} takes no argument"
        if name in ("pass", "blackhole", "refuse"):
            self.set_mode(name)
            return f"OK mode={name}"
        if name == "latency":
            if len(args) != 1:
                return "ERR usage: latency MS"
            try:
                ms = float(args[0])
            except ValueError:
                return f"ERR not a number of milliseconds: {args[0]}"
            if not 0 <= ms <= MAX_LATENCY_MS:  # also false for nan
                return f"ERR latency out of range [0, {MAX_LATENCY_MS}]: {args[0]}"
            self.set_mode("latency", ms / 1000.0)
            return f"OK mode=latency latency_ms={ms:g}"
        if name == "reset":
            n = await self.reset_all()
            return f"OK reset={n} mode={self.mode}"
        if name == "stats":
            return (f"OK connections={len(self.connections)} accepted={self.accepted} "
                    f"bytes_up={self.stats['bytes_up']} bytes_down={self.stats['bytes_down']} "
                    f"mode={self.mode}")
        return f"ERR unknown command: {name}"

    async def handle_control(self, reader, writer):
        try:
            try:
                raw = await asyncio.wait_for(reader.readline(), CONTROL_TIMEOUT)
                answer = await self.command(raw.decode("utf-8", "replace").strip())
            except asyncio.TimeoutError:
                answer = "ERR no command line"
            except (ValueError, asyncio.LimitOverrunError):
                answer = "ERR command line too long"
            writer.write((answer + "\n").encode())
            await asyncio.wait_for(writer.drain(), CONTROL_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def serve(self, ready_file, exit_with_parent):
        loop = asyncio.get_running_loop()
        self.flowing = asyncio.Event()
        self.flowing.set()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(self.listen)
        listener.listen(128)
        listener.setblocking(False)
        control = await asyncio.start_server(self.handle_control, self.listen[0],
                                             self.control_port, reuse_address=True)
        listen_port = listener.getsockname()[1]
        control_port = control.sockets[0].getsockname()[1]

        line = f"READY listen={listen_port} control={control_port}"
        if ready_file:
            tmp = ready_file + ".tmp"
            with open(tmp, "w", encoding="ascii") as f:
                f.write(line + "\n")
            os.replace(tmp, ready_file)
        print(line, flush=True)
        log(f"{self.listen[0]}:{listen_port} -> {self.target[0]}:{self.target[1]}, "
            f"control on port {control_port}")

        background = [asyncio.create_task(self.accept_loop(listener))]
        if exit_with_parent:
            background.append(asyncio.create_task(_watch_parent(os.getppid(), stop)))
        await stop.wait()

        self.stopping = True
        for t in background:
            t.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        listener.close()
        control.close()
        await self.reset_all()
        await control.wait_closed()
        log("stopped")


async def _watch_parent(parent, stop):
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    log("parent went away")
    stop.set()


def _loopback_address(parser, flag, text, allow_zero):
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        parser.error(f"{flag} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:0")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        parser.error(f"{flag} {text!r}: host must be an IPv4 address in 127.0.0.0/8")
    if address.version != 4 or address not in ipaddress.ip_network("127.0.0.0/8"):
        parser.error(f"{flag} {text!r}: refusing {host}, only 127.0.0.0/8 is allowed")
    try:
        port = int(port_text)
    except ValueError:
        parser.error(f"{flag} {text!r}: port is not a number")
    if not (0 if allow_zero else 1) <= port <= 65535:
        parser.error(f"{flag} {text!r}: port out of range")
    return (str(address), port)


def parse_args(argv):
    first_line = __doc__.splitlines()[0]
    p = argparse.ArgumentParser(
        prog="fault_proxy.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=first_line,
        epilog="""control commands (one line to the control port, one answer line back):
  pass          forward both ways (initial mode)
  latency MS    delay every chunk, both directions, by MS milliseconds
  blackhole     keep connections open, deliver nothing; dropped data is never delivered
  reset         RST every open connection, keep the current mode
  refuse        RST new connections at once; open ones forward as in pass
  stats         OK connections=N accepted=N bytes_up=N bytes_down=N mode=MODE

Once listening, prints "READY listen=<port> control=<port>" on stdout.
Only 127.0.0.0/8 addresses are accepted (exit status 2 otherwise).""")
    p.add_argument("--listen", required=True, metavar="HOST:PORT",
                   help="address clients connect to; port 0 picks a free one")
    p.add_argument("--target", required=True, metavar="HOST:PORT",
                   help="the upstream every connection is forwarded to")
    p.add_argument("--control-port", type=int, default=0, metavar="PORT",
                   help="control port on the --listen host; 0 picks a free one (default)")
    p.add_argument("--ready-file", metavar="PATH",
                   help="also write the READY line to PATH once listening")
    p.add_argument("--exit-with-parent", action="store_true",
                   help="stop when the process that started this one goes away")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log every connection on stderr")
    args = p.parse_args(argv)
    args.listen = _loopback_address(p, "--listen", args.listen, allow_zero=True)
    args.target = _loopback_address(p, "--target", args.target, allow_zero=False)
    if not 0 <= args.control_port <= 65535:
        p.error(f"--control-port {args.control_port}: out of range")
    return args


def main(argv=None):
    args = parse_args(argv)
    proxy = Proxy(args.listen, args.target, args.control_port, args.verbose)
    try:
        asyncio.run(proxy.serve(args.ready_file, args.exit_with_parent))
    except OSError as e:
        log(f"cannot listen: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

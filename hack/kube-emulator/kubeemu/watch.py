"""Watch streams: replay from a resourceVersion out of the bounded history, synthetic ADDED
events for resourceVersion "0"/"", bookmarks, timeouts, selector transitions and the
"too old" ERROR event."""

import select
import socket
import ssl
import time

from . import objects
from .errors import expired
from .store import ADDED, DELETED, MODIFIED


class WatchClosed(Exception):
    pass


def connection_closed(sock):
    """True when the peer has closed its side (without consuming request bytes on plain TCP)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        if isinstance(sock, ssl.SSLSocket):
            sock.setblocking(False)
            try:
                return sock.recv(1) == b""
            except ssl.SSLWantReadError:
                return False
            finally:
                sock.setblocking(True)
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (OSError, ValueError):
        return True


class WatchStream:
    def __init__(self, api, rt, ver, ns, params, faults, transform):
        self.api, self.rt, self.ver, self.params = api, rt, ver, params
        # "" (a path without /namespaces/<ns>/) watches every namespace, as the real server.
        self.ns = ns if rt.namespaced and ns else None
        self.faults, self.transform = faults, transform
        self.match = api.selectors(rt, ver, params)
        self.started = time.monotonic()
        timeout = params.get("timeoutSeconds")
        self.deadline = self.started + float(timeout) if timeout not in (None, "", "0") else None
        self.bookmarks = params.get("allowWatchBookmarks") in ("true", "1")

    def _in_scope(self, ev):
        return ev.storage == self.rt.storage and (self.ns is None or ev.ns == self.ns)

    def _event(self, etype, obj):
        return {"type": etype, "object": self.transform(objects.view(self.rt, self.ver, obj))}

    def _bookmark(self, rv, initial_end=False):
        return {"type": "BOOKMARK", "object": objects.bookmark(self.rt, self.ver, rv, initial_end)}

    def run(self, send, closed):
        """send(event) writes one event; closed() tells whether the client went away."""
        store = self.api.store
        rv_param = self.params.get("resourceVersion") or ""
        initial = self.params.get("sendInitialEvents") == "true"
        if self.faults.take_forced_gone():
            send(_error_event(expired(f"too old resource version: {rv_param or 0} ({store.rv})")))
            return
        with store.cond:
            if rv_param in ("", "0") or initial:
                last = store.rv
                items = [o for _, o in store.items(self.rt.storage, self.ns) if self.match(o)]
                first = [self._event(ADDED, o) for o in items]
            else:
                try:
                    last = int(rv_param)
                except ValueError:
                    send(_error_event(expired(f"invalid resource version: {rv_param}")))
                    return
                if store.too_old(last):
                    send(_error_event(expired(f"too old resource version: {last} ({store.window_start - 1})")))
                    return
                first = []
        for ev in first:
            send(ev)
        if initial and self.bookmarks:
            send(self._bookmark(last, initial_end=True))
        elif self.bookmarks:
            send(self._bookmark(last))
        next_bookmark = time.monotonic() + self.faults.bookmark_interval
        while True:
            now = time.monotonic()
            limit = self.faults.close_watches_after
            ends = [d for d in (self.deadline, self.started + limit if limit else None) if d]
            if ends and now >= min(ends):
                return
            batch, sent = [], False
            with store.cond:
                if store.closed:
                    return
                if store.too_old(last):
                    return  # fell out of the window: the real watch cache closes such watchers
                pending = store.events_after(last)
                if not pending:
                    wait = min([0.5, next_bookmark - now] + [e - now for e in ends])
                    store.cond.wait(max(wait, 0.01))
                    pending = store.events_after(last)
                for ev in pending:
                    last = ev.rv
                    if self._in_scope(ev):
                        batch.append(ev)
            for ev in batch:
                out = self._translate(ev)
                if out:
                    send(out)
                    sent = True
            if self.bookmarks and time.monotonic() >= next_bookmark:
                send(self._bookmark(last))
                sent = True
                next_bookmark = time.monotonic() + self.faults.bookmark_interval
            if not sent and closed():
                return

    def _translate(self, ev):
        """Selector-aware event type: an object moving out of the selection is DELETED for this
        watcher, one moving in is ADDED."""
        now_match = self.match(ev.obj)
        if ev.type == DELETED:
            return self._event(DELETED, ev.obj) if now_match else None
        was = ev.prev is not None and self.match(ev.prev)
        if now_match and was:
            return self._event(MODIFIED, ev.obj)
        if now_match:
            return self._event(ADDED, ev.obj)
        if was:
            return self._event(DELETED, ev.obj)
        return None


def _error_event(err):
    return {"type": "ERROR", "object": err.status()}

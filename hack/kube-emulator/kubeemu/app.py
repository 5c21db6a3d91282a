"""Run-time state shared by the request handlers: fault knobs, the request log, open watches."""

import json
import random
import sys
import threading
import time

from .errors import ApiError, bad_request, internal_error, too_many_requests


class Faults:
    """Fault knobs, changeable at run time through POST /_emulator/faults."""

    FIELDS = {"closeWatchesAfterSeconds": "close_watches_after", "errorRate": "error_rate",
              "errorCode": "error_code", "latencyMs": "latency_ms",
              "bookmarkIntervalSeconds": "bookmark_interval"}

    def __init__(self, close_watches_after=0.0, error_rate=0.0, error_code=500, latency_ms=0,
                 bookmark_interval=10.0):
        self.lock = threading.Lock()
        self.close_watches_after = float(close_watches_after or 0)
        self.error_rate, self.error_code = float(error_rate or 0), int(error_code)
        self.latency_ms, self.bookmark_interval = int(latency_ms or 0), float(bookmark_interval)
        self.forced_gone = 0

    def update(self, body):
        with self.lock:
            for key, attr in self.FIELDS.items():
                if key in body:
                    cur = getattr(self, attr)
                    setattr(self, attr, type(cur)(body[key] or 0))
            if self.error_code not in (429, 500, 503):
                raise bad_request("errorCode must be 429, 500 or 503")
            if self.bookmark_interval <= 0:
                self.bookmark_interval = 10.0
            gone = body.get("forceGoneOnNextWatch")
            if gone is not None:
                self.forced_gone = int(gone) if not isinstance(gone, bool) else int(gone)

    def take_forced_gone(self):
        with self.lock:
            if self.forced_gone > 0:
                self.forced_gone -= 1
                return True
            return False

    def snapshot(self):
        with self.lock:
            out = {key: getattr(self, attr) for key, attr in self.FIELDS.items()}
            out["forceGoneOnNextWatch"] = self.forced_gone
            return out


class RequestLog:
    def __init__(self, path=None, to_stderr=False):
        self.lock = threading.Lock()
        self.file = open(path, "a", encoding="utf-8") if path else None
        self.to_stderr = to_stderr

    def write(self, entry):
        if not self.file and not self.to_stderr:
            return
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self.lock:
            if self.file:
                self.file.write(line)
                self.file.flush()
            if self.to_stderr:
                sys.stderr.write(line)
                sys.stderr.flush()


class App:
    def __init__(self, api, registry, store, faults, log, token=None):
        self.api, self.registry, self.store = api, registry, store
        self.faults, self.log, self.token = faults, log, token
        self.watches, self.watch_lock = {}, threading.Lock()

    def inject_faults(self):
        f = self.faults
        if f.latency_ms:
            time.sleep(f.latency_ms / 1000.0)
        if f.error_rate and random.random() < f.error_rate:
            if f.error_code == 429:
                raise too_many_requests(1)
            if f.error_code == 503:
                raise ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
            raise internal_error("injected fault")

    def watch_started(self, handler, rt, ns, params):
        with self.watch_lock:
            self.watches[id(handler)] = {"apiGroup": rt.group, "resource": rt.plural, "namespace": ns,
                                         "resourceVersion": params.get("resourceVersion", ""),
                                         "labelSelector": params.get("labelSelector", ""),
                                         "fieldSelector": params.get("fieldSelector", ""),
                                         "userAgent": handler.headers.get("User-Agent", "")}

    def watch_ended(self, handler):
        with self.watch_lock:
            self.watches.pop(id(handler), None)

    def watch_list(self):
        with self.watch_lock:
            return list(self.watches.values())

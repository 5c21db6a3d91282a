"""In-memory object storage with one global resourceVersion counter and a bounded event
history that serves watches, consistent paginated lists and "too old" answers."""

import collections
import threading

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


class Event:
    __slots__ = ("rv", "type", "storage", "ns", "name", "obj", "prev")

    def __init__(self, rv, etype, storage, ns, name, obj, prev):
        self.rv, self.type, self.storage, self.ns, self.name = rv, etype, storage, ns, name
        self.obj, self.prev = obj, prev


class Store:
    """Objects are plain dicts. A committed dict is never mutated again: writers build a new
    dict and commit it, so readers (watch streams) may use committed dicts without the lock."""

    def __init__(self, history=1000):
        self.cond = threading.Condition(threading.RLock())
        self.rv = 0
        self.objects = {}                     # storage -> {(ns, name): obj}
        self.history = collections.deque(maxlen=max(1, history))
        self.window_start = 1                 # rv of the oldest event still in the history
        self.closed = False

    # All methods below expect the caller to hold self.cond (a re-entrant lock).

    def get(self, storage, ns, name):
        return self.objects.get(storage, {}).get((ns or "", name))

    def items(self, storage, ns=None):
        objs = self.objects.get(storage, {})
        keys = sorted((k for k in objs if ns is None or k[0] == ns), key="/".join)
        return [(k, objs[k]) for k in keys]

    def commit(self, etype, storage, ns, name, obj):
        """Stores obj (or removes the key for DELETED) under a new resourceVersion, records the
        event and wakes the watchers. Returns the committed object."""
        ns = ns or ""
        prev = self.objects.get(storage, {}).get((ns, name))
        self.rv += 1
        meta = dict(obj.get("metadata") or {})
        meta["resourceVersion"] = str(self.rv)
        obj = dict(obj)
        obj["metadata"] = meta
        bucket = self.objects.setdefault(storage, {})
        if etype == DELETED:
            bucket.pop((ns, name), None)
        else:
            bucket[(ns, name)] = obj
        if len(self.history) == self.history.maxlen:
            self.window_start = self.history[1].rv if len(self.history) > 1 else self.rv
        self.history.append(Event(self.rv, etype, storage, ns, name, obj, prev))
        if len(self.history) == 1:
            self.window_start = self.rv
        self.cond.notify_all()
        return obj

    def compact(self):
        """Forgets the whole history: any older resourceVersion becomes too old."""
        self.history.clear()
        self.window_start = self.rv + 1

    def too_old(self, rv):
        return rv < self.window_start - 1

    def events_after(self, rv):
        if not self.history or rv >= self.rv:
            return []
        first = self.history[0].rv
        start = max(0, rv + 1 - first)
        return [self.history[i] for i in range(start, len(self.history))]

    def snapshot(self, storage, rv):
        """{(ns, name): obj} of storage as it was at resourceVersion rv (caller checked too_old)."""
        state = dict(self.objects.get(storage, {}))
        for ev in reversed(self.events_after(rv)):
            if ev.storage != storage:
                continue
            if ev.prev is None:
                state.pop((ev.ns, ev.name), None)
            else:
                state[(ev.ns, ev.name)] = ev.prev
        return state

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()

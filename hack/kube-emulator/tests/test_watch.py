"""Watch semantics: replay, synthetic ADDED, bookmarks, timeouts, selectors, Table events,
410 Gone and the watch fault knobs."""

import time
import unittest

from emu import TABLE, Emulator, EmulatorTest, wait_until


class WatchTest(EmulatorTest):
    emulator_args = ("--bookmark-interval", "0.5")

    def setUp(self):
        self.emu.faults(closeWatchesAfterSeconds=0, forceGoneOnNextWatch=0)
        self.watches = []

    def tearDown(self):
        for w in self.watches:
            w.close()

    def watch(self, path=None, **params):
        w = self.emu.watch(path or self.WIDGETS, params)
        self.watches.append(w)
        return w

    def test_replay_from_resource_version(self):
        a = self.create_widget("rp-a")
        self.emu.patch(f"{self.WIDGETS}/rp-a", {"spec": {"size": 5}})
        self.emu.delete(f"{self.WIDGETS}/rp-a")
        w = self.watch(resourceVersion=a["metadata"]["resourceVersion"], fieldSelector="metadata.name=rp-a")
        first, second = w.next(), w.next()
        self.assertEqual((first["type"], first["object"]["spec"]["size"]), ("MODIFIED", 5))
        self.assertEqual(second["type"], "DELETED")
        self.assertGreater(int(second["object"]["metadata"]["resourceVersion"]),
                           int(first["object"]["metadata"]["resourceVersion"]))

    def test_resource_version_zero_sends_synthetic_added(self):
        self.create_widget("rz-a")
        self.create_widget("rz-b")
        w = self.watch(resourceVersion="0", labelSelector="", fieldSelector="metadata.name=rz-b")
        ev = w.next()
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "rz-b"))
        self.emu.patch(f"{self.WIDGETS}/rz-b", {"spec": {"size": 9}})
        self.assertEqual(w.next()["type"], "MODIFIED")
        w2 = self.watch(fieldSelector="metadata.name=rz-a")
        self.assertEqual(w2.next()["type"], "ADDED", "an absent resourceVersion behaves like \"0\"")

    def test_events_of_other_namespaces_and_kinds_are_not_sent(self):
        w = self.watch(resourceVersion="0", fieldSelector="metadata.name=only-me")
        self.emu.post("/api/v1/namespaces/default/configmaps",
                      {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "only-me"}})
        self.emu.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
        self.emu.post("/apis/example.dev/v1/namespaces/other/widgets", self.widget("only-me"))
        self.create_widget("only-me")
        ev = w.next()
        self.assertEqual((ev["type"], ev["object"]["metadata"]["namespace"]), ("ADDED", "default"))
        self.assertEqual(w.drain(0.3), [])

    def test_a_watch_across_all_namespaces_sees_every_namespace(self):
        self.emu.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": "elsewhere"}})
        self.create_widget("everywhere-a")
        w = self.watch("/apis/example.dev/v1/widgets", resourceVersion="0",
                       fieldSelector="metadata.name=everywhere-a")
        self.assertEqual(w.next()["type"], "ADDED", "the synthetic ADDED of the existing object")
        w2 = self.watch("/apis/example.dev/v1/widgets", labelSelector="spread=yes")
        self.emu.post("/apis/example.dev/v1/namespaces/elsewhere/widgets",
                      dict(self.widget("everywhere-b"), metadata={"name": "everywhere-b",
                                                                  "labels": {"spread": "yes"}}))
        ev = w2.next()
        self.assertEqual((ev["type"], ev["object"]["metadata"]["namespace"]), ("ADDED", "elsewhere"))

    def test_label_selector_transitions(self):
        w = self.watch(resourceVersion="0", labelSelector="stage=live")
        self.create_widget("ls-a", labels={"stage": "test"})
        self.emu.patch(f"{self.WIDGETS}/ls-a", {"metadata": {"labels": {"stage": "live"}}})
        ev = w.next()
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "ls-a"))
        self.emu.patch(f"{self.WIDGETS}/ls-a", {"metadata": {"labels": {"stage": "gone"}}})
        self.assertEqual(w.next()["type"], "DELETED", "leaving the selection is a DELETED event")

    def test_bookmarks(self):
        w = self.watch(resourceVersion="0", allowWatchBookmarks="true", fieldSelector="metadata.name=bm-a")
        ev = w.next(timeout=3)
        self.assertEqual(ev["type"], "BOOKMARK", "a bookmark soon after the start")
        self.assertEqual(set(ev["object"]), {"kind", "apiVersion", "metadata"})
        self.assertEqual(ev["object"]["kind"], "Widget")
        rv1 = int(ev["object"]["metadata"]["resourceVersion"])
        self.create_widget("bm-a")
        self.assertEqual(w.next_matching(lambda e: e["type"] != "BOOKMARK")["type"], "ADDED")
        later = w.next_matching(lambda e: e["type"] == "BOOKMARK", timeout=3)
        self.assertGreater(int(later["object"]["metadata"]["resourceVersion"]), rv1)

    def test_send_initial_events_ends_with_marked_bookmark(self):
        self.create_widget("sie-a")
        w = self.watch(sendInitialEvents="true", resourceVersionMatch="NotOlderThan", allowWatchBookmarks="true",
                       fieldSelector="metadata.name=sie-a")
        self.assertEqual(w.next()["type"], "ADDED")
        bm = w.next()
        self.assertEqual(bm["type"], "BOOKMARK")
        self.assertEqual(bm["object"]["metadata"]["annotations"], {"k8s.io/initial-events-end": "true"})

    def test_timeout_seconds_ends_the_stream(self):
        start = time.monotonic()
        w = self.watch(resourceVersion="0", timeoutSeconds="1", fieldSelector="metadata.name=none")
        self.assertTrue(w.done.wait(5), "the stream ended")
        self.assertLess(time.monotonic() - start, 4)
        self.assertGreaterEqual(time.monotonic() - start, 0.9)

    def test_table_watch(self):
        self.create_widget("tw-a")
        w = self.emu.watch(self.WIDGETS, {"resourceVersion": "0", "fieldSelector": "metadata.name=tw-a"},
                           accept=TABLE)
        self.watches.append(w)
        ev = w.next()
        self.assertEqual(ev["object"]["kind"], "Table")
        self.assertEqual(len(ev["object"]["rows"]), 1)
        self.assertEqual(ev["object"]["rows"][0]["cells"][:3], ["tw-a", 3, "blue"])
        self.assertEqual(ev["object"]["rows"][0]["object"]["kind"], "PartialObjectMetadata")

    def test_too_old_resource_version_is_an_error_event(self):
        w0 = self.create_widget("old-a")
        old_rv = int(w0["metadata"]["resourceVersion"])
        self.emu.faults(compact=True)
        self.create_widget("old-b")
        w = self.emu.watch(self.WIDGETS, {"resourceVersion": str(old_rv - 1)}, wait_registered=False)
        self.watches.append(w)
        self.assertEqual(w.status, 200)
        ev = w.next()
        self.assertEqual(ev["type"], "ERROR")
        st = ev["object"]
        self.assertEqual((st["kind"], st["code"], st["reason"], st["status"]), ("Status", 410, "Expired", "Failure"))
        self.assertRegex(st["message"], rf"^too old resource version: {old_rv - 1} \(\d+\)$")
        self.assertTrue(w.done.wait(5), "the stream ends after the ERROR event")

    def test_history_window_is_bounded(self):
        small = Emulator("--watch-history", "5")
        try:
            first = small.post("/api/v1/namespaces/default/configmaps",
                               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c0"}}).json
            for i in range(1, 8):
                small.post("/api/v1/namespaces/default/configmaps",
                           {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}})
            rv = first["metadata"]["resourceVersion"]
            w = small.watch("/api/v1/namespaces/default/configmaps", {"resourceVersion": rv}, wait_registered=False)
            ev = w.next()
            self.assertEqual((ev["type"], ev["object"]["code"]), ("ERROR", 410))
            w.close()
            recent = small.get("/api/v1/namespaces/default/configmaps").json["metadata"]["resourceVersion"]
            w = small.watch("/api/v1/namespaces/default/configmaps", {"resourceVersion": str(int(recent) - 2)})
            self.assertEqual(w.next()["object"]["metadata"]["name"], "c6")
            w.close()
        finally:
            small.stop()

    def test_force_gone_knob(self):
        self.emu.faults(forceGoneOnNextWatch=True)
        w = self.emu.watch(self.WIDGETS, {"resourceVersion": "1"}, wait_registered=False)
        self.watches.append(w)
        ev = w.next()
        self.assertEqual((ev["type"], ev["object"]["code"], ev["object"]["reason"]), ("ERROR", 410, "Expired"))
        self.assertTrue(w.done.wait(5))
        w2 = self.watch(resourceVersion="0", fieldSelector="metadata.name=nothing-here")
        self.assertFalse(w2.done.wait(0.3), "only the next watch is failed")

    def test_close_watches_knob(self):
        w = self.watch(resourceVersion="0", fieldSelector="metadata.name=nothing-here")
        self.assertFalse(w.done.wait(0.5))
        self.emu.faults(closeWatchesAfterSeconds=0.2)
        self.assertTrue(w.done.wait(5), "existing watches are closed once older than the limit")
        start = time.monotonic()
        w2 = self.watch(resourceVersion="0", fieldSelector="metadata.name=nothing-here")
        self.assertTrue(w2.done.wait(5))
        self.assertGreaterEqual(time.monotonic() - start, 0.15)
        self.emu.faults(closeWatchesAfterSeconds=0)

    def test_disconnected_watchers_are_released(self):
        w = self.watch(resourceVersion="0", fieldSelector="metadata.name=nothing-here")
        marker = w.marker
        w.close()
        wait_until(lambda: not any(x.get("userAgent") == marker for x in self.emu.info()["watches"]), 5,
                   message="the server to notice the closed watch")


if __name__ == "__main__":
    unittest.main()

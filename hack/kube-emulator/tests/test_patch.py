"""Patch types: JSON merge patch, strategic merge patch, JSON patch and server-side apply."""

import json
import unittest

from emu import EmulatorTest

CM = "/api/v1/namespaces/default/configmaps"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
APPLY = "application/apply-patch+yaml"


class PatchTest(EmulatorTest):
    def test_merge_patch(self):
        self.create_widget("mp-a", owner="team", tags=["a", "b"])
        r = self.emu.patch(f"{self.WIDGETS}/mp-a", {"spec": {"owner": None, "tags": ["c"], "size": 4},
                                                    "metadata": {"labels": {"l": "v"}}})
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("owner", r.json["spec"])
        self.assertEqual(r.json["spec"]["tags"], ["c"])
        self.assertEqual(r.json["metadata"]["labels"], {"l": "v"})
        self.assertEqual(r.json["metadata"]["generation"], 2)

    def test_merge_patch_with_stale_resource_version_conflicts(self):
        w = self.create_widget("mp-rv")
        self.emu.patch(f"{self.WIDGETS}/mp-rv", {"spec": {"size": 5}})
        r = self.emu.patch(f"{self.WIDGETS}/mp-rv", {"metadata": {"resourceVersion": w["metadata"]["resourceVersion"]},
                                                     "spec": {"size": 6}})
        self.assertEqual(r.status, 409)
        self.assertEqual(self.emu.patch(f"{self.WIDGETS}/missing", {"spec": {}}).status, 404)

    def test_strategic_merge_patch_on_builtins(self):
        self.emu.post(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "smp"},
                           "data": {"a": "1", "b": "2"}})
        r = self.emu.patch(f"{CM}/smp", {"data": {"b": None, "c": "3"}},
                           ctype="application/strategic-merge-patch+json")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["data"], {"a": "1", "c": "3"})
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "smp-d"},
               "spec": {"selector": {"matchLabels": {"app": "x"}},
                        "template": {"metadata": {"labels": {"app": "x"}},
                                     "spec": {"containers": [{"name": "a", "image": "img:1",
                                                              "env": [{"name": "E1", "value": "1"}]},
                                                             {"name": "b", "image": "img:2"}]}}}}
        created = self.emu.post(DEPLOY, dep)
        self.assertEqual(created.status, 201, created)
        self.assertEqual(created.json["spec"]["replicas"], 1, "server-side defaults")
        r = self.emu.patch(f"{DEPLOY}/smp-d", {"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "img:3", "env": [{"name": "E2", "value": "2"}]}]}}}},
            ctype="application/strategic-merge-patch+json")
        containers = r.json["spec"]["template"]["spec"]["containers"]
        self.assertEqual([c["name"] for c in containers], ["a", "b"], "lists with a merge key are merged")
        self.assertEqual(containers[0]["image"], "img:3")
        self.assertEqual([e["name"] for e in containers[0]["env"]], ["E1", "E2"])
        self.assertEqual(r.json["metadata"]["generation"], 2)

    def test_strategic_merge_patch_is_refused_for_custom_resources(self):
        self.create_widget("smp-cr")
        r = self.emu.patch(f"{self.WIDGETS}/smp-cr", {"spec": {"size": 2}},
                           ctype="application/strategic-merge-patch+json")
        self.assertEqual(r.status, 415)

    def test_json_patch(self):
        self.create_widget("jp-a", tags=["a"])
        ops = [{"op": "add", "path": "/spec/tags/-", "value": "b"},
               {"op": "replace", "path": "/spec/size", "value": 6},
               {"op": "test", "path": "/spec/tags/0", "value": "a"},
               {"op": "add", "path": "/metadata/labels", "value": {"a~b/c": "x"}},
               {"op": "copy", "from": "/spec/size", "path": "/spec/ttlSeconds"}]
        r = self.emu.patch(f"{self.WIDGETS}/jp-a", ops, ctype="application/json-patch+json")
        self.assertEqual(r.status, 422, "label key with '~' is invalid")
        ops[3]["value"] = {"x": "y"}
        r = self.emu.patch(f"{self.WIDGETS}/jp-a", ops, ctype="application/json-patch+json")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["spec"]["tags"], ["a", "b"])
        self.assertEqual(r.json["spec"]["ttlSeconds"], 6)
        r = self.emu.patch(f"{self.WIDGETS}/jp-a", [{"op": "test", "path": "/spec/size", "value": 1}],
                           ctype="application/json-patch+json")
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["reason"], "Invalid")
        r = self.emu.patch(f"{self.WIDGETS}/jp-a", [{"op": "remove", "path": "/spec/nothing"}],
                           ctype="application/json-patch+json")
        self.assertEqual(r.status, 422)
        self.assertEqual(self.emu.patch(f"{self.WIDGETS}/jp-a", "not json",
                                        ctype="application/json-patch+json").status, 400)

    def test_server_side_apply_creates_then_merges(self):
        body = "apiVersion: example.dev/v1\nkind: Widget\nmetadata:\n  name: ssa-a\nspec:\n  size: 2\n  owner: me\n"
        r = self.emu.patch(f"{self.WIDGETS}/ssa-a?fieldManager=tester&force=false", body, ctype=APPLY)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["spec"], {"size": 2, "owner": "me", "color": "blue", "ttlSeconds": 30})
        other = self.emu.patch(f"{self.WIDGETS}/ssa-a", {"spec": {"tags": ["x"]}})
        self.assertEqual(other.status, 200)
        body2 = json.dumps({"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "ssa-a"},
                            "spec": {"size": 3}})
        r = self.emu.patch(f"{self.WIDGETS}/ssa-a?fieldManager=tester", body2, ctype=APPLY)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["spec"]["size"], 3)
        self.assertNotIn("owner", r.json["spec"], "a field the manager stopped applying is removed")
        self.assertEqual(r.json["spec"]["tags"], ["x"], "fields of other writers stay")
        self.assertEqual(r.json["metadata"]["generation"], 3)

    def test_server_side_apply_status_and_errors(self):
        self.emu.patch(f"{self.WIDGETS}/ssa-st?fieldManager=t",
                       "apiVersion: example.dev/v1\nkind: Widget\nmetadata:\n  name: ssa-st\nspec:\n  size: 1\n",
                       ctype=APPLY)
        st = {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "ssa-st"},
              "status": {"phase": "Up", "conditions": [{"type": "Ready", "status": "True"}]}}
        r = self.emu.patch(f"{self.WIDGETS}/ssa-st/status?fieldManager=ctl", json.dumps(st), ctype=APPLY)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"]["phase"], "Up")
        self.assertEqual(r.json["metadata"]["generation"], 1)
        r = self.emu.patch(f"{self.WIDGETS}/ssa-st", json.dumps(st), ctype=APPLY)
        self.assertEqual(r.status, 400, "fieldManager is required for apply")
        bad = {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "ssa-st"},
               "spec": {"size": 1, "bogus": True}}
        r = self.emu.patch(f"{self.WIDGETS}/ssa-st?fieldManager=t", json.dumps(bad), ctype=APPLY)
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["message"], "failed to create typed patch object (example.dev/v1, Kind=Widget): "
                                            ".spec.bogus: field not declared in schema")

    def test_server_side_apply_merges_list_map_by_key(self):
        self.create_widget("ssa-map")
        self.emu.patch(f"{self.WIDGETS}/ssa-map/status", {"status": {"conditions": [
            {"type": "Ready", "status": "False"}, {"type": "Synced", "status": "True"}]}})
        st = {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "ssa-map"},
              "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        r = self.emu.patch(f"{self.WIDGETS}/ssa-map/status?fieldManager=c", json.dumps(st), ctype=APPLY)
        conds = {c["type"]: c["status"] for c in r.json["status"]["conditions"]}
        self.assertEqual(conds, {"Ready": "True", "Synced": "True"})

    def test_unknown_patch_type(self):
        self.create_widget("pt-a")
        self.assertEqual(self.emu.patch(f"{self.WIDGETS}/pt-a", {"spec": {}}, ctype="text/plain").status, 415)


if __name__ == "__main__":
    unittest.main()

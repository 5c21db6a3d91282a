"""CRUD semantics: create/get/update/delete, resourceVersion, generation, /status, finalizers,
selectors, pagination, namespaces and CRD lifecycle."""

import copy
import unittest

from emu import EmulatorTest, load_yaml

CM = "/api/v1/namespaces/default/configmaps"


class CrudTest(EmulatorTest):
    install_crds = ("widgets-crd.yaml", "gadgets-crd.yaml")

    def test_create_get_and_already_exists(self):
        w = self.create_widget("crud-a")
        self.assertEqual(w["metadata"]["generation"], 1)
        self.assertTrue(w["metadata"]["uid"])
        self.assertTrue(w["metadata"]["creationTimestamp"].endswith("Z"))
        self.assertTrue(w["metadata"]["resourceVersion"].isdigit())
        got = self.emu.get(f"{self.WIDGETS}/crud-a")
        self.assertEqual(got.status, 200)
        self.assertEqual(got.json["metadata"]["uid"], w["metadata"]["uid"])
        again = self.emu.post(self.WIDGETS, self.widget("crud-a"))
        self.assertEqual(again.status, 409)
        self.assertEqual(again.json["reason"], "AlreadyExists")
        self.assertEqual(again.json["message"], 'widgets.example.dev "crud-a" already exists')

    def test_not_found_status_shape(self):
        r = self.emu.get(f"{self.WIDGETS}/nope")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": 'widgets.example.dev "nope" not found', "reason": "NotFound",
                                  "details": {"name": "nope", "group": "example.dev", "kind": "widgets"},
                                  "code": 404})
        r = self.emu.get("/api/v1/namespaces/default/configmaps/nope")
        self.assertEqual(r.json["message"], 'configmaps "nope" not found')
        self.assertEqual(self.emu.get("/apis/example.dev/v1/namespaces/default/nothings").status, 404)

    def test_generate_name(self):
        body = self.widget("")
        body["metadata"] = {"generateName": "gen-"}
        r = self.emu.post(self.WIDGETS, body)
        self.assertEqual(r.status, 201, r)
        self.assertRegex(r.json["metadata"]["name"], r"^gen-[a-z0-9]{5}$")

    def test_resource_version_is_global_and_increasing(self):
        a = self.create_widget("rv-a")
        b = self.emu.post(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "rv-b"}}).json
        self.assertGreater(int(b["metadata"]["resourceVersion"]), int(a["metadata"]["resourceVersion"]))

    def test_update_conflict_on_stale_resource_version(self):
        w = self.create_widget("upd-a")
        w1 = copy.deepcopy(w)
        w1["spec"]["size"] = 4
        r = self.emu.put(f"{self.WIDGETS}/upd-a", w1)
        self.assertEqual(r.status, 200, r)
        stale = copy.deepcopy(w)
        stale["spec"]["size"] = 5
        r = self.emu.put(f"{self.WIDGETS}/upd-a", stale)
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json["reason"], "Conflict")
        self.assertEqual(r.json["message"], 'Operation cannot be fulfilled on widgets.example.dev "upd-a": the '
                                            'object has been modified; please apply your changes to the latest '
                                            'version and try again')
        missing = self.emu.put(f"{self.WIDGETS}/upd-missing", self.widget("upd-missing"))
        self.assertEqual(missing.status, 404)

    def test_custom_resource_update_requires_resource_version(self):
        self.create_widget("upd-norv")
        r = self.emu.put(f"{self.WIDGETS}/upd-norv", self.widget("upd-norv", size=2))
        self.assertEqual(r.status, 422)
        self.assertIn("metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
                      r.json["message"])
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "upd-cm"}, "data": {"a": "1"}}
        self.assertEqual(self.emu.post(CM, cm).status, 201)
        cm["data"]["a"] = "2"
        self.assertEqual(self.emu.put(f"{CM}/upd-cm", cm).status, 200)

    def test_generation_bumps_only_on_spec_change(self):
        w = self.create_widget("gen-a")
        w["metadata"]["labels"] = {"x": "y"}
        r = self.emu.put(f"{self.WIDGETS}/gen-a", w)
        self.assertEqual(r.json["metadata"]["generation"], 1)
        w = r.json
        w["spec"]["size"] = 7
        r = self.emu.put(f"{self.WIDGETS}/gen-a", w)
        self.assertEqual(r.json["metadata"]["generation"], 2)
        r = self.emu.patch(f"{self.WIDGETS}/gen-a/status", {"status": {"phase": "Ready"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["metadata"]["generation"], 2)

    def test_noop_update_keeps_resource_version(self):
        w = self.create_widget("noop-a")
        r = self.emu.put(f"{self.WIDGETS}/noop-a", w)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["metadata"]["resourceVersion"], w["metadata"]["resourceVersion"])
        r = self.emu.patch(f"{self.WIDGETS}/noop-a", {"spec": {"size": 3}})
        self.assertEqual(r.json["metadata"]["resourceVersion"], w["metadata"]["resourceVersion"])

    def test_status_subresource_semantics(self):
        body = self.widget("st-a")
        body["status"] = {"phase": "Ignored"}
        w = self.emu.post(self.WIDGETS, body).json
        self.assertNotIn("status", w, "create drops status when the status subresource is enabled")
        w["status"] = {"phase": "FromMain"}
        w["spec"]["size"] = 4
        r = self.emu.put(f"{self.WIDGETS}/st-a", w).json
        self.assertNotIn("status", r)
        self.assertEqual(r["spec"]["size"], 4)
        r["status"] = {"phase": "Running"}
        r["spec"]["size"] = 9
        r["metadata"]["labels"] = {"ignored": "yes"}
        s = self.emu.put(f"{self.WIDGETS}/st-a/status", r)
        self.assertEqual(s.status, 200, s)
        self.assertEqual(s.json["status"], {"phase": "Running"})
        self.assertEqual(s.json["spec"]["size"], 4, "status writes do not change spec")
        self.assertNotIn("labels", s.json["metadata"], "status writes do not change metadata")
        self.assertEqual(s.json["metadata"]["generation"], 2)
        jp = self.emu.patch(f"{self.WIDGETS}/st-a/status",
                            [{"op": "replace", "path": "/status/phase", "value": "Done"}],
                            ctype="application/json-patch+json")
        self.assertEqual(jp.json["status"]["phase"], "Done")
        self.assertEqual(self.emu.get(f"{self.WIDGETS}/st-a/status").json["status"]["phase"], "Done")
        stale = self.emu.put(f"{self.WIDGETS}/st-a/status", r)
        self.assertEqual(stale.status, 409)
        # a CRD without the status subresource has no /status path
        self.assertEqual(self.emu.get("/apis/example.dev/v1/gadgets/x/status").status, 404)

    def test_finalizers_and_deletion_timestamp(self):
        body = self.widget("fin-a")
        body["metadata"]["finalizers"] = ["example.dev/hold"]
        w = self.emu.post(self.WIDGETS, body).json
        watch = self.emu.watch(self.WIDGETS, {"resourceVersion": w["metadata"]["resourceVersion"],
                                              "fieldSelector": "metadata.name=fin-a"})
        try:
            d = self.emu.delete(f"{self.WIDGETS}/fin-a", {"propagationPolicy": "Background"})
            self.assertEqual(d.status, 200)
            self.assertTrue(d.json["metadata"]["deletionTimestamp"])
            self.assertEqual(d.json["metadata"]["deletionGracePeriodSeconds"], 0)
            self.assertEqual(d.json["metadata"]["generation"], 2)
            ev = watch.next()
            self.assertEqual(ev["type"], "MODIFIED")
            self.assertTrue(ev["object"]["metadata"]["deletionTimestamp"])
            got = self.emu.get(f"{self.WIDGETS}/fin-a").json
            got["metadata"]["finalizers"].append("example.dev/another")
            r = self.emu.put(f"{self.WIDGETS}/fin-a", got)
            self.assertEqual(r.status, 422)
            self.assertIn("no new finalizers can be added if the object is being deleted", r.json["message"])
            r = self.emu.patch(f"{self.WIDGETS}/fin-a", {"metadata": {"finalizers": None}})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(watch.next()["type"], "DELETED")
            self.assertEqual(self.emu.get(f"{self.WIDGETS}/fin-a").status, 404)
        finally:
            watch.close()

    def test_delete_answers(self):
        self.create_widget("del-a")
        r = self.emu.delete(f"{self.WIDGETS}/del-a")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["kind"], "Widget", "custom resources return the deleted object")
        self.assertEqual(self.emu.delete(f"{self.WIDGETS}/del-a").status, 404)
        self.emu.post(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "del-cm"}})
        r = self.emu.delete(f"{CM}/del-cm")
        self.assertEqual(r.json["kind"], "Status")
        self.assertEqual(r.json["status"], "Success")
        self.assertEqual(r.json["details"]["name"], "del-cm")
        w = self.create_widget("del-pre")
        r = self.emu.delete(f"{self.WIDGETS}/del-pre", {"preconditions": {"uid": "wrong"}})
        self.assertEqual(r.status, 409)
        self.assertEqual(self.emu.delete(f"{self.WIDGETS}/del-pre",
                                         {"preconditions": {"uid": w["metadata"]["uid"]}}).status, 200)

    def test_dry_run_does_not_persist(self):
        r = self.emu.post(self.WIDGETS + "?dryRun=All", self.widget("dry-a"))
        self.assertEqual(r.status, 201)
        self.assertEqual(self.emu.get(f"{self.WIDGETS}/dry-a").status, 404)

    def test_label_selectors(self):
        for name, labels in [("sel-1", {"tier": "gold", "env": "prod"}), ("sel-2", {"tier": "silver"}),
                             ("sel-3", {"env": "dev"})]:
            self.create_widget(name, labels=labels)

        def names(selector):
            r = self.emu.get(self.WIDGETS, params={"labelSelector": selector})
            self.assertEqual(r.status, 200, r)
            return sorted(i["metadata"]["name"] for i in r.json["items"] if i["metadata"]["name"].startswith("sel-"))
        self.assertEqual(names("tier=gold"), ["sel-1"])
        self.assertEqual(names("tier==silver"), ["sel-2"])
        self.assertEqual(names("tier!=gold"), ["sel-2", "sel-3"])
        self.assertEqual(names("tier in (gold,silver)"), ["sel-1", "sel-2"])
        self.assertEqual(names("tier notin (gold)"), ["sel-2", "sel-3"])
        self.assertEqual(names("env"), ["sel-1", "sel-3"])
        self.assertEqual(names("!env"), ["sel-2"])
        self.assertEqual(names("env,tier=gold"), ["sel-1"])
        self.assertEqual(self.emu.get(self.WIDGETS, params={"labelSelector": "tier in gold"}).status, 400)

    def test_field_selectors(self):
        self.create_widget("fs-1")
        self.create_widget("fs-2")
        r = self.emu.get(self.WIDGETS, params={"fieldSelector": "metadata.name=fs-1"})
        self.assertEqual([i["metadata"]["name"] for i in r.json["items"]], ["fs-1"])
        r = self.emu.get("/apis/example.dev/v1/widgets", params={"fieldSelector": "metadata.namespace=default,"
                                                                                  "metadata.name!=fs-1"})
        names = [i["metadata"]["name"] for i in r.json["items"]]
        self.assertIn("fs-2", names)
        self.assertNotIn("fs-1", names)
        r = self.emu.get(self.WIDGETS, params={"fieldSelector": "spec.size=3"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["message"], "field label not supported: spec.size")

    def test_limit_and_continue_are_consistent(self):
        ns = self._namespace("paging")
        path = f"/api/v1/namespaces/{ns}/configmaps"
        for i in range(5):
            self.emu.post(path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"p{i}"}})
        first = self.emu.get(path, params={"limit": "2"}).json
        self.assertEqual([i["metadata"]["name"] for i in first["items"]], ["p0", "p1"])
        self.assertEqual(first["metadata"]["remainingItemCount"], 3)
        token = first["metadata"]["continue"]
        self.emu.post(path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p9"}})
        self.emu.delete(f"{path}/p4")
        names, page = [], first
        while page["metadata"].get("continue"):
            page = self.emu.get(path, params={"limit": "2", "continue": page["metadata"]["continue"]}).json
            names += [i["metadata"]["name"] for i in page["items"]]
            self.assertEqual(page["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"])
        self.assertEqual(names, ["p2", "p3", "p4"], "later pages show the list as of the first page")
        self.assertTrue(token)

    def test_expired_continue_token_is_410(self):
        emu = self.emu
        ns = self._namespace("expiry")
        path = f"/api/v1/namespaces/{ns}/configmaps"
        for i in range(3):
            emu.post(path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"e{i}"}})
        token = emu.get(path, params={"limit": "1"}).json["metadata"]["continue"]
        emu.post(path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e9"}})
        emu.faults(compact=True)
        r = emu.get(path, params={"limit": "1", "continue": token})
        self.assertEqual(r.status, 410)
        self.assertEqual(r.json["reason"], "Expired")

    def test_namespace_must_exist_and_deletion_removes_content(self):
        r = self.emu.post("/api/v1/namespaces/ghost/configmaps",
                          {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json["message"], 'namespaces "ghost" not found')
        ns = self._namespace("doomed")
        self.emu.post(f"/apis/example.dev/v1/namespaces/{ns}/widgets", self.widget("inside"))
        d = self.emu.delete(f"/api/v1/namespaces/{ns}")
        self.assertEqual(d.status, 200)
        self.assertEqual(d.json["status"]["phase"], "Terminating")
        self.assertEqual(self.emu.get(f"/apis/example.dev/v1/namespaces/{ns}/widgets/inside").status, 404)
        self.assertEqual(self.emu.get(f"/api/v1/namespaces/{ns}").status, 404)
        self.assertEqual(self.emu.delete("/api/v1/namespaces/default").status, 403)

    def test_cluster_scoped_custom_resource(self):
        g = {"apiVersion": "example.dev/v1", "kind": "Gadget", "metadata": {"name": "g1", "namespace": "x"},
             "spec": {"mode": "fast"}}
        r = self.emu.post("/apis/example.dev/v1/gadgets", g)
        self.assertEqual(r.status, 201, r)
        self.assertNotIn("namespace", r.json["metadata"])
        self.assertEqual(self.emu.get("/apis/example.dev/v1/namespaces/default/gadgets").status, 404)
        gad = self.emu.get("/apis/example.dev/v1/gadgets/g1").json
        gad["status"] = {"anything": {"goes": True}}
        gad["spec"]["mode"] = "slow"
        upd = self.emu.put("/apis/example.dev/v1/gadgets/g1", gad).json
        self.assertEqual(upd["status"], {"anything": {"goes": True}}, "without a status subresource status is "
                                                                       "written with the object")
        self.assertEqual(upd["metadata"]["generation"], 2)

    def test_multiple_versions_share_storage(self):
        self.create_widget("ver-a")
        r = self.emu.get("/apis/example.dev/v1beta1/namespaces/default/widgets/ver-a")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["apiVersion"], "example.dev/v1beta1")

    def test_crd_lifecycle(self):
        crd = load_yaml("widgets-crd.yaml")
        crd["metadata"]["name"] = "things.other.dev"
        crd["spec"]["group"] = "other.dev"
        crd["spec"]["names"] = {"plural": "things", "kind": "Thing"}
        r = self.emu.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        self.assertEqual(r.status, 201, r)
        conds = {c["type"]: c["status"] for c in r.json["status"]["conditions"]}
        self.assertEqual(conds, {"Established": "True", "NamesAccepted": "True"})
        self.assertEqual(r.json["spec"]["names"]["singular"], "thing")
        self.assertEqual(r.json["spec"]["names"]["listKind"], "ThingList")
        path = "/apis/other.dev/v1/namespaces/default/things"
        self.assertEqual(self.emu.post(path, {"apiVersion": "other.dev/v1", "kind": "Thing",
                                              "metadata": {"name": "t"}, "spec": {"size": 1}}).status, 201)
        disc = self.emu.get("/apis/other.dev/v1").json
        self.assertEqual([res["name"] for res in disc["resources"]], ["things", "things/status"])
        self.assertEqual(self.emu.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                                         "things.other.dev").status, 200)
        self.assertEqual(self.emu.get(path).status, 404)
        r = self.emu.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        self.assertEqual(r.status, 201)
        self.assertEqual(self.emu.get(path).json["items"], [], "deleting a CRD deleted its objects")
        bad = load_yaml("widgets-crd.yaml")
        bad["metadata"]["name"] = "wrong.example.dev"
        r = self.emu.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", bad)
        self.assertEqual(r.status, 422)
        self.assertIn('metadata.name: Invalid value: "wrong.example.dev": must be spec.names.plural+"."+spec.group',
                      r.json["message"])

    def test_builtin_defaults_and_secret_string_data(self):
        s = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sd"}, "stringData": {"k": "v"}}
        r = self.emu.post("/api/v1/namespaces/default/secrets", s).json
        self.assertEqual(r["data"], {"k": "dg=="})
        self.assertEqual(r["type"], "Opaque")
        self.assertNotIn("stringData", r)
        ns = self.emu.get("/api/v1/namespaces/default").json
        self.assertEqual(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "default")
        self.assertEqual(ns["status"]["phase"], "Active")

    def test_events_are_visible_in_both_groups(self):
        ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "ev1"},
              "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "example.dev/op",
              "reportingInstance": "op-1", "action": "Reconcile", "reason": "Ready", "type": "Normal",
              "note": "widget is ready", "regarding": {"kind": "Widget", "name": "w", "namespace": "default"}}
        r = self.emu.post("/apis/events.k8s.io/v1/namespaces/default/events", ev)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["note"], "widget is ready")
        core = self.emu.get("/api/v1/namespaces/default/events/ev1").json
        self.assertEqual(core["message"], "widget is ready")
        self.assertEqual(core["involvedObject"]["kind"], "Widget")
        self.assertEqual(core["reportingComponent"], "example.dev/op")
        listed = self.emu.get("/api/v1/namespaces/default/events",
                              params={"fieldSelector": "involvedObject.kind=Widget"}).json
        self.assertEqual([e["metadata"]["name"] for e in listed["items"]], ["ev1"])

    def test_lease_fields_are_decoded_like_the_real_server(self):
        path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"

        def lease(name, **spec):
            return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
                    "spec": spec}
        ok = self.emu.post(path, lease("l1", holderIdentity="me", leaseDurationSeconds=15,
                                       renewTime="2024-01-01T00:00:00.123456Z"))
        self.assertEqual(ok.status, 201, ok)
        r = self.emu.post(path, lease("l2", renewTime="2024-01-01T00:00:00Z"))
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["message"], 'Lease in version "v1" cannot be handled as a Lease: parsing time '
                                            '"2024-01-01T00:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot '
                                            'parse "Z" as ".000000"')
        r = self.emu.post(path, lease("l3", leaseDurationSeconds="15"))
        self.assertEqual(r.json["message"], 'Lease in version "v1" cannot be handled as a Lease: json: cannot '
                                            'unmarshal string into Go struct field LeaseSpec.spec.'
                                            'leaseDurationSeconds of type int32')
        r = self.emu.post(path, lease("l4", leaseDurationSeconds=0))
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["message"], 'Lease.coordination.k8s.io "l4" is invalid: spec.leaseDurationSeconds: '
                                            'Invalid value: 0: must be greater than 0')
        r = self.emu.patch(f"{path}/l1", {"spec": {"acquireTime": "yesterday"}})
        self.assertEqual(r.status, 422)

    def test_events_k8s_io_validation(self):
        r = self.emu.post("/apis/events.k8s.io/v1/namespaces/default/events",
                          {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "bad-ev"},
                           "note": "x", "type": "Info"})
        self.assertEqual(r.status, 422)
        fields = sorted(c["field"] for c in r.json["details"]["causes"])
        self.assertEqual(fields, ["action", "eventTime", "reason", "reportingController", "reportingInstance",
                                  "type"])

    def test_invalid_names_and_labels(self):
        r = self.emu.post(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}})
        self.assertEqual(r.status, 422)
        self.assertTrue(r.json["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid '
                                                     'value: "Bad_Name": a lowercase RFC 1123 subdomain'), r.json)
        r = self.emu.post(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "ok", "labels": {"k": "bad value!"}}})
        self.assertEqual(r.status, 422)
        self.assertIn("metadata.labels: Invalid value: \"bad value!\"", r.json["message"])

    def _namespace(self, prefix):
        r = self.emu.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"generateName": prefix + "-"}})
        self.assertEqual(r.status, 201, r)
        return r.json["metadata"]["name"]


if __name__ == "__main__":
    unittest.main()

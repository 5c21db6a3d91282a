"""discovery.k8s.io/v1 EndpointSlice: defaults, lists and watches by the service-name label,
the printer's table, validation, atomic lists in patches and apply, and discovery."""

import json
import unittest

from emu import TABLE, EmulatorTest

GROUP = "/apis/discovery.k8s.io/v1"
SLICES = f"{GROUP}/namespaces/default/endpointslices"
SERVICE_NAME = "kubernetes.io/service-name"
APPLY = "application/apply-patch+yaml"
STRATEGIC = "application/strategic-merge-patch+json"


def endpoint_slice(name, service="web", addresses=("10.0.0.1",), ready=True, ports=None, address_type="IPv4",
                   labels=None):
    meta = {"name": name, "labels": dict({SERVICE_NAME: service} if service else {}, **(labels or {}))}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta,
            "addressType": address_type,
            "endpoints": [{"addresses": [a], "conditions": {"ready": ready}} for a in addresses],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}] if ports is None else ports}


class EndpointSliceTest(EmulatorTest):
    install_crds = ()
    emulator_args = ("--bookmark-interval", "0.5")

    def setUp(self):
        self.watches = []

    def tearDown(self):
        for w in self.watches:
            w.close()

    def create(self, body, path=SLICES, status=201):
        r = self.emu.post(path, body)
        self.assertEqual(r.status, status, r)
        return r.json

    def namespace(self, prefix):
        r = self.emu.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"generateName": prefix + "-"}})
        self.assertEqual(r.status, 201, r)
        return r.json["metadata"]["name"]

    def assertInvalid(self, r, *causes):
        self.assertEqual(r.status, 422, r)
        self.assertEqual((r.json["reason"], r.json["details"]["kind"], r.json["details"]["group"]),
                         ("Invalid", "EndpointSlice", "discovery.k8s.io"))
        got = [(c["field"], c["message"]) for c in r.json["details"]["causes"]]
        for cause in causes:
            self.assertIn(cause, got)
        return r.json["message"]

    # --- storage and defaults -----------------------------------------------------------

    def test_create_get_and_defaults(self):
        body = endpoint_slice("def-a", ports=[{"port": 80}, {"name": "metrics", "port": 9090, "protocol": "UDP"}])
        body["endpoints"].append({"addresses": ["10.0.0.9"], "nodeName": "node-1",
                                  "deprecatedTopology": {"zone": "a"},
                                  "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}})
        created = self.create(body)
        self.assertEqual(created["metadata"]["generation"], 1)
        self.assertEqual(created["metadata"]["namespace"], "default")
        self.assertEqual(created["ports"], [{"port": 80, "name": "", "protocol": "TCP"},
                                            {"name": "metrics", "port": 9090, "protocol": "UDP"}])
        self.assertEqual(created["endpoints"][0]["conditions"], {"ready": True})
        self.assertEqual(created["endpoints"][1]["conditions"], {}, "conditions is always an object")
        self.assertNotIn("deprecatedTopology", created["endpoints"][1], "not writable through v1")
        self.assertEqual(created["endpoints"][1]["targetRef"]["name"], "web-1")
        got = self.emu.get(f"{SLICES}/def-a").json
        self.assertEqual(got, created)
        empty = self.create({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                             "metadata": {"name": "def-empty"}, "addressType": "IPv6", "endpoints": []})
        self.assertIsNone(empty["endpoints"], "empty lists read back as null")
        self.assertIsNone(empty["ports"])
        self.assertEqual(self.emu.get(f"{SLICES}/def-empty").json["endpoints"], None)
        self.assertEqual(self.emu.post(SLICES, body).status, 409)
        self.assertEqual(self.emu.get(f"{SLICES}/missing").json["message"],
                         'endpointslices.discovery.k8s.io "missing" not found')

    def test_generation_follows_content_changes(self):
        self.create(endpoint_slice("gen-a"))
        r = self.emu.patch(f"{SLICES}/gen-a", {"metadata": {"labels": {"extra": "x"}}})
        self.assertEqual(r.json["metadata"]["generation"], 1, "metadata changes keep the generation")
        r = self.emu.patch(f"{SLICES}/gen-a", {"endpoints": [{"addresses": ["10.0.0.1"],
                                                               "conditions": {"ready": False}}]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["metadata"]["generation"], 2)
        self.assertEqual(r.json["endpoints"][0]["conditions"], {"ready": False})
        r2 = self.emu.patch(f"{SLICES}/gen-a", {"endpoints": [{"addresses": ["10.0.0.1"],
                                                                "conditions": {"ready": False}}]})
        self.assertEqual(r2.json["metadata"]["resourceVersion"], r.json["metadata"]["resourceVersion"],
                         "an identical rewrite is a no-op")

    def test_delete_answers_a_status(self):
        created = self.create(endpoint_slice("del-a"))
        r = self.emu.delete(f"{SLICES}/del-a")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["kind"], r.json["status"]), ("Status", "Success"))
        self.assertEqual(r.json["details"]["uid"], created["metadata"]["uid"])
        self.assertEqual(self.emu.get(f"{SLICES}/del-a").status, 404)

    # --- lists and watches --------------------------------------------------------------

    def test_list_by_service_name_label(self):
        other = self.namespace("eps-list")
        self.create(endpoint_slice("web-x1", service="web-x"))
        self.create(endpoint_slice("web-x2", service="web-x", addresses=("10.0.0.2", "10.0.0.3")))
        self.create(endpoint_slice("api-x1", service="api-x"))
        self.create(endpoint_slice("web-x3", service="web-x"), path=f"{GROUP}/namespaces/{other}/endpointslices")
        r = self.emu.get(SLICES, params={"labelSelector": f"{SERVICE_NAME}=web-x"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["kind"], r.json["apiVersion"]), ("EndpointSliceList", "discovery.k8s.io/v1"))
        self.assertEqual([i["metadata"]["name"] for i in r.json["items"]], ["web-x1", "web-x2"])
        self.assertEqual(r.json["items"][0]["kind"], "EndpointSlice")
        self.assertTrue(r.json["metadata"]["resourceVersion"].isdigit())
        everywhere = self.emu.get(f"{GROUP}/endpointslices", params={"labelSelector": f"{SERVICE_NAME}=web-x"}).json
        self.assertEqual(sorted((i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]),
                         [("default", "web-x1"), ("default", "web-x2"), (other, "web-x3")])
        sets = self.emu.get(SLICES, params={"labelSelector": f"{SERVICE_NAME} in (web-x,api-x)"}).json
        self.assertEqual(len(sets["items"]), 3)
        none = self.emu.get(SLICES, params={"labelSelector": f"{SERVICE_NAME}=nothing"}).json
        self.assertEqual(none["items"], [])
        by_name = self.emu.get(SLICES, params={"fieldSelector": "metadata.name=api-x1"}).json
        self.assertEqual([i["metadata"]["name"] for i in by_name["items"]], ["api-x1"])
        r = self.emu.get(SLICES, params={"fieldSelector": "addressType=IPv4"})
        self.assertEqual(r.status, 400)

    def test_informer_list_then_watch_by_label(self):
        self.create(endpoint_slice("inf-1", service="inf"))
        listed = self.emu.get(f"{GROUP}/endpointslices", params={"labelSelector": f"{SERVICE_NAME}=inf"}).json
        self.assertEqual([i["metadata"]["name"] for i in listed["items"]], ["inf-1"])
        w = self.emu.watch(f"{GROUP}/endpointslices", {"labelSelector": f"{SERVICE_NAME}=inf",
                                                       "resourceVersion": listed["metadata"]["resourceVersion"],
                                                       "allowWatchBookmarks": "true"})
        self.watches.append(w)
        not_bookmark = lambda e: e["type"] != "BOOKMARK"  # noqa: E731
        self.create(endpoint_slice("inf-other", service="other"))
        self.create(endpoint_slice("inf-2", service="inf", addresses=("10.0.1.1",)))
        ev = w.next_matching(not_bookmark)
        self.assertEqual((ev["type"], ev["object"]["kind"], ev["object"]["metadata"]["name"]),
                         ("ADDED", "EndpointSlice", "inf-2"), "only the selected service's slices are sent")
        self.assertEqual(ev["object"]["endpoints"][0]["addresses"], ["10.0.1.1"])
        self.emu.patch(f"{SLICES}/inf-1", {"endpoints": [{"addresses": ["10.0.0.1"],
                                                           "conditions": {"ready": False, "serving": True,
                                                                          "terminating": True}}]})
        ev = w.next_matching(not_bookmark)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("MODIFIED", "inf-1"))
        self.assertEqual(ev["object"]["endpoints"][0]["conditions"],
                         {"ready": False, "serving": True, "terminating": True})
        self.emu.patch(f"{SLICES}/inf-2", {"metadata": {"labels": {SERVICE_NAME: "moved"}}})
        ev = w.next_matching(not_bookmark)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("DELETED", "inf-2"),
                         "leaving the selection is a DELETED event")
        self.emu.delete(f"{SLICES}/inf-1")
        ev = w.next_matching(not_bookmark)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("DELETED", "inf-1"))
        bm = w.next_matching(lambda e: e["type"] == "BOOKMARK", timeout=3)
        self.assertEqual(set(bm["object"]), {"kind", "apiVersion", "metadata"})
        self.assertEqual((bm["object"]["kind"], bm["object"]["apiVersion"]), ("EndpointSlice", "discovery.k8s.io/v1"))
        self.assertEqual([e["type"] for e in w.drain(0.3) if e["type"] != "BOOKMARK"], [])
        watches = [x for x in self.emu.info()["watches"] if x.get("userAgent") == w.marker]
        self.assertEqual(watches[0]["resource"], "endpointslices")

    def test_namespaced_watch_replays_from_a_resource_version(self):
        ns = self.namespace("eps-watch")
        path = f"{GROUP}/namespaces/{ns}/endpointslices"
        first = self.create(endpoint_slice("rp-a", service="rp"), path=path)
        self.emu.patch(f"{path}/rp-a", {"ports": [{"name": "http", "port": 9000}]})
        self.create(endpoint_slice("rp-b", service="rp"))  # another namespace
        self.emu.delete(f"{path}/rp-a")
        w = self.emu.watch(path, {"resourceVersion": first["metadata"]["resourceVersion"]})
        self.watches.append(w)
        modified, deleted = w.next(), w.next()
        self.assertEqual((modified["type"], modified["object"]["ports"]),
                         ("MODIFIED", [{"name": "http", "port": 9000, "protocol": "TCP"}]))
        self.assertEqual((deleted["type"], deleted["object"]["metadata"]["name"]), ("DELETED", "rp-a"))
        self.assertEqual(w.drain(0.3), [])
        w0 = self.emu.watch(SLICES, {"resourceVersion": "0", "labelSelector": f"{SERVICE_NAME}=rp",
                                     "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
                                     "allowWatchBookmarks": "true"})
        self.watches.append(w0)
        added = w0.next()
        self.assertEqual((added["type"], added["object"]["metadata"]["name"]), ("ADDED", "rp-b"))
        end = w0.next()
        self.assertEqual(end["object"]["metadata"].get("annotations"), {"k8s.io/initial-events-end": "true"})

    # --- table ------------------------------------------------------------------------

    def test_table_columns(self):
        ns = self.namespace("eps-table")
        path = f"{GROUP}/namespaces/{ns}/endpointslices"
        self.create(endpoint_slice("tab-a", addresses=("10.1.0.1", "10.1.0.2")), path=path)
        self.create(endpoint_slice("tab-b", addresses=("10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5"),
                                   ports=[{"name": "a", "port": 1}, {"name": "named"}, {"port": 3, "name": "c"},
                                          {"name": "d", "port": 4}, {"name": "e", "port": 5}]), path=path)
        self.create(endpoint_slice("tab-c", addresses=(), ports=[]), path=path)
        t = self.emu.get(path, accept=TABLE).json
        self.assertEqual(t["kind"], "Table")
        self.assertEqual([(c["name"], c["type"], c["priority"]) for c in t["columnDefinitions"]],
                         [("Name", "string", 0), ("AddressType", "string", 0), ("Ports", "string", 0),
                          ("Endpoints", "string", 0), ("Age", "string", 0)])
        cells = {r["cells"][0]: r["cells"][1:4] for r in t["rows"]}
        self.assertEqual(cells, {
            "tab-a": ["IPv4", "8080", "10.1.0.1,10.1.0.2"],
            "tab-b": ["IPv4", "1,named,3 + 2 more...", "10.1.0.1,10.1.0.2,10.1.0.3 + 2 more..."],
            "tab-c": ["IPv4", "<unset>", "<unset>"]})
        self.assertRegex(t["rows"][0]["cells"][4], r"^\d+s$")
        self.assertEqual(t["rows"][0]["object"]["kind"], "PartialObjectMetadata")
        one = self.emu.get(f"{path}/tab-a", accept=TABLE).json
        self.assertEqual(len(one["rows"]), 1)

    # --- validation ------------------------------------------------------------------

    def test_validation(self):
        body = endpoint_slice("val-a")
        del body["addressType"]
        msg = self.assertInvalid(self.emu.post(SLICES, body), ("addressType", "Required value"))
        self.assertEqual(msg, 'EndpointSlice.discovery.k8s.io "val-a" is invalid: addressType: Required value')
        self.assertInvalid(self.emu.post(SLICES, endpoint_slice("val-b", address_type="IP")),
                           ("addressType", 'Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"'))
        bad = endpoint_slice("val-c", addresses=("10.0.0.300", "127.0.0.1", "fe80::1"))
        bad["endpoints"].append({"conditions": {"ready": True}})
        bad["ports"] = [{"port": 80}, {"port": 81}, {"name": "Bad_Name", "port": 82}, {"name": "x", "protocol": "ICMP"}]
        self.assertInvalid(
            self.emu.post(SLICES, bad),
            ("endpoints[0].addresses[0]", 'Invalid value: "10.0.0.300": must be a valid IPv4 address'),
            ("endpoints[1].addresses[0]", 'Invalid value: "127.0.0.1": may not be in the loopback range '
                                          '(127.0.0.0/8, ::1/128)'),
            ("endpoints[2].addresses[0]", 'Invalid value: "fe80::1": must be a valid IPv4 address'),
            ("endpoints[3].addresses", "Required value: must contain at least 1 address"),
            ("ports[1].name", 'Duplicate value: ""'),
            ("ports[2].name", 'Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of lower case '
                              "alphanumeric characters or '-', and must start and end with an alphanumeric character "
                              "(e.g. 'my-name',  or '123-abc', regex used for validation is "
                              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
            ("ports[3].protocol", 'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'))
        self.create(endpoint_slice("val-v6", address_type="IPv6", addresses=("fd00::1", "2001:db8::5")))
        self.assertInvalid(self.emu.post(SLICES, endpoint_slice("val-v6b", address_type="IPv6",
                                                                addresses=("10.0.0.1", "::1"))),
                           ("endpoints[0].addresses[0]", 'Invalid value: "10.0.0.1": must be a valid IPv6 address'),
                           ("endpoints[1].addresses[0]", 'Invalid value: "::1": may not be in the loopback range '
                                                         '(127.0.0.0/8, ::1/128)'))
        self.create(endpoint_slice("val-fqdn", address_type="FQDN", addresses=("db.example.com",)))
        self.assertInvalid(self.emu.post(SLICES, endpoint_slice("val-fqdn2", address_type="FQDN",
                                                                addresses=("localhost",))),
                           ("endpoints[0].addresses[0]", 'Invalid value: "localhost": should be a domain with at '
                                                         'least two segments separated by dots'))
        created = self.create(endpoint_slice("val-ok"))
        created["addressType"] = "IPv6"
        created["endpoints"] = [{"addresses": ["fd00::2"]}]
        self.assertInvalid(self.emu.put(f"{SLICES}/val-ok", created),
                           ("addressType", 'Invalid value: "IPv6": field is immutable'))

    def test_wrong_shapes_are_decoding_errors(self):
        cases = [
            ({"addressType": 4}, "EndpointSlice.addressType of type v1.AddressType", "number 4"),
            ({"endpoints": {"addresses": ["10.0.0.1"]}}, "EndpointSlice.endpoints of type []v1.Endpoint", "object"),
            ({"endpoints": ["10.0.0.1"]}, "EndpointSlice.endpoints of type v1.Endpoint", "string"),
            ({"endpoints": [{"addresses": "10.0.0.1"}]}, "Endpoint.endpoints.addresses of type []string", "string"),
            ({"endpoints": [{"addresses": [1]}]}, "Endpoint.endpoints.addresses of type string", "number 1"),
            ({"endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": "yes"}}]},
             "EndpointConditions.endpoints.conditions.ready of type bool", "string"),
            ({"endpoints": [{"addresses": ["10.0.0.1"], "conditions": [True]}]},
             "Endpoint.endpoints.conditions of type v1.EndpointConditions", "array"),
            ({"ports": {"port": 80}}, "EndpointSlice.ports of type []v1.EndpointPort", "object"),
            ({"ports": [{"port": "80"}]}, "EndpointPort.ports.port of type int32", "string"),
            ({"ports": [{"port": 1.5}]}, "EndpointPort.ports.port of type int32", "number 1.5"),
            ({"ports": [{"protocol": 6}]}, "EndpointPort.ports.protocol of type v1.Protocol", "number 6"),
        ]
        for change, where, what in cases:
            with self.subTest(change=change):
                r = self.emu.post(SLICES, dict(endpoint_slice("shape"), **change))
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json["reason"], "BadRequest")
                self.assertEqual(r.json["message"], f'EndpointSlice in version "v1" cannot be handled as a '
                                                    f'EndpointSlice: json: cannot unmarshal {what} into Go struct '
                                                    f'field {where}')
        self.create(endpoint_slice("shape-ok"))
        r = self.emu.patch(f"{SLICES}/shape-ok", {"endpoints": [{"addresses": "10.0.0.1"}]})
        self.assertEqual(r.status, 422, "a patch producing a wrong shape is a 422")
        self.assertEqual(r.json["details"]["causes"][0]["field"], "patch")
        self.assertIn("cannot unmarshal string into Go struct field Endpoint.endpoints.addresses of type []string",
                      r.json["message"])

    def test_unknown_nested_fields(self):
        body = endpoint_slice("unk-a")
        body["endpoints"][0]["adresses"] = ["10.0.0.2"]
        body["endpoints"][0]["conditions"]["healthy"] = True
        body["ports"][0]["targetPort"] = 80
        r = self.emu.post(SLICES, body, params={"fieldValidation": "Strict"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["message"], 'EndpointSlice in version "v1" cannot be handled as a EndpointSlice: '
                                            'strict decoding error: unknown field "endpoints[0].adresses", unknown '
                                            'field "endpoints[0].conditions.healthy", unknown field '
                                            '"ports[0].targetPort"')
        r = self.emu.post(SLICES, body)
        self.assertEqual(r.status, 201, r)
        self.assertIn('299 - "unknown field \\"ports[0].targetPort\\""', r.header_values("Warning"))
        self.assertEqual(r.json["endpoints"][0], {"addresses": ["10.0.0.1"], "conditions": {"ready": True}})
        self.assertEqual(r.json["ports"], [{"name": "http", "port": 8080, "protocol": "TCP"}])

    # --- patches and apply -----------------------------------------------------------

    def test_patches_replace_atomic_lists(self):
        self.create(endpoint_slice("pat-a", addresses=("10.0.0.1", "10.0.0.2"),
                                   ports=[{"name": "http", "port": 80}, {"name": "https", "port": 443}]))
        r = self.emu.patch(f"{SLICES}/pat-a", {"ports": [{"name": "http", "port": 80}],
                                               "endpoints": [{"addresses": ["10.0.0.2"]}]}, ctype=STRATEGIC)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["ports"], [{"name": "http", "port": 80, "protocol": "TCP"}],
                         "ports is listType=atomic: a strategic patch replaces it")
        self.assertEqual(r.json["endpoints"], [{"addresses": ["10.0.0.2"], "conditions": {}}])
        r = self.emu.patch(f"{SLICES}/pat-a", json.dumps([{"op": "add", "path": "/endpoints/-",
                                                           "value": {"addresses": ["10.0.0.3"]}}]),
                           ctype="application/json-patch+json")
        self.assertEqual([e["addresses"][0] for e in r.json["endpoints"]], ["10.0.0.2", "10.0.0.3"])
        r = self.emu.patch(f"{SLICES}/pat-a", {"endpoints": None, "ports": None})
        self.assertEqual((r.json["endpoints"], r.json["ports"]), (None, None))

    def test_server_side_apply(self):
        doc = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ssa-a\n  labels:\n"
               f"    {SERVICE_NAME}: web\naddressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n"
               "- addresses: [10.0.0.2]\nports:\n- {name: http, port: 80}\n- {name: https, port: 443}\n")
        r = self.emu.patch(f"{SLICES}/ssa-a?fieldManager=op", doc, ctype=APPLY)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(len(r.json["endpoints"]), 2)
        doc2 = doc.replace("- addresses: [10.0.0.2]\n", "").replace("- {name: https, port: 443}\n", "")
        r = self.emu.patch(f"{SLICES}/ssa-a?fieldManager=op", doc2, ctype=APPLY)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["endpoints"], [{"addresses": ["10.0.0.1"], "conditions": {}}])
        self.assertEqual(r.json["ports"], [{"name": "http", "port": 80, "protocol": "TCP"}])
        self.assertEqual(r.json["metadata"]["generation"], 2)

    # --- discovery ---------------------------------------------------------------------

    def test_discovery(self):
        agg = self.emu.get("/apis", accept="application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList").json
        groups = {g["metadata"]["name"]: g for g in agg["items"]}
        versions = groups["discovery.k8s.io"]["versions"]
        self.assertEqual([v["version"] for v in versions], ["v1"])
        self.assertEqual(versions[0]["resources"], [{
            "resource": "endpointslices",
            "responseKind": {"group": "discovery.k8s.io", "version": "v1", "kind": "EndpointSlice"},
            "scope": "Namespaced", "singularResource": "endpointslice",
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]}])
        legacy = self.emu.get(GROUP).json
        self.assertEqual(legacy["groupVersion"], "discovery.k8s.io/v1")
        self.assertEqual([(r["name"], r["kind"], r["namespaced"]) for r in legacy["resources"]],
                         [("endpointslices", "EndpointSlice", True)])
        group = self.emu.get("/apis/discovery.k8s.io").json
        self.assertEqual(group["preferredVersion"], {"groupVersion": "discovery.k8s.io/v1", "version": "v1"})
        index = self.emu.get("/openapi/v3").json["paths"]
        doc = self.emu.get(index["apis/discovery.k8s.io/v1"]["serverRelativeURL"]).json
        op = doc["paths"]["/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices/{name}"]["patch"]
        self.assertEqual(op["x-kubernetes-group-version-kind"],
                         {"group": "discovery.k8s.io", "version": "v1", "kind": "EndpointSlice"})
        self.assertEqual(self.emu.get(f"{SLICES}/x/status").status, 404, "no status subresource")


if __name__ == "__main__":
    unittest.main()

"""Structural-schema validation, pruning, defaulting and field validation of custom resources,
with the real server's messages."""

import json
import unittest

from emu import EmulatorTest


class ValidationTest(EmulatorTest):
    def create(self, spec, name="v", params=None, extra=None):
        body = {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}
        body.update(extra or {})
        return self.emu.post(self.WIDGETS, body, params=params)

    def assertInvalid(self, r, field, message, reason="FieldValueInvalid"):
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json["reason"], "Invalid")
        self.assertEqual(r.json["details"]["kind"], "Widget")
        self.assertEqual(r.json["details"]["group"], "example.dev")
        causes = [(c["field"], c["message"], c["reason"]) for c in r.json["details"]["causes"]]
        self.assertIn((field, message, reason), causes)
        return r.json["message"]

    def test_whole_message_shape(self):
        r = self.create({"size": 50}, name="x")
        self.assertEqual(r.json, {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'Widget.example.dev "x" is invalid: spec.size: Invalid value: 50: spec.size in body should '
                       'be less than or equal to 10',
            "reason": "Invalid",
            "details": {"name": "x", "group": "example.dev", "kind": "Widget", "causes": [
                {"reason": "FieldValueInvalid", "message": "Invalid value: 50: spec.size in body should be less "
                                                           "than or equal to 10", "field": "spec.size"}]},
            "code": 422})

    def test_several_errors_are_bracketed(self):
        r = self.create({"size": 0, "color": "pink"})
        self.assertEqual(r.status, 422)
        self.assertTrue(r.json["message"].startswith('Widget.example.dev "v" is invalid: ['), r.json["message"])
        self.assertEqual(len(r.json["details"]["causes"]), 2)

    def test_types(self):
        cases = [("size", "three", "integer", "string"), ("size", 1.5, "integer", "number"),
                 ("owner", 5, "string", "integer"), ("enabled", "yes", "boolean", "string"),
                 ("ratio", "x", "number", "string"), ("tags", "a", "array", "string"),
                 ("labels", [1], "object", "array")]
        for field, value, want, got in cases:
            with self.subTest(field=field):
                spec = {"size": 1, field: value}
                r = self.create(spec)
                self.assertInvalid(r, f"spec.{field}", f'Invalid value: "{got}": spec.{field} in body must be of '
                                                       f'type {want}: "{got}"', "FieldValueTypeInvalid")
        self.assertEqual(self.create({"size": 2.0}, name="float-int").status, 201, "2.0 is an integer")
        self.assertInvalid(self.create({"size": 1, "labels": {"a": 1}}), "spec.labels.a",
                           'Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',
                           "FieldValueTypeInvalid")
        self.assertInvalid(self.create({"size": 1, "tags": ["ok", 2]}), "spec.tags[1]",
                           'Invalid value: "integer": spec.tags[1] in body must be of type string: "integer"',
                           "FieldValueTypeInvalid")

    def test_required(self):
        msg = self.assertInvalid(self.create({"owner": "a"}), "spec.size", "Required value", "FieldValueRequired")
        self.assertEqual(msg, 'Widget.example.dev "v" is invalid: spec.size: Required value')
        r = self.emu.post(self.WIDGETS, {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "n"}})
        self.assertInvalid(r, "spec", "Required value", "FieldValueRequired")

    def test_enum(self):
        self.assertInvalid(self.create({"size": 1, "color": "pink"}), "spec.color",
                           'Unsupported value: "pink": supported values: "red", "green", "blue"',
                           "FieldValueNotSupported")

    def test_pattern_and_lengths(self):
        self.assertInvalid(self.create({"size": 1, "owner": "Bad_Owner"}), "spec.owner",
                           "Invalid value: \"Bad_Owner\": spec.owner in body should match '^[a-z][a-z0-9-]*$'")
        self.assertInvalid(self.create({"size": 1, "owner": "a" * 21}), "spec.owner",
                           "Too long: may not be longer than 20", "FieldValueTooLong")
        self.assertInvalid(self.create({"size": 1, "name": "ab"}), "spec.name",
                           'Invalid value: "ab": spec.name in body should be at least 3 chars long')
        self.assertInvalid(self.create({"size": 1, "tags": ["a", "b", "c", "d"]}), "spec.tags",
                           "Too many: 4: must have at most 3 items", "FieldValueTooMany")

    def test_minimum_maximum(self):
        self.assertInvalid(self.create({"size": 0}), "spec.size",
                           "Invalid value: 0: spec.size in body should be greater than or equal to 1")
        self.assertInvalid(self.create({"size": 11}), "spec.size",
                           "Invalid value: 11: spec.size in body should be less than or equal to 10")
        self.assertInvalid(self.create({"size": 1, "ratio": 1.5}), "spec.ratio",
                           "Invalid value: 1.5: spec.ratio in body should be less than or equal to 1")
        self.assertInvalid(self.create({"size": 1, "ttlSeconds": -5}), "spec.ttlSeconds",
                           "Invalid value: -5: spec.ttlSeconds in body should be greater than or equal to 2")

    def test_int_or_string(self):
        self.assertEqual(self.create({"size": 1, "port": 80}, name="ios-a").status, 201)
        self.assertEqual(self.create({"size": 1, "port": "http"}, name="ios-b").status, 201)
        self.assertInvalid(self.create({"size": 1, "port": True}), "spec.port",
                           'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
                           "FieldValueTypeInvalid")

    def test_preserve_unknown_fields_and_pruning(self):
        r = self.create({"size": 1, "extra": {"free": {"form": [1, 2]}}, "bogus": 1}, name="prune-a",
                        params={"fieldValidation": "Ignore"}, extra={"topLevel": True})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["spec"]["extra"], {"free": {"form": [1, 2]}})
        self.assertNotIn("bogus", r.json["spec"])
        self.assertNotIn("topLevel", r.json)
        self.assertEqual(r.header_values("Warning"), [])
        stored = self.emu.get(f"{self.WIDGETS}/prune-a").json
        self.assertNotIn("bogus", stored["spec"])

    def test_strict_warn_ignore(self):
        r = self.create({"size": 1, "foo": 1}, name="strict-a", params={"fieldValidation": "Strict"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["reason"], "BadRequest")
        self.assertEqual(r.json["message"], 'Widget in version "v1" cannot be handled as a Widget: strict decoding '
                                            'error: unknown field "spec.foo"')
        r = self.create({"size": 1, "foo": 1}, name="warn-a", params={"fieldValidation": "Warn"})
        self.assertEqual(r.status, 201)
        self.assertEqual(r.header_values("Warning"), ['299 - "unknown field \\"spec.foo\\""'])
        self.assertNotIn("foo", r.json["spec"])
        r = self.emu.patch(f"{self.WIDGETS}/warn-a?fieldValidation=Strict", {"spec": {"bar": 1}})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["message"], 'strict decoding error: unknown field "spec.bar"')

    def test_defaults(self):
        r = self.create({"size": 2}, name="def-a")
        self.assertEqual(r.json["spec"]["color"], "blue")
        self.assertEqual(r.json["spec"]["ttlSeconds"], 30)
        r = self.emu.patch(f"{self.WIDGETS}/def-a", {"spec": {"color": None}})
        self.assertEqual(r.json["spec"]["color"], "blue", "defaults are applied on update too")

    def test_status_writes_are_validated(self):
        self.create({"size": 1}, name="stv-a")
        r = self.emu.patch(f"{self.WIDGETS}/stv-a/status",
                           {"status": {"conditions": [{"type": "Ready", "status": "Maybe"}]}})
        self.assertInvalid(r, "status.conditions[0].status",
                           'Unsupported value: "Maybe": supported values: "True", "False", "Unknown"',
                           "FieldValueNotSupported")
        r = self.emu.patch(f"{self.WIDGETS}/stv-a/status", {"status": {"observedGeneration": "one"}})
        self.assertEqual(r.status, 422)
        r = self.emu.patch(f"{self.WIDGETS}/stv-a/status",
                           {"status": {"conditions": [{"type": "Ready", "status": "True",
                                                       "lastTransitionTime": "yesterday"}]}})
        self.assertEqual(r.status, 422, "format: date-time is checked")
        r = self.emu.patch(f"{self.WIDGETS}/stv-a/status",
                           {"status": {"conditions": [{"type": "Ready", "status": "True"},
                                                      {"type": "Ready", "status": "False"}]}})
        self.assertEqual(r.status, 422, "duplicate keys in a list-type map")

    def test_update_is_validated(self):
        w = self.create({"size": 1}, name="upv-a").json
        w["spec"]["size"] = 100
        r = self.emu.put(f"{self.WIDGETS}/upv-a", w)
        self.assertInvalid(r, "spec.size", "Invalid value: 100: spec.size in body should be less than or equal to 10")
        r = self.emu.patch(f"{self.WIDGETS}/upv-a", json.dumps([{"op": "replace", "path": "/spec/size",
                                                                 "value": -1}]),
                           ctype="application/json-patch+json")
        self.assertEqual(r.status, 422)


if __name__ == "__main__":
    unittest.main()

"""The verbs: get, list, create, update, patch (merge, strategic, JSON, apply), delete and
deletecollection, with the apiserver's metadata, status-subresource, generation, finalizer
and CRD semantics."""

import base64
import json
import random

import yaml

from . import builtins, crds, objects, patch as patches, schema
from .errors import (RawValue, already_exists, bad_request, conflict, expired, internal_error,
                     invalid, invalid_object, not_found, required, unsupported_media_type)
from .query import fields_match, labels_match, parse_field_selector, parse_label_selector
from .deletion import DeleteMixin
from .store import ADDED, DELETED, MODIFIED

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSONPATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"

CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent list result. You can "
                    "start a new list without the continue parameter, or use the continue token in this "
                    "response to retrieve the remainder of the results. Continuing with the provided token "
                    "results in an inconsistent list - objects that were created, modified, or deleted "
                    "between the time the first chunk was returned and now may show up in the list.")
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def parse_body(raw, allow_yaml=False):
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        if allow_yaml:
            return yaml.safe_load(text)
        return json.loads(text)
    except (ValueError, yaml.YAMLError) as e:
        raise bad_request(f"error decoding request body: {e}") from None


def _without(obj, *keys):
    return {k: v for k, v in obj.items() if k not in keys}


def _same(a, b):
    def norm(o):
        o = _without(o, "apiVersion")  # versions of a custom resource share one storage
        o["metadata"] = _without(o.get("metadata") or {}, "resourceVersion", "managedFields")
        return json.dumps(o, sort_keys=True)
    return norm(a) == norm(b)


class Api(DeleteMixin):
    def __init__(self, store, registry):
        self.store, self.registry = store, registry
        self.lock = store.cond
        self.applied = {}  # (storage, ns, name, manager, subresource) -> last applied configuration
        with self.lock:
            for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
                t = registry.types[("", "namespaces")]
                obj = {"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": ns, "uid": objects.new_uid(), "creationTimestamp": objects.now()}}
                t.defaulter(obj)
                store.commit(ADDED, t.storage, "", ns, obj)

    # --- reads --------------------------------------------------------------------------

    def get(self, rt, ver, ns, name):
        with self.lock:
            obj = self.store.get(rt.storage, ns if rt.namespaced else "", name)
            if obj is None:
                raise not_found(rt.group, rt.plural, name)
            return objects.view(rt, ver, obj)

    def selectors(self, rt, ver, params):
        labels = parse_label_selector(params.get("labelSelector", ""))
        getters = rt.field_getters(ver)
        fields = parse_field_selector(params.get("fieldSelector", ""), getters)

        def match(obj):
            if obj is None:
                return False
            if not labels_match(labels, (obj.get("metadata") or {}).get("labels")):
                return False
            return fields_match(fields, {f: getters[f](obj) for f, _, _ in fields})
        return match

    def list(self, rt, ver, ns, params):
        """Returns (items, list-metadata)."""
        match = self.selectors(rt, ver, params)
        limit = params.get("limit") or "0"
        if not limit.isdigit():
            raise bad_request(f'invalid limit: "{limit}"')
        limit = int(limit)
        token = params.get("continue")
        with self.lock:
            rv, start = self.store.rv, None
            if token:
                try:
                    decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
                    rv, start = int(decoded["rv"]), decoded["start"]
                except (ValueError, KeyError, TypeError):
                    raise bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                      "(version meta.k8s.io/v1)") from None
                if self.store.too_old(rv):
                    raise expired(CONTINUE_EXPIRED)
                state = self.store.snapshot(rt.storage, rv)
            elif params.get("resourceVersion") not in (None, "", "0") and \
                    params.get("resourceVersionMatch") == "Exact":
                rv = _int_rv(params["resourceVersion"])
                if self.store.too_old(rv):
                    raise expired(f"too old resource version: {rv} ({self.store.window_start - 1})")
                state = self.store.snapshot(rt.storage, rv)
            else:
                state = dict(self.store.objects.get(rt.storage, {}))
        keys = sorted((k for k in state if not rt.namespaced or not ns or k[0] == ns), key="/".join)
        if start is not None:
            keys = [k for k in keys if "/".join(k) >= start]
        items = [state[k] for k in keys if match(state[k])]
        meta = {"resourceVersion": str(rv)}
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            start_key = f"{last.get('namespace', '')}/{last['name']}\x00"
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                {"v": "meta.k8s.io/v1", "rv": rv, "start": start_key}).encode()).decode().rstrip("=")
            if not params.get("labelSelector") and not params.get("fieldSelector"):
                meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return [objects.view(rt, ver, o) for o in items], meta

    # --- writes -------------------------------------------------------------------------

    def _namespace_must_exist(self, rt, ns):
        if rt.namespaced and self.store.get(("", "namespaces"), "", ns) is None:
            raise not_found("", "namespaces", ns)

    def create(self, rt, ver, ns, body, params):
        if not isinstance(body, dict):
            raise bad_request("Object 'Kind' is missing in request body")
        with self.lock:
            ns = ns if rt.namespaced else ""
            self._namespace_must_exist(rt, ns)
            meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            if meta.get("resourceVersion"):
                raise internal_error("resourceVersion should not be set on objects to be created")
            name = meta.get("name") or ""
            if not name and meta.get("generateName"):
                name = meta["generateName"] + "".join(random.choice(_NAME_CHARS) for _ in range(5))
            if not name:
                raise invalid_object(rt.kind, rt.group, "", [required("metadata.name",
                                                                      "name or generateName is required")])
            body = dict(body, metadata=dict(meta, name=name))
            if self.store.get(rt.storage, ns, name) is not None:
                raise already_exists(rt.group, rt.plural, name)
            new, warnings = self._prepare(rt, ver, ns, name, body, None, None, params, "create")
            if params.get("dryRun"):
                return 201, objects.view(rt, ver, new), warnings
            committed = self.store.commit(ADDED, rt.storage, ns, name, new)
            if rt.group == "apiextensions.k8s.io":
                crds.register(self.registry, committed)
            return 201, objects.view(rt, ver, committed), warnings

    def update(self, rt, ver, ns, name, body, params, sub=None):
        if not isinstance(body, dict):
            raise bad_request("Object 'Kind' is missing in request body")
        with self.lock:
            ns = ns if rt.namespaced else ""
            old = self.store.get(rt.storage, ns, name)
            if old is None:
                raise not_found(rt.group, rt.plural, name)
            meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            if meta.get("name") and meta["name"] != name:
                raise bad_request(f"the name of the object ({meta['name']}) does not match the name on "
                                  f"the URL ({name})")
            body = dict(body, metadata=dict(meta, name=name))
            rv = meta.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt.group, rt.plural, name)
            if not rv and not rt.unconditional_update:
                raise invalid_object(rt.kind, rt.group, name, [invalid(
                    "metadata.resourceVersion", RawValue("0x0"), "must be specified for an update")])
            new, warnings = self._prepare(rt, ver, ns, name, body, old, sub, params, "update")
            return self._finish(rt, ver, ns, name, new, old, params, warnings)

    def patch(self, rt, ver, ns, name, raw, ctype, params, sub=None):
        ctype = (ctype or "").split(";")[0].strip().lower()
        if ctype not in (MERGE, STRATEGIC, JSONPATCH, APPLY) or (ctype == STRATEGIC and not rt.builtin):
            raise unsupported_media_type(ctype)
        with self.lock:
            ns = ns if rt.namespaced else ""
            old = self.store.get(rt.storage, ns, name)
            if ctype == APPLY:
                return self._apply(rt, ver, ns, name, parse_body(raw, allow_yaml=True), old, params, sub)
            if old is None:
                raise not_found(rt.group, rt.plural, name)
            body = parse_body(raw)
            current = objects.view(rt, ver, old, defaults=False)
            if ctype == JSONPATCH:
                patched = patches.json_patch(current, body)
            elif not isinstance(body, dict):
                raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
            elif ctype == MERGE:
                patched = patches.merge_patch(current, body)
            else:
                patched = patches.strategic_merge_patch(current, body, rt.atomic_lists)
            if not isinstance(patched, dict):
                raise bad_request("patched object is not a JSON object")
            pmeta = patched.get("metadata") if isinstance(patched.get("metadata"), dict) else {}
            if pmeta.get("resourceVersion") and pmeta["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise conflict(rt.group, rt.plural, name)
            if pmeta.get("name") not in (None, name):
                raise bad_request(f"the name of the object ({pmeta.get('name')}) does not match the name on "
                                  f"the URL ({name})")
            patched["metadata"] = dict(pmeta, name=name)
            new, warnings = self._prepare(rt, ver, ns, name, patched, old, sub, params, "patch")
            return self._finish(rt, ver, ns, name, new, old, params, warnings)

    def _apply(self, rt, ver, ns, name, applied, old, params, sub):
        if not isinstance(applied, dict):
            raise bad_request("error decoding YAML: the applied configuration must be an object")
        manager = params.get("fieldManager")
        if not manager:
            raise bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
        for field in ("apiVersion", "kind"):
            if not applied.get(field):
                raise bad_request(f"invalid object type: {field} must be set" if field == "kind" else
                                  "invalid object type: /, Kind=")
        ameta = applied.get("metadata") if isinstance(applied.get("metadata"), dict) else {}
        if ameta.get("name") not in (None, name):
            raise bad_request(f"the name of the object ({ameta.get('name')}) does not match the name on "
                              f"the URL ({name})")
        key = (rt.storage, ns, name, manager, sub or "")
        list_keys = crds.list_keys_for(rt, ver)
        if old is None:
            if sub:
                raise not_found(rt.group, rt.plural, name)
            self._namespace_must_exist(rt, ns)
            body = patches.apply_merge({}, applied, {}, list_keys)
            body["metadata"] = dict(body.get("metadata") or {}, name=name)
            new, warnings = self._prepare(rt, ver, ns, name, body, None, None, params, "apply")
            if params.get("dryRun"):
                return 201, objects.view(rt, ver, new), warnings
            self.applied[key] = applied
            committed = self.store.commit(ADDED, rt.storage, ns, name, new)
            if rt.group == "apiextensions.k8s.io":
                crds.register(self.registry, committed)
            return 201, objects.view(rt, ver, committed), warnings
        if ameta.get("resourceVersion") and ameta["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(rt.group, rt.plural, name)
        current = objects.view(rt, ver, old, defaults=False)
        merged = patches.apply_merge(current, applied, self.applied.get(key, {}), list_keys)
        merged["metadata"] = dict(merged.get("metadata") or {}, name=name,
                                  resourceVersion=old["metadata"]["resourceVersion"])
        new, warnings = self._prepare(rt, ver, ns, name, merged, old, sub, params, "apply")
        if not params.get("dryRun"):
            self.applied[key] = applied
        return self._finish(rt, ver, ns, name, new, old, params, warnings)

    def _finish(self, rt, ver, ns, name, new, old, params, warnings):
        if _same(new, old):
            return 200, objects.view(rt, ver, old), warnings
        if params.get("dryRun"):
            return 200, objects.view(rt, ver, new), warnings
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            committed = self.store.commit(DELETED, rt.storage, ns, name, new)
            self._after_delete(rt, committed)
            return 200, objects.view(rt, ver, committed), warnings
        committed = self.store.commit(MODIFIED, rt.storage, ns, name, new)
        if rt.group == "apiextensions.k8s.io":
            crds.register(self.registry, committed)
        return 200, objects.view(rt, ver, committed), warnings

    def _prepare(self, rt, ver, ns, name, new, old, sub, params, op):
        """Builds the object to store from a client's object: server-managed metadata,
        status-subresource rules, defaults, pruning, validation and generation."""
        if not isinstance(new, dict):
            raise bad_request("Object 'Kind' is missing in request body")
        want_api = rt.api_version(ver)
        if new.get("apiVersion") not in (None, "", want_api) and op != "patch":
            raise bad_request(f"the API version in the data ({new['apiVersion']}) does not match the "
                              f"expected API version ({want_api})")
        if new.get("kind") not in (None, "", rt.kind) and op != "patch":
            raise bad_request(f"the kind in the data ({new['kind']}) does not match the expected kind "
                              f"({rt.kind})")
        new = objects.deepcopy(new)
        new["apiVersion"], new["kind"] = want_api, rt.kind
        meta = new["metadata"] = dict(new.get("metadata") or {})
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", ns):
                raise bad_request("the namespace of the provided object does not match the namespace "
                                  "sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        old_view = objects.view(rt, ver, old, defaults=False) if old is not None else None
        if sub == "status":
            base = objects.deepcopy(old_view)
            if "status" in new:
                base["status"] = new["status"]
            else:
                base.pop("status", None)
            new, meta = base, base["metadata"]
        elif old is not None:
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation"):
                if k in old["metadata"]:
                    meta[k] = old["metadata"][k]
                else:
                    meta.pop(k, None)
            if rt.has_status(ver):
                if "status" in old_view:
                    new["status"] = old_view["status"]
                else:
                    new.pop("status", None)
        else:
            for k in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(k, None)
            meta["uid"], meta["creationTimestamp"] = objects.new_uid(), objects.now()
            if rt.generation:
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            if rt.has_status(ver) and not rt.builtin:
                new.pop("status", None)
        meta.pop("managedFields", None)
        meta.pop("selfLink", None)

        warnings, errs = [], []
        if rt.builtin:
            unknown = [k for k in new if rt.top_fields and k not in rt.top_fields]
            for k in unknown:
                del new[k]
            unknown += builtins.prune(rt, new)
            if sub != "status":
                errs += builtins.check(rt, new, op, name, old_view)
            if rt.defaulter:
                rt.defaulter(new)
            if rt.to_storage:
                new = rt.to_storage(new)
                meta = new["metadata"]
        else:
            s = rt.versions[ver].schema
            unknown = schema.prune(new, s)
            schema.apply_defaults(new, s)
            schema.prune(new, s)
            body_schema = dict(s, properties=_without(s.get("properties") or {}, "apiVersion", "kind", "metadata"))
            errs += schema.validate(new, body_schema)
        if unknown:
            warnings += self._unknown_fields(rt, ver, unknown, params, op)
        if old is None:
            errs = objects.validate_name(rt.plural, name, rt.group) + errs
        errs = objects.validate_meta(meta) + errs
        if old is not None:
            errs += objects.finalizer_errors(old["metadata"], meta)
        if rt.group == "apiextensions.k8s.io" and rt.plural == "customresourcedefinitions":
            errs += crds.prepare(new, old, self.registry)
        if errs:
            raise invalid_object(rt.kind, rt.group, name, errs)
        if old is not None and rt.generation and sub != "status":
            if rt.builtin and rt.generation != "content":
                changed = new.get("spec") != old_view.get("spec")
            else:
                changed = _without(new, "metadata", "apiVersion", "kind") != \
                    _without(old_view, "metadata", "apiVersion", "kind")
            if changed:
                meta["generation"] = int(old["metadata"].get("generation") or 0) + 1
        return new, warnings

    def _unknown_fields(self, rt, ver, unknown, params, op):
        directive = params.get("fieldValidation") or "Warn"
        if directive not in ("Ignore", "Warn", "Strict"):
            raise bad_request(f"fieldValidation parameter unsupported: {directive}")
        if op == "apply":
            errs = [f".{p}: field not declared in schema" for p in unknown]
            text = errs[0] if len(errs) == 1 else "errors:\n  " + "\n  ".join(errs)
            raise bad_request(f"failed to create typed patch object ({rt.group}/{ver}, Kind={rt.kind}): {text}"
                              if rt.group else f"failed to create typed patch object (/{ver}, Kind={rt.kind}): "
                                               f"{text}")
        if directive == "Strict":
            msg = schema.strict_message(unknown)
            if op in ("create", "update"):
                msg = f'{rt.kind} in version "{ver}" cannot be handled as a {rt.kind}: {msg}'
            raise bad_request(msg)
        return schema.warning_values(unknown) if directive == "Warn" else []


def _int_rv(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        raise bad_request(f'invalid resource version: "{text}"') from None

"""Structural-schema handling for custom resources: pruning, defaulting and validation with
the messages of k8s.io/apiextensions-apiserver (kube-openapi validate + field.Error)."""

import copy
import json
import re

from .errors import FieldError, format_number, go_value, not_supported, required

OBJECT_META_FIELDS = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields",
}


def _child(path, name):
    return f"{path}.{name}" if path else name


def _type_of(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int) or (isinstance(v, float) and v == int(v) and abs(v) < 2 ** 63):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


# --- pruning -------------------------------------------------------------------------------

def prune(obj, schema, root=True):
    """Removes fields the schema does not declare; returns the removed paths (for strict
    field validation). Nulls of non-nullable fields are dropped as the real server does."""
    unknown = []
    if root and isinstance(obj, dict):
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            for k in list(meta):
                if k not in OBJECT_META_FIELDS:
                    unknown.append(f"metadata.{k}")
                    del meta[k]
        props = (schema or {}).get("properties", {})
        for k in list(obj):
            if k in ("apiVersion", "kind", "metadata"):
                continue
            if k not in props and not (schema or {}).get("x-kubernetes-preserve-unknown-fields"):
                unknown.append(k)
                del obj[k]
            elif k in props:
                if obj[k] is None and not props[k].get("nullable"):
                    del obj[k]
                else:
                    _prune(obj[k], props[k], k, unknown)
        return unknown
    _prune(obj, schema, "", unknown)
    return unknown


def _prune(v, s, path, unknown):
    if not isinstance(s, dict):
        return
    if isinstance(v, dict):
        props = s.get("properties")
        addl = s.get("additionalProperties")
        preserve = s.get("x-kubernetes-preserve-unknown-fields")
        embedded = s.get("x-kubernetes-embedded-resource")
        for k in list(v):
            if props is not None and k in props:
                if v[k] is None and not props[k].get("nullable"):
                    del v[k]
                else:
                    _prune(v[k], props[k], _child(path, k), unknown)
            elif isinstance(addl, dict):
                _prune(v[k], addl, _child(path, k), unknown)
            elif addl is True or preserve or (embedded and k in ("apiVersion", "kind", "metadata")):
                continue
            else:
                unknown.append(_child(path, k))
                del v[k]
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        for i, item in enumerate(v):
            _prune(item, s["items"], f"{path}[{i}]", unknown)


# --- defaulting ----------------------------------------------------------------------------

def apply_defaults(v, s):
    if not isinstance(s, dict):
        return
    if isinstance(v, dict):
        for k, ps in (s.get("properties") or {}).items():
            if "default" in ps and (k not in v or (v[k] is None and not ps.get("nullable"))):
                v[k] = copy.deepcopy(ps["default"])
            if k in v:
                apply_defaults(v[k], ps)
        addl = s.get("additionalProperties")
        if isinstance(addl, dict):
            for k in v:
                apply_defaults(v[k], addl)
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        for item in v:
            apply_defaults(item, s["items"])


# --- validation ----------------------------------------------------------------------------

class _Err(FieldError):
    pass


def _invalid(path, value, detail, etype="FieldValueInvalid"):
    return FieldError(etype, path, value, detail)


def validate(v, s, path=""):
    """Returns a list of FieldError for value v against structural schema s."""
    errs = []
    if not isinstance(s, dict) or not s:
        return errs
    name = path or "."
    t = _type_of(v)
    want = s.get("type")
    if s.get("x-kubernetes-int-or-string"):
        if t not in ("integer", "string") and not (v is None and s.get("nullable")):
            errs.append(_invalid(path, t, f"{name} in body must be of type integer,string: {json.dumps(t)}",
                                 "FieldValueTypeInvalid"))
            return errs
    elif v is None:
        if s.get("nullable"):
            return errs
        if want:
            errs.append(_invalid(path, "null", f"{name} in body must be of type {want}: \"null\"",
                                 "FieldValueTypeInvalid"))
            return errs
    elif want and not (t == want or (want == "number" and t == "integer")):
        errs.append(_invalid(path, t, f"{name} in body must be of type {want}: {json.dumps(t)}",
                             "FieldValueTypeInvalid"))
        return errs

    if "enum" in s and v not in s["enum"]:
        allowed = [a if isinstance(a, str) else json.dumps(a) for a in s["enum"]]
        errs.append(not_supported(path, v, allowed))

    if t in ("integer", "number"):
        errs += _numeric(v, s, path, name)
    elif t == "string":
        if "maxLength" in s and len(v) > s["maxLength"]:
            errs.append(FieldError("FieldValueTooLong", path, v, f"may not be longer than {s['maxLength']}"))
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append(_invalid(path, v, f"{name} in body should be at least {s['minLength']} chars long"))
        if "pattern" in s and not _search(s["pattern"], v):
            errs.append(_invalid(path, v, f"{name} in body should match '{s['pattern']}'"))
        fmt_err = _format(v, s.get("format"))
        if fmt_err:
            errs.append(_invalid(path, v, f"{name} in body must be of type {s['format']}: {json.dumps(v)}"))
    elif t == "array":
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append(FieldError("FieldValueTooMany", path, len(v), f"must have at most {s['maxItems']} items"))
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append(_invalid(path, len(v), f"{name} in body should have at least {s['minItems']} items"))
        if s.get("uniqueItems") or s.get("x-kubernetes-list-type") == "set":
            seen = [json.dumps(x, sort_keys=True) for x in v]
            for i, x in enumerate(seen):
                if x in seen[:i]:
                    if s.get("x-kubernetes-list-type") == "set":
                        errs.append(FieldError("FieldValueDuplicate", f"{path}[{i}]", v[i]))
                    else:
                        errs.append(_invalid(path, v, f"{name} in body shouldn't contain duplicates"))
                    break
        if s.get("x-kubernetes-list-type") == "map":
            keys = s.get("x-kubernetes-list-map-keys") or []
            seen = []
            for i, x in enumerate(v):
                ident = tuple(x.get(k) for k in keys) if isinstance(x, dict) else None
                if ident in seen:
                    errs.append(FieldError("FieldValueDuplicate", f"{path}[{i}]",
                                           {k: x.get(k) for k in keys}))
                seen.append(ident)
        if isinstance(s.get("items"), dict):
            for i, item in enumerate(v):
                errs += validate(item, s["items"], f"{path}[{i}]")
    elif t == "object":
        for r in s.get("required") or []:
            if r not in v:
                errs.append(required(_child(path, r)))
        if "maxProperties" in s and len(v) > s["maxProperties"]:
            errs.append(FieldError("FieldValueTooMany", path, len(v),
                                   f"must have at most {s['maxProperties']} items"))
        if "minProperties" in s and len(v) < s["minProperties"]:
            errs.append(_invalid(path, len(v), f"{name} in body should have at least "
                                 f"{s['minProperties']} properties"))
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        for k, item in v.items():
            if k in props:
                errs += validate(item, props[k], _child(path, k))
            elif isinstance(addl, dict):
                errs += validate(item, addl, _child(path, k))
    errs += _combinators(v, s, path, name)
    return errs


def _numeric(v, s, path, name):
    errs = []
    if "maximum" in s:
        m = s["maximum"]
        if s.get("exclusiveMaximum") and v >= m:
            errs.append(_invalid(path, v, f"{name} in body should be less than {format_number(m)}"))
        elif v > m:
            errs.append(_invalid(path, v, f"{name} in body should be less than or equal to {format_number(m)}"))
    if "minimum" in s:
        m = s["minimum"]
        if s.get("exclusiveMinimum") and v <= m:
            errs.append(_invalid(path, v, f"{name} in body should be greater than {format_number(m)}"))
        elif v < m:
            errs.append(_invalid(path, v, f"{name} in body should be greater than or equal to "
                                 f"{format_number(m)}"))
    if s.get("multipleOf"):
        q = v / s["multipleOf"]
        if q != int(q):
            errs.append(_invalid(path, v, f"{name} in body should be a multiple of "
                                 f"{format_number(s['multipleOf'])}"))
    return errs


def _combinators(v, s, path, name):
    errs = []
    for sub in s.get("allOf") or []:
        if validate(v, sub, path):
            errs.append(_invalid(path, v, f"{name} in body must validate all the schemas (allOf)"))
            break
    if s.get("anyOf") and all(validate(v, sub, path) for sub in s["anyOf"]):
        errs.append(_invalid(path, v, f"{name} in body must validate at least one schema (anyOf)"))
    if s.get("oneOf") and sum(1 for sub in s["oneOf"] if not validate(v, sub, path)) != 1:
        errs.append(_invalid(path, v, f"{name} in body must validate one and only one schema (oneOf)"))
    if isinstance(s.get("not"), dict) and not validate(v, s["not"], path):
        errs.append(_invalid(path, v, f"{name} in body must not validate the schema (not)"))
    return errs


_RE_CACHE = {}


def _search(pattern, value):
    rx = _RE_CACHE.get(pattern)
    if rx is None:
        try:
            rx = re.compile(pattern)
        except re.error:
            rx = re.compile(re.escape(pattern))
        _RE_CACHE[pattern] = rx
    return rx.search(value) is not None


_FORMATS = {
    "date-time": r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "ipv4": r"^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)$",
}


def _format(value, fmt):
    rx = _FORMATS.get(fmt or "")
    return bool(rx) and re.match(rx, value) is None


# --- unknown field reporting ------------------------------------------------------------------

def strict_message(paths):
    return "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in paths)


def warning_values(paths):
    return ['299 - ' + json.dumps(f'unknown field "{p}"') for p in paths]


__all__ = ["prune", "apply_defaults", "validate", "strict_message", "warning_values", "go_value"]

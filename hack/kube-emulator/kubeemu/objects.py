"""Object-level helpers: metadata validation, timestamps, views of stored objects."""

import copy
import datetime
import re
import uuid

from . import schema
from .errors import forbidden, invalid, required

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
                 "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
                 "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
             "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
             "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                   "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                   "'my_value',  or '12345', regex used for validation is "
                   "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
QUALIFIED_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                 "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                 "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid():
    return str(uuid.uuid4())


def deepcopy(o):
    return copy.deepcopy(o)


def validate_name(plural, name, group):
    """Name rules of the real registries: namespaces are DNS-1123 labels, services DNS-1035
    labels, everything else a DNS-1123 subdomain."""
    errs = []
    if plural == "namespaces" and not group:
        if len(name) > 63:
            errs.append(invalid("metadata.name", name, "must be no more than 63 characters"))
        if not DNS1123_LABEL.match(name):
            errs.append(invalid("metadata.name", name, LABEL_MSG))
    elif plural == "services" and not group:
        if len(name) > 63:
            errs.append(invalid("metadata.name", name, "must be no more than 63 characters"))
        if not DNS1035_LABEL.match(name):
            errs.append(invalid("metadata.name", name, DNS1035_MSG))
    else:
        if len(name) > 253:
            errs.append(invalid("metadata.name", name, "must be no more than 253 characters"))
        if not DNS1123_SUBDOMAIN.match(name):
            errs.append(invalid("metadata.name", name, SUBDOMAIN_MSG))
    return errs


def _qualified_key(field, key):
    errs = []
    name = key
    if "/" in key:
        prefix, name = key.split("/", 1)
        if not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix):
            errs.append(invalid(field, key, "prefix part " + SUBDOMAIN_MSG))
    if not name:
        errs.append(invalid(field, key, "name part must be non-empty"))
    elif len(name) > 63:
        errs.append(invalid(field, key, "name part must be no more than 63 characters"))
    elif not QUALIFIED_NAME.match(name):
        errs.append(invalid(field, key, QUALIFIED_MSG))
    return errs


def qualified_name_errors(field, value):
    """IsQualifiedName (an optional DNS subdomain prefix and a name part) as errors on field."""
    return _qualified_key(field, value)


def validate_meta(meta):
    errs = []
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        return [invalid("metadata.labels", labels, "must be a map of strings")]
    for k, v in labels.items():
        errs += _qualified_key("metadata.labels", k)
        if not isinstance(v, str):
            errs.append(invalid("metadata.labels", v, "must be a string"))
        elif len(v) > 63:
            errs.append(invalid("metadata.labels", v, "must be no more than 63 characters"))
        elif not LABEL_VALUE.match(v):
            errs.append(invalid("metadata.labels", v, LABEL_VALUE_MSG))
    annotations = meta.get("annotations") or {}
    for k, v in annotations.items() if isinstance(annotations, dict) else []:
        errs += _qualified_key("metadata.annotations", k)
    total = sum(len(k) + len(str(v)) for k, v in annotations.items()) if isinstance(annotations, dict) else 0
    if total > 262144:
        errs.append(invalid("metadata.annotations", "", "Too long: must have at most 262144 bytes"))
    for i, f in enumerate(meta.get("finalizers") or []):
        if not isinstance(f, str) or not f:
            errs.append(required(f"metadata.finalizers[{i}]"))
        elif "/" not in f and f not in ("kubernetes", "orphan", "foregroundDeletion"):
            errs.append(invalid(f"metadata.finalizers[{i}]", f, "name is neither a standard finalizer name "
                                "nor is it fully qualified"))
    return errs


def finalizer_errors(old_meta, new_meta):
    """Once deletionTimestamp is set no finalizer may be added."""
    if not old_meta.get("deletionTimestamp"):
        return []
    added = [f for f in new_meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
    if not added:
        return []
    shown = "[]string{" + ", ".join(f'"{f}"' for f in added) + "}"
    return [forbidden("metadata.finalizers", f"no new finalizers can be added if the object is being "
                                             f"deleted, found new finalizers {shown}")]


def view(rtype, version, obj, defaults=True):
    """A copy of a stored object as the client asked for it (apiVersion/kind of the request's
    version, schema defaults applied to custom resources)."""
    out = copy.deepcopy(obj)
    if rtype.from_storage:
        out = rtype.from_storage(out)
    out["apiVersion"] = rtype.api_version(version)
    out["kind"] = rtype.kind
    if defaults and not rtype.builtin:
        s = rtype.versions[version].schema
        schema.apply_defaults(out, s)
    return _order(out)


_TOP_ORDER = ("apiVersion", "kind", "metadata")


def _order(obj):
    out = {k: obj[k] for k in _TOP_ORDER if k in obj}
    out.update({k: v for k, v in obj.items() if k not in out})
    return out


def bookmark(rtype, version, rv, initial_end=False):
    meta = {"resourceVersion": str(rv), "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": rtype.kind, "apiVersion": rtype.api_version(version), "metadata": meta}

"""Decoding of Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf).

Typed clients (kubectl create configmap/secret/namespace/..., helm's release storage) send
built-in objects as protobuf while accepting JSON answers. This module turns such bodies into
the JSON form the rest of the emulator works on. Only the kinds below are known; others are
answered with 415 as a server without that kind's protobuf support would."""

import base64
import datetime
import struct

MAGIC = b"k8s\x00"
ZERO_TIME = -62135596800  # time.Time{}.Unix()

# Field tables from the generated.proto files of k8s.io/api and k8s.io/apimachinery.
# A type ending in "?" is a pointer in Go: present means set, even when zero.
TIME = "time"
MICROTIME = "microtime"
TYPE_META = {1: ("apiVersion", "string"), 2: ("kind", "string")}
OWNER_REF = {5: ("apiVersion", "string"), 1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
             6: ("controller", "bool?"), 7: ("blockOwnerDeletion", "bool?")}
MANAGED_FIELDS = {1: ("manager", "string"), 2: ("operation", "string"), 3: ("apiVersion", "string"),
                  4: ("time", TIME), 6: ("fieldsType", "string"), 8: ("subresource", "string")}
OBJECT_META = {
    1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"), 4: ("selfLink", "string"),
    5: ("uid", "string"), 6: ("resourceVersion", "string"), 7: ("generation", "int"),
    8: ("creationTimestamp", TIME), 9: ("deletionTimestamp", TIME), 10: ("deletionGracePeriodSeconds", "int?"),
    11: ("labels", ("map", "string")), 12: ("annotations", ("map", "string")),
    13: ("ownerReferences", [OWNER_REF]), 14: ("finalizers", ["string"]), 17: ("managedFields", [MANAGED_FIELDS]),
}
OBJECT_REF = {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string"), 4: ("uid", "string"),
              5: ("apiVersion", "string"), 6: ("resourceVersion", "string"), 7: ("fieldPath", "string")}
LOCAL_REF = {1: ("name", "string")}
POLICY_RULE = {1: ("verbs", ["string"]), 2: ("apiGroups", ["string"]), 3: ("resources", ["string"]),
               4: ("resourceNames", ["string"]), 5: ("nonResourceURLs", ["string"])}
LABEL_SELECTOR = {1: ("matchLabels", ("map", "string")),
                  2: ("matchExpressions", [{1: ("key", "string"), 2: ("operator", "string"),
                                            3: ("values", ["string"])}])}
KINDS = {
    ("v1", "ConfigMap"): {1: ("metadata", OBJECT_META), 2: ("data", ("map", "string")),
                          3: ("binaryData", ("map", "bytes")), 4: ("immutable", "bool?")},
    ("v1", "Secret"): {1: ("metadata", OBJECT_META), 2: ("data", ("map", "bytes")), 3: ("type", "string"),
                       4: ("stringData", ("map", "string")), 5: ("immutable", "bool?")},
    ("v1", "Namespace"): {1: ("metadata", OBJECT_META), 2: ("spec", {1: ("finalizers", ["string"])}),
                          3: ("status", {1: ("phase", "string")})},
    ("v1", "ServiceAccount"): {1: ("metadata", OBJECT_META), 2: ("secrets", [OBJECT_REF]),
                               3: ("imagePullSecrets", [LOCAL_REF]), 4: ("automountServiceAccountToken", "bool?")},
    ("v1", "Event"): {1: ("metadata", OBJECT_META), 2: ("involvedObject", OBJECT_REF), 3: ("reason", "string"),
                      4: ("message", "string"), 5: ("source", {1: ("component", "string"), 2: ("host", "string")}),
                      6: ("firstTimestamp", TIME), 7: ("lastTimestamp", TIME), 8: ("count", "int"),
                      9: ("type", "string"), 10: ("eventTime", MICROTIME), 12: ("action", "string"),
                      13: ("related", OBJECT_REF), 14: ("reportingComponent", "string"),
                      15: ("reportingInstance", "string")},
    ("coordination.k8s.io/v1", "Lease"): {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("holderIdentity", "string?"), 2: ("leaseDurationSeconds", "int?"),
                     3: ("acquireTime", MICROTIME), 4: ("renewTime", MICROTIME), 5: ("leaseTransitions", "int?"),
                     6: ("strategy", "string?"), 7: ("preferredHolder", "string?")})},
    ("rbac.authorization.k8s.io/v1", "Role"): {1: ("metadata", OBJECT_META), 2: ("rules", [POLICY_RULE])},
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): {
        1: ("metadata", OBJECT_META), 2: ("rules", [POLICY_RULE]),
        3: ("aggregationRule", {1: ("clusterRoleSelectors", [LABEL_SELECTOR])})},
}
_BINDING = {1: ("metadata", OBJECT_META),
            2: ("subjects", [{1: ("kind", "string"), 2: ("apiGroup", "string"), 3: ("name", "string"),
                              4: ("namespace", "string")}]),
            3: ("roleRef", {1: ("apiGroup", "string"), 2: ("kind", "string"), 3: ("name", "string")})}
KINDS[("rbac.authorization.k8s.io/v1", "RoleBinding")] = _BINDING
KINDS[("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")] = _BINDING
KINDS[("v1", "DeleteOptions")] = KINDS[("meta.k8s.io/v1", "DeleteOptions")] = {
    1: ("gracePeriodSeconds", "int?"), 2: ("preconditions", {1: ("uid", "string?"), 2: ("resourceVersion", "string?")}),
    3: ("orphanDependents", "bool?"), 4: ("propagationPolicy", "string?"), 5: ("dryRun", ["string"])}


class UnsupportedKind(Exception):
    pass


def _varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf):
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            val, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield num, wire, val


def _int(v):
    v = v if isinstance(v, int) else struct.unpack("<q", v.ljust(8, b"\0"))[0]
    return v - (1 << 64) if v >= 1 << 63 else v


def _time(buf, micro):
    f = {n: v for n, _, v in _fields(buf)}
    secs, nanos = _int(f.get(1, 0)), _int(f.get(2, 0))
    if secs == ZERO_TIME or (secs == 0 and not f):
        return None
    t = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    if micro:
        return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (nanos // 1000)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(kind, wire, val):
    base = kind.rstrip("?")
    if base == "string":
        return bytes(val).decode("utf-8")
    if base == "bytes":
        return base64.b64encode(bytes(val)).decode()
    if base == "int":
        return _int(val)
    if base == "bool":
        return bool(val)
    if base in (TIME, MICROTIME):
        return _time(val, base == MICROTIME)
    raise ValueError(kind)


def _empty(v):
    return v is None or v == "" or v == 0 or v is False or v == [] or v == {}


def decode_message(buf, table):
    out = {}
    for num, wire, val in _fields(buf):
        if num not in table:
            continue
        name, kind = table[num]
        if isinstance(kind, dict):
            out[name] = decode_message(val, kind)
        elif isinstance(kind, list):
            item = kind[0]
            out.setdefault(name, []).append(decode_message(val, item) if isinstance(item, dict)
                                            else _scalar(item, wire, val))
        elif isinstance(kind, tuple):
            entry = {n: v for n, _, v in _fields(val)}
            out.setdefault(name, {})[bytes(entry.get(1, b"")).decode()] = _scalar(kind[1], 2, entry.get(2, b""))
        else:
            out[name] = _scalar(kind, wire, val)
    for name, kind in table.values():
        if name in out and not (isinstance(kind, str) and kind.endswith("?")) and not isinstance(kind, tuple) \
                and _empty(out[name]):
            del out[name]
    return out


def decode(body):
    """A protobuf-encoded request body -> the object as JSON would carry it."""
    if not body.startswith(MAGIC):
        raise ValueError("missing protobuf magic number")
    envelope = {n: v for n, _, v in _fields(memoryview(body)[len(MAGIC):])}
    type_meta = decode_message(envelope.get(1, b""), TYPE_META)
    key = (type_meta.get("apiVersion", ""), type_meta.get("kind", ""))
    if key not in KINDS:
        raise UnsupportedKind(f"{key[1]} in {key[0]}")
    obj = decode_message(envelope.get(2, b""), KINDS[key])
    if key[1] != "DeleteOptions":
        obj = {"apiVersion": key[0], "kind": key[1], **obj}
    return obj

"""meta.k8s.io/v1 Table output: the built-in printers' columns, CRD additionalPrinterColumns,
and the server-side defaults of a few built-in kinds."""

import base64
import datetime
import hashlib
import json
import re

from .query import compile_jsonpath, eval_jsonpath

NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although "
             "some resources may allow a client to request the generation of an appropriate name "
             "automatically. Name is primarily intended for creation idempotence and configuration "
             "definition. Cannot be updated. More info: "
             "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was "
            "created. It is not guaranteed to be set in happens-before order across separate "
            "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
            "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
            "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


def parse_time(ts):
    """Parses an RFC 3339 timestamp (with or without fraction) to an aware datetime."""
    if not isinstance(ts, str):
        return None
    text = ts.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, rest = text.split(".", 1)
        frac = re.match(r"\d*", rest).group(0)
        text = head + "." + (frac[:6].ljust(6, "0")) + rest[len(frac):]
    try:
        t = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo else None


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def age_of(ts):
    t = parse_time(ts) if ts else None
    if t is None:
        return "<unknown>"
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())


def _m(o, k):
    return (o.get("metadata") or {}).get(k)


def col(name, getter, ctype="string", priority=0, fmt="", desc=""):
    return (name, ctype, fmt, priority, desc, getter)


NAME = col("Name", lambda o: _m(o, "name"), fmt="name", desc=NAME_DESC)
AGE = col("Age", lambda o: age_of(_m(o, "creationTimestamp")), desc=AGE_DESC)
CREATED = col("Created At", lambda o: _m(o, "creationTimestamp"), ctype="date", desc=AGE_DESC)


def _g(o, *path):
    for p in path:
        o = o.get(p) if isinstance(o, dict) else None
    return o


def _count(*path):
    return lambda o: len(_g(o, *path) or {})


def _ports(o):
    ports = _g(o, "spec", "ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _selector(*path):
    return lambda o: ",".join(f"{k}={v}" for k, v in (_g(o, *path) or {}).items()) or "<none>"


def _containers(field):
    return lambda o: ",".join(str(c.get(field, "")) for c in _g(o, "spec", "template", "spec", "containers") or [])


def _subjects(kind):
    return lambda o: ", ".join(
        (f"{s.get('namespace')}/{s.get('name')}" if kind == "ServiceAccount" else s.get("name", ""))
        for s in (o.get("subjects") or []) if s.get("kind") == kind)


def _last_seen(o):
    ts = o.get("lastTimestamp") or o.get("eventTime") or _m(o, "creationTimestamp")
    return age_of(ts)


NAMESPACE = [NAME, col("Status", lambda o: _g(o, "status", "phase")), AGE]
CONFIGMAP = [NAME, col("Data", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                       "integer"), AGE]
SECRET = [NAME, col("Type", lambda o: o.get("type")), col("Data", _count("data"), "integer"), AGE]
SERVICEACCOUNT = [NAME, col("Secrets", _count("secrets"), "integer"), AGE]
SERVICE = [NAME, col("Type", lambda o: _g(o, "spec", "type")),
           col("Cluster-IP", lambda o: _g(o, "spec", "clusterIP")),
           col("External-IP", lambda o: ",".join(_g(o, "spec", "externalIPs") or []) or "<none>"),
           col("Port(s)", _ports), AGE, col("Selector", _selector("spec", "selector"), priority=1)]
POD = [NAME, col("Ready", lambda o: "%d/%d" % (
    sum(1 for s in _g(o, "status", "containerStatuses") or [] if s.get("ready")),
    len(_g(o, "spec", "containers") or []))),
    col("Status", lambda o: _g(o, "status", "phase") or "Pending"),
    col("Restarts", lambda o: sum(s.get("restartCount", 0) for s in _g(o, "status", "containerStatuses") or []),
        "integer"), AGE]
DEPLOYMENT = [NAME, col("Ready", lambda o: "%d/%d" % (_g(o, "status", "readyReplicas") or 0,
                                                      _g(o, "spec", "replicas") or 0)),
              col("Up-to-date", lambda o: _g(o, "status", "updatedReplicas") or 0, "integer"),
              col("Available", lambda o: _g(o, "status", "availableReplicas") or 0, "integer"), AGE,
              col("Containers", _containers("name"), priority=1), col("Images", _containers("image"), priority=1),
              col("Selector", _selector("spec", "selector", "matchLabels"), priority=1)]
LEASE = [NAME, col("Holder", lambda o: _g(o, "spec", "holderIdentity") or ""), AGE]
CREATED_AT = [NAME, CREATED]
BINDING = [NAME, col("Role", lambda o: f"{_g(o, 'roleRef', 'kind')}/{_g(o, 'roleRef', 'name')}"), AGE,
           col("Users", _subjects("User"), priority=1), col("Groups", _subjects("Group"), priority=1),
           col("ServiceAccounts", _subjects("ServiceAccount"), priority=1)]
EVENT = [col("Last Seen", _last_seen), col("Type", lambda o: o.get("type")), col("Reason", lambda o: o.get("reason")),
         col("Object", lambda o: f"{_g(o, 'involvedObject', 'kind', ).lower() if _g(o, 'involvedObject', 'kind') else ''}"
             f"/{_g(o, 'involvedObject', 'name') or ''}"),
         col("Subobject", lambda o: _g(o, "involvedObject", "fieldPath") or "", priority=1),
         col("Source", lambda o: _g(o, "source", "component") or o.get("reportingComponent") or "", priority=1),
         col("Message", lambda o: (o.get("message") or "").strip()),
         col("First Seen", lambda o: age_of(o.get("firstTimestamp") or o.get("eventTime")), priority=1),
         col("Count", lambda o: o.get("count") or 1, "integer", priority=1),
         col("Name", lambda o: _m(o, "name"), priority=1, fmt="name")]
EVENT_NEW = [NAME, AGE]


def _list_with_more(items, limit=3):
    """The printers' listWithMoreString: the first three, then "+ N more...", or <unset>."""
    if len(items) > limit:
        return ",".join(items[:limit]) + f" + {len(items) - limit} more..."
    return ",".join(items) or "<unset>"


def _slice_ports(o):
    out = []
    for p in o.get("ports") or []:
        p = p if isinstance(p, dict) else {}
        out.append(str(p["port"]) if p.get("port") is not None else
                   str(p["name"]) if p.get("name") is not None else "*")
    return _list_with_more(out)


def _slice_endpoints(o):
    return _list_with_more([str(a) for ep in o.get("endpoints") or [] if isinstance(ep, dict)
                            for a in ep.get("addresses") or []])


ENDPOINTSLICE = [NAME, col("AddressType", lambda o: o.get("addressType") or ""), col("Ports", _slice_ports),
                 col("Endpoints", _slice_endpoints), AGE]


def jsonpath_getter(path):
    steps = compile_jsonpath(path)
    return lambda o: (eval_jsonpath(steps, o) or [None])[0]


def crd_columns(printer_columns):
    """Name, then the CRD's additionalPrinterColumns (Age when it declares none)."""
    printer_columns = printer_columns or [{"name": "Age", "type": "date",
                                           "jsonPath": ".metadata.creationTimestamp"}]
    cols = [NAME]
    for pc in printer_columns:
        steps = compile_jsonpath(pc.get("jsonPath", ""))
        ctype = pc.get("type", "string")
        cols.append((pc.get("name", ""), ctype, pc.get("format", ""), pc.get("priority", 0),
                     pc.get("description", ""), _crd_cell(steps, ctype)))
    return cols


def _crd_cell(steps, ctype):
    def getter(o):
        found = eval_jsonpath(steps, o)
        if not found:
            return None
        if len(found) > 1:
            return " ".join(v if isinstance(v, str) else _json(v) for v in found)
        v = found[0]
        if v is None:
            return None
        if ctype == "integer" and isinstance(v, (int, float)) and not isinstance(v, bool):
            return int(v)
        if ctype == "number" and isinstance(v, (int, float)) and not isinstance(v, bool):
            return v
        if ctype == "boolean" and isinstance(v, bool):
            return v
        if ctype == "string" and isinstance(v, str):
            return v
        if ctype == "date" and isinstance(v, str):
            return age_of(v) if parse_time(v) else "<invalid>"
        return None
    return getter


def _json(v):
    return json.dumps(v)


def build_table(columns, objects, meta, include="Metadata", wide=True):
    defs = [{"name": n, "type": t, "format": f,
             "description": d, "priority": p} for (n, t, f, p, d, _) in columns]
    rows = []
    for o in objects:
        row = {"cells": [getter(o) for (*_, getter) in columns]}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": o.get("metadata", {})}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": defs, "rows": rows}


# --- server-side defaults of built-in kinds ------------------------------------------------------

def default_namespace(obj):
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")
    labels = obj["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]


def default_secret(obj):
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data = obj.setdefault("data", {})
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def default_service(obj):
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
        h = hashlib.sha256(f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}".encode()).digest()
        spec["clusterIP"] = f"10.96.{h[0]}.{max(h[1], 1)}"
    if spec.get("clusterIP") and spec["clusterIP"] != "None":
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    for p in spec.get("ports") or []:
        p.setdefault("protocol", "TCP")
        p.setdefault("targetPort", p.get("port"))
    obj.setdefault("status", {"loadBalancer": {}})


def default_endpointslice(obj):
    """discovery/v1 defaults and the JSON form the real server returns: empty endpoints and
    ports read back as null, conditions is always an object, deprecatedTopology is dropped."""
    for key in ("endpoints", "ports"):
        if not obj.get(key):
            obj[key] = None
    for ep in obj["endpoints"] or []:
        if not isinstance(ep, dict):
            continue
        for k in [k for k, v in ep.items() if v is None]:
            del ep[k]
        ep.pop("deprecatedTopology", None)
        conditions = ep.get("conditions") or {}
        ep["conditions"] = {k: v for k, v in conditions.items() if v is not None}
    if obj["ports"]:
        obj["ports"] = [p if isinstance(p, dict) else {} for p in obj["ports"]]
    for p in obj["ports"] or []:
        for k in [k for k, v in p.items() if v is None]:
            del p[k]
        p.setdefault("name", "")
        p.setdefault("protocol", "TCP")
        if isinstance(p.get("port"), float):
            p["port"] = int(p["port"])


def default_deployment(obj):
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
    pod = spec.setdefault("template", {}).setdefault("spec", {})
    pod.setdefault("restartPolicy", "Always")
    pod.setdefault("terminationGracePeriodSeconds", 30)
    pod.setdefault("dnsPolicy", "ClusterFirst")
    pod.setdefault("schedulerName", "default-scheduler")
    pod.setdefault("securityContext", {})
    for c in pod.get("containers") or []:
        image = str(c.get("image", ""))
        c.setdefault("imagePullPolicy", "Always" if image.endswith(":latest") or ":" not in image.split("/")[-1]
                     else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})

"""Typed-field checks of the built-in kinds an operator writes often (Leases and Events):
what the real server's JSON decoding and validation reject."""

import json
import re

from .errors import ApiError, bad_request, invalid, not_supported, required

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_MICRO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$")

# field -> (Go type name, kind) for decoding checks; kind in int32, string, time, microtime
LEASE_SPEC = {"holderIdentity": "string", "leaseDurationSeconds": "int32", "acquireTime": "microtime",
              "renewTime": "microtime", "leaseTransitions": "int32", "strategy": "string",
              "preferredHolder": "string"}
CORE_EVENT = {"reason": "string", "message": "string", "firstTimestamp": "time", "lastTimestamp": "time",
              "count": "int32", "type": "string", "eventTime": "microtime", "action": "string",
              "reportingComponent": "string", "reportingInstance": "string"}
SERIES = {"count": "int32", "lastObservedTime": "microtime"}


class DecodeError(Exception):
    pass


def _go_type(kind):
    return {"int32": "int32", "string": "string", "time": "v1.Time", "microtime": "v1.MicroTime"}[kind]


def _json_kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _time_error(value, layout):
    """Go's time.Parse error for the common mistakes."""
    m = re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", value)
    if m and layout == RFC3339_MICRO:
        rest = value[m.end():]
        return f'parsing time "{value}" as "{layout}": cannot parse "{rest}" as ".000000"'
    return f'parsing time "{value}" as "{layout}": cannot parse "{value}" as "2006"'


def _check_fields(obj, table, struct, path):
    for name, kind in table.items():
        if name not in obj or obj[name] is None:
            continue
        v = obj[name]
        where = f"{path}.{name}" if path else name
        if kind == "int32":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
                raise DecodeError(f"json: cannot unmarshal {_json_kind(v)} into Go struct field {struct}.{where} "
                                  f"of type int32")
        elif kind == "string" and not isinstance(v, str):
            raise DecodeError(f"json: cannot unmarshal {_json_kind(v)} into Go struct field {struct}.{where} "
                              f"of type string")
        elif kind in ("time", "microtime"):
            if not isinstance(v, str):
                raise DecodeError(f"json: cannot unmarshal {_json_kind(v)} into Go struct field {struct}.{where} "
                                  f"of type {_go_type(kind)}")
            ok = _MICRO.match(v) if kind == "microtime" else _TIME.match(v)
            if not ok:
                raise DecodeError(_time_error(v, RFC3339_MICRO if kind == "microtime" else RFC3339))


def check(rt, obj, op, name):
    """Raises the decoding error the real server answers; returns validation field errors."""
    key = (rt.group, rt.plural)
    try:
        if key == ("coordination.k8s.io", "leases"):
            spec = obj.get("spec")
            if spec is not None and not isinstance(spec, dict):
                raise DecodeError(f"json: cannot unmarshal {_json_kind(spec)} into Go struct field Lease.spec of "
                                  f"type v1.LeaseSpec")
            _check_fields(spec or {}, LEASE_SPEC, "LeaseSpec", "spec")
        elif rt.plural == "events":
            src = obj  # still in the form of the request's group
            table = CORE_EVENT if not rt.group else {
                "reason": "string", "note": "string", "deprecatedFirstTimestamp": "time",
                "deprecatedLastTimestamp": "time", "deprecatedCount": "int32", "type": "string",
                "eventTime": "microtime", "action": "string", "reportingController": "string",
                "reportingInstance": "string"}
            _check_fields(src, table, "Event", "")
            if isinstance(src.get("series"), dict):
                _check_fields(src["series"], SERIES, "EventSeries", "series")
    except DecodeError as e:
        if op == "patch":
            raise ApiError(422, "Invalid", f' "" is invalid: patch: Invalid value: {json.dumps(json.dumps(obj))}: '
                                           f'{e}', {"causes": [{"reason": "FieldValueInvalid", "field": "patch",
                                                                "message": str(e)}]}) from None
        raise bad_request(f'{rt.kind} in version "v1" cannot be handled as a {rt.kind}: {e}') from None
    return _validate(rt, obj, op)


def _validate(rt, obj, op):
    errs = []
    if (rt.group, rt.plural) == ("coordination.k8s.io", "leases"):
        spec = obj.get("spec") or {}
        if spec.get("leaseDurationSeconds") is not None and spec["leaseDurationSeconds"] <= 0:
            errs.append(invalid("spec.leaseDurationSeconds", spec["leaseDurationSeconds"], "must be greater than 0"))
        if spec.get("leaseTransitions") is not None and spec["leaseTransitions"] < 0:
            errs.append(invalid("spec.leaseTransitions", spec["leaseTransitions"],
                                "must be greater than or equal to 0"))
    elif rt.plural == "events" and rt.group == "events.k8s.io" and op != "patch":
        ev = obj
        if not ev.get("eventTime"):
            errs.append(required("eventTime"))
        for f in ("reportingController", "reportingInstance", "action", "reason"):
            if not ev.get(f):
                errs.append(required(f))
        if ev.get("type") not in ("Normal", "Warning"):
            errs.append(not_supported("type", ev.get("type", ""), ["Normal", "Warning"]))
        if len(ev.get("note") or "") > 1024:
            errs.append(invalid("note", "", "can have at most 1024 characters"))
    return errs

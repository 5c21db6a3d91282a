"""Typed-field checks of the built-in kinds an operator writes often (Leases, Events and
EndpointSlices): what the real server's JSON decoding and validation reject."""

import ipaddress
import json
import re

from . import objects
from .errors import ApiError, FieldError, bad_request, invalid, not_supported, required

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


def check(rt, obj, op, name, old=None):
    """Raises the decoding error the real server answers; returns validation field errors.
    old is the stored object on update and patch."""
    key = (rt.group, rt.plural)
    try:
        if key == ENDPOINTSLICES:
            _decode_endpointslice(obj)
        elif key == ("coordination.k8s.io", "leases"):
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
    return _validate(rt, obj, op, old)


def _validate(rt, obj, op, old=None):
    errs = []
    if (rt.group, rt.plural) == ENDPOINTSLICES:
        errs += _validate_endpointslice(obj, old)
    elif (rt.group, rt.plural) == ("coordination.k8s.io", "leases"):
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


# --- discovery.k8s.io/v1 EndpointSlice ----------------------------------------------------------

ENDPOINTSLICES = ("discovery.k8s.io", "endpointslices")
ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
ENDPOINT_FIELDS = {"addresses", "conditions", "hostname", "targetRef", "deprecatedTopology", "nodeName", "zone",
                   "hints"}
CONDITION_FIELDS = {"ready", "serving", "terminating"}
PORT_FIELDS = {"name", "protocol", "port", "appProtocol"}
_MAX_ENDPOINTS, _MAX_ADDRESSES, _MAX_PORTS = 1000, 100, 100
_IPV4_SLOPPY = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def _expect(v, ok, struct, where, go_type):
    if v is not None and not ok(v):
        what = _json_kind(v)
        if what == "number":
            what = f"number {v}"
        raise DecodeError(f"json: cannot unmarshal {what} into Go struct field {struct}.{where} of type {go_type}")


def _is_str(v):
    return isinstance(v, str)


def _is_int32(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and v == int(v)
            and -2 ** 31 <= v < 2 ** 31)


def _decode_endpointslice(obj):
    _expect(obj.get("addressType"), _is_str, "EndpointSlice", "addressType", "v1.AddressType")
    endpoints, ports = obj.get("endpoints"), obj.get("ports")
    _expect(endpoints, lambda v: isinstance(v, list), "EndpointSlice", "endpoints", "[]v1.Endpoint")
    for ep in endpoints or []:
        _expect(ep, lambda v: isinstance(v, dict), "EndpointSlice", "endpoints", "v1.Endpoint")
        ep = ep or {}
        addresses = ep.get("addresses")
        _expect(addresses, lambda v: isinstance(v, list), "Endpoint", "endpoints.addresses", "[]string")
        for a in addresses or []:
            _expect(a, _is_str, "Endpoint", "endpoints.addresses", "string")
        conditions = ep.get("conditions")
        _expect(conditions, lambda v: isinstance(v, dict), "Endpoint", "endpoints.conditions",
                "v1.EndpointConditions")
        for f in sorted(CONDITION_FIELDS):
            _expect((conditions or {}).get(f), lambda v: isinstance(v, bool), "EndpointConditions",
                    f"endpoints.conditions.{f}", "bool")
        for f in ("hostname", "nodeName", "zone"):
            _expect(ep.get(f), _is_str, "Endpoint", f"endpoints.{f}", "string")
        _expect(ep.get("targetRef"), lambda v: isinstance(v, dict), "Endpoint", "endpoints.targetRef",
                "v1.ObjectReference")
        _expect(ep.get("hints"), lambda v: isinstance(v, dict), "Endpoint", "endpoints.hints", "v1.EndpointHints")
    _expect(ports, lambda v: isinstance(v, list), "EndpointSlice", "ports", "[]v1.EndpointPort")
    for p in ports or []:
        _expect(p, lambda v: isinstance(v, dict), "EndpointSlice", "ports", "v1.EndpointPort")
        p = p or {}
        _expect(p.get("name"), _is_str, "EndpointPort", "ports.name", "string")
        _expect(p.get("protocol"), _is_str, "EndpointPort", "ports.protocol", "v1.Protocol")
        _expect(p.get("port"), _is_int32, "EndpointPort", "ports.port", "int32")
        _expect(p.get("appProtocol"), _is_str, "EndpointPort", "ports.appProtocol", "string")


def _dns1123_label(field, value):
    errs = []
    if len(value) > 63:
        errs.append(invalid(field, value, "must be no more than 63 characters"))
    if not objects.DNS1123_LABEL.match(value):
        errs.append(invalid(field, value, objects.LABEL_MSG))
    return errs


def _parse_ip(text):
    """net.ParseIP as k8s.io/utils/net.ParseIPSloppy: IPv4 parts may have leading zeros."""
    if _IPV4_SLOPPY.match(text):
        parts = [int(x) for x in text.split(".")]
        return ipaddress.IPv4Address(bytes(parts)) if all(x <= 255 for x in parts) else None
    if "%" in text or ":" not in text:
        return None
    try:
        ip = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return ip.ipv4_mapped or ip


def _non_special_ip(field, text, ip):
    """ValidateNonSpecialIP of k8s.io/kubernetes/pkg/apis/core/validation."""
    errs = []
    if ip.is_unspecified:
        errs.append(invalid(field, text, f"may not be unspecified ({text})"))
    if ip.is_loopback:
        errs.append(invalid(field, text, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local:
        errs.append(invalid(field, text, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    packed = ip.packed
    if (ip.version == 4 and packed[:3] == bytes([224, 0, 0])) or \
            (ip.version == 6 and packed[0] == 0xFF and packed[1] & 0x0F == 0x02):
        errs.append(invalid(field, text, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


def _address_errors(field, text, address_type):
    if address_type in ("IPv4", "IPv6"):
        ip = _parse_ip(text)
        if ip is None or ip.version != int(address_type[-1]):
            return [invalid(field, text, f"must be a valid {address_type} address")]
        return _non_special_ip(field, text, ip)
    if address_type == "FQDN":
        if not text:
            return [required(field)]
        name = text[:-1] if text.endswith(".") else text
        if len(name) > 253:
            return [invalid(field, name, "must be no more than 253 characters")]
        if not objects.DNS1123_SUBDOMAIN.match(name):
            return [invalid(field, name, objects.SUBDOMAIN_MSG)]
        if len(name.split(".")) < 2:
            return [invalid(field, name, "should be a domain with at least two segments separated by dots")]
        return [e for label in name.split(".") for e in _dns1123_label(field, label)]
    return []


def _validate_endpointslice(obj, old):
    errs = []
    address_type = obj.get("addressType") or ""
    if not address_type:
        errs.append(required("addressType"))
    elif address_type not in ADDRESS_TYPES:
        errs.append(not_supported("addressType", address_type, ADDRESS_TYPES))
    endpoints = obj.get("endpoints") or []
    if len(endpoints) > _MAX_ENDPOINTS:
        errs.append(FieldError("FieldValueTooMany", "endpoints", len(endpoints),
                               f"must have at most {_MAX_ENDPOINTS} items"))
        endpoints = []
    for i, ep in enumerate(endpoints):
        ep = ep or {}
        path = f"endpoints[{i}].addresses"
        addresses = ep.get("addresses") or []
        if not addresses:
            errs.append(required(path, "must contain at least 1 address"))
        elif len(addresses) > _MAX_ADDRESSES:
            errs.append(FieldError("FieldValueTooMany", path, len(addresses),
                                   f"must have at most {_MAX_ADDRESSES} items"))
        for j, a in enumerate(addresses):
            errs += _address_errors(f"{path}[{j}]", a or "", address_type)
        if ep.get("hostname") is not None:
            errs += _dns1123_label(f"endpoints[{i}].hostname", ep["hostname"])
    ports = obj.get("ports") or []
    if len(ports) > _MAX_PORTS:
        errs.append(FieldError("FieldValueTooMany", "ports", len(ports), f"must have at most {_MAX_PORTS} items"))
        ports = []
    names = set()
    for i, p in enumerate(ports):
        p = p or {}
        name = p.get("name") or ""
        if name:
            errs += _dns1123_label(f"ports[{i}].name", name)
        if name in names:
            errs.append(FieldError("FieldValueDuplicate", f"ports[{i}].name", name))
        names.add(name)
        protocol = p.get("protocol")
        if protocol is not None and protocol not in PROTOCOLS:
            errs.append(not_supported(f"ports[{i}].protocol", protocol, PROTOCOLS))
        if p.get("appProtocol") is not None:
            errs += objects.qualified_name_errors(f"ports[{i}].appProtocol", p["appProtocol"])
    if old is not None and obj.get("addressType") != old.get("addressType"):
        errs.append(invalid("addressType", obj.get("addressType") or "", "field is immutable"))
    return errs


def _drop_unknown(obj, known, path, unknown):
    for k in [k for k in obj if k not in known]:
        unknown.append(f"{path}.{k}")
        del obj[k]


def prune(rt, obj):
    """Removes the fields a built-in kind's nested objects do not declare (for the kinds whose
    nested shapes are known here); returns their paths for field validation."""
    unknown = []
    if (rt.group, rt.plural) != ENDPOINTSLICES:
        return unknown
    endpoints, ports = obj.get("endpoints"), obj.get("ports")
    for i, ep in enumerate(endpoints if isinstance(endpoints, list) else []):
        if isinstance(ep, dict):
            _drop_unknown(ep, ENDPOINT_FIELDS, f"endpoints[{i}]", unknown)
            if isinstance(ep.get("conditions"), dict):
                _drop_unknown(ep["conditions"], CONDITION_FIELDS, f"endpoints[{i}].conditions", unknown)
    for i, p in enumerate(ports if isinstance(ports, list) else []):
        if isinstance(p, dict):
            _drop_unknown(p, PORT_FIELDS, f"ports[{i}]", unknown)
    return unknown

"""Discovery documents (aggregated v2/v2beta1 and legacy) and OpenAPI v3 documents derived
from the registry."""

import copy
import hashlib
import json

from .registry import ALL_VERBS, STATUS_VERBS, version_priority

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGG_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def _verbs(rt):
    return list(ALL_VERBS)


def _agg_resource(rt, version):
    res = {"resource": rt.plural,
           "responseKind": {"group": rt.group, "version": version, "kind": rt.kind},
           "scope": "Namespaced" if rt.namespaced else "Cluster",
           "singularResource": rt.singular, "verbs": _verbs(rt)}
    if rt.short_names:
        res["shortNames"] = rt.short_names
    if rt.categories:
        res["categories"] = rt.categories
    if rt.has_status(version):
        res["subresources"] = [{"subresource": "status",
                                "responseKind": {"group": rt.group, "version": version, "kind": rt.kind},
                                "verbs": STATUS_VERBS}]
    return res


def aggregated(registry, legacy, version="v2"):
    """APIGroupDiscoveryList for /api (legacy=True) or /apis."""
    items = []
    groups = registry.groups()
    names = [""] if legacy else sorted((g for g in groups if g), key=_group_order)
    for g in names:
        if g not in groups:
            continue
        versions = []
        for v in registry.group_versions(g):
            resources = [_agg_resource(t, v) for t in sorted(groups[g], key=lambda t: t.plural)
                         if v in t.versions and t.versions[v].served]
            versions.append({"version": v, "resources": resources, "freshness": "Current"})
        items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
            "metadata": {}, "items": items}


_BUILTIN_ORDER = ["apps", "events.k8s.io", "rbac.authorization.k8s.io", "apiextensions.k8s.io",
                  "coordination.k8s.io", "discovery.k8s.io"]


def _group_order(g):
    return (0, _BUILTIN_ORDER.index(g), g) if g in _BUILTIN_ORDER else (1, 0, g)


def api_versions(server_address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group_entry(registry, g):
    vs = registry.group_versions(g)
    return {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
            "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}


def api_group_list(registry):
    groups = sorted((g for g in registry.groups() if g), key=_group_order)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group_entry(registry, g) for g in groups]}


def api_group(registry, group):
    if group not in registry.groups():
        return None
    return dict(_group_entry(registry, group), kind="APIGroup", apiVersion="v1")


def resource_list(registry, group, version):
    types = [t for t in registry.groups().get(group, []) if version in t.versions and t.versions[version].served]
    if not types:
        return None
    resources = []
    for t in sorted(types, key=lambda t: t.plural):
        r = {"name": t.plural, "singularName": t.singular, "namespaced": t.namespaced, "kind": t.kind,
             "verbs": _verbs(t)}
        if t.short_names:
            r["shortNames"] = t.short_names
        if t.categories:
            r["categories"] = t.categories
        resources.append(r)
        if t.has_status(version):
            resources.append({"name": f"{t.plural}/status", "singularName": "", "namespaced": t.namespaced,
                              "kind": t.kind, "verbs": STATUS_VERBS})
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


# --- OpenAPI v3 ---------------------------------------------------------------------------------

def _reverse_group(group):
    return ".".join(reversed(group.split("."))) if group else "io.k8s.api.core"


def schema_name(rt, version):
    return f"{_reverse_group(rt.group)}.{version}.{rt.kind}"


OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"

_QUERY = {
    "dryRun": "When present, indicates that modifications should not be persisted.",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making these changes.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the request "
                       "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn "
                       "(the default), Strict.",
    "force": "Force is going to \"force\" Apply requests.",
}


def _param(name):
    t = "boolean" if name == "force" else "string"
    return {"name": name, "in": "query", "description": _QUERY[name], "schema": {"type": t, "uniqueItems": True}}


def _op(rt, version, action, op_id, params, body_types=None, code="200"):
    gvk = {"group": rt.group, "version": version, "kind": rt.kind}
    ref = {"$ref": f"#/components/schemas/{schema_name(rt, version)}"}
    op = {"operationId": op_id, "parameters": [_param(p) for p in params],
          "responses": {code: {"description": "OK", "content": {"application/json": {"schema": ref}}},
                        "401": {"description": "Unauthorized"}},
          "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}
    if body_types:
        op["requestBody"] = {"content": {t: {"schema": ref if t != "application/json-patch+json"
                                                 else {"type": "object"}} for t in body_types},
                             "required": True}
    return op


def openapi_v3(rt_list, group, version):
    paths, schemas = {}, {
        OBJECT_META: {"type": "object", "description": "ObjectMeta is metadata that all persisted resources "
                                                      "must have.", "x-kubernetes-preserve-unknown-fields": True},
        LIST_META: {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    }
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    for rt in sorted(rt_list, key=lambda t: t.plural):
        op_base = "".join(p[:1].upper() + p[1:] for p in (group.split(".")[0] if group else "core",
                                                          version)) + ("Namespaced" if rt.namespaced else "")
        coll = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
        patch_types = ["application/json-patch+json", "application/merge-patch+json",
                       "application/apply-patch+yaml"]
        write = ["dryRun", "fieldManager", "fieldValidation"]
        paths[coll] = {"get": _op(rt, version, "list", f"list{op_base}{rt.kind}", []),
                       "post": _op(rt, version, "post", f"create{op_base}{rt.kind}", write, ["*/*"], "201")}
        paths[f"{coll}/{{name}}"] = {
            "get": _op(rt, version, "get", f"read{op_base}{rt.kind}", []),
            "put": _op(rt, version, "put", f"replace{op_base}{rt.kind}", write, ["*/*"]),
            "patch": _op(rt, version, "patch", f"patch{op_base}{rt.kind}", write + ["force"], patch_types),
            "delete": _op(rt, version, "delete", f"delete{op_base}{rt.kind}", ["dryRun"]),
        }
        if rt.has_status(version):
            paths[f"{coll}/{{name}}/status"] = {
                "get": _op(rt, version, "get", f"read{op_base}{rt.kind}Status", []),
                "put": _op(rt, version, "put", f"replace{op_base}{rt.kind}Status", write, ["*/*"]),
                "patch": _op(rt, version, "patch", f"patch{op_base}{rt.kind}Status", write + ["force"], patch_types),
            }
        gvk = [{"group": rt.group, "version": version, "kind": rt.kind}]
        if rt.builtin:
            body = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        else:
            body = copy.deepcopy(rt.versions[version].schema)
        props = body.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema of "
                                                                "this representation of an object."}
        props["kind"] = {"type": "string", "description": "Kind is a string value representing the REST "
                                                          "resource this object represents."}
        props["metadata"] = {"allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}], "default": {},
                             "description": "Standard object's metadata."}
        body["x-kubernetes-group-version-kind"] = gvk
        schemas[schema_name(rt, version)] = body
        schemas[schema_name(rt, version) + "List"] = {
            "type": "object", "required": ["items"],
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                           "items": {"type": "array", "items": {"$ref": f"#/components/schemas/"
                                                                        f"{schema_name(rt, version)}"}},
                           "metadata": {"allOf": [{"$ref": f"#/components/schemas/{LIST_META}"}], "default": {}}},
            "x-kubernetes-group-version-kind": [{"group": rt.group, "version": version, "kind": rt.list_kind}]}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": schemas}}


def openapi_index(registry):
    """{"paths": {"apis/<g>/<v>": {"serverRelativeURL": ...}}} with content hashes."""
    out = {}
    for group, types in registry.groups().items():
        for v in registry.group_versions(group):
            doc = openapi_doc(registry, group, v)
            digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()
            key = f"apis/{group}/{v}" if group else f"api/{v}"
            out[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": dict(sorted(out.items(), key=lambda kv: (kv[0] != "api/v1", kv[0])))}


def openapi_doc(registry, group, version):
    types = [t for t in registry.groups().get(group, []) if version in t.versions and t.versions[version].served]
    if not types:
        return None
    return openapi_v3(types, group, version)


__all__ = ["aggregated", "api_versions", "api_group_list", "api_group", "resource_list", "openapi_index",
           "openapi_doc", "AGG_V2", "AGG_V2BETA1", "version_priority"]

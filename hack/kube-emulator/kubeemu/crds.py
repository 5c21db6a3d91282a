"""CustomResourceDefinition handling: validation and defaulting of the CRD itself, its
status conditions, and (un)registering the resource type it defines."""

from . import patch
from .errors import invalid, not_supported, required
from .query import compile_jsonpath
from .registry import crd_type


def prepare(crd, old, registry):
    """Validates and defaults a CRD in place (it is about to be stored) and fills in the status
    the real apiextensions controllers would set. Returns field errors."""
    errs = []
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    group, plural, kind = spec.get("group", ""), names.get("plural", ""), names.get("kind", "")
    name = crd["metadata"].get("name", "")
    if not group:
        errs.append(required("spec.group"))
    elif "." not in group:
        errs.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    if not plural:
        errs.append(required("spec.names.plural"))
    if not kind:
        errs.append(required("spec.names.kind"))
    if plural and group and name != f"{plural}.{group}":
        errs.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append(not_supported("spec.scope", spec.get("scope", ""), ["Cluster", "Namespaced"])
                    if spec.get("scope") else required("spec.scope"))
    versions = spec.get("versions") or []
    if not versions:
        errs.append(required("spec.versions", "must have exactly one version marked as storage version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        errs.append(invalid("spec.versions", len(versions), "must have exactly one version marked as "
                                                           "storage version"))
    for i, v in enumerate(versions):
        if not v.get("name"):
            errs.append(required(f"spec.versions[{i}].name"))
        if not ((v.get("schema") or {}).get("openAPIV3Schema")):
            errs.append(required(f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required"))
        elif (v["schema"]["openAPIV3Schema"].get("type") or "object") != "object":
            errs.append(invalid(f"spec.versions[{i}].schema.openAPIV3Schema.type",
                                v["schema"]["openAPIV3Schema"].get("type"), "must be object at the root"))
        for j, pc in enumerate(v.get("additionalPrinterColumns") or []):
            try:
                compile_jsonpath(pc.get("jsonPath", ""))
            except ValueError:
                errs.append(invalid(f"spec.versions[{i}].additionalPrinterColumns[{j}].jsonPath",
                                    pc.get("jsonPath", ""), "must be a simple json path"))
            if pc.get("type") not in ("integer", "number", "string", "boolean", "date"):
                errs.append(not_supported(f"spec.versions[{i}].additionalPrinterColumns[{j}].type",
                                          pc.get("type", ""), ["boolean", "date", "integer", "number", "string"]))
    if errs:
        return errs
    names.setdefault("singular", kind.lower())
    names.setdefault("listKind", kind + "List")
    spec.setdefault("conversion", {"strategy": "None"})
    for v in versions:
        v.setdefault("served", True)
    stored = [v["name"] for v in versions if v.get("storage")]
    prev_stored = ((old or {}).get("status") or {}).get("storedVersions") or []
    when = crd["metadata"].get("creationTimestamp")
    crd["status"] = {
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": when,
             "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": when,
             "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
        "acceptedNames": {k: names[k] for k in ("plural", "singular", "shortNames", "kind", "listKind",
                                                "categories") if k in names},
        "storedVersions": prev_stored + [s for s in stored if s not in prev_stored],
    }
    return []


def register(registry, crd):
    rtype = crd_type(crd)
    if not rtype.group or not rtype.plural:
        return
    if rtype.group in {t.group for t in registry.types.values() if t.builtin}:
        return  # a CRD may not shadow a built-in group
    registry.add(rtype)


def unregister(registry, crd):
    spec = crd.get("spec") or {}
    existing = registry.types.get((spec.get("group", ""), (spec.get("names") or {}).get("plural", "")))
    if existing is not None and not existing.builtin:
        registry.remove(existing.group, existing.plural)


def list_keys_for(rtype, version):
    """For server-side apply: the keys of associative lists (x-kubernetes-list-type: map) of a
    custom resource's schema, or the merge keys of the built-in kinds."""
    if rtype.builtin:
        return patch.atomic_list_keys(rtype.atomic_lists) if rtype.atomic_lists else None
    root = rtype.versions[version].schema or {}

    def keys(path, field, items):
        s = root
        for p in path:
            while isinstance(s, dict) and s.get("type") == "array":
                s = s.get("items") or {}
            props = (s or {}).get("properties") or {}
            s = props.get(p) if p in props else (s or {}).get("additionalProperties")
            if not isinstance(s, dict):
                return None
        if s.get("x-kubernetes-list-type") == "map":
            return s.get("x-kubernetes-list-map-keys") or None
        return None
    return keys

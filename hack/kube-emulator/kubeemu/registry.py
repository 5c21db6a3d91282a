"""The resource types the emulator serves: a table of built-in kinds plus the types that
CustomResourceDefinitions register at run time."""

import re

from . import tables

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]


class Version:
    def __init__(self, name, served=True, storage=True, schema=None, status=False, columns=None,
                 selectable=None):
        self.name, self.served, self.storage = name, served, storage
        self.schema = schema          # openAPIV3Schema for custom resources, else None
        self.status = status          # has a /status subresource
        self.columns = columns or []  # [(name, type, format, priority, description, getter)]
        self.selectable = selectable or {}  # field selector name -> getter


class ResourceType:
    def __init__(self, group, plural, kind, versions, namespaced=True, singular=None, short_names=(),
                 categories=(), generation=False, builtin=True, top_fields=None,
                 unconditional_update=True, return_deleted=False, defaulter=None, fields=None,
                 storage=None, to_storage=None, from_storage=None, list_kind=None, atomic_lists=()):
        self.group, self.plural, self.kind = group, plural, kind
        self.versions = {v.name: v for v in versions}
        self.namespaced = namespaced
        self.singular = singular or kind.lower()
        self.short_names, self.categories = list(short_names), list(categories)
        self.list_kind = list_kind or kind + "List"
        self.generation = generation  # True: bumped by spec changes; "content": by any change outside metadata
        self.builtin = builtin
        self.top_fields = top_fields
        self.unconditional_update = unconditional_update
        self.return_deleted = return_deleted
        self.defaulter = defaulter
        self.fields = fields or {}
        self.storage = storage or (group, plural)
        self.to_storage, self.from_storage = to_storage, from_storage
        self.atomic_lists = frozenset(atomic_lists)  # top-level lists patches and apply replace whole

    def api_version(self, version):
        return f"{self.group}/{version}" if self.group else version

    def served_versions(self):
        return sorted((v for v in self.versions.values() if v.served), key=lambda v: version_priority(v.name))

    def preferred_version(self):
        served = self.served_versions()
        return served[0].name if served else None

    def storage_version(self):
        return next((v.name for v in self.versions.values() if v.storage), self.preferred_version())

    def has_status(self, version):
        v = self.versions.get(version)
        return bool(v and v.status)

    def field_getters(self, version):
        getters = {"metadata.name": lambda o: o["metadata"].get("name"),
                   "metadata.namespace": lambda o: o["metadata"].get("namespace", "")}
        getters.update(self.fields)
        v = self.versions.get(version)
        if v:
            getters.update(v.selectable)
        return getters


_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(name):
    """Sort key: GA before beta before alpha, higher numbers first, others last by name."""
    m = _VERSION_RE.match(name)
    if not m:
        return (3, 0, 0, name)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    return ({None: 0, "beta": 1, "alpha": 2}[stage], -major, -minor, name)


# --- built-in kinds ---------------------------------------------------------------------------

def _v(name="v1", status=False, columns=None):
    return Version(name, status=status, columns=columns)


_META = {"apiVersion", "kind", "metadata"}


def _event_core_from_new(o):
    """events.k8s.io/v1 Event -> the core/v1 Event it is stored as."""
    out = {k: v for k, v in o.items() if k not in _EVENT_MAP}
    for new, old in _EVENT_MAP.items():
        if new in o:
            out[old] = o[new]
    out["apiVersion"], out["kind"] = "v1", "Event"
    return out


def _event_new_from_core(o):
    back = {old: new for new, old in _EVENT_MAP.items()}
    out = {k: v for k, v in o.items() if k not in back}
    for old, new in back.items():
        if old in o:
            out[new] = o[old]
    out["apiVersion"], out["kind"] = "events.k8s.io/v1", "Event"
    return out


_EVENT_MAP = {"regarding": "involvedObject", "note": "message", "deprecatedSource": "source",
              "deprecatedFirstTimestamp": "firstTimestamp", "deprecatedLastTimestamp": "lastTimestamp",
              "deprecatedCount": "count", "reportingController": "reportingComponent"}


def _get(*path):
    def getter(o):
        for p in path:
            o = o.get(p) if isinstance(o, dict) else None
        return o
    return getter


def builtin_types():
    c = tables
    return [
        ResourceType("", "namespaces", "Namespace", [_v(status=True, columns=c.NAMESPACE)], namespaced=False,
                     short_names=["ns"], top_fields=_META | {"spec", "status"},
                     defaulter=c.default_namespace, return_deleted=True,
                     fields={"status.phase": _get("status", "phase")}),
        ResourceType("", "configmaps", "ConfigMap", [_v(columns=c.CONFIGMAP)], short_names=["cm"],
                     top_fields=_META | {"data", "binaryData", "immutable"}),
        ResourceType("", "secrets", "Secret", [_v(columns=c.SECRET)],
                     top_fields=_META | {"data", "stringData", "type", "immutable"},
                     defaulter=c.default_secret, fields={"type": _get("type")}),
        ResourceType("", "serviceaccounts", "ServiceAccount", [_v(columns=c.SERVICEACCOUNT)], short_names=["sa"],
                     top_fields=_META | {"secrets", "imagePullSecrets", "automountServiceAccountToken"}),
        ResourceType("", "services", "Service", [_v(status=True, columns=c.SERVICE)], short_names=["svc"],
                     categories=["all"], top_fields=_META | {"spec", "status"}, defaulter=c.default_service,
                     return_deleted=True),
        ResourceType("", "pods", "Pod", [_v(status=True, columns=c.POD)], short_names=["po"], categories=["all"],
                     top_fields=_META | {"spec", "status"}, return_deleted=True,
                     fields={"spec.nodeName": _get("spec", "nodeName"), "status.phase": _get("status", "phase"),
                             "spec.serviceAccountName": _get("spec", "serviceAccountName")}),
        ResourceType("", "events", "Event", [_v(columns=c.EVENT)], short_names=["ev"],
                     top_fields=_META | {"involvedObject", "reason", "message", "source", "firstTimestamp",
                                         "lastTimestamp", "count", "type", "eventTime", "series", "action",
                                         "related", "reportingComponent", "reportingInstance"},
                     fields={f"involvedObject.{f}": _get("involvedObject", f) for f in
                             ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
                     | {"reason": _get("reason"), "reportingComponent": _get("reportingComponent"),
                        "source": _get("source", "component"), "type": _get("type")}),
        ResourceType("events.k8s.io", "events", "Event", [_v(columns=c.EVENT_NEW)], short_names=["ev"],
                     top_fields=_META | {"regarding", "note", "deprecatedSource", "deprecatedFirstTimestamp",
                                         "deprecatedLastTimestamp", "deprecatedCount", "type", "eventTime",
                                         "series", "action", "related", "reportingController",
                                         "reportingInstance", "reason"},
                     storage=("", "events"), to_storage=_event_core_from_new, from_storage=_event_new_from_core,
                     fields={"reason": _get("reason"), "type": _get("type"),
                             "reportingController": _get("reportingComponent")}
                     | {f"regarding.{f}": _get("involvedObject", f) for f in ("kind", "namespace", "name", "uid")}),
        ResourceType("coordination.k8s.io", "leases", "Lease", [_v(columns=c.LEASE)],
                     top_fields=_META | {"spec"}),
        ResourceType("discovery.k8s.io", "endpointslices", "EndpointSlice", [_v(columns=c.ENDPOINTSLICE)],
                     generation="content", top_fields=_META | {"addressType", "endpoints", "ports"},
                     defaulter=c.default_endpointslice, atomic_lists=("endpoints", "ports")),
        ResourceType("apps", "deployments", "Deployment", [_v(status=True, columns=c.DEPLOYMENT)],
                     short_names=["deploy"], categories=["all"], generation=True,
                     top_fields=_META | {"spec", "status"}, defaulter=c.default_deployment),
        ResourceType("rbac.authorization.k8s.io", "roles", "Role", [_v(columns=c.CREATED_AT)],
                     top_fields=_META | {"rules"}),
        ResourceType("rbac.authorization.k8s.io", "rolebindings", "RoleBinding", [_v(columns=c.BINDING)],
                     top_fields=_META | {"subjects", "roleRef"}),
        ResourceType("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", [_v(columns=c.CREATED_AT)],
                     namespaced=False, top_fields=_META | {"rules", "aggregationRule"}),
        ResourceType("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding",
                     [_v(columns=c.BINDING)], namespaced=False, top_fields=_META | {"subjects", "roleRef"}),
        ResourceType("apiextensions.k8s.io", "customresourcedefinitions", "CustomResourceDefinition",
                     [_v(status=True, columns=c.CREATED_AT)], namespaced=False, short_names=["crd", "crds"],
                     categories=["api-extensions"], generation=True, top_fields=_META | {"spec", "status"},
                     return_deleted=True),
    ]


# --- CRD -> resource type ------------------------------------------------------------------------

def crd_type(crd):
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    versions = []
    for v in spec.get("versions", []):
        schema = (v.get("schema") or {}).get("openAPIV3Schema") or {"type": "object",
                                                                     "x-kubernetes-preserve-unknown-fields": True}
        cols = tables.crd_columns(v.get("additionalPrinterColumns"))
        selectable = {}
        for sf in v.get("selectableFields") or []:
            jp = sf.get("jsonPath", "")
            selectable[jp.lstrip(".")] = tables.jsonpath_getter(jp)
        versions.append(Version(v["name"], served=v.get("served", True), storage=v.get("storage", False),
                                schema=schema, status="status" in (v.get("subresources") or {}),
                                columns=cols, selectable=selectable))
    return ResourceType(spec.get("group", ""), names.get("plural", ""), names.get("kind", ""), versions,
                        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                        singular=names.get("singular") or names.get("kind", "").lower(),
                        short_names=names.get("shortNames") or [], categories=names.get("categories") or [],
                        list_kind=names.get("listKind"), generation=True, builtin=False,
                        unconditional_update=False, return_deleted=True)


class Registry:
    def __init__(self):
        self.types = {}  # (group, plural) -> ResourceType
        for t in builtin_types():
            self.types[(t.group, t.plural)] = t

    def add(self, rtype):
        self.types[(rtype.group, rtype.plural)] = rtype

    def remove(self, group, plural):
        self.types.pop((group, plural), None)

    def lookup(self, group, version, plural):
        t = self.types.get((group, plural))
        if t and version in t.versions and t.versions[version].served:
            return t
        return None

    def groups(self):
        """{group: [ResourceType]} of every group with at least one served version."""
        out = {}
        for t in self.types.values():
            if t.served_versions():
                out.setdefault(t.group, []).append(t)
        return out

    def group_versions(self, group):
        vs = {v.name for t in self.groups().get(group, []) for v in t.served_versions()}
        return sorted(vs, key=version_priority)

"""DELETE and DELETE-collection: preconditions, finalizers and deletionTimestamp, namespace
and CRD cascades."""

from . import crds, objects
from .errors import ApiError, conflict, not_found
from .store import DELETED, MODIFIED

_PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")


class DeleteMixin:
    """Deletion verbs of Api (expects self.store, self.registry, self.lock, self.applied)."""

    def delete(self, rt, ver, ns, name, options, params):
        with self.lock:
            ns = ns if rt.namespaced else ""
            old = self.store.get(rt.storage, ns, name)
            if old is None:
                raise not_found(rt.group, rt.plural, name)
            pre = (options or {}).get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
                raise conflict(rt.group, rt.plural, name,
                               f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: "
                               f"{old['metadata'].get('uid')}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise conflict(rt.group, rt.plural, name,
                               f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                               f"ResourceVersion in object meta: {old['metadata']['resourceVersion']}")
            if rt.plural == "namespaces" and not rt.group and name in _PROTECTED_NAMESPACES:
                raise ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not '
                                                 f'be deleted', {"name": name, "kind": "namespaces"})
            dry = bool(params.get("dryRun"))
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp") or dry:
                    return 200, objects.view(rt, ver, old)
                new = objects.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = objects.now()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                if new["metadata"].get("generation"):
                    new["metadata"]["generation"] += 1
                return 200, objects.view(rt, ver, self.store.commit(MODIFIED, rt.storage, ns, name, new))
            if dry:
                return 200, objects.view(rt, ver, old)
            if rt.plural == "namespaces" and not rt.group:
                terminating = objects.deepcopy(old)
                terminating["metadata"]["deletionTimestamp"] = objects.now()
                terminating["metadata"]["deletionGracePeriodSeconds"] = 0
                terminating["status"] = {"phase": "Terminating"}
                terminating = self.store.commit(MODIFIED, rt.storage, ns, name, terminating)
                self._delete_namespace_content(name)
                self.store.commit(DELETED, rt.storage, ns, name, terminating)
                return 200, objects.view(rt, ver, terminating)
            committed = self.store.commit(DELETED, rt.storage, ns, name, old)
            self._after_delete(rt, committed)
            if rt.return_deleted:
                return 200, objects.view(rt, ver, committed)
            details = {"name": name, "kind": rt.plural, "uid": old["metadata"].get("uid")}
            if rt.group:
                details["group"] = rt.group
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                         "details": details}

    def delete_collection(self, rt, ver, ns, options, params):
        items, _ = self.list(rt, ver, ns, params)
        out = []
        for item in items:
            try:
                out.append(self.delete(rt, ver, item["metadata"].get("namespace", ""),
                                       item["metadata"]["name"], options, params)[1])
            except ApiError as e:
                if e.code != 404:
                    raise
        return 200, {"apiVersion": rt.api_version(ver), "kind": rt.list_kind,
                     "metadata": {"resourceVersion": str(self.store.rv)}, "items": out}

    def _after_delete(self, rt, committed):
        key = (rt.storage, committed["metadata"].get("namespace", ""), committed["metadata"]["name"])
        for k in [k for k in self.applied if k[:3] == key]:
            del self.applied[k]
        if rt.group == "apiextensions.k8s.io" and rt.plural == "customresourcedefinitions":
            spec = committed.get("spec") or {}
            storage = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
            for (ons, oname), obj in self.store.items(storage):
                self.store.commit(DELETED, storage, ons, oname, obj)
            crds.unregister(self.registry, committed)

    def _delete_namespace_content(self, ns):
        for storage in list(self.store.objects):
            for (ons, oname), obj in self.store.items(storage, ns):
                if ons == ns:
                    self.store.commit(DELETED, storage, ons, oname, obj)

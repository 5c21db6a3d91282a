#!/usr/bin/python3
"""Checks the chart's RBAC against the API requests the controller really made.

    check-rbac.py --rendered RENDERED.yaml --log REQUESTS.log [--user-agent heartbeat-operator/]
                  [--service-account NAMESPACE/NAME] [--fail-on-unused]

RENDERED.yaml is `helm template` output; REQUESTS.log the kube emulator's request log (one
JSON object a line with verb, apiGroup, resource, subresource, namespace, name, query,
userAgent, code). Only requests whose User-Agent starts with --user-agent are checked.

The controller's ServiceAccount is the rendered Deployment's (or --service-account). Its
permissions are the rules of every ClusterRole bound by a ClusterRoleBinding (everywhere) and
of every Role or ClusterRole bound by a RoleBinding (in that binding's namespace only), with
Kubernetes' RBAC matching: apiGroups, resources ("plural" or "plural/subresource"), verbs,
"*" wildcards, and resourceNames (which never allow create or deletecollection, and allow
list and watch only when they select one object with fieldSelector metadata.name=NAME).

Exit status 1 when a request is not allowed (or no request of the controller is in the log);
rules and verbs no request used are listed as warnings (exit 0 unless --fail-on-unused).
"""
import argparse
import collections
import json
import sys
from urllib.parse import parse_qs

import yaml


def load_objects(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if isinstance(d, dict) and d.get("kind")]


def find_service_account(objects):
    for o in objects:
        if o["kind"] == "Deployment":
            spec = o["spec"]["template"]["spec"]
            return o["metadata"].get("namespace", "default"), spec.get("serviceAccountName", "default")
    sys.exit("check-rbac: no Deployment in the rendered chart; pass --service-account")


class Grant:
    """One rule of one role, effective in one scope (a namespace, or "" for cluster-wide)."""

    def __init__(self, source, scope, index, rule):
        self.source, self.scope, self.index = source, scope, index
        self.groups = set(rule.get("apiGroups") or [])
        self.resources = set(rule.get("resources") or [])
        self.verbs = set(rule.get("verbs") or [])
        self.names = set(rule.get("resourceNames") or [])
        self.used_verbs = set()

    def describe(self):
        where = "cluster-wide" if self.scope == "" else f"in namespace {self.scope}"
        names = f" resourceNames={sorted(self.names)}" if self.names else ""
        groups = ",".join(sorted(g if g else '""' for g in self.groups))
        return (f"{self.source} rule {self.index} ({where}): apiGroups={groups} "
                f"resources={sorted(self.resources)}{names} verbs={sorted(self.verbs)}")

    def allows(self, req):
        if self.scope and self.scope != req["namespace"]:
            return False
        if "*" not in self.groups and req["apiGroup"] not in self.groups:
            return False
        resource = req["resource"] + ("/" + req["subresource"] if req["subresource"] else "")
        if not ({"*", resource} & self.resources) and not (
                req["subresource"] and f"*/{req['subresource']}" in self.resources):
            return False
        if "*" not in self.verbs and req["verb"] not in self.verbs:
            return False
        if self.names:
            if req["verb"] in ("create", "deletecollection"):
                return False
            if req["object_name"] not in self.names:
                return False
        return True


def grants_for(objects, sa_ns, sa_name):
    roles = {}
    for o in objects:
        if o["kind"] in ("Role", "ClusterRole"):
            ns = o["metadata"].get("namespace", "") if o["kind"] == "Role" else ""
            roles[(o["kind"], ns, o["metadata"]["name"])] = o
    grants, problems = [], []

    def bound(binding):
        for s in binding.get("subjects") or []:
            if s.get("kind") == "ServiceAccount" and s.get("name") == sa_name and s.get("namespace", "") == sa_ns:
                return True
        return False

    for b in objects:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding") or not bound(b):
            continue
        ref = b["roleRef"]
        bns = b["metadata"].get("namespace", "default") if b["kind"] == "RoleBinding" else ""
        if ref["kind"] == "ClusterRole":
            role = roles.get(("ClusterRole", "", ref["name"]))
        else:
            role = roles.get(("Role", bns, ref["name"]))
        if role is None:
            problems.append(f"{b['kind']} {bns + '/' if bns else ''}{b['metadata']['name']} refers to "
                            f"{ref['kind']} {ref['name']}, which the chart does not render there")
            continue
        source = f"{role['kind']} {bns + '/' if role['kind'] == 'Role' else ''}{role['metadata']['name']}"
        if b["kind"] == "RoleBinding" and role["kind"] == "ClusterRole":
            source += f" (via RoleBinding {bns}/{b['metadata']['name']})"
        for i, rule in enumerate(role.get("rules") or []):
            if rule.get("nonResourceURLs"):
                continue
            grants.append(Grant(source, bns, i + 1, rule))
    return grants, problems


def load_requests(path, agent):
    requests, others = [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not entry.get("verb"):
                continue  # discovery, OpenAPI, /version, health checks: no RBAC verb
            if not entry.get("userAgent", "").startswith(agent):
                others += 1
                continue
            query = parse_qs(entry.get("query", ""))
            object_name = entry.get("name", "")
            if entry["verb"] in ("list", "watch") and not object_name:
                # The API server authorizes a list or watch that selects one object by
                # metadata.name against resourceNames.
                for selector in query.get("fieldSelector", []):
                    for term in selector.split(","):
                        field, op, value = term.strip().partition("=")
                        if field == "metadata.name" and op:
                            object_name = value.lstrip("=")
            requests.append({
                "verb": entry["verb"], "apiGroup": entry.get("apiGroup", ""),
                "resource": entry.get("resource", ""), "subresource": entry.get("subresource", ""),
                "namespace": entry.get("namespace", ""), "name": entry.get("name", ""),
                "object_name": object_name, "code": entry.get("code"),
            })
    return requests, others


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rendered", required=True, help="helm template output")
    ap.add_argument("--log", required=True, help="kube emulator request log (JSON lines)")
    ap.add_argument("--user-agent", default="heartbeat-operator/", help="User-Agent prefix of the controller")
    ap.add_argument("--service-account", help="NAMESPACE/NAME (default: the rendered Deployment's)")
    ap.add_argument("--fail-on-unused", action="store_true", help="unused rules or verbs are errors")
    args = ap.parse_args()

    objects = load_objects(args.rendered)
    if args.service_account:
        sa_ns, sa_name = args.service_account.split("/", 1)
    else:
        sa_ns, sa_name = find_service_account(objects)
    grants, problems = grants_for(objects, sa_ns, sa_name)
    requests, others = load_requests(args.log, args.user_agent)

    print(f"check-rbac: ServiceAccount {sa_ns}/{sa_name}: {len(grants)} rules; "
          f"{len(requests)} requests by {args.user_agent}* ({others} by other clients ignored)")
    for p in problems:
        print(f"ERROR: {p}")
    if not requests:
        print(f"ERROR: the log holds no request by {args.user_agent}*: nothing was checked")
        return 1

    summary = collections.Counter()
    denied = collections.Counter()
    for req in requests:
        resource = req["resource"] + ("/" + req["subresource"] if req["subresource"] else "")
        if req["namespace"]:
            where = req["namespace"]
        else:
            where = "(all namespaces)" if req["verb"] in ("list", "watch") else "(cluster)"
        selected = req["object_name"] if req["verb"] in ("list", "watch") else ""
        key = (req["verb"], req["apiGroup"] or '""', resource, where, selected)
        summary[key] += 1
        matched = [g for g in grants if g.allows(req)]
        for g in matched:
            g.used_verbs.add(req["verb"])
        if not matched:
            denied[key] += 1

    print("requests (verb, apiGroup, resource, namespace, selected name: count):")
    for key, n in sorted(summary.items()):
        mark = "DENIED" if key in denied else "ok"
        name = f" name={key[4]}" if key[4] else ""
        print(f"  {mark:6} {key[0]:7} {key[1]:22} {key[2]:26} {key[3]}{name}: {n}")

    unused = 0
    for g in grants:
        verbs = g.verbs - g.used_verbs
        if "*" in g.verbs:
            verbs = {"*"} if not g.used_verbs else set()
        if not g.used_verbs:
            print(f"WARNING: never used: {g.describe()}")
            unused += 1
        elif verbs:
            print(f"WARNING: verbs never used ({', '.join(sorted(verbs))}): {g.describe()}")
            unused += 1

    for key, n in sorted(denied.items()):
        name = f" (name {key[4]})" if key[4] else ""
        print(f"ERROR: not allowed by the chart's RBAC: {key[0]} {key[1]} {key[2]} in {key[3]}{name} ({n}x)")
    if denied or problems:
        print(f"check-rbac: FAILED: {sum(denied.values())} request(s) the chart's RBAC does not allow")
        return 1
    if unused and args.fail_on_unused:
        print(f"check-rbac: FAILED: {unused} rule(s) with unused verbs (--fail-on-unused)")
        return 1
    print(f"check-rbac: every request is allowed; {unused} rule(s) with unused verbs (warnings above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

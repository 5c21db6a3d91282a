#!/usr/bin/python3
"""Helpers of hack/prometheus/test-prometheus.sh (standard library and PyYAML only).

  promtest.py extract-rules RENDERED.yaml OUT.yaml   the PrometheusRule's spec as a plain rules file
  promtest.py lint-dashboard DASHBOARD.json          structure of a Grafana dashboard
  promtest.py value URL EXPR                         an instant query's one value ("empty": no series)
  promtest.py labels URL EXPR                        the label sets of an instant query's series
  promtest.py targets URL                            "JOB HEALTH" of every active target
  promtest.py alerts URL                             "ALERTNAME STATE LABELS" of every alert
  promtest.py rules-health URL                       every loaded rule evaluated without error
  promtest.py dashboard-queries URL DASHBOARD.json   every panel query returns data

URL is the Prometheus base URL (http://127.0.0.1:PORT). Exit status 1 on a failed check, with
the reason on stderr.
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import yaml

# What the dashboard's variables become for the test: every job, namespace and replica, and a
# rate window that holds several samples of a 1 s scrape.
DASHBOARD_VARIABLES = {"$job": ".+", "$namespace": ".*", "$instance": ".+", "$__rate_interval": "10s"}


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def api(url, path, **params):
    query = urllib.parse.urlencode(params)
    full = f"{url}/api/v1/{path}" + (f"?{query}" if query else "")
    try:
        with urllib.request.urlopen(full, timeout=5) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        try:
            body = json.load(e)
        except ValueError:
            fail(f"{full}: HTTP {e.code}")
    except (urllib.error.URLError, OSError, ValueError) as e:
        fail(f"{full}: {e}")
    if body.get("status") != "success":
        fail(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
    return body["data"]


def instant(url, expr):
    data = api(url, "query", query=expr)
    if data["resultType"] == "scalar":
        return [({}, data["result"][1])]
    return [(s["metric"], s["value"][1]) for s in data["result"]]


def extract_rules(rendered, out):
    docs = [d for d in yaml.safe_load_all(open(rendered)) if isinstance(d, dict)]
    rules = [d for d in docs if d.get("kind") == "PrometheusRule"]
    if len(rules) != 1:
        fail(f"{rendered}: expected one PrometheusRule, found {len(rules)}")
    spec = rules[0]["spec"]
    if rules[0].get("apiVersion") != "monitoring.coreos.com/v1" or not spec.get("groups"):
        fail(f"{rendered}: not a monitoring.coreos.com/v1 PrometheusRule with groups")
    with open(out, "w") as f:
        yaml.safe_dump({"groups": spec["groups"]}, f, sort_keys=False, width=100000)
    print(sum(len(g["rules"]) for g in spec["groups"]))


def lint_dashboard(path):
    d = json.load(open(path))
    problems = []
    for key in ("uid", "title", "panels", "templating", "schemaVersion"):
        if key not in d:
            problems.append(f"no {key}")
    variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
    if variables.get("datasource", {}).get("type") != "datasource" or \
            variables["datasource"].get("query") != "prometheus":
        problems.append("no Prometheus data source variable named datasource")
    ids = set()
    for p in d.get("panels", []):
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in ("x", "y", "w", "h")) or g["x"] + g["w"] > 24:
            problems.append(f"{where}: gridPos {g} is not within the 24 columns")
        if p.get("type") == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"{where}: data source is not ${{datasource}}")
        targets = p.get("targets", [])
        if not targets:
            problems.append(f"{where}: no query")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or None in refs:
            problems.append(f"{where}: refIds {refs} are not unique")
        for t in targets:
            if not t.get("expr") or t.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"{where} {t.get('refId')}: no expr, or not on ${{datasource}}")
    if problems:
        fail("\n".join(f"{path}: {p}" for p in problems))
    print(f"{len(ids)} panels, {len(variables)} variables")


def dashboard_queries(url, path):
    d = json.load(open(path))
    problems, count = [], 0
    for p in d.get("panels", []):
        for t in p.get("targets", []):
            expr = t["expr"]
            for var, value in DASHBOARD_VARIABLES.items():
                expr = expr.replace(var, value)
            if "$" in expr.replace("$1", ""):
                problems.append(f"panel {p['id']} {p['title']!r} {t['refId']}: a variable is left in {expr}")
                continue
            data = api(url, "query", query=expr)
            count += 1
            if not data["result"]:
                problems.append(f"panel {p['id']} {p['title']!r} {t['refId']}: no data for {expr}")
    if problems:
        fail("\n".join(problems))
    print(f"{count} queries returned data")


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "extract-rules" and len(args) == 2:
        extract_rules(*args)
    elif cmd == "lint-dashboard" and len(args) == 1:
        lint_dashboard(*args)
    elif cmd == "value" and len(args) == 2:
        result = instant(*args)
        if not result:
            print("empty")
        elif len(result) > 1:
            fail(f"{args[1]}: {len(result)} series: {result}")
        else:
            print(result[0][1])
    elif cmd == "labels" and len(args) == 2:
        for metric, _ in instant(*args):
            print(",".join(f"{k}={v}" for k, v in sorted(metric.items()) if k != "__name__"))
    elif cmd == "targets" and len(args) == 1:
        for t in api(args[0], "targets")["activeTargets"]:
            print(t["labels"].get("job"), t["health"], t.get("lastError", ""))
    elif cmd == "alerts" and len(args) == 1:
        for a in api(args[0], "alerts")["alerts"]:
            labels = {k: v for k, v in a["labels"].items() if k != "alertname"}
            print(a["labels"]["alertname"], a["state"], ",".join(f"{k}={v}" for k, v in sorted(labels.items())))
    elif cmd == "rules-health" and len(args) == 1:
        rules = [r for g in api(args[0], "rules")["groups"] for r in g["rules"]]
        bad = [f"{r['name']}: {r.get('health')} {r.get('lastError', '')}" for r in rules if r.get("health") != "ok"]
        if not rules or bad:
            fail("rules not evaluated cleanly: " + ("; ".join(bad) or "none loaded"))
        print(len(rules))
    elif cmd == "dashboard-queries" and len(args) == 2:
        dashboard_queries(*args)
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)

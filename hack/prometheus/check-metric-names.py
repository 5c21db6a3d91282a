#!/usr/bin/python3
"""Checks that every series the alerting rules and the Grafana dashboard query exists.

Each PromQL expression (a rules file's `expr`, a dashboard panel's `targets[].expr`, a template
variable's `label_values(...)` query) is taken apart into its vector selectors; each selector's
metric name must be one the real binary exposed in a scrape (--scrape, the text of /metrics), or
be listed in the allowlist; each label it matches on must be a label of that metric (or a target
label Prometheus adds), and each literal label value must be one the scrape showed or the
allowlist lists. The allowlist is itself checked against the source: a `metric` must be exported
by src/metrics/*.cc, a `values` entry's values must be string literals of the file it names, a
`prometheus` name must be one Prometheus makes itself.

  check-metric-names.py --scrape METRICS.txt [--scrape ...] --allowlist FILE \\
      [--rules RULES.yaml ...] [--dashboard DASHBOARD.json ...] [--root REPO]

Exit status 0 when everything is known, 1 with one line per problem otherwise, 2 on bad input.
"""

import argparse
import glob
import json
import os
import re
import sys

import yaml

# Labels Prometheus attaches to every series of a target: a plain scrape (job, instance) and a
# ServiceMonitor's (namespace, pod, service, endpoint, container).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "endpoint", "container"}
# Series Prometheus makes itself, with their own labels.
PROMETHEUS_SERIES = {
    "up": set(),
    "scrape_duration_seconds": set(),
    "scrape_samples_scraped": set(),
    "scrape_samples_post_metric_relabeling": set(),
    "scrape_series_added": set(),
    "ALERTS": {"alertname", "alertstate", "severity"},
    "ALERTS_FOR_STATE": {"alertname", "severity"},
}
AGGREGATORS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
               "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?[a-zA-Z0-9_]*")
SIMPLE_ALTERNATION = re.compile(r"^[A-Za-z0-9_.:/-]+(\|[A-Za-z0-9_.:/-]+)*$")


class ParseError(Exception):
    pass


def read_string(expr, i):
    """The PromQL string literal starting at expr[i]; returns (value, index after it)."""
    quote = expr[i]
    j = i + 1
    out = []
    while j < len(expr):
        c = expr[j]
        if c == "\\" and quote != "`" and j + 1 < len(expr):
            out.append(expr[j + 1])
            j += 2
            continue
        if c == quote:
            return "".join(out), j + 1
        out.append(c)
        j += 1
    raise ParseError(f"unterminated string at {i}: {expr[i:i + 40]!r}")


def skip_ws(expr, i):
    while i < len(expr) and expr[i].isspace():
        i += 1
    return i


def skip_balanced(expr, i, open_, close):
    """expr[i] is open_; returns the index after the matching close."""
    depth = 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            _, i = read_string(expr, i)
            continue
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ParseError(f"unbalanced {open_!r} in {expr!r}")


def read_matchers(expr, i):
    """expr[i] is '{'; returns ([(label, op, value)], index after '}')."""
    matchers = []
    i += 1
    while True:
        i = skip_ws(expr, i)
        if i < len(expr) and expr[i] == ",":
            i += 1
            continue
        if i < len(expr) and expr[i] == "}":
            return matchers, i + 1
        m = LABEL.match(expr, i)
        if not m:
            raise ParseError(f"bad label matcher at {i}: {expr[i:i + 40]!r}")
        label = m.group(0)
        i = skip_ws(expr, m.end())
        op = next((o for o in ("=~", "!~", "!=", "=") if expr.startswith(o, i)), None)
        if op is None:
            raise ParseError(f"bad matcher operator at {i}: {expr[i:i + 40]!r}")
        i = skip_ws(expr, i + len(op))
        if i >= len(expr) or expr[i] not in "\"'`":
            raise ParseError(f"matcher value is not a string at {i}: {expr[i:i + 40]!r}")
        value, i = read_string(expr, i)
        matchers.append((label, op, value))


def selectors(expr):
    """Every vector selector of a PromQL expression: [(metric name or None, matchers)]."""
    out = []
    i = 0
    n = len(expr)
    while i < n:
        c = expr[i]
        if c in "\"'`":
            _, i = read_string(expr, i)
        elif c == "[":
            i = skip_balanced(expr, i, "[", "]")
        elif c == "#":
            while i < n and expr[i] != "\n":
                i += 1
        elif c == "$":  # a dashboard variable: $name or ${name}
            if expr.startswith("${", i):
                i = expr.index("}", i) + 1
            else:
                m = re.compile(r"\$\w+").match(expr, i)
                i = m.end() if m else i + 1
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            i = NUMBER.match(expr, i).end()
        elif c == "{":
            matchers, i = read_matchers(expr, i)
            out.append((None, matchers))
        elif IDENT.match(expr, i):
            m = IDENT.match(expr, i)
            word = m.group(0)
            j = skip_ws(expr, m.end())
            nxt = expr[j] if j < n else ""
            if word.lower() in LABEL_LIST_KEYWORDS:
                i = skip_balanced(expr, j, "(", ")") if nxt == "(" else j
            elif word.lower() in KEYWORDS or word in AGGREGATORS or nxt == "(":
                i = m.end()  # a function, an aggregation or an operator: its arguments follow
            else:
                matchers = []
                i = m.end()
                if nxt == "{":
                    matchers, i = read_matchers(expr, j)
                out.append((word, matchers))
        else:
            i += 1
    return out


def parse_scrape(path):
    """Sample names of a Prometheus text exposition, with their labels and label values."""
    series = {}
    sample = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+")
    pair = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = sample.match(line)
            if not m:
                raise ParseError(f"{path}: not a sample line: {line[:80]!r}")
            labels = series.setdefault(m.group(1), {})
            for name, value in pair.findall(m.group(3) or ""):
                labels.setdefault(name, set()).add(value)
    return series


def exported_by_source(root):
    """{exposed sample name: set of label literals of its file} from src/metrics/*.cc."""
    names = {}
    files = sorted(glob.glob(os.path.join(root, "src", "metrics", "*.cc")))
    if not files:
        raise ParseError(f"no src/metrics/*.cc under {root}")
    call = re.compile(r'\b(Counter|Gauge|Histogram|Summary|Family)\(\s*out,\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"')
    for path in files:
        text = open(path).read()
        literals = set(re.findall(r'"([a-zA-Z_][a-zA-Z0-9_]*)"', text))
        for m in call.finditer(text):
            kind, name = m.groups()
            if kind == "Family":
                t = re.compile(r"MetricType::(\w+)").search(text, m.end())
                kind = t.group(1) if t else "Untyped"
            if kind == "Histogram":
                exposed = [name + "_bucket", name + "_sum", name + "_count"]
            elif kind == "Summary":
                exposed = [name, name + "_sum", name + "_count"]
            else:
                exposed = [name]
            for e in exposed:
                names[e] = literals
    return names


def load_allowlist(path, root, problems):
    """The allowlist, checked against the source: (metrics {name: labels}, prometheus names,
    values {(metric, label): set})."""
    source = exported_by_source(root)
    metrics, prom, values = {}, set(), {}
    for number, raw in enumerate(open(path), 1):
        line = raw.split("#", 1)[0].split()
        if not line:
            continue
        where = f"{path}:{number}"
        kind, args = line[0], line[1:]
        if kind == "metric" and args:
            name, labels = args[0], set(args[1:])
            if name not in source:
                problems.append(f"{where}: allowlisted metric {name} is not exported by src/metrics/*.cc")
                continue
            for label in sorted(labels - source[name]):
                problems.append(f"{where}: label {label} of {name} is not a string literal in src/metrics")
            metrics[name] = labels
        elif kind == "prometheus" and len(args) == 1:
            if args[0] not in PROMETHEUS_SERIES:
                problems.append(f"{where}: {args[0]} is not a series Prometheus makes itself "
                                f"(one of {', '.join(sorted(PROMETHEUS_SERIES))})")
                continue
            prom.add(args[0])
        elif kind == "values" and len(args) >= 4:
            metric, label, file_, vals = args[0], args[1], args[2], args[3:]
            try:
                text = open(os.path.join(root, file_)).read()
            except OSError as e:
                problems.append(f"{where}: cannot read {file_}: {e.strerror}")
                continue
            for v in vals:
                if f'"{v}"' not in text:
                    problems.append(f'{where}: value {v} of {metric}{{{label}}} is not a string literal "{v}" in {file_}')
            values.setdefault((metric, label), set()).update(vals)
        else:
            problems.append(f"{where}: expected 'metric NAME [LABEL...]', 'prometheus NAME' or "
                            f"'values METRIC LABEL FILE VALUE...': {raw.strip()!r}")
    return metrics, prom, values


def rule_expressions(path):
    doc = yaml.safe_load(open(path))
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            yield f"{path}: {group['name']}/{name}", rule["expr"]


def dashboard_expressions(path):
    doc = json.load(open(path))

    def panels(items):
        for p in items:
            yield p
            yield from panels(p.get("panels", []))

    for p in panels(doc.get("panels", [])):
        for t in p.get("targets", []):
            if "expr" in t:
                yield f"{path}: panel {p.get('id')} {p.get('title')!r} {t.get('refId')}", t["expr"]
    for v in doc.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        query = v.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        m = re.match(r"^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$", query, re.S)
        where = f"{path}: variable {v.get('name')}"
        if m:
            # label_values(SELECTOR, LABEL): LABEL must be on SELECTOR's metric.
            yield where, m.group(1)
            for name, _ in selectors(m.group(1)):
                yield where, f'{name}{{{m.group(2)}=""}}' if name else m.group(1)
        elif query.strip():
            yield where, query


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scrape", action="append", required=True, help="/metrics text of the real binary")
    p.add_argument("--allowlist", required=True)
    p.add_argument("--rules", action="append", default=[], help="a Prometheus rules file (groups)")
    p.add_argument("--dashboard", action="append", default=[], help="a Grafana dashboard JSON file")
    p.add_argument("--root", default=os.path.realpath(os.path.join(os.path.dirname(__file__), "..", "..")))
    args = p.parse_args(argv)

    problems = []
    try:
        scraped = {}
        for path in args.scrape:
            for name, labels in parse_scrape(path).items():
                for label, vals in labels.items():
                    scraped.setdefault(name, {}).setdefault(label, set()).update(vals)
                scraped.setdefault(name, {})
        if not scraped:
            raise ParseError("the scrape has no samples")
        allowed_metrics, allowed_prom, allowed_values = load_allowlist(args.allowlist, args.root, problems)
        exprs = [e for path in args.rules for e in rule_expressions(path)]
        exprs += [e for path in args.dashboard for e in dashboard_expressions(path)]
    except (OSError, ParseError, ValueError, KeyError, yaml.YAMLError) as e:
        print(f"check-metric-names: {e}", file=sys.stderr)
        return 2
    if not exprs:
        print("check-metric-names: no expression to check", file=sys.stderr)
        return 2

    used = set()
    for where, expr in exprs:
        try:
            found = selectors(expr)
        except ParseError as e:
            problems.append(f"{where}: cannot parse: {e}")
            continue
        if not found:
            problems.append(f"{where}: no series selector in {expr!r}")
        for name, matchers in found:
            if name is None:
                name = next((v for label, op, v in matchers if label == "__name__" and op == "="), None)
                if name is None:
                    problems.append(f"{where}: a selector without a metric name: {expr!r}")
                    continue
            used.add(name)
            if name in scraped:
                labels = set(scraped[name]) | TARGET_LABELS | {"exported_" + l for l in scraped[name]}
            elif name in allowed_metrics:
                labels = allowed_metrics[name] | TARGET_LABELS
            elif name in allowed_prom:
                labels = PROMETHEUS_SERIES[name] | TARGET_LABELS
            else:
                problems.append(f"{where}: metric {name} is neither exposed by the binary (scrape) nor allowlisted")
                continue
            for label, op, value in matchers:
                if label == "__name__":
                    continue
                if label not in labels:
                    problems.append(f"{where}: {name} has no label {label} (it has: {', '.join(sorted(labels - TARGET_LABELS)) or 'none'})")
                    continue
                base = label[len("exported_"):] if label.startswith("exported_") else label
                known = scraped.get(name, {}).get(base, set()) | allowed_values.get((name, base), set())
                if label in TARGET_LABELS or "$" in value or not known:
                    continue  # a target's label, a dashboard variable, or values the check cannot know
                if op in ("=", "!="):
                    wanted = [value]
                elif SIMPLE_ALTERNATION.match(value):
                    wanted = value.split("|")
                else:
                    continue
                for v in wanted:
                    if v not in known:
                        problems.append(f"{where}: {name}{{{label}}} never has the value {v!r} "
                                        f"(known: {', '.join(sorted(known))})")
    for name in sorted(set(allowed_metrics) & set(scraped)):
        print(f"note: allowlisted {name} is in the scrape too: its allowlist entry is not needed")
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"check-metric-names: {len(exprs)} expressions, {len(used)} metric names, "
          f"{len(scraped)} names in the scrape; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

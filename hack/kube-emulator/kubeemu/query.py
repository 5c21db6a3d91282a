"""Label selectors, field selectors and the JSONPath subset used by printer columns."""

import re

from .errors import bad_request

# --- label selectors (k8s.io/apimachinery/pkg/labels) --------------------------------------

_TOKEN = re.compile(r"!=|==|=|\(|\)|,|!|<|>|[^\s!=(),<>]+")


def _tokens(text):
    return _TOKEN.findall(text)


def parse_label_selector(text):
    """Returns a list of (key, op, values); op in =, !=, in, notin, exists, !exists, gt, lt."""
    text = (text or "").strip()
    if not text:
        return []
    toks, i, reqs = _tokens(text), 0, []

    def fail(msg):
        raise bad_request(f"unable to parse requirement: {msg}")

    while i < len(toks):
        if toks[i] == "!":
            if i + 1 >= len(toks):
                fail("found '', expected: identifier")
            reqs.append((toks[i + 1], "!exists", []))
            i += 2
        else:
            key = toks[i]
            if not _valid_label_key(key):
                fail(f"invalid label key \"{key}\"")
            op = toks[i + 1] if i + 1 < len(toks) else ","
            if op == ",":
                reqs.append((key, "exists", []))
                i += 1
            elif op in ("=", "==", "!="):
                has_val = i + 2 < len(toks) and toks[i + 2] != ","
                val = toks[i + 2] if has_val else ""
                reqs.append((key, "!=" if op == "!=" else "=", [val]))
                i += 3 if has_val else 2
            elif op in ("in", "notin"):
                if i + 2 >= len(toks) or toks[i + 2] != "(":
                    fail("found '', expected: '('")
                j, vals = i + 3, []
                while j < len(toks) and toks[j] != ")":
                    if toks[j] != ",":
                        vals.append(toks[j])
                    j += 1
                if j >= len(toks):
                    fail("found '', expected: ')'")
                reqs.append((key, op, vals))
                i = j + 1
            elif op in (">", "<"):
                if i + 2 >= len(toks):
                    fail("found '', expected: integer")
                reqs.append((key, "gt" if op == ">" else "lt", [toks[i + 2]]))
                i += 3
            else:
                fail(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        if i < len(toks):
            if toks[i] != ",":
                fail(f"found '{toks[i]}', expected: ','")
            i += 1
    return reqs


_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def _valid_label_key(key):
    if "/" in key:
        prefix, name = key.split("/", 1)
        return bool(prefix) and len(name) <= 63 and bool(_LABEL_NAME.match(name))
    return len(key) <= 63 and bool(_LABEL_NAME.match(key))


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has, val = key in labels, labels.get(key)
        if op == "=" and val != vals[0]:
            return False
        if op == "!=" and has and val == vals[0]:
            return False
        if op == "in" and (not has or val not in vals):
            return False
        if op == "notin" and has and val in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!exists" and has:
            return False
        if op in ("gt", "lt"):
            try:
                a, b = int(val), int(vals[0])
            except (TypeError, ValueError):
                return False
            if (op == "gt" and not a > b) or (op == "lt" and not a < b):
                return False
    return True


# --- field selectors (k8s.io/apimachinery/pkg/fields) ---------------------------------------

def parse_field_selector(text, supported):
    """Returns [(field, op, value)]; 400 BadRequest for a field the resource does not support."""
    out = []
    for part in _split_unescaped(text or "", ","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^(.*?)(!=|==|=)(.*)$", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        fld, op, val = m.group(1).strip(), m.group(2), m.group(3).strip()
        if fld not in supported:
            raise bad_request(f'field label not supported: {fld}')
        out.append((fld, "!=" if op == "!=" else "=", _unescape(val)))
    return out


def _split_unescaped(text, sep):
    parts, cur, esc = [], "", False
    for ch in text:
        if esc:
            cur += "\\" + ch
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _unescape(val):
    return re.sub(r"\\(.)", r"\1", val)


def fields_match(reqs, field_values):
    for fld, op, val in reqs:
        have = field_values.get(fld)
        have = "" if have is None else str(have)
        if (op == "=") != (have == val):
            return False
    return True


# --- JSONPath (the subset printer columns and selectable fields use) -------------------------

_JP_TOKEN = re.compile(
    r"""\.\.|\.(?P<name>[A-Za-z0-9_\-$]+)|\[(?P<index>-?\d+)\]|\[\*\]|\.\*"""
    r"""|\[['"](?P<qname>[^'"]+)['"]\]"""
    r"""|\[\?\(@(?P<fpath>[^=!<>)]*)\s*(?P<fop>==|!=)\s*(?P<fval>"[^"]*"|'[^']*'|[^)\s]+)\s*\)\]""")


def compile_jsonpath(path):
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    steps, pos = [], 0
    while pos < len(path):
        m = _JP_TOKEN.match(path, pos)
        if not m:
            raise ValueError(f"unsupported JSONPath {path!r} at {pos}")
        tok = m.group(0)
        if m.group("name") is not None:
            steps.append(("key", m.group("name")))
        elif m.group("qname") is not None:
            steps.append(("key", m.group("qname")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("fop") is not None:
            val = m.group("fval")
            if val[0] in "\"'":
                val = val[1:-1]
            else:
                val = _literal(val)
            steps.append(("filter", (compile_jsonpath(m.group("fpath")) if m.group("fpath") else [],
                                     m.group("fop"), val)))
        elif tok in ("[*]", ".*"):
            steps.append(("all", None))
        else:
            raise ValueError("recursive descent is not supported")
        pos = m.end()
    return steps


def _literal(text):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "null": None}.get(text, text)


def eval_jsonpath(steps, obj):
    cur = [obj]
    for kind, arg in steps:
        nxt = []
        for v in cur:
            if kind == "key" and isinstance(v, dict) and arg in v:
                nxt.append(v[arg])
            elif kind == "index" and isinstance(v, list) and -len(v) <= arg < len(v):
                nxt.append(v[arg])
            elif kind == "all":
                nxt.extend(v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else [])
            elif kind == "filter" and isinstance(v, list):
                sub, op, want = arg
                for item in v:
                    got = eval_jsonpath(sub, item)
                    ok = bool(got) and got[0] == want
                    if (op == "==" and ok) or (op == "!=" and got and not ok):
                        nxt.append(item)
        cur = nxt
    return cur

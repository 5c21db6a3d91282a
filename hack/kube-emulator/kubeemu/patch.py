"""JSON merge patch (RFC 7386), strategic merge patch, JSON patch (RFC 6902) and the
merge used for server-side apply."""

import copy
import json

from .errors import ApiError, bad_request

# Merge keys of the associative lists found in the built-in kinds a chart or an operator
# writes (from the patchMergeKey tags of k8s.io/api). Lists not named here are replaced.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "conditions": "type", "ownerReferences": "uid",
    "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name", "secrets": "name",
}
PRIMITIVE_MERGE_LISTS = {"finalizers"}


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _merge_key(field, items):
    if field == "ports":
        for it in items:
            if isinstance(it, dict):
                return "containerPort" if "containerPort" in it else "port"
    return MERGE_KEYS.get(field)


def strategic_merge_patch(target, patch, atomic=frozenset()):
    """A strategic merge patch over the built-in kinds: maps merge recursively, null deletes,
    lists with a known merge key merge by that key, $patch/$setElementOrder/$retainKeys/
    $deleteFromPrimitiveList directives are honoured. Top-level lists named in atomic are
    replaced whole (listType=atomic)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    orders = {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [x for x in result[name] if x not in v]
            continue
        if v is None:
            result.pop(k, None)
        elif isinstance(v, list) and isinstance(result.get(k), list) and k not in atomic:
            result[k] = _merge_list(k, result[k], v)
        elif isinstance(v, dict):
            merged = strategic_merge_patch(result.get(k), v)
            if merged is None:
                result.pop(k, None)
            else:
                result[k] = merged
        else:
            result[k] = copy.deepcopy(v)
    for name, order in orders.items():
        if isinstance(result.get(name), list):
            result[name] = _order(name, result[name], order)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field, current, patch):
    if field in PRIMITIVE_MERGE_LISTS:
        out = list(current)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    key = _merge_key(field, current + patch)
    if not key or not all(isinstance(x, dict) for x in current + patch):
        return [x for x in copy.deepcopy(patch) if not (isinstance(x, dict) and "$patch" in x)]
    out = copy.deepcopy(current)
    for item in patch:
        idx = next((i for i, c in enumerate(out) if c.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
        elif idx is None:
            out.append({k: v for k, v in copy.deepcopy(item).items() if k != "$patch"})
        else:
            out[idx] = strategic_merge_patch(out[idx], item)
    return out


def _order(field, items, order):
    key = _merge_key(field, items)
    ident = (lambda x: x.get(key)) if key and all(isinstance(x, dict) for x in items) else (lambda x: x)
    wanted = [ident(o) if isinstance(o, dict) and key else o for o in order]
    ranked = [x for w in wanted for x in items if ident(x) == w]
    return ranked + [x for x in items if ident(x) not in wanted]


# --- JSON patch ------------------------------------------------------------------------------

def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f'json patch path "{path}" must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc, parts, op):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise _patch_error(f"{op} operation does not apply: doc is missing path: "
                               f"\"/{'/'.join(parts)}\": missing value")
    return cur


def _patch_error(msg):
    # apiserver: NewGenericServerResponse(422, ...) around the json-patch library's error
    return ApiError(422, "Invalid", "the server rejected our request due to an error in our request",
                    {"causes": [{"message": msg}]})


def _get(doc, parts, op):
    if not parts:
        return doc
    par, last = _parent(doc, parts, op), parts[-1]
    if isinstance(par, dict) and last in par:
        return par[last]
    if isinstance(par, list) and last.isdigit() and int(last) < len(par):
        return par[int(last)]
    raise _patch_error(f"{op} operation does not apply: doc is missing path: \"/{'/'.join(parts)}\": "
                       "missing value")


def _remove(doc, parts, op):
    par, last = _parent(doc, parts, op), parts[-1]
    if isinstance(par, dict) and last in par:
        return par.pop(last)
    if isinstance(par, list) and last.isdigit() and int(last) < len(par):
        return par.pop(int(last))
    raise _patch_error(f"{op} operation does not apply: doc is missing path: \"/{'/'.join(parts)}\": "
                       "missing value")


def _add(doc, parts, value, op, replace=False):
    if not parts:
        return value
    par, last = _parent(doc, parts, op), parts[-1]
    if isinstance(par, dict):
        if replace and last not in par:
            raise _patch_error(f"replace operation does not apply: doc is missing key: "
                               f"/{'/'.join(parts)}: missing value")
        par[last] = value
    elif isinstance(par, list):
        if last == "-" and not replace:
            par.append(value)
        elif last.isdigit() and int(last) <= len(par) - (1 if replace else 0):
            if replace:
                par[int(last)] = value
            else:
                par.insert(int(last), value)
        else:
            raise _patch_error(f"{op} operation does not apply: doc is missing path: "
                               f"\"/{'/'.join(parts)}\": missing value")
    else:
        raise _patch_error(f"{op} operation does not apply: doc is missing path: \"/{'/'.join(parts)}\"")
    return doc


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise bad_request("Unexpected kind: <nil>")
        kind, parts = op["op"], _pointer(op.get("path", ""))
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), kind)
        elif kind == "remove":
            _remove(doc, parts, kind)
        elif kind == "replace":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), kind, replace=True)
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            val = _remove(doc, src, kind) if kind == "move" else copy.deepcopy(_get(doc, src, kind))
            doc = _add(doc, parts, val, kind)
        elif kind == "test":
            have = _get(doc, parts, kind)
            if json.dumps(have, sort_keys=True) != json.dumps(op.get("value"), sort_keys=True):
                raise _patch_error(f"testing value {op.get('path')} failed: test failed")
        else:
            raise bad_request(f"Unexpected kind: {kind}")
    return doc


# --- server-side apply ------------------------------------------------------------------------

def apply_merge(live, applied, previous, list_keys=None):
    """Merges an applied configuration into the live object the way server-side apply does
    for a single manager: fields present in the configuration are set, fields this manager
    applied before but no longer lists are removed, everything else is kept. list_keys(path)
    may return the keys of an associative list (x-kubernetes-list-map-keys)."""
    list_keys = list_keys or (lambda path, field, items: _default_list_keys(field, items))
    return _apply(live, applied, previous, (), list_keys)


def atomic_list_keys(atomic):
    """list_keys for apply_merge: top-level lists named in atomic are replaced whole, others
    use the built-in merge keys."""
    return lambda path, field, items: None if len(path) == 1 and path[0] in atomic else \
        _default_list_keys(field, items)


def _default_list_keys(field, items):
    key = _merge_key(field, items)
    return [key] if key else None


def _apply(live, applied, previous, path, list_keys):
    if not isinstance(applied, dict) or not isinstance(live, dict):
        return copy.deepcopy(applied)
    out = copy.deepcopy(live)
    previous = previous if isinstance(previous, dict) else {}
    for k in previous:
        if k not in applied:
            out.pop(k, None)
    for k, v in applied.items():
        cur, prev = out.get(k), previous.get(k)
        if isinstance(v, dict) and isinstance(cur, dict):
            out[k] = _apply(cur, v, prev, path + (k,), list_keys)
        elif isinstance(v, list) and isinstance(cur, list):
            keys = list_keys(path + (k,), k, cur + v)
            out[k] = _apply_list(cur, v, prev if isinstance(prev, list) else [], keys,
                                 path + (k,), list_keys) if keys else copy.deepcopy(v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _apply_list(live, applied, previous, keys, path, list_keys):
    ident = lambda it: tuple(it.get(k) for k in keys) if isinstance(it, dict) else (it,)
    applied_ids = [ident(a) for a in applied]
    out = [x for x in live if ident(x) in applied_ids or ident(x) not in [ident(p) for p in previous]]
    for a in applied:
        idx = next((i for i, x in enumerate(out) if ident(x) == ident(a)), None)
        prev = next((p for p in previous if ident(p) == ident(a)), None)
        if idx is None:
            out.append(copy.deepcopy(a))
        else:
            out[idx] = _apply(out[idx], a, prev, path, list_keys)
    return out

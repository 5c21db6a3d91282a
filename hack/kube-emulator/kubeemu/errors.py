"""Kubernetes Status objects and the field-error formatting of k8s.io/apimachinery."""

import json


class ApiError(Exception):
    """An error answered as a metav1.Status with a non-2xx HTTP code."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {},
              "status": "Failure", "message": self.message, "reason": self.reason}
        if self.details:
            st["details"] = self.details
        st["code"] = self.code
        return st


def _details(name=None, group=None, kind=None, **extra):
    d = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kind:
        d["kind"] = kind
    d.update(extra)
    return d


def qualified(resource, group):
    return f"{resource}.{group}" if group else resource


def not_found(group, resource, name):
    return ApiError(404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
                    _details(name, group, resource))


def already_exists(group, resource, name):
    return ApiError(409, "AlreadyExists", f'{qualified(resource, group)} "{name}" already exists',
                    _details(name, group, resource))


def conflict(group, resource, name, detail=None):
    detail = detail or ("the object has been modified; please apply your changes "
                        "to the latest version and try again")
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {detail}',
                    _details(name, group, resource))


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def method_not_allowed():
    return ApiError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource")


def path_not_found():
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def expired(message):
    return ApiError(410, "Expired", message)


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def too_many_requests(retry_after=1):
    return ApiError(429, "TooManyRequests",
                    "the server has received too many requests and has asked us to try again later",
                    {"retryAfterSeconds": retry_after}, {"Retry-After": str(retry_after)})


def internal_error(message):
    return ApiError(500, "InternalError", f"Internal error occurred: {message}",
                    {"causes": [{"message": message}]})


def not_acceptable(accept):
    return ApiError(406, "NotAcceptable",
                    f"the server was unable to respond with a content type that the client supports "
                    f"(accept: {accept})")


def unsupported_media_type(ctype):
    return ApiError(415, "UnsupportedMediaType",
                    f'the body of the request was in an unknown format - accepted media types include: '
                    f'application/json-patch+json, application/merge-patch+json, '
                    f'application/apply-patch+yaml (got "{ctype}")')


# --- field errors (k8s.io/apimachinery/pkg/util/validation/field) -------------------------

class RawValue(str):
    """A bad value rendered verbatim (Go's %#v of a non-string)."""


def go_value(v):
    """Render a value the way field.Error.ErrorBody does (%q for strings, %v for scalars)."""
    if isinstance(v, RawValue):
        return str(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float):
        return format_number(v)
    if isinstance(v, int):
        return str(v)
    return json.dumps(v, sort_keys=True)


def format_number(v):
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return str(v)
    if v == int(v) and abs(v) < 1e21:
        return str(int(v))
    return repr(v)


class FieldError:
    TYPES = {
        "FieldValueRequired": "Required value", "FieldValueInvalid": "Invalid value",
        "FieldValueTypeInvalid": "Invalid value", "FieldValueNotSupported": "Unsupported value",
        "FieldValueForbidden": "Forbidden", "FieldValueTooLong": "Too long",
        "FieldValueTooMany": "Too many", "FieldValueDuplicate": "Duplicate value",
        "FieldValueNotFound": "Not found",
    }
    NO_VALUE = ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong")

    def __init__(self, etype, field, value=None, detail=""):
        self.type, self.field, self.value, self.detail = etype, field, value, detail

    def body(self):
        label = self.TYPES[self.type]
        s = label if self.type in self.NO_VALUE else f"{label}: {go_value(self.value)}"
        return f"{s}: {self.detail}" if self.detail else s

    def __str__(self):
        return f"{self.field}: {self.body()}"


def required(field, detail=""):
    return FieldError("FieldValueRequired", field, None, detail)


def invalid(field, value, detail):
    return FieldError("FieldValueInvalid", field, value, detail)


def not_supported(field, value, allowed):
    quoted = ", ".join(json.dumps(a if isinstance(a, str) else json.dumps(a)) for a in allowed)
    return FieldError("FieldValueNotSupported", field, value, f"supported values: {quoted}")


def forbidden(field, detail):
    return FieldError("FieldValueForbidden", field, None, detail)


def invalid_object(kind, group, name, errs):
    """errors.NewInvalid: 422 with one cause per field error."""
    msgs = []
    for e in errs:
        if str(e) not in msgs:
            msgs.append(str(e))
    agg = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    qkind = f"{kind}.{group}" if group else kind
    causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in errs]
    return ApiError(422, "Invalid", f'{qkind} "{name}" is invalid: {agg}',
                    _details(name, group, kind, causes=causes))

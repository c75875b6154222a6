"""One JSON error shape for every failure of the API, with field-level messages.

    {"status": 400, "code": "invalid", "detail": "…", "errors": {"title": ["…"]}}

`errors` maps a field (dotted for nested values, `non_field_errors` for the rest) to its messages;
bulk requests add `records`, one entry per offending record; a 412 adds `current_version`.
Service exceptions are mapped here: Django's ValidationError → 400 (409 when the only problem is
a uniqueness conflict, such as a duplicate `external_id`), PermissionDenied → 403,
VersionConflict → 412, IntegrityError (a race the validation could not see) → 409.
"""

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from api.shape import body_limit, error_body, too_large_detail
from projects import bulk
from projects.records import VersionConflict, conflict_message

NON_FIELD = "non_field_errors"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record has changed since you read it: its ETag no longer matches If-Match."
    default_code = "precondition_failed"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the data."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."
    default_code = "too_large"


def body_too_large() -> PayloadTooLarge:
    limit = body_limit()
    error = PayloadTooLarge(too_large_detail(limit))
    error.max_body_bytes = limit
    return error


class RecordErrors(exceptions.APIException):
    """A bulk request failed: one entry per offending record, nothing written."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Some records are invalid; nothing was written."
    default_code = "invalid_records"

    def __init__(self, records: list[dict], *, status_code: int = 400, detail: str | None = None, code=None):
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.records = records


# --- Schema of the error body (documented for every operation) ----------------------------------


class RecordErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the record in the request (from 0).")
    external_id = serializers.CharField(allow_null=True)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ErrorSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField(help_text="Machine-readable reason, e.g. invalid, not_found, conflict.")
    detail = serializers.CharField(help_text="What went wrong, for people.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field (dotted paths for nested values; non_field_errors for the rest).",
    )
    records = RecordErrorSerializer(many=True, required=False, help_text="Bulk requests: each bad record.")
    current_version = serializers.IntegerField(required=False, help_text="412: the record's version now.")
    max_body_bytes = serializers.IntegerField(required=False, help_text="413: the body size limit in bytes.")
    canonical_path = serializers.CharField(
        required=False, help_text="404 of a write to a path without its trailing slash: the path to use."
    )

    class Meta:
        ref_name = "Error"


# --- Mapping ------------------------------------------------------------------------------------


def flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field.sub.0": ["message", …]}."""
    result: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = NON_FIELD if key in (NON_FIELD_ERRORS, NON_FIELD, "detail") and not prefix else str(key)
            for path, messages in flatten(value, f"{prefix}.{name}" if prefix else name).items():
                result.setdefault(path, []).extend(messages)
    elif isinstance(detail, (list, tuple)):
        if all(not isinstance(item, (dict, list, tuple)) for item in detail):
            result.setdefault(prefix or NON_FIELD, []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item in ({}, [], None, ""):
                    continue
                for path, messages in flatten(item, f"{prefix}.{index}" if prefix else str(index)).items():
                    result.setdefault(path, []).extend(messages)
    elif detail is not None:
        result.setdefault(prefix or NON_FIELD, []).append(str(detail))
    return result


# One definition, shared with the bulk write path (which reports per record what these report).
django_errors = bulk.error_messages
is_uniqueness_conflict = bulk.is_uniqueness_conflict


def _first_message(errors: dict[str, list[str]], fallback: str) -> str:
    for messages in errors.values():
        if messages:
            return messages[0]
    return fallback


def api_exception_handler(exc, context):
    view = context.get("view")
    model = getattr(view, "model", None) if view is not None else None
    headers: dict[str, str] = {}
    extra: dict = {}

    if isinstance(exc, VersionConflict):
        current = exc.current
        headers["ETag"] = f'"{current.version}"'
        extra["current_version"] = current.version
        request = context.get("request")
        exc = PreconditionFailed(detail=conflict_message(current, reader=getattr(request, "user", None)))
    elif isinstance(exc, DjangoValidationError):
        errors = django_errors(exc)
        if is_uniqueness_conflict(exc, model):
            set_rollback()
            body = error_body(409, "conflict", _first_message(errors, Conflict.default_detail), errors)
            return Response(body, status=409)
        set_rollback()
        body = error_body(400, "invalid", _first_message(errors, "Invalid input."), errors)
        return Response(body, status=400)
    elif isinstance(exc, IntegrityError):
        exc = Conflict("The record conflicts with another one (for example a duplicate external_id).")
    elif isinstance(exc, (DataError, OverflowError, UnicodeEncodeError)):
        exc = exceptions.ValidationError({NON_FIELD: ["A value is out of range."]})
    elif isinstance(exc, RequestDataTooBig):  # Django's own size check, as it reads the body
        exc = body_too_large()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)

    if not isinstance(exc, exceptions.APIException):
        return None

    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        errors = flatten(exc.detail)
        detail = _first_message(errors, "Invalid input.")
        code = "invalid"
    else:
        errors = {}
        detail = str(exc.detail) if not isinstance(exc.detail, (list, dict)) else exc.default_detail
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
    if getattr(exc, "max_body_bytes", None):
        extra["max_body_bytes"] = exc.max_body_bytes
    if isinstance(exc, RecordErrors):
        extra["records"] = exc.records
        detail = str(exc.detail)
    set_rollback()
    return Response(
        error_body(exc.status_code, str(code), detail, errors, **extra),
        status=exc.status_code,
        headers=headers,
    )

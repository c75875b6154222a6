"""The API's error shape and body limit, free of DRF imports: the middleware (loaded before DRF's
settings are read) uses them as well as the exception handler."""

from django.conf import settings


def error_body(status_code: int, code: str, detail: str, errors: dict | None = None, **extra) -> dict:
    return {"status": status_code, "code": code, "detail": detail, "errors": errors or {}, **extra}


def body_limit() -> int:
    """The largest request body accepted, in bytes: one limit for the API's parser and Django's
    own check (settings make DATA_UPLOAD_MAX_MEMORY_SIZE the same API_MAX_BODY_BYTES); should the
    two ever differ, the smaller is the one a client meets."""
    limits = [getattr(settings, "API_MAX_BODY_BYTES", 10 * 1024 * 1024)]
    if settings.DATA_UPLOAD_MAX_MEMORY_SIZE is not None:
        limits.append(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return min(limits)


def too_large_detail(limit: int) -> str:
    return f"The request body is over the limit of {limit} bytes ({limit / (1024 * 1024):.4g} MiB)."

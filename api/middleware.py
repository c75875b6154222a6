"""Under `/api/` every answer is the API's: JSON, in the one error shape, never an HTML page.

Some failures happen before a DRF view runs or outside it, and Django answers them with HTML: an
unknown path (404), a body over the size limit read by another middleware (400), a CSRF failure
(403), an unhandled exception (500). And a write to a path without its trailing slash cannot be
redirected (a redirect loses the body: Django raises in DEBUG, clients turn the POST into a GET).
This middleware, first in the chain, answers those in JSON:

* a body whose Content-Length is over the limit: 413 naming the limit, before anything reads it
  (a spreadsheet upload to `/api/v1/imports/` has the import file limit instead);
* POST/PUT/PATCH/DELETE to `/api/v1/projects` when `/api/v1/projects/` exists: 404 naming the
  canonical path (GET and HEAD keep Django's redirect, which loses nothing);
* any other error response that is not JSON: the same status, in the error shape.
"""

from django.conf import settings
from django.http import JsonResponse
from django.urls import Resolver404, resolve

from api.shape import body_limit, error_body, too_large_detail

API_PREFIX = "/api/"
IMPORTS_PATH = "/api/v1/imports/"
# Room for a multipart body's boundaries and small fields around the file itself.
MULTIPART_ALLOWANCE = 64 * 1024
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

_CODES = {
    400: ("bad_request", "The request could not be understood."),
    403: ("forbidden", "This request is not allowed."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("too_large", "The request is too large."),
    500: ("server_error", "The server failed to answer this request; it has been logged."),
}


def _json_error(status: int, code: str, detail: str, **extra) -> JsonResponse:
    return JsonResponse(error_body(status, code, detail, **extra), status=status)


def _is_json(response) -> bool:
    return "json" in response.get("Content-Type", "")


def _routes(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if not path.startswith(API_PREFIX):
            return self.get_response(request)
        early = self._refuse_early(request, path)
        if early is not None:
            return early
        response = self.get_response(request)
        if response.status_code >= 400 and not _is_json(response):
            return self._as_json(response)
        return response

    def _refuse_early(self, request, path: str):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = body_limit()
        if path == IMPORTS_PATH and request.method == "POST":
            # A spreadsheet upload has its own, larger limit (IMPORT_MAX_FILE_BYTES), named as such.
            file_limit = settings.IMPORT_MAX_FILE_BYTES
            if length > file_limit + MULTIPART_ALLOWANCE:
                return _json_error(
                    413,
                    "too_large",
                    f"The file is over the limit of {file_limit:,} bytes "
                    f"({file_limit / 1024 / 1024:.4g} MiB).",
                    max_body_bytes=file_limit,
                )
            return None
        if length > limit:
            return _json_error(
                413,
                "too_large",
                too_large_detail(limit),
                max_body_bytes=limit,
            )
        if request.method not in SAFE_METHODS and not path.endswith("/") and not _routes(path):
            canonical = f"{path}/"
            if _routes(canonical):
                return _json_error(
                    404,
                    "not_found",
                    f"No resource at {path}: the canonical path is {canonical} (with the trailing slash).",
                    canonical_path=canonical,
                )
        return None

    def _as_json(self, response):
        code, detail = _CODES.get(response.status_code, ("error", response.reason_phrase or "Error."))
        replacement = _json_error(response.status_code, code, detail)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement

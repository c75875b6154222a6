"""Browser security: the Permissions-Policy header, and what a locked-out caller is told.

The Content-Security-Policy comes from django-csp (settings.CONTENT_SECURITY_POLICY); login
attempts are counted by django-axes.

Failed sign-ins are counted per username and per address, on the browser login and on the API's
token endpoint alike (both authenticate with the request). After AXES_FAILURE_LIMIT failures in a
row the username — or the address — is locked for AXES_COOLOFF_TIME; an admin can unlock it in
the admin (Axes → access attempts). Every attempt is kept there too, as the audit trail.
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from api.shape import error_body


def _minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def lockout_response(request, original_response=None, credentials=None):
    minutes = _minutes()
    detail = (
        f"Too many failed sign-ins. This account or address is locked for {minutes} minutes; "
        "an administrator can unlock it sooner."
    )
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(429, "locked_out", detail), status=429)
    else:
        body = render_to_string("registration/locked_out.html", {"minutes": minutes}, request=request)
        response = HttpResponse(body, status=429)
    response["Retry-After"] = retry_after
    return response


class PermissionsPolicyMiddleware:
    """Adds settings.PERMISSIONS_POLICY to every response (Django has no setting for it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response

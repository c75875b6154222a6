"""A database that goes away mid-request answers 503 with Retry-After, never a 500 page.

A connection killed by the server, a failover or a restart raises OperationalError or
InterfaceError from the driver. That is not a bug of the request: the client may retry, and the
load balancer should see "unavailable", not "broken". The connection is dropped so the next
request of this worker opens a fresh one.
"""

import logging

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from api.shape import error_body

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        for connection in connections.all(initialized_only=True):
            if connection.connection is not None and not connection.is_usable():
                connection.close()
        if request.path.startswith("/api/"):
            detail = "The database is unavailable; nothing was written. Try again shortly."
            response = JsonResponse(error_body(503, "service_unavailable", detail), status=503)
        else:
            # A page of its own: the site layout would read the session from the database.
            response = HttpResponse(
                render_to_string("503.html"), status=503, content_type="text/html; charset=utf-8"
            )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

"""Who may call what, how often, and with which bodies."""

import json
import logging

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework import exceptions, parsers, permissions, throttling
from rest_framework.settings import api_settings

# A module reference, not its names: api.errors imports DRF's views, whose settings load this module.
from api import errors
from api.shape import body_limit
from projects import access

WRITER_ROLES = (access.Role.ADMIN, access.Role.ACCOUNT_MANAGER)

logger = logging.getLogger(__name__)


class PortfolioPermission(permissions.BasePermission):
    """Reading needs a signed-in user (scoping does the rest); writing needs a writer role
    (creating, the view's `create_roles`: only admins create organisations, relationships, KPIs).

    Object routes check the role only after the object was found in the caller's scope, so an
    object outside it answers 404 on every method, as if absent. The services then apply the
    fine-grained rules (an account manager writes only inside assigned relationships, only an
    admin manages organisations, relationships and the KPI catalogue).
    """

    message = "Your role may read but not change data."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS or getattr(view, "detail", False):
            return True
        return access.role_of(request.user) in getattr(view, "create_roles", WRITER_ROLES)

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return access.role_of(request.user) in WRITER_ROLES


class PortfolioThrottle(throttling.ScopedRateThrottle):
    """Scoped rates: `token` (issuing tokens), `bulk`, `sync` (lists asked for changes) and `api`
    (everything else). Counters live in the default cache: Redis when REDIS_URL is set."""

    def allow_request(self, request, view):
        scope_of = getattr(view, "throttle_scope_for", None)
        self.scope = scope_of(request) if scope_of else getattr(view, "throttle_scope", "api")
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return throttling.SimpleRateThrottle.allow_request(self, request, view)
        except RedisError:
            # The counters live in Redis. Without it the API keeps answering, unthrottled, rather
            # than failing every request: the database holds the data, Redis only the rates.
            logger.warning("API throttling skipped: the cache (Redis) is unreachable", exc_info=True)
            return True

    def get_rate(self):
        # Read at call time (not at import) so settings changes apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class LimitedJSONParser(parsers.JSONParser):
    """JSON bodies up to the body limit (413 beyond); NaN and Infinity are rejected (400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = body_limit()
        request = (parser_context or {}).get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        try:
            if length and int(length) > limit:
                raise errors.body_too_large()
        except ValueError:
            pass
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise errors.body_too_large()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
            return json.loads(text, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from error


def _reject_constant(name):
    raise ValueError(f"{name} is not a valid JSON value")

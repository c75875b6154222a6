"""Who may call what, how often, and with which bodies."""

import json
import logging
import os

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.commands.core import Script
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


# DRF's sliding window — the times of the caller's requests in the last `duration` seconds —
# kept in a Redis sorted set and checked and updated by one script: one round trip a request.
# DRF's own throttle reads the whole window as a pickled list and writes it back (two round trips
# and, at the `api` rate, up to 6,000 timestamps each way). Same rule: drop the times at or
# before now - duration; refuse when `limit` remain (the window unchanged); else add now. Returns
# whether allowed, the count in the window and its oldest time (text: Lua would truncate it).
_WINDOW_SCRIPT = """
local key, now, duration, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - duration)
local count = redis.call('ZCARD', key)
if count >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, count, oldest[2] or ARGV[1]}
end
redis.call('ZADD', key, ARGV[1], ARGV[4])
redis.call('EXPIRE', key, duration)
return {1, count + 1, ARGV[1]}
"""
_window_script: Script | None = None


def _sliding_window(key: str, *, now: float, duration: int, limit: int) -> tuple[bool, int, float]:
    global _window_script
    client = caches["default"]._cache.get_client(write=True)
    if _window_script is None:
        _window_script = client.register_script(_WINDOW_SCRIPT)
    # The member only has to be unique; its score is the time.
    allowed, count, oldest = _window_script(
        keys=[key], args=[repr(now), duration, limit, f"{now!r}:{os.urandom(6).hex()}"], client=client
    )
    return bool(allowed), int(count), float(oldest)


class PortfolioThrottle(throttling.ScopedRateThrottle):
    """Scoped rates: `token` (issuing tokens), `bulk`, `sync` (lists asked for changes) and `api`
    (everything else). Counters live in the default cache: with Redis (REDIS_URL set), in one
    sorted set per caller and scope, updated in one round trip (`_sliding_window`)."""

    def allow_request(self, request, view):
        scope_of = getattr(view, "throttle_scope_for", None)
        self.scope = scope_of(request) if scope_of else getattr(view, "throttle_scope", "api")
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            if isinstance(caches["default"], RedisCache):
                return self._allow_in_redis(request, view)
            return throttling.SimpleRateThrottle.allow_request(self, request, view)
        except RedisError:
            # The counters live in Redis. Without it the API keeps answering, unthrottled, rather
            # than failing every request: the database holds the data, Redis only the rates.
            logger.warning("API throttling skipped: the cache (Redis) is unreachable", exc_info=True)
            return True

    def _allow_in_redis(self, request, view) -> bool:
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        # Its own key (not DRF's pickled list under `self.key`), under the cache's prefix and version.
        key = caches["default"].make_key(f"{self.key}_window")
        allowed, count, oldest = _sliding_window(
            key, now=self.now, duration=self.duration, limit=self.num_requests
        )
        # What DRF's `wait` reads (the window's size and its oldest time), for Retry-After.
        self.history = [] if allowed else [oldest] * count
        return allowed

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

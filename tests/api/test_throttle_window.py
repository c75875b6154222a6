"""The API throttle's window in Redis (api.policies) decides as DRF's own throttle decides.

With Redis, each request's check and update is one script on a sorted set instead of DRF's
pickled list read and written back. Here both are driven with the same clock through the same
sequence of requests — bursts, pauses, requests on the window's edge — and must agree on every
answer and on Retry-After. Needs Redis (REDIS_URL), as the production throttle does."""

import random

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import throttling
from rest_framework.test import APIRequestFactory

from api.policies import PortfolioThrottle
from tests.api.conftest import clear_throttles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class View:
    throttle_scope = "sync"


class ListThrottle(PortfolioThrottle):
    """DRF's algorithm (its pickled list) whatever the cache."""

    def allow_request(self, request, view):
        self.scope = view.throttle_scope
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return throttling.SimpleRateThrottle.allow_request(self, request, view)


def test_the_api_throttles_in_redis_in_these_tests():
    assert settings.REDIS_URL, "run the API tests with REDIS_URL: the production throttle needs it"
    assert isinstance(caches["default"], RedisCache)


def test_the_redis_window_answers_as_drf_does(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK}
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "sync": "5/min",
    }
    clear_throttles()
    request = APIRequestFactory().get("/")
    request.user = UserFactory()
    rng = random.Random(17)
    now, answers = 1_800_000_000.25, {"redis": [], "list": []}
    # First a full window, a refusal, and a request exactly one window after the first five
    # (which no longer count); then bursts, pauses and exact edges (quarter seconds add up exactly).
    steps = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 59.0] + [
        rng.choice([0.0, 0.0, 0.25, 0.5, 3.0, 11.75, 12.0, 59.75, 60.0, 61.0]) for _ in range(400)
    ]
    for step, pause in enumerate(steps):
        now += pause
        for name, throttle_class in (("redis", PortfolioThrottle), ("list", ListThrottle)):
            throttle = throttle_class()
            throttle.timer = lambda now=now: now
            allowed = throttle.allow_request(request, View())
            answers[name].append((step, allowed, None if allowed else round(throttle.wait(), 9)))
    assert answers["redis"] == answers["list"]
    assert [allowed for _, allowed, _ in answers["redis"][:7]] == [True] * 5 + [False, True]
    decided = [allowed for _, allowed, _ in answers["redis"]]
    assert decided.count(True) > 50 and decided.count(False) > 20  # both answers, many times

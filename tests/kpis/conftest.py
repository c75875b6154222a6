"""Fixtures for tests that need a real Celery broker (Redis) and, for some, a real worker; the
dashboard reads' portfolio."""

import os

import pytest
from django.conf import settings

from bpo_portfolio.celery import app as celery_app
from tests.dashboard_data import book, kpis  # noqa: F401 (fixtures of the dashboard reads' tests)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _redis_problem() -> str | None:
    if not settings.REDIS_URL:
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis unreachable at {settings.REDIS_URL}: {error}"
    return None


@pytest.fixture
def real_broker():
    """Celery publishing to the real Redis (not eager). Fails in CI when Redis is missing; elsewhere
    the test is skipped with the reason (run with REDIS_URL=redis://… to include it)."""
    problem = _redis_problem()
    if problem:
        message = f"needs a real Redis broker: {problem}"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    _forget_queued_recomputes()
    yield celery_app
    _forget_queued_recomputes()
    celery_app.conf.task_always_eager = previous
    # Messages this test published for rows that die with its database would otherwise wait in
    # Redis for the next worker on this database number.
    celery_app.control.purge()


def _forget_queued_recomputes() -> None:
    """Drop "recompute queued" keys left by earlier runs (test databases reuse ids)."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match="*kpis:score-recompute-queued:*", count=1000))
    if keys:
        client.delete(*keys)


def reset_broker_pools() -> None:
    """Forget pooled broker connections, so the next publish connects to the configured URL."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def unreachable_broker(real_broker, settings):
    """The broker — and the cache, which shares its Redis — pointing at a port nobody listens on."""
    dead = "redis://127.0.0.1:9/0"
    previous = celery_app.conf.broker_url
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}
    }
    celery_app.conf.broker_url = dead
    reset_broker_pools()
    yield
    celery_app.conf.broker_url = previous
    reset_broker_pools()


@pytest.fixture
def publishes():
    """The recompute tasks actually published to the broker, as lists of relationship ids."""
    from celery.signals import after_task_publish

    sent = []

    def record(sender=None, body=None, **kwargs):
        if sender == "kpis.tasks.recompute_relationship_scores":
            args = body[0] if isinstance(body, tuple) else body.get("args")
            sent.append(list(args[0]))

    after_task_publish.connect(record, weak=False)
    yield sent
    after_task_publish.disconnect(record)

"""Liveness and readiness, for the load balancer, the orchestrator and compose health checks.

`/healthz` says the process answers and touches nothing else, so a database incident does not get
every web worker restarted. `/readyz` says whether this process can serve: the database answers and
has every migration applied, and Redis answers when it is configured. A failing part is named in a
503 within a few seconds (connect and socket timeouts below), never a hang.
"""

import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

REDIS_TIMEOUT_SECONDS = 2

# Reading the migration graph loads every migration file; once this process has seen them all
# applied they stay applied (a new one arrives with a new deploy, i.e. a new process).
_migrations_applied = False


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    global _migrations_applied
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        pending = []
        if not _migrations_applied:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as error:  # any failure to reach the database is "not ready", never a 500
        connection.close_if_unusable_or_obsolete()
        return f"unreachable: {type(error).__name__}"
    if pending:
        return f"{len(pending)} migration(s) not applied"
    _migrations_applied = True
    return None


def _check_redis() -> str | None:
    if not settings.REDIS_URL:
        return None
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        client.ping()
    except Exception as error:  # redis-py raises several kinds; all mean "not ready"
        return f"unreachable: {type(error).__name__}"
    return None


@never_cache
@require_GET
def readyz(request):
    started = time.monotonic()
    checks = {"database": _check_database(), "redis": _check_redis()}
    failing = {name: problem for name, problem in checks.items() if problem}
    body = {
        "status": "unavailable" if failing else "ok",
        "checks": {
            name: (problem or ("ok" if name != "redis" or settings.REDIS_URL else "not configured"))
            for name, problem in checks.items()
        },
        "seconds": round(time.monotonic() - started, 3),
    }
    return JsonResponse(body, status=503 if failing else 200)

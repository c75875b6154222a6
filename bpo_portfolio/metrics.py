"""Prometheus metrics at /metrics.

Request counts and latencies by route, and database query counts, come from django-prometheus
(its middleware and database backends). This module adds what is ours: Celery task counts,
durations and failures, roll-up duration and rows written, and — read at scrape time — the
relationships whose score is stale and waiting for a recompute.

Under gunicorn every worker is a process of its own: with `PROMETHEUS_MULTIPROC_DIR` set (the
gunicorn config sets it up and marks dead workers) the scrape adds up all of them, so a counter
says how many requests the server answered, whichever worker answered them.
"""

import ipaddress
import os
import secrets

import prometheus_client
from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily

TASKS = Counter(
    "portfolio_celery_tasks_total", "Celery tasks finished, by task and outcome", ["task", "outcome"]
)
TASK_SECONDS = Histogram("portfolio_celery_task_seconds", "Celery task run time", ["task"])
ROLLUP_SECONDS = Histogram(
    "portfolio_rollup_seconds",
    "Score roll-up duration",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
ROLLUP_ROWS = Counter("portfolio_rollup_rows_written_total", "Score rows written by roll-ups")
ROLLUP_RELATIONSHIPS = Counter("portfolio_rollup_relationships_total", "Relationships computed by roll-ups")


class BacklogCollector:
    """Read at scrape time from the database: work that is waiting."""

    def collect(self):
        from kpis.models import PendingScoreRecompute

        stale = GaugeMetricFamily(
            "portfolio_stale_relationships", "Relationships whose current score waits for a recompute"
        )
        stale.add_metric([], PendingScoreRecompute.objects.count())
        yield stale


def _registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    return registry


_backlog = BacklogCollector()


def _allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        return secrets.compare_digest(sent.encode(), f"Bearer {token}".encode())
    address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "0.0.0.0"))
    return any(address in ipaddress.ip_network(network) for network in settings.METRICS_ALLOWED_NETWORKS)


@never_cache
@require_GET
def metrics(request):
    """The Prometheus text format; a bearer token (METRICS_TOKEN) or an allowed network only."""
    if not _allowed(request):
        return HttpResponseForbidden("Metrics need the metrics token or an allowed network.\n")
    registry = _registry()
    body = prometheus_client.generate_latest(registry)
    backlog_registry = prometheus_client.CollectorRegistry()
    backlog_registry.register(_backlog)
    body += prometheus_client.generate_latest(backlog_registry)
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)


# --- Feeding the counters ------------------------------------------------------------------------

_task_started: dict[str, float] = {}


def _task_prerun(task_id=None, **kwargs):
    import time

    _task_started[task_id] = time.monotonic()


def _task_postrun(task_id=None, task=None, state=None, **kwargs):
    import time

    started = _task_started.pop(task_id, None)
    name = getattr(task, "name", "unknown")
    if started is not None:
        TASK_SECONDS.labels(name).observe(time.monotonic() - started)
    TASKS.labels(name, (state or "unknown").lower()).inc()


def _rolled_up(*, rows_written, relationships, seconds, **kwargs):
    ROLLUP_SECONDS.observe(seconds)
    ROLLUP_ROWS.inc(rows_written)
    ROLLUP_RELATIONSHIPS.inc(relationships)


def connect() -> None:
    from celery import signals

    from kpis.signals import scores_rolled_up

    signals.task_prerun.connect(_task_prerun, weak=False, dispatch_uid="metrics.task_prerun")
    signals.task_postrun.connect(_task_postrun, weak=False, dispatch_uid="metrics.task_postrun")
    scores_rolled_up.connect(_rolled_up, weak=False, dispatch_uid="metrics.rolled_up")

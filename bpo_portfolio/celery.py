"""The Celery application; configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery

from bpo_portfolio.broker import use_resilient_redis_transport

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bpo_portfolio.settings")
# Before any broker connection exists: a worker survives losing Redis (bpo_portfolio.broker).
use_resilient_redis_transport()

app = Celery("bpo_portfolio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Tasks run under the request id of the request that published them.
from bpo_portfolio.observability import connect_celery_signals  # noqa: E402

connect_celery_signals()

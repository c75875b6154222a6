"""Settings come from the environment, with a working embedded default and a strict production mode."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'],"
    " 'eager': settings.CELERY_TASK_ALWAYS_EAGER, 'broker': settings.CELERY_BROKER_URL,"
    " 'debug': settings.DEBUG, 'cache': settings.CACHES['default']['BACKEND'],"
    " 'secret_set': bool(settings.SECRET_KEY), 'db_name': str(settings.DATABASES['default']['NAME'])}))"
)
VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "DJANGO_DEBUG",
    "DJANGO_ENV",
    "DJANGO_SECRET_KEY",
)


def load_settings(**overrides):
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="bpo_portfolio.settings", **overrides)
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True)
    return result


def test_embedded_default_with_nothing_set():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    # django-prometheus wraps the backend to count queries for /metrics.
    assert values["engine"] == "django_prometheus.db.backends.sqlite3"
    assert values["eager"] is True
    assert values["debug"] is False
    assert values["secret_set"] is True
    assert values["cache"].endswith("LocMemCache")


def test_database_and_redis_urls_switch_to_real_services():
    result = load_settings(
        DATABASE_URL="postgres://u@db.example:5432/portfolio",
        REDIS_URL="redis://r.example:6379/2",
        DJANGO_DEBUG="true",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django_prometheus.db.backends.postgresql"
    assert values["db_name"] == "portfolio"
    assert values["eager"] is False
    assert values["broker"] == "redis://r.example:6379/2"
    assert values["cache"].endswith("RedisCache")
    assert values["debug"] is True


def test_celery_broker_url_alone_selects_a_real_broker():
    result = load_settings(CELERY_BROKER_URL="redis://broker.example:6379/0")
    values = json.loads(result.stdout)
    assert (values["eager"], values["broker"]) == (False, "redis://broker.example:6379/0")


def test_production_refuses_to_start_without_secret_key():
    result = load_settings(DJANGO_ENV="production")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_starts_with_secret_key():
    result = load_settings(DJANGO_ENV="production", DJANGO_SECRET_KEY="s" * 50)
    assert result.returncode == 0, result.stderr

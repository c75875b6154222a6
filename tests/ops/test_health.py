"""Liveness and readiness: /healthz never touches the database, /readyz names what is not ready."""

import time

import pytest
from django.db import OperationalError, connections
from django.db.migrations.executor import MigrationExecutor

from bpo_portfolio import health

pytestmark = pytest.mark.django_db


def test_liveness_answers_without_a_single_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_liveness_answers_while_the_database_is_down(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections["default"], "cursor", refuse)
    assert client.get("/healthz").status_code == 200


def test_readiness_checks_database_migrations_and_redis(client, settings):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == ("ok" if settings.REDIS_URL else "not configured")


def test_readiness_names_an_unreachable_database(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections["default"], "cursor", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unreachable: OperationalError"


def test_readiness_names_unapplied_migrations(client, monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)  # as a process that has not checked yet
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("kpis", "9999_next")])
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "1 migration(s) not applied"


def test_readiness_names_an_unreachable_redis_within_seconds(client, settings):
    # Nothing listens on port 1: a real refused connection, not a mock.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"].startswith("unreachable")
    assert body["checks"]["database"] == "ok"


def test_the_older_health_path_is_readiness(client):
    assert client.get("/health/").json()["checks"]["database"] == "ok"

"""Shared fixtures. In CI (CI=true) the suite refuses to run without real PostgreSQL and Redis."""

import datetime as dt
import ipaddress
import os
from decimal import Decimal

import pytest
from django.conf import settings

from projects.access import Role
from tests.factories import (
    ClientFactory,
    MeasurementFactory,
    ProjectFactory,
    ProviderFactory,
    RelationshipFactory,
    UserFactory,
)


def pytest_report_header(config):
    vendor = settings.DATABASE_VENDOR
    broker = settings.CELERY_BROKER_URL if not settings.CELERY_TASK_ALWAYS_EAGER else "eager (in-process)"
    return [
        f"database: {'PostgreSQL' if vendor == 'postgresql' else 'SQLite (embedded default)'}",
        f"celery: {broker}",
    ]


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def pytest_sessionstart(session):
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return
    problems = []
    if settings.DATABASE_VENDOR != "postgresql":
        problems.append("DATABASE_URL does not point at PostgreSQL")
    else:
        import psycopg2

        database = settings.DATABASES["default"]
        try:
            psycopg2.connect(
                dbname=database["NAME"] or "postgres",
                user=database.get("USER") or None,
                password=database.get("PASSWORD") or None,
                host=database.get("HOST") or None,
                port=database.get("PORT") or None,
                connect_timeout=5,
            ).close()
        except psycopg2.Error as error:
            problems.append(f"PostgreSQL unreachable: {error}")
    if not settings.REDIS_URL:
        problems.append("REDIS_URL is not set")
    elif not _redis_reachable():
        problems.append(f"Redis unreachable at {settings.REDIS_URL}")
    if problems:
        pytest.exit("CI needs real services: " + "; ".join(problems), returncode=3)


@pytest.fixture(autouse=True)
def reference_data(request):
    """Roles and process areas; transactional tests flush the rows the migration created."""
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and marker.kwargs.get("transaction", False)
    if transactional or "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        from projects.reference_data import ensure_reference_data

        request.getfixturevalue("transactional_db")
        ensure_reference_data()


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin-user", role=Role.ADMIN, is_staff=True)


@pytest.fixture
def executive(db):
    return UserFactory(username="exec-user", role=Role.EXECUTIVE)


@pytest.fixture
def account_manager(db):
    return UserFactory(username="am-user", role=Role.ACCOUNT_MANAGER)


@pytest.fixture
def other_account_manager(db):
    return UserFactory(username="am-other", role=Role.ACCOUNT_MANAGER)


@pytest.fixture
def portfolio(db, account_manager):
    """Two clients served by one provider; the account manager looks after the first only."""
    provider = ProviderFactory(name="Shared Provider")
    client_a = ClientFactory(name="Client A")
    client_b = ClientFactory(name="Client B")
    rel_a = RelationshipFactory(
        name="A with provider", client=client_a, provider=provider, account_managers=[account_manager]
    )
    rel_b = RelationshipFactory(name="B with provider", client=client_b, provider=provider)
    return {"provider": provider, "client_a": client_a, "client_b": client_b, "rel_a": rel_a, "rel_b": rel_b}


@pytest.fixture
def client_viewer_a(portfolio):
    return UserFactory(username="viewer-a", role=Role.CLIENT_VIEWER, organization=portfolio["client_a"])


@pytest.fixture
def table(portfolio, account_manager, client_viewer_a):
    """Relationship A (client A ↔ the provider) with a project, a measurement and a stored score;
    its people on each side, and people who must never read what is internal to a side."""
    from kpis.models import RelationshipScore

    provider, client_a, client_b = portfolio["provider"], portfolio["client_a"], portfolio["client_b"]
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Vendor management")
    measurement = MeasurementFactory(project_kpi__project=project)
    score = RelationshipScore.objects.create(
        relationship=portfolio["rel_a"], period=dt.date(2025, 1, 1), score=Decimal("48.80"), tier="steady"
    )
    people = {
        # client A's side
        "client_contributor": UserFactory(username="carla", role=Role.CONTRIBUTOR, organization=client_a),
        "client_colleague": UserFactory(username="cole", role=Role.CONTRIBUTOR, organization=client_a),
        "client_viewer": client_viewer_a,
        # the provider's side
        "account_manager": account_manager,
        "provider_contributor": UserFactory(username="pia", role=Role.CONTRIBUTOR, organization=provider),
        # no side of relationship A
        "admin": UserFactory(username="root", role=Role.ADMIN),
        "portfolio_executive": UserFactory(username="pex", role=Role.EXECUTIVE),
        "client_b_contributor": UserFactory(username="bert", role=Role.CONTRIBUTOR, organization=client_b),
        "no_role": UserFactory(username="nora", organization=client_a),
    }
    return {
        **portfolio,
        "relationship": portfolio["rel_a"],
        "project": project,
        "project_kpi": measurement.project_kpi,
        "measurement": measurement,
        "score": score,
        "people": people,
        **people,
    }


@pytest.fixture(autouse=True)
def no_dns_lookups(monkeypatch):
    """Webhook URLs are resolved to check where they lead; tests never ask a real resolver. IP
    literals and localhost resolve as usual; `tests.conftest.FAKE_DNS` names resolve as listed;
    any other name does not resolve."""
    import socket

    from webhooks import ssrf

    def fake_getaddrinfo(host, port, *args, **kwargs):
        host = FAKE_DNS.get(host, host)
        if host == "localhost":
            host = "127.0.0.1"
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise socket.gaierror(
                socket.EAI_NONAME, "Name or service not known (tests resolve no names)"
            ) from None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (host, port))]

    monkeypatch.setattr(ssrf, "_getaddrinfo", fake_getaddrinfo)


class RecordingScheduler:
    """Stands in for the in-process delivery scheduler: records what would run, runs nothing."""

    def __init__(self):
        self.calls = []

    def call_later(self, delay, function, *args):
        self.calls.append((delay, function, args))

    def pending(self) -> int:
        return len(self.calls)


@pytest.fixture(autouse=True)
def in_process_deliveries(request, monkeypatch):
    """Without a broker, deliveries run on a background thread (webhooks.scheduler). Tests call
    the delivery functions themselves unless marked `inprocess_deliveries`, so no thread outlives
    a test or writes into another test's data."""
    if request.node.get_closest_marker("inprocess_deliveries"):
        return None
    from webhooks import dispatch

    recorder = RecordingScheduler()
    monkeypatch.setattr(dispatch, "scheduler", recorder)
    return recorder


# Host names the tests' resolver knows (tests may add their own with monkeypatch.setitem).
FAKE_DNS: dict[str, str] = {}


@pytest.fixture(autouse=True)
def celery_eager_outside_worker_tests(request):
    """Tasks run in-process unless a test is marked `celery_worker` (a real broker and worker).

    With REDIS_URL set the app publishes to Redis; without this, every transactional test that
    saves a project would leave a message there for no worker to take.
    """
    from celery._state import _set_task_join_will_block

    from bpo_portfolio.celery import app

    # Celery keeps "may a result be awaited here?" in one process-wide flag that every eager task
    # sets and restores; eager tasks run at once in several threads (a live server and the test,
    # or racing writers) can leave it set. Each test starts from the state of a plain process.
    _set_task_join_will_block(False)
    if request.node.get_closest_marker("celery_worker"):
        yield
        return

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous

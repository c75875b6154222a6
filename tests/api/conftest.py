"""Fixtures of the API tests: clients per role, a small two-relationship portfolio, clean throttles."""

import datetime as dt
import os
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from projects.access import Role
from tests.factories import (
    KPIFactory,
    MeasurementFactory,
    ProjectFactory,
    ProjectKPIFactory,
    UserFactory,
)

# Parallel test workers share one Redis database (and their users share ids): each keeps its cache
# keys under its own prefix, so that one clearing its throttle counters never resets another's.
CACHE_PREFIX = f"test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def clear_throttles() -> None:
    """Forget this worker's throttle counters (only those: the Redis database holds other keys)."""
    if settings.REDIS_URL:
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{cache.key_prefix}:*throttle_*"))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are made by the dozen here; the production hasher's cost is not under test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": CACHE_PREFIX}}


@pytest.fixture(autouse=True)
def _fresh_throttles(_own_cache_keys):
    clear_throttles()
    yield
    clear_throttles()


@pytest.fixture
def client_viewer_b(portfolio):
    return UserFactory(username="viewer-b", role=Role.CLIENT_VIEWER, organization=portfolio["client_b"])


@pytest.fixture
def no_role_user(db):
    return UserFactory(username="nobody")


@pytest.fixture
def api_as():
    """api_as(user) -> an APIClient signed in as `user` (None: anonymous)."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def world(portfolio):
    """Per relationship: a project with a tracked KPI and two measurements."""
    kpi = KPIFactory(code="fill_rate", name="Fill rate", external_id="kpi-fill")
    rows = {"kpi": kpi, **portfolio}
    for key in ("a", "b"):
        project = ProjectFactory(
            relationship=portfolio[f"rel_{key}"], title=f"Project {key.upper()}", external_id=f"p-{key}"
        )
        project_kpi = ProjectKPIFactory(
            project=project,
            kpi=kpi,
            baseline_value=Decimal("60"),
            baseline_date=dt.date(2024, 1, 1),
            target_value=Decimal("90"),
            external_id=f"pk-{key}",
        )
        MeasurementFactory(project_kpi=project_kpi, measured_on=dt.date(2024, 3, 1), value=Decimal("70"))
        measurement = MeasurementFactory(
            project_kpi=project_kpi,
            measured_on=dt.date(2024, 6, 1),
            value=Decimal("85"),
            external_id=f"m-{key}",
        )
        rows.update(
            {f"project_{key}": project, f"project_kpi_{key}": project_kpi, f"measurement_{key}": measurement}
        )
    return rows

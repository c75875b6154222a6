"""CSRF on every form: every route of the browser layer, the sign-in and sign-out forms and the
admin refuse a POST without the CSRF token (403, nothing written), and the same POST with the
token gets past the check. The routes are read from the URL configuration, so a new form cannot
be forgotten."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.services import issue_token
from projects.access import Role
from projects.models import AuditEntry
from tests.factories import (
    MeasurementFactory,
    ProjectFactory,
    ProjectKPIFactory,
    RelationshipFactory,
    UserFactory,
)
from tests.webhooks.helpers import endpoint_for

pytestmark = pytest.mark.django_db


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def browser_routes() -> list[str]:
    """Every route outside the API, the admin and the static/metrics endpoints."""
    routes = []
    for route, _pattern in _routes(get_resolver().url_patterns):
        if route.startswith(("api/", "admin/", "healthz", "readyz", "metrics", "health/")):
            continue
        routes.append(route)
    return routes


@pytest.fixture
def world():
    admin = UserFactory(username="csrf-admin", role=Role.ADMIN, is_staff=True, is_superuser=True)
    relationship = RelationshipFactory()
    project = ProjectFactory(relationship=relationship, stage="in_progress", started_on=dt.date(2024, 1, 1))
    project_kpi = ProjectKPIFactory(project=project)
    measurement = MeasurementFactory(
        project_kpi=project_kpi, measured_on=dt.date(2024, 6, 1), value=Decimal("70")
    )
    token, _key = issue_token(admin, name="csrf check")
    endpoint = endpoint_for(admin, "https://93.184.215.14/hooks")  # a public address; nothing delivers here
    # Each route parameter by the path segment before it (a record's pk) or by its own name. A
    # record that does not exist answers 404 after the check, which is still past it.
    ids = {
        "relationships": relationship.pk,
        "projects": project.pk,
        "tokens": token.pk,
        "kpi_pk": project_kpi.pk,
        "measurement_pk": measurement.pk,
        "webhooks": endpoint.pk,
        "people": admin.pk,
        "month": "2024-06",
        "kind": "relationships",
        "notifications": MISSING,
        "saved-filters": MISSING,
        "signoff_pk": MISSING,
        "comments": MISSING,
        "contests": MISSING,
        "contributors": MISSING,
        "imports": MISSING,
        "record_type": "measurements",
    }
    return admin, ids


MISSING = 2_000_000_000


def concrete(route: str, ids: dict) -> str:
    def parameter(match: re.Match) -> str:
        name = match["name"]
        key = route[: match.start()].rstrip("/").rsplit("/", 1)[-1] if name == "pk" else name
        assert key in ids, f"no id for {route}: add it to the world fixture"
        return str(ids[key])

    return "/" + re.sub(r"<(?:\w+:)?(?P<name>\w+)>", parameter, route)


CSRF_REFUSED = "refused by the CSRF check"


def is_csrf_refusal(response) -> bool:
    """Django's CSRF failure view answers 403 with its own reason."""
    return response.status_code == 403 and b"CSRF verification failed" in response.content


# Plausible bodies, so that a request that passes the CSRF check would write something.
BODY = {
    "title": "Changed by a forged request",
    "level": "operational",
    "to_stage": "delivered",
    "value": "99",
    "measured_on": "2024-07-01",
    "client_leader": "Mallory",
    "provider_leader": "Mallory",
    "started_on": "2024-02-01",
    "name": "forged",
    "username": "csrf-admin",
    "password": "irrelevant",
}


def test_every_browser_route_refuses_a_post_without_the_csrf_token(world):
    admin, ids = world
    routes = browser_routes()
    assert len(routes) >= 20  # the pages and forms of the browser layer, sign-in and sign-out
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(admin)
    audit_before = AuditEntry.objects.count()
    refused = {}
    for route in routes:
        url = concrete(route, ids)
        response = forged.post(url, BODY)
        refused[url] = CSRF_REFUSED if is_csrf_refusal(response) else response.status_code
    assert {url: status for url, status in refused.items() if status != CSRF_REFUSED} == {}
    assert AuditEntry.objects.count() == audit_before  # nothing was written


def test_the_same_posts_with_the_token_get_past_the_check(world):
    """The control: the 403 above is the CSRF check's, not the route's answer to any POST."""
    admin, ids = world
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    page = browser.get("/projects/new/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    for route in browser_routes():
        url = concrete(route, ids)
        if "logout" in url or "delete" in url or "revoke" in url:
            continue  # would end the session or remove the records the next routes need
        response = browser.post(url, {**BODY, "csrfmiddlewaretoken": token})
        # A 403 of the route's own (an admin is of neither side of a discussion) is past the check.
        assert not is_csrf_refusal(response), url


def test_the_admin_and_the_sign_in_form_refuse_a_post_without_the_csrf_token(world):
    admin, ids = world
    forged = Client(enforce_csrf_checks=True)
    assert forged.post("/accounts/login/", {"username": "csrf-admin", "password": "x"}).status_code == 403
    assert forged.post("/admin/login/", {"username": "csrf-admin", "password": "x"}).status_code == 403
    forged.force_login(admin)
    url = f"/admin/projects/innovationproject/{ids['projects']}/change/"
    assert forged.post(url, {"title": "forged"}).status_code == 403

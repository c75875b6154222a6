"""Hostile text in every free-text field that a page renders comes out escaped, on every page.

Each field gets its own payload — a quote to leave an attribute, then an element with a unique id —
written through the services, as a form or the API would. Every page that can show it is rendered
for a signed-in admin (who sees everything) and must not contain any payload's element unescaped;
and each field's escaped payload must appear on some page, so the test cannot pass by rendering
nothing.
"""

import datetime as dt
import html
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from accounts.services import issue_token
from kpis import services as kpi_services
from projects import services as project_services
from projects.access import Role
from tests.factories import (
    ClientFactory,
    KPIFactory,
    MeasurementFactory,
    ProjectFactory,
    ProjectKPIFactory,
    ProviderFactory,
    RelationshipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def payload(field: str) -> str:
    return f'"><i id=xss-{field}>'


def element(field: str) -> str:
    """What would reach the browser as markup if the payload were not escaped."""
    return f"<i id=xss-{field}>"


FIELDS = [
    "organization_name",
    "organization_industry",
    "organization_country",
    "relationship_name",
    "project_title",
    "project_description",
    "project_outcome",
    "project_cancellation_reason",
    "kpi_name",
    "kpi_description",
    "client_leader",
    "provider_leader",
    "owner_first_name",
    "owner_last_name",
    "token_name",
]


@pytest.fixture
def hostile_world():
    # A superuser: the admin pages of every model are among the pages checked.
    admin = UserFactory(username="xss-admin", role=Role.ADMIN, is_staff=True, is_superuser=True)
    owner = UserFactory(username="xss-owner", role=Role.ACCOUNT_MANAGER)
    User.objects.filter(pk=owner.pk).update(
        first_name=payload("owner_first_name"), last_name=payload("owner_last_name")
    )
    client = ClientFactory(
        name=payload("organization_name"),
        industry=payload("organization_industry"),
        country=payload("organization_country"),
    )
    relationship = RelationshipFactory(
        name=payload("relationship_name"),
        client=client,
        provider=ProviderFactory(),
        account_managers=[owner],
    )
    project_services.relationship_set_leadership(
        actor=admin,
        relationship=relationship,
        client_leader=payload("client_leader"),
        provider_leader=payload("provider_leader"),
        started_on=dt.date(2024, 1, 1),
    )
    today = dt.date.today()
    delivered = ProjectFactory(
        relationship=relationship,
        title="Plain title",
        description=payload("project_description"),
        owner=owner,
        level="process",
        stage="in_progress",
        started_on=today - dt.timedelta(days=90),
    )
    # Changed through the service, so the history shows the hostile value beside the old one.
    delivered = project_services.project_update(
        actor=admin, project=delivered, changes=project_services.ProjectFields(title=payload("project_title"))
    )
    delivered = project_services.project_advance(
        actor=admin,
        project=delivered,
        to_stage="delivered",
        dates={"delivered_on": today - dt.timedelta(days=10)},
        outcome=payload("project_outcome"),
        realised_annual_benefit=Decimal("1000"),
    )
    kpi = KPIFactory(name=payload("kpi_name"), description=payload("kpi_description"))
    project_kpi = ProjectKPIFactory(
        project=delivered, kpi=kpi, baseline_value=Decimal("60"), baseline_date=today - dt.timedelta(days=100)
    )
    MeasurementFactory(project_kpi=project_kpi, measured_on=today - dt.timedelta(days=5), value=Decimal("80"))
    cancelled = ProjectFactory(relationship=relationship, title="Stopped", owner=owner)
    cancelled = project_services.project_advance(
        actor=admin,
        project=cancelled,
        to_stage="cancelled",
        cancellation_reason=payload("project_cancellation_reason"),
    )
    issue_token(admin, name=payload("token_name"))
    kpi_services.kpi_update(actor=admin, kpi=kpi, changes=kpi_services.KPIFields(unit="percent"))
    return {
        "admin": admin,
        "relationship": relationship,
        "delivered": delivered,
        "cancelled": cancelled,
        "kpi": kpi,
    }


def test_every_free_text_field_is_escaped_on_every_page(client, hostile_world):
    client.force_login(hostile_world["admin"])
    relationship, delivered = hostile_world["relationship"], hostile_world["delivered"]
    pages = [
        "/",
        "/relationships/",
        f"/relationships/{relationship.pk}/",
        f"/relationships/{relationship.pk}/dashboard/",
        f"/relationships/{relationship.pk}/leadership/",
        "/projects/",
        f"/projects/?q={payload('search')}",
        f"/projects/{delivered.pk}/",
        f"/projects/{delivered.pk}/edit/",
        f"/projects/{hostile_world['cancelled'].pk}/",
        "/projects/new/",
        "/account/tokens/",
        # The admin renders the fields no other page shows (a country, a KPI's description).
        f"/admin/projects/innovationproject/{delivered.pk}/change/",
        "/admin/projects/relationship/",
        f"/admin/projects/organization/{relationship.client_id}/change/",
        f"/admin/kpis/kpi/{hostile_world['kpi'].pk}/change/",
        "/admin/kpis/kpi/",
    ]
    rendered = {}
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        rendered[page] = response.content.decode()

    for page, text in rendered.items():
        for field in [*FIELDS, "search"]:
            assert element(field) not in text, f"{field} reaches {page} unescaped"

    escaped = {field: html.escape(element(field)) for field in FIELDS}
    not_shown = [field for field in FIELDS if not any(escaped[field] in text for text in rendered.values())]
    assert not_shown == [], f"never rendered, so never checked: {not_shown}"

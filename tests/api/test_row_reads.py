"""Lists and objects read as rows (api.rows) show exactly what the serializers show.

The API answers list and detail reads from `values()` rows through a plan derived from each
serializer's fields; the serializer stays the definition. Here both are compared on a generated
portfolio with every stage, owners and none, decimals of every scale, gain-shares, KPIs with and
without measurements, contested figures and tombstones, for every resource whose reads take the
row path, so the two can never drift apart."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from api import serializers, views
from api.rows import Row, plan_for
from collab.models import Contest
from demo.scale import ScalePortfolio
from projects.access import Role
from projects.models import InnovationProject, SignOff
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Resources whose reads take the row path, with their viewsets.
ROW_RESOURCES = {
    "projects": views.ProjectViewSet,
    "organizations": views.OrganizationViewSet,
    "kpis": views.KPIViewSet,
    "measurements": views.MeasurementViewSet,
    "sign-offs": views.SignOffViewSet,
}


@pytest.fixture
def generated(db):
    """A small generated portfolio, made more varied: owners, a gain-share agreement with a
    realised benefit, odd decimals, a contested delivery date and deleted projects."""
    ScalePortfolio(count=6).run(scores=False)
    owner = UserFactory(username="olga", role=Role.ACCOUNT_MANAGER)
    projects = list(InnovationProject.objects.order_by("pk"))
    assert {project.stage for project in projects} >= {"idea", "proposed", "in_progress", "delivered"}
    InnovationProject.objects.filter(pk__in=[project.pk for project in projects[::3]]).update(owner=owner)
    delivered = next(project for project in projects if project.stage == "delivered")
    InnovationProject.objects.filter(pk=delivered.pk).update(
        gain_share_pct=Decimal("12.50"),
        gain_share_baseline=Decimal("1000.05"),
        realised_annual_benefit=Decimal("98765.43"),
        investment=Decimal("0.01"),
    )
    InnovationProject.objects.filter(pk=projects[1].pk).update(
        gain_share_pct=Decimal("33.33"), realised_annual_benefit=Decimal("0.00"), gain_share_baseline=None
    )
    Contest.objects.create(
        relationship_id=delivered.relationship_id,
        kind=Contest.Kind.DELIVERY_DATE,
        project=delivered,
        contested_value=str(delivered.delivered_on),
        reason="Delivered a week later.",
        raised_side="client",
        status=Contest.Status.OPEN,
    )
    now = timezone.now()
    SignOff.objects.create(
        project=delivered,
        kind=SignOff.Kind.BENEFIT,
        realised_annual_benefit=Decimal("98765.43"),
        request_note="Please confirm the benefit.",
        requested_by=owner,
    )
    SignOff.objects.create(
        project=projects[4],
        kind=SignOff.Kind.APPROVAL,
        status=SignOff.Status.DECLINED,
        requested_by=None,
        decided_by=owner,
        decided_at=now,
        decision_note="Not this quarter.",
    )
    InnovationProject.objects.filter(pk__in=[projects[2].pk, projects[-1].pk]).update(deleted_at=now)
    return {"projects": projects, "delivered": delivered}


@pytest.fixture
def admin(db):
    return UserFactory(username="ada", role=Role.ADMIN)


def as_json(data):
    """Data as a client parses it (DRF's own renderer: what the serializers' output looked like)."""
    import json

    return json.loads(JSONRenderer().render(data))


def serialized(viewset_class, user, *, include_deleted: bool, pk=None):
    """What the resource's serializer shows of the view's queryset, record by record (model
    instances, DRF fields: the way every read went before rows)."""
    view = viewset_class()
    view.request = APIRequestFactory().get("/")
    view.request.user = user
    view.format_kwarg = None
    queryset = view.base_queryset(user=user, include_deleted=include_deleted).order_by("pk")
    if pk is not None:
        queryset = queryset.filter(pk=pk)
    return as_json(viewset_class.serializer_class(queryset, many=True, context={"request": None}).data)


def test_the_resources_listed_here_are_those_whose_reads_take_the_row_path(admin):
    from api import collab

    viewsets = [
        viewset
        for module in (views, collab)
        for name, viewset in vars(module).items()
        if isinstance(viewset, type) and name.endswith("ViewSet") and getattr(viewset, "row_reads", False)
    ]
    assert set(viewsets) == set(ROW_RESOURCES.values())
    for viewset in viewsets:
        plan = plan_for(viewset.serializer_class)
        assert plan is not None
        assert plan.reads_columns_of(viewset().base_queryset(user=admin, include_deleted=False))


def test_a_plan_is_unavailable_where_a_field_is_nested_or_many_valued_or_not_a_column(admin):
    assert plan_for(serializers.RelationshipSerializer) is None  # many-valued process areas
    assert plan_for(serializers.ScoreSerializer) is None  # nested components
    # improvement_pct is a property of the model, computed in Python: not a column to read.
    project_kpis = views.ProjectKPIViewSet().base_queryset(user=admin, include_deleted=False)
    assert not plan_for(serializers.ProjectKPISerializer).reads_columns_of(project_kpis)


@pytest.mark.parametrize("resource", ROW_RESOURCES)
def test_a_list_page_shows_what_the_serializer_shows(generated, admin, api_as, resource):
    response = api_as(admin).get(f"/api/v1/{resource}/?page_size=500")
    assert response.status_code == 200, response.content
    expected = serialized(ROW_RESOURCES[resource], admin, include_deleted=False)
    assert response.json()["results"] == expected
    assert len(expected) >= {"projects": 30, "sign-offs": 2}.get(resource, 5)


@pytest.mark.parametrize("resource", ROW_RESOURCES)
def test_a_sync_pass_shows_tombstones_as_the_serializer_does(
    transactional_db, generated, admin, api_as, resource
):
    # Committed rows: a sync pass stops short of changes still in an open transaction.
    shown, url = [], f"/api/v1/{resource}/?sync=0&page_size=7"
    while url:
        body = api_as(admin).get(url).json()
        shown += body["results"]
        url = body["next"]
    expected = serialized(ROW_RESOURCES[resource], admin, include_deleted=True)
    assert sorted(shown, key=lambda record: record["id"]) == expected
    if resource == "projects":
        assert any(record["deleted_at"] for record in shown)


def test_every_project_reads_alike_in_detail(generated, admin, api_as):
    client = api_as(admin)
    for project in generated["projects"]:
        response = client.get(f"/api/v1/projects/{project.pk}/")
        assert response.status_code == 200
        assert response["ETag"] == f'"{project.version}"'
        assert [response.json()] == serialized(
            views.ProjectViewSet, admin, include_deleted=True, pk=project.pk
        )


def test_the_varied_figures_are_there(generated, admin, api_as):
    """The data above does exercise what could go wrong: computed figures, nulls, flags, owners."""
    results = api_as(admin).get("/api/v1/projects/?page_size=500").json()["results"]
    delivered = next(record for record in results if record["id"] == generated["delivered"].pk)
    assert delivered["gain_share"] == "12220.67"  # 12.5 % of 97,765.38, to the cent
    assert delivered["investment"] == "0.01"
    assert delivered["delivery_date_contested"] is True
    assert {record["owner"] for record in results} == {"olga", None}
    impacts = {record["impact_pct"] for record in results}
    assert None in impacts and len(impacts) > 3
    assert any(record["gain_share"] == "0.00" for record in results)


def test_a_row_reads_like_the_record_it_stands_for():
    row = Row(id=7, version=3)
    assert (row.pk, row.id, row.version) == (7, 7, 3)
    assert getattr(row, "computed_at", None) is None


def test_a_list_in_another_time_zone_shows_times_as_the_serializer_does(generated, admin, api_as):
    with timezone.override(dt.timezone(dt.timedelta(hours=5, minutes=30))):
        results = api_as(admin).get("/api/v1/projects/?page_size=500").json()["results"]
        assert results == serialized(views.ProjectViewSet, admin, include_deleted=False)
    assert results[0]["updated_at"].endswith("+05:30")


def test_the_admin_in_this_test_sees_every_live_project(generated, admin, api_as):
    live = InnovationProject.objects.filter(deleted_at=None, relationship__deleted_at=None).count()
    assert api_as(admin).get("/api/v1/projects/?page_size=1").json()["count"] == live
    assert User.objects.filter(username="olga").exists()

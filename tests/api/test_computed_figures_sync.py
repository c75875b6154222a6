"""Computed figures travel in sync: a new measurement re-sends the records whose figures moved."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kpis import services as kpi_services
from kpis.rollup import rollup_scores
from projects.models import InnovationProject

# Sync passes compare stamps against other transactions: rows must be committed, as a client's are.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("transactional_db")]


def _sync(client, resource, cursor="0"):
    """Every row of one sync pass (all pages) and the cursor to keep."""
    rows, params = [], {"sync": cursor, "page_size": 50}
    while True:
        body = client.get(f"/api/v1/{resource}/", params).json()
        rows += body["results"]
        if not body["has_more"]:
            return rows, body["next_sync"]
        params = {"sync": body["next_sync"], "page_size": 50}


def _caught_up(client, resources):
    cursors = {}
    for resource in resources:
        _rows, cursors[resource] = _sync(client, resource)
    return cursors


RESOURCES = ("project-kpis", "projects", "relationships")


def test_a_new_measurement_re_sends_its_project_kpi_project_and_relationship(admin_user, world, api_as):
    client = api_as(admin_user)
    # Delivered this month, so that project A's KPIs count in the relationship's current score.
    InnovationProject.objects.filter(pk=world["project_a"].pk).update(
        stage=InnovationProject.Stage.DELIVERED, delivered_on=timezone.localdate()
    )
    rollup_scores(period=timezone.localdate())  # the figures as they stand
    cursors = _caught_up(client, RESOURCES)
    before = {
        "project-kpis": client.get(f"/api/v1/project-kpis/{world['project_kpi_a'].pk}/").json(),
        "projects": client.get(f"/api/v1/projects/{world['project_a'].pk}/").json(),
        "relationships": client.get(f"/api/v1/relationships/{world['rel_a'].pk}/").json(),
    }

    kpi_services.measurement_record(
        actor=None,
        fields=kpi_services.MeasurementFields(
            project_kpi=world["project_kpi_a"], measured_on=timezone.localdate(), value=Decimal("90")
        ),
    )  # committed: the recompute runs right after (eager)

    changes = {resource: _sync(client, resource, cursors[resource]) for resource in RESOURCES}
    [project_kpi], _ = changes["project-kpis"]
    assert project_kpi["id"] == world["project_kpi_a"].pk
    assert Decimal(project_kpi["latest_value"]) == Decimal("90")
    assert project_kpi["latest_value"] != before["project-kpis"]["latest_value"]
    [project], _ = changes["projects"]
    assert project["id"] == world["project_a"].pk
    assert project["impact_pct"] != before["projects"]["impact_pct"]
    [relationship], _ = changes["relationships"]
    assert relationship["id"] == world["rel_a"].pk
    assert relationship["current_score"] != before["relationships"]["current_score"]
    # Not a change of the client's records: the concurrency token stays.
    for resource, row in (
        ("project-kpis", project_kpi),
        ("projects", project),
        ("relationships", relationship),
    ):
        assert row["version"] == before[resource]["version"], resource

    # The other relationship's records did not move; and the next pass is empty (no re-send loop).
    rollup_scores(period=timezone.localdate())
    for resource in RESOURCES:
        rows, _ = _sync(client, resource, changes[resource][1])
        assert rows == [], resource


def test_a_deleted_measurement_re_sends_the_figures_it_fed(admin_user, world, api_as):
    client = api_as(admin_user)
    rollup_scores(period=timezone.localdate())
    cursors = _caught_up(client, ("project-kpis", "projects"))
    kpi_services.measurement_delete(actor=None, measurement=world["measurement_b"])
    [project_kpi], _ = _sync(client, "project-kpis", cursors["project-kpis"])
    assert project_kpi["id"] == world["project_kpi_b"].pk
    assert Decimal(project_kpi["latest_value"]) == Decimal("70")  # the earlier measurement is latest now
    assert project_kpi["latest_measured_on"] == dt.date(2024, 3, 1).isoformat()
    [project], _ = _sync(client, "projects", cursors["projects"])
    assert project["id"] == world["project_b"].pk


def test_a_deleted_relationship_sends_its_scores_as_tombstones(admin_user, world, api_as):
    from projects import services

    client = api_as(admin_user)
    rollup_scores(period=timezone.localdate())
    scores, cursor = _sync(client, "scores")
    mine = {row["id"] for row in scores if row["relationship"] == world["rel_a"].pk}
    assert mine and all(row["deleted_at"] is None for row in scores)

    services.relationship_delete(actor=admin_user, relationship=world["rel_a"])

    changes, _ = _sync(client, "scores", cursor)
    tombstones = {row["id"]: row for row in changes if row["relationship"] == world["rel_a"].pk}
    assert set(tombstones) == mine
    assert all(row["deleted_at"] is not None for row in tombstones.values())
    # A plain list shows live scores only; the tombstone still answers on its own route.
    listed = {row["id"] for row in client.get("/api/v1/scores/").json()["results"]}
    assert not listed & mine
    some = next(iter(mine))
    assert client.get(f"/api/v1/scores/{some}/").json()["deleted_at"] is not None

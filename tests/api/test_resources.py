"""CRUD per resource through the services: fields, computed values, server-managed fields,
stage rules, audit history, ETags, conflicts."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kpis.models import KPI, Measurement, ProjectKPI, RelationshipScore
from projects import services
from projects.models import AuditEntry, InnovationProject, Organization, Relationship
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

SYNC_KEYS = {"id", "external_id", "version", "created_at", "updated_at", "deleted_at"}


def crud(client, resource, create, change, model):
    """Create, read, list, PUT, PATCH, delete one record; return what each step answered."""
    created = client.post(f"/api/v1/{resource}/", create)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert set(body) >= SYNC_KEYS
    assert body["version"] == 1 and body["deleted_at"] is None
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"].endswith(f"/api/v1/{resource}/{body['id']}/")
    url = f"/api/v1/{resource}/{body['id']}/"

    read = client.get(url)
    assert read.status_code == 200 and read.json() == body and read.headers["ETag"] == '"1"'
    assert body["id"] in [
        row["id"] for row in client.get(f"/api/v1/{resource}/?page_size=500").json()["results"]
    ]

    put = client.put(url, {**body, **change})
    assert put.status_code == 200, put.json()
    assert put.json()["version"] == 2 and put.headers["ETag"] == '"2"'
    for key, value in change.items():
        assert put.json()[key] == value

    unchanged = client.patch(url, change)
    assert unchanged.status_code == 200 and unchanged.json()["version"] == 2  # no change, no new version

    deleted = client.delete(url, HTTP_IF_MATCH='"2"')
    assert deleted.status_code == 204
    row = model.objects.get(pk=body["id"])
    assert row.deleted_at is not None and row.version == 3
    assert body["id"] not in [row["id"] for row in client.get(f"/api/v1/{resource}/").json()["results"]]
    tombstone = client.get(url)
    assert tombstone.status_code == 200 and tombstone.json()["deleted_at"] is not None
    assert client.patch(url, change).status_code == 409  # a tombstone no longer changes
    assert client.delete(url).status_code == 204  # deleting twice is a no-op
    history = client.get(url + "history/").json()["results"]
    assert [entry["action"] for entry in history] == ["delete", "update", "create"]
    assert all(entry["actor"] == "admin-user" for entry in history)
    return body


def test_organizations_crud(admin_user, api_as, db):
    crud(
        api_as(admin_user),
        "organizations",
        {
            "name": "Globex",
            "kind": "client",
            "industry": "Retail",
            "country": "France",
            "external_id": "org-1",
        },
        {"industry": "Grocery"},
        Organization,
    )


def test_relationships_crud(admin_user, account_manager, world, api_as):
    services.organization_update(
        actor=None,
        organization=world["provider"],
        changes=services.OrganizationFields(external_id="prov-ext"),
    )
    body = crud(
        api_as(admin_user),
        "relationships",
        {
            "name": "New deal",
            "client": world["client_a"].pk,
            "provider": "prov-ext",  # parents may be named by external_id
            "process_areas": ["claims", "analytics"],
            "contract_start": "2024-01-01",
            "contract_end": "2026-12-31",
            "annual_contract_value": "250000.00",
            "account_managers": ["am-user"],
        },
        {"status": "renewing"},
        Relationship,
    )
    assert sorted(body["process_areas"]) == ["analytics", "claims"]
    assert body["account_managers"] == ["am-user"] and body["current_score"] is None
    assert body["provider"] == world["provider"].pk


def test_projects_crud(admin_user, world, api_as):
    body = crud(
        api_as(admin_user),
        "projects",
        {
            "relationship": world["rel_a"].pk,
            "title": "Forecasting tools",
            "level": "process",
            "investment": "120000.00",
            "expected_annual_benefit": "300000.00",
            "funding": "gain_share",
            "gain_share_pct": "20.00",
            "owner": "admin-user",
        },
        {"title": "Forecasting tools v2"},
        InnovationProject,
    )
    assert body["stage"] == "idea" and body["impact_pct"] is None and body["owner"] == "admin-user"


def test_kpis_crud(admin_user, api_as, db):
    crud(
        api_as(admin_user),
        "kpis",
        {"code": "turnaround", "name": "Turnaround", "unit": "hours", "direction": "lower_is_better"},
        {"name": "Turnaround to grounded vehicles"},
        KPI,
    )


def test_project_kpis_crud(admin_user, world, api_as):
    turnaround = KPI.objects.create(code="tat", name="TAT", unit="hours", direction="lower_is_better")
    body = crud(
        api_as(admin_user),
        "project-kpis",
        {"project": "p-a", "kpi": turnaround.pk, "baseline_value": "21", "baseline_date": "2024-01-01"},
        {"target_value": "15.0000"},
        ProjectKPI,
    )
    assert body["unit"] == "hours" and body["latest_value"] is None and body["improvement_pct"] is None


def test_measurements_crud(admin_user, world, api_as):
    body = crud(
        api_as(admin_user),
        "measurements",
        {"project_kpi": "pk-a", "measured_on": "2024-09-01", "value": "88", "external_id": "m-new"},
        {"value": "89.0000"},
        Measurement,
    )
    assert body["project_kpi"] == world["project_kpi_a"].pk and body["unit"] == "percent"


def test_computed_figures_follow_the_latest_measurement(admin_user, world, api_as):
    client = api_as(admin_user)
    project_kpi = client.get(f"/api/v1/project-kpis/{world['project_kpi_a'].pk}/").json()
    # baseline 60, latest 85, target 90: +41.67 % improvement, 83.33 % of the target
    assert project_kpi["latest_value"] == "85.0000" and project_kpi["latest_measured_on"] == "2024-06-01"
    assert project_kpi["improvement_pct"] == "41.6667"
    assert project_kpi["target_achievement_pct"] == "83.3333"
    project = client.get(f"/api/v1/projects/{world['project_a'].pk}/").json()
    assert project["impact_pct"] == "41.6667"
    client.post("/api/v1/measurements/", {"project_kpi": "pk-a", "measured_on": "2024-12-01", "value": "90"})
    project_kpi = client.get(f"/api/v1/project-kpis/{world['project_kpi_a'].pk}/").json()
    assert project_kpi["improvement_pct"] == "50.0000" and project_kpi["target_achievement_pct"] == "100.0000"


def test_relationship_shows_its_current_score_and_scores_list(admin_user, world, api_as):
    RelationshipScore.objects.create(
        relationship=world["rel_a"], period=dt.date(2024, 11, 1), score=Decimal("40.00"), tier="steady"
    )
    RelationshipScore.objects.create(
        relationship=world["rel_a"],
        period=dt.date(2024, 12, 1),
        score=Decimal("48.80"),
        tier="steady",
        impact=Decimal("0.607143"),
        continuity=Decimal("0.250000"),
        basis=["impact", "continuity"],
        components={"impact": {"mean_pct": "30.36"}},
        reason="measurement 812 recorded",
    )
    client = api_as(admin_user)
    current = client.get(f"/api/v1/relationships/{world['rel_a'].pk}/").json()["current_score"]
    assert current.pop("computed_at")
    assert current == {
        "period": "2024-12-01",
        "score": "48.80",
        "tier": "steady",
        "is_new": False,
        "components": {
            "impact": "0.607143",
            "attainment": None,
            "realisation": None,
            "continuity": "0.250000",
        },
        "rests_on_contested": False,
        "reason": "measurement 812 recorded",
    }
    scores = client.get(f"/api/v1/scores/?relationship={world['rel_a'].pk}&period_from=2024-12-01").json()
    assert [row["period"] for row in scores["results"]] == ["2024-12-01"]
    row = scores["results"][0]
    assert row["basis"] == ["impact", "continuity"] and row["inputs"] == {"impact": {"mean_pct": "30.36"}}
    assert row["computed_at"] and row["reason"] == "measurement 812 recorded"
    assert row["is_new"] is False
    # Several tiers (a filter that may not DISTINCT: the explanation is json text on PostgreSQL).
    scores = client.get(f"/api/v1/scores/?relationship={world['rel_a'].pk}&tier=steady&tier=at_risk")
    assert scores.status_code == 200
    assert [row["period"] for row in scores.json()["results"]] == ["2024-11-01", "2024-12-01"]
    unknown = client.get(f"/api/v1/scores/?relationship={world['rel_a'].pk}&tier=steady&tier=stellar")
    assert unknown.status_code == 400 and "tier" in unknown.json()["errors"]


def test_new_relationship_score_says_so_in_the_api(admin_user, world, api_as):
    RelationshipScore.objects.create(
        relationship=world["rel_a"],
        period=dt.date(2024, 12, 1),
        score=Decimal("0"),
        tier="at_risk",
        continuity=Decimal("0"),
        basis=["continuity"],
        is_new=True,
    )
    client = api_as(admin_user)
    current = client.get(f"/api/v1/relationships/{world['rel_a'].pk}/").json()["current_score"]
    assert current["is_new"] is True and current["components"]["continuity"] == "0.000000"
    (row,) = client.get(f"/api/v1/scores/?relationship={world['rel_a'].pk}").json()["results"]
    assert (row["is_new"], row["basis"]) == (True, ["continuity"])


def test_server_managed_fields_sent_by_a_client_are_ignored(admin_user, world, api_as):
    client = api_as(admin_user)
    project = world["project_a"]
    response = client.patch(
        f"/api/v1/projects/{project.pk}/",
        {
            "id": 4242,
            "version": 99,
            "created_at": "2000-01-01T00:00:00Z",
            "updated_at": "2000-01-01T00:00:00Z",
            "deleted_at": "2000-01-01T00:00:00Z",
            "impact_pct": "99.0000",
            "title": "Renamed",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == project.pk and body["version"] == 2 and body["deleted_at"] is None
    assert body["impact_pct"] == "41.6667" and not body["created_at"].startswith("2000")
    project.refresh_from_db()
    assert project.title == "Renamed" and project.deleted_at is None and project.version == 2
    created = client.post(
        "/api/v1/measurements/",
        {"project_kpi": "pk-a", "measured_on": "2025-01-01", "value": "1", "unit": "hours", "version": 7},
    ).json()
    assert created["unit"] == "percent" and created["version"] == 1


def test_unknown_fields_are_rejected_and_nothing_is_written(admin_user, world, api_as):
    response = api_as(admin_user).patch(f"/api/v1/projects/{world['project_a'].pk}/", {"titel": "typo"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"titel": ["Unknown field."]}
    world["project_a"].refresh_from_db()
    assert world["project_a"].version == 1


STAGE_PATH = ["proposed", "approved", "in_progress", "delivered"]


def test_stage_rules_apply_through_the_api(account_manager, world, api_as):
    client = api_as(account_manager)
    url = f"/api/v1/projects/{world['project_a'].pk}/"
    skipped = client.patch(url, {"stage": "in_progress"})
    assert skipped.status_code == 400
    assert "Allowed next stages: Proposed, Cancelled" in skipped.json()["errors"]["stage"][0]
    for step in STAGE_PATH:
        response = client.patch(url, {"stage": step})
        assert response.status_code == 200, response.json()
    body = response.json()
    assert (
        body["stage"] == "delivered" and body["delivered_on"] and body["started_on"] and body["proposed_on"]
    )
    closed = client.patch(url, {"stage": "cancelled"})
    assert closed.status_code == 400 and "closed" in closed.json()["errors"]["stage"][0]
    assert client.patch(url, {"stage": "launched"}).status_code == 400
    history = client.get(url + "history/").json()["results"]
    assert [entry["action"] for entry in history[:4]] == ["transition"] * 4


def test_a_delivered_import_needs_its_delivered_date(admin_user, world, api_as):
    client = api_as(admin_user)
    payload = {"relationship": world["rel_a"].pk, "title": "Historic", "stage": "delivered"}
    response = client.post("/api/v1/projects/", payload)
    assert response.status_code == 400 and "delivered_on" in response.json()["errors"]
    response = client.post("/api/v1/projects/", {**payload, "delivered_on": "2024-05-01"})
    assert response.status_code == 201 and response.json()["stage"] == "delivered"


def test_duplicate_external_id_is_a_409_conflict(admin_user, world, api_as):
    client = api_as(admin_user)
    count = InnovationProject.objects.count()
    response = client.post(
        "/api/v1/projects/", {"relationship": world["rel_a"].pk, "title": "Twin", "external_id": "p-a"}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict" and "external_id" in body["errors"]
    assert InnovationProject.objects.count() == count


def test_second_measurement_on_the_same_date_is_a_409_conflict(admin_user, world, api_as):
    response = api_as(admin_user).post(
        "/api/v1/measurements/", {"project_kpi": "pk-a", "measured_on": "2024-06-01", "value": "1"}
    )
    assert response.status_code == 409
    assert "already has a measurement on this date" in response.json()["detail"]


def test_validation_errors_are_field_level_and_write_nothing(admin_user, world, api_as):
    client = api_as(admin_user)
    before = AuditEntry.objects.count()
    response = client.post(
        "/api/v1/measurements/", {"project_kpi": "pk-a", "measured_on": "2023-01-01", "value": "150"}
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "measured_on" in errors or "non_field_errors" in errors
    response = client.post("/api/v1/projects/", {"title": "", "investment": "-5"})
    assert response.status_code == 400
    assert {"relationship", "title", "investment"} <= set(response.json()["errors"])
    assert AuditEntry.objects.count() == before


def test_project_kpi_dates_and_targets_that_cannot_lock_it_are_400_with_field_messages(
    admin_user, world, api_as
):
    client = api_as(admin_user)
    turnaround = KPI.objects.create(code="tat", name="TAT", unit="hours", direction="lower_is_better")
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    before = (ProjectKPI.objects.count(), AuditEntry.objects.count())
    response = client.post(
        "/api/v1/project-kpis/",
        {"project": "p-a", "kpi": turnaround.pk, "baseline_value": "21", "baseline_date": tomorrow},
    )
    assert response.status_code == 400
    assert response.json()["errors"]["baseline_date"] == ["A baseline cannot be dated in the future."]
    response = client.post(
        "/api/v1/project-kpis/",
        {
            "project": "p-a",
            "kpi": turnaround.pk,
            "baseline_value": "21",
            "baseline_date": "2024-01-01",
            "target_value": "21.0",
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"]["target_value"][0].startswith("The target equals the baseline")
    # A partial update is checked against the stored baseline (60).
    response = client.patch(f"/api/v1/project-kpis/{world['project_kpi_a'].pk}/", {"target_value": "60"})
    assert response.status_code == 400 and "target_value" in response.json()["errors"]
    assert (ProjectKPI.objects.count(), AuditEntry.objects.count()) == before
    world["project_kpi_a"].refresh_from_db()
    assert world["project_kpi_a"].target_value == Decimal("90")


def test_lists_filter_by_the_shared_filters(admin_user, world, api_as):
    client = api_as(admin_user)
    rel_a = world["rel_a"].pk

    def ids(url):
        response = client.get(url)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(f"/api/v1/projects/?relationship={rel_a}") == [world["project_a"].pk]
    assert ids(f"/api/v1/projects/?client={world['client_b'].pk}") == [world["project_b"].pk]
    assert ids("/api/v1/projects/?external_id=p-b") == [world["project_b"].pk]
    assert ids("/api/v1/projects/?stage=idea&stage=proposed&level=operational") == sorted(
        [world["project_a"].pk, world["project_b"].pk]
    )
    assert ids("/api/v1/projects/?stage=delivered") == []
    assert ids(f"/api/v1/projects/?kpi={world['kpi'].pk}&q=Project+A") == [world["project_a"].pk]
    assert ids(f"/api/v1/measurements/?relationship={rel_a}&measured_after=2024-05-01") == [
        world["measurement_a"].pk
    ]
    assert ids(f"/api/v1/project-kpis/?provider={world['provider'].pk}&kpi={world['kpi'].pk}") == sorted(
        [world["project_kpi_a"].pk, world["project_kpi_b"].pk]
    )
    assert ids("/api/v1/organizations/?kind=provider") == [world["provider"].pk]
    assert ids("/api/v1/kpis/?q=fill") == [world["kpi"].pk]
    assert (
        ids("/api/v1/projects/?ordering=-id") == sorted([world["project_a"].pk, world["project_b"].pk])[::-1]
    )
    bad = client.get("/api/v1/projects/?stage=launched&relationship=999999")
    assert bad.status_code == 400 and {"stage", "relationship"} <= set(bad.json()["errors"])


def test_pages_are_bounded_and_ordered_stably(admin_user, world, api_as):
    client = api_as(admin_user)
    for index in range(7):
        client.post(
            "/api/v1/kpis/",
            {"code": f"k{index}", "name": "Same name", "unit": "count", "direction": "higher_is_better"},
        )
    first = client.get("/api/v1/kpis/?ordering=name&page_size=3").json()
    second = client.get(first["next"]).json()
    ids = [row["id"] for row in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 6 and first["count"] == 8
    assert client.get("/api/v1/kpis/?page_size=100000").status_code == 200
    assert len(client.get("/api/v1/kpis/?page_size=100000").json()["results"]) == 8
    assert client.get("/api/v1/kpis/?page=99").status_code == 404


def test_ordering_by_stage_follows_the_pipeline_like_the_project_list(admin_user, portfolio, api_as, client):
    for title, stage in (("P-delivered", "delivered"), ("P-idea", "idea"), ("P-cancelled", "cancelled")):
        ProjectFactory(
            relationship=portfolio["rel_a"],
            title=title,
            stage=stage,
            delivered_on=dt.date(2024, 1, 1) if stage == "delivered" else None,
        )
    api = api_as(admin_user)
    titles = [row["title"] for row in api.get("/api/v1/projects/?ordering=stage").json()["results"]]
    assert titles == ["P-idea", "P-delivered", "P-cancelled"]  # not alphabetical (cancelled first)
    reverse_titles = [row["title"] for row in api.get("/api/v1/projects/?ordering=-stage").json()["results"]]
    assert reverse_titles == titles[::-1]
    client.force_login(admin_user)
    page = client.get("/projects/", {"sort": "stage"})
    assert [project.title for project in page.context["rows"]] == titles


def test_projects_carry_a_read_only_gain_share_where_agreed(admin_user, world, api_as):
    client = api_as(admin_user)
    url = f"/api/v1/projects/{world['project_a'].pk}/"
    assert client.get(url).json()["gain_share"] is None  # no agreement
    client.patch(url, {"gain_share_pct": "12.5", "gain_share_baseline": "50000.00"}, format="json")
    assert client.get(url).json()["gain_share"] is None  # agreed, nothing realised yet
    body = client.patch(url, {"realised_annual_benefit": "80000.00", "gain_share": "1"}, format="json").json()
    assert body["gain_share"] == "3750.00"  # 12.5 % × (80,000 − 50,000); a client's value is ignored
    listed = {row["id"]: row for row in client.get("/api/v1/projects/").json()["results"]}
    assert listed[world["project_a"].pk]["gain_share"] == "3750.00"
    assert listed[world["project_b"].pk]["gain_share"] is None


def test_project_history_is_the_pages_history_with_kpi_and_measurement_changes(
    admin_user, world, api_as, client
):
    api = api_as(admin_user)
    project = world["project_a"]
    api.patch(f"/api/v1/projects/{project.pk}/", {"title": "Project A, renamed"})
    api.patch(f"/api/v1/project-kpis/{world['project_kpi_a'].pk}/", {"target_value": "95"})
    api.post("/api/v1/measurements/", {"project_kpi": "pk-a", "measured_on": "2024-12-01", "value": "90"})
    api.delete(f"/api/v1/measurements/{world['measurement_a'].pk}/", HTTP_IF_MATCH='"1"')

    entries = api.get(f"/api/v1/projects/{project.pk}/history/?page_size=200").json()["results"]
    client.force_login(admin_user)
    shown = client.get(f"/projects/{project.pk}/").context["history"]
    assert len(entries) == len(shown) > 4
    subjects = {"projects": "Project", "project-kpis": "KPI", "measurements": "measurement"}
    assert [(subjects[e["resource"]], e["action"], e["version"]) for e in entries] == [
        (row["subject"], row["action_code"], row["version"]) for row in shown
    ]
    assert {entry["resource"] for entry in entries} == set(subjects)
    assert (entries[0]["resource"], entries[0]["action"]) == ("measurements", "delete")  # newest first
    # Another project's history holds its own KPI, never this one's.
    other = api.get(f"/api/v1/projects/{world['project_b'].pk}/history/").json()["results"]
    assert {e["record_id"] for e in other if e["resource"] == "project-kpis"} == {world["project_kpi_b"].pk}

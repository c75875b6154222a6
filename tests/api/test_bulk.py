"""Bulk upsert by external_id: all or nothing, per-record outcomes, idempotent replays."""

import pytest

from kpis.models import Measurement
from projects.models import AuditEntry, InnovationProject, Organization

pytestmark = pytest.mark.django_db


def project_batch(world, count=3):
    return [
        {
            "external_id": f"imp-{index}",
            "relationship": "rel-a-ext",
            "title": f"Imported {index}",
            "level": "process",
        }
        for index in range(count)
    ]


@pytest.fixture
def rel_a_ext(world):
    from projects import services

    services.relationship_update(
        actor=None, relationship=world["rel_a"], changes=services.RelationshipFields(external_id="rel-a-ext")
    )
    return world


def test_bulk_creates_updates_and_replays_without_change(admin_user, rel_a_ext, api_as):
    world = rel_a_ext
    client = api_as(admin_user)
    batch = [*project_batch(world), {"external_id": "p-a", "title": "Renamed by bulk"}]
    first = client.post("/api/v1/projects/bulk/", {"records": batch})
    assert first.status_code == 200, first.json()
    body = first.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (3, 1, 0)
    assert [r["status"] for r in body["results"]] == ["created", "created", "created", "updated"]
    assert body["results"][3] == {
        "index": 3,
        "external_id": "p-a",
        "id": world["project_a"].pk,
        "version": 2,
        "status": "updated",
    }
    assert InnovationProject.objects.get(external_id="imp-1").relationship_id == world["rel_a"].pk

    audit_count, versions = (
        AuditEntry.objects.count(),
        dict(InnovationProject.objects.values_list("pk", "version")),
    )
    replay = client.post("/api/v1/projects/bulk/", {"records": batch})
    assert replay.status_code == 200
    assert [r["status"] for r in replay.json()["results"]] == ["unchanged"] * 4
    assert [r["id"] for r in replay.json()["results"]] == [r["id"] for r in body["results"]]
    assert AuditEntry.objects.count() == audit_count
    assert dict(InnovationProject.objects.values_list("pk", "version")) == versions


def test_bulk_is_all_or_nothing_and_names_each_bad_record(admin_user, rel_a_ext, api_as):
    client = api_as(admin_user)
    batch = project_batch(rel_a_ext, 4)
    batch[1]["level"] = "galactic"
    batch[3]["relationship"] = "no-such-relationship"
    before = (InnovationProject.objects.count(), AuditEntry.objects.count())
    response = client.post("/api/v1/projects/bulk/", {"records": batch})
    assert response.status_code == 400
    body = response.json()
    assert [(r["index"], r["external_id"]) for r in body["records"]] == [(1, "imp-1"), (3, "imp-3")]
    assert "level" in body["records"][0]["errors"] and "relationship" in body["records"][1]["errors"]
    assert (InnovationProject.objects.count(), AuditEntry.objects.count()) == before


def test_bulk_rolls_back_earlier_records_when_a_service_rule_fails_late(admin_user, world, api_as):
    client = api_as(admin_user)
    batch = [
        {"external_id": "m-ok", "project_kpi": "pk-a", "measured_on": "2024-10-01", "value": "80"},
        {"external_id": "m-early", "project_kpi": "pk-a", "measured_on": "2020-01-01", "value": "80"},
    ]
    count = Measurement.objects.count()
    response = client.post("/api/v1/measurements/bulk/", {"records": batch})
    assert response.status_code == 400
    assert response.json()["records"][0]["index"] == 1
    assert "predate the baseline" in str(response.json()["records"][0]["errors"])
    assert Measurement.objects.count() == count


def test_bulk_duplicate_keys_are_rejected_naming_each(admin_user, rel_a_ext, api_as):
    batch = project_batch(rel_a_ext, 3)
    batch[2]["external_id"] = "imp-0"
    batch.append({"title": "no key"})
    response = api_as(admin_user).post("/api/v1/projects/bulk/", {"records": batch})
    assert response.status_code == 400
    assert [r["index"] for r in response.json()["records"]] == [0, 2, 3]
    assert not InnovationProject.objects.filter(external_id__startswith="imp-").exists()


def test_bulk_over_1000_records_is_413_and_writes_nothing(admin_user, db, api_as):
    records = [{"external_id": f"org-{i}", "name": f"Org {i}", "kind": "client"} for i in range(1002)]
    response = api_as(admin_user).post("/api/v1/organizations/bulk/", {"records": records})
    assert response.status_code == 413
    assert [r["index"] for r in response.json()["records"]] == [1000, 1001]
    assert not Organization.objects.exists()


def test_bulk_conflicting_unique_values_answer_409(admin_user, world, api_as):
    records = [{"external_id": "new-org", "name": "Client A", "kind": "client"}]
    response = api_as(admin_user).post("/api/v1/organizations/bulk/", {"records": records})
    assert response.status_code == 409
    assert response.json()["records"][0]["index"] == 0


def test_bulk_respects_scope_and_roles(account_manager, executive, rel_a_ext, api_as):
    assert (
        api_as(executive).post("/api/v1/projects/bulk/", {"records": project_batch(rel_a_ext)}).status_code
        == 403
    )
    manager = api_as(account_manager)
    outside = [{"external_id": "x-1", "relationship": rel_a_ext["rel_b"].pk, "title": "Elsewhere"}]
    response = manager.post("/api/v1/projects/bulk/", {"records": outside})
    assert response.status_code == 400 and "relationship" in response.json()["records"][0]["errors"]
    # A record outside the manager's scope cannot be reached by its key: to them the key is new (so
    # the record needs a relationship), and creating it collides with the existing key.
    response = manager.post(
        "/api/v1/projects/bulk/", {"records": [{"external_id": "p-b", "title": "Hijack"}]}
    )
    assert response.status_code == 400 and "relationship" in response.json()["records"][0]["errors"]
    hijack = {"external_id": "p-b", "title": "Hijack", "relationship": rel_a_ext["rel_a"].pk}
    response = manager.post("/api/v1/projects/bulk/", {"records": [hijack]})
    assert response.status_code == 409
    assert InnovationProject.objects.get(external_id="p-b").title == "Project B"
    inside = manager.post("/api/v1/projects/bulk/", {"records": project_batch(rel_a_ext, 2)})
    assert inside.status_code == 200 and inside.json()["created"] == 2


def test_bulk_stage_changes_follow_the_stage_machine(admin_user, world, api_as):
    client = api_as(admin_user)
    response = client.post(
        "/api/v1/projects/bulk/", {"records": [{"external_id": "p-a", "stage": "delivered"}]}
    )
    assert response.status_code == 400
    assert "stage" in response.json()["records"][0]["errors"]
    response = client.post(
        "/api/v1/projects/bulk/", {"records": [{"external_id": "p-a", "stage": "proposed"}]}
    )
    assert response.status_code == 200 and response.json()["results"][0]["status"] == "updated"


@pytest.mark.parametrize(
    "body",
    [[], {"records": "nope"}, {"records": [1, 2]}, {}, {"records": [{"external_id": ""}]}],
)
def test_bulk_malformed_bodies_are_400(admin_user, db, api_as, body):
    response = api_as(admin_user).post("/api/v1/organizations/bulk/", body, format="json")
    assert response.status_code == 400
    assert response.json()["status"] == 400

"""Projects in bulk are held to the project services' rules and words: each refusal of the stage
machine, of the dates a stage implies, of the model's checks and of the client's sign-off reads the
same through the bulk endpoint as through the single-record one, and an accepted change writes the
same row, audit action and event."""

import datetime as dt

import pytest
from django.utils import timezone

from outbox.models import Event
from projects import services
from projects.access import Role
from projects.models import AuditEntry, InnovationProject
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

FUTURE = (timezone.localdate() + dt.timedelta(days=30)).isoformat()


@pytest.fixture
def stages(world):
    """Projects of relationship A in a closed stage: one delivered, one cancelled."""
    rel = world["rel_a"]
    delivered = ProjectFactory(
        relationship=rel,
        title="Delivered one",
        external_id="p-delivered",
        stage="delivered",
        proposed_on=dt.date(2024, 1, 1),
        started_on=dt.date(2024, 2, 1),
        delivered_on=dt.date(2024, 5, 1),
    )
    cancelled = ProjectFactory(relationship=rel, title="Cancelled one", external_id="p-cancelled")
    services.project_update(actor=None, project=cancelled, changes=services.ProjectFields(stage="cancelled"))
    proposed = ProjectFactory(
        relationship=rel, title="Proposed one", external_id="p-proposed", stage="proposed"
    )
    return {**world, "delivered": delivered, "cancelled": cancelled, "proposed": proposed}


@pytest.fixture
def signoff(stages):
    """Relationship A's client signs off approvals and benefits (someone on its side uses the product)."""
    services.relationship_update(
        actor=None,
        relationship=stages["rel_a"],
        changes=services.RelationshipFields(client_signoff_required=True),
    )
    UserFactory(username="client-a-viewer", role=Role.CLIENT_VIEWER, organization=stages["client_a"])
    return stages


def single_errors(client, key, record):
    if key is None:
        response = client.post("/api/v1/projects/", record, format="json")
    else:
        pk = InnovationProject.objects.get(external_id=key).pk
        response = client.patch(f"/api/v1/projects/{pk}/", record, format="json")
    assert response.status_code == 400, response.json()
    return response.json()["errors"]


def bulk_errors(client, key, record):
    response = client.post(
        "/api/v1/projects/bulk/", {"records": [{"external_id": key or "new-one", **record}]}, format="json"
    )
    assert response.status_code == 400, response.json()
    return response.json()["records"][0]["errors"]


UPDATES = [
    ("p-a", {"stage": "delivered"}),  # a jump over the pipeline
    ("p-a", {"stage": "in_progress"}),
    ("p-proposed", {"stage": "delivered", "delivered_on": "2024-06-01"}),
    ("p-delivered", {"stage": "in_progress"}),  # a closed project
    ("p-cancelled", {"stage": "proposed"}),
    ("p-a", {"stage": "galactic"}),
    ("p-a", {"delivered_on": "2024-06-01"}),  # only a delivered project has a delivered date
    ("p-delivered", {"delivered_on": None}),
    ("p-delivered", {"delivered_on": FUTURE}),
    ("p-delivered", {"delivered_on": "2024-01-15"}),  # before it started
    ("p-delivered", {"started_on": "2023-12-01"}),  # before it was proposed
    ("p-delivered", {"delivered_on": FUTURE, "started_on": "2023-12-01"}),
    ("p-a", {"relationship": "rel-b-key"}),
]

CREATES = [
    {"stage": "delivered"},
    {"stage": "delivered", "delivered_on": FUTURE},
    {"stage": "in_progress", "proposed_on": "2024-03-01", "started_on": "2024-02-01"},
    {"stage": "idea", "delivered_on": "2024-03-01"},
    {"stage": "delivered", "started_on": "2024-03-01", "delivered_on": "2024-02-01"},
    {"stage": "cancelled", "proposed_on": "2024-03-01", "started_on": "2024-02-01"},
]

SIGNOFF_UPDATES = [
    ("p-proposed", {"stage": "approved"}),
    ("p-delivered", {"realised_annual_benefit": "1000"}),
    ("p-proposed", {"stage": "approved", "realised_annual_benefit": "5"}),
]
SIGNOFF_CREATES = [{"stage": "approved"}, {"stage": "in_progress"}, {"realised_annual_benefit": "10"}]


def _rel_b_key(world):
    services.relationship_update(
        actor=None, relationship=world["rel_b"], changes=services.RelationshipFields(external_id="rel-b-key")
    )


@pytest.mark.parametrize("key,record", UPDATES)
def test_an_update_is_refused_in_the_words_of_the_single_write(admin_user, stages, api_as, key, record):
    _rel_b_key(stages)
    client = api_as(admin_user)
    assert bulk_errors(client, key, record) == single_errors(client, key, record)


@pytest.mark.parametrize("record", CREATES)
def test_a_new_project_is_refused_in_the_words_of_the_single_write(admin_user, stages, api_as, record):
    client = api_as(admin_user)
    record = {"relationship": stages["rel_a"].pk, "title": "New one", **record}
    assert bulk_errors(client, None, record) == single_errors(client, None, record)


@pytest.mark.parametrize("key,record", SIGNOFF_UPDATES)
def test_the_clients_sign_off_refuses_an_update_alike(account_manager, signoff, api_as, key, record):
    client = api_as(account_manager)
    errors = bulk_errors(client, key, record)
    assert errors == single_errors(client, key, record)
    assert "Client A" in str(errors)


@pytest.mark.parametrize("record", SIGNOFF_CREATES)
def test_the_clients_sign_off_refuses_a_new_project_alike(account_manager, signoff, api_as, record):
    client = api_as(account_manager)
    record = {"relationship": signoff["rel_a"].pk, "title": "New one", **record}
    assert bulk_errors(client, None, record) == single_errors(client, None, record)


def _written(key):
    project = InnovationProject.objects.get(external_id=key)
    entry = AuditEntry.objects.filter(object_id=project.pk, content_type__model="innovationproject").latest(
        "id"
    )
    event = Event.objects.filter(record_type="project", record_id=project.pk).latest("id")
    row = {
        name: getattr(project, name)
        for name in ("stage", "proposed_on", "started_on", "delivered_on", "version", "title")
    }
    return row, (entry.action, entry.changes), (event.type, event.version, event.data)


@pytest.mark.parametrize(
    "record",
    [
        {"stage": "proposed"},
        {"stage": "cancelled"},
        {"title": "Renamed", "investment": "1200.5"},
    ],
)
def test_an_accepted_update_writes_what_the_single_write_writes(admin_user, stages, api_as, record):
    client = api_as(admin_user)
    twin = ProjectFactory(relationship=stages["rel_a"], title="Project A", external_id="p-twin")
    response = client.patch(f"/api/v1/projects/{twin.pk}/", record, format="json")
    assert response.status_code == 200, response.json()
    response = client.post("/api/v1/projects/bulk/", {"records": [{"external_id": "p-a", **record}]})
    assert response.status_code == 200, response.json()
    assert _written("p-a") == _written("p-twin")


@pytest.mark.parametrize(
    "record",
    [
        {"stage": "in_progress"},
        {"stage": "delivered", "delivered_on": "2024-06-01"},
        {"stage": "cancelled", "cancellation_reason": "No budget"},
        {"stage": "proposed", "owner": "am-user"},
    ],
)
def test_a_new_project_gets_the_dates_its_stage_implies_as_a_single_create(
    admin_user, stages, api_as, record
):
    client = api_as(admin_user)
    record = {"relationship": stages["rel_a"].pk, "title": "New one", **record}
    response = client.post("/api/v1/projects/", {**record, "external_id": "single-new"}, format="json")
    assert response.status_code == 201, response.json()
    response = client.post("/api/v1/projects/bulk/", {"records": [{"external_id": "bulk-new", **record}]})
    assert response.status_code == 200, response.json()
    single, bulk_row = _written("single-new"), _written("bulk-new")
    assert single[0] == bulk_row[0]
    assert single[1][0] == bulk_row[1][0] and single[2][:2] == bulk_row[2][:2]


def test_cancelling_in_bulk_withdraws_the_pending_approval_request(account_manager, signoff):
    from projects import bulk, signoffs

    request = signoffs.signoff_request(actor=account_manager, project=signoff["proposed"], kind="approval")
    outcome = bulk.upsert(
        actor=account_manager,
        record_type="project",
        records=[{"external_id": "p-proposed", "stage": "cancelled"}],
    )
    assert outcome.counts["updated"] == 1, outcome.problems
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.decision_note) == (
        "withdrawn",
        account_manager,
        "The project moved to Cancelled without it.",
    )


def test_a_batch_of_projects_marks_each_relationships_scores_stale_once(admin_user, stages):
    from kpis.models import PendingScorePeriod
    from projects import bulk

    PendingScorePeriod.objects.all().delete()
    records = [
        {
            "external_id": f"hist-{i}",
            "relationship": stages["rel_a"].pk,
            "title": f"Historic {i}",
            "stage": "delivered",
            "delivered_on": "2024-06-01",
        }
        for i in range(3)
    ] + [{"external_id": "p-b", "title": "Renamed B"}]
    outcome = bulk.upsert(actor=admin_user, record_type="project", records=records)
    assert outcome.counts == {"created": 3, "updated": 1, "unchanged": 0}, outcome.problems
    marked = PendingScorePeriod.objects.values_list("relationship_id", "period", "reason")
    periods_a = {period for rid, period, _ in marked if rid == stages["rel_a"].pk}
    assert dt.date(2024, 6, 1) in periods_a
    assert {rid for rid, _, _ in marked} == {stages["rel_a"].pk, stages["rel_b"].pk}
    assert {reason for _, _, reason in marked} == {"4 projects written in bulk"}

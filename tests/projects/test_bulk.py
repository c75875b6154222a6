"""Projects through the shared bulk write path (projects.bulk): parsed set-based, written through
the project services, so the stage machine and its dates apply; dry runs and skipping invalid
records behave as for the set-based types."""

import pytest

from outbox.models import Event
from projects import bulk
from projects.models import AuditEntry, InnovationProject

pytestmark = pytest.mark.django_db


def projects(portfolio, count=3):
    return [
        {"external_id": f"imp-{i}", "relationship": portfolio["rel_a"].pk, "title": f"Imported {i}"}
        for i in range(count)
    ]


def counts():
    return (InnovationProject.objects.count(), AuditEntry.objects.count(), Event.objects.count())


def test_a_dry_run_reports_each_outcome_and_writes_nothing(admin_user, portfolio):
    before = counts()
    outcome = bulk.upsert(actor=admin_user, record_type="project", records=projects(portfolio), dry_run=True)
    assert outcome.counts == {"created": 3, "updated": 0, "unchanged": 0} and not outcome.problems
    assert [r["id"] for r in outcome.results] == [None] * 3
    assert counts() == before


def test_every_record_is_checked_even_when_one_fails_to_parse(admin_user, portfolio):
    records = projects(portfolio)
    records[0]["level"] = "galactic"
    records[2]["stage"] = "delivered"
    records[2]["delivered_on"] = "2099-01-01"
    before = counts()
    outcome = bulk.upsert(actor=admin_user, record_type="project", records=records)
    assert outcome.problems == {
        0: {"level": ['"galactic" is not a valid choice.']},
        2: {"delivered_on": ["A project cannot be delivered in the future."]},
    }
    assert counts() == before


def test_skip_invalid_writes_the_valid_projects_through_the_stage_machine(admin_user, portfolio):
    records = projects(portfolio)
    records[1]["owner"] = "nobody-by-that-name"
    outcome = bulk.upsert(actor=admin_user, record_type="project", records=records, skip_invalid=True)
    assert outcome.problems == {1: {"owner": ["Object with username=nobody-by-that-name does not exist."]}}
    assert [r["external_id"] for r in outcome.results] == ["imp-0", "imp-2"]
    moved = bulk.upsert(
        actor=admin_user, record_type="project", records=[{"external_id": "imp-0", "stage": "delivered"}]
    )
    assert "stage" in moved.problems[0]  # idea → delivered skips the pipeline
    step = bulk.upsert(
        actor=admin_user, record_type="project", records=[{"external_id": "imp-0", "stage": "proposed"}]
    )
    assert step.results[0]["status"] == "updated"
    assert InnovationProject.objects.get(external_id="imp-0").proposed_on is not None


def test_relationships_with_process_areas_and_managers_are_created_then_replayed(
    admin_user, account_manager, portfolio
):
    from projects.models import ProcessArea, Relationship

    area = ProcessArea.objects.order_by("code").first()
    record = {
        "external_id": "rel-new",
        "name": "New relationship",
        "client": portfolio["client_a"].pk,
        "provider": portfolio["provider"].pk,
        "contract_start": "2025-01-01",
        "process_areas": [area.code],
        "account_managers": [account_manager.username],
        "client_signoff_required": "yes",
    }
    outcome = bulk.upsert(actor=admin_user, record_type="relationship", records=[record])
    assert outcome.counts["created"] == 1, outcome.problems
    created = Relationship.objects.get(external_id="rel-new")
    assert list(created.process_areas.all()) == [area] and list(created.account_managers.all()) == [
        account_manager
    ]
    assert created.client_signoff_required is True
    replay = bulk.upsert(actor=admin_user, record_type="relationship", records=[record])
    assert replay.counts["unchanged"] == 1
    wrong = bulk.upsert(
        actor=admin_user, record_type="relationship", records=[{**record, "account_managers": ["nobody"]}]
    )
    assert wrong.problems == {0: {"account_managers": ["Object with username=nobody does not exist."]}}

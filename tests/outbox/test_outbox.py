"""The outbox: one event per committed change, in the change's transaction, numbered in commit order."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kpis import rollup
from kpis import services as kpi_services
from outbox import stream
from outbox.catalogue import EVENT_TYPES
from outbox.models import ConsumerPosition, Event
from outbox.services import NewEvent, append_events
from outbox.tasks import enqueue_relay, relay_events, relays_held
from projects import services
from projects.events import record_events
from projects.models import InnovationProject
from tests.factories import (
    KPIFactory,
    MeasurementFactory,
    ProjectFactory,
    ProjectKPIFactory,
    RelationshipFactory,
    UserFactory,
)
from tests.kpis.test_tasks import delivered_kpi, record

pytestmark = pytest.mark.django_db


def events_of(record_type, record_id):
    return list(Event.objects.filter(record_type=record_type, record_id=record_id).order_by("id"))


def test_create_update_stage_change_and_delete_each_append_one_event(admin_user):
    relationship = RelationshipFactory()
    before = Event.objects.count()
    project = services.project_create(
        actor=admin_user,
        fields=services.ProjectFields(relationship=relationship, title="Vendor portal", external_id="P-1"),
    )
    project = services.project_update(
        actor=admin_user, project=project, changes=services.ProjectFields(title="Vendor portal v2")
    )
    project = services.project_transition(actor=admin_user, project=project, to_stage="proposed")
    project = services.project_delete(actor=admin_user, project=project)

    events = events_of("project", project.pk)
    assert Event.objects.count() - before == 4
    assert [(e.type, e.version) for e in events] == [
        ("project.created", 1),
        ("project.updated", 2),
        ("project.stage_changed", 3),
        ("project.deleted", 4),
    ]
    for event in events:
        assert (event.external_id, event.relationship_id, event.actor_id) == (
            "P-1",
            relationship.pk,
            admin_user.pk,
        )
        assert event.sequence is None  # numbered by the relay, after commit
    assert events[1].data == {"changed": ["title"]}
    assert events[2].data == {"changed": ["proposed_on", "stage"], "from": "idea", "to": "proposed"}
    # The sync cursor that carries the change: the record's change stamp as written.
    assert events[3].sync_stamp == InnovationProject.objects.get(pk=project.pk).change_stamp


def test_a_skip_of_stages_is_one_event_per_step():
    project = ProjectFactory(stage="approved")
    services.project_advance(actor=None, project=project, to_stage="delivered")
    steps = [(e.data["from"], e.data["to"]) for e in events_of("project", project.pk)[1:]]
    assert steps == [("approved", "in_progress"), ("in_progress", "delivered")]


def test_a_measurement_recorded_is_a_measurement_created_event_in_its_relationship():
    project_kpi = delivered_kpi()
    measurement = record(project_kpi, "85")
    (event,) = events_of("measurement", measurement.pk)
    assert event.type == "measurement.created"
    assert event.relationship_id == project_kpi.project.relationship_id
    assert event.actor_id is None  # the system


def test_records_outside_relationships_have_none():
    kpi = KPIFactory()
    (event,) = events_of("kpi", kpi.pk)
    assert (event.type, event.relationship_id) == ("kpi.created", None)


def test_a_write_that_fails_validation_appends_nothing():
    project = ProjectFactory()
    count = Event.objects.count()
    with pytest.raises(Exception):  # noqa: B017 - any refusal; the point is what is left behind
        services.project_transition(actor=None, project=project, to_stage="delivered")
    assert Event.objects.count() == count


def test_a_rolled_back_transaction_leaves_no_event():
    relationship = RelationshipFactory()
    count = Event.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.project_create(
            actor=None, fields=services.ProjectFields(relationship=relationship, title="x")
        )
        raise RuntimeError("the caller gives up")
    assert Event.objects.count() == count


def test_deleting_a_relationship_appends_a_deleted_event_for_every_row_it_takes():
    relationship = RelationshipFactory()
    project = ProjectFactory(relationship=relationship)
    project_kpi = ProjectKPIFactory(project=project, kpi=KPIFactory())
    measurement = MeasurementFactory(project_kpi=project_kpi, measured_on=dt.date(2024, 2, 1))
    relationship_version = relationship.version
    services.relationship_delete(actor=None, relationship=relationship)

    deleted = {
        (e.record_type, e.record_id): (e.version, e.relationship_id)
        for e in Event.objects.filter(type__endswith=".deleted")
    }
    assert deleted == {
        ("relationship", relationship.pk): (relationship_version + 1, relationship.pk),
        ("project", project.pk): (project.version + 1, relationship.pk),
        ("project_kpi", project_kpi.pk): (project_kpi.version + 1, relationship.pk),
        ("measurement", measurement.pk): (measurement.version + 1, relationship.pk),
    }


def test_record_events_writes_many_records_events_in_two_statements():
    relationship = RelationshipFactory()
    projects = [ProjectFactory(relationship=relationship) for _ in range(30)]
    ids = [p.pk for p in projects]
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        assert record_events(model=InnovationProject, ids=ids, action="update", actor=None) == 30
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 2, statements
    events = Event.objects.filter(type="project.updated", record_id__in=ids)
    assert {(e.record_id, e.relationship_id, e.version) for e in events} == {
        (p.pk, relationship.pk, p.version) for p in projects
    }


def test_every_event_type_is_in_the_catalogue():
    with pytest.raises(ValueError, match="Unknown event type"):
        append_events([NewEvent(type="project.renamed", record_type="project")])
    project_kpi = delivered_kpi()
    record(project_kpi, "80")
    rollup.rollup_scores(period=timezone.localdate())
    assert set(Event.objects.values_list("type", flat=True)) <= set(EVENT_TYPES)


def test_a_roll_up_appends_score_changed_only_for_rows_it_changed():
    project_kpi = delivered_kpi()
    relationship_id = project_kpi.project.relationship_id
    record(project_kpi, "85")
    today = timezone.localdate()
    assert rollup.rollup_scores(period=today, relationship_ids=[relationship_id]) == 1
    (event,) = Event.objects.filter(type="score.changed")
    assert event.relationship_id == relationship_id
    assert event.data == {
        "period": today.replace(day=1).isoformat(),
        "score": "63.90",
        "tier": "steady",
        "is_new": False,
    }
    assert rollup.rollup_scores(period=today, relationship_ids=[relationship_id]) == 0
    assert Event.objects.filter(type="score.changed").count() == 1


# --- Numbering, consumers, retention --------------------------------------------------------


def test_relay_numbers_events_in_append_order_and_strictly_increasing():
    for _ in range(3):
        ProjectFactory()
    relay_events()
    sequences = list(Event.objects.order_by("id").values_list("sequence", flat=True))
    assert None not in sequences
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    assert stream.high_water_mark() == sequences[-1]
    ProjectFactory()
    relay_events()
    assert Event.objects.order_by("-id").first().sequence > sequences[-1]


def test_relays_held_run_one_relay_when_the_block_ends(django_capture_on_commit_callbacks, monkeypatch):
    """Commits inside `relays_held` relay nothing; the block's end relays them all, once. (Tests run
    Celery tasks in-process, as the embedded default does.)"""
    relays = []
    assign_sequences = stream.assign_sequences
    monkeypatch.setattr(stream, "assign_sequences", lambda: relays.append(1) or assign_sequences())
    with relays_held():
        with relays_held():  # nested: only the outermost block's end relays
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                ProjectFactory()  # the commit's callback asks for a relay
            assert callbacks
            ProjectFactory()
            enqueue_relay()  # what a second commit's callback does
        assert relays == []
        assert Event.objects.filter(sequence__isnull=True).count() >= 2
    assert relays == [1]
    assert not Event.objects.filter(sequence__isnull=True).exists()
    with relays_held():
        pass  # nothing asked for a relay: none runs
    assert relays == [1]
    ProjectFactory()
    enqueue_relay()  # outside a block, a commit relays at once again
    assert relays == [1, 1]
    assert not Event.objects.filter(sequence__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_late_is_numbered_after_those_committed_before_it():
    """T1 appends first but commits last: a reader that has seen T2's event must still get T1's."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers (PostgreSQL); SQLite serialises write transactions")
    # Two relationships: writers in one relationship queue on its stale-score mark.
    relationship, other = RelationshipFactory(), RelationshipFactory()
    appended, release = threading.Event(), threading.Event()
    early = {}

    def slow_writer():
        try:
            with transaction.atomic():
                early["project"] = services.project_create(
                    actor=None, fields=services.ProjectFields(relationship=relationship, title="early")
                )
                appended.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert appended.wait(10)
    late = services.project_create(
        actor=None, fields=services.ProjectFields(relationship=other, title="late")
    )
    relay_events()  # numbers what committed: the late writer's event only
    (late_event,) = events_of("project", late.pk)
    late_event.refresh_from_db()
    assert late_event.sequence is not None
    assert thread.is_alive()  # the early writer is still open
    release.set()
    thread.join(10)
    relay_events()
    (early_event,) = events_of("project", early["project"].pk)
    assert early_event.id < late_event.id  # appended first…
    assert early_event.sequence > late_event.sequence  # …numbered after, as it committed after


def test_a_consumer_sees_each_event_once_and_a_failing_batch_is_retried(monkeypatch):
    seen, fail = [], {"now": True}

    def handler(events):
        if fail["now"]:
            raise RuntimeError("receiver down")
        seen.extend(e.sequence for e in events)

    monkeypatch.setattr(stream, "_consumers", {"test": handler})
    ProjectFactory()
    relay_events()
    assert seen == [] and not ConsumerPosition.objects.filter(name="test", position__gt=0).exists()
    fail["now"] = False
    relay_events()
    relay_events()
    numbered = list(
        Event.objects.exclude(sequence=None).order_by("sequence").values_list("sequence", flat=True)
    )
    assert seen == numbered
    assert ConsumerPosition.objects.get(name="test").position == numbered[-1]


def test_pruning_keeps_recent_events_unread_ones_and_held_ones(settings, monkeypatch):
    settings.OUTBOX = {**settings.OUTBOX, "RETENTION_DAYS": 30}
    monkeypatch.setattr(stream, "_consumers", {"slow": lambda events: None})
    monkeypatch.setattr(stream, "_retention_holds", {})
    for _ in range(4):
        ProjectFactory()
    stream.assign_sequences()
    old = list(Event.objects.order_by("sequence"))
    Event.objects.filter(pk__in=[e.pk for e in old]).update(
        occurred_at=timezone.now() - dt.timedelta(days=31)
    )
    assert stream.prune_events() == 0  # the consumer has read none of them
    ConsumerPosition.objects.create(name="slow", position=old[2].sequence)
    held = old[0].pk
    stream.register_retention_hold("test", lambda: Event.objects.filter(pk=held).values("id"))
    assert stream.prune_events() == 2  # old[1] and old[2]: read and not held; the rest unread
    assert set(Event.objects.filter(pk__in=[e.pk for e in old]).values_list("pk", flat=True)) == {
        old[0].pk,
        *(e.pk for e in old[3:]),
    }


def test_the_actor_is_recorded_and_anonymous_is_the_system():
    user = UserFactory()
    appended = append_events(
        [NewEvent(type="kpi.updated", record_type="kpi", record_id=1, data={"changed": ["name"]})], actor=user
    )
    assert appended == 1
    assert Event.objects.latest("id").actor_id == user.pk
    kpi_services.kpi_update(actor=None, kpi=KPIFactory(), changes=kpi_services.KPIFields(name="Renamed"))
    assert Event.objects.latest("id").actor_id is None

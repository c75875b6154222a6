"""Reminders from the daily sweep (each once, closing itself), notify(), preferences and digests."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connections
from django.utils import timezone

from kpis.models import RelationshipScore
from notifications import digest, reminders, services
from notifications.consumer import on_events
from notifications.kinds import Kind
from notifications.models import Notification, Preference
from outbox.models import Event
from projects import services as project_services
from projects.access import Role
from projects.models import AuditEntry, LeadershipPair
from tests.factories import (
    KPIFactory,
    MeasurementFactory,
    ProjectFactory,
    ProjectKPIFactory,
    RelationshipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 16)  # 45 days before the quarter ends: continuity reminders are due


def open_reminders(kind=None):
    reminders_ = Notification.objects.filter(reminder_key__isnull=False, resolved_at__isnull=True)
    return reminders_.filter(kind=kind) if kind else reminders_


@pytest.fixture
def owner(db):
    return UserFactory(username="owner", role=Role.ACCOUNT_MANAGER, email="owner@example.com")


@pytest.fixture
def relationship(owner):
    return RelationshipFactory(account_managers=[owner])


def test_a_delivered_project_without_a_measurement_is_reminded_once_and_closes_itself(owner, relationship):
    project = ProjectFactory(
        relationship=relationship,
        owner=owner,
        stage="delivered",
        started_on=TODAY - dt.timedelta(days=200),
        delivered_on=TODAY - dt.timedelta(days=91),
    )
    ProjectFactory(  # delivered 30 days ago: not yet
        relationship=relationship,
        stage="delivered",
        started_on=TODAY - dt.timedelta(days=60),
        delivered_on=TODAY - dt.timedelta(days=30),
    )
    reminders.sweep(today=TODAY)
    reminders.sweep(today=TODAY)  # a second run opens nothing new
    (reminder,) = open_reminders(Kind.MEASUREMENT_DUE)
    assert (reminder.recipient, reminder.url) == (owner, f"/projects/{project.pk}/")

    project_kpi = ProjectKPIFactory(project=project, kpi=KPIFactory(), baseline_date=project.started_on)
    MeasurementFactory(project_kpi=project_kpi, measured_on=TODAY - dt.timedelta(days=1), value=Decimal("70"))
    assert reminders.sweep(today=TODAY)["resolved"] >= 1
    assert not open_reminders(Kind.MEASUREMENT_DUE).exists()


def test_two_sweeps_at_once_write_each_reminder_once(transactional_db, owner, relationship):
    ProjectFactory(
        relationship=relationship,
        owner=owner,
        stage="delivered",
        started_on=TODAY - dt.timedelta(days=200),
        delivered_on=TODAY - dt.timedelta(days=100),
    )
    barrier, errors = threading.Barrier(2), []

    def run():
        try:
            barrier.wait(5)
            reminders.sweep(today=TODAY)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert open_reminders(Kind.MEASUREMENT_DUE).count() == 1


def test_a_project_stuck_in_a_stage_is_reminded_until_it_moves(owner, relationship):
    project = ProjectFactory(relationship=relationship, owner=owner, stage="approved")
    AuditEntry.objects.filter(object_id=project.pk).update(at=timezone.now() - dt.timedelta(days=130))
    reminders.sweep(today=timezone.localdate())
    (reminder,) = open_reminders(Kind.STUCK_IN_STAGE)
    assert "Approved" in reminder.title and "130 days" in reminder.title
    project_services.project_transition(actor=None, project=project, to_stage="in_progress")
    reminders.sweep(today=timezone.localdate())
    assert not open_reminders(Kind.STUCK_IN_STAGE).exists()


def test_a_score_that_fell_a_tier_tells_the_managers_and_executives(owner, relationship):
    executive = UserFactory(role=Role.EXECUTIVE)
    this_month = TODAY.replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    for period, score, tier in ((last_month, "72", "high_performing"), (this_month, "55", "steady")):
        RelationshipScore.objects.create(
            relationship=relationship, period=period, score=Decimal(score), tier=tier
        )
    reminders.sweep(today=TODAY)
    assert set(open_reminders(Kind.TIER_DROPPED).values_list("recipient", flat=True)) == {
        owner.pk,
        executive.pk,
    }
    RelationshipScore.objects.filter(relationship=relationship, period=this_month).update(
        score=Decimal("75"), tier="high_performing"
    )
    reminders.sweep(today=TODAY)
    assert not open_reminders(Kind.TIER_DROPPED).exists()


def test_no_delivery_this_quarter_warns_late_in_the_quarter_only(owner, relationship):
    reminders.sweep(today=dt.date(2026, 10, 5))  # 87 days left: too early to worry
    assert not open_reminders(Kind.CONTINUITY_AT_RISK).exists()
    reminders.sweep(today=TODAY)
    (reminder,) = open_reminders(Kind.CONTINUITY_AT_RISK)
    assert "2026Q4" in reminder.reminder_key
    ProjectFactory(
        relationship=relationship,
        stage="delivered",
        started_on=dt.date(2026, 9, 1),
        delivered_on=dt.date(2026, 11, 2),
    )
    reminders.sweep(today=TODAY)
    assert not open_reminders(Kind.CONTINUITY_AT_RISK).exists()


def test_a_leadership_term_ending_soon_is_reminded_until_the_next_pair_is_recorded(owner, relationship):
    pair = LeadershipPair.objects.create(
        relationship=relationship,
        client_leader="A. Client",
        provider_leader="B. Provider",
        started_on=dt.date(2024, 1, 1),
        ended_on=timezone.localdate() + dt.timedelta(days=20),
    )
    reminders.sweep()
    (reminder,) = open_reminders(Kind.LEADERSHIP_TERM_ENDING)
    assert "A. Client" in reminder.body
    LeadershipPair.objects.create(
        relationship=relationship,
        client_leader="C",
        provider_leader="D",
        started_on=pair.ended_on + dt.timedelta(days=1),
    )
    reminders.sweep()
    assert not open_reminders(Kind.LEADERSHIP_TERM_ENDING).exists()


def test_an_event_closes_a_reminder_without_waiting_for_the_sweep(owner, relationship):
    project = ProjectFactory(
        relationship=relationship,
        owner=owner,
        stage="delivered",
        started_on=timezone.localdate() - dt.timedelta(days=200),
        delivered_on=timezone.localdate() - dt.timedelta(days=100),
    )
    reminders.sweep()
    assert open_reminders(Kind.MEASUREMENT_DUE).exists()
    project_services.project_delete(actor=None, project=project)
    on_events(list(Event.objects.filter(type="project.deleted")))
    assert not open_reminders(Kind.MEASUREMENT_DUE).exists()


def test_notify_respects_preferences_and_skips_inactive_people():
    keen, quiet, gone = UserFactory(), UserFactory(), UserFactory(is_active=False)
    Preference.objects.create(user=quiet, muted_in_app=[Kind.MENTION], muted_email=[Kind.MENTION])
    written = services.notify(
        recipients=[keen, quiet, gone], kind=Kind.MENTION, title="You were mentioned", url="/x/"
    )
    assert written == 1
    assert list(Notification.objects.values_list("recipient", flat=True)) == [keen.pk]


def test_the_digest_goes_at_the_chosen_local_hour_once_and_not_when_nothing_is_new(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = UserFactory(email="pat@example.com")
    Preference.objects.create(user=user, digest_hour=8, time_zone="Asia/Tokyo")
    services.notify(recipients=[user], kind=Kind.OTHER, title="Something new", url="/projects/1/")
    seven_tokyo = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC)  # 07:00 in Tokyo
    assert digest.send_digests(now=seven_tokyo) == 0
    eight_tokyo = seven_tokyo + dt.timedelta(hours=1)
    assert digest.send_digests(now=eight_tokyo) == 1
    (message,) = mail.outbox
    assert message.to == ["pat@example.com"] and "Something new" in message.body
    assert "/projects/1/" in message.body
    assert digest.send_digests(now=eight_tokyo + dt.timedelta(hours=1)) == 0  # once a day
    next_day = eight_tokyo + dt.timedelta(days=1)
    assert digest.send_digests(now=next_day) == 0  # nothing new: no e-mail
    assert len(mail.outbox) == 1


def test_the_notification_centre(client, owner):
    services.notify(recipients=[owner], kind=Kind.OTHER, title="Look at this", url="/projects/")
    client.force_login(owner)
    assert "1 unread" in client.get("/notifications/badge/").content.decode()
    page = client.get("/notifications/").content.decode()
    assert "Look at this" in page
    notification = Notification.objects.get()
    response = client.get(f"/notifications/{notification.pk}/")
    assert response.status_code == 302 and response["Location"] == "/projects/"
    assert "unread" not in client.get("/notifications/badge/").content.decode().replace("no unread", "")
    other = UserFactory()
    client.force_login(other)
    assert client.get(f"/notifications/{notification.pk}/").status_code == 404


def test_preferences_are_saved(client, owner):
    client.force_login(owner)
    response = client.post(
        "/notifications/preferences/",
        {"in_app": [Kind.MENTION], "email": [], "digest_hour": 18, "time_zone": "Europe/Berlin"},
    )
    assert response.status_code == 302
    preference = Preference.objects.get(user=owner)
    assert preference.wants_in_app(Kind.MENTION) and not preference.wants_in_app(Kind.STUCK_IN_STAGE)
    assert (
        not preference.email_digest
        and preference.digest_hour == 18
        and preference.time_zone == "Europe/Berlin"
    )
    bad = client.post("/notifications/preferences/", {"digest_hour": 30, "time_zone": "Mars/Base"})
    assert bad.status_code == 400

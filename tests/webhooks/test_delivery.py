"""Deliveries: what is sent, in which order, how failures are retried, and when an endpoint stops."""

import datetime as dt
import itertools
import time

import pytest
from django.utils import timezone

from notifications.models import Notification
from outbox.models import Event
from projects import services as project_services
from tests.factories import ProjectFactory, RelationshipFactory, UserFactory
from tests.webhooks.helpers import bodies, endpoint_for, relay_and_deliver
from webhooks import delivery as delivery_module
from webhooks import services
from webhooks.delivery import deliver_endpoint, send_test_delivery
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


def test_the_payload_carries_the_event_the_record_and_the_record_as_the_api_shows_it(
    admin_user, receiver, settings
):
    settings.SITE_URL = "https://portfolio.example.com"
    endpoint = endpoint_for(admin_user, receiver.url, event_types=["project.created"])
    project = ProjectFactory(external_id="P-7", title="Forecasting tools")
    relay_and_deliver(endpoint)
    (body,) = bodies(receiver)
    event = Event.objects.get(type="project.created", record_id=project.pk)
    assert body["type"] == "project.created"
    assert body["data"]["event"]["id"] == f"evt_{event.pk}" == receiver.received[0].headers["webhook-id"]
    assert body["data"]["event"]["sequence"] == event.sequence
    assert body["data"]["record"] == {
        "type": "project",
        "id": project.pk,
        "external_id": "P-7",
        "version": 1,
        "url": f"https://portfolio.example.com/api/v1/projects/{project.pk}/",
    }
    shown = body["data"]["object"]
    assert (shown["id"], shown["title"], shown["stage"], shown["version"]) == (
        project.pk,
        "Forecasting tools",
        "idea",
        1,
    )
    assert Delivery.objects.get(endpoint=endpoint).status == Delivery.Status.DELIVERED


def test_an_endpoint_gets_only_its_types_and_relationship(admin_user, receiver):
    mine, other = RelationshipFactory(), RelationshipFactory()
    endpoint = endpoint_for(
        admin_user, receiver.url, event_types=["project.stage_changed"], relationship=mine
    )
    project = ProjectFactory(relationship=mine)
    elsewhere = ProjectFactory(relationship=other)
    project_services.project_transition(actor=None, project=project, to_stage="proposed")
    project_services.project_transition(actor=None, project=elsewhere, to_stage="proposed")
    relay_and_deliver(endpoint)
    assert [(b["type"], b["data"]["record"]["id"]) for b in bodies(receiver)] == [
        ("project.stage_changed", project.pk)
    ]


def test_an_account_manager_receives_only_their_relationships(account_manager, portfolio, receiver):
    endpoint = endpoint_for(account_manager, receiver.url)
    ProjectFactory(relationship=portfolio["rel_a"], title="mine")
    ProjectFactory(relationship=portfolio["rel_b"], title="another client's")
    relay_and_deliver(endpoint)
    titles = {b["data"]["object"]["title"] for b in bodies(receiver) if b["type"] == "project.created"}
    assert titles == {"mine"}
    assert all(b["data"]["event"]["relationship_id"] != portfolio["rel_b"].pk for b in bodies(receiver))


def test_an_owner_who_lost_access_gets_nothing_of_that_relationship(account_manager, portfolio, receiver):
    endpoint = endpoint_for(account_manager, receiver.url)
    ProjectFactory(relationship=portfolio["rel_a"])
    from outbox.tasks import relay_events

    relay_events()  # fanned out while the manager could see relationship A
    portfolio["rel_a"].account_managers.remove(account_manager)
    deliver_endpoint(endpoint.pk)
    assert receiver.received == []
    assert set(Delivery.objects.filter(endpoint=endpoint).values_list("status", flat=True)) == {"skipped"}


def test_deliveries_go_out_in_sequence_order_and_a_failing_one_holds_the_rest(admin_user, receiver, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "RETRY_SCALE": 0.02}  # the 5 s wait: 0.1 s
    endpoint = endpoint_for(admin_user, receiver.url, event_types=["project.created"])
    receiver.script = [500]
    projects = [ProjectFactory(title=f"p{n}") for n in range(3)]
    relay_and_deliver(endpoint)
    # The first failed: nothing behind it was tried.
    assert [b["data"]["record"]["id"] for b in bodies(receiver)] == [projects[0].pk]
    deliver_endpoint(endpoint.pk)  # too early: the head waits, so does everything behind it
    assert len(receiver.received) == 1
    time.sleep(0.15)
    deliver_endpoint(endpoint.pk)
    assert [b["data"]["record"]["id"] for b in bodies(receiver)] == [projects[0].pk] + [
        p.pk for p in projects
    ]


def test_500_five_times_then_200_is_retried_on_the_schedule_and_logged(admin_user, receiver, fast_retries):
    endpoint = endpoint_for(admin_user, receiver.url, event_types=["project.created"])
    receiver.script = [500] * 5
    ProjectFactory()
    relay_and_deliver(endpoint)
    delivery = Delivery.objects.get(endpoint=endpoint)
    deadline = time.monotonic() + 30
    while delivery.status == Delivery.Status.PENDING and time.monotonic() < deadline:
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
        time.sleep(max(0.0, wait) + 0.005)
        deliver_endpoint(endpoint.pk)
        delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    attempts = list(delivery.attempt_log.order_by("number"))
    assert [a.status_code for a in attempts] == [500, 500, 500, 500, 500, 200]
    assert [a.succeeded for a in attempts] == [False] * 5 + [True]
    assert all(a.response_excerpt.startswith("answered") for a in attempts)
    # Waits follow 5 s, 5 min, 30 min, 2 h, 5 h (× the compression), each ± 10 %.
    gaps = [(b.attempted_at - a.attempted_at).total_seconds() for a, b in itertools.pairwise(attempts)]
    for gap, planned in zip(gaps, delivery_module.RETRY_SCHEDULE[1:6], strict=True):
        assert gap >= planned * 0.0001 * 0.9
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # the same id every time
    assert Endpoint.objects.get(pk=endpoint.pk).failing_since is None


def test_retries_end_after_about_three_days():
    scale_seconds = sum(delivery_module.RETRY_SCHEDULE)
    assert dt.timedelta(days=2.5) < dt.timedelta(seconds=scale_seconds) < dt.timedelta(days=3.5)


def test_410_gone_disables_the_endpoint_and_cancels_what_it_still_owed(admin_user, receiver):
    endpoint = endpoint_for(admin_user, receiver.url, event_types=["project.created"])
    receiver.script = [410]
    ProjectFactory()
    ProjectFactory()
    relay_and_deliver(endpoint)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "410" in endpoint.disabled_reason
    assert sorted(Delivery.objects.filter(endpoint=endpoint).values_list("status", flat=True)) == [
        "cancelled",
        "failed",
    ]
    assert len(receiver.received) == 1


def test_five_days_of_failure_disables_and_notifies_the_owner(admin_user, receiver):
    endpoint = endpoint_for(admin_user, receiver.url, event_types=["project.created"])
    Endpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - dt.timedelta(days=5, minutes=1)
    )
    receiver.default = 503
    ProjectFactory()
    relay_and_deliver(endpoint)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "5 days" in endpoint.disabled_reason
    notification = Notification.objects.get(recipient=admin_user, kind="webhook_disabled")
    assert notification.url == f"/webhooks/{endpoint.pk}/"


def test_a_success_clears_the_failing_mark(admin_user, receiver):
    endpoint = endpoint_for(admin_user, receiver.url, event_types=["project.created"])
    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - dt.timedelta(days=4))
    ProjectFactory()
    relay_and_deliver(endpoint)
    assert Endpoint.objects.get(pk=endpoint.pk).failing_since is None


def test_a_test_message_and_a_replay(admin_user, receiver):
    endpoint = endpoint_for(admin_user, receiver.url, event_types=["project.created"])
    test = services.send_test(actor=admin_user, endpoint=endpoint)
    send_test_delivery(test.pk)
    assert bodies(receiver)[0]["type"] == "webhook.test"
    assert receiver.received[0].headers["webhook-id"] == f"test_{test.pk}"

    ProjectFactory()
    relay_and_deliver(endpoint)
    first_id = receiver.received[-1].headers["webhook-id"]
    event = Event.objects.get(pk=int(first_id.removeprefix("evt_")))
    assert services.replay(actor=admin_user, endpoint=endpoint, event_id=event.pk) == 1
    deliver_endpoint(endpoint.pk)
    assert receiver.received[-1].headers["webhook-id"] == first_id  # receivers may deduplicate a replay
    ProjectFactory()
    relay_and_deliver(endpoint)
    since = event.occurred_at
    assert services.replay(actor=admin_user, endpoint=endpoint, since=since) == 2
    deliver_endpoint(endpoint.pk)
    assert len(receiver.received) == 1 + 1 + 1 + 1 + 2


def test_fan_out_twice_writes_each_delivery_once(admin_user, receiver):
    from outbox.models import ConsumerPosition
    from outbox.tasks import relay_events

    endpoint = endpoint_for(admin_user, receiver.url)
    ProjectFactory()
    relay_events()
    count = Delivery.objects.filter(endpoint=endpoint).count()
    ConsumerPosition.objects.filter(name="webhooks").update(position=0)  # as if its commit were lost
    relay_events()
    assert Delivery.objects.filter(endpoint=endpoint).count() == count > 0


def test_an_inactive_owner_gets_nothing(receiver):
    owner = UserFactory(role="admin")
    endpoint = endpoint_for(owner, receiver.url)
    owner.is_active = False
    owner.save()
    ProjectFactory()
    relay_and_deliver(endpoint)
    assert receiver.received == []

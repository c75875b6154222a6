"""The webhook pages: add an endpoint (secret shown once), its page, test, replay, rotate, turn off."""

import pytest

from outbox.tasks import relay_events
from tests.factories import ProjectFactory
from tests.webhooks.receiver import Receiver
from webhooks.delivery import deliver_endpoint, send_test_delivery
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def test_an_admin_adds_an_endpoint_and_sees_the_secret_once(client, admin_user, receiver):
    client.force_login(admin_user)
    response = client.post(
        "/webhooks/", {"url": receiver.url, "description": "ERP", "event_types": ["project.created"]}
    )
    assert response.status_code == 200
    endpoint = Endpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    page = client.get("/webhooks/").content.decode()
    assert "ERP" in page and endpoint.secret not in page
    detail = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert endpoint.secret not in detail and endpoint.secret[:10] in detail


def test_a_refused_url_is_a_form_error_and_nothing_is_saved(client, admin_user, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_LOOPBACK": False}
    client.force_login(admin_user)
    response = client.post("/webhooks/", {"url": "http://169.254.169.254/latest/"})
    assert response.status_code == 400
    assert "link-local" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_who_may_see_the_pages(client, executive, account_manager, other_account_manager, receiver):
    client.force_login(executive)
    assert client.get("/webhooks/").status_code == 403
    client.force_login(other_account_manager)
    client.post("/webhooks/", {"url": receiver.url})
    theirs = Endpoint.objects.get()
    client.force_login(account_manager)
    assert client.get("/webhooks/").status_code == 200
    assert client.get(f"/webhooks/{theirs.pk}/").status_code == 404


def test_the_endpoint_page_logs_deliveries_and_offers_test_replay_rotate_and_off(
    client, admin_user, receiver
):
    client.force_login(admin_user)
    client.post("/webhooks/", {"url": receiver.url, "event_types": ["project.created"]})
    endpoint = Endpoint.objects.get()
    ProjectFactory(title="Vendor portal")
    relay_events()
    deliver_endpoint(endpoint.pk)
    client.post(f"/webhooks/{endpoint.pk}/test/")
    send_test_delivery(Delivery.objects.get(kind="test").pk)
    page = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert "project.created" in page and "webhook.test" in page and "Delivered" in page

    event_id = Delivery.objects.get(kind="event").event_id
    client.post(f"/webhooks/{endpoint.pk}/replay/", {"event_id": event_id})
    assert Delivery.objects.filter(kind="replay", event_id=event_id).exists()

    rotated = client.post(f"/webhooks/{endpoint.pk}/rotate/").content.decode()
    endpoint.refresh_from_db()
    assert endpoint.secret in rotated and endpoint.previous_secret

    client.post(f"/webhooks/{endpoint.pk}/toggle/")
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "Turned off by its owner" in client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    client.post(f"/webhooks/{endpoint.pk}/delete/")
    assert not Endpoint.objects.exists()


def test_the_django_admin_shows_endpoints_without_their_secret_and_changes_nothing(client, receiver):
    from django.contrib.auth.models import User

    superuser = User.objects.create_superuser("root", "root@example.com", "pw-for-tests")
    client.force_login(superuser)
    client.post("/webhooks/", {"url": receiver.url})
    endpoint = Endpoint.objects.get()
    page = client.get(f"/admin/webhooks/endpoint/{endpoint.pk}/change/")
    assert page.status_code == 200 and endpoint.secret not in page.content.decode()
    assert client.get("/admin/webhooks/endpoint/add/").status_code == 403
    assert client.get("/admin/outbox/event/").status_code == 200

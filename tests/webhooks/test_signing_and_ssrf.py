"""Signatures an independent verifier accepts, and the addresses webhooks are never sent to."""

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests import conftest as root
from tests.factories import ProjectFactory
from tests.webhooks.helpers import endpoint_for, relay_and_deliver
from tests.webhooks.receiver import Receiver
from webhooks import services, ssrf
from webhooks.models import Delivery
from webhooks.signing import new_secret, signature_headers

pytestmark = pytest.mark.django_db


def test_the_published_test_vector_signs_the_same():
    # Standard Webhooks' reference test vector (the libraries' own tests).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = signature_headers(
        message_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=dt.datetime.fromtimestamp(1614265330, tz=dt.UTC),
        body='{"test": 2432232314}',
        secrets_in_use=[secret],
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_delivered_event_verifies_with_the_standardwebhooks_package_and_tampering_does_not(
    admin_user, receiver
):
    endpoint = endpoint_for(admin_user, receiver.url)
    ProjectFactory()
    relay_and_deliver(endpoint)
    assert receiver.received
    request = receiver.received[0]
    verifier = Webhook(endpoint.secret)
    payload = verifier.verify(request.body, request.headers)
    assert payload["data"]["event"]["id"] == request.headers["webhook-id"]

    tampered = request.body.replace(b'"type"', b'"typo"', 1)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verifier.verify(tampered, request.headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(new_secret()).verify(request.body, request.headers)


def test_an_old_timestamp_is_rejected_by_the_verifier():
    secret = new_secret()
    body = json.dumps({"type": "webhook.test"})
    old = timezone.now() - dt.timedelta(minutes=6)
    headers = signature_headers(message_id="evt_1", timestamp=old, body=body, secrets_in_use=[secret])
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, headers)


def test_after_rotation_both_secrets_verify_for_a_day_then_only_the_new_one(admin_user, receiver):
    endpoint = endpoint_for(admin_user, receiver.url)
    old_secret = endpoint.secret
    endpoint = services.rotate_secret(actor=admin_user, endpoint=endpoint)
    assert endpoint.secret != old_secret
    assert endpoint.previous_secret_expires_at - timezone.now() > dt.timedelta(hours=23, minutes=59)
    ProjectFactory()
    relay_and_deliver(endpoint)
    request = receiver.received[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(request.body, request.headers)
    Webhook(endpoint.secret).verify(request.body, request.headers)

    endpoint.previous_secret_expires_at = timezone.now() - dt.timedelta(seconds=1)
    endpoint.save()
    ProjectFactory()
    relay_and_deliver(endpoint)
    request = receiver.received[-1]
    Webhook(endpoint.secret).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(request.body, request.headers)


# --- SSRF -------------------------------------------------------------------------------------


@pytest.fixture
def strict(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE": False, "ALLOW_LOOPBACK": False}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.0.0.1:8000/hook",
        "http://[::1]/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8000/hook",  # a name resolving to loopback
        "http://loopback.hooks.test/hook",  # another one (see the resolver below)
        "http://[::ffff:127.0.0.1]/hook",  # loopback dressed as IPv6
        "http://192.168.1.10/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_and_loopback_targets_are_refused_at_save(strict, admin_user, url, monkeypatch):
    monkeypatch.setitem(root.FAKE_DNS, "loopback.hooks.test", "127.0.0.1")
    with pytest.raises(ValidationError) as refused:
        endpoint_for(admin_user, url)
    assert "url" in refused.value.message_dict


def test_a_public_https_target_is_accepted(strict, admin_user, monkeypatch):
    monkeypatch.setitem(root.FAKE_DNS, "hooks.example.com", "93.184.216.34")
    endpoint = endpoint_for(admin_user, "https://hooks.example.com/in")
    assert endpoint.pk


def test_production_needs_https(settings, admin_user, monkeypatch):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "REQUIRE_HTTPS": True, "ALLOW_LOOPBACK": False}
    monkeypatch.setitem(root.FAKE_DNS, "hooks.example.com", "93.184.216.34")
    with pytest.raises(ValidationError, match="https"):
        endpoint_for(admin_user, "http://hooks.example.com/in")


def test_a_name_that_resolves_elsewhere_at_send_time_is_refused_without_connecting(
    strict, admin_user, monkeypatch
):
    monkeypatch.setitem(root.FAKE_DNS, "rebind.hooks.test", "93.184.216.34")
    endpoint = endpoint_for(admin_user, "https://rebind.hooks.test/in")
    monkeypatch.setitem(root.FAKE_DNS, "rebind.hooks.test", "127.0.0.1")  # DNS changed since
    connections = []
    monkeypatch.setattr("webhooks.transport.post", lambda *a, **k: connections.append(a))
    ProjectFactory()
    relay_and_deliver(endpoint)
    assert connections == []
    delivery = Delivery.objects.filter(endpoint=endpoint).order_by("id").first()
    assert delivery.status == Delivery.Status.PENDING  # it will be tried again, and refused again
    assert "loopback" in delivery.attempt_log.get().error


def test_the_allow_private_setting_lets_an_internal_receiver_in(settings, admin_user):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE": True, "ALLOW_LOOPBACK": False}
    assert ssrf.check_url("http://10.0.0.1/hook").address == "10.0.0.1"
    assert ssrf.check_url("http://127.0.0.1:9/hook").address == "127.0.0.1"


def test_a_redirect_to_loopback_is_not_followed(admin_user, receiver):
    # The registered receiver answers 307 to another loopback address; nothing goes there.
    inner = Receiver(host="127.0.0.2").start()
    try:
        receiver.default = 307
        receiver.script = [(307, {"Location": inner.url})]
        endpoint = endpoint_for(admin_user, receiver.url)
        ProjectFactory()
        relay_and_deliver(endpoint)
        assert len(receiver.received) == 1
        assert inner.received == []
        attempt = Delivery.objects.filter(endpoint=endpoint).order_by("id").first().attempt_log.get()
        assert attempt.status_code == 307 and "not followed" in attempt.error
    finally:
        inner.stop()

"""Repeated failed sign-ins lock the username or the address, on the login page and the token
endpoint alike; a success resets the count; an admin can unlock; every attempt is on record."""

import pytest
from axes.models import AccessAttempt, AccessLog
from axes.utils import reset
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-and-unusual-passphrase"


@pytest.fixture
def person(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = UserFactory(username="ada")
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(client, password, *, username="ada", address="10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_the_login_page_locks_a_username_at_the_fifth_failure_even_for_the_right_password(client, person):
    for _ in range(4):
        assert sign_in(client, "wrong").status_code == 200  # the form again, with its error
    assert sign_in(client, "wrong").status_code == 429  # the fifth failure locks
    locked = sign_in(client, PASSWORD, address="10.0.0.2")  # another address: the username is locked
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    assert "locked for 15 minutes" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_address_is_locked_whichever_usernames_it_tries(client, person):
    for number in range(5):
        sign_in(client, "wrong", username=f"guess{number}", address="10.9.9.9")
    assert sign_in(client, PASSWORD, address="10.9.9.9").status_code == 429
    assert sign_in(client, PASSWORD, address="10.0.0.7").status_code == 302  # elsewhere, ada signs in


def test_a_success_resets_the_count(client, person):
    for _ in range(4):
        sign_in(client, "wrong")
    assert sign_in(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        sign_in(client, "wrong")
    assert sign_in(client, PASSWORD).status_code == 302


def test_an_admin_unlocks_and_the_attempts_are_on_record(client, person):
    for _ in range(5):
        sign_in(client, "wrong")
    assert sign_in(client, PASSWORD).status_code == 429
    attempt = AccessAttempt.objects.get(username="ada")
    assert attempt.failures_since_start >= 5 and attempt.ip_address == "10.0.0.1"
    reset(username="ada")
    reset(ip="10.0.0.1")
    assert sign_in(client, PASSWORD).status_code == 302
    assert AccessLog.objects.filter(username="ada").exists()


def test_the_token_endpoint_counts_the_same_failures_and_answers_json(client, person):
    url = "/api/v1/auth/token/"
    for attempt in range(5):
        response = client.post(
            url,
            {"username": "ada", "password": "wrong"},
            content_type="application/json",
            REMOTE_ADDR="10.1.1.1",
        )
        assert response.status_code == (400 if attempt < 4 else 429)  # the fifth failure locks
    locked = client.post(
        url,
        {"username": "ada", "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR="10.1.1.2",
    )
    assert locked.status_code == 429
    assert locked["Content-Type"].startswith("application/json")
    assert locked.json()["code"] == "locked_out"
    assert int(locked["Retry-After"]) == 900
    # The browser login shares the count: ada is locked there too.
    assert sign_in(client, PASSWORD, address="10.1.1.3").status_code == 429

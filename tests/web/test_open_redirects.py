"""After signing in (or out), a `next` that leads off the site is ignored: the browser goes home."""

from urllib.parse import urlsplit

import pytest

from projects.access import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"
OFF_SITE = [
    "https://evil.example/",
    "http://evil.example/projects/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "https:evil.example",
    "http://testserver@evil.example/",
    "https://testserver.evil.example/",
    "javascript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    " https://evil.example/",
    "https://evil.example\\@testserver/",
]


@pytest.fixture
def person(settings):
    # A fast hasher: these tests sign in dozens of times, and the hash's strength is not their subject.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = UserFactory(username="redirect-user", role=Role.ACCOUNT_MANAGER)
    user.set_password(PASSWORD)
    user.save()
    return user


def assert_stays_on_site(location: str) -> None:
    parts = urlsplit(location)
    assert parts.scheme in ("", "http", "https") and parts.netloc in ("", "testserver"), location
    assert not location.startswith(("//", "/\\", "\\")), location


@pytest.mark.parametrize("target", OFF_SITE)
def test_sign_in_ignores_a_next_that_leaves_the_site(client, person, target):
    response = client.post(
        "/accounts/login/", {"username": person.username, "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302
    assert_stays_on_site(response["Location"])
    assert response["Location"] == "/"


@pytest.mark.parametrize("target", OFF_SITE[:4])
def test_sign_in_ignores_an_off_site_next_in_the_query_string(client, person, target):
    response = client.post(
        f"/accounts/login/?next={target}", {"username": person.username, "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_sign_in_follows_a_next_on_the_site(client, person):
    response = client.post(
        "/accounts/login/",
        {"username": person.username, "password": PASSWORD, "next": "/projects/?stage=idea"},
    )
    assert response.status_code == 302 and response["Location"] == "/projects/?stage=idea"


@pytest.mark.parametrize("target", OFF_SITE[:4])
def test_a_signed_in_visit_to_the_login_page_ignores_an_off_site_next(client, person, target):
    client.force_login(person)
    response = client.get("/accounts/login/", {"next": target})
    assert response.status_code == 302
    assert_stays_on_site(response["Location"])


@pytest.mark.parametrize("target", OFF_SITE[:4])
def test_sign_out_ignores_a_next_that_leaves_the_site(client, person, target):
    client.force_login(person)
    response = client.post("/accounts/logout/", {"next": target})
    assert response.status_code == 302
    assert_stays_on_site(response["Location"])
    assert response["Location"] == "/accounts/login/"

"""The token endpoint takes as long for a username that does not exist as for one that does: its
timing does not tell an attacker which accounts exist.

Timing is compared statistically, not against a clock: requests for a known username (wrong
password) and an unknown one are interleaved, so the machine's load hits both alike, and the
medians must lie within a factor of 1.5 of each other. The same statistic is shown to catch a leak:
with the password check skipped for unknown usernames (what a naive lookup-then-check would do),
the unknown ones come back several times faster and the comparison fails.

The password hasher is PBKDF2 with fewer iterations than production (tests stay quick), still
enough for hashing to dominate a request, as it does in production.
"""

import statistics
import time

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from projects.access import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SAMPLES = 24
MAX_MEDIAN_RATIO = 1.5


class TestPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Production's algorithm, 100,000 iterations instead of over a million."""

    __test__ = False
    iterations = 100_000


@pytest.fixture
def token_endpoint(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.TestPBKDF2PasswordHasher"]
    # Every request is a failed sign-in: without these, the lockout (5 failures) and the token
    # rate (20 a minute per address) would answer 429 long before the samples are taken.
    settings.AXES_FAILURE_LIMIT = 10_000
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "token": "100000/min",
        },
    }
    user = UserFactory(username="known-person", role=Role.ACCOUNT_MANAGER)
    user.set_password("the-right-password-42")
    user.save()
    return user


def _timings(client) -> tuple[list[float], list[float]]:
    known, unknown = [], []
    for number in range(SAMPLES * 2):
        username = "known-person" if number % 2 == 0 else f"nobody-{number}"
        started = time.perf_counter()
        response = client.post(
            "/api/v1/auth/token/",
            {"username": username, "password": "a-wrong-password"},
            content_type="application/json",
            REMOTE_ADDR=f"10.9.{number // 250}.{number % 250 + 1}",
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 400, response.content
        (known if number % 2 == 0 else unknown).append(elapsed)
    return known[2:], unknown[2:]  # the first of each warm caches up


def _median_ratio(known: list[float], unknown: list[float]) -> float:
    return statistics.median(known) / statistics.median(unknown)


def test_unknown_usernames_take_as_long_as_known_ones(client, token_endpoint):
    known, unknown = _timings(client)
    ratio = _median_ratio(known, unknown)
    assert 1 / MAX_MEDIAN_RATIO <= ratio <= MAX_MEDIAN_RATIO, (
        f"known {statistics.median(known) * 1000:.1f} ms, unknown {statistics.median(unknown) * 1000:.1f} ms"
    )


def test_the_comparison_catches_an_endpoint_that_skips_hashing_for_unknown_usernames(
    client, token_endpoint, monkeypatch
):
    real_authenticate = ModelBackend.authenticate

    def leaky(self, request, username=None, password=None, **kwargs):
        if username and username.startswith("nobody-"):
            return None  # no user, so no password hashing at all
        return real_authenticate(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", leaky)
    known, unknown = _timings(client)
    assert _median_ratio(known, unknown) > MAX_MEDIAN_RATIO

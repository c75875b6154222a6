"""Fixtures of the collaboration tests (the `table` of people is in tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """People are made by the dozen here; the production hasher's cost is not under test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

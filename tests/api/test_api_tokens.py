"""API tokens: stored as a digest only, named, several per user, expiring, revocable one by one,
with their last use recorded; the key is shown once."""

import datetime as dt
import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import LAST_USED_PRECISION, issue_token, token_for_key
from projects import access
from projects.access import Role, role_of, user_organization_id
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def bearer(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_the_database_never_holds_the_key(account_manager):
    token, key = issue_token(account_manager, name="ERP sync")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    secret = key.rsplit("_", 1)[1]
    assert secret not in stored and key not in stored
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(f"bpo_{token.prefix}_")


def test_several_named_tokens_each_revoked_alone(account_manager, world):
    first = bearer(issue_token(account_manager, name="ERP")[1])
    second_token, second_key = issue_token(account_manager, name="BI export")
    second = bearer(second_key)
    assert first.get("/api/v1/projects/").status_code == 200
    assert second.get("/api/v1/projects/").status_code == 200

    listed = second.get("/api/v1/auth/tokens/").json()
    assert {row["name"] for row in listed} == {"ERP", "BI export"}
    assert all("token" not in row and "digest" not in row for row in listed)

    assert first.delete(f"/api/v1/auth/tokens/{second_token.pk}/").status_code == 204
    assert second.get("/api/v1/projects/").status_code == 401
    assert first.get("/api/v1/projects/").status_code == 200


def test_another_users_token_cannot_be_seen_or_revoked(account_manager, other_account_manager):
    theirs, _ = issue_token(other_account_manager, name="theirs")
    mine = bearer(issue_token(account_manager, name="mine")[1])
    assert [row["name"] for row in mine.get("/api/v1/auth/tokens/").json()] == ["mine"]
    response = mine.delete(f"/api/v1/auth/tokens/{theirs.pk}/")
    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=theirs.pk).exists()


def test_an_expired_token_is_refused(account_manager):
    token, key = issue_token(account_manager, name="short", expires_in_days=1)
    client = bearer(key)
    assert client.get("/api/v1/projects/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.get("/api/v1/projects/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_last_use_is_recorded_at_most_once_a_minute(account_manager):
    token, key = issue_token(account_manager, name="sync")
    assert token.last_used_at is None
    first = token_for_key(key).last_used_at
    assert first is not None
    assert token_for_key(key).last_used_at == first  # within the minute: no write
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - LAST_USED_PRECISION)
    assert token_for_key(key).last_used_at > first - LAST_USED_PRECISION


def test_issue_with_password_returns_the_key_once_with_its_name_and_expiry(account_manager):
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": "am-user", "password": "test-password", "name": "Nightly", "expires_in_days": 30},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Nightly" and body["token"].startswith("bpo_")
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(days=29, hours=23) < expires - timezone.now() <= dt.timedelta(days=30)
    listed = bearer(body["token"]).get("/api/v1/auth/tokens/").json()
    assert [row["prefix"] for row in listed] == [body["prefix"]]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "expires_in_days": 366}, "expires_in_days"),
        ({"name": "ok", "expires_in_days": 0}, "expires_in_days"),  # never-expiring is off by default
        ({"name": "ok", "expires_in_days": "soon"}, "expires_in_days"),
        ({"name": "taken"}, "name"),
    ],
)
def test_bad_token_requests_are_400_naming_the_field_and_write_nothing(account_manager, body, field):
    issue_token(account_manager, name="taken")
    client = APIClient()
    client.force_authenticate(account_manager)
    response = client.post("/api/v1/auth/tokens/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert ApiToken.objects.filter(user=account_manager).count() == 1


def test_the_number_of_tokens_per_user_is_capped(settings, account_manager):
    settings.API_TOKENS = {**settings.API_TOKENS, "MAX_PER_USER": 2}
    client = APIClient()
    client.force_authenticate(account_manager)
    for name in ("one", "two"):
        assert client.post("/api/v1/auth/tokens/", {"name": name}, format="json").status_code == 201
    response = client.post("/api/v1/auth/tokens/", {"name": "three"}, format="json")
    assert response.status_code == 400
    assert "most allowed" in response.json()["errors"]["name"][0]


def test_revoking_the_calling_token_needs_a_token(account_manager):
    client = APIClient()
    client.force_login(account_manager)
    # A session has no token to revoke: a clear 400 rather than revoking every key of the user.
    issue_token(account_manager, name="kept")
    response = client.delete("/api/v1/auth/token/")
    assert response.status_code in (400, 403)  # 403: the session's CSRF check comes first
    assert ApiToken.objects.filter(user=account_manager).count() == 1


def test_inactive_users_tokens_are_refused():
    user = UserFactory(username="leaver", role="account_manager")
    _, key = issue_token(user, name="old")
    user.is_active = False
    user.save()
    assert bearer(key).get("/api/v1/projects/").status_code == 401


def test_the_tokens_page_shows_a_new_key_once_and_revokes(client, account_manager):
    client.force_login(account_manager)
    response = client.post("/account/tokens/", {"name": "Power BI", "expires_in_days": 90})
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key.startswith("bpo_") and key in response.content.decode()
    again = client.get("/account/tokens/").content.decode()
    assert "Power BI" in again and key not in again  # listed by name and prefix, never the key
    token = ApiToken.objects.get(user=account_manager)
    assert token.prefix in again
    response = client.post(f"/account/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    assert not ApiToken.objects.exists()


def test_the_tokens_page_refuses_bad_input_with_form_errors(client, account_manager):
    client.force_login(account_manager)
    response = client.post("/account/tokens/", {"name": "", "expires_in_days": 9999})
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"name", "expires_in_days"}
    assert not ApiToken.objects.exists()


def test_a_person_cannot_revoke_someone_elses_token_from_the_page(
    client, account_manager, other_account_manager
):
    theirs, _ = issue_token(other_account_manager, name="theirs")
    client.force_login(account_manager)
    client.post(f"/account/tokens/{theirs.pk}/revoke/")
    assert ApiToken.objects.filter(pk=theirs.pk).exists()


def test_the_migration_hashes_existing_plain_tokens_and_keeps_them_working(account_manager):
    import importlib

    from django.apps import apps
    from rest_framework.authtoken.models import Token

    migration = importlib.import_module("accounts.migrations.0002_hash_existing_tokens")
    plain = Token.objects.create(user=account_manager)
    migration.hash_existing_tokens(apps, None)
    assert not Token.objects.exists()  # no plain key is left in the database
    token = ApiToken.objects.get(user=account_manager)
    assert token.digest == hashlib.sha256(plain.key.encode()).hexdigest()
    assert token.expires_at is not None
    assert bearer(plain.key).get("/api/v1/projects/").status_code == 200


def test_a_token_brings_its_users_role_and_organisation_as_access_reads_them(
    table, django_assert_num_queries
):
    # Everyone of the table, a superuser in no group, and someone in two groups (the broader wins).
    people = {
        **table["people"],
        "superuser": UserFactory(username="super", is_superuser=True),
        "two_groups": UserFactory(username="both", role=Role.CONTRIBUTOR, organization=table["client_a"]),
    }
    people["two_groups"].groups.add(Group.objects.get(name=Role.EXECUTIVE))
    for name, person in people.items():
        fresh = get_user_model().objects.get(pk=person.pk)
        expected = (role_of(fresh), user_organization_id(fresh))
        token = token_for_key(issue_token(person, name="reads")[1], user_lookups=access.PRINCIPAL_LOOKUPS)
        access.prime_principal(token.user, token.user_values)
        with django_assert_num_queries(0):
            assert (role_of(token.user), user_organization_id(token.user)) == expected, name
    assert role_of(people["two_groups"]) == Role.EXECUTIVE


def test_a_token_request_reads_the_user_and_role_in_the_tokens_query(
    world, account_manager, api_as, django_assert_num_queries
):
    # The token (with the user, the role and the organisation) is one query more than the same
    # request of a user already signed in whose role is known.
    _, key = issue_token(account_manager, name="sync")
    token_for_key(key)  # its last use is written once a minute: not in the counted request
    url = f"/api/v1/projects/{world['project_a'].pk}/"
    signed_in = api_as(account_manager)
    role_of(account_manager)
    with CaptureQueriesContext(connection) as session_queries:
        assert signed_in.get(url).status_code == 200
    with django_assert_num_queries(len(session_queries) + 1):
        assert bearer(key).get(url).status_code == 200


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_a_token_and_its_user_load_as_the_orm_loads_them_and_the_query_is_compiled_once(table):
    """On PostgreSQL the token's query is compiled once and its rows made into instances by hand
    (accounts.services._token_query): every field must be what the ORM itself loads."""
    person = UserFactory(username="twice", role=Role.CONTRIBUTOR, organization=table["client_a"])
    person.groups.add(Group.objects.get(name=Role.CLIENT_VIEWER))
    issued, key = issue_token(person, name="compiled", expires_in_days=3)
    loaded = token_for_key(key, user_lookups=access.PRINCIPAL_LOOKUPS)
    expected = ApiToken.objects.select_related("user").get(pk=issued.pk)
    assert _fields(loaded) == _fields(expected)
    assert _fields(loaded.user) == _fields(expected.user)
    assert loaded.expires_at.tzinfo is not None and loaded.last_used_at == expected.last_used_at
    assert (loaded._state.adding, loaded.user._state.adding) == (False, False)
    assert loaded.user_values == {
        "group_names": {Role.CONTRIBUTOR.value, Role.CLIENT_VIEWER.value},
        "organization_ids": {table["client_a"].pk},
    }
    # Another key, another user, no lookups: the same compiled text serves every key.
    _, other_key = issue_token(table["people"]["account_manager"], name="other")
    assert token_for_key(other_key).user == table["people"]["account_manager"]
    assert token_for_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    if connection.vendor == "postgresql":
        from accounts.services import _token_query

        before = _token_query.cache_info()
        token_for_key(key, user_lookups=access.PRINCIPAL_LOOKUPS)
        after = _token_query.cache_info()
        assert (after.hits, after.misses) == (before.hits + 1, before.misses)

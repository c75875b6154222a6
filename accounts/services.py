"""Issue, use and revoke API tokens. Only here are keys made, hashed and matched."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Mapping
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import ApiToken

KEY_PREFIX = "bpo_"
# How often a token's "last used" is written: a busy sync client must not turn every read into a
# write, and a minute is precise enough to answer "is this key still in use?".
LAST_USED_PRECISION = dt.timedelta(minutes=1)


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def token_settings() -> dict:
    return settings.API_TOKENS


def issue_token(user, *, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`; returns it with its key, which is never available again.

    `expires_in_days=None` takes the default lifetime; 0 means "never expires" and is allowed only
    when the settings allow it."""
    limits = token_settings()
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the token a name, e.g. “ERP nightly sync”."]
    elif len(name) > 100:
        errors["name"] = ["Ensure this field has no more than 100 characters."]
    days = limits["DEFAULT_DAYS"] if expires_in_days is None else expires_in_days
    if days == 0 and not limits["ALLOW_NEVER_EXPIRES"]:
        errors["expires_in_days"] = [f"Tokens must expire; choose 1 to {limits['MAX_DAYS']} days."]
    elif days < 0 or days > limits["MAX_DAYS"]:
        errors["expires_in_days"] = [f"Choose 1 to {limits['MAX_DAYS']} days."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # Lock the user's row so two concurrent requests cannot both pass the count below.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.filter(user=user).count() >= limits["MAX_PER_USER"]:
            raise ValidationError(
                {"name": [f"You have {limits['MAX_PER_USER']} tokens, the most allowed; revoke one first."]}
            )
        if ApiToken.objects.filter(user=user, name=name).exists():
            raise ValidationError({"name": [f"You already have a token named “{name}”."]})
        prefix = secrets.token_hex(4)
        key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        expires_at = timezone.now() + dt.timedelta(days=days) if days else None
        try:
            token = ApiToken.objects.create(
                user=user, name=name, prefix=prefix, digest=digest_of(key), expires_at=expires_at
            )
        except IntegrityError as error:  # the same name, created concurrently
            raise ValidationError({"name": [f"You already have a token named “{name}”."]}) from error
    return token, key


# Where the token query's SQL takes the key's digest while it is compiled: not a digest (64 hex
# characters), so it can only be the one parameter the filter adds.
_DIGEST_SLOT = "digest-slot"


class _TokenQuery(NamedTuple):
    sql: str
    params: tuple
    slot: int  # the position of the digest among params
    token_fields: list[str]
    user_fields: list[str]


@functools.lru_cache(maxsize=8)
def _token_query(vendor: str, user_lookups: tuple[tuple[str, str], ...]) -> _TokenQuery:
    """The token query compiled once for these user lookups (they come from code, never from a
    request): its text does not depend on the key, whose digest is its one parameter. Building and
    compiling the queryset was most of a token's cost (measured: about 1 ms of CPU a request, every
    API request)."""
    token_fields = [field.attname for field in ApiToken._meta.concrete_fields]
    user_fields = [field.attname for field in get_user_model()._meta.concrete_fields]
    queryset = (
        ApiToken.objects.filter(digest=_DIGEST_SLOT)
        .order_by()
        .values_list(
            *token_fields,
            *(f"user__{name}" for name in user_fields),
            *(f"user__{lookup}" for _, lookup in user_lookups),
        )
    )
    sql, params = queryset.query.sql_with_params()
    if params.count(_DIGEST_SLOT) != 1:
        raise RuntimeError("The token query must take the digest as its only such parameter.")
    return _TokenQuery(sql, params, params.index(_DIGEST_SLOT), token_fields, user_fields)


def _tokens_by_digest(digest: str, user_lookups: Mapping[str, str]) -> list[tuple[ApiToken, tuple]]:
    """The token of this digest with its user loaded, once per row the user lookups give, each with
    the lookups' values (in the order of `user_lookups`); [] for none."""
    lookups = tuple(user_lookups.items())
    if connection.vendor != "postgresql":
        # Elsewhere (SQLite) the database's values need Django's converters: the queryset itself.
        annotations = {f"_user_{name}": F(f"user__{lookup}") for name, lookup in lookups}
        tokens = ApiToken.objects.select_related("user").filter(digest=digest).order_by()
        return [
            (token, tuple(getattr(token, f"_user_{name}") for name, _ in lookups))
            for token in tokens.annotate(**annotations)
        ]
    query = _token_query(connection.vendor, lookups)
    params = list(query.params)
    params[query.slot] = digest
    with connection.cursor() as cursor:
        cursor.execute(query.sql, params)
        rows = cursor.fetchall()
    if not rows:
        return []
    # PostgreSQL's values are what the ORM would give these fields (none has a converter).
    token_end = len(query.token_fields)
    user_end = token_end + len(query.user_fields)
    token = ApiToken.from_db(connection.alias, query.token_fields, rows[0][:token_end])
    token.user = get_user_model().from_db(connection.alias, query.user_fields, rows[0][token_end:user_end])
    return [(token, row[user_end:]) for row in rows]


def token_for_key(key: str, *, user_lookups: Mapping[str, str] | None = None) -> ApiToken | None:
    """The live token a request's key names, its user loaded; None for an unknown, expired or
    inactive user's key. Matched on the digest, so the comparison never walks the secret.

    `user_lookups` ({name: a lookup from the user, e.g. "groups__name"}) are read in the same query,
    so a caller's other need about the user costs no round trip of its own: the token comes with
    `user_values`, {name: the set of values the lookup finds} (a lookup through a many-valued
    relation gives a row each; the token is matched on a unique digest, so they are all its)."""
    user_lookups = user_lookups or {}
    rows = _tokens_by_digest(digest_of(key), user_lookups)
    token = rows[0][0] if rows else None
    if token is not None and user_lookups:
        token.user_values = {
            name: {values[index] for _, values in rows} for index, name in enumerate(user_lookups)
        }
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def tokens_of(user):
    return ApiToken.objects.filter(user=user)


def revoke_token(user, token_id) -> bool:
    """Revoke one of `user`'s own tokens; False when they have no such token (another user's
    token is "no such token" too, never revealed)."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return bool(deleted)

"""Existing DRF tokens become hashed API tokens: their clients keep working, the plain keys go."""

import datetime as dt
import hashlib

from django.conf import settings
from django.db import migrations
from django.utils import timezone


def hash_existing_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    ApiToken = apps.get_model("accounts", "ApiToken")
    expires_at = timezone.now() + dt.timedelta(days=settings.API_TOKENS["DEFAULT_DAYS"])
    ApiToken.objects.bulk_create(
        ApiToken(
            user_id=token.user_id,
            name="API token",
            prefix=token.key[:8],
            digest=hashlib.sha256(token.key.encode()).hexdigest(),
            expires_at=expires_at,
        )
        for token in Token.objects.all()
    )
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_api_tokens"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    # Not reversible: the plain keys are gone by design.
    operations = [migrations.RunPython(hash_existing_tokens, migrations.RunPython.noop)]

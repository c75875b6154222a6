"""API tokens, kept as a digest: a leaked database holds no key that would open the API."""

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """One named API key of a user. The key itself is shown once, at creation, and never stored.

    A key is `bpo_<prefix>_<secret>`: the prefix (not secret) lets a person tell their keys apart
    in lists and logs; the SHA-256 digest of the whole key is what a request is matched on. A slow
    password hash is not needed: the secret is 256 random bits, so the digest cannot be reversed
    by guessing."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “ERP nightly sync”.")
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="api_token_name_unique_per_user"),
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

"""Standard Webhooks signatures: `webhook-signature` is `v1,` + base64(HMAC-SHA256(secret,
"{webhook-id}.{webhook-timestamp}.{body}")), one per valid secret, space-separated."""

import base64
import datetime as dt
import secrets

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: 24 random bytes, base64, with the `whsec_` prefix."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature_headers(
    *, message_id: str, timestamp: dt.datetime, body: str, secrets_in_use: list[str]
) -> dict[str, str]:
    """The three Standard Webhooks headers for one request."""
    signatures = [
        Webhook(secret).sign(msg_id=message_id, timestamp=timestamp, data=body) for secret in secrets_in_use
    ]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def masked(secret: str) -> str:
    """How a stored secret is shown after its creation: enough to tell two apart, not to sign."""
    return f"{secret[: len(SECRET_PREFIX) + 4]}…" if secret else ""

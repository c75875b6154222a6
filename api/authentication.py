"""How API clients authenticate: an API token, sent as `Bearer <key>` or `Token <key>`.

Kept apart from the views (api.auth): DRF's settings import this class while its views load."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.services import token_for_key
from projects import access


class TokenOrBearerAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>` or `Authorization: Token <key>`: the same API token.

    Generated clients send `Bearer` by default; the docs have always shown `Token`. Both work. The
    key is matched on its digest (accounts.services); an expired or revoked key is refused."""

    keywords = ("Token", "Bearer")

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in {keyword.lower().encode() for keyword in self.keywords}:
            return None  # another scheme (or none): the session may still authenticate
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: send `Bearer <key>`.")
        try:
            key = parts[1].decode()
        except UnicodeError as error:
            raise exceptions.AuthenticationFailed("Invalid token header: the key is not text.") from error
        # The user's role and organisation come with the token, in its query.
        token = token_for_key(key, user_lookups=access.PRINCIPAL_LOOKUPS)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        access.prime_principal(token.user, token.user_values)
        return token.user, token

    def authenticate_header(self, request):
        return "Token"


class TokenOrBearerScheme(OpenApiAuthenticationExtension):
    """Published as HTTP bearer authentication, which every generator understands."""

    target_class = TokenOrBearerAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from POST /api/v1/auth/token/ (or the API tokens page), as "
            "`Authorization: Bearer <key>` (or `Authorization: Token <key>`).",
        }

"""How API clients authenticate: the API token, sent as `Token <key>` or `Bearer <key>`.

Kept apart from the views (api.auth): DRF's settings import this class while its views load."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header


class TokenOrBearerAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` or `Authorization: Bearer <key>`: the same API token.

    Generated clients send `Bearer` by default; the docs have always shown `Token`. Both work."""

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
        return self.authenticate_credentials(key)


class TokenOrBearerScheme(OpenApiAuthenticationExtension):
    """Published as HTTP bearer authentication, which every generator understands."""

    target_class = TokenOrBearerAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The API token from POST /api/v1/auth/token/, as `Authorization: Bearer <key>` "
            "(or `Authorization: Token <key>`).",
        }

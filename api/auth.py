"""Token issue and revocation: `POST /api/v1/auth/token/` with username and password."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import parsers, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.policies import LimitedJSONParser, PortfolioThrottle

TokenResponse = inline_serializer("TokenResponse", {"token": serializers.CharField()})


class TokenView(APIView):
    """Issue the caller's API token (one per user; revoke it here or in the admin)."""

    throttle_classes = [PortfolioThrottle]
    throttle_scope = "token"
    parser_classes = [LimitedJSONParser, parsers.FormParser]

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "DELETE" else [AllowAny()]

    def get_authenticators(self):
        if self.request is not None and self.request.method == "POST":
            return []  # credentials are in the body; a stale session must not demand CSRF
        return super().get_authenticators()

    @extend_schema(
        summary="Issue a token",
        description="Send `username` and `password` as JSON; use the token as "
        "`Authorization: Bearer <key>` (or `Token <key>`). Asking again returns the same token until "
        "it is revoked.",
        # JSON only in the schema (a form body still works): one request type for generated clients.
        request={"application/json": AuthTokenSerializer},
        responses={200: TokenResponse},
        auth=[],
    )
    def post(self, request):
        # Authenticate with Django's request, so login protection (django-axes) counts this attempt
        # and its middleware answers a locked-out caller, as on the browser login.
        serializer = AuthTokenSerializer(data=request.data, context={"request": request._request})
        serializer.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})

    @extend_schema(summary="Revoke your token", request=None, responses={204: None})
    def delete(self, request):
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

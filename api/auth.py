"""API tokens: issue with username and password (`POST /api/v1/auth/token/`), list, add and revoke
your own (`/api/v1/auth/tokens/`). Keys are made, hashed and matched in accounts.services."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import exceptions, parsers, serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services as tokens
from accounts.models import ApiToken
from api.params import CheckedQueryParamsMixin
from api.policies import LimitedJSONParser, PortfolioThrottle


class ApiTokenSerializer(serializers.ModelSerializer):
    """A token as its owner sees it later: never the key."""

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at"]
        read_only_fields = fields


class NewTokenSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=100, required=False, help_text="What the token is for; default: “API token” and the time."
    )
    expires_in_days = serializers.IntegerField(
        required=False, min_value=0, help_text="Lifetime in days (default 90, at most 365)."
    )


# The component keeps its published name (AuthTokenRequest), so generated clients keep their types.
@extend_schema_serializer(component_name="AuthToken")
class IssueTokenSerializer(AuthTokenSerializer, NewTokenSerializer):
    """Username and password, and optionally the new token's name and lifetime."""


class IssuedTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text="The key. Shown this once: store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = ["token", *ApiTokenSerializer.Meta.fields]
        read_only_fields = fields


def _issue(user, data) -> Response:
    name = data.get("name") or f"API token {timezone.now():%Y-%m-%d %H:%M:%S}"
    try:
        token, key = tokens.issue_token(user, name=name, expires_in_days=data.get("expires_in_days"))
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.message_dict) from error
    token.token = key
    return Response(IssuedTokenSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenView(CheckedQueryParamsMixin, APIView):
    """Issue a new API token for a username and password; revoke the token a request is sent with."""

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
        description="Send `username` and `password` as JSON (and optionally the token's `name` and "
        "`expires_in_days`); use the returned `token` as `Authorization: Bearer <key>` (or "
        "`Token <key>`). Each call issues a new token; the key is shown only in this answer "
        "(it is stored hashed). List and revoke tokens at `/api/v1/auth/tokens/`.",
        # JSON only in the schema (a form body still works): one request type for generated clients.
        request={"application/json": IssueTokenSerializer},
        responses={201: IssuedTokenSerializer},
        auth=[],
    )
    def post(self, request):
        # Authenticate with Django's request, so login protection (django-axes) counts this attempt
        # and its middleware answers a locked-out caller, as on the browser login.
        serializer = IssueTokenSerializer(data=request.data, context={"request": request._request})
        serializer.is_valid(raise_exception=True)
        return _issue(serializer.validated_data["user"], serializer.validated_data)

    @extend_schema(summary="Revoke the token this request is sent with", request=None, responses={204: None})
    def delete(self, request):
        if not isinstance(request.auth, ApiToken):
            raise exceptions.ValidationError(
                {
                    "detail": "Send the token to revoke in the Authorization header, or revoke one by id "
                    "at /api/v1/auth/tokens/{id}/."
                }
            )
        tokens.revoke_token(request.user, request.auth.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenListView(CheckedQueryParamsMixin, APIView):
    """Your API tokens (never their keys), and a new one without sending your password."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [PortfolioThrottle]
    throttle_scope = "token"
    parser_classes = [LimitedJSONParser]

    @extend_schema(summary="List your tokens", responses={200: ApiTokenSerializer(many=True)})
    def get(self, request):
        return Response(ApiTokenSerializer(tokens.tokens_of(request.user), many=True).data)

    @extend_schema(
        summary="Add a token",
        description="A new token for the signed-in caller (token or session). The key is in this "
        "answer only.",
        request=NewTokenSerializer,
        responses={201: IssuedTokenSerializer},
    )
    def post(self, request):
        serializer = NewTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _issue(request.user, serializer.validated_data)


class TokenDetailView(CheckedQueryParamsMixin, APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [PortfolioThrottle]
    throttle_scope = "token"

    @extend_schema(summary="Revoke one of your tokens", request=None, responses={204: None})
    def delete(self, request, pk: int):
        if not tokens.revoke_token(request.user, pk):
            raise exceptions.NotFound("No such token.")
        return Response(status=status.HTTP_204_NO_CONTENT)

"""Webhook endpoints (`/api/v1/webhooks/`), their delivery logs, test messages, secret rotation and
replays; and the event stream itself (`/api/v1/events/?after=<sequence>`)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import PreconditionFailed
from api.fields import StrictCharField
from api.params import FORMAT_PARAM
from api.policies import LimitedJSONParser, PortfolioThrottle
from api.viewsets import HistoryPagination
from outbox.catalogue import SUBSCRIBABLE
from outbox.models import Event
from projects.access import scope
from projects.events import scope_events
from projects.models import Relationship
from webhooks import payloads, services
from webhooks.models import Delivery, DeliveryAttempt, Endpoint
from webhooks.signing import masked

EVENT_PAGE_DEFAULT, EVENT_PAGE_MAX = 100, 1000


def _check_params(request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed - {FORMAT_PARAM})
    if unknown:
        known = ", ".join(sorted(allowed | {FORMAT_PARAM}))
        raise exceptions.ValidationError(
            {name: [f"Unknown query parameter; this route takes: {known}."] for name in unknown}
        )
    repeated = sorted(name for name in request.query_params if len(request.query_params.getlist(name)) > 1)
    if repeated:
        raise exceptions.ValidationError({name: ["Give this parameter once."] for name in repeated})


def _whole_number(request, name: str, *, default: int, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < low or len(text) > 18:
        raise exceptions.ValidationError({name: [f"A whole number from {low}."]})
    return min(int(text), high) if high is not None else int(text)


# --- Serializers ------------------------------------------------------------------------------


class EndpointSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    relationship = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    event_types = serializers.ListField(
        child=serializers.CharField(), help_text="The event types sent; empty: every type."
    )
    secret_hint = serializers.SerializerMethodField(help_text="The start of the signing secret.")

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "relationship",
            "is_active",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "owner",
            "secret_hint",
            "previous_secret_expires_at",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_secret_hint(self, endpoint) -> str:
        return masked(endpoint.secret)


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (`whsec_…`). Shown in this answer only: store it now."
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointWriteSerializer(serializers.Serializer):
    url = StrictCharField(max_length=500, help_text="Where events are POSTed (https in production).")
    description = StrictCharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE),
        required=False,
        max_length=len(SUBSCRIBABLE),
        help_text="Event types to receive; empty or left out: every type.",
    )
    relationship = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="Only events of this relationship (its id)."
    )
    is_active = serializers.BooleanField(required=False, help_text="False turns the endpoint off.")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)

    def validate_relationship(self, value):
        if value is None:
            return None
        user = self.context["request"].user
        relationship = scope(user, Relationship.objects.filter(pk=value)).first()
        if relationship is None:
            raise serializers.ValidationError("No such relationship (or you cannot see it).")
        return relationship


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number",
            "attempted_at",
            "status_code",
            "latency_ms",
            "succeeded",
            "error",
            "response_excerpt",
        ]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    message_id = serializers.CharField(read_only=True, help_text="The `webhook-id` sent.")
    event = serializers.IntegerField(source="event_id", read_only=True, allow_null=True)
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "message_id",
            "event",
            "event_type",
            "sequence",
            "kind",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
            "finished_at",
            "last_status_code",
            "last_error",
            "attempt_log",
        ]
        read_only_fields = fields


class ReplaySerializer(serializers.Serializer):
    event_id = serializers.IntegerField(required=False, min_value=1, help_text="Send this one event again.")
    since = serializers.DateTimeField(required=False, help_text="Send every event since this time again.")

    def validate(self, attrs):
        if ("event_id" in attrs) == ("since" in attrs):
            raise serializers.ValidationError({"non_field_errors": ["Give either event_id or since."]})
        return attrs


class EventRecordSerializer(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.IntegerField(allow_null=True)
    external_id = serializers.CharField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)
    url = serializers.CharField(allow_null=True, help_text="The record in this API.")


class EventSerializer(serializers.ModelSerializer):
    id = serializers.SerializerMethodField(help_text="The `webhook-id` webhooks carry for this event.")
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    record = serializers.SerializerMethodField()
    details = serializers.JSONField(source="data", read_only=True, help_text="Small facts of the change.")

    class Meta:
        model = Event
        fields = [
            "sequence",
            "id",
            "type",
            "occurred_at",
            "record",
            "relationship_id",
            "actor",
            "sync_stamp",
            "details",
        ]
        read_only_fields = fields

    def get_id(self, event) -> str:
        return f"evt_{event.pk}"

    @extend_schema_field(EventRecordSerializer)
    def get_record(self, event) -> dict:
        return {
            "type": event.record_type,
            "id": event.record_id,
            "external_id": event.external_id,
            "version": event.version,
            "url": payloads.record_url(event.record_type, event.record_id),
        }


# --- Views ------------------------------------------------------------------------------------


class WebhookPermission(IsAuthenticated):
    message = "Only admins and account managers manage webhooks."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and services.can_manage_webhooks(request.user)


class EndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Webhook endpoints: admins see and manage all, account managers their own. Events are signed
    per Standard Webhooks and carry the record as this API shows it to the endpoint's owner."""

    permission_classes = [WebhookPermission]
    throttle_classes = [PortfolioThrottle]
    parser_classes = [LimitedJSONParser]
    pagination_class = HistoryPagination
    serializer_class = EndpointSerializer
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    lookup_value_regex = r"[^/]+"
    filter_backends = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        paged = {"page", "page_size"} if self.action in ("list", "deliveries") else set()
        _check_params(request, paged)

    def get_queryset(self):
        return services.endpoints_of(self.request.user).order_by("id")

    def get_object(self):
        value = str(self.kwargs.get("pk", ""))
        if not (value.isascii() and value.isdigit() and 0 < int(value) < 2**63):
            raise exceptions.NotFound()
        return super().get_object()

    def _expected_version(self, endpoint) -> int | None:
        header = self.request.headers.get("If-Match")
        if header is None or header.strip() == "*":
            return None
        tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
        if f'"{endpoint.version}"' not in tags:
            raise self._stale(endpoint)
        return endpoint.version

    def _stale(self, endpoint):
        error = PreconditionFailed(
            detail=f"This endpoint was changed since you read it: it is now at version {endpoint.version}."
        )
        return error

    def _respond(self, endpoint, *, serializer_class=EndpointSerializer, status_code=status.HTTP_200_OK):
        return Response(
            serializer_class(endpoint).data, status=status_code, headers={"ETag": f'"{endpoint.version}"'}
        )

    @extend_schema(request=EndpointWriteSerializer, responses={201: EndpointWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        data = EndpointWriteSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(
            actor=request.user, fields=services.EndpointFields(**data.validated_data)
        )
        return self._respond(endpoint, serializer_class=EndpointWithSecretSerializer, status_code=201)

    def retrieve(self, request, *args, **kwargs):
        return self._respond(self.get_object())

    @extend_schema(request=EndpointWriteSerializer, responses={200: EndpointSerializer})
    def update(self, request, *args, partial=False, **kwargs):
        endpoint = self.get_object()
        data = EndpointWriteSerializer(data=request.data, partial=partial, context={"request": request})
        data.is_valid(raise_exception=True)
        expected = self._expected_version(endpoint)
        try:
            endpoint = services.endpoint_update(
                actor=request.user,
                endpoint=endpoint,
                changes=services.EndpointFields(**data.validated_data),
                expected_version=expected,
            )
        except services.EndpointConflict as error:
            raise self._stale(error.current) from error
        return self._respond(endpoint)

    @extend_schema(request=EndpointWriteSerializer, responses={200: EndpointSerializer})
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        endpoint = self.get_object()
        expected = self._expected_version(endpoint)
        try:
            services.endpoint_delete(actor=request.user, endpoint=endpoint, expected_version=expected)
        except services.EndpointConflict as error:
            raise self._stale(error.current) from error
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The endpoint's delivery log",
        description="Newest first: each delivery with its status and every attempt (status code, "
        "latency, the start of the answer).",
        responses={200: DeliverySerializer(many=True)},
        parameters=[
            OpenApiParameter("page", {"type": "integer", "minimum": 1}, description="Page number."),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1},
                description="Deliveries per page (at most 200).",
            ),
        ],
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        deliveries = endpoint.deliveries.prefetch_related("attempt_log").order_by("-id")
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(
        summary="Send a test event",
        description="Queues a `webhook.test` message (signed like every other) outside the ordered "
        "queue; its answer appears in the delivery log.",
        request=None,
        responses={202: DeliverySerializer},
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        delivery = services.send_test(actor=request.user, endpoint=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Rotate the signing secret",
        description="A new secret, shown in this answer only. The previous one keeps signing (a second "
        "signature in `webhook-signature`) for 24 hours, so the receiver can switch without losing events.",
        request=None,
        responses={200: EndpointWithSecretSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint = services.rotate_secret(actor=request.user, endpoint=self.get_object())
        return self._respond(endpoint, serializer_class=EndpointWithSecretSerializer)

    @extend_schema(
        summary="Replay one event, or every event since a time",
        description="Sends the events again (with their original `webhook-id`), to this endpoint only, "
        "if it subscribes to them and its owner may see them.",
        request=ReplaySerializer,
        responses={202: inline_serializer("ReplayResult", {"queued": serializers.IntegerField()})},
    )
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        endpoint = self.get_object()
        data = ReplaySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        queued = services.replay(
            actor=request.user,
            endpoint=endpoint,
            event_id=data.validated_data.get("event_id"),
            since=data.validated_data.get("since"),
        )
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)


class EventStreamView(APIView):
    """The event stream a client can pull instead of (or beside) webhooks, scoped like every read."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [PortfolioThrottle]
    throttle_scope = "sync"

    @extend_schema(
        summary="Events after a sequence number",
        description="Events in sequence order (commit order): pass the answer's `next_after` back as "
        "`after` to continue; nothing committed is ever numbered below a sequence already handed out. "
        "Only events of records you may see are listed, so sequences you receive have gaps.",
        parameters=[
            OpenApiParameter(
                "after",
                {"type": "integer", "minimum": 0},
                description="The last sequence you have (default 0).",
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1},
                description=f"Events per answer (default {EVENT_PAGE_DEFAULT}; capped at {EVENT_PAGE_MAX}).",
            ),
        ],
        responses={
            200: inline_serializer(
                "EventPage",
                {
                    "results": EventSerializer(many=True),
                    "next_after": serializers.IntegerField(help_text="Send as `after` next time."),
                    "has_more": serializers.BooleanField(help_text="More events follow now."),
                },
            )
        },
    )
    def get(self, request):
        _check_params(request, {"after", "page_size"})
        after = _whole_number(request, "after", default=0, low=0)
        size = _whole_number(request, "page_size", default=EVENT_PAGE_DEFAULT, low=1, high=EVENT_PAGE_MAX)
        from outbox.stream import high_water_mark

        # Read before the page: every event numbered at or below it is committed, so skipping past
        # it (when nothing visible is left) can never jump over one that is still to come.
        ceiling = high_water_mark()
        events = list(
            scope_events(request.user, Event.objects.filter(sequence__gt=after, sequence__lte=ceiling))
            .select_related("actor")
            .order_by("sequence")[: size + 1]
        )
        has_more = len(events) > size
        events = events[:size]
        next_after = events[-1].sequence if has_more else max(after, ceiling)
        return Response(
            {
                "results": EventSerializer(events, many=True).data,
                "next_after": next_after,
                "has_more": has_more,
            }
        )

"""Every resource's viewset: configuration around the shared behaviour of api.viewsets."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from api import filters, serializers
from api.errors import Conflict
from api.policies import PortfolioPermission
from api.scores import SCORE_SYNCED_AT, score_sync_fields
from api.viewsets import PortfolioReadViewSet, PortfolioViewSet, etag, if_match_version
from kpis import selectors as kpi_selectors
from kpis import services as kpi_services
from kpis.models import KPI, Measurement, ProjectKPI, RelationshipScore
from projects import selectors, signoffs, sync
from projects import services as project_services
from projects.access import Role
from projects.models import InnovationProject, Organization, Relationship, SignOff

ADMIN_ONLY = (Role.ADMIN,)


class OrganizationViewSet(PortfolioViewSet):
    """Client and provider organisations. Admins manage them; others read those they work with."""

    model = Organization
    services = project_services.ORGANIZATION
    create_roles = ADMIN_ONLY
    serializer_class = serializers.OrganizationSerializer
    filterset_class = filters.OrganizationFilterSet
    ordering_fields = ["id", "name", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return selectors.organization_list(user=user, include_deleted=include_deleted)


class RelationshipViewSet(PortfolioViewSet):
    """Outsourcing relationships. Admins create and delete them; assigned account managers edit
    everything but the parties and the assignments."""

    model = Relationship
    services = project_services.RELATIONSHIP
    create_roles = ADMIN_ONLY
    serializer_class = serializers.RelationshipSerializer
    filterset_class = filters.ApiRelationshipFilterSet
    ordering_fields = ["id", "name", "contract_start", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return kpi_selectors.with_current_score(
            selectors.relationship_list(user=user, include_deleted=include_deleted).prefetch_related(
                "account_managers"
            )
        )


class ProjectViewSet(PortfolioViewSet):
    """Innovation projects. A change of `stage` must follow the stage machine."""

    model = InnovationProject
    services = project_services.PROJECT
    serializer_class = serializers.ProjectSerializer
    filterset_class = filters.ApiProjectFilterSet
    ordering_fields = ["id", "title", "stage", "proposed_on", "delivered_on", "created_at", "updated_at"]
    ordering_expressions = {"stage": selectors.stage_order}  # pipeline order, as on the project list

    def base_queryset(self, *, user, include_deleted):
        return kpi_selectors.with_kpi_stats(
            selectors.project_list(user=user, include_deleted=include_deleted)
        )

    def history_entries(self, obj):
        # The page's history: the project's entries and its KPIs' and measurements', one order.
        return kpi_selectors.project_history(project=obj, limit=None)


class KPIViewSet(PortfolioViewSet):
    """The KPI catalogue: every signed-in user reads it; admins manage it."""

    model = KPI
    services = kpi_services.KPI_CATALOGUE
    create_roles = ADMIN_ONLY
    scoped = False
    serializer_class = serializers.KPISerializer
    filterset_class = filters.KPIFilterSet
    ordering_fields = ["id", "code", "name", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return kpi_selectors.kpi_catalogue(include_deleted=include_deleted)


class ProjectKPIViewSet(PortfolioViewSet):
    """KPIs tracked on projects, with baseline, target and the latest measured value."""

    model = ProjectKPI
    services = kpi_services.PROJECT_KPI
    serializer_class = serializers.ProjectKPISerializer
    filterset_class = filters.ProjectKPIFilterSet
    ordering_fields = ["id", "baseline_date", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return kpi_selectors.project_kpi_list(user=user, include_deleted=include_deleted)


class MeasurementViewSet(PortfolioViewSet):
    """Dated values of project KPIs (one per date)."""

    model = Measurement
    services = kpi_services.MEASUREMENT
    serializer_class = serializers.MeasurementSerializer
    filterset_class = filters.MeasurementFilterSet
    ordering_fields = ["id", "measured_on", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return kpi_selectors.measurement_list(user=user, include_deleted=include_deleted)


class ScoreViewSet(PortfolioReadViewSet):
    """Monthly relationship scores (read-only; computed by the scoring job)."""

    model = RelationshipScore
    serializer_class = serializers.ScoreSerializer
    filterset_class = filters.ScoreFilterSet
    ordering_fields = ["id", "period", "score", "computed_at"]

    def base_queryset(self, *, user, include_deleted):
        scores = score_sync_fields(kpi_selectors.score_list(user=user))
        return scores if include_deleted else scores.filter(relationship__deleted_at__isnull=True)

    def sync_source(self):
        # A score changes when it is recomputed, and is deleted with its relationship: synced by
        # the later of the two, so a relationship's deletion sends its scores as tombstones.
        return sync.TimeSyncSource(SCORE_SYNCED_AT)


class SignOffPermission(PortfolioPermission):
    """Anyone who sees a request may try to decide it: the services let only the client's people
    approve or decline, and only the provider's side ask and withdraw (403 otherwise)."""

    def has_object_permission(self, request, view, obj):
        return True


class SignOffViewSet(PortfolioReadViewSet):
    """Client sign-offs: where a relationship requires it, the provider asks the client to approve a
    project (the move to Approved) or to confirm a delivered project's realised benefit; the client
    approves (the change is applied in their name) or declines with a reason."""

    model = SignOff
    serializer_class = serializers.SignOffSerializer
    filterset_class = filters.SignOffFilterSet
    ordering_fields = ["id", "requested_at", "decided_at", "created_at", "updated_at"]
    permission_classes = [SignOffPermission]
    http_method_names = ["get", "post", "head", "options"]
    # Decisions name the version they were made on: If-Match, 412 when stale (see api.schema).
    if_match_actions = ("approve", "decline", "withdraw")

    def base_queryset(self, *, user, include_deleted):
        return signoffs.signoff_list(user=user, include_deleted=include_deleted)

    def get_serializer_class(self):
        return {
            "create": serializers.SignOffRequestSerializer,
            "approve": serializers.SignOffApproveSerializer,
            "decline": serializers.SignOffDeclineSerializer,
        }.get(self.action, serializers.SignOffSerializer)

    def respond(self, signoff, *, status_code=status.HTTP_200_OK, headers=None):
        current = self.base_queryset(user=self.request.user, include_deleted=True).get(pk=signoff.pk)
        data = serializers.SignOffSerializer(current, context=self.get_serializer_context()).data
        return Response(data, status=status_code, headers={"ETag": etag(current), **(headers or {})})

    def decide(self, decision, **arguments):
        """Apply `decision` (a projects.signoffs service) to the request, with the body's fields."""
        instance = self.get_object()
        if instance.deleted_at is not None:
            raise Conflict("This request has been deleted with its project.")
        values = {}
        if self.action in ("approve", "decline"):
            serializer = self.get_serializer(data=self.request.data)
            serializer.is_valid(raise_exception=True)
            values = dict(serializer.validated_data)
        expected = if_match_version(self.request, instance)
        try:
            decided = decision(actor=self.request.user, signoff=instance, expected_version=expected, **values)
        except signoffs.RequestClosed as closed:
            raise Conflict(" ".join(closed.messages)) from closed
        return self.respond(decided)

    @extend_schema(
        summary="Ask the client to sign off a project's approval or realised benefit",
        request=serializers.SignOffRequestSerializer,
        responses={201: serializers.SignOffSerializer},
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        signoff = signoffs.signoff_request(
            actor=request.user,
            project=data["project"],
            kind=data["kind"],
            realised_annual_benefit=data.get("realised_annual_benefit"),
            note=data.get("request_note", ""),
        )
        location = request.build_absolute_uri(f"{signoff.pk}/")
        return self.respond(signoff, status_code=status.HTTP_201_CREATED, headers={"Location": location})

    @extend_schema(
        summary="Approve (the client's people): the project moves to Approved, or the benefit is recorded",
        request=serializers.SignOffApproveSerializer,
        responses={200: serializers.SignOffSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def approve(self, request, *args, **kwargs):
        return self.decide(signoffs.signoff_approve)

    @extend_schema(
        summary="Decline (the client's people), with the reason",
        request=serializers.SignOffDeclineSerializer,
        responses={200: serializers.SignOffSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def decline(self, request, *args, **kwargs):
        return self.decide(signoffs.signoff_decline)

    @extend_schema(
        summary="Withdraw (the provider's side) before the client decided",
        request=None,
        responses={200: serializers.SignOffSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def withdraw(self, request, *args, **kwargs):
        return self.decide(signoffs.signoff_withdraw)

"""Every resource's viewset: configuration around the shared behaviour of api.viewsets."""

import datetime as dt

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from api import filters, serializers
from api.errors import Conflict
from api.policies import PortfolioPermission
from api.scores import SCORE_SYNCED_AT, score_sync_fields
from api.viewsets import PortfolioReadViewSet, PortfolioViewSet, etag, if_match_version
from collab.selectors import current_score_rests_on_contested, with_contest_flags
from kpis import benchmarks
from kpis import selectors as kpi_selectors
from kpis import services as kpi_services
from kpis.models import KPI, Measurement, ProjectKPI, RelationshipScore
from projects import selectors, signoffs, sync
from projects import services as project_services
from projects.access import Role
from projects.models import InnovationProject, Organization, Relationship, SignOff
from reviews import services as review_services
from reviews.quarters import Quarter
from reviews.render import RenderingUnavailable

ADMIN_ONLY = (Role.ADMIN,)


class RenderingUnavailableError(exceptions.APIException):
    status_code = 503
    default_detail = "QBR packs cannot be rendered on this server."
    default_code = "rendering_unavailable"


class PDFRenderer(BaseRenderer):
    """Lets a client ask for `Accept: application/pdf`; the pack is returned as it is."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class OrganizationViewSet(PortfolioViewSet):
    """Client and provider organisations. Admins manage them; others read those they work with."""

    model = Organization
    services = project_services.ORGANIZATION
    create_roles = ADMIN_ONLY
    serializer_class = serializers.OrganizationSerializer
    row_reads = True
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

    action_query_params = {"benchmark": ("month", "same_industry"), "qbr": ("quarter",)}

    def base_queryset(self, *, user, include_deleted):
        relationships = selectors.relationship_list(user=user, include_deleted=include_deleted)
        relationships = current_score_rests_on_contested(relationships, month=kpi_selectors.scored_month())
        return kpi_selectors.with_current_score(relationships.prefetch_related("account_managers"))

    def live_object(self) -> Relationship:
        """The relationship of a detail action: 404 outside the caller's scope or once deleted."""
        relationship = self.get_object()
        if relationship.deleted_at is not None:
            raise exceptions.NotFound()
        return relationship

    @extend_schema(
        summary="Peer benchmark of the relationship's score",
        description="For each of the relationship's process areas: its score's percentile and quartile "
        "among the active relationships covering that area in the same month (optionally only those "
        "whose client is in the same industry), with the cohort's size, p25, median and p75. Peers "
        "are never named. No benchmark is given for a cohort of fewer than `minimum_relationships` "
        "relationships or `minimum_clients` clients, and the industry filter is refused where it "
        "would single out such a group.",
        parameters=[serializers.BenchmarkQuerySerializer],
        responses={200: serializers.RelationshipBenchmarkSerializer},
        filters=False,
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def benchmark(self, request, *args, **kwargs):
        relationship = self.live_object()
        query = serializers.BenchmarkQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        month = query.validated_data.get("month")
        if month:
            period = dt.date.fromisoformat(f"{month}-01")
        else:
            current = kpi_selectors.current_score(relationship)
            period = current.period if current is not None else kpi_selectors.scored_month()
        same_industry = query.validated_data["same_industry"]
        areas = benchmarks.relationship_benchmarks(relationship, period=period, same_industry=same_industry)
        minimum_relationships, minimum_clients = benchmarks.thresholds()
        data = {
            "relationship": relationship.pk,
            "period": period,
            "same_industry": same_industry,
            "minimum_relationships": minimum_relationships,
            "minimum_clients": minimum_clients,
            "areas": areas,
        }
        return Response(serializers.RelationshipBenchmarkSerializer(data).data)

    @extend_schema(
        summary="Quarterly business review pack (PDF)",
        description="The relationship's QBR pack for one quarter: cover, the score with its components "
        "and 12-month trend, why this score (each counted project and its KPIs), benefits and gain-share, "
        "the pipeline and the peer benchmark. The pack the quarterly job stored when the quarter closed "
        "is returned unchanged (same bytes, same `ETag`, `X-Checksum-SHA256`); a quarter without a "
        "stored pack is rendered from the current data.",
        parameters=[
            OpenApiParameter(
                "quarter",
                OpenApiTypes.STR,
                description="The quarter, YYYYQn (e.g. 2026Q3); default: the last complete quarter.",
                pattern=r"^\d{4}Q[1-4]$",
            )
        ],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The pack."),
        },
        filters=False,
    )
    @action(
        detail=True,
        methods=["get"],
        pagination_class=None,
        filter_backends=[],
        renderer_classes=[JSONRenderer, PDFRenderer],
    )
    def qbr(self, request, *args, **kwargs):
        relationship = self.live_object()
        code = request.query_params.get("quarter")
        try:
            quarter = Quarter.parse(code) if code is not None else Quarter.last_complete(timezone.localdate())
            pack = review_services.pack_for(
                user=request.user, relationship_id=relationship.pk, quarter=quarter
            )
        except ValueError as invalid:
            raise exceptions.ValidationError({"quarter": [str(invalid)]}) from invalid
        except RenderingUnavailable as unavailable:
            raise RenderingUnavailableError(str(unavailable)) from unavailable
        response = HttpResponse(pack.pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{pack.filename}"'
        response["ETag"] = f'"{pack.sha256}"'
        response["X-Checksum-SHA256"] = pack.sha256
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        renderer = getattr(response, "accepted_renderer", None)
        if isinstance(response, Response) and isinstance(renderer, PDFRenderer):
            # An error of the PDF route answers in the API's JSON shape, whatever was accepted.
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response


class ProjectViewSet(PortfolioViewSet):
    """Innovation projects. A change of `stage` must follow the stage machine."""

    model = InnovationProject
    services = project_services.PROJECT
    serializer_class = serializers.ProjectSerializer
    row_reads = True
    filterset_class = filters.ApiProjectFilterSet
    ordering_fields = ["id", "title", "stage", "proposed_on", "delivered_on", "created_at", "updated_at"]
    ordering_expressions = {"stage": selectors.stage_order}  # pipeline order, as on the project list

    def base_queryset(self, *, user, include_deleted):
        projects = with_contest_flags(selectors.project_list(user=user, include_deleted=include_deleted))
        # Rows are given their KPIs' figures afterwards (attach_to_rows); records read them prefetched.
        return projects if self.reading_rows else kpi_selectors.with_kpi_stats(projects)

    def attach_to_rows(self, rows):
        # impact_pct reads the project's live KPIs, which a row does not carry: one query per page.
        improvements = kpi_selectors.live_kpi_improvements([row.id for row in rows])
        for row in rows:
            row["live_kpis"] = improvements.get(row.id, [])

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
    row_reads = True
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
        return with_contest_flags(kpi_selectors.project_kpi_list(user=user, include_deleted=include_deleted))


class MeasurementViewSet(PortfolioViewSet):
    """Dated values of project KPIs (one per date)."""

    model = Measurement
    services = kpi_services.MEASUREMENT
    serializer_class = serializers.MeasurementSerializer
    row_reads = True
    filterset_class = filters.MeasurementFilterSet
    ordering_fields = ["id", "measured_on", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return with_contest_flags(kpi_selectors.measurement_list(user=user, include_deleted=include_deleted))


class ScoreViewSet(PortfolioReadViewSet):
    """Monthly relationship scores (read-only; computed by the scoring job)."""

    model = RelationshipScore
    serializer_class = serializers.ScoreSerializer
    filterset_class = filters.ScoreFilterSet
    ordering_fields = ["id", "period", "score", "computed_at"]

    def base_queryset(self, *, user, include_deleted):
        scores = with_contest_flags(score_sync_fields(kpi_selectors.score_list(user=user)))
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
    row_reads = True
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

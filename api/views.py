"""Every resource's viewset: configuration around the shared behaviour of api.viewsets."""

import datetime as dt

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.response import Response

from api import filters, serializers
from api.scores import SCORE_SYNCED_AT, score_sync_fields
from api.viewsets import PortfolioReadViewSet, PortfolioViewSet
from kpis import benchmarks
from kpis import selectors as kpi_selectors
from kpis import services as kpi_services
from kpis.models import KPI, Measurement, ProjectKPI, RelationshipScore
from projects import selectors, sync
from projects import services as project_services
from projects.access import Role
from projects.models import InnovationProject, Organization, Relationship

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

    action_query_params = {"benchmark": ("month", "same_industry")}

    def base_queryset(self, *, user, include_deleted):
        return kpi_selectors.with_current_score(
            selectors.relationship_list(user=user, include_deleted=include_deleted).prefetch_related(
                "account_managers"
            )
        )

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

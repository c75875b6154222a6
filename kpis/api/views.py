"""Viewsets of the KPI catalogue, project KPIs, measurements and scores, and the relationship and
project endpoints with the figures this app computes (current score, impact)."""

from kpis import selectors, services
from kpis.api import filters, serializers
from kpis.models import KPI, Measurement, ProjectKPI, RelationshipScore
from projects import sync
from projects.api import views as project_views
from projects.api.views import ADMIN_ONLY
from projects.api.viewsets import PortfolioReadViewSet, PortfolioViewSet


class RelationshipViewSet(project_views.RelationshipViewSet):
    __doc__ = project_views.RelationshipViewSet.__doc__
    serializer_class = serializers.RelationshipSerializer

    def base_queryset(self, *, user, include_deleted):
        return selectors.with_current_score(super().base_queryset(user=user, include_deleted=include_deleted))


class ProjectViewSet(project_views.ProjectViewSet):
    __doc__ = project_views.ProjectViewSet.__doc__
    serializer_class = serializers.ProjectSerializer

    def base_queryset(self, *, user, include_deleted):
        return selectors.with_kpi_stats(super().base_queryset(user=user, include_deleted=include_deleted))


class KPIViewSet(PortfolioViewSet):
    """The KPI catalogue: every signed-in user reads it; admins manage it."""

    model = KPI
    create_roles = ADMIN_ONLY
    scoped = False
    serializer_class = serializers.KPISerializer
    filterset_class = filters.KPIFilterSet
    ordering_fields = ["id", "code", "name", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return selectors.kpi_catalogue(include_deleted=include_deleted)

    def service_create(self, *, actor, data):
        return services.kpi_create(actor=actor, data=data)

    def service_update(self, *, actor, instance, data, expected_version):
        return services.kpi_update(actor=actor, kpi=instance, data=data, expected_version=expected_version)

    def service_delete(self, *, actor, instance, expected_version):
        return services.kpi_delete(actor=actor, kpi=instance, expected_version=expected_version)


class ProjectKPIViewSet(PortfolioViewSet):
    """KPIs tracked on projects, with baseline, target and the latest measured value."""

    model = ProjectKPI
    serializer_class = serializers.ProjectKPISerializer
    filterset_class = filters.ProjectKPIFilterSet
    ordering_fields = ["id", "baseline_date", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return selectors.project_kpi_list(user=user, include_deleted=include_deleted)

    def service_create(self, *, actor, data):
        return services.project_kpi_add(actor=actor, data=data)

    def service_update(self, *, actor, instance, data, expected_version):
        return services.project_kpi_update(
            actor=actor, project_kpi=instance, data=data, expected_version=expected_version
        )

    def service_delete(self, *, actor, instance, expected_version):
        return services.project_kpi_delete(
            actor=actor, project_kpi=instance, expected_version=expected_version
        )


class MeasurementViewSet(PortfolioViewSet):
    """Dated values of project KPIs (one per date)."""

    model = Measurement
    serializer_class = serializers.MeasurementSerializer
    filterset_class = filters.MeasurementFilterSet
    ordering_fields = ["id", "measured_on", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return selectors.measurement_list(user=user, include_deleted=include_deleted)

    def service_create(self, *, actor, data):
        return services.measurement_record(actor=actor, data=data)

    def service_update(self, *, actor, instance, data, expected_version):
        return services.measurement_update(
            actor=actor, measurement=instance, data=data, expected_version=expected_version
        )

    def service_delete(self, *, actor, instance, expected_version):
        return services.measurement_delete(
            actor=actor, measurement=instance, expected_version=expected_version
        )


class ScoreViewSet(PortfolioReadViewSet):
    """Monthly relationship scores (read-only; computed by the scoring job)."""

    model = RelationshipScore
    serializer_class = serializers.ScoreSerializer
    filterset_class = filters.ScoreFilterSet
    ordering_fields = ["id", "period", "score", "computed_at"]

    def base_queryset(self, *, user, include_deleted):
        return selectors.score_list(user=user)

    updated_field = "computed_at"

    def sync_source(self):
        return sync.TimeSyncSource("computed_at")

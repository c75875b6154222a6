"""Filters of the KPI, project-KPI, measurement and score lists."""

import django_filters
from django.db.models import Q

from kpis.models import KPI, Measurement, ProjectKPI, RelationshipScore, Tier, Unit
from projects.api.filters import IdFilter, ISODateTimeFilter, SyncedFilterSet
from projects.models import InnovationProject


class KPIFilterSet(SyncedFilterSet):
    q = django_filters.CharFilter(method="search", label="Search code, name and description")
    code = django_filters.CharFilter(max_length=60)
    unit = django_filters.MultipleChoiceFilter(choices=Unit.choices)
    direction = django_filters.ChoiceFilter(choices=KPI.Direction.choices)

    class Meta:
        model = KPI
        fields = ["q", "code", "unit", "direction", "external_id", "updated_since"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(code__icontains=value) | Q(name__icontains=value) | Q(description__icontains=value)
        )


class _PortfolioFilters(SyncedFilterSet):
    """Filters by where a row sits in the portfolio, through `prefix` (the path to its project)."""

    prefix = ""

    relationship = IdFilter(method="filter_path", label="Relationship id")
    client = IdFilter(method="filter_path", label="Client organisation id")
    provider = IdFilter(method="filter_path", label="Provider organisation id")
    stage = django_filters.MultipleChoiceFilter(
        method="filter_stage", choices=InnovationProject.Stage.choices
    )
    level = django_filters.MultipleChoiceFilter(
        method="filter_level", choices=InnovationProject.Level.choices
    )

    PATHS = {
        "relationship": "relationship_id",
        "client": "relationship__client_id",
        "provider": "relationship__provider_id",
    }

    def filter_path(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(**{f"{self.prefix}{self.PATHS[name]}": value})

    def filter_stage(self, queryset, name, value):
        return queryset.filter(**{f"{self.prefix}stage__in": value}) if value else queryset

    def filter_level(self, queryset, name, value):
        return queryset.filter(**{f"{self.prefix}level__in": value}) if value else queryset


class ProjectKPIFilterSet(_PortfolioFilters):
    prefix = "project__"

    project = IdFilter(field_name="project_id")
    kpi = IdFilter(field_name="kpi_id")
    baseline_after = django_filters.DateFilter(field_name="baseline_date", lookup_expr="gte")
    baseline_before = django_filters.DateFilter(field_name="baseline_date", lookup_expr="lte")

    class Meta:
        model = ProjectKPI
        fields = [
            "project",
            "kpi",
            "relationship",
            "client",
            "provider",
            "stage",
            "level",
            "baseline_after",
            "baseline_before",
            "external_id",
            "updated_since",
        ]


class MeasurementFilterSet(_PortfolioFilters):
    prefix = "project_kpi__project__"

    project_kpi = IdFilter(field_name="project_kpi_id")
    project = IdFilter(field_name="project_kpi__project_id")
    kpi = IdFilter(field_name="project_kpi__kpi_id")
    measured_after = django_filters.DateFilter(field_name="measured_on", lookup_expr="gte")
    measured_before = django_filters.DateFilter(field_name="measured_on", lookup_expr="lte")

    class Meta:
        model = Measurement
        fields = [
            "project_kpi",
            "project",
            "kpi",
            "relationship",
            "client",
            "provider",
            "stage",
            "level",
            "measured_after",
            "measured_before",
            "external_id",
            "updated_since",
        ]


class ScoreFilterSet(django_filters.FilterSet):
    relationship = IdFilter(field_name="relationship_id")
    client = IdFilter(field_name="relationship__client_id")
    provider = IdFilter(field_name="relationship__provider_id")
    tier = django_filters.MultipleChoiceFilter(choices=Tier.choices)
    period_from = django_filters.DateFilter(field_name="period", lookup_expr="gte")
    period_to = django_filters.DateFilter(field_name="period", lookup_expr="lte")
    updated_since = ISODateTimeFilter(
        field_name="computed_at", lookup_expr="gte", label="Scores computed at or after this ISO 8601 time."
    )

    class Meta:
        model = RelationshipScore
        fields = ["relationship", "client", "provider", "tier", "period_from", "period_to", "updated_since"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)

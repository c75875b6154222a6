"""API filters: the shared list filters (projects.filters) plus what sync clients need."""

import datetime as dt

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.filters import OrderingFilter

from kpis.models import KPI, Measurement, ProjectKPI, RelationshipScore, Tier, Unit
from projects import selectors
from projects.filters import ProjectFilterSet, RelationshipFilterSet
from projects.models import InnovationProject, Organization, SignOff
from projects.sorting import Sort, with_id_tie_break


class ISODateTimeField(forms.Field):
    """An ISO 8601 date-time (`2025-01-31T12:00:00Z`, offsets allowed) or date (`2025-01-31`, UTC)."""

    default_error_messages = {"invalid": "Enter an ISO 8601 date-time, e.g. 2025-01-31T12:00:00Z."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        value = str(value).strip()
        try:
            parsed = parse_datetime(value)
            if parsed is None:
                day = parse_date(value)
                parsed = dt.datetime.combine(day, dt.time.min) if day else None
            if parsed is None:
                raise ValueError
            if timezone.is_naive(parsed):
                parsed = parsed.replace(tzinfo=dt.UTC)
            return parsed.astimezone(dt.UTC)
        except (ValueError, OverflowError, TypeError) as error:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from error


@extend_schema_field(OpenApiTypes.DATETIME)
class ISODateTimeFilter(django_filters.Filter):
    field_class = ISODateTimeField


class IdField(forms.IntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(**kwargs)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 2**63 - 1})
class IdFilter(django_filters.Filter):
    """A record id (a positive 64-bit integer)."""

    field_class = IdField


class SyncedFilterSet(django_filters.FilterSet):
    """Filters every synced resource offers: `external_id`, `updated_since`."""

    external_id = django_filters.CharFilter(field_name="external_id", max_length=100)
    updated_since = ISODateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        label="Records changed at or after this ISO 8601 time, deleted ones included as tombstones.",
    )

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)


class OrganizationFilterSet(SyncedFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search names")
    kind = django_filters.ChoiceFilter(choices=Organization.Kind.choices)
    industry = django_filters.CharFilter(lookup_expr="iexact", max_length=100)
    country = django_filters.CharFilter(lookup_expr="iexact", max_length=100)

    class Meta:
        model = Organization
        fields = ["q", "kind", "industry", "country", "external_id", "updated_since"]


class ApiRelationshipFilterSet(RelationshipFilterSet, SyncedFilterSet):
    """The relationship list page's filters, plus sync filters."""

    class Meta(RelationshipFilterSet.Meta):
        fields = [*RelationshipFilterSet.Meta.fields, "external_id", "updated_since"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        if user is not None:  # tombstoned parties stay addressable for sync clients
            organizations = selectors.organization_list(user=user, include_deleted=True)
            self.filters["client"].queryset = organizations.filter(kind=Organization.Kind.CLIENT)
            self.filters["provider"].queryset = organizations.filter(kind=Organization.Kind.PROVIDER)


class ApiProjectFilterSet(ProjectFilterSet, SyncedFilterSet):
    """The project list page's filters, plus KPI, date ranges and sync filters."""

    kpi = IdFilter(method="filter_kpi", label="Projects tracking this KPI (id)")
    # The owner as the API shows it: by login (username). The list page's filter keeps its ids.
    owner = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.none(), to_field_name="username", label="Owner's username"
    )
    # Each range must run forward (a reversed one is a 400 naming the `_before` parameter).
    proposed_after = django_filters.DateFilter(
        field_name="proposed_on", lookup_expr="gte", label="Proposed from"
    )
    proposed_before = django_filters.DateFilter(
        field_name="proposed_on", lookup_expr="lte", label="Proposed to"
    )
    started_after = django_filters.DateFilter(
        field_name="started_on", lookup_expr="gte", label="Started from"
    )
    started_before = django_filters.DateFilter(field_name="started_on", lookup_expr="lte", label="Started to")
    originator = django_filters.MultipleChoiceFilter(choices=InnovationProject.Originator.choices)
    funding = django_filters.MultipleChoiceFilter(choices=InnovationProject.Funding.choices)

    class Meta(ProjectFilterSet.Meta):
        fields = [
            *ProjectFilterSet.Meta.fields,
            "kpi",
            "originator",
            "funding",
            "external_id",
            "updated_since",
        ]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        if user is not None:
            self.filters["relationship"].queryset = selectors.relationship_list(
                user=user, include_deleted=True
            )

    def filter_kpi(self, queryset, name, value):
        if value is None:
            return queryset
        tracking = InnovationProject.objects.filter(
            project_kpis__kpi_id=value, project_kpis__deleted_at__isnull=True
        ).values("pk")
        return queryset.filter(pk__in=tracking)


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


class SignOffFilterSet(_PortfolioFilters):
    prefix = "project__"

    project = IdFilter(field_name="project_id")
    kind = django_filters.ChoiceFilter(choices=SignOff.Kind.choices)
    status = django_filters.MultipleChoiceFilter(choices=SignOff.Status.choices)
    requested_after = ISODateTimeFilter(field_name="requested_at", lookup_expr="gte")

    class Meta:
        model = SignOff
        fields = [
            "project",
            "kind",
            "status",
            "relationship",
            "client",
            "provider",
            "stage",
            "level",
            "requested_after",
            "external_id",
            "updated_since",
        ]


class ScoreFilterSet(django_filters.FilterSet):
    relationship = IdFilter(field_name="relationship_id")
    client = IdFilter(field_name="relationship__client_id")
    provider = IdFilter(field_name="relationship__provider_id")
    # One column of the score itself: no join, so no duplicate rows to remove — and no DISTINCT,
    # which the `json` explanation column cannot take (kpis.fields).
    tier = django_filters.MultipleChoiceFilter(choices=Tier.choices, distinct=False)
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


class PortfolioFilterBackend(DjangoFilterBackend):
    """Gives each FilterSet the request user, for choices in the user's scope."""

    def get_filterset_kwargs(self, request, queryset, view):
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        kwargs["user"] = request.user
        return kwargs

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not any(
            name in filterset_class.base_filters for name in request.query_params
        ):
            # Without one of its parameters a FilterSet changes nothing (parameters are checked
            # by name, api.params), and building one — its choices are scoped querysets — cost
            # more than the rest of an object read.
            return queryset
        return super().filter_queryset(request, queryset, view)


class StableOrderingFilter(OrderingFilter):
    """`?ordering=` over the view's `ordering_fields`, always ending with the id as a tie-breaker.

    A field the view lists in `ordering_expressions` (say `stage`) orders by the domain's
    expression for it (pipeline order), as the list page does, not by its stored text."""

    def get_ordering(self, request, queryset, view):
        ordering = with_id_tie_break(super().get_ordering(request, queryset, view) or ["pk"])
        expressions = getattr(view, "ordering_expressions", {})
        return [self._term(term, expressions) for term in ordering]

    @staticmethod
    def _term(term: str, expressions):
        expression = expressions.get(term.removeprefix("-"))
        if expression is None:
            return term
        return Sort(term.removeprefix("-"), term.startswith("-")).ordering([expression()])[0]

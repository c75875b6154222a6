"""Serializers of the KPI catalogue, project KPIs, measurements and scores, and the computed
figures the kpis app adds to relationships (current score) and projects (impact)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from kpis import selectors
from kpis.models import KPI, Measurement, ProjectKPI, RelationshipScore
from projects import selectors as project_selectors
from projects.access import scope
from projects.api.fields import ComputedDecimalField, RecordField
from projects.api.serializers import (
    SERVER_MANAGED,
    SYNC_FIELDS,
    SyncedSerializer,
)
from projects.api.serializers import ProjectSerializer as BaseProjectSerializer
from projects.api.serializers import RelationshipSerializer as BaseRelationshipSerializer

COMPONENT = {"max_digits": 7, "decimal_places": 6, "read_only": True, "allow_null": True}


class ScoreComponentsSerializer(serializers.Serializer):
    """Each component in 0–1; null when it had no data and was left out of the score."""

    impact = serializers.DecimalField(**COMPONENT)
    attainment = serializers.DecimalField(**COMPONENT)
    realisation = serializers.DecimalField(**COMPONENT)
    continuity = serializers.DecimalField(**COMPONENT)


class CurrentScoreSerializer(serializers.ModelSerializer):
    components = ScoreComponentsSerializer(source="*", read_only=True)

    class Meta:
        model = RelationshipScore
        fields = ["period", "score", "tier", "components"]
        read_only_fields = fields


class ScoreSerializer(serializers.ModelSerializer):
    relationship = serializers.PrimaryKeyRelatedField(read_only=True)
    components = ScoreComponentsSerializer(source="*", read_only=True)
    inputs = serializers.JSONField(
        source="components", read_only=True, help_text="What each component was computed from."
    )

    class Meta:
        model = RelationshipScore
        fields = [
            "id",
            "relationship",
            "period",
            "score",
            "tier",
            "components",
            "basis",
            "inputs",
            "projects_delivered",
            "kpis_measured",
            "computed_at",
        ]
        read_only_fields = fields


class RelationshipSerializer(BaseRelationshipSerializer):
    """A relationship with its current score."""

    current_score = serializers.SerializerMethodField(
        help_text="The latest monthly score up to this month, or null before the first one."
    )

    class Meta(BaseRelationshipSerializer.Meta):
        fields = [*BaseRelationshipSerializer.Meta.fields, "current_score"]
        read_only_fields = [*BaseRelationshipSerializer.Meta.read_only_fields, "current_score"]

    @extend_schema_field(CurrentScoreSerializer(allow_null=True))
    def get_current_score(self, relationship):
        score = selectors.current_score(relationship)
        return CurrentScoreSerializer(score).data if score is not None else None


class ProjectSerializer(BaseProjectSerializer):
    """A project with its impact."""

    impact_pct = serializers.SerializerMethodField(
        help_text="Mean improvement of the project's KPIs, each capped to ±100 % (null without any)."
    )

    class Meta(BaseProjectSerializer.Meta):
        fields = [*BaseProjectSerializer.Meta.fields, "impact_pct"]
        read_only_fields = [*SERVER_MANAGED, "impact_pct"]

    @extend_schema_field(ComputedDecimalField())
    def get_impact_pct(self, project):
        return ComputedDecimalField().to_representation(selectors.project_impact_pct(project))


def _live_kpis(user):
    return selectors.kpi_catalogue()


def _live_projects(user):
    return project_selectors.project_list(user=user)


def _live_project_kpis(user):
    return scope(user, ProjectKPI.objects.filter(deleted_at__isnull=True, project__deleted_at__isnull=True))


class KPISerializer(SyncedSerializer):
    class Meta(SyncedSerializer.Meta):
        model = KPI
        fields = [*SYNC_FIELDS, "code", "name", "unit", "direction", "description"]


class ProjectKPISerializer(SyncedSerializer):
    project = RecordField(queryset_for=_live_projects, help_text="The project (id or external_id).")
    kpi = RecordField(queryset_for=_live_kpis, help_text="The catalogue KPI (id or external_id).")
    latest_value = serializers.DecimalField(max_digits=20, decimal_places=4, read_only=True, allow_null=True)
    latest_measured_on = serializers.DateField(read_only=True, allow_null=True)
    improvement_pct = ComputedDecimalField(help_text="d × (latest − baseline) / |baseline|, in %.")
    target_achievement_pct = ComputedDecimalField(
        help_text="(latest − baseline) / (target − baseline), in %."
    )

    class Meta(SyncedSerializer.Meta):
        model = ProjectKPI
        fields = [
            *SYNC_FIELDS,
            "project",
            "kpi",
            "unit",
            "baseline_value",
            "baseline_date",
            "target_value",
            "latest_value",
            "latest_measured_on",
            "improvement_pct",
            "target_achievement_pct",
        ]
        read_only_fields = [*SERVER_MANAGED, "unit"]


class MeasurementSerializer(SyncedSerializer):
    project_kpi = RecordField(
        queryset_for=_live_project_kpis, help_text="The project KPI (id or external_id)."
    )

    class Meta(SyncedSerializer.Meta):
        model = Measurement
        fields = [*SYNC_FIELDS, "project_kpi", "measured_on", "value", "unit"]
        read_only_fields = [*SERVER_MANAGED, "unit"]

"""Serializers of every resource. They validate and shape data; every write is done by the
services (see the viewsets), and computed figures come from the selectors."""

from decimal import ROUND_HALF_UP

from django.contrib.auth import get_user_model
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import ComputedDecimalField, RecordField, StrictCharField, StrictSlugField
from kpis import selectors as kpi_selectors
from kpis.models import KPI, Measurement, ProjectKPI, RelationshipScore
from projects import selectors
from projects.access import Role, scope
from projects.models import InnovationProject, Organization, ProcessArea, Relationship, SignOff

SYNC_FIELDS = ["id", "external_id", "version", "created_at", "updated_at", "deleted_at"]
SERVER_MANAGED = ["id", "version", "created_at", "updated_at", "deleted_at"]


class SyncedSerializer(serializers.ModelSerializer):
    """Identity, version and timestamps are the server's; unknown fields are rejected.

    Server-managed fields (id, version, timestamps, computed values) sent by a client are
    ignored, so a record read with GET can be sent back with PUT as it is.
    """

    # Text columns take strings only (a number sent for one is refused, not coerced).
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.SlugField: StrictSlugField,
    }

    external_id = StrictCharField(
        max_length=100,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Your key for the record; unique per resource. Bulk upserts match on it.",
    )

    class Meta:
        fields = SYNC_FIELDS
        read_only_fields = SERVER_MANAGED
        validators = []  # uniqueness is the services' job (409 on conflict)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)

    def validate_external_id(self, value):
        return value or None


def _live_relationships(user):
    return scope(user, Relationship.objects.filter(deleted_at__isnull=True))


def _live_organizations(user):
    return selectors.organization_list(user=user)


def _account_manager_users():
    return get_user_model().objects.filter(is_active=True, groups__name=Role.ACCOUNT_MANAGER.value)


COMPONENT = {"max_digits": 7, "decimal_places": 6, "read_only": True, "allow_null": True}


class ScoreComponentsSerializer(serializers.Serializer):
    """Each component in 0–1; null when it had no data and was left out of the score."""

    impact = serializers.DecimalField(**COMPONENT)
    attainment = serializers.DecimalField(**COMPONENT)
    realisation = serializers.DecimalField(**COMPONENT)
    continuity = serializers.DecimalField(**COMPONENT)


IS_NEW_HELP = (
    "True while the relationship is new — not scored yet: its contract began under three months before "
    "the month's end and it has delivered nothing. Its score (0) and tier are then not a verdict."
)


CONTESTED_HELP = (
    "True while someone has contested this figure and the contest is not resolved (see /contests/)."
)
COMPUTED_AT_HELP = (
    "When the figures were last computed. A recompute that finds the same inputs (or the same figures) "
    "leaves the row, and this time, alone."
)
REASON_HELP = (
    'Why the figures were last computed: the change that asked for it ("measurement 812 recorded", '
    '"project 44 changed") or the job that ran ("nightly roll-up").'
)


class CurrentScoreSerializer(serializers.ModelSerializer):
    components = ScoreComponentsSerializer(source="*", read_only=True)
    is_new = serializers.BooleanField(read_only=True, help_text=IS_NEW_HELP)
    rests_on_contested = serializers.BooleanField(
        read_only=True, default=False, help_text="True while the score rests on contested figures."
    )
    computed_at = serializers.DateTimeField(read_only=True, help_text=COMPUTED_AT_HELP)
    reason = serializers.CharField(read_only=True, help_text=REASON_HELP)

    class Meta:
        model = RelationshipScore
        fields = [
            "period",
            "score",
            "tier",
            "is_new",
            "components",
            "computed_at",
            "reason",
            "rests_on_contested",
        ]
        read_only_fields = fields


class ScoreSerializer(serializers.ModelSerializer):
    relationship = serializers.PrimaryKeyRelatedField(read_only=True)
    components = ScoreComponentsSerializer(source="*", read_only=True)
    basis = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="How the score was reached, step by step."
    )
    inputs = serializers.DictField(
        source="components", read_only=True, help_text="What each component was computed from."
    )
    is_new = serializers.BooleanField(read_only=True, help_text=IS_NEW_HELP)
    contested = serializers.BooleanField(
        read_only=True, help_text="True while this month's score is contested."
    )
    rests_on_contested = serializers.BooleanField(
        read_only=True,
        help_text="True while the score rests on contested figures: the month's score, or a figure of a "
        "project delivered in its 12-month window, is contested and not resolved.",
    )
    computed_at = serializers.DateTimeField(read_only=True, help_text=COMPUTED_AT_HELP)
    reason = serializers.CharField(read_only=True, help_text=REASON_HELP)
    deleted_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the score's relationship was deleted (a tombstone in sync); null while it lives.",
    )

    class Meta:
        model = RelationshipScore
        fields = [
            "id",
            "relationship",
            "period",
            "score",
            "tier",
            "is_new",
            "components",
            "basis",
            "inputs",
            "projects_delivered",
            "kpis_measured",
            "contested",
            "rests_on_contested",
            "computed_at",
            "reason",
            "deleted_at",
        ]
        read_only_fields = fields


class OrganizationSerializer(SyncedSerializer):
    class Meta(SyncedSerializer.Meta):
        model = Organization
        fields = [*SYNC_FIELDS, "name", "kind", "industry", "country"]


class RelationshipSerializer(SyncedSerializer):
    client = RecordField(
        queryset_for=_live_organizations, help_text="A client organisation (id or external_id)."
    )
    provider = RecordField(
        queryset_for=_live_organizations, help_text="A provider organisation (id or external_id)."
    )
    process_areas = serializers.SlugRelatedField(
        many=True, slug_field="code", queryset=ProcessArea.objects.all(), required=False
    )
    account_managers = serializers.SlugRelatedField(
        many=True,
        slug_field="username",
        queryset=_account_manager_users(),
        required=False,
        help_text="Usernames of the account managers assigned (only an admin may change them).",
    )
    projects_in_flight = serializers.IntegerField(
        read_only=True,
        help_text="Live projects approved or in progress (ideas and proposals are not counted).",
    )
    current_score = serializers.SerializerMethodField(
        help_text="The latest monthly score up to this month, or null before the first one."
    )

    class Meta(SyncedSerializer.Meta):
        model = Relationship
        fields = [
            *SYNC_FIELDS,
            "name",
            "client",
            "provider",
            "process_areas",
            "contract_start",
            "contract_end",
            "annual_contract_value",
            "currency",
            "status",
            "account_managers",
            "client_signoff_required",
            "projects_in_flight",
            "current_score",
        ]
        read_only_fields = [*SERVER_MANAGED, "projects_in_flight", "current_score"]

    @extend_schema_field(CurrentScoreSerializer(allow_null=True))
    def get_current_score(self, relationship):
        score = kpi_selectors.current_score(relationship)
        if score is None:
            return None
        return {
            **CurrentScoreSerializer(score).data,
            "rests_on_contested": bool(getattr(relationship, "current_score_contested", False)),
        }


class ProjectSerializer(SyncedSerializer):
    relationship = RecordField(
        queryset_for=_live_relationships, help_text="The relationship (id or external_id)."
    )
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="Username of the project's owner.",
    )
    impact_pct = serializers.SerializerMethodField(
        help_text="Mean improvement of the project's KPIs, each capped to ±100 % (null without any)."
    )
    delivery_date_contested = serializers.BooleanField(read_only=True, help_text=CONTESTED_HELP)
    realised_benefit_contested = serializers.BooleanField(read_only=True, help_text=CONTESTED_HELP)
    gain_share = serializers.SerializerMethodField(
        help_text="The provider's gain-share in the relationship's currency: gain_share_pct × "
        "(realised_annual_benefit − gain_share_baseline), never below 0; null where no gain-share "
        "is agreed or no benefit is realised yet."
    )

    class Meta(SyncedSerializer.Meta):
        model = InnovationProject
        fields = [
            *SYNC_FIELDS,
            "relationship",
            "title",
            "description",
            "level",
            "stage",
            "originator",
            "owner",
            "proposed_on",
            "started_on",
            "delivered_on",
            "investment",
            "expected_annual_benefit",
            "realised_annual_benefit",
            "funding",
            "gain_share_pct",
            "gain_share_baseline",
            "outcome",
            "cancellation_reason",
            "impact_pct",
            "gain_share",
            "delivery_date_contested",
            "realised_benefit_contested",
        ]
        read_only_fields = [
            *SERVER_MANAGED,
            "impact_pct",
            "gain_share",
            "delivery_date_contested",
            "realised_benefit_contested",
        ]
        extra_kwargs = {
            "stage": {
                "help_text": "idea → proposed → approved → in_progress → delivered, or cancelled from any "
                "open stage; a change must be one of these steps."
            },
            "outcome": {"help_text": "One line on what the delivery achieved."},
            "cancellation_reason": {"help_text": "Why the project was cancelled."},
        }

    @extend_schema_field(ComputedDecimalField())
    def get_impact_pct(self, project):
        return IMPACT_PCT.to_representation(kpi_selectors.project_impact_pct(project))

    @extend_schema_field(ComputedDecimalField(decimal_places=2))
    def get_gain_share(self, project):
        return GAIN_SHARE.to_representation(kpi_selectors.project_gain_share(project))


# The method fields' formats, made once (a field object per call cost more than the figure).
IMPACT_PCT = ComputedDecimalField()
# An amount of money: to the cent, rounded half up as the pages show it.
GAIN_SHARE = ComputedDecimalField(decimal_places=2, rounding=ROUND_HALF_UP)


def _live_projects_for_signoff(user):
    return selectors.project_list(user=user)


def _live_kpis(user):
    return kpi_selectors.kpi_catalogue()


def _live_projects(user):
    return selectors.project_list(user=user)


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
    baseline_contested = serializers.BooleanField(read_only=True, help_text=CONTESTED_HELP)

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
            "baseline_contested",
        ]
        read_only_fields = [*SERVER_MANAGED, "unit", "baseline_contested"]


class MeasurementSerializer(SyncedSerializer):
    project_kpi = RecordField(
        queryset_for=_live_project_kpis, help_text="The project KPI (id or external_id)."
    )
    contested = serializers.BooleanField(read_only=True, help_text=CONTESTED_HELP)

    class Meta(SyncedSerializer.Meta):
        model = Measurement
        fields = [*SYNC_FIELDS, "project_kpi", "measured_on", "value", "unit", "contested"]
        read_only_fields = [*SERVER_MANAGED, "unit", "contested"]


# --- Peer benchmarks ------------------------------------------------------------------------------

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
BENCHMARK_FIGURE = {"max_digits": 5, "decimal_places": 2, "read_only": True, "allow_null": True}


class BenchmarkQuerySerializer(serializers.Serializer):
    """The benchmark's query parameters."""

    month = serializers.RegexField(
        MONTH_PATTERN,
        required=False,
        help_text="The month compared, YYYY-MM (default: the month of the relationship's current score).",
        error_messages={"invalid": "Give a month as YYYY-MM, e.g. 2026-09."},
    )
    same_industry = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Compare only with relationships whose client is in the same industry.",
    )


class AreaBenchmarkSerializer(serializers.Serializer):
    process_area = serializers.CharField(
        source="area.code", read_only=True, help_text="The process area's code."
    )
    process_area_name = serializers.CharField(source="area.name", read_only=True)
    status = serializers.ChoiceField(
        choices=["available", "too_small", "refused", "not_scored"],
        read_only=True,
        help_text="`available`; `too_small`: the cohort has fewer than the minimum relationships or "
        "clients, so no benchmark is given; `refused`: the industry filter would single out a small "
        "group; `not_scored`: the relationship is not active or has no score that month.",
    )
    message = serializers.CharField(
        read_only=True, help_text="What the benchmark compares with, or why there is none."
    )
    score = serializers.DecimalField(**BENCHMARK_FIGURE, help_text="This relationship's score that month.")
    cohort_size = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Relationships in the cohort, this one included."
    )
    percentile = serializers.DecimalField(
        max_digits=4,
        decimal_places=1,
        read_only=True,
        allow_null=True,
        help_text="The share (%) of the other relationships in the cohort scoring below this one.",
    )
    quartile = serializers.ChoiceField(
        choices=["top", "second", "third", "bottom"],
        read_only=True,
        allow_null=True,
        help_text="Where the score falls against the cohort's p75, median and p25.",
    )
    p25 = serializers.DecimalField(**BENCHMARK_FIGURE)
    median = serializers.DecimalField(**BENCHMARK_FIGURE)
    p75 = serializers.DecimalField(**BENCHMARK_FIGURE)


class RelationshipBenchmarkSerializer(serializers.Serializer):
    """Where a relationship's score stands among its peers in each of its process areas. Peers are
    never named: only the cohort's size and quartiles are given."""

    relationship = serializers.IntegerField(read_only=True)
    period = serializers.DateField(read_only=True, help_text="The month compared (its first day).")
    same_industry = serializers.BooleanField(read_only=True)
    minimum_relationships = serializers.IntegerField(
        read_only=True, help_text="No benchmark is given for a smaller cohort."
    )
    minimum_clients = serializers.IntegerField(
        read_only=True, help_text="No benchmark is given for a cohort of fewer distinct clients."
    )
    areas = AreaBenchmarkSerializer(many=True, read_only=True)


# --- Client sign-off ----------------------------------------------------------------------------


class SignOffSerializer(SyncedSerializer):
    """A client sign-off as the API shows it (requests are made and decided through the actions)."""

    project = serializers.PrimaryKeyRelatedField(read_only=True, help_text="The project's id.")
    requested_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Who asked (username)."
    )
    decided_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who decided or withdrew it (username); null while pending or when it lapsed.",
    )

    class Meta(SyncedSerializer.Meta):
        model = SignOff
        fields = [
            *SYNC_FIELDS,
            "project",
            "kind",
            "status",
            "realised_annual_benefit",
            "request_note",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_note",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "kind": {
                "help_text": "`approval`: the move to Approved; `benefit`: a delivered project's "
                "realised benefit."
            },
            "status": {
                "help_text": "`pending` until the client decides: `approved` (the change is applied), "
                "`declined` (with its reason in `decision_note`) or `withdrawn` (by the provider, or "
                "lapsed when the project moved on without it)."
            },
        }


class StrictBodySerializer(serializers.Serializer):
    """A request body of an action: unknown fields are refused, not ignored."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class SignOffRequestSerializer(StrictBodySerializer):
    """The provider asks the client to sign off."""

    project = RecordField(
        queryset_for=_live_projects_for_signoff, help_text="The project (id or external_id)."
    )
    kind = serializers.ChoiceField(
        choices=SignOff.Kind.choices,
        help_text="`approval` (the project must be an idea or proposed; an idea is proposed today) or "
        "`benefit` (the project must be delivered).",
    )
    realised_annual_benefit = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text="The realised annual benefit to confirm (benefit requests only).",
    )
    request_note = StrictCharField(
        max_length=500, required=False, allow_blank=True, help_text="What the client should know to decide."
    )


class SignOffApproveSerializer(StrictBodySerializer):
    note = StrictCharField(max_length=500, required=False, allow_blank=True, help_text="An optional note.")


class SignOffDeclineSerializer(StrictBodySerializer):
    reason = StrictCharField(max_length=500, help_text="Why it is declined; kept and shown to the provider.")

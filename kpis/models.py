"""The KPI catalogue, KPIs tracked on projects, their measurements, and monthly relationship scores."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from kpis import scoring
from kpis.fields import JSONObjectTextField
from projects.models import (
    PLAUSIBLE_DATE,
    InnovationProject,
    Relationship,
    SyncedModel,
    live_external_id_unique,
)

VALUE = {"max_digits": 20, "decimal_places": 4}


class Unit(models.TextChoices):
    PERCENT = "percent", "%"
    HOURS = "hours", "hours"
    DAYS = "days", "days"
    CURRENCY = "currency", "currency"
    COUNT = "count", "count"
    RATIO = "ratio", "ratio"
    INDEX = "index", "index"
    SCORE = "score", "score"


def _percent_in_range(*fields: str) -> Q:
    """Values of a percent KPI lie within 0–100; other units are unconstrained."""
    condition = ~Q(unit=Unit.PERCENT)
    in_range = Q()
    for field in fields:
        in_range &= Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": 0, f"{field}__lte": 100})
    return condition | in_range


class KPI(SyncedModel):
    """A catalogue entry: what is measured, in which unit, and which way is better."""

    class Direction(models.TextChoices):
        HIGHER_IS_BETTER = "higher_is_better", "Higher is better"
        LOWER_IS_BETTER = "lower_is_better", "Lower is better"

    code = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=10, choices=Unit.choices)
    direction = models.CharField(max_length=20, choices=Direction.choices)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "KPI"
        constraints = [
            live_external_id_unique("kpi"),
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(deleted_at__isnull=True),
                name="kpi_code_unique",
                violation_error_message="A KPI with this code already exists.",
            ),
            models.CheckConstraint(condition=Q(unit__in=Unit.values), name="kpi_unit_valid"),
            models.CheckConstraint(
                condition=Q(direction__in=["higher_is_better", "lower_is_better"]), name="kpi_direction_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProjectKPI(SyncedModel):
    """A KPI tracked on one project, with its baseline and an optional target."""

    # Deleted with its project (projects.records.record_soft_delete); its audit entry names both.
    SOFT_DELETED_WITH = "project"
    AUDIT_REPR_RELATED = ("kpi", "project")
    RECORD_TYPE = "project_kpi"  # its name in events (projects.events.record_type)

    project = models.ForeignKey(InnovationProject, on_delete=models.PROTECT, related_name="project_kpis")
    kpi = models.ForeignKey(KPI, on_delete=models.PROTECT, related_name="project_kpis")
    # Copied from the KPI when the row is written (a KPI's unit cannot change once in use), so the
    # database itself can keep percent values within 0–100.
    unit = models.CharField(max_length=10, choices=Unit.choices, editable=False)
    baseline_value = models.DecimalField(**VALUE)
    baseline_date = models.DateField(validators=PLAUSIBLE_DATE)
    target_value = models.DecimalField(**VALUE, null=True, blank=True)

    SCOPE_PATH = "project__relationship"

    class Meta:
        ordering = ["project_id", "kpi__name", "id"]
        verbose_name = "project KPI"
        constraints = [
            live_external_id_unique("project_kpi"),
            models.UniqueConstraint(
                fields=["project", "kpi"],
                condition=Q(deleted_at__isnull=True),
                name="project_kpi_unique",
                violation_error_message="This KPI is already tracked on this project.",
            ),
            models.CheckConstraint(
                condition=_percent_in_range("baseline_value", "target_value"),
                name="project_kpi_percent_range",
                violation_error_message="Percent values must be between 0 and 100.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kpi} on {self.project}"

    def clean(self):
        """Dates and values that could never lock a KPI: a baseline not yet observed, or a target
        equal to the baseline (target achievement, (a − b) / (t − b), could never be computed).
        Here rather than in a form so that pages and API refuse them alike (services full_clean())."""
        errors = {}
        if self.baseline_date is not None and self.baseline_date > timezone.localdate():
            errors["baseline_date"] = "A baseline cannot be dated in the future."
        if (
            self.target_value is not None
            and self.baseline_value is not None
            and self.target_value == self.baseline_value
        ):
            errors["target_value"] = (
                "The target equals the baseline, so no target achievement could ever be computed; "
                "give a different target or leave it empty."
            )
        if errors:
            raise ValidationError(errors)

    # The figures below read `latest_value`, annotated by kpis.selectors.with_latest_values().
    @property
    def improvement_pct(self):
        return scoring.improvement_pct(
            baseline=self.baseline_value,
            latest=self.latest_value,
            higher_is_better=self.kpi.direction == KPI.Direction.HIGHER_IS_BETTER,
        )

    @property
    def target_achievement_pct(self):
        return scoring.target_achievement_pct(
            baseline=self.baseline_value, latest=self.latest_value, target=self.target_value
        )


class Measurement(SyncedModel):
    """A dated value of a project KPI; the latest one is the project's 'after' value."""

    SOFT_DELETED_WITH = "project_kpi"
    AUDIT_REPR_RELATED = ("project_kpi__kpi", "project_kpi__project")

    project_kpi = models.ForeignKey(ProjectKPI, on_delete=models.PROTECT, related_name="measurements")
    measured_on = models.DateField(validators=PLAUSIBLE_DATE)
    value = models.DecimalField(**VALUE)
    unit = models.CharField(max_length=10, choices=Unit.choices, editable=False)

    SCOPE_PATH = "project_kpi__project__relationship"

    class Meta:
        ordering = ["project_kpi_id", "-measured_on", "-id"]
        indexes = [
            models.Index(fields=["project_kpi", "measured_on"], name="measurement_latest_idx"),
        ]
        constraints = [
            live_external_id_unique("measurement"),
            models.UniqueConstraint(
                fields=["project_kpi", "measured_on"],
                condition=Q(deleted_at__isnull=True),
                name="measurement_one_per_date",
                violation_error_message="This KPI already has a measurement on this date.",
            ),
            models.CheckConstraint(
                condition=_percent_in_range("value"),
                name="measurement_percent_range",
                violation_error_message="Percent values must be between 0 and 100.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_kpi}: {self.value} on {self.measured_on}"


class LatestMeasurement(models.Model):
    """Each project KPI's latest live measurement today (kpis.selectors.LATEST_FIRST, no date
    limit): its date, value and improvement, one row per project KPI that has had a measurement
    (empty while none is live).

    Kept by the database, not by Python: triggers on measurements, project KPIs (the baseline) and
    the catalogue (the direction) rewrite the row of every project KPI a statement touched
    (kpis/migrations/0008_latest_measurement.py), so every write path — services, bulk, imports,
    the admin, raw SQL — keeps it true, and nothing in the app writes it. Pages, the API and the
    dashboards read a KPI's current value from here with one join instead of one index probe per
    KPI (`with_latest_values` without a date); a value as of a past date is still chosen from the
    measurements themselves. tests/kpis/test_latest_measurement.py compares it with the definition
    after every kind of write, and under concurrent writers."""

    # The database deletes a project KPI's row with the KPI (a foreign key ON DELETE CASCADE on
    # PostgreSQL, a trigger on SQLite): Django's own cascade would collect the row before the
    # measurements' triggers could write it again in the same delete.
    project_kpi = models.OneToOneField(
        ProjectKPI,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        primary_key=True,
        related_name="stored_latest",
    )
    # Empty when the KPI has no live measurement (any more): the row stays, as the lock its
    # writers take turns on.
    measured_on = models.DateField(null=True)
    value = models.DecimalField(**VALUE, null=True)
    # kpis.selectors.improvement_expression of the value, as a double: what the largest
    # improvements are ordered by, through the index below (empty without a value or with a zero
    # baseline). The triggers rewrite it when the KPI's baseline or its catalogue entry's direction
    # changes too. For ordering only: the figures shown come from kpis.scoring.
    improvement_order = models.FloatField(null=True)

    class Meta:
        # Only the triggers write this table.
        default_permissions = ("view",)
        indexes = [
            # The largest improvements walk this index and stop after the first few rows in their
            # window and scope, whatever the portfolio's size.
            models.Index(
                F("improvement_order").desc(),
                F("project_kpi"),
                name="latest_improvement_order",
            )
        ]

    def __str__(self) -> str:
        return f"{self.project_kpi_id}: {self.value} on {self.measured_on}"


class Tier(models.TextChoices):
    HIGH_PERFORMING = "high_performing", "High-performing"
    STEADY = "steady", "Steady"
    AT_RISK = "at_risk", "At risk"


class RelationshipScore(models.Model):
    """A relationship's performance score for one calendar month, and what it was computed from."""

    relationship = models.ForeignKey(Relationship, on_delete=models.CASCADE, related_name="scores")
    period = models.DateField(help_text="The first day of the month scored.")
    score = models.DecimalField(max_digits=5, decimal_places=2)
    tier = models.CharField(max_length=20, choices=Tier.choices)
    # Each component in 0–1, or null when it had no data and was left out of the score.
    impact = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    attainment = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    realisation = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    continuity = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    # The components the score rests on, e.g. ["impact", "continuity"].
    basis = models.JSONField(default=list)
    # The inputs behind each component (means, sums, quarters), for "why this score" (kpis.explanation):
    # stored as json text, not parsed into jsonb, since it is only ever written and read whole.
    components = JSONObjectTextField(default=dict)
    projects_delivered = models.PositiveIntegerField(default=0)
    kpis_measured = models.PositiveIntegerField(default=0)
    # "New — not scored yet" (kpis.scoring.is_new_relationship): the contract began under three
    # months before the month's end and nothing was delivered yet. The row keeps its figures (0,
    # resting on continuity) so it still says what it rests on, but pages and tier counts show it
    # as new instead of 0 at risk.
    is_new = models.BooleanField(
        default=False,
        help_text="New — not scored yet: the contract began under three months before the month's end "
        "and nothing has been delivered yet.",
    )
    computed_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Why the figures were last (re)computed: the change that asked for it ("measurement 812
    # changed") or the job that ran ("nightly roll-up"). Set only when the figures are written.
    # (Database defaults too, so writers that insert rows themselves need not know these columns.)
    reason = models.CharField(max_length=200, blank=True, default="", db_default="")
    # A digest of everything the figures were computed from (kpis.rollup.inputs_fingerprint): a
    # roll-up whose inputs have the same digest skips the relationship without computing anything.
    inputs_fingerprint = models.CharField(max_length=32, blank=True, default="", db_default="")

    SCOPE_PATH = "relationship"

    class Meta:
        ordering = ["relationship_id", "-period"]
        constraints = [
            models.UniqueConstraint(
                fields=["relationship", "period"], name="relationship_score_one_per_month"
            ),
            models.CheckConstraint(condition=Q(period__day=1), name="relationship_score_period_month_start"),
            models.CheckConstraint(
                condition=Q(score__gte=0, score__lte=100), name="relationship_score_range"
            ),
            models.CheckConstraint(condition=Q(tier__in=Tier.values), name="relationship_score_tier_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.relationship} {self.period:%Y-%m}: {self.score}"


class PendingScoreRecompute(models.Model):
    """A relationship whose current score may be out of date (its recompute was not yet confirmed).

    Written in the same transaction as the change that made the score stale, so that a lost broker
    message is caught up by the periodic job instead of being lost.
    """

    relationship = models.OneToOneField(Relationship, on_delete=models.CASCADE, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.relationship} stale since {self.requested_at:%Y-%m-%d %H:%M}"


class PendingScorePeriod(models.Model):
    """A month of a relationship's score that a change has made out of date, and why.

    Written in the same transaction as the change (kpis.tasks.request_score_recompute): one row per
    month whose window the change falls in, however many changes ask for it. The roll-up of that
    month deletes it in its own transaction before reading, and stores its reason on the score row.
    """

    relationship = models.ForeignKey(Relationship, on_delete=models.CASCADE, related_name="+")
    period = models.DateField(help_text="The first day of the month to recompute.")
    reason = models.CharField(max_length=200, blank=True, default="")
    requested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["relationship", "period"], name="pending_score_period_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.relationship} {self.period:%Y-%m} stale since {self.requested_at:%Y-%m-%d %H:%M}"

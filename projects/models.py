"""Organisations, relationships and innovation projects, plus the shared record machinery."""

import itertools
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

MONEY = {"max_digits": 16, "decimal_places": 2}
PERCENT = {"max_digits": 5, "decimal_places": 2}
NON_NEGATIVE = [MinValueValidator(Decimal("0"))]

# Business dates outside these years are typing mistakes (0001, 9999), never real: every date field
# of the domain refuses them, so pages, API and admin answer with the same field-level message.
PLAUSIBLE_YEARS = (1950, 2100)


def validate_plausible_date(value) -> None:
    from django.core.exceptions import ValidationError

    low, high = PLAUSIBLE_YEARS
    if value is not None and not low <= value.year <= high:
        raise ValidationError(f"Enter a date between {low} and {high}.", code="implausible_year")


PLAUSIBLE_DATE = [validate_plausible_date]
PERCENT_RANGE = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


def live_external_id_unique(prefix: str) -> models.UniqueConstraint:
    """external_id unique among live records; reported on the field like a unique field's error."""
    return models.UniqueConstraint(
        fields=["external_id"],
        condition=Q(deleted_at__isnull=True),
        name=f"{prefix}_external_id_live_unique",
        violation_error_code="unique",
        violation_error_message="A live record with this external_id already exists.",
    )


class SyncedModel(models.Model):
    """Fields every record that sync clients see carries: identity, version, timestamps, tombstone."""

    # Unique among live records of a type (live_external_id_unique below): a deleted record keeps its
    # key on its tombstone but no longer blocks it, so a client may use the key again.
    external_id = models.CharField(
        max_length=100,
        null=True,
        blank=True,
        help_text="The record's key in a client system; unique among the live records of a type.",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    # Which write transaction last changed the row (PostgreSQL transaction id, or a serialised
    # counter on SQLite). Sync cursors compare it against a reader's snapshot so that no commit is
    # missed, whatever order concurrent transactions commit in. See projects.records.
    change_stamp = models.BigIntegerField(default=0, editable=False, db_index=True)

    # The lookup from this model to its Relationship, used by projects.access.scope().
    SCOPE_PATH: str | None = None

    class Meta:
        abstract = True


class SyncClock(models.Model):
    """A single-row counter that orders writes on databases without transaction ids (SQLite)."""

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"sync clock at {self.value}"


class AuditEntry(models.Model):
    """Who changed which record when, with the values before and after."""

    class Action(models.TextChoices):
        CREATE = "create", "created"
        UPDATE = "update", "updated"
        TRANSITION = "transition", "stage changed"
        DELETE = "delete", "deleted"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # No index of its own: audit_object_idx begins with it, and every audited write pays for each index.
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, db_index=False)
    object_id = models.BigIntegerField()
    object_repr = models.CharField(max_length=300)
    action = models.CharField(max_length=20, choices=Action.choices)
    # {"field": {"before": ..., "after": ...}} with JSON-safe values (Decimals and dates as text).
    changes = models.JSONField(default=dict)
    version = models.PositiveIntegerField(help_text="The record's version after this change.")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "at"], name="audit_object_idx")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.object_repr} {self.get_action_display()} by {self.actor or 'system'}"


class Organization(SyncedModel):
    """A client company or an outsourcing provider."""

    class Kind(models.TextChoices):
        CLIENT = "client", "Client"
        PROVIDER = "provider", "Provider"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    industry = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            live_external_id_unique("organization"),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(deleted_at__isnull=True),
                name="organization_name_unique",
                violation_error_message="An organisation with this name already exists.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["client", "provider"]), name="organization_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class UserProfile(models.Model):
    """Links a user to the organisation they belong to (client viewers see only its relationships)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization or '—'}"


class ProcessArea(models.Model):
    """A business process that can be outsourced (finance and accounting, claims, …)."""

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Relationship(SyncedModel):
    """An outsourcing relationship between one client and one provider."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RENEWING = "renewing", "Renewing"
        ENDED = "ended", "Ended"

    name = models.CharField(max_length=200)
    client = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="client_relationships")
    provider = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="provider_relationships"
    )
    process_areas = models.ManyToManyField(ProcessArea, blank=True, related_name="relationships")
    contract_start = models.DateField(validators=PLAUSIBLE_DATE)
    contract_end = models.DateField(null=True, blank=True, validators=PLAUSIBLE_DATE)
    annual_contract_value = models.DecimalField(**MONEY, null=True, blank=True, validators=NON_NEGATIVE)
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. USD.")],
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    account_managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="managed_relationships"
    )
    # The client signs off approvals and realised benefits (projects.signoffs) while someone on the
    # client side uses the product. A database default too: rows inserted in bulk take it.
    client_signoff_required = models.BooleanField(
        default=False,
        db_default=False,
        verbose_name="client sign-off",
        help_text="Moving a project to Approved and confirming a delivered project's realised benefit "
        "need the client's approval (while someone at the client uses the product).",
    )

    SCOPE_PATH = ""

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            live_external_id_unique("relationship"),
            models.CheckConstraint(
                condition=~Q(client=F("provider")),
                name="relationship_client_not_provider",
                violation_error_message="The client and the provider must be different organisations.",
            ),
            models.CheckConstraint(
                condition=Q(contract_end__isnull=True) | Q(contract_end__gte=F("contract_start")),
                name="relationship_contract_end_after_start",
                violation_error_message="The contract cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=Q(annual_contract_value__isnull=True) | Q(annual_contract_value__gte=0),
                name="relationship_contract_value_non_negative",
                violation_error_message="The annual contract value cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "renewing", "ended"]), name="relationship_status_valid"
            ),
            models.UniqueConstraint(
                fields=["client", "provider", "name"],
                condition=Q(deleted_at__isnull=True),
                name="relationship_name_unique_per_pair",
                violation_error_message="This client and provider already have a relationship of this name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.client_id and self.client.kind != Organization.Kind.CLIENT:
            errors["client"] = "Choose an organisation of kind 'client'."
        if self.provider_id and self.provider.kind != Organization.Kind.PROVIDER:
            errors["provider"] = "Choose an organisation of kind 'provider'."
        if errors:
            raise ValidationError(errors)


class LeadershipPair(models.Model):
    """The client-side and provider-side leaders of a relationship, and when they held the role."""

    relationship = models.ForeignKey(Relationship, on_delete=models.CASCADE, related_name="leadership_pairs")
    client_leader = models.CharField(max_length=200)
    provider_leader = models.CharField(max_length=200)
    started_on = models.DateField(validators=PLAUSIBLE_DATE)
    ended_on = models.DateField(null=True, blank=True, validators=PLAUSIBLE_DATE)

    SCOPE_PATH = "relationship"

    class Meta:
        ordering = ["-started_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="leadership_pair_end_after_start",
                violation_error_message="A leadership pair cannot end before it starts.",
            ),
            models.UniqueConstraint(
                fields=["relationship"],
                condition=Q(ended_on__isnull=True),
                name="leadership_pair_one_current",
                violation_error_message="A relationship has only one current leadership pair.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_leader} / {self.provider_leader}"


class ProjectStage(models.TextChoices):
    """A project's stage, declared in pipeline order (InnovationProject.Stage)."""

    IDEA = "idea", "Idea"
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    IN_PROGRESS = "in_progress", "In progress"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


def _stage_machine(pipeline: tuple, cancelled) -> dict:
    """Each open stage may move to the next one or be cancelled; the last stage and cancelled are closed."""
    machine = {stage: (following, cancelled) for stage, following in itertools.pairwise(pipeline)}
    return {**machine, pipeline[-1]: (), cancelled: ()}


class InnovationProject(SyncedModel):
    """An innovation project a provider runs for a client within one relationship."""

    # Deleting a relationship deletes its projects (projects.records.record_soft_delete).
    SOFT_DELETED_WITH = "relationship"
    # Its name in events and the API (projects.events.record_type).
    RECORD_TYPE = "project"

    class Level(models.TextChoices):
        OPERATIONAL = "operational", "Operational (efficiency)"
        PROCESS = "process", "Process (effectiveness)"
        STRATEGIC = "strategic", "Strategic (performance)"

    Stage = ProjectStage

    class Originator(models.TextChoices):
        PROVIDER = "provider", "Provider"
        CLIENT = "client", "Client"
        JOINT = "joint", "Joint"

    class Funding(models.TextChoices):
        PROVIDER = "provider", "Provider"
        CLIENT = "client", "Client"
        SHARED = "shared", "Shared"
        INNOVATION_FUND = "innovation_fund", "Innovation fund"
        GAIN_SHARE = "gain_share", "Gain-share"

    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="projects")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    level = models.CharField(max_length=12, choices=Level.choices, default=Level.OPERATIONAL)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.IDEA, db_index=True)
    originator = models.CharField(max_length=10, choices=Originator.choices, default=Originator.PROVIDER)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_projects",
    )
    proposed_on = models.DateField(null=True, blank=True, validators=PLAUSIBLE_DATE)
    started_on = models.DateField(null=True, blank=True, validators=PLAUSIBLE_DATE)
    delivered_on = models.DateField(null=True, blank=True, db_index=True, validators=PLAUSIBLE_DATE)
    investment = models.DecimalField(**MONEY, default=Decimal("0"), validators=NON_NEGATIVE)
    expected_annual_benefit = models.DecimalField(**MONEY, null=True, blank=True, validators=NON_NEGATIVE)
    realised_annual_benefit = models.DecimalField(**MONEY, null=True, blank=True, validators=NON_NEGATIVE)
    funding = models.CharField(max_length=16, choices=Funding.choices, default=Funding.PROVIDER)
    gain_share_pct = models.DecimalField(
        **PERCENT, null=True, blank=True, validators=PERCENT_RANGE, verbose_name="gain-share %"
    )
    gain_share_baseline = models.DecimalField(
        **MONEY, null=True, blank=True, validators=NON_NEGATIVE, verbose_name="gain-share baseline"
    )
    # Asked for by the stage dialog: what a delivery achieved, in a line, and why work was stopped.
    # A database default as well, so set-based inserts that do not name them (the benchmark
    # generator, bulk paths) get an empty text rather than a NULL the column refuses.
    outcome = models.CharField(max_length=200, blank=True, default="", db_default="")
    cancellation_reason = models.CharField(max_length=500, blank=True, default="", db_default="")

    SCOPE_PATH = "relationship"

    # The stage machine (DESIGN.md §3), the one definition every page, list, filter and service
    # uses: the pipeline runs forward one step at a time; any open stage may be cancelled.
    PIPELINE = (Stage.IDEA, Stage.PROPOSED, Stage.APPROVED, Stage.IN_PROGRESS, Stage.DELIVERED)
    OPEN_STAGES = PIPELINE[:-1]
    # Work in flight: agreed and not yet delivered (ideas and proposals are not committed work).
    IN_FLIGHT_STAGES = (Stage.APPROVED, Stage.IN_PROGRESS)
    CLOSED_STAGES = (Stage.DELIVERED, Stage.CANCELLED)
    # Display and sort order: the pipeline, then cancelled.
    STAGE_ORDER = (*PIPELINE, Stage.CANCELLED)
    TRANSITIONS = _stage_machine(PIPELINE, Stage.CANCELLED)
    # The date field that records when a project reached a stage (approval and cancellation have none).
    STAGE_DATE_FIELDS = {
        Stage.PROPOSED: "proposed_on",
        Stage.IN_PROGRESS: "started_on",
        Stage.DELIVERED: "delivered_on",
    }

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["relationship", "stage"], name="project_relationship_stage_idx")]
        constraints = [
            live_external_id_unique("project"),
            models.CheckConstraint(
                condition=Q(stage__in=ProjectStage.values),
                name="project_stage_valid",
            ),
            models.CheckConstraint(
                condition=Q(level__in=["operational", "process", "strategic"]), name="project_level_valid"
            ),
            models.CheckConstraint(
                condition=Q(investment__gte=0),
                name="project_investment_non_negative",
                violation_error_message="Investment cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(expected_annual_benefit__isnull=True) | Q(expected_annual_benefit__gte=0),
                name="project_expected_benefit_non_negative",
                violation_error_message="Expected annual benefit cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(realised_annual_benefit__isnull=True) | Q(realised_annual_benefit__gte=0),
                name="project_realised_benefit_non_negative",
                violation_error_message="Realised annual benefit cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(gain_share_pct__isnull=True) | Q(gain_share_pct__gte=0, gain_share_pct__lte=100),
                name="project_gain_share_pct_range",
                violation_error_message="Gain-share % must be between 0 and 100.",
            ),
            models.CheckConstraint(
                condition=Q(gain_share_baseline__isnull=True) | Q(gain_share_baseline__gte=0),
                name="project_gain_share_baseline_non_negative",
                violation_error_message="The gain-share baseline cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(started_on__isnull=True)
                | Q(proposed_on__isnull=True)
                | Q(started_on__gte=F("proposed_on")),
                name="project_started_after_proposed",
                violation_error_message="A project cannot start before it was proposed.",
            ),
            models.CheckConstraint(
                condition=Q(delivered_on__isnull=True)
                | Q(started_on__isnull=True)
                | Q(delivered_on__gte=F("started_on")),
                name="project_delivered_after_started",
                violation_error_message="A project cannot be delivered before it started.",
            ),
            models.CheckConstraint(
                condition=Q(stage="delivered", delivered_on__isnull=False)
                | (~Q(stage="delivered") & Q(delivered_on__isnull=True)),
                name="project_delivered_has_date",
                violation_error_message=(
                    "A delivered project needs a delivered date, and only a delivered project has one."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.delivered_on is not None and self.delivered_on > timezone.localdate():
            raise ValidationError({"delivered_on": "A project cannot be delivered in the future."})

    @classmethod
    def allowed_next_stages(cls, stage: str) -> tuple[str, ...]:
        return tuple(cls.TRANSITIONS.get(stage, ()))


class SignOff(SyncedModel):
    """A client's sign-off asked for by the provider: approving a project (the move to Approved) or
    confirming a delivered project's realised benefit. The change is applied when the client
    approves; a decline keeps the reason. See projects.signoffs."""

    # Deleting a project deletes its sign-offs (projects.records.record_soft_delete).
    SOFT_DELETED_WITH = "project"
    RECORD_TYPE = "sign_off"  # its name in events and webhooks (projects.events.record_type)

    class Kind(models.TextChoices):
        APPROVAL = "approval", "Approval"
        BENEFIT = "benefit", "Realised benefit"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the client"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"

    project = models.ForeignKey(InnovationProject, on_delete=models.PROTECT, related_name="signoffs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    realised_annual_benefit = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
        help_text="The realised annual benefit to confirm (benefit sign-offs only).",
    )
    request_note = models.CharField(max_length=500, blank=True, verbose_name="note to the client")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(
        max_length=500, blank=True, help_text="Why it was declined (required), or a note with an approval."
    )

    SCOPE_PATH = "project__relationship"
    AUDIT_REPR_RELATED = ("project",)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            live_external_id_unique("signoff"),
            models.CheckConstraint(condition=Q(kind__in=["approval", "benefit"]), name="signoff_kind_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "declined", "withdrawn"]),
                name="signoff_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind="approval", realised_annual_benefit__isnull=True)
                | Q(kind="benefit", realised_annual_benefit__gte=0),
                name="signoff_benefit_amount",
                violation_error_message=(
                    "A realised-benefit sign-off needs the amount (0 or more); an approval has none."
                ),
            ),
            models.CheckConstraint(
                condition=Q(status="pending", decided_at__isnull=True)
                | (~Q(status="pending") & Q(decided_at__isnull=False)),
                name="signoff_decided_when_closed",
                violation_error_message="A decided sign-off has a decision time; a pending one has none.",
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decision_note=""),
                name="signoff_decline_has_reason",
                violation_error_message="Say why it is declined; the reason is kept and shown.",
            ),
            models.UniqueConstraint(
                fields=["project", "kind"],
                condition=Q(status="pending", deleted_at__isnull=True),
                name="signoff_one_pending_per_kind",
                violation_error_message="This project already waits for the client's sign-off of this kind.",
            ),
        ]

    def __str__(self) -> str:
        subject = "approval" if self.kind == self.Kind.APPROVAL else "realised benefit"
        return f"Client sign-off of the {subject} of {self.project}"

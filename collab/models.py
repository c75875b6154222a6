"""Both sides at the table: comments on projects and monthly scores (shared or internal to one side)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from projects.access import Side
from projects.models import InnovationProject, Relationship, SyncedModel, live_external_id_unique


class Visibility(models.TextChoices):
    SHARED = "shared", "Shared with both sides"
    INTERNAL = "internal", "Internal to my side"


class Comment(SyncedModel):
    """A remark on a project or on a relationship's monthly score, seen by both sides or by one."""

    # Deleted with its relationship or its project, whichever goes first (projects.records).
    SOFT_DELETED_WITH = ("relationship", "project")

    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="comments")
    project = models.ForeignKey(
        InnovationProject, null=True, blank=True, on_delete=models.PROTECT, related_name="comments"
    )
    period = models.DateField(
        null=True, blank=True, help_text="The month of the score discussed (its first day)."
    )
    # Replies hang off a thread's first comment (one level), which they share target and side with.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The author's side of the relationship when they wrote: an internal comment stays on it.
    author_side = models.CharField(max_length=10, choices=Side.choices)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.SHARED)
    body = models.TextField(max_length=5000)
    # The people the text mentions (`@username`), each of whom may see the comment.
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    edited_at = models.DateTimeField(null=True, blank=True)

    SCOPE_PATH = "relationship"
    # Events are read by both sides of the relationship: only a shared comment has them.
    OUTBOX_CONDITION = Q(visibility=Visibility.SHARED)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["relationship", "project"], name="comment_project_idx"),
            models.Index(fields=["relationship", "period"], name="comment_period_idx"),
        ]
        constraints = [
            live_external_id_unique("comment"),
            models.CheckConstraint(
                condition=Q(project__isnull=False, period__isnull=True)
                | Q(project__isnull=True, period__isnull=False),
                name="comment_one_target",
                violation_error_message="A comment is on a project or on a month's score, not both.",
            ),
            models.CheckConstraint(
                condition=Q(period__isnull=True) | Q(period__day=1), name="comment_period_month_start"
            ),
            models.CheckConstraint(
                condition=Q(visibility__in=Visibility.values), name="comment_visibility_valid"
            ),
            models.CheckConstraint(condition=Q(author_side__in=Side.values), name="comment_side_valid"),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="comment_not_its_own_parent"),
        ]

    def __str__(self) -> str:
        # Never the text: audit entries and logs name a comment by this.
        target = f"project #{self.project_id}" if self.project_id else f"score {self.period:%Y-%m}"
        return f"Comment #{self.pk} on {target}"

    @property
    def is_internal(self) -> bool:
        return self.visibility == Visibility.INTERNAL

    def audit_hidden_fields(self) -> set[str]:
        """An internal comment's text and mentions stay out of the audit, which others may read."""
        return {"body", "mentions"} if self.is_internal else set()


class Contest(SyncedModel):
    """A figure one side questions — a baseline, a measurement, a delivery date, a realised benefit or
    a month's score — with its reason: open → answered → resolved (accepted, the figure corrected
    through the services; rejected, with a reason; or withdrawn). Never deleted by anyone: the whole
    history of a contest is kept."""

    # Its workflow's steps are transitions of `status` (events: contest.status_changed).
    TRANSITION_FIELD = "status"

    class Kind(models.TextChoices):
        BASELINE = "baseline", "Baseline"
        MEASUREMENT = "measurement", "Measurement"
        DELIVERY_DATE = "delivery_date", "Delivery date"
        REALISED_BENEFIT = "realised_benefit", "Realised benefit"
        SCORE = "score", "Month's score"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        RESOLVED = "resolved", "Resolved"

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    # The figures of a project (the rest is a month's score).
    PROJECT_FIGURES = (Kind.BASELINE, Kind.MEASUREMENT, Kind.DELIVERY_DATE, Kind.REALISED_BENEFIT)
    UNRESOLVED = (Status.OPEN, Status.ANSWERED)
    # The steps of the workflow (a resolved contest is closed).
    TRANSITIONS = {Status.OPEN: (Status.ANSWERED, Status.RESOLVED), Status.ANSWERED: (Status.RESOLVED,)}

    # A deleted relationship or project takes its contests with it (as tombstones).
    SOFT_DELETED_WITH = ("relationship", "project")

    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="contests")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    project = models.ForeignKey(
        InnovationProject, null=True, blank=True, on_delete=models.PROTECT, related_name="contests"
    )
    project_kpi = models.ForeignKey(
        "kpis.ProjectKPI", null=True, blank=True, on_delete=models.PROTECT, related_name="contests"
    )
    measurement = models.ForeignKey(
        "kpis.Measurement", null=True, blank=True, on_delete=models.PROTECT, related_name="contests"
    )
    period = models.DateField(
        null=True, blank=True, help_text="The month of the score contested (its first day)."
    )
    contested_value = models.CharField(max_length=100, help_text="The figure as it stood when contested.")
    proposed_value = models.CharField(
        max_length=100, blank=True, help_text="What the person contesting believes the figure is."
    )
    reason = models.TextField(max_length=2000)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    raised_side = models.CharField(max_length=10, choices=Side.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    answer = models.TextField(max_length=2000, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    resolution = models.TextField(max_length=2000, blank=True, help_text="Why it was rejected, or a note.")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    corrected_value = models.CharField(max_length=100, blank=True)
    # The audit entry of the figure's correction (accepted contests of a project's figure).
    correction = models.ForeignKey(
        "projects.AuditEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)

    SCOPE_PATH = "relationship"

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            live_external_id_unique("contest"),
            models.CheckConstraint(
                condition=(
                    Q(kind="baseline", project__isnull=False, project_kpi__isnull=False)
                    & Q(measurement__isnull=True, period__isnull=True)
                )
                | Q(
                    kind="measurement",
                    project__isnull=False,
                    project_kpi__isnull=False,
                    measurement__isnull=False,
                    period__isnull=True,
                )
                | (
                    Q(kind__in=["delivery_date", "realised_benefit"], project__isnull=False)
                    & Q(project_kpi__isnull=True, measurement__isnull=True, period__isnull=True)
                )
                | Q(
                    kind="score",
                    period__isnull=False,
                    project__isnull=True,
                    project_kpi__isnull=True,
                    measurement__isnull=True,
                ),
                name="contest_names_its_figure",
                violation_error_message="A contest names exactly the figure of its kind.",
            ),
            models.CheckConstraint(
                condition=Q(period__isnull=True) | Q(period__day=1), name="contest_period_month_start"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "answered", "resolved"]), name="contest_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="resolved", outcome__in=["accepted", "rejected", "withdrawn"])
                | (~Q(status="resolved") & Q(outcome="")),
                name="contest_resolved_has_outcome",
                violation_error_message="A resolved contest has an outcome, and only a resolved one.",
            ),
            models.CheckConstraint(
                condition=~Q(outcome="rejected") | ~Q(resolution=""),
                name="contest_rejection_has_reason",
                violation_error_message="Say why the contest is rejected.",
            ),
            models.CheckConstraint(
                condition=~Q(status="answered") | ~Q(answer=""),
                name="contest_answered_has_answer",
                violation_error_message="An answered contest has an answer.",
            ),
            models.CheckConstraint(condition=Q(raised_side__in=Side.values), name="contest_side_valid"),
            # One unresolved contest per figure: a second person joins the open one.
            models.UniqueConstraint(
                fields=["measurement"],
                condition=Q(kind="measurement", status__in=["open", "answered"], deleted_at__isnull=True),
                name="contest_one_open_per_measurement",
                violation_error_message="This measurement is already contested.",
            ),
            models.UniqueConstraint(
                fields=["project_kpi"],
                condition=Q(kind="baseline", status__in=["open", "answered"], deleted_at__isnull=True),
                name="contest_one_open_per_baseline",
                violation_error_message="This baseline is already contested.",
            ),
            models.UniqueConstraint(
                fields=["project", "kind"],
                condition=Q(
                    kind__in=["delivery_date", "realised_benefit"],
                    status__in=["open", "answered"],
                    deleted_at__isnull=True,
                ),
                name="contest_one_open_per_project_figure",
                violation_error_message="This figure is already contested.",
            ),
            models.UniqueConstraint(
                fields=["relationship", "period"],
                condition=Q(kind="score", status__in=["open", "answered"], deleted_at__isnull=True),
                name="contest_one_open_per_score",
                violation_error_message="This month's score is already contested.",
            ),
        ]

    def __str__(self) -> str:
        return f"Contest #{self.pk} of a {self.get_kind_display().lower()}"

    @property
    def is_unresolved(self) -> bool:
        return self.status in self.UNRESOLVED


def _answer_field(help_text: str) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(help_text=f"1 (disagree) – 5 (agree): {help_text}")


class PulseResponse(SyncedModel):
    """One person's answers to a relationship's quarterly pulse: four statements on a 1–5 scale and
    an optional comment. Read by its author alone; everyone else sees only aggregates of a side,
    and those only from enough answers (collab.pulse)."""

    SOFT_DELETED_WITH = "relationship"

    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="pulse_responses")
    quarter = models.DateField(help_text="The quarter answered (its first day).")
    respondent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=10, choices=Side.choices)
    ideas = _answer_field("The other side brings us ideas we would not have had.")
    openness = _answer_field("We can raise a problem openly and it gets solved.")
    sponsorship = _answer_field("Leadership on both sides actively sponsors innovation.")
    trust = _answer_field("I trust the other side to act in our joint interest.")
    comment = models.TextField(max_length=1000, blank=True)

    SCOPE_PATH = "relationship"
    RECORD_TYPE = "pulse_answer"
    # Nobody but its author may learn of an answer, so it never enters the event stream.
    OUTBOX_CONDITION = Q(pk__in=[])
    ANSWERS = ("ideas", "openness", "sponsorship", "trust")

    class Meta:
        ordering = ["-quarter", "relationship_id", "id"]
        constraints = [
            live_external_id_unique("pulse_response"),
            models.UniqueConstraint(
                fields=["relationship", "quarter", "respondent"],
                name="pulse_response_once_per_quarter",
                violation_error_message=(
                    "You have answered this quarter's pulse already; change your answer instead."
                ),
            ),
            models.CheckConstraint(
                condition=Q(quarter__day=1, quarter__month__in=[1, 4, 7, 10]),
                name="pulse_response_quarter_start",
            ),
            models.CheckConstraint(condition=Q(side__in=Side.values), name="pulse_response_side_valid"),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__gte": 1, f"{name}__lte": 5}),
                    name=f"pulse_response_{name}_1_to_5",
                    violation_error_message="Each answer is from 1 to 5.",
                )
                for name in ("ideas", "openness", "sponsorship", "trust")
            ),
        ]

    def __str__(self) -> str:
        # Never the answers: audit entries and logs name a pulse answer by this.
        return f"Pulse answer #{self.pk} for {self.quarter:%Y}-Q{(self.quarter.month - 1) // 3 + 1}"

    def audit_hidden_fields(self) -> set[str]:
        """Individual answers are read by their author alone, never from the audit."""
        return {*self.ANSWERS, "comment"}


class ProjectContributor(SyncedModel):
    """A person named for their part in a project — of either side, with their organisation: the
    recognition of delivered innovation, rather than a cash table."""

    SOFT_DELETED_WITH = "project"
    AUDIT_REPR_RELATED = ("project", "person")

    project = models.ForeignKey(InnovationProject, on_delete=models.PROTECT, related_name="contributors")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contributions"
    )
    # The person's side and organisation in the project's relationship when they were named.
    side = models.CharField(max_length=10, choices=Side.choices)
    organization = models.ForeignKey(
        "projects.Organization", on_delete=models.PROTECT, related_name="project_contributors"
    )
    contribution = models.CharField(max_length=200, blank=True, help_text="What they did, in a line.")

    SCOPE_PATH = "project__relationship"
    RECORD_TYPE = "contributor"

    class Meta:
        ordering = ["project_id", "side", "id"]
        constraints = [
            live_external_id_unique("project_contributor"),
            models.UniqueConstraint(
                fields=["project", "person"],
                condition=Q(deleted_at__isnull=True),
                name="project_contributor_once_per_project",
                violation_error_message="This person is already named on this project.",
            ),
            models.CheckConstraint(condition=Q(side__in=Side.values), name="project_contributor_side_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.person} on {self.project}"

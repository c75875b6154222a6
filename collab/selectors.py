"""Reads of the collaboration records, always scoped: the relationships a user sees (the one
scoping rule, projects.access) and, for internal comments, the side they sit on."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    BooleanField,
    Count,
    DateField,
    Exists,
    Expression,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import ExtractMonth, ExtractYear
from django.utils import timezone

from collab import pulse
from collab.calendar import previous_quarter, quarter_end, quarter_start
from collab.models import Comment, Contest, ProjectContributor, PulseResponse, Visibility
from kpis.scoring import add_months
from projects import access
from projects.models import AuditEntry, InnovationProject, Relationship

# --- Comments ---------------------------------------------------------------------------------


def comment_visible_to(user, comment: Comment) -> bool:
    """Whether `user` may read `comment`: they see its relationship and, when it is internal, sit
    on its author's side. `comment_list` is the same rule as a query."""
    relationship = comment.relationship
    if not access.can_see_relationship(user, relationship):
        return False
    return (
        comment.visibility == Visibility.SHARED or access.side_of(user, relationship) == comment.author_side
    )


def comment_list(*, user, include_deleted: bool = False) -> QuerySet[Comment]:
    """The comments `user` may read: shared ones of the relationships they see, and the internal
    ones of their own side. With `include_deleted`, tombstones too (of those same comments only)."""
    comments = access.scope(user, Comment.objects.all()).filter(
        Q(visibility=Visibility.SHARED)
        | (Q(visibility=Visibility.INTERNAL) & access.on_my_side(user, side_field="author_side"))
    )
    comments = comments.select_related(
        "author", "relationship__client", "relationship__provider", "project"
    ).prefetch_related("mentions")
    if include_deleted:
        return comments
    return comments.filter(deleted_at__isnull=True, relationship__deleted_at__isnull=True).exclude(
        project__deleted_at__isnull=False
    )


def comment_threads(*, user, relationship: Relationship, project=None, period=None) -> list[Comment]:
    """The discussion of a project or of a month's score as threads, oldest first: each first
    comment with its visible replies in `thread_replies`. A deleted first comment stays (shown as
    deleted) while it has replies that live."""
    target = {"project": project} if project is not None else {"project__isnull": True, "period": period}
    comments = comment_list(user=user, include_deleted=True).filter(
        relationship=relationship, relationship__deleted_at__isnull=True, **target
    )
    replies = comments.filter(parent__isnull=False, deleted_at__isnull=True).order_by("created_at", "id")
    roots = (
        comments.filter(parent__isnull=True)
        .prefetch_related(Prefetch("replies", queryset=replies, to_attr="thread_replies"))
        .order_by("created_at", "id")
    )
    return [root for root in roots if root.deleted_at is None or root.thread_replies]


def mentionable_people(*, relationship: Relationship, author_side: str, visibility: str) -> list:
    """The people of the table a new comment may mention, for the pages' hint: both sides for a
    shared comment, the author's side for an internal one (anyone else who may read the comment,
    an admin say, may be mentioned too; `comment_visible_to` decides)."""
    seated = access.seated_people(relationship)
    if visibility == Visibility.INTERNAL:
        return seated[author_side]
    return seated[access.Side.CLIENT] + seated[access.Side.PROVIDER]


# --- Contests ---------------------------------------------------------------------------------


def contest_list(*, user, include_deleted: bool = False) -> QuerySet[Contest]:
    """The contests of the relationships `user` sees (contests are never internal: both sides see
    them), with the figure each names and the people in it."""
    contests = access.scope(user, Contest.objects.all()).select_related(
        "relationship__client",
        "relationship__provider",
        "project",
        "project_kpi__kpi",
        "measurement",
        "raised_by",
        "answered_by",
        "resolved_by",
    )
    if include_deleted:
        return contests
    return contests.filter(deleted_at__isnull=True, relationship__deleted_at__isnull=True).exclude(
        project__deleted_at__isnull=False
    )


def contest_history(contest: Contest) -> list[AuditEntry]:
    """Every write of a contest, oldest first (raised, answered, escalated, resolved): with its own
    fields, the whole history of the contest."""
    return list(
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Contest), object_id=contest.pk
        )
        .select_related("actor")
        .order_by("at", "id")
    )


def corrections_of(entry_ids) -> dict[int, int]:
    """{audit entry id: contest id} for the entries that corrected a contested figure, so a history
    can say which contest a correction settled."""
    return dict(
        Contest.objects.filter(correction_id__in=list(entry_ids), deleted_at__isnull=True).values_list(
            "correction_id", "pk"
        )
    )


def unresolved_contests() -> QuerySet[Contest]:
    """Contests still open or answered (their figures carry the "contested" marker); unscoped: the
    caller narrows them to a record it has read through a scoped selector."""
    return Contest.objects.filter(status__in=Contest.UNRESOLVED, deleted_at__isnull=True)


def _month_index(expression):
    """A date's month as one whole number (year × 12 + month), so that month arithmetic is plain
    integer arithmetic on every database."""
    return ExtractYear(expression) * 12 + ExtractMonth(expression)


def feeds_score(*, relationship, period) -> Q:
    """THE rule of "the score rests on contested figures", as a condition on contests: the month's
    score itself is contested, or a figure of a project delivered in the score's window (the 12
    months ending with it, kpis.scoring.score_window) — its delivery date, realised benefit, a KPI's
    baseline, or a measurement dated up to the month's end. `relationship` and `period` are
    expressions (OuterRef) or values; use on `unresolved_contests()` annotated by `with_months()`."""
    months = settings.BPO_SCORING["WINDOW_MONTHS"]
    if isinstance(period, dt.date):
        period = Value(period, output_field=DateField())
    scored = _month_index(period)
    figure = Q(
        kind__in=Contest.PROJECT_FIGURES,
        project__stage=InnovationProject.Stage.DELIVERED,
        project__deleted_at__isnull=True,
        delivered_month__gte=scored - (months - 1),
        delivered_month__lte=scored,
    ) & (~Q(kind=Contest.Kind.MEASUREMENT) | Q(measured_month__lte=scored))
    return Q(relationship=relationship) & (Q(kind=Contest.Kind.SCORE, period=period) | figure)


def with_months(contests: QuerySet[Contest]) -> QuerySet[Contest]:
    """The month indexes `feeds_score` compares."""
    return contests.alias(
        delivered_month=_month_index(F("project__delivered_on")),
        measured_month=_month_index(F("measurement__measured_on")),
    )


def contests_feeding_score(*, relationship: Relationship, period: dt.date) -> list[Contest]:
    """The unresolved contests a month's score rests on (`feeds_score`), oldest first."""
    contests = with_months(unresolved_contests()).filter(
        feeds_score(relationship=relationship.pk, period=period)
    )
    return list(
        contests.select_related("project", "project_kpi__kpi", "measurement").order_by("created_at", "id")
    )


class UnresolvedContestOn(Expression):
    """Whether an unresolved contest (`unresolved_contests`) of `kind` is raised on the row's record:
    `Exists(unresolved_contests().filter(kind=kind, **{record: OuterRef(outer)}))` as SQL written
    once, from the model's own table and columns.

    Every read of projects, project KPIs and measurements carries these flags; building and
    compiling two `Exists` querysets for them was 0.65–0.8 ms of a 7–10 ms API project read
    (measured in process), which this expression spends on formatting one string.
    tests/collab/test_contests.py holds it to the `Exists` it stands for, in every state.
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, kind: str, *, record: str, outer: str = "pk"):
        super().__init__()
        self.kind, self.record = kind, record
        self.outer = F(outer)

    def get_source_expressions(self):
        return [self.outer]

    def set_source_expressions(self, exprs):
        (self.outer,) = exprs

    def as_sql(self, compiler, connection):
        outer_sql, outer_params = compiler.compile(self.outer)
        quote, meta = connection.ops.quote_name, Contest._meta
        column = {
            name: f"open_contest.{quote(meta.get_field(name).column)}"
            for name in (self.record, "kind", "status", "deleted_at")
        }
        statuses = [str(status) for status in Contest.UNRESOLVED]
        sql = (
            f"EXISTS (SELECT 1 FROM {quote(meta.db_table)} open_contest "
            f"WHERE {column[self.record]} = {outer_sql} AND {column['kind']} = %s "
            f"AND {column['status']} IN ({', '.join(['%s'] * len(statuses))}) "
            f"AND {column['deleted_at']} IS NULL)"
        )
        return sql, (*outer_params, str(self.kind), *statuses)


def with_contest_flags(queryset: QuerySet) -> QuerySet:
    """Annotate each row with whether its figures are contested now (the "contested" marker):
    a measurement `contested`; a project KPI `baseline_contested`; a project `delivery_date_contested`
    and `realised_benefit_contested`; a monthly score `contested` (the month itself) and
    `rests_on_contested` (`feeds_score`)."""
    from kpis.models import Measurement, ProjectKPI, RelationshipScore

    kind = Contest.Kind
    model = queryset.model
    if model is Measurement:
        return queryset.annotate(contested=UnresolvedContestOn(kind.MEASUREMENT, record="measurement"))
    if model is ProjectKPI:
        return queryset.annotate(baseline_contested=UnresolvedContestOn(kind.BASELINE, record="project_kpi"))
    if model is InnovationProject:
        return queryset.annotate(
            delivery_date_contested=UnresolvedContestOn(kind.DELIVERY_DATE, record="project"),
            realised_benefit_contested=UnresolvedContestOn(kind.REALISED_BENEFIT, record="project"),
        )
    if model is RelationshipScore:
        open_ = unresolved_contests()
        return queryset.annotate(
            contested=Exists(
                open_.filter(
                    kind=kind.SCORE, relationship=OuterRef("relationship_id"), period=OuterRef("period")
                )
            ),
            rests_on_contested=Exists(
                with_months(open_).filter(
                    feeds_score(relationship=OuterRef("relationship_id"), period=OuterRef("period"))
                )
            ),
        )
    raise TypeError(f"{model.__name__} carries no contested figures.")


def current_score_rests_on_contested(relationships: QuerySet[Relationship], *, month: dt.date) -> QuerySet:
    """Annotate relationships with whether their current score (kpis.selectors.scores_up_to) rests on
    contested figures, as `current_score_contested`."""
    from kpis.selectors import current_score_value

    return relationships.annotate(current_score_period=current_score_value("period", month=month)).annotate(
        current_score_contested=Exists(
            with_months(unresolved_contests()).filter(
                feeds_score(relationship=OuterRef("pk"), period=OuterRef("current_score_period"))
            )
        )
    )


def contested_current_scores(relationship_ids, *, month: dt.date) -> set[int]:
    """Which of these relationships' current scores rest on contested figures (one query), for the
    lists that show many scores at once."""
    relationships = Relationship.objects.filter(pk__in=list(relationship_ids))
    return set(
        current_score_rests_on_contested(relationships, month=month)
        .filter(current_score_contested=True)
        .values_list("pk", flat=True)
    )


@dataclass
class ContestMarkers:
    """The unresolved contests of one page's figures, to mark each figure that is contested."""

    contests: list[Contest]

    def _find(self, kind: str, **match) -> Contest | None:
        for contest in self.contests:
            if contest.kind == kind and all(getattr(contest, f"{k}_id") == v for k, v in match.items()):
                return contest
        return None

    def measurement(self, measurement_id: int) -> Contest | None:
        return self._find(Contest.Kind.MEASUREMENT, measurement=measurement_id)

    def baseline(self, project_kpi_id: int) -> Contest | None:
        return self._find(Contest.Kind.BASELINE, project_kpi=project_kpi_id)

    def delivery_date(self, project_id: int) -> Contest | None:
        return self._find(Contest.Kind.DELIVERY_DATE, project=project_id)

    def realised_benefit(self, project_id: int) -> Contest | None:
        return self._find(Contest.Kind.REALISED_BENEFIT, project=project_id)


def project_contest_markers(*, project: InnovationProject) -> ContestMarkers:
    """The unresolved contests of a project's figures (one query), for its page."""
    return ContestMarkers(list(unresolved_contests().filter(project=project).order_by("created_at", "id")))


def open_in_quarter(contests: QuerySet[Contest], *, relationship: Relationship, quarter: dt.date):
    """The contests of a relationship that were open at any time in a quarter: raised before its end,
    resolved after its start or not yet."""
    start = quarter_start(quarter)
    after_end = quarter_end(quarter) + dt.timedelta(days=1)
    contests = contests.filter(
        relationship=relationship, created_at__date__lt=after_end, deleted_at__isnull=True
    )
    return contests.filter(Q(resolved_at__isnull=True) | Q(resolved_at__date__gte=start))


def contests_of_quarter(*, user, relationship: Relationship, quarter: dt.date) -> list[Contest]:
    """The contests `user` sees of a relationship that were open at any time in a quarter, oldest
    first (contests are never internal to a side, so a pack generated by a job, which reads every
    relationship, lists the same ones with `contest_list` unscoped)."""
    contests = open_in_quarter(contest_list(user=user), relationship=relationship, quarter=quarter)
    return list(contests.order_by("created_at", "id"))


def pack_contests(*, relationship: Relationship, quarter: dt.date) -> list[Contest]:
    """The QBR pack's contested figures: every contest of the relationship open during the quarter.
    Unscoped: the pack's caller has read the relationship through a scoped selector (or is the
    quarterly job, which reads every one); contests are seen by both sides alike."""
    contests = Contest.objects.select_related("project", "project_kpi__kpi", "measurement__project_kpi__kpi")
    return list(
        open_in_quarter(contests, relationship=relationship, quarter=quarter).order_by("created_at", "id")
    )


def relationship_executives(relationship: Relationship) -> list:
    """Whom a contest left unresolved goes to: the executives of the relationship's two organisations,
    or, where neither has one, the portfolio's executives (of no organisation)."""
    seated = access.seated_people(relationship)
    executives = [
        person
        for side in seated.values()
        for person in side
        if access.role_of(person) == access.Role.EXECUTIVE
    ]
    if executives:
        return executives
    portfolio_wide = list(
        get_user_model()
        .objects.filter(groups__name=access.Role.EXECUTIVE.value, is_active=True)
        .exclude(profile__organization__isnull=False)
        .distinct()
    )
    return [person for person in portfolio_wide if access.sees_everything(person)]


# --- The relationship pulse -------------------------------------------------------------------


def my_pulse_responses(*, user, include_deleted: bool = False) -> QuerySet[PulseResponse]:
    """The pulse answers `user` gave: nobody reads another person's answers, an admin included."""
    if getattr(user, "pk", None) is None:
        return PulseResponse.objects.none()
    responses = PulseResponse.objects.filter(respondent_id=user.pk).select_related("relationship")
    if include_deleted:
        return responses
    return responses.filter(deleted_at__isnull=True, relationship__deleted_at__isnull=True)


def my_pulse_answer(*, user, relationship: Relationship, quarter: dt.date) -> PulseResponse | None:
    return (
        my_pulse_responses(user=user)
        .filter(relationship=relationship, quarter=quarter_start(quarter))
        .first()
    )


def quarter_closed(quarter: dt.date, *, today: dt.date | None = None) -> bool:
    return quarter_end(quarter) < (today or timezone.localdate())


@dataclass(frozen=True)
class PulseResults:
    """A relationship's pulse for one quarter, as everyone may read it: aggregates of each side from
    enough answers, published once the quarter has closed (while it runs, each new answer would move
    the means and tell an onlooker what the latest person answered)."""

    relationship_id: int
    quarter: dt.date
    published: bool
    closes_on: dt.date
    client: pulse.SideResult
    provider: pulse.SideResult
    overall: pulse.Overall
    problems_raised: bool

    @property
    def sides(self) -> tuple[pulse.SideResult, pulse.SideResult]:
        return (self.client, self.provider)


def _withheld(side: str) -> pulse.SideResult:
    return pulse.side_result(None, side=side, problems_raised=False)


def pulse_results_of(
    *, relationship_ids: list[int], quarter: dt.date, today: dt.date | None = None
) -> dict[int, PulseResults]:
    """The pulse results of many relationships for a quarter, in a fixed number of queries. The
    caller has scoped `relationship_ids` (visible relationships)."""
    quarter = quarter_start(quarter)
    published = quarter_closed(quarter, today=today)
    closes_on = quarter_end(quarter)
    results: dict[int, PulseResults] = {}
    totals: dict[int, dict] = {}
    problems: set[int] = set()
    if published and relationship_ids:
        responses = PulseResponse.objects.filter(
            relationship_id__in=relationship_ids, quarter=quarter, deleted_at__isnull=True
        )
        aggregates = {}
        for name, _ in pulse.QUESTIONS:
            aggregates[f"{name}_sum"] = Sum(name)
            aggregates[f"{name}_min"] = Min(name)
        rows = list(
            responses.values("relationship_id", "side")
            .annotate(responses=Count("pk"), **aggregates)
            .order_by("relationship_id", "side")
        )
        # Free texts only of the sides with enough answers to show them.
        enough = pulse.options()["PULSE_MIN_RESPONSES_FOR_COMMENTS"]
        texts: dict[tuple[int, str], list[str]] = {}
        commented = Q(pk__in=[])
        for row in rows:
            if row["responses"] >= enough:
                commented |= Q(relationship_id=row["relationship_id"], side=row["side"])
        if any(row["responses"] >= enough for row in rows):
            for relationship_id, side, text in (
                responses.filter(commented)
                .exclude(comment="")
                .values_list("relationship_id", "side", "comment")
            ):
                texts.setdefault((relationship_id, side), []).append(text)
        for row in rows:
            totals.setdefault(row["relationship_id"], []).append(row)
        # Problems raised: a figure contested in the relationship in the window before the quarter's end.
        months = pulse.options()["TRUST_PROBLEMS_MONTHS"]
        since = add_months(quarter_start(closes_on), -(months - 3))
        problems = set(
            Contest.objects.filter(
                relationship_id__in=relationship_ids,
                created_at__date__gte=since,
                created_at__date__lte=closes_on,
            ).values_list("relationship_id", flat=True)
        )
    for relationship_id in relationship_ids:
        rows = totals.get(relationship_id, [])
        side_totals = pulse.totals_of(
            rows,
            {side: texts.get((relationship_id, side), []) for side in access.Side.values} if rows else None,
        )
        raised = relationship_id in problems
        client = pulse.side_result(
            side_totals.get(access.Side.CLIENT), side=access.Side.CLIENT, problems_raised=raised
        )
        provider = pulse.side_result(
            side_totals.get(access.Side.PROVIDER), side=access.Side.PROVIDER, problems_raised=raised
        )
        if not published:
            client, provider = _withheld(access.Side.CLIENT), _withheld(access.Side.PROVIDER)
        results[relationship_id] = PulseResults(
            relationship_id=relationship_id,
            quarter=quarter,
            published=published,
            closes_on=closes_on,
            client=client,
            provider=provider,
            overall=pulse.overall(client, provider, problems_raised=raised),
            problems_raised=raised,
        )
    return results


def pulse_results(
    *, relationship: Relationship, quarter: dt.date, today: dt.date | None = None
) -> PulseResults:
    """One relationship's pulse results for a quarter (the dashboard, the API, the QBR pack). The
    caller has read `relationship` through a scoped selector."""
    return pulse_results_of(relationship_ids=[relationship.pk], quarter=quarter, today=today)[relationship.pk]


def latest_pulse_quarter(today: dt.date | None = None) -> dt.date:
    """The latest quarter whose results are published: the one before the current quarter."""
    return previous_quarter(today or timezone.localdate())


def pulse_answers_so_far(*, relationship: Relationship, quarter: dt.date) -> int:
    """How many answered a running quarter's pulse (both sides together): nothing more of it shows."""
    return PulseResponse.objects.filter(
        relationship=relationship, quarter=quarter_start(quarter), deleted_at__isnull=True
    ).count()


# --- Recognition ------------------------------------------------------------------------------


def contributor_list(*, user, include_deleted: bool = False) -> QuerySet[ProjectContributor]:
    """The people named on the projects `user` sees, with their organisation."""
    contributors = access.scope(user, ProjectContributor.objects.all()).select_related(
        "person", "organization", "project__relationship"
    )
    if include_deleted:
        return contributors
    return contributors.filter(
        deleted_at__isnull=True,
        project__deleted_at__isnull=True,
        project__relationship__deleted_at__isnull=True,
    )


def recognition_since(today: dt.date | None = None) -> dt.date:
    """The first day that counts: deliveries of the last RECOGNITION_MONTHS months."""
    today = today or timezone.localdate()
    return add_months(today.replace(day=1), -settings.BPO_COLLAB["RECOGNITION_MONTHS"] + 1)


@dataclass
class Recognition:
    """One person's part in the innovations delivered in the recognition window."""

    person: object
    organization_name: str
    side: str
    projects: int = 0
    levels: dict = field(default_factory=dict)  # level → delivered projects of that level
    realised: dict = field(default_factory=dict)  # currency → realised annual benefit of those projects

    @property
    def level_list(self) -> list[tuple[str, int]]:
        return [
            (label, self.levels[value])
            for value, label in InnovationProject.Level.choices
            if self.levels.get(value)
        ]


def recognition(
    *,
    user,
    relationship_ids: list[int] | QuerySet | None = None,  # ids, or a subquery of relationship pks
    person=None,
    today: dt.date | None = None,
    limit: int | None = None,
) -> list[Recognition]:
    """Who contributed to innovations delivered in the last 12 months (in the relationships `user`
    sees, or those given): per person, the projects, their levels and the realised annual benefit of
    those projects (each project's whole benefit, in its relationship's currency; not divided among
    its contributors). Most projects first. Two queries whatever the number of people."""
    contributions = contributor_list(user=user).filter(
        project__stage=InnovationProject.Stage.DELIVERED, project__delivered_on__gte=recognition_since(today)
    )
    if relationship_ids is not None:
        contributions = contributions.filter(project__relationship_id__in=relationship_ids)
    if person is not None:
        contributions = contributions.filter(person=person)
    rows = (
        contributions.values(
            "person_id", "side", "organization__name", "project__level", "project__relationship__currency"
        )
        .annotate(
            projects=Count("project_id", distinct=True), realised=Sum("project__realised_annual_benefit")
        )
        .order_by()
    )
    people: dict[int, Recognition] = {}
    for row in rows:
        entry = people.setdefault(
            row["person_id"],
            Recognition(person=None, organization_name=row["organization__name"], side=row["side"]),
        )
        entry.projects += row["projects"]
        entry.levels[row["project__level"]] = entry.levels.get(row["project__level"], 0) + row["projects"]
        if row["realised"] is not None:
            currency = row["project__relationship__currency"]
            entry.realised[currency] = entry.realised.get(currency, Decimal(0)) + row["realised"]
    users = get_user_model().objects.in_bulk(list(people))
    for person_id, entry in people.items():
        entry.person = users[person_id]
    ranked = sorted(
        people.values(),
        key=lambda entry: (
            -entry.projects,
            -sum(entry.realised.values(), Decimal(0)),
            entry.person.get_username(),
        ),
    )
    return ranked[:limit] if limit is not None else ranked


def person_contributions(*, user, person) -> list[ProjectContributor]:
    """A person's contributions that `user` may see (their own page shows all of theirs), newest
    delivery first, projects not yet delivered after them."""
    return list(
        contributor_list(user=user)
        .filter(person=person)
        .select_related("project__relationship__client", "project__relationship__provider")
        .order_by(F("project__delivered_on").desc(nulls_last=True), "-project_id")
    )

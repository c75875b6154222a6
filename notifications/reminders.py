"""The daily reminder sweep: five rules, each a set-based query for its current causes.

Each cause becomes one open reminder per responsible person, keyed by the cause
(`measurement_due:project:12`); a unique constraint on (recipient, key) among open reminders means
two sweeps — at once, on two workers — write each reminder once. A reminder whose cause is no
longer found is resolved (closed) by the next sweep, or sooner when an event touches its
relationship (notifications.consumer). Thresholds live in settings.REMINDERS.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, Subquery
from django.utils import timezone

from kpis.models import Measurement, RelationshipScore, Tier
from notifications.kinds import Kind
from notifications.models import Notification
from notifications.services import preferences_of
from projects.access import Role
from projects.models import AuditEntry, InnovationProject, LeadershipPair, Relationship

TIER_RANK = {Tier.AT_RISK: 0, Tier.STEADY: 1, Tier.HIGH_PERFORMING: 2}


@dataclass(frozen=True)
class Cause:
    kind: str
    key: str
    title: str
    body: str
    url: str
    relationship_id: int
    recipient_ids: frozenset[int]


def options() -> dict:
    return settings.REMINDERS


def _managers(relationship_ids: Iterable[int]) -> dict[int, set[int]]:
    through = Relationship.account_managers.through
    managers: dict[int, set[int]] = defaultdict(set)
    for relationship_id, user_id in through.objects.filter(
        relationship_id__in=list(relationship_ids)
    ).values_list("relationship_id", "user_id"):
        managers[relationship_id].add(user_id)
    return managers


def _live_projects(relationship_ids):
    projects = InnovationProject.objects.filter(
        deleted_at__isnull=True, relationship__deleted_at__isnull=True
    )
    return projects if relationship_ids is None else projects.filter(relationship_id__in=relationship_ids)


def measurement_due(today: dt.date, relationship_ids=None) -> list[Cause]:
    """Delivered over N days ago and no measurement dated after the delivery."""
    cutoff = today - dt.timedelta(days=options()["MEASUREMENT_DUE_DAYS"])
    measured_after = Measurement.objects.filter(
        deleted_at__isnull=True,
        project_kpi__deleted_at__isnull=True,
        project_kpi__project=OuterRef("pk"),
        measured_on__gt=OuterRef("delivered_on"),
    )
    rows = list(
        _live_projects(relationship_ids)
        .filter(stage=InnovationProject.Stage.DELIVERED, delivered_on__lte=cutoff)
        .exclude(Exists(measured_after))
        .values_list("pk", "title", "relationship_id", "owner_id", "delivered_on")
    )
    managers = _managers({row[2] for row in rows})
    return [
        Cause(
            kind=Kind.MEASUREMENT_DUE,
            key=f"measurement_due:project:{pk}",
            title=f"Measure the KPIs of “{title}”",
            body=f"Delivered on {delivered_on:%-d %b %Y} and nothing measured since: "
            "record its after values.",
            url=f"/projects/{pk}/",
            relationship_id=relationship_id,
            recipient_ids=frozenset(managers[relationship_id] | ({owner_id} if owner_id else set())),
        )
        for pk, title, relationship_id, owner_id, delivered_on in rows
    ]


def stuck_in_stage(today: dt.date, relationship_ids=None) -> list[Cause]:
    """In one open stage for more than N days (since it was created in it or moved to it)."""
    limit = today - dt.timedelta(days=options()["STUCK_IN_STAGE_DAYS"])
    entered = (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(InnovationProject),
            object_id=OuterRef("pk"),
            action__in=[AuditEntry.Action.CREATE, AuditEntry.Action.TRANSITION],
        )
        .order_by()
        .values("object_id")
        .annotate(last=Max("at"))
        .values("last")
    )
    rows = list(
        _live_projects(relationship_ids)
        .filter(stage__in=InnovationProject.OPEN_STAGES)
        .annotate(entered=Subquery(entered))
        .filter(Q(entered__date__lt=limit) | Q(entered__isnull=True, created_at__date__lt=limit))
        .values_list("pk", "title", "stage", "relationship_id", "owner_id", "entered", "created_at")
    )
    managers = _managers({row[3] for row in rows})
    causes = []
    for pk, title, stage, relationship_id, owner_id, entered, created_at in rows:
        since = timezone.localtime(entered or created_at).date()
        label = InnovationProject.Stage(stage).label
        causes.append(
            Cause(
                kind=Kind.STUCK_IN_STAGE,
                key=f"stuck_in_stage:project:{pk}:{stage}",
                title=f"“{title}” has been {label} for {(today - since).days} days",
                body=f"{label} since {since:%-d %b %Y}: move it on, or cancel it.",
                url=f"/projects/{pk}/",
                relationship_id=relationship_id,
                recipient_ids=frozenset(managers[relationship_id] | ({owner_id} if owner_id else set())),
            )
        )
    return causes


def tier_dropped(today: dt.date, relationship_ids=None) -> list[Cause]:
    """This month's score sits a tier (or more) below last month's."""
    this_month = today.replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    previous = RelationshipScore.objects.filter(relationship=OuterRef("relationship"), period=last_month)
    scores = RelationshipScore.objects.filter(
        period=this_month, is_new=False, relationship__deleted_at__isnull=True
    ).annotate(
        previous_tier=Subquery(previous.values("tier")[:1]),
        previous_new=Subquery(previous.values("is_new")[:1]),
    )
    if relationship_ids is not None:
        scores = scores.filter(relationship_id__in=relationship_ids)
    rows = [
        row
        for row in scores.values_list(
            "relationship_id", "relationship__name", "tier", "previous_tier", "previous_new"
        )
        if row[3] is not None and not row[4] and TIER_RANK[row[2]] < TIER_RANK[row[3]]
    ]
    if not rows:
        return []
    managers = _managers({row[0] for row in rows})
    executives = set(
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.EXECUTIVE.value)
        .values_list("pk", flat=True)
    )
    return [
        Cause(
            kind=Kind.TIER_DROPPED,
            key=f"tier_dropped:relationship:{relationship_id}:{this_month:%Y-%m}",
            title=f"{name} fell from {Tier(previous).label} to {Tier(tier).label}",
            body=f"Its score for {this_month:%B %Y} is a tier below {last_month:%B}'s: "
            "see why on its dashboard.",
            url=f"/relationships/{relationship_id}/dashboard/",
            relationship_id=relationship_id,
            recipient_ids=frozenset(managers[relationship_id] | executives),
        )
        for relationship_id, name, tier, previous, _new in rows
    ]


def _quarter(today: dt.date) -> tuple[dt.date, dt.date]:
    first_month = 3 * ((today.month - 1) // 3) + 1
    start = today.replace(month=first_month, day=1)
    end_month = first_month + 2
    end = (start.replace(month=end_month, day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(
        days=1
    )
    return start, end


def continuity_at_risk(today: dt.date, relationship_ids=None) -> list[Cause]:
    """No project delivered yet this quarter, with N days or fewer of it left."""
    start, end = _quarter(today)
    if (end - today).days > options()["CONTINUITY_WARN_DAYS_BEFORE_QUARTER_END"]:
        return []
    delivered = InnovationProject.objects.filter(
        relationship=OuterRef("pk"), deleted_at__isnull=True, delivered_on__range=(start, end)
    )
    relationships = Relationship.objects.filter(
        deleted_at__isnull=True, status__in=[Relationship.Status.ACTIVE, Relationship.Status.RENEWING]
    ).exclude(Exists(delivered))
    if relationship_ids is not None:
        relationships = relationships.filter(pk__in=relationship_ids)
    rows = list(relationships.values_list("pk", "name"))
    managers = _managers({row[0] for row in rows})
    quarter = f"{start.year}Q{(start.month - 1) // 3 + 1}"
    return [
        Cause(
            kind=Kind.CONTINUITY_AT_RISK,
            key=f"continuity_at_risk:relationship:{pk}:{quarter}",
            title=f"{name}: nothing delivered this quarter",
            body=f"{(end - today).days} days left in {quarter}. A steady stream of deliveries is "
            "a fifth of the score (continuity).",
            url=f"/relationships/{pk}/",
            relationship_id=pk,
            recipient_ids=frozenset(managers[pk]),
        )
        for pk, name in rows
    ]


def leadership_term_ending(today: dt.date, relationship_ids=None) -> list[Cause]:
    """A leadership pair whose term ends within N days, with no pair after it recorded yet."""
    horizon = today + dt.timedelta(days=options()["LEADERSHIP_TERM_DAYS"])
    successor = LeadershipPair.objects.filter(
        relationship=OuterRef("relationship"), started_on__gt=OuterRef("started_on")
    )
    pairs = LeadershipPair.objects.filter(
        ended_on__isnull=False,
        ended_on__gte=today,
        ended_on__lte=horizon,
        relationship__deleted_at__isnull=True,
    ).exclude(Exists(successor))
    if relationship_ids is not None:
        pairs = pairs.filter(relationship_id__in=relationship_ids)
    rows = list(
        pairs.values_list(
            "pk", "relationship_id", "relationship__name", "client_leader", "provider_leader", "ended_on"
        )
    )
    managers = _managers({row[1] for row in rows})
    return [
        Cause(
            kind=Kind.LEADERSHIP_TERM_ENDING,
            key=f"leadership_term_ending:pair:{pk}",
            title=f"{name}: the leadership pair's term ends on {ended_on:%-d %b %Y}",
            body=f"{client_leader} and {provider_leader} hand over soon: record the next pair.",
            url=f"/relationships/{relationship_id}/",
            relationship_id=relationship_id,
            recipient_ids=frozenset(managers[relationship_id]),
        )
        for pk, relationship_id, name, client_leader, provider_leader, ended_on in rows
    ]


RULES = {
    Kind.MEASUREMENT_DUE: measurement_due,
    Kind.STUCK_IN_STAGE: stuck_in_stage,
    Kind.TIER_DROPPED: tier_dropped,
    Kind.CONTINUITY_AT_RISK: continuity_at_risk,
    Kind.LEADERSHIP_TERM_ENDING: leadership_term_ending,
}


@transaction.atomic
def sweep(
    *, today: dt.date | None = None, relationship_ids: Iterable[int] | None = None, resolve_only: bool = False
) -> dict[str, int]:
    """Open a reminder for every current cause (once per person) and resolve the rest.

    `relationship_ids` limits both to those relationships; `resolve_only` only closes reminders
    whose cause is gone (the event consumer's quick check: new reminders wait for the daily sweep,
    so a burst of edits does not notify anyone halfway). Returns how many were opened and resolved.
    """
    today = today or timezone.localdate()
    ids = None if relationship_ids is None else sorted(set(relationship_ids))
    causes = [cause for rule in RULES.values() for cause in rule(today, ids)]
    users = {
        u.pk: u
        for u in get_user_model().objects.filter(
            pk__in={r for c in causes for r in c.recipient_ids}, is_active=True
        )
    }
    preferences = preferences_of(users.values())
    rows = []
    for cause in [] if resolve_only else causes:
        for user_id in sorted(cause.recipient_ids & set(users)):
            preference = preferences[user_id]
            in_app, email = preference.wants_in_app(cause.kind), preference.wants_email(cause.kind)
            if not (in_app or email):
                continue
            rows.append(
                Notification(
                    recipient_id=user_id,
                    kind=cause.kind,
                    title=cause.title[:200],
                    body=cause.body[:500],
                    url=cause.url,
                    relationship_id=cause.relationship_id,
                    reminder_key=cause.key,
                    in_app=in_app,
                    email_pending=email,
                )
            )
    open_before = Notification.objects.filter(reminder_key__isnull=False, resolved_at__isnull=True).count()
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    opened = (
        Notification.objects.filter(reminder_key__isnull=False, resolved_at__isnull=True).count()
        - open_before
    )
    still = {cause.key for cause in causes}
    stale = Notification.objects.filter(
        kind__in=list(RULES), reminder_key__isnull=False, resolved_at__isnull=True
    )
    if ids is not None:
        stale = stale.filter(relationship_id__in=ids)
    resolved = stale.exclude(reminder_key__in=still).update(resolved_at=timezone.now(), email_pending=False)
    return {"opened": opened, "resolved": resolved}

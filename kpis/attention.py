"""What needs an account manager's attention ("My work"): their projects stuck in a stage,
delivered without measurements or still without a realised benefit after the grace period, and
client sign-offs waiting on either side. Each list is one query, whatever the portfolio's size."""

import datetime as dt
from functools import reduce
from operator import or_

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from kpis import scoring
from kpis.models import Measurement
from kpis.selectors import scored_month
from projects import selectors as project_selectors
from projects import signoffs
from projects.models import InnovationProject, Relationship, SignOff

Stage = InnovationProject.Stage

# How long a declined request stays on the provider's list (it asks for a next step).
DECLINED_SHOWN_DAYS = 30


def stuck_after_days() -> dict[str, int]:
    """Days in an open stage after which a project counts as stuck (settings.BPO_WORKFLOW)."""
    return {stage: int(days) for stage, days in settings.BPO_WORKFLOW["STUCK_AFTER_DAYS"].items()}


def my_projects(*, user) -> QuerySet[InnovationProject]:
    """The projects a person looks after: those they own and those of the relationships they
    manage (within what they may see)."""
    managed = Relationship.objects.filter(account_managers=user).values("pk")
    return project_selectors.project_list(user=user).filter(Q(owner=user) | Q(relationship__in=managed))


def stuck_projects(*, user, today: dt.date | None = None) -> QuerySet[InnovationProject]:
    """Open projects in their stage for longer than its limit, longest first (`in_stage_since`)."""
    today = today or timezone.localdate()
    limits = stuck_after_days()
    too_long = [
        Q(stage=stage, in_stage_since__lte=today - dt.timedelta(days=limits[stage]))
        for stage in InnovationProject.OPEN_STAGES
        if stage in limits
    ]
    return (
        my_projects(user=user)
        .filter(stage__in=InnovationProject.OPEN_STAGES)
        .annotate(in_stage_since=project_selectors.stage_entered_on())
        .filter(reduce(or_, too_long))
        .order_by("in_stage_since", "id")
    )


def delivered_without_measurements(*, user) -> QuerySet[InnovationProject]:
    """Delivered projects with no live measurement of any live KPI: their impact cannot be shown."""
    measured = Measurement.objects.filter(
        deleted_at__isnull=True,
        project_kpi__deleted_at__isnull=True,
        project_kpi__project=OuterRef("pk"),
    )
    return (
        my_projects(user=user)
        .filter(stage=Stage.DELIVERED)
        .filter(~Exists(measured))
        .order_by("delivered_on", "id")
    )


def realised_benefit_missing(*, user, today: dt.date | None = None) -> QuerySet[InnovationProject]:
    """Delivered projects expecting a benefit, past the realisation grace period, with no realised
    benefit recorded (the score now counts it as 0) and none waiting for the client's confirmation."""
    grace_ends = scoring.realisation_grace_ends(scored_month(today))
    waiting = SignOff.objects.filter(
        project=OuterRef("pk"),
        kind=SignOff.Kind.BENEFIT,
        status=SignOff.Status.PENDING,
        deleted_at__isnull=True,
    )
    return (
        my_projects(user=user)
        .filter(
            stage=Stage.DELIVERED,
            realised_annual_benefit__isnull=True,
            expected_annual_benefit__gt=0,
            delivered_on__lte=grace_ends,
        )
        .filter(~Exists(waiting))
        .order_by("delivered_on", "id")
    )


def signoffs_waiting_for_client(*, user) -> QuerySet[SignOff]:
    """The person's requests the client has not decided yet, oldest first."""
    return signoffs.awaiting_client(user=user).filter(project__in=my_projects(user=user).values("pk"))


def signoffs_declined_recently(*, user, now: dt.datetime | None = None) -> QuerySet[SignOff]:
    """Requests the client declined in the last DECLINED_SHOWN_DAYS days, newest first."""
    since = (now or timezone.now()) - dt.timedelta(days=DECLINED_SHOWN_DAYS)
    return (
        signoffs.signoff_list(user=user)
        .filter(status=SignOff.Status.DECLINED, decided_at__gte=since)
        .filter(project__in=my_projects(user=user).values("pk"))
        .order_by("-decided_at", "-id")
    )

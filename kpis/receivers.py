"""How the kpis app follows changes announced by the projects layer."""

from django.conf import settings
from django.dispatch import receiver
from django.utils import timezone

from kpis import scoring
from kpis.scoring import periods_counting
from kpis.tasks import request_score_recompute, request_score_recomputes
from projects.models import AuditEntry
from projects.signals import project_changed, projects_written, relationship_changed

_VERBS = {
    AuditEntry.Action.CREATE: "added",
    AuditEntry.Action.UPDATE: "changed",
    AuditEntry.Action.DELETE: "deleted",
}


@receiver(project_changed, dispatch_uid="kpis.project_changed")
def on_project_changed(
    sender, *, relationship_id, project=None, action=None, delivered_on_before=None, **kwargs
):
    # Any change of a project (its stage, dates, benefits, deletion with its KPIs) can move the
    # relationship's score in every month that counts it, before and after a corrected delivery
    # date; the recompute runs once, after the transaction commits.
    if project is None:  # the whole relationship was deleted: nothing of it is scored any more
        request_score_recompute(relationship_id, reason="relationship deleted")
        return
    today = timezone.localdate()
    periods = {
        *periods_counting(project.delivered_on, through=today),
        *periods_counting(delivered_on_before, through=today),
    }
    if action == AuditEntry.Action.TRANSITION:
        reason = f"project {project.pk} moved to {project.get_stage_display().lower()}"
    else:
        reason = f"project {project.pk} {_VERBS.get(action, 'changed')}"
    request_score_recompute(relationship_id, periods=periods, reason=reason)


@receiver(projects_written, dispatch_uid="kpis.projects_written")
def on_projects_written(sender, *, changes, reason, **kwargs):
    # on_project_changed for a whole batch: the months of every project's delivered dates (before
    # and after), marked stale with one statement per table whatever the batch's size.
    today = timezone.localdate()
    periods: dict[int, set] = {}
    for relationship_id, delivered_on, delivered_on_before in changes:
        months = periods.setdefault(relationship_id, set())
        months.update(periods_counting(delivered_on, through=today))
        months.update(periods_counting(delivered_on_before, through=today))
    request_score_recomputes(periods, reason=reason)


@receiver(relationship_changed, dispatch_uid="kpis.relationship_changed")
def on_relationship_changed(sender, *, relationship, contract_start_before=None, **kwargs):
    # A moved contract start changes which months are "new — not scored yet": those from the
    # earlier of the two starts to NEW_RELATIONSHIP_MONTHS after the later one (at most a year
    # and a quarter, up to the current month).
    if contract_start_before is None or relationship.contract_start is None:
        return
    first, last = sorted((contract_start_before, relationship.contract_start))
    through = min(
        scoring.add_months(last, settings.BPO_SCORING["NEW_RELATIONSHIP_MONTHS"]),
        scoring.month_start(timezone.localdate()),
    )
    periods, period = [], max(scoring.month_start(first), scoring.add_months(through, -15))
    while period <= through:
        periods.append(period)
        period = scoring.add_months(period, 1)
    request_score_recompute(
        relationship.pk, periods=periods, reason=f"relationship {relationship.pk} contract start changed"
    )

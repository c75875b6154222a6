"""How the kpis app follows changes announced by the projects layer."""

from django.dispatch import receiver

from kpis.models import ProjectKPI
from kpis.tasks import request_score_recompute
from projects.models import AuditEntry
from projects.signals import project_changed


@receiver(project_changed, dispatch_uid="kpis.project_changed")
def on_project_changed(sender, *, project, action, actor, relationship_id, **kwargs):
    if action == AuditEntry.Action.DELETE:
        # A deleted project takes its tracked KPIs and their measurements with it, so sync
        # clients receive tombstones for every row that disappeared.
        from kpis.services import project_kpi_delete

        for project_kpi in ProjectKPI.objects.filter(project=project, deleted_at__isnull=True):
            project_kpi_delete(actor=actor, project_kpi=project_kpi)
    request_score_recompute(relationship_id)

"""How the kpis app follows changes announced by the projects layer."""

from django.dispatch import receiver

from kpis.tasks import request_score_recompute
from projects.signals import project_changed


@receiver(project_changed, dispatch_uid="kpis.project_changed")
def on_project_changed(sender, *, relationship_id, **kwargs):
    # Any change of a project (its stage, dates, benefits, deletion with its KPIs) can move the
    # relationship's score; the recompute runs once, after the transaction commits.
    request_score_recompute(relationship_id)

"""Records in webhooks look exactly as this API shows them: each record type's renderer reads the
record through its resource's scoped queryset, as the endpoint's owner, and serializes it with the
resource's serializer. Registered with the webhooks app at start-up (ApiConfig.ready)."""

from api import collab, views

RESOURCES = {
    # record type: (viewset, path under /api/v1/)
    "organization": (views.OrganizationViewSet, "organizations"),
    "relationship": (views.RelationshipViewSet, "relationships"),
    "project": (views.ProjectViewSet, "projects"),
    "kpi": (views.KPIViewSet, "kpis"),
    "project_kpi": (views.ProjectKPIViewSet, "project-kpis"),
    "measurement": (views.MeasurementViewSet, "measurements"),
    "score": (views.ScoreViewSet, "scores"),
    # Read as the owner reads them: an internal comment of the other side is never found.
    "comment": (collab.CommentViewSet, "comments"),
    "contest": (collab.ContestViewSet, "contests"),
    "contributor": (collab.ContributorViewSet, "contributors"),
    "sign_off": (views.SignOffViewSet, "sign-offs"),
}


def _renderer(viewset_class):
    def render(owner, record_id: int) -> dict | None:
        record = viewset_class().base_queryset(user=owner, include_deleted=True).filter(pk=record_id).first()
        return None if record is None else dict(viewset_class.serializer_class(record).data)

    return render


def register() -> None:
    from webhooks.payloads import register_renderer

    for record_type, (viewset_class, resource) in RESOURCES.items():
        register_renderer(record_type, _renderer(viewset_class), resource=resource)

"""The board: the project list's filter (one relationship, or any filter) as a lane per stage.
Each card's "Move…" opens the same stage dialog as the project page, so the stage rules and client
sign-off apply alike; after a move the dialog comes back to the board."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Exists, F, OuterRef, Window
from django.db.models.functions import RowNumber
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kpis import selectors as kpi_selectors
from projects import access
from projects import selectors as project_selectors
from projects.filters import ProjectFilterSet
from projects.models import InnovationProject, Relationship, SignOff
from web.views.common import checkboxes, query_without
from web.views.project_list import list_query
from web.views.project_page import next_stages

Stage = InnovationProject.Stage

# Cards shown per lane (the most recently changed); the lane's count and a link to the list say
# how many more there are.
LANE_LIMIT = 30


def _pending(kind: str) -> Exists:
    return Exists(
        SignOff.objects.filter(
            project=OuterRef("pk"), kind=kind, status=SignOff.Status.PENDING, deleted_at__isnull=True
        )
    )


def _writable_relationship_ids(user) -> set[int] | None:
    """The relationships whose cards may move (None: all of them, for an admin)."""
    if access.role_of(user) == access.Role.ADMIN:
        return None
    if not access.can_edit_projects(user):
        return set()
    return set(Relationship.objects.filter(account_managers=user).values_list("pk", flat=True))


def _without(params, *names):
    params = params.copy()
    for name in names:
        params.pop(name, None)
    return params


@require_GET
@login_required
def project_board(request):
    user = request.user
    filterset = ProjectFilterSet(
        request.GET or None, queryset=project_selectors.project_list(user=user), user=user
    )
    invalid = filterset.is_bound and not filterset.is_valid()
    projects = filterset.queryset.none() if invalid else filterset.qs
    chosen = filterset.form.cleaned_data.get("stage") if not invalid and filterset.is_bound else None
    stages = [stage for stage in InnovationProject.STAGE_ORDER if not chosen or stage in chosen]

    counts = dict(projects.order_by().values_list("stage").annotate(total=Count("id")))
    newest_first = [F("updated_at").desc(), F("id").desc()]
    cards = kpi_selectors.with_kpi_stats(
        projects.annotate(
            lane_rank=Window(RowNumber(), partition_by=[F("stage")], order_by=newest_first),
            client_person=access.client_side_has_person_expression("relationship"),
            approval_pending=_pending(SignOff.Kind.APPROVAL),
            benefit_pending=_pending(SignOff.Kind.BENEFIT),
        )
        .filter(lane_rank__lte=LANE_LIMIT)
        .order_by(*newest_first)
    )
    writable = _writable_relationship_ids(user)
    board_url = request.get_full_path()
    by_stage: dict[str, list] = {stage: [] for stage in stages}
    for project in cards:
        if project.stage not in by_stage:
            continue
        project.impact_pct = kpi_selectors.project_impact_pct(project)
        can_move = writable is None or project.relationship_id in writable
        signoff_active = project.relationship.client_signoff_required and project.client_person
        pending = {
            kind
            for kind, flag in (("approval", project.approval_pending), ("benefit", project.benefit_pending))
            if flag
        }
        project.moves = (
            next_stages(project, signoff_active=signoff_active, pending=pending) if can_move else []
        )
        by_stage[project.stage].append(project)

    base_query = list_query(request.GET)
    lanes = []
    for stage in stages:
        total = counts.get(stage, 0)
        shown = by_stage[stage]
        lane_query = "&".join(
            part for part in (query_without(request, "stage", "page", "sort"), f"stage={stage}") if part
        )
        lanes.append(
            {
                "stage": stage,
                "label": Stage(stage).label,
                "total": total,
                "cards": shown,
                "more": total - len(shown),
                "list_query": lane_query,
            }
        )
    one_relationship = None
    if not invalid and filterset.is_bound:
        one_relationship = filterset.form.cleaned_data.get("relationship")
    form = filterset.form
    form.fields["level"].widget = checkboxes(form.fields["level"])
    for name in ("relationship", "owner", "client", "provider"):
        form.fields[name].empty_label = "Any"
    form.fields["owner"].label_from_instance = lambda person: person.get_full_name() or person.get_username()
    context = {
        "lanes": lanes,
        "filter": filterset,
        "form": form,
        "one_relationship": one_relationship,
        "board_url": board_url,
        "list_query": base_query,
        "filtered": bool(base_query),
        # A board of one relationship keeps its filters folded away unless others are set.
        "filters_open": bool(list_query(_without(request.GET, "relationship"))),
        "total": sum(lane["total"] for lane in lanes),
    }
    return render(request, "web/project_board.html", context)

"""The relationship list and the relationship page (its score, components and projects by stage)."""

from collections import defaultdict

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from collab import selectors as collab_selectors
from kpis import selectors as kpi_selectors
from kpis.explanation import ScoreExplanation
from projects import access
from projects import selectors as project_selectors
from projects.filters import RelationshipFilterSet
from projects.models import InnovationProject, Relationship
from projects.sorting import parse_sort, with_id_tie_break
from web.views.collab import score_contests_context
from web.views.common import (
    checkboxes,
    page_size_links,
    page_size_of,
    query_without,
    sort_headers,
    sort_menu,
)
from web.views.pickers import choose_widget


def _position_of_status():
    """A relationship's status in its declared order (active, renewing, ended), for sorting."""
    return Case(
        *(When(status=value, then=Value(index)) for index, value in enumerate(Relationship.Status.values)),
        output_field=IntegerField(),
    )


# Sortable columns of the relationship list: query parameter -> the columns it orders by.
RELATIONSHIP_SORTS = {
    "name": ["name"],
    "client": ["client__name", "name"],
    "provider": ["provider__name", "name"],
    "status": [_position_of_status(), "name"],
    "score": [None, "name"],  # the current score (a subquery for the scored month, see below)
    "in_flight": ["projects_in_flight", "name"],
}
RELATIONSHIP_COLUMNS = [
    ("name", "Relationship", False),
    ("client", "Client", False),
    ("provider", "Provider", False),
    (None, "Process areas", False),
    ("status", "Status", False),
    ("score", "Current score", True),
    ("in_flight", "In flight", True),
]


@require_GET
@login_required
def relationship_list(request):
    sort = parse_sort(request.GET.get("sort"), allowed=RELATIONSHIP_SORTS, default="name")
    columns = RELATIONSHIP_SORTS[sort.key]
    if sort.key == "score":
        columns = [kpi_selectors.current_score_value("score", month=kpi_selectors.scored_month()), "name"]
    ordering = with_id_tie_break(
        sort.ordering(columns, nulls_last=sort.key == "score"), descending=sort.descending
    )
    filterset = RelationshipFilterSet(
        request.GET or None,
        queryset=project_selectors.relationship_list(user=request.user).order_by(*ordering),
        user=request.user,
    )
    invalid = filterset.is_bound and not filterset.is_valid()
    relationships = kpi_selectors.with_current_score(filterset.queryset.none() if invalid else filterset.qs)
    page_size = page_size_of(request)
    page = Paginator(relationships, page_size).get_page(request.GET.get("page"))
    contested = collab_selectors.contested_current_scores(
        [relationship.pk for relationship in page], month=kpi_selectors.scored_month()
    )
    for relationship in page:
        relationship.current_score = kpi_selectors.current_score(relationship)
        relationship.current_score_contested = relationship.pk in contested
    form = filterset.form
    form.fields["status"].widget = checkboxes(form.fields["status"])
    pickers = {
        name: choose_widget(form, name, kind, request.user)
        for name, kind in (("client", "clients"), ("provider", "providers"))
    }
    context = {
        "page": page,
        "filter": filterset,
        "form": form,
        "pickers": pickers,
        "headers": sort_headers(request, sort, RELATIONSHIP_COLUMNS),
        "sort_menu": sort_menu(
            request,
            sort,
            [
                (key, label, "number" if numeric else "order" if key == "status" else "text")
                for key, label, numeric in RELATIONSHIP_COLUMNS
                if key is not None
            ],
        ),
        "sort": sort.param if sort.param != "name" else "",
        "page_size": page_size,
        "page_sizes": page_size_links(request, page_size),
        "query": query_without(request, "page"),
        "filtered": bool(query_without(request, "page", "sort", "page_size")),
    }
    return render(request, "web/relationship_list.html", context)


@require_GET
@login_required
def relationship_detail(request, pk: int):
    relationships = project_selectors.relationship_list(user=request.user).prefetch_related(
        "account_managers", "leadership_pairs"
    )
    try:
        relationship = kpi_selectors.with_current_score(relationships).get(pk=pk)
    except Relationship.DoesNotExist as missing:
        raise Http404("No such relationship.") from missing
    score = kpi_selectors.current_score(relationship)
    projects = kpi_selectors.with_kpi_stats(
        project_selectors.project_list(user=request.user)
        .filter(relationship=relationship)
        .order_by("title", "id")
    )
    by_stage = defaultdict(list)
    for project in projects:
        project.impact_pct = kpi_selectors.project_impact_pct(project)
        by_stage[project.stage].append(project)
    stages = [
        {"stage": stage, "label": stage.label, "projects": by_stage[stage]}
        for stage in InnovationProject.STAGE_ORDER
    ]
    context = {
        "relationship": relationship,
        "score": score,
        "score_components": _score_components(score),
        "stages": stages,
        "project_count": sum(len(group) for group in by_stage.values()),
        "can_write": access.can_write_relationship(request.user, relationship),
        "contested": score_contests_context(request, relationship=relationship, score=score),
        "can_manage": access.can_manage_portfolio(request.user),
        "client_signoff_people": [
            person.get_full_name() or person.get_username()
            for person in access.client_side_people(relationship).order_by("first_name", "last_name")
        ]
        if relationship.client_signoff_required
        else [],
    }
    return render(request, "web/relationship_detail.html", context)


# What each component measures, as the relationship page words it.
COMPONENT_LABELS = {
    "impact": "Impact — mean KPI improvement of delivered projects, weighted by level",
    "attainment": "Attainment — mean target achievement",
    "realisation": "Realisation — realised ÷ expected annual benefit",
    "continuity": "Continuity — quarters of the last four with a delivery",
}


def _score_components(score) -> list[dict]:
    if score is None:
        return []
    return [
        {"component": component, "label": COMPONENT_LABELS[component.name]}
        for component in ScoreExplanation.of_score(score).components
    ]

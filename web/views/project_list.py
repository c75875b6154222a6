"""The project list: filtered, searched, sorted, paged, and the same list exported as CSV."""

import csv
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from kpis import selectors as kpi_selectors
from projects import selectors as project_selectors
from projects.filters import ProjectFilterSet
from projects.sorting import parse_sort, with_id_tie_break
from web import exports
from web.views.common import (
    checkboxes,
    page_size_links,
    page_size_of,
    query_without,
    sort_headers,
    sort_menu,
)
from web.views.pickers import choose_widget
from workspace.services import saved_filters

# Sortable columns of the project list: query parameter -> the columns it orders by.
PROJECT_SORTS = {
    "title": ["title"],
    "relationship": ["relationship__name", "title"],
    "level": [project_selectors.level_order(), "title"],
    "stage": [project_selectors.stage_order(), "title"],
    "owner": ["owner__first_name", "owner__last_name", "title"],
    "delivered": ["delivered_on", "title"],
    "updated": ["updated_at"],
    # The mean capped KPI improvement, as kpis.scoring computes it (projects without one last).
    "impact": [kpi_selectors.project_impact_expression(), "title"],
}
NULLS_LAST = {"impact", "delivered"}
DEFAULT_PROJECT_SORT = "-updated"
PROJECT_COLUMNS = [
    ("title", "Project"),
    ("relationship", "Relationship"),
    ("level", "Level"),
    ("stage", "Stage"),
    ("owner", "Owner"),
    ("delivered", "Delivered"),
    ("impact", "Impact"),
]
NUMERIC_COLUMNS = {"impact"}
# Each sortable column's kind, for the sort menu's words (A–Z, newest first, …).
COLUMN_KINDS = {"level": "order", "stage": "order", "delivered": "date", "impact": "number"}


# The query parameters that make a view of the list (a saved filter keeps these, nothing else).
LIST_PARAMETERS = (*ProjectFilterSet.base_filters, "sort", "page_size")


def list_query(params) -> str:
    """The list-defining part of a query string: its filters and sort, empty values dropped, in one
    order (so the same view always reads the same)."""
    kept = [
        (name, value)
        for name in sorted(set(params.keys()) & set(LIST_PARAMETERS))
        for value in params.getlist(name)
        if value.strip()
    ]
    return urlencode(kept)


def _filtered_projects(request):
    """The project list exactly as the list page shows it: filtered, searched, sorted."""
    filterset = ProjectFilterSet(
        request.GET or None, queryset=project_selectors.project_list(user=request.user), user=request.user
    )
    sort = parse_sort(request.GET.get("sort"), allowed=PROJECT_SORTS, default=DEFAULT_PROJECT_SORT)
    # Ties are broken on the id in the sort's direction, so descending is ascending reversed.
    columns = sort.ordering(PROJECT_SORTS[sort.key], nulls_last=sort.key in NULLS_LAST)
    ordering = with_id_tie_break(columns, descending=sort.descending)
    invalid = filterset.is_bound and not filterset.is_valid()
    projects = filterset.queryset.none() if invalid else filterset.qs
    return filterset, kpi_selectors.with_kpi_stats(projects.order_by(*ordering)), sort


def _with_impact(projects):
    for project in projects:
        project.impact_pct = kpi_selectors.project_impact_pct(project)
        yield project


@require_GET
@login_required
def project_list(request):
    filterset, projects, sort = _filtered_projects(request)
    page_size = page_size_of(request)
    page = Paginator(projects, page_size).get_page(request.GET.get("page"))
    rows = list(_with_impact(page))
    headers = sort_headers(
        request, sort, [(key, label, key in NUMERIC_COLUMNS) for key, label in PROJECT_COLUMNS]
    )
    form = filterset.form
    for name in ("stage", "level"):
        form.fields[name].widget = checkboxes(form.fields[name])
    for name in ("delivered_after", "delivered_before"):
        form.fields[name].widget.input_type = "date"
    form.fields["owner"].label_from_instance = lambda user: user.get_full_name() or user.get_username()
    form.fields["owner"].empty_label = "Any"
    pickers = {
        name: choose_widget(form, name, kind, request.user)
        for name, kind in (
            ("relationship", "relationships"),
            ("client", "clients"),
            ("provider", "providers"),
        )
    }
    context = {
        "saved_filters": list(saved_filters(user=request.user)),
        "list_query": list_query(request.GET),
        "page": page,
        "rows": rows,
        "filter": filterset,
        "form": form,
        "pickers": pickers,
        "headers": headers,
        "sort_menu": sort_menu(
            request,
            sort,
            [
                *((key, label, COLUMN_KINDS.get(key, "text")) for key, label in PROJECT_COLUMNS),
                ("updated", "Last changed", "date"),
            ],
        ),
        "sort": sort.param,
        "page_size": page_size,
        "page_sizes": page_size_links(request, page_size),
        "query": query_without(request, "page"),
        "export_query": query_without(request, "page", "page_size"),
        # The filters stay open while any is set (sorting and page size are not filters).
        "filtered": bool(query_without(request, "page", "sort", "page_size")),
    }
    return render(request, "web/project_list.html", context)


def _export_rows(request):
    """The list's projects for an export (all pages), or None when the filters are invalid."""
    filterset, projects, _sort = _filtered_projects(request)
    if filterset.is_bound and not filterset.is_valid():
        return None
    return _with_impact(projects.iterator(chunk_size=500))


def _filename(extension: str) -> str:
    return f"projects-{timezone.localtime():%Y%m%d-%H%M}.{extension}"


INVALID_FILTERS = "The filters are not valid; fix them on the project list."


@require_GET
@login_required
def project_export(request):
    """The filtered, sorted project list (all its pages) as CSV, with the export's columns."""
    projects = _export_rows(request)
    if projects is None:
        return HttpResponse(INVALID_FILTERS, status=400)
    writer = csv.writer(exports.Echo())

    def rows():
        yield "\ufeff"  # so that spreadsheet programs read the file as UTF-8
        yield writer.writerow([column.header for column in exports.PROJECT_COLUMNS])
        for project in projects:
            yield writer.writerow(exports.csv_row(exports.PROJECT_COLUMNS, project))

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    return response


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@require_GET
@login_required
def project_export_xlsx(request):
    """The same list as an Excel workbook: typed cells (dates, amounts, percentages)."""
    projects = _export_rows(request)
    if projects is None:
        return HttpResponse(INVALID_FILTERS, status=400)
    content = exports.xlsx_workbook(exports.PROJECT_COLUMNS, projects, title="Projects")
    response = HttpResponse(content, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename("xlsx")}"'
    return response

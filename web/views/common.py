"""What every page view of the browser layer needs: the page size, query strings without some
parameters, the project a user may see or change."""

from collections.abc import Collection

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404

from projects import access
from projects import selectors as project_selectors
from projects.models import InnovationProject
from projects.sorting import Sort, next_sort

PAGE_SIZE = 25
# The page sizes a list offers (`?page_size=`); anything else is the default.
PAGE_SIZES = (25, 50, 100)


def page_size_of(request) -> int:
    value = int_or_none(request.GET.get("page_size"))
    return value if value in PAGE_SIZES else PAGE_SIZE


def page_size_links(request, current: int) -> list[dict]:
    """Links to the list in each page size (filters and sort kept, back to page 1)."""
    links = []
    for size in PAGE_SIZES:
        query = request.GET.copy()
        query.pop("page", None)
        query.pop("page_size", None)
        if size != PAGE_SIZE:
            query["page_size"] = str(size)
        links.append({"size": size, "query": query.urlencode(), "current": size == current})
    return links


def query_without(request, *names: str) -> str:
    """The current query string without `names` (for page and sort links that keep the filters)."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def sort_headers(request, sort: Sort, columns, *, descending_first: Collection[str] = ()) -> list[dict]:
    """Column headers of a sortable table: `columns` are (sort key or None, label, numeric); a
    numeric column (or one in `descending_first`) sorts largest first on its first click. Each
    header links to the list sorted by it (filters kept, back to page 1) and says how the list is
    sorted (aria-sort)."""
    headers = []
    for key, label, numeric in columns:
        header = {"key": key, "label": label, "numeric": numeric, "aria_sort": None, "query": None}
        if key is not None:
            if key == sort.key:
                header["aria_sort"] = "descending" if sort.descending else "ascending"
            query = request.GET.copy()
            query.pop("page", None)
            query.pop("sort", None)
            query["sort"] = next_sort(key, sort, descending_first=numeric or key in descending_first).param
            header["query"] = query.urlencode()
        headers.append(header)
    return headers


# How each kind of column reads in each direction, for the sort menu (ascending, descending).
_DIRECTION_WORDS = {
    "text": ("A–Z", "Z–A"),
    "number": ("smallest first", "largest first"),
    "date": ("oldest first", "newest first"),
    "order": ("in order", "reversed"),
}


def sort_menu(request, sort: Sort, columns) -> dict:
    """The list's sorts as a menu (for phones, where the column headers are folded away):
    `columns` are (sort key, label, kind of column); the other parameters ride along as hidden
    fields."""
    options = []
    for key, label, kind in columns:
        ascending, descending = _DIRECTION_WORDS[kind]
        options.append({"value": key, "label": f"{label}, {ascending}", "selected": sort.param == key})
        options.append(
            {"value": f"-{key}", "label": f"{label}, {descending}", "selected": sort.param == f"-{key}"}
        )
    keep = [
        (name, value)
        for name in request.GET
        if name not in ("sort", "page")
        for value in request.GET.getlist(name)
    ]
    return {"options": options, "keep": keep}


def checkboxes(field):
    """A multiple-choice filter field shown as checkboxes instead of a list box."""
    widget = forms.CheckboxSelectMultiple()
    widget.choices = field.choices
    return widget


def int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def visible_project(request, pk: int) -> InnovationProject:
    """A project the user may see, else 404."""
    try:
        return project_selectors.project_list(user=request.user).get(pk=pk)
    except InnovationProject.DoesNotExist as missing:
        raise Http404("No such project.") from missing


def writable_project(request, pk: int) -> InnovationProject:
    """A project the user may see (else 404) and change (else 403)."""
    project = visible_project(request, pk)
    if not access.can_write_relationship(request.user, project.relationship):
        raise PermissionDenied("You may not change this project.")
    return project

"""What every page view of the browser layer needs: the page size, query strings without some
parameters, the project a user may see or change."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404

from projects import access
from projects import selectors as project_selectors
from projects.models import InnovationProject

PAGE_SIZE = 25


def query_without(request, *names: str) -> str:
    """The current query string without `names` (for page and sort links that keep the filters)."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


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

"""Pages for relationships and projects. Views parse input and render what selectors return."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from projects import selectors
from projects.models import Relationship

PAGE_SIZE = 50


@login_required
def relationship_list(request):
    relationships = selectors.relationship_list(user=request.user).order_by("name", "id")
    page = Paginator(relationships, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "projects/relationship_list.html", {"page": page})


@login_required
def relationship_detail(request, pk: int):
    try:
        relationship = selectors.relationship_get(user=request.user, pk=pk)
    except Relationship.DoesNotExist as missing:
        raise Http404("No such relationship.") from missing
    projects = (
        selectors.project_list(user=request.user).filter(relationship=relationship).order_by("stage", "title")
    )
    return render(
        request, "projects/relationship_detail.html", {"relationship": relationship, "projects": projects}
    )


@login_required
def project_list(request):
    projects = selectors.project_list(user=request.user).order_by("-updated_at", "-id")
    page = Paginator(projects, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "projects/project_list.html", {"page": page})

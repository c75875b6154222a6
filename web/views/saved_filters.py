"""Saving the project list's current filter under a name, and deleting a saved one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from web.views.project_list import list_query
from workspace import services
from workspace.models import SavedFilter


@require_POST
@login_required
def saved_filter_save(request):
    """Save the list's filter (`query`, as the list page passes it) under `name`."""
    query = list_query(QueryDict(request.POST.get("query", "")))
    list_url = reverse("project-list") + (f"?{query}" if query else "")
    try:
        saved, created = services.saved_filter_save(
            user=request.user, name=request.POST.get("name", ""), query=query
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"Saved the filter “{saved.name}”." if created else f"Updated “{saved.name}”."
        )
    return redirect(list_url)


@require_POST
@login_required
def saved_filter_delete(request, pk: int):
    try:
        saved = services.saved_filter_delete(user=request.user, pk=pk)
    except SavedFilter.DoesNotExist:
        messages.error(request, "That saved filter no longer exists.")
    else:
        messages.success(request, f"Deleted the saved filter “{saved.name}”.")
    return redirect(reverse("my-work") + "#saved-filters")

"""The notification centre: the bell's count, the list, opening one (marks it read), marking
read, and each person's preferences."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from notifications import selectors, services
from notifications.models import Notification
from web.forms.notifications import PreferenceForm


@login_required
def notification_list(request):
    unread_only = request.GET.get("show") == "unread"
    page = Paginator(selectors.notifications_for(request.user, unread_only=unread_only), 30).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "web/notifications/list.html",
        {"page": page, "unread_only": unread_only, "unread": selectors.unread_count(request.user)},
    )


@login_required
def notification_badge(request):
    """The bell's count, fetched by the page after it loads (no query in every page's own render)."""
    return render(request, "web/notifications/_badge.html", {"unread": selectors.unread_count(request.user)})


@login_required
def notification_open(request, pk: int):
    notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
    services.mark_read(user=request.user, notification_ids=[notification.pk])
    target = notification.url or "/notifications/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/notifications/"
    return redirect(target)


@login_required
@require_POST
def notification_mark_read(request):
    ids = [int(value) for value in request.POST.getlist("id") if value.isdigit()]
    count = services.mark_read(user=request.user, notification_ids=ids or None)
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return redirect("notification-list")


@login_required
def notification_preferences(request):
    preference = services.preferences_of([request.user])[request.user.pk]
    form = PreferenceForm(request.POST or None, initial=PreferenceForm.initial_from(preference))
    if request.method == "POST" and form.is_valid():
        services.preferences_update(user=request.user, **form.cleaned_data)
        messages.success(request, "Your notification preferences are saved.")
        return redirect("notification-preferences")
    return render(
        request,
        "web/notifications/preferences.html",
        {"form": form},
        status=400 if request.method == "POST" and form.errors else 200,
    )

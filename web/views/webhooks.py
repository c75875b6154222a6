"""Webhook endpoints in the browser: the list with a form to add one, and each endpoint's page
with its settings, secret rotation, test message, replays and delivery log."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from web.forms.webhooks import EndpointForm, ReplayForm
from webhooks import services
from webhooks.models import Delivery
from webhooks.signing import masked


def _allowed(request) -> None:
    if not services.can_manage_webhooks(request.user):
        raise PermissionDenied("Only admins and account managers manage webhooks.")


def _form_errors(form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


@login_required
def endpoint_list(request):
    _allowed(request)
    form = EndpointForm(request.POST or None, user=request.user)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.endpoint_create(
                actor=request.user, fields=services.EndpointFields(**form.cleaned_data)
            )
        except ValidationError as error:
            _form_errors(form, error)
        else:
            new_secret = endpoint.secret  # shown on this answer only: not stored in the session
            form = EndpointForm(user=request.user)
    endpoints = services.endpoints_of(request.user).order_by("-is_active", "id")
    return render(
        request,
        "web/webhooks/endpoint_list.html",
        {"form": form, "endpoints": endpoints, "new_secret": new_secret},
        status=400 if request.method == "POST" and form.errors else 200,
    )


def _endpoint(request, pk):
    _allowed(request)
    return get_object_or_404(services.endpoints_of(request.user), pk=pk)


@login_required
def endpoint_detail(request, pk: int):
    endpoint = _endpoint(request, pk)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "relationship": endpoint.relationship,
    }
    form = EndpointForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(
                actor=request.user,
                endpoint=endpoint,
                changes=services.EndpointFields(**form.cleaned_data),
                expected_version=int(request.POST.get("version") or endpoint.version),
            )
        except services.EndpointConflict as error:
            form.add_error(None, str(error))
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect("webhook-detail", pk=endpoint.pk)
    deliveries = Paginator(endpoint.deliveries.prefetch_related("attempt_log").order_by("-id"), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "web/webhooks/endpoint_detail.html",
        {
            "endpoint": endpoint,
            "form": form,
            "replay_form": ReplayForm(),
            "deliveries": deliveries,
            "secret_hint": masked(endpoint.secret),
            "pending": endpoint.deliveries.filter(status=Delivery.Status.PENDING).count(),
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


@login_required
@require_POST
def endpoint_toggle(request, pk: int):
    endpoint = _endpoint(request, pk)
    services.endpoint_update(
        actor=request.user,
        endpoint=endpoint,
        changes=services.EndpointFields(is_active=not endpoint.is_active),
    )
    messages.success(request, "Endpoint turned on." if not endpoint.is_active else "Endpoint turned off.")
    return redirect("webhook-detail", pk=pk)


@login_required
@require_POST
def endpoint_rotate(request, pk: int):
    endpoint = services.rotate_secret(actor=request.user, endpoint=_endpoint(request, pk))
    return render(
        request, "web/webhooks/new_secret.html", {"endpoint": endpoint, "new_secret": endpoint.secret}
    )


@login_required
@require_POST
def endpoint_test(request, pk: int):
    try:
        services.send_test(actor=request.user, endpoint=_endpoint(request, pk))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Test message queued: its answer appears in the delivery log in a moment.")
    return redirect("webhook-detail", pk=pk)


@login_required
@require_POST
def endpoint_replay(request, pk: int):
    endpoint = _endpoint(request, pk)
    form = ReplayForm(request.POST)
    event_id = request.POST.get("event_id")
    try:
        if event_id:
            queued = services.replay(actor=request.user, endpoint=endpoint, event_id=int(event_id))
        elif form.is_valid():
            queued = services.replay(actor=request.user, endpoint=endpoint, since=form.cleaned_data["since"])
        else:
            messages.error(request, "Give the date and time to replay from.")
            return redirect("webhook-detail", pk=pk)
    except (ValidationError, ValueError) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(request, f"{queued} event{'s' if queued != 1 else ''} queued to send again.")
    return redirect("webhook-detail", pk=pk)


@login_required
@require_POST
def endpoint_delete(request, pk: int):
    services.endpoint_delete(actor=request.user, endpoint=_endpoint(request, pk))
    messages.success(request, "Endpoint removed.")
    return redirect("webhook-list")

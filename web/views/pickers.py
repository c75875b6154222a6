"""Choosing a relationship or an organisation in a list's filters, whatever the portfolio's size:
a plain select while the choices are few, a searchable field (suggestions fetched as you type,
by a small static script) once they are many, so no page ships a 1,000-option list."""

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from projects import selectors
from projects.access import scope
from projects.models import Organization, Relationship

# Up to this many choices a select is quicker to use; beyond it, a searchable field.
SELECT_LIMIT = 50
SUGGESTIONS = 20


def _choices(kind: str, user):
    """The live choices of one kind a user may filter by (scoped), as a queryset ordered by name."""
    if kind == "relationships":
        return scope(user, Relationship.objects.filter(deleted_at__isnull=True)).order_by("name", "id")
    organization_kind = {"clients": Organization.Kind.CLIENT, "providers": Organization.Kind.PROVIDER}[kind]
    return selectors.organization_list(user=user).filter(kind=organization_kind).order_by("name", "id")


def choose_widget(form, name: str, kind: str, user, *, empty_label: str = "Any") -> dict | None:
    """Make the form's `name` field a select of at most SELECT_LIMIT choices (one query, no
    more rows than that), or return what the template needs for a searchable field instead."""
    field = form.fields[name]
    rows = list(_choices(kind, user).values_list("pk", "name")[: SELECT_LIMIT + 1])
    if len(rows) <= SELECT_LIMIT:
        # The widget renders these rows; validation still checks the field's (scoped) queryset.
        field.widget.choices = [("", empty_label), *rows]
        return None
    selected = form.cleaned_data.get(name) if form.is_bound and hasattr(form, "cleaned_data") else None
    value = form.data.get(name, "") if form.is_bound else ""
    return {
        "name": name,
        "id": f"id_{name}",
        "label": field.label,
        "value": selected.pk if selected is not None else value,
        "text": selected.name if selected is not None else "",
        "url": reverse("suggest", args=[kind]),
        "errors": form.errors.get(name, []) if form.is_bound else [],
    }


@require_GET
@login_required
def suggest(request, kind: str):
    """Up to SUGGESTIONS choices of `kind` matching `q` (in the user's scope), as JSON."""
    if kind not in ("relationships", "clients", "providers"):
        raise Http404("No such list.")
    text = request.GET.get("q", "").strip()[:100]
    choices = _choices(kind, request.user)
    if text:
        condition = Q(name__icontains=text)
        if kind == "relationships":
            condition |= Q(client__name__icontains=text) | Q(provider__name__icontains=text)
        choices = choices.filter(condition)
    if kind == "relationships":
        rows = list(choices.values_list("pk", "name", "client__name", "provider__name")[:SUGGESTIONS])
        names = [row[1] for row in rows]
        results = [
            # The same name twice (with other parties) is told apart by its parties.
            {"id": pk, "label": name if names.count(name) == 1 else f"{name} ({client} ↔ {provider})"}
            for pk, name, client, provider in rows
        ]
    else:
        results = [{"id": pk, "label": name} for pk, name in choices.values_list("pk", "name")[:SUGGESTIONS]]
    return JsonResponse({"results": results})

"""Query parameters are checked, not guessed: a misspelt filter (`?stag=idea`) would otherwise be
ignored and a filtered mirror would quietly become a full one.

Each route accepts what it documents — a list its FilterSet's filters, `ordering`, the paging and
sync parameters; the audit history its paging; an object route nothing but `format` — and answers
400 naming any other parameter. Values are checked where they are read: `page_size` is a whole
number from 1 (larger values are capped at the maximum), an empty `updated_since=` is refused.
"""

import django_filters
from rest_framework import exceptions

from api.pagination import SYNC_PARAM, UPDATED_SINCE

FORMAT_PARAM = "format"


def allowed_query_params(view) -> set[str]:
    """The query parameters `view` documents for its current action."""
    allowed = {FORMAT_PARAM}
    paginator = getattr(view, "paginator", None)
    if paginator is not None and getattr(view, "action", None) in ("list", "history"):
        allowed |= {paginator.page_query_param, paginator.page_size_query_param}
    # Actions with parameters of their own declare them: {action: (name, …)}.
    allowed |= set(getattr(view, "action_query_params", {}).get(getattr(view, "action", None), ()))
    if getattr(view, "action", None) == "list":
        allowed.add(SYNC_PARAM)
        filterset_class = getattr(view, "filterset_class", None)
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        if getattr(view, "ordering_fields", None):
            allowed.add("ordering")
    return allowed


def repeatable_query_params(view) -> set[str]:
    """Parameters that take several values (`?stage=idea&stage=proposed`): the multiple-choice filters."""
    filterset_class = getattr(view, "filterset_class", None)
    if filterset_class is None or getattr(view, "action", None) != "list":
        return set()
    return {
        name
        for name, filter_ in filterset_class.base_filters.items()
        if isinstance(filter_, django_filters.MultipleChoiceFilter)
    }


def check_query_params(request, view) -> None:
    unknown = sorted(set(request.query_params) - allowed_query_params(view))
    if unknown:
        known = ", ".join(sorted(allowed_query_params(view)))
        raise exceptions.ValidationError(
            {name: [f"Unknown query parameter; this route takes: {known}."] for name in unknown}
        )
    # A single-valued parameter given twice would silently use the last value only.
    repeatable = repeatable_query_params(view)
    repeated = sorted(
        name
        for name in request.query_params
        if len(request.query_params.getlist(name)) > 1 and name not in repeatable
    )
    if repeated:
        raise exceptions.ValidationError({name: ["Give this parameter once."] for name in repeated})
    if UPDATED_SINCE in request.query_params and not request.query_params[UPDATED_SINCE].strip():
        raise exceptions.ValidationError(
            {
                UPDATED_SINCE: [
                    "Give an ISO 8601 date-time, e.g. 2025-01-31T12:00:00Z (or leave the parameter out)."
                ]
            }
        )


class CheckedQueryParamsMixin:
    """Refuses undocumented query parameters (400) once the caller is authenticated and allowed."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        check_query_params(request, self)

"""Saving and deleting a person's named filters. A filter belongs to its owner alone: every
function takes the user and touches only their rows."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet

from workspace.models import SavedFilter

# Enough for anyone's working set; beyond it a list of filters stops being a shortcut.
MAX_SAVED_FILTERS = 50


def saved_filters(*, user) -> QuerySet[SavedFilter]:
    """The user's saved filters, by name."""
    if user is None or not user.is_authenticated:
        return SavedFilter.objects.none()
    return SavedFilter.objects.filter(user=user)


@transaction.atomic
def saved_filter_save(*, user, name: str, query: str) -> tuple[SavedFilter, bool]:
    """Save `query` under `name`; a filter of the same name (any case) is replaced. Returns the
    filter and whether it was new."""
    if user is None or not user.is_authenticated:
        raise PermissionDenied("Sign in to save filters.")
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": "Give the filter a name."})
    if not query:
        raise ValidationError({"name": "Set a filter or a sort first; an empty filter is the whole list."})
    existing = SavedFilter.objects.select_for_update().filter(user=user, name__iexact=name).first()
    if existing is not None:
        existing.name, existing.query = name, query
        existing.full_clean()
        existing.save()
        return existing, False
    if SavedFilter.objects.filter(user=user).count() >= MAX_SAVED_FILTERS:
        raise ValidationError(
            {"name": f"You have {MAX_SAVED_FILTERS} saved filters, the most there may be; delete one first."}
        )
    saved = SavedFilter(user=user, name=name, query=query)
    saved.full_clean()
    saved.save()
    return saved, True


@transaction.atomic
def saved_filter_delete(*, user, pk: int) -> SavedFilter:
    """Delete one of the user's saved filters (another person's reads as absent)."""
    try:
        saved = saved_filters(user=user).select_for_update().get(pk=pk)
    except SavedFilter.DoesNotExist as missing:
        raise SavedFilter.DoesNotExist("No such saved filter.") from missing
    saved.delete()
    return saved

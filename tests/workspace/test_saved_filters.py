"""Saved filters belong to their owner: named, replaced by name, capped, deleted by the owner only."""

import pytest
from django.core.exceptions import ValidationError

from tests.factories import UserFactory
from workspace import services
from workspace.models import SavedFilter

pytestmark = pytest.mark.django_db


def test_save_replaces_by_name_in_any_case(account_manager):
    saved, created = services.saved_filter_save(
        user=account_manager, name="  Open  work ", query="stage=approved"
    )
    assert created and saved.name == "Open work"
    again, created = services.saved_filter_save(
        user=account_manager, name="open WORK", query="stage=in_progress"
    )
    assert not created and again.pk == saved.pk and again.query == "stage=in_progress"
    assert SavedFilter.objects.count() == 1


def test_bad_names_and_empty_filters_are_refused(account_manager):
    with pytest.raises(ValidationError, match="Give the filter a name"):
        services.saved_filter_save(user=account_manager, name="   ", query="stage=idea")
    with pytest.raises(ValidationError, match="empty filter"):
        services.saved_filter_save(user=account_manager, name="All", query="")
    with pytest.raises(ValidationError):
        services.saved_filter_save(user=account_manager, name="x" * 81, query="stage=idea")
    assert not SavedFilter.objects.exists()


def test_a_person_holds_at_most_the_limit(account_manager, settings):
    for number in range(services.MAX_SAVED_FILTERS):
        services.saved_filter_save(user=account_manager, name=f"F{number}", query=f"q={number}")
    with pytest.raises(ValidationError, match="the most there may be"):
        services.saved_filter_save(user=account_manager, name="one more", query="q=x")
    # Replacing one by name is still possible at the limit.
    services.saved_filter_save(user=account_manager, name="F1", query="q=changed")


def test_only_the_owner_sees_and_deletes(account_manager):
    saved, _ = services.saved_filter_save(user=account_manager, name="Mine", query="stage=idea")
    other = UserFactory()
    assert list(services.saved_filters(user=other)) == []
    with pytest.raises(SavedFilter.DoesNotExist):
        services.saved_filter_delete(user=other, pk=saved.pk)
    services.saved_filter_delete(user=account_manager, pk=saved.pk)
    assert not SavedFilter.objects.exists()

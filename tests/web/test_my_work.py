"""The "My work" page and saved filters of the project list."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from projects import services, signoffs
from projects.access import role_of, user_organization_id
from projects.models import InnovationProject
from tests.factories import ProjectFactory, UserFactory
from workspace.models import SavedFilter

pytestmark = pytest.mark.django_db

Stage = InnovationProject.Stage


def _page(client) -> str:
    response = client.get("/my-work/")
    assert response.status_code == 200
    return response.content.decode()


def test_account_manager_sees_what_needs_attention(client, account_manager, portfolio):
    today = timezone.localdate()
    ProjectFactory(
        relationship=portfolio["rel_a"],
        title="Forgotten proposal",
        stage=Stage.PROPOSED,
        proposed_on=today - dt.timedelta(days=100),
    )
    ProjectFactory(relationship=portfolio["rel_a"], title="Fresh idea", stage=Stage.IDEA)
    ProjectFactory(
        relationship=portfolio["rel_a"],
        title="Unmeasured delivery",
        stage=Stage.DELIVERED,
        delivered_on=today - dt.timedelta(days=400),
        expected_annual_benefit=Decimal("50000"),
    )
    ProjectFactory(
        relationship=portfolio["rel_b"],
        title="Not mine",
        stage=Stage.PROPOSED,
        proposed_on=today - dt.timedelta(days=300),
    )
    client.force_login(account_manager)
    page = _page(client)
    stuck = page.split('id="stuck"')[1].split("</section>")[0]
    assert "Forgotten proposal" in stuck and "(100 days)" in stuck and "Fresh idea" not in stuck
    assert "Unmeasured delivery" in page.split('id="unmeasured"')[1].split("</section>")[0]
    missing = page.split('id="benefit-missing"')[1].split("</section>")[0]
    assert "Unmeasured delivery" in missing and "expected 50,000 USD a year" in missing
    assert "Not mine" not in page
    assert "My work</a>" in page  # in the navigation


def test_all_clear_when_nothing_needs_attention(client, account_manager, portfolio):
    client.force_login(account_manager)
    assert 'id="all-clear"' in _page(client)


def test_client_viewer_sees_requests_waiting_for_their_decision(
    client, account_manager, client_viewer_a, portfolio
):
    services.relationship_update(
        actor=None,
        relationship=portfolio["rel_a"],
        changes=services.RelationshipFields(client_signoff_required=True),
    )
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Parts forecasting", stage=Stage.PROPOSED)
    signoffs.signoff_request(actor=account_manager, project=project, kind="approval", note="Please look")
    client.force_login(client_viewer_a)
    page = _page(client)
    decide = page.split('id="to-decide"')[1].split("</section>")[0]
    assert "Parts forecasting" in decide and "“Please look”" in decide and "Approval of the project" in decide
    assert 'id="stuck"' not in page
    client.force_login(account_manager)
    assert "Parts forecasting" in _page(client).split('id="waiting-for-client"')[1].split("</section>")[0]


def test_executives_have_no_my_work_link(client, executive):
    client.force_login(executive)
    page = client.get("/").content.decode()
    assert 'href="/my-work/"' not in page
    assert "looks after no projects" in _page(client)


def test_my_work_query_count_is_flat(client, account_manager, portfolio, django_assert_num_queries):
    today = timezone.localdate()
    for number in range(12):
        ProjectFactory(
            relationship=portfolio["rel_a"],
            title=f"Stuck {number}",
            stage=Stage.PROPOSED,
            proposed_on=today - dt.timedelta(days=90 + number),
        )
        ProjectFactory(
            relationship=portfolio["rel_a"],
            stage=Stage.DELIVERED,
            delivered_on=today - dt.timedelta(days=300 + number),
            expected_annual_benefit=Decimal("10"),
        )
    client.force_login(account_manager)
    role_of(account_manager)
    user_organization_id(account_manager)
    _page(client)
    # session, user, role, saved filters, stuck, unmeasured, benefit missing, waiting, declined
    with django_assert_num_queries(9):
        _page(client)


def test_saving_a_filter_keeps_only_the_list_view(client, account_manager, portfolio):
    client.force_login(account_manager)
    page = client.get("/projects/?stage=approved&level=process&page=2&sort=-delivered").content.decode()
    assert "Save this filter as" in page
    response = client.post(
        "/projects/saved-filters/",
        {"name": "Approved process work", "query": "stage=approved&level=process&page=2&sort=-delivered&x=1"},
    )
    assert response.status_code == 302
    assert response.url == "/projects/?level=process&sort=-delivered&stage=approved"
    saved = SavedFilter.objects.get(user=account_manager)
    assert saved.query == "level=process&sort=-delivered&stage=approved"
    page = client.get(response.url).content.decode()
    assert "Saved the filter “Approved process work”." in page
    assert 'aria-current="true">Approved process work</a>' in page
    response = client.post("/projects/saved-filters/", {"name": "Nothing", "query": "page=3"}, follow=True)
    assert "empty filter" in response.content.decode()
    # Someone else's filter reads as absent.
    other_client = client.__class__()
    other_client.force_login(UserFactory())
    response = other_client.post(f"/projects/saved-filters/{saved.pk}/delete/", follow=True)
    assert "no longer exists" in response.content.decode()
    response = client.post(f"/projects/saved-filters/{saved.pk}/delete/", follow=True)
    assert "Deleted the saved filter “Approved process work”." in response.content.decode()
    assert not SavedFilter.objects.exists()

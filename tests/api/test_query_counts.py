"""List endpoints cost a fixed number of queries, whatever the page size (N+1 guard)."""

import datetime as dt
from decimal import Decimal

import pytest

from kpis.models import RelationshipScore
from projects.access import role_of, user_organization_id
from projects.models import ProcessArea
from tests.factories import (
    KPIFactory,
    MeasurementFactory,
    ProjectFactory,
    ProjectKPIFactory,
    RelationshipFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(portfolio, account_manager):
    """Six relationships of the manager's, each with projects, KPIs, measurements and scores."""
    kpis = [KPIFactory(code=f"k{i}") for i in range(3)]
    for r in range(6):
        relationship = RelationshipFactory(
            client=portfolio["client_a"], provider=portfolio["provider"], account_managers=[account_manager]
        )
        relationship.process_areas.set(ProcessArea.objects.all()[:2])
        RelationshipScore.objects.create(
            relationship=relationship, period=dt.date(2025, 1, 1), score=Decimal("50"), tier="steady"
        )
        for p in range(2):
            project = ProjectFactory(relationship=relationship, owner=account_manager)
            for kpi in kpis[: 1 + (r + p) % 3]:
                project_kpi = ProjectKPIFactory(project=project, kpi=kpi)
                MeasurementFactory(project_kpi=project_kpi, value=Decimal("75"))
    return portfolio


# Queries of a list request, for an account manager signed in by session/force_authenticate:
# count, page, the sync bound, the scope fingerprint (visible relationships), plus the resource's
# prefetches. Token authentication adds one (the token with its user, their role and organisation;
# tests/api/test_api_tokens.py); a fresh user signed in by session one more for the role, and one for
# the organisation where the scope reads it (both cached on the user). A sync pass needs no count.
EXPECTED = {
    "organizations": 4,
    "relationships": 7,  # + account managers, process areas, current score
    "projects": 5,  # + KPIs with latest values
    "kpis": 3,  # the catalogue is not scoped: no fingerprint
    "project-kpis": 4,
    "measurements": 4,
    "scores": 3,  # a time-based sync bound needs no query
}


def assert_flat_query_count(client, user, resource, extra, expected, django_assert_num_queries):
    role_of(user)
    user_organization_id(user)  # cached on the user object, as role_of caches the role
    sizes = []
    for page_size in (1, 50):
        with django_assert_num_queries(expected):
            response = client.get(f"/api/v1/{resource}/?page_size={page_size}{extra}")
        assert response.status_code == 200
        sizes.append(len(response.json()["results"]))
    assert sizes[0] == 1 and sizes[1] > 1


@pytest.mark.parametrize("resource", sorted(EXPECTED))
def test_list_query_count_does_not_grow_with_the_page(
    resource, many, account_manager, api_as, django_assert_num_queries
):
    assert_flat_query_count(
        api_as(account_manager), account_manager, resource, "", EXPECTED[resource], django_assert_num_queries
    )


@pytest.mark.parametrize("resource", sorted(EXPECTED))
@pytest.mark.django_db(transaction=True)
def test_sync_pass_query_count_does_not_grow_with_the_page(
    resource, transactional_db, many, account_manager, api_as, django_assert_num_queries
):
    # Committed rows: a sync pass only delivers what other transactions can see.
    assert_flat_query_count(
        api_as(account_manager),
        account_manager,
        resource,
        "&sync=0",
        EXPECTED[resource] - 1,
        django_assert_num_queries,
    )

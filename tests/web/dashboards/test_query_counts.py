"""The dashboards cost the same number of queries for 10 relationships as for 1,000."""

import pytest
from django.contrib.auth.models import User
from django.db.models import Count
from django.urls import reverse

from demo.scale import ScalePortfolio
from kpis.models import RelationshipScore
from projects.access import Role, role_of, user_organization_id, visible_relationships
from projects.models import Relationship
from tests.factories import UserFactory
from tests.web.dashboards.conftest import month

pytestmark = pytest.mark.django_db

SIZES = [10, 1000]
# Scoreboard count and page, sparklines, portfolio figures, deliveries and funnel, largest improvements.
PORTFOLIO_SELECTOR_QUERIES = 6
# The selector's, plus session, user, role and organisation (whether an executive is one of an
# organisation's), the filter's client, provider and area choices, which scores of the page rest on
# contested figures, and the people recognised (their contributions; names only when any).
PORTFOLIO_PAGE_QUERIES = {Role.EXECUTIVE: 15, Role.ACCOUNT_MANAGER: 15}
# Session, user, role, organisation; the relationship with its areas, managers and leadership
# pairs; the score history; projects and their KPIs with latest values; the peer benchmarks of its
# areas (one query for every cohort, whatever the portfolio's size); the month's discussion and the
# contests its score rests on; the last quarter's pulse (its sums, contests of the year); the
# people recognised.
RELATIONSHIP_PAGE_QUERIES = 17


def build(size: int) -> list[int]:
    """A generated portfolio of `size` relationships with 12 months of scores from the roll-up."""
    UserFactory(username="manager", role=Role.ACCOUNT_MANAGER)
    result = ScalePortfolio(count=size).run()
    assert result.scores == 12 * size
    return result.relationship_ids


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_queries_do_not_grow_with_the_portfolio(size, client, django_assert_num_queries):
    from web.dashboards import portfolio_dashboard

    ids = build(size)
    executive = UserFactory(role=Role.EXECUTIVE)
    manager = User.objects.get(username="manager")

    role_of(executive), user_organization_id(executive)  # read once per request, as a page does
    with django_assert_num_queries(PORTFOLIO_SELECTOR_QUERIES):
        dashboard = portfolio_dashboard(user=executive, sort="-change")
        rows = list(dashboard.page)
    assert dashboard.stats.relationships == len(ids) == size
    assert len(rows) == min(size, 25)
    assert all(len(dashboard.sparklines[row.pk]) == 12 for row in rows)

    for role, user in ((Role.EXECUTIVE, executive), (Role.ACCOUNT_MANAGER, manager)):
        client.force_login(user)
        with django_assert_num_queries(PORTFOLIO_PAGE_QUERIES[role]):
            response = client.get(reverse("home"), {"sort": "change"})
        assert response.status_code == 200
        # Filtered by a tier the user's relationships have (an empty result would skip queries).
        tier = (
            RelationshipScore.objects.filter(relationship__in=visible_relationships(user), period=month(0, 1))
            .values_list("tier", flat=True)
            .first()
        )
        with django_assert_num_queries(PORTFOLIO_PAGE_QUERIES[role]):
            response = client.get(reverse("home"), {"tier": tier, "page": "2"})
        assert response.status_code == 200 and response.context["stats"].relationships >= 1

    # The relationship tracking the most KPIs: its page costs what any other's does.
    busiest = (
        Relationship.objects.annotate(kpi_count=Count("projects__project_kpis"))
        .order_by("-kpi_count")
        .first()
    )
    assert busiest.kpi_count >= 1
    client.force_login(executive)
    with django_assert_num_queries(RELATIONSHIP_PAGE_QUERIES):
        response = client.get(reverse("relationship-dashboard", args=[busiest.pk]))
    assert response.status_code == 200
    assert len(response.context["history"]) == 12

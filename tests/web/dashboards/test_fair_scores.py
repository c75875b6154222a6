"""Scores fair to new work on the pages (DESIGN §4): new relationships, no delivery, Δ quarter."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from kpis import rollup
from tests.factories import ClientFactory, ProjectFactory, RelationshipFactory
from tests.web.dashboards.conftest import TODAY, month, score_row
from web.dashboards import portfolio_dashboard, relationship_dashboard

pytestmark = pytest.mark.django_db


@pytest.fixture
def newcomer():
    """A relationship whose contract began three weeks ago and that has delivered nothing, rolled up
    by the real roll-up (so its row is what production stores)."""
    relationship = RelationshipFactory(
        name="Newcomer", client=ClientFactory(name="Client New"), contract_start=TODAY - dt.timedelta(days=21)
    )
    rollup.rollup_scores(period=TODAY, relationship_ids=[relationship.pk])
    row = relationship.scores.get()
    assert (row.is_new, row.score, row.basis) == (True, Decimal("0"), ["continuity"])
    return relationship


@pytest.fixture
def idle():
    """A long-standing relationship with no delivery in the last 12 months: a real 0, at risk."""
    relationship = RelationshipFactory(name="Idle", client=ClientFactory(name="Client Idle"))
    rollup.rollup_scores(period=TODAY, relationship_ids=[relationship.pk])
    return relationship


def test_new_relationship_is_not_an_at_risk_zero_on_the_portfolio(newcomer, idle, executive):
    dashboard = portfolio_dashboard(user=executive)
    rows = {relationship.name: relationship for relationship in dashboard.page}
    new = rows["Newcomer"]
    assert (new.current_is_new, new.current_score, new.current_tier, new.score_change) == (
        True,
        None,
        None,
        None,
    )
    stats = dashboard.stats
    # Only the idle relationship is an at-risk 0; the new one is counted apart, and not in the median.
    assert stats.tier_counts == {"high_performing": 0, "steady": 0, "at_risk": 1}
    assert (stats.scored, stats.new, stats.unscored, stats.relationships) == (1, 1, 0, 2)
    assert sum(sum(bin_["counts"].values()) for bin_ in stats.bins) == 1
    assert stats.median_now == Decimal("0")
    # The at-risk view and the lowest scores leave it out or last.
    at_risk = portfolio_dashboard(user=executive, params={"tier": "at_risk"})
    assert [r.name for r in at_risk.page] == ["Idle"]
    assert [r.name for r in portfolio_dashboard(user=executive, sort="score").page] == ["Idle", "Newcomer"]


def test_portfolio_page_says_new_and_names_the_reason_for_a_zero(newcomer, idle, executive, client):
    client.force_login(executive)
    html = client.get(reverse("home")).content.decode()
    new_row = html[html.index(f'data-relationship="{newcomer.pk}"') :].split("</tr>")[0]
    assert "New — not scored yet" in new_row and "At risk" not in new_row
    assert 'data-score-reason="new"' in new_row
    idle_row = html[html.index(f'data-relationship="{idle.pk}"') :].split("</tr>")[0]
    assert "no delivery in the last 12 months" in idle_row and "At risk" in idle_row
    assert '<li data-tier="new">' in html


def test_relationship_pages_show_new_instead_of_zero(newcomer, executive, client):
    client.force_login(executive)
    dashboard = client.get(reverse("relationship-dashboard", args=[newcomer.pk]))
    html = dashboard.content.decode()
    assert "New — not scored yet" in html and "Why no score yet?" in html
    assert "Why 0.0?" not in html
    assert dashboard.context["charts"]["history"]["score"] == [None]  # a gap, not a 0
    detail = client.get(reverse("relationship-detail", args=[newcomer.pk])).content.decode()
    assert "New — not scored yet" in detail and 'data-score-reason="new"' in detail
    listing = client.get(reverse("relationship-list")).content.decode()
    assert "New — not scored yet" in listing


def test_no_delivery_in_twelve_months_is_named_where_the_score_is_explained(idle, executive, client):
    dashboard = relationship_dashboard(user=executive, pk=idle.pk)
    assert (dashboard.why.no_delivery, dashboard.why.is_new) == (True, False)
    client.force_login(executive)
    html = client.get(reverse("relationship-dashboard", args=[idle.pk])).content.decode()
    why = html[html.index('id="why"') :]
    assert 'data-score-reason="no-delivery"' in why
    # Impact, attainment and realisation name the reason rather than showing a dash alone.
    assert why.count("no delivery in the last 12 months") >= 3
    detail = client.get(reverse("relationship-detail", args=[idle.pk])).content.decode()
    assert "No delivery in the last 12 months" in detail


def test_improving_most_compares_like_with_like_and_leaves_out_a_partial_recovery(executive, client):
    steady_riser = RelationshipFactory(name="Riser")
    for offset, value in [(-6, "40.0"), (-3, "45.0"), (0, "55.0")]:
        score_row(steady_riser, offset, value)
    rebound = RelationshipFactory(name="Rebound")  # fell from 80 to 30, partly recovered to 60
    for offset, value in [(-6, "80.0"), (-3, "30.0"), (0, "60.0")]:
        score_row(rebound, offset, value)
    # No score for exactly a quarter earlier: its latest older row is not a like-for-like reference.
    gap = RelationshipFactory(name="Gap")
    score_row(gap, -5, "10.0")
    score_row(gap, 0, "50.0")
    # New a quarter earlier (stored 0): rising from "not scored" is no improvement of 50 points.
    was_new = RelationshipFactory(name="Was new")
    score_row(was_new, -3, "0.0", is_new=True)
    score_row(was_new, 0, "50.0")

    dashboard = portfolio_dashboard(user=executive, sort="-improving")
    rows = {relationship.name: relationship for relationship in dashboard.page}
    assert next(iter(dashboard.page)).name == "Riser"
    assert (rows["Riser"].score_change, rows["Riser"].improving_change) == (Decimal("10"), Decimal("10"))
    # The rebound's Δ quarter is +30 against the trough, but it is not ranked as improving.
    assert (rows["Rebound"].score_change, rows["Rebound"].improving_change) == (Decimal("30"), None)
    assert rows["Gap"].score_change is None and rows["Was new"].score_change is None
    # The Δ quarter column still sorts by the plain change (rebound first).
    assert [r.name for r in portfolio_dashboard(user=executive, sort="-change").page][:2] == [
        "Rebound",
        "Riser",
    ]

    client.force_login(executive)
    html = client.get(reverse("home"), {"sort": "-improving"}).content.decode()
    note = html[html.index("data-delta-note") :].split("</span>")[0]
    # Months read in the one style of presentation.formatting ("Dec 2026").
    assert f"{month(0, 1):%b %Y} minus the score for {month(-3, 1):%b %Y}" in note
    assert f"{month(-6, 1):%b %Y}" in note
    assert 'href="?sort=-improving" aria-current="page"' in html


def test_why_this_score_names_projects_left_out_in_their_grace_period(executive, client):
    relationship = RelationshipFactory(name="Fresh delivery")
    delivered_recently = ProjectFactory(
        relationship=relationship,
        stage="delivered",
        started_on=TODAY - dt.timedelta(days=90),
        delivered_on=TODAY - dt.timedelta(days=7),
        expected_annual_benefit=Decimal("500000.00"),
    )
    rollup.rollup_scores(period=TODAY, relationship_ids=[relationship.pk])
    row = relationship.scores.get()
    assert (row.realisation, row.components["realisation"]["projects_in_grace"]) == (None, 1)
    assert delivered_recently.realised_annual_benefit is None
    client.force_login(executive)
    html = client.get(reverse("relationship-dashboard", args=[relationship.pk])).content.decode()
    why = html[html.index('id="why"') :]
    realisation = why[why.index('data-component="realisation"') :].split("</tr>")[0]
    assert (
        "1 project delivered in the last six months without a realised benefit recorded left out"
        in realisation
    )

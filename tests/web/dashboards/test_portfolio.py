"""The portfolio dashboard: its figures against values computed here, scoping, filters and sorting."""

import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from projects.access import Role
from tests.factories import UserFactory
from tests.web.dashboards.conftest import month
from web.dashboards import portfolio_dashboard

pytestmark = pytest.mark.django_db


def figures(dashboard) -> dict:
    found = {figure.key: (figure.value, figure.earlier) for figure in dashboard.figures}
    realised = dashboard.realised[0]
    found["realised"] = (realised.value, realised.earlier, realised.unit)
    return found


def test_headline_figures_match_values_computed_here(book, executive):
    dashboard = portfolio_dashboard(user=executive)
    assert figures(dashboard) == {
        # now: R1, R2, R3, R5 (R4 ended); a quarter ago: R1, R2, R3, R4 (R5 had not started)
        "active": (4, 4),
        # now: R1 −1 and −5 months, R2 −2; a quarter ago: R1 −5 and −13 months
        "delivered": (3, 2),
        "median": ((Decimal("48.8") + Decimal("30.0")) / 2, Decimal("55.0")),
        "realised": (Decimal("150000"), Decimal("120000"), "USD"),
    }
    assert [figure.change for figure in dashboard.figures] == [0, 1, Decimal("-15.6")]


def test_scoreboard_rows_carry_current_score_components_and_twelve_month_trend(book, executive):
    dashboard = portfolio_dashboard(user=executive)
    rows = {relationship.name: relationship for relationship in dashboard.page}
    assert list(rows) == ["R1", "R2", "R3", "R4", "R5"]  # by score, unscored last
    r1 = rows["R1"]
    assert (r1.current_score, r1.current_tier, r1.score_change) == (
        Decimal("72.5"), "high_performing", Decimal("12.5"),
    )  # fmt: skip
    assert (r1.current_impact, r1.current_continuity, r1.current_projects_delivered) == (
        Decimal("0.8"), Decimal("0.75"), 2,
    )  # fmt: skip
    trend = dashboard.sparklines[r1.pk]
    assert [point["period"] for point in trend] == [month(offset, 1) for offset in range(-11, 1)]
    assert [point["score"] for point in trend] == [
        *(Decimal(50 + i) for i in range(8)), Decimal("60"), Decimal("65"), Decimal("70"), Decimal("72.5"),
    ]  # fmt: skip
    assert rows["R5"].current_score is None and dashboard.sparklines[rows["R5"].pk] == []


def test_page_shows_the_figures_and_embeds_chart_data(book, executive, client):
    client.force_login(executive)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    page = response.content.decode()

    def figure(key):
        match = re.search(rf'data-figure="{key}">(.*?)</article>', page, re.S)
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()

    assert figure("active").startswith("Active relationships 4 ±0")
    assert figure("delivered").startswith("Projects delivered, last 12 months 3 +1")
    assert "150 k USD" in figure("realised") and "+30.0 k USD" in figure("realised")
    # A compact headline amount always carries the exact amount as its tooltip.
    assert '<span title="150,000 USD">150 k USD</span>' in page
    assert '<span title="+30,000 USD">+30.0 k USD</span>' in page
    assert figure("median").startswith("Median relationship score 39.4 −15.6")
    charts = json.loads(re.search(r'id="portfolio-charts"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert charts["stages"]["values"] == [1, 1, 1, 1, 5, 1]
    assert charts["quarters"]["values"] == [0, 1, 0, 1, 0, 0, 1, 2]
    assert charts["sparklines"][str(book["r1"].pk)]["values"][-1] == 72.5
    assert 'src="/static/vendor/chartjs/chart.umd.min.js"' in page
    assert reverse("relationship-dashboard", args=[book["r6"].pk]) not in page  # deleted
    assert reverse("home") == "/"


def test_account_manager_sees_only_the_figures_of_assigned_relationships(book, account_manager):
    dashboard = portfolio_dashboard(user=account_manager)
    assert [r.name for r in dashboard.page] == ["R1"]
    assert figures(dashboard) == {
        "active": (1, 1),
        "delivered": (2, 2),
        "median": (Decimal("72.5"), Decimal("60.0")),
        "realised": (Decimal("150000"), Decimal("120000"), "USD"),
    }
    stages = {stage["stage"]: stage["count"] for stage in dashboard.funnel.stages}
    assert stages["delivered"] == 3 and stages["proposed"] == 0
    assert [pk.project.title for pk in dashboard.improvements] == ["R1 recent"]


def test_client_viewer_sees_only_their_organisation(book, client):
    viewer = UserFactory(role=Role.CLIENT_VIEWER, organization=book["r2"].client)
    client.force_login(viewer)
    page = client.get(reverse("home")).content.decode()
    assert "Client Two" in page
    for other in ("Client One", "Client Three", "Client Four", "Client Five"):
        assert other not in page


def test_user_without_role_sees_an_empty_dashboard(book, client):
    client.force_login(UserFactory())
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert response.context["stats"].relationships == 0


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302 and reverse("login") in response.url


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tier": "at_risk"}, ["R3", "R4"]),
        ({"tier": "steady"}, ["R2"]),
        ({"provider": "Provider Beta"}, ["R3", "R4"]),
        ({"client": "Client Two"}, ["R2"]),
        ({"process_area": "claims"}, ["R1"]),
        ({"q": "five"}, ["R5"]),
    ],
)
def test_filters_narrow_scoreboard_and_figures(book, executive, params, expected):
    from projects.models import Organization

    params = {
        key: str(Organization.objects.get(name=value).pk) if key in ("client", "provider") else value
        for key, value in params.items()
    }
    dashboard = portfolio_dashboard(user=executive, params=params)
    assert [r.name for r in dashboard.page] == expected
    assert dashboard.stats.relationships == len(expected)


def test_tier_filter_applies_to_the_funnel_too(book, executive):
    dashboard = portfolio_dashboard(user=executive, params={"tier": "steady"})
    stages = {stage["stage"]: stage["count"] for stage in dashboard.funnel.stages}
    assert stages == {
        "idea": 0,
        "proposed": 1,
        "approved": 1,
        "in_progress": 0,
        "delivered": 1,
        "cancelled": 0,
    }
    assert figures(dashboard)["delivered"] == (1, 0)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("change", ["R2", "R3", "R1", "R4", "R5"]),  # slipping most first; no change known last
        ("-change", ["R1", "R3", "R2", "R4", "R5"]),
        ("score", ["R4", "R3", "R2", "R1", "R5"]),
        ("client", ["R5", "R4", "R1", "R3", "R2"]),
        ("-delivered", ["R1", "R2", "R3", "R4", "R5"]),
        ("nonsense", ["R1", "R2", "R3", "R4", "R5"]),
    ],
)
def test_scoreboard_sorts(book, executive, sort, expected):
    dashboard = portfolio_dashboard(user=executive, sort=sort)
    assert [r.name for r in dashboard.page] == expected


def test_scoreboard_headers_sort_numbers_largest_first_and_reverse_the_current_column(
    book, executive, client
):
    client.force_login(executive)
    columns = {
        c["key"]: c for c in client.get(reverse("home"), {"sort": "-score", "tier": ""}).context["columns"]
    }
    assert columns["score"]["aria_sort"] == "descending" and columns["score"]["query"] == "tier=&sort=score"
    assert columns["impact"]["aria_sort"] is None and columns["impact"]["query"] == "tier=&sort=-impact"
    assert columns["tier"]["query"] == "tier=&sort=-tier"  # the best tier first, like the score
    assert columns["client"]["query"] == "tier=&sort=client"
    assert columns[None]["query"] is None  # the sparkline column is not sortable


def test_bad_filter_input_shows_a_message_and_the_whole_portfolio(book, executive, client):
    client.force_login(executive)
    response = client.get(reverse("home"), {"client": "not-a-number", "tier": "bogus", "page": "999"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="form-errors" role="alert"' in page
    assert "Select a valid choice" in page
    assert response.context["stats"].relationships == 5


def test_scoreboard_paginates(book, executive):
    first = portfolio_dashboard(user=executive, page_size=2)
    second = portfolio_dashboard(user=executive, page_size=2, page_number=2)
    assert [r.name for r in first.page] == ["R1", "R2"]
    assert [r.name for r in second.page] == ["R3", "R4"]
    assert set(second.sparklines) == {r.pk for r in second.page}
    assert first.stats.relationships == 5  # the figures cover every page

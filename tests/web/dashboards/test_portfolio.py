"""The portfolio dashboard: its figures against values computed here, scoping, filters and sorting."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from projects import services as project_services
from projects.access import Role
from projects.models import ProcessArea
from tests.factories import ClientFactory, ProjectFactory, ProviderFactory, RelationshipFactory, UserFactory
from tests.web.dashboards.conftest import TODAY, cancelled, delivered, month, score_row, track
from web.dashboards import portfolio_dashboard

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(kpis, account_manager):
    """Five live relationships and a deleted one, with the figures each should contribute."""
    provider_a = ProviderFactory(name="Provider Alpha")
    provider_b = ProviderFactory(name="Provider Beta")
    claims = ProcessArea.objects.get(code="claims")
    r1 = RelationshipFactory(
        name="R1", client=ClientFactory(name="Client One"), provider=provider_a,
        account_managers=[account_manager], process_areas=[claims],
    )  # fmt: skip
    r2 = RelationshipFactory(name="R2", client=ClientFactory(name="Client Two"), provider=provider_a)
    r3 = RelationshipFactory(name="R3", client=ClientFactory(name="Client Three"), provider=provider_b)
    r4 = RelationshipFactory(
        name="R4", client=ClientFactory(name="Client Four"), provider=provider_b, status="ended",
        contract_start=dt.date(2022, 1, 1), contract_end=TODAY - dt.timedelta(days=60),
    )  # fmt: skip
    r5 = RelationshipFactory(
        name="R5", client=ClientFactory(name="Client Five"), provider=provider_a,
        contract_start=TODAY - dt.timedelta(days=20),
    )  # fmt: skip
    r6 = RelationshipFactory(name="R6", client=ClientFactory(name="Client Six"), provider=provider_b)

    # Scores: R1 rises to 72.5, R2 falls to 48.8, R3 to 30.0; R4 only now; R5 never; R6 is deleted.
    score_row(r1, -12, "40.0")
    for offset in range(-11, -3):
        score_row(r1, offset, str(50 + offset + 11))
    score_row(r1, -3, "60.0")
    score_row(r1, -2, "65.0")
    score_row(r1, -1, "70.0")
    score_row(
        r1, 0, "72.5", impact=Decimal("0.8"), attainment=Decimal("0.5"), realisation=Decimal("0.9"),
        continuity=Decimal("0.75"), projects_delivered=2,
    )  # fmt: skip
    score_row(r2, -3, "55.0")
    score_row(r2, 0, "48.8", impact=Decimal("0.607143"), continuity=Decimal("0.25"), projects_delivered=1)
    score_row(r2, 1, "99.0")  # a month not yet reached is never "current"
    score_row(r3, -3, "35.0")
    score_row(r3, 0, "30.0")
    score_row(r4, 0, "10.0")
    score_row(r6, 0, "99.0")

    # Projects. R1: three delivered (one outside the 12 months), one of each open stage, one
    # cancelled, one delivered then deleted.
    r1_recent = delivered(r1, month(-1), realised="100000", expected="120000", title="R1 recent")
    track(r1_recent, kpis["yield"], "80", (month(-1, 20), "70"))  # worse: −12.5 %
    track(r1_recent, kpis["rework"], "0", (month(-1, 20), "52"))  # zero baseline: no improvement
    delivered(r1, month(-5), realised="50000")
    r1_old = delivered(r1, month(-13), realised="70000")
    track(r1_old, kpis["fill"], "10", (month(-12), "50"))  # +400 %, but delivered before the window
    ProjectFactory(relationship=r1, stage="in_progress", proposed_on=month(-4), started_on=month(-3))
    ProjectFactory(relationship=r1, stage="idea")
    cancelled(r1)
    gone = delivered(r1, month(-1), realised="999")
    project_services.project_delete(actor=None, project=gone)
    # R2: the published aerospace case, a proposed and an approved project.
    aerospace = delivered(r2, month(-2), title="Vendor management", level="process")
    track(aerospace, kpis["fill"], "60", (month(-3), "72"), (month(-2), "85"))
    track(aerospace, kpis["turnaround"], "21", (month(-3), "19"), (month(-2), "17"))
    ProjectFactory(relationship=r2, stage="proposed", proposed_on=month(-2))
    ProjectFactory(relationship=r2, stage="approved", proposed_on=month(-2))
    # R3 delivered long ago; R6's delivery disappears with the relationship.
    delivered(r3, month(-20), realised="5000")
    delivered(r6, month(-1), realised="1000000")
    project_services.relationship_delete(actor=None, relationship=r6)
    return {"r1": r1, "r2": r2, "r3": r3, "r4": r4, "r5": r5, "r6": r6, "aerospace": aerospace}


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


def test_tier_counts_and_distribution_cover_every_relationship(book, executive):
    stats = portfolio_dashboard(user=executive).stats
    assert stats.tier_counts == {"high_performing": 1, "steady": 1, "at_risk": 2}
    assert (stats.scored, stats.unscored, stats.relationships) == (4, 1, 5)
    bins = {b["label"]: b["counts"] for b in stats.bins}
    assert bins["70–80"] == {"high_performing": 1, "steady": 0, "at_risk": 0}
    assert bins["40–50"] == {"high_performing": 0, "steady": 1, "at_risk": 0}
    assert bins["30–40"]["at_risk"] == 1 and bins["10–20"]["at_risk"] == 1
    assert sum(sum(counts.values()) for counts in bins.values()) == 4


def test_funnel_counts_stages_levels_and_quarters(book, executive):
    dashboard = portfolio_dashboard(user=executive)
    stages = {stage["stage"]: stage["count"] for stage in dashboard.funnel.stages}
    assert stages == {
        "idea": 1, "proposed": 1, "approved": 1, "in_progress": 1, "delivered": 5, "cancelled": 1,
    }  # fmt: skip
    levels = {level["level"]: level["count"] for level in dashboard.funnel.levels}
    assert levels == {"operational": 8, "process": 1, "strategic": 0}
    # Eight quarters ending this month: R3's at −20 months, R1's at −13 and −5, R1's and R2's at −1/−2.
    assert [q["delivered"] for q in dashboard.deliveries.quarters] == [0, 1, 0, 1, 0, 0, 1, 2]
    assert dashboard.deliveries.quarters[-1]["end"] == month(1, 1) - dt.timedelta(days=1)


def test_largest_improvements_are_ranked_and_exact(book, executive):
    improvements = portfolio_dashboard(user=executive).improvements
    assert [(pk.kpi.code, pk.project.title) for pk in improvements] == [
        ("fill_rate", "Vendor management"),
        ("turnaround", "Vendor management"),
        ("first_pass", "R1 recent"),
    ]
    assert [pk.improvement_pct for pk in improvements] == [
        Decimal(25) / 60 * 100,  # 60 → 85
        Decimal(4) / 21 * 100,  # 21 h → 17 h, lower is better
        Decimal(-10) / 80 * 100,  # 80 → 70
    ]


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

"""The relationship dashboard: score history, "why this score", KPIs before/after, benefits, scoping."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from kpis.explanation import ScoreExplanation
from projects import services as project_services
from tests.factories import ProjectFactory, RelationshipFactory
from tests.web.dashboards.conftest import (
    cancelled,
    delivered,
    month,
    score_row,
    track,
    worked_example_components,
)
from web.dashboards import relationship_dashboard

pytestmark = pytest.mark.django_db

HISTORY = {offset: Decimal(value) for offset, value in zip(range(-11, 1), [
    "0.0", "0.0", "12.5", "20.0", "25.0", "31.3", "38.0", "41.2", "44.9", "46.0", "47.5", "48.8",
], strict=True)}  # fmt: skip


@pytest.fixture
def aerospace(kpis, portfolio):
    """The published aerospace case on the account manager's relationship, scored for 12 months."""
    relationship = portfolio["rel_a"]
    project_services.relationship_set_leadership(
        actor=None, relationship=relationship, client_leader="Ada COO", provider_leader="Ben Lead",
        started_on=month(-30),
    )  # fmt: skip
    project = delivered(
        relationship, month(-2), title="Third-party vendor management", level="process",
        expected="1200000", realised="1050000",
    )  # fmt: skip
    fill = track(project, kpis["fill"], "60", (month(-3), "72"), (month(-2), "85"))
    turnaround = track(project, kpis["turnaround"], "21", (month(-3), "19"), (month(-2), "17"))
    rework = track(project, kpis["rework"], "0", (month(-2), "52"), target="50")
    ProjectFactory(relationship=relationship, title="Next idea", stage="idea")
    ProjectFactory(relationship=relationship, title="Under way", stage="in_progress", started_on=month(-1))
    cancelled(relationship)
    for offset, value in HISTORY.items():
        if offset == 0:
            components = worked_example_components(
                project, [(fill, "85.0000", month(-2), "41.67"), (turnaround, "17.0000", month(-2), "19.05")]
            )
            score_row(
                relationship, 0, str(value), impact=Decimal("0.607143"), continuity=Decimal("0.25"),
                basis=["impact", "continuity"], components=components, projects_delivered=1, kpis_measured=2,
            )  # fmt: skip
        else:
            score_row(relationship, offset, str(value))
    score_row(relationship, -24, "5.0")  # older than the two years shown
    return {
        "relationship": relationship, "project": project, "fill": fill, "turnaround": turnaround,
        "rework": rework,
    }  # fmt: skip


def test_score_history_is_the_stored_monthly_scores(aerospace, executive):
    dashboard = relationship_dashboard(user=executive, pk=aerospace["relationship"].pk)
    assert [(row.period, row.score) for row in dashboard.history] == [
        (month(offset, 1), value) for offset, value in HISTORY.items()
    ]
    assert dashboard.score.period == month(0, 1)
    assert dashboard.score_change == HISTORY[0] - HISTORY[-3]


def test_why_this_score_components_add_up_to_the_score(aerospace, executive):
    why = relationship_dashboard(user=executive, pk=aerospace["relationship"].pk).why
    rows = {row.name: row for row in why.components}
    assert why.basis == ["impact", "continuity"]
    assert why.weight_total == Decimal("0.6")
    assert rows["impact"].value == Decimal("0.607143")
    assert rows["attainment"].value is None and rows["attainment"].points is None
    # 100 × (0.4 × 0.607143 + 0.2 × 0.25) ÷ 0.6 = 48.8 (DESIGN.md §4, worked example)
    expected = (
        Decimal(100)
        * (Decimal("0.4") * Decimal("0.607143") + Decimal("0.2") * Decimal("0.25"))
        / Decimal("0.6")
    )
    assert abs(why.points_total - expected) < Decimal("0.0001")
    assert why.points_total.quantize(Decimal("0.1")) == Decimal("48.8")
    [project] = why.projects
    assert project.id == aerospace["project"].pk
    assert [kpi.project_kpi_id for kpi in project.kpis] == [
        aerospace["fill"].pk,
        aerospace["turnaround"].pk,
    ]
    assert [q.delivered for q in why.quarters] == [0, 0, 0, 1]


def test_why_for_an_earlier_month_is_that_months_row(aerospace, executive):
    dashboard = relationship_dashboard(user=executive, pk=aerospace["relationship"].pk, month=month(-4))
    assert dashboard.score.period == month(-4, 1) and dashboard.score.score == HISTORY[-4]
    assert dashboard.earlier_score.score == HISTORY[-7]


def test_explain_rescales_weights_when_a_score_row_lacks_them(aerospace):
    score = aerospace["relationship"].scores.get(period=month(0, 1))
    score.components = {}
    why = ScoreExplanation.of_score(score)
    rows = {row.name: row for row in why.components}
    assert rows["impact"].weight_used == Decimal("0.4") / Decimal("0.6")
    assert why.points_total.quantize(Decimal("0.1")) == Decimal("48.8")


def test_relationship_page_and_dashboard_show_a_component_the_same_way(aerospace, executive, client):
    """One rounding for a component: the relationship page, the dashboard's "why" table and its
    score history all write 0.607143 as 60.71 % (and a component left out as no value)."""
    client.force_login(executive)
    relationship = aerospace["relationship"]
    page = client.get(reverse("relationship-detail", args=[relationship.pk])).content.decode()
    dashboard = client.get(reverse("relationship-dashboard", args=[relationship.pk])).content.decode()

    def text(html):
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()

    def on_page(name):
        row = re.search(rf'<tr data-component="{name}"[^>]*>(.*?)</tr>', page, re.S).group(1)
        return text(re.search(r"<td[^>]*data-value>(.*?)</td>", row, re.S).group(1))

    def in_why(name):
        why = dashboard.split('<table class="why-components', 1)[1]
        row = re.search(rf'<tr data-component="{name}"[^>]*>(.*?)</tr>', why, re.S).group(1)
        return text(re.search(r"<td[^>]*data-value>(.*?)</td>", row, re.S).group(1))

    def in_history(name):
        current = re.search(r'<tr aria-current="true"[^>]*>(.*?)</tr>', dashboard, re.S).group(1)
        return text(re.search(rf'<td[^>]*data-component="{name}">(.*?)</td>', current, re.S).group(1))

    assert on_page("impact") == in_why("impact") == in_history("impact") == "60.71 %"
    assert on_page("continuity") == in_why("continuity") == in_history("continuity") == "25.00 %"
    assert on_page("attainment") == "no data — left out"
    assert in_why("attainment") == in_history("attainment") == "—"


def test_page_shows_history_why_kpis_benefits_and_leadership(aerospace, executive, client):
    client.force_login(executive)
    url = reverse("relationship-dashboard", args=[aerospace["relationship"].pk])
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    charts = json.loads(re.search(r'id="relationship-charts"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert charts["history"]["score"] == [float(value) for value in HISTORY.values()]
    assert charts["history"]["components"]["impact"][-1] == pytest.approx(60.7143)
    assert [band["low"] for band in charts["history"]["bands"]] == [70.0, 40.0, 0.0]
    assert charts["stages"]["values"] == [1, 0, 0, 1, 1, 1]
    # KPI before/after: fill and turnaround charted (indexed to 100), rework (baseline 0) only tabled
    assert charts["kpis"]["after"] == [pytest.approx(85 / 60 * 100), pytest.approx(17 / 21 * 100)]
    assert charts["kpis"]["change"] == [1, 1]
    assert charts["benefits"] == {
        "labels": ["Third-party vendor management"], "expected": [1200000.0], "realised": [1050000.0],
    }  # fmt: skip

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "Why 48.8?" in text
    assert "score = 100 × ( 0.4 × 0.6071 impact + 0.2 × 0.2500 continuity ) ÷ 0.6 = 48.8" in text
    assert "level-weighted mean impact 30.36 %" in text
    for shown in ("+41.67 %", "+19.05 %", "60 %", "85 %", "21 h", "17 h"):
        assert shown in text
    rework_row = re.search(rf'data-project-kpi="{aerospace["rework"].pk}">(.*?)</tr>', page, re.S).group(1)
    assert "—" in rework_row and "104.00 %" in rework_row  # no improvement from 0; target achieved 52/50
    assert "Ada COO" in text and "Ben Lead" in text
    assert "1,050,000 USD" in text and "87.50 %" in text


def test_month_parameter_selects_the_explained_month_and_ignores_nonsense(aerospace, executive, client):
    client.force_login(executive)
    url = reverse("relationship-dashboard", args=[aerospace["relationship"].pk])
    earlier = client.get(url, {"month": month(-4, 1).strftime("%Y-%m")})
    assert earlier.context["score"].score == HISTORY[-4]
    for nonsense in ("2026-13", "yesterday", "1999-01"):
        response = client.get(url, {"month": nonsense})
        assert response.status_code == 200 and response.context["score"].score == HISTORY[0]


def test_relationship_without_scores_or_projects_renders(executive, client):
    relationship = RelationshipFactory(name="Quiet one")
    client.force_login(executive)
    response = client.get(reverse("relationship-dashboard", args=[relationship.pk]))
    assert response.status_code == 200
    assert "No stored scores yet" in response.content.decode()


def test_relationships_outside_scope_are_not_found(
    aerospace, portfolio, account_manager, client_viewer_a, executive, client
):
    hidden = reverse("relationship-dashboard", args=[portfolio["rel_b"].pk])
    visible = reverse("relationship-dashboard", args=[aerospace["relationship"].pk])
    for user in (account_manager, client_viewer_a):
        client.force_login(user)
        assert client.get(hidden).status_code == 404
        assert client.get(visible).status_code == 200
    project_services.relationship_delete(actor=None, relationship=portfolio["rel_b"])
    client.force_login(executive)
    assert client.get(hidden).status_code == 404  # deleted
    assert client.get(reverse("relationship-dashboard", args=[999999])).status_code == 404


def test_portfolio_scoreboard_links_to_the_relationship_dashboard(aerospace, executive, client):
    client.force_login(executive)
    page = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("relationship-dashboard", args=[aerospace["relationship"].pk])}"' in page


def test_benefits_show_gain_share_per_project_where_agreed_and_the_total(executive, client):
    relationship = RelationshipFactory(currency="EUR")
    today = relationship_dashboard(user=executive, pk=relationship.pk).as_of.today
    first = delivered(
        relationship, today - dt.timedelta(days=40), realised="250000", expected="300000", title="A"
    )
    second = delivered(
        relationship, today - dt.timedelta(days=50), realised="80000", expected="60000", title="B"
    )
    delivered(relationship, today - dt.timedelta(days=60), realised="10000", expected="20000", title="C")
    for project, pct, baseline in ((first, "20", "100000"), (second, "12.5", "50000")):
        project_services.project_update(
            actor=None,
            project=project,
            changes=project_services.ProjectFields(
                gain_share_pct=Decimal(pct), gain_share_baseline=Decimal(baseline)
            ),
        )
    client.force_login(executive)
    response = client.get(reverse("relationship-dashboard", args=[relationship.pk]))
    assert response.context["gain_share_totals"] == {"EUR": Decimal("33750")}  # 30,000 + 3,750
    table = re.search(r'data-table="benefits">(.*?)</table>', response.content.decode(), re.S).group(1)
    rows = {
        name: re.sub(r"<[^>]+>", " ", cells)
        for name, cells in re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', table, re.S)
    }
    assert "30,000 EUR" in rows["A"] and "3,750 EUR" in rows["B"] and "not agreed" in rows["C"]
    assert "33,750 EUR" in rows["Total"]


def test_benefits_without_any_gain_share_agreement_have_no_gain_share_column(executive, client):
    relationship = RelationshipFactory()
    today = relationship_dashboard(user=executive, pk=relationship.pk).as_of.today
    delivered(relationship, today - dt.timedelta(days=40), realised="250000", expected="300000")
    client.force_login(executive)
    response = client.get(reverse("relationship-dashboard", args=[relationship.pk]))
    assert response.context["gain_share_totals"] == {}
    assert "Gain-share" not in response.content.decode()

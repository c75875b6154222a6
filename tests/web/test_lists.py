"""Relationship and project lists: scoping, scores, filters, sorting, pagination, CSV, query counts."""

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse

from kpis.models import RelationshipScore
from projects import access
from projects.access import Role
from projects.models import Relationship
from tests.factories import (
    KPIFactory,
    MeasurementFactory,
    ProjectFactory,
    ProjectKPIFactory,
    RelationshipFactory,
    UserFactory,
)
from web.views import pickers

pytestmark = pytest.mark.django_db


def score_row(relationship, score="48.80", tier="steady", period=None):
    """A stored score row, as the roll-up leaves it (the pages only read these)."""
    period = period or dt.date.today().replace(day=1)
    return RelationshipScore.objects.create(
        relationship=relationship,
        period=period,
        score=Decimal(score),
        tier=tier,
        impact=Decimal("0.607143"),
        continuity=Decimal("0.25"),
        basis=["impact", "continuity"],
        projects_delivered=1,
        kpis_measured=2,
    )


def rows_of(response) -> list[list[str]]:
    """The project table's cells, as text, in page order."""
    import re
    from html import unescape

    html = response.content.decode()
    body = html.split('<table class="data" id="project-table">', 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        rows.append([unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells])
    return rows


# --- Relationships ----------------------------------------------------------------------------


def test_relationship_list_shows_score_tier_and_projects_in_flight(client, account_manager, portfolio):
    # In flight: approved and in progress; ideas, proposals and closed work are not counted.
    for stage in ("idea", "proposed", "approved", "in_progress", "cancelled"):
        ProjectFactory(relationship=portfolio["rel_a"], stage=stage)
    score_row(portfolio["rel_a"], score="72.50", tier="high_performing")
    client.force_login(account_manager)
    response = client.get(reverse("relationship-list"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "A with provider" in page and "B with provider" not in page
    assert "72.5" in page and "High-performing" in page
    relationship = response.context["page"][0]
    assert relationship.projects_in_flight == 2


def test_relationship_list_says_not_scored_when_no_score(client, account_manager, portfolio):
    client.force_login(account_manager)
    assert "not scored yet" in client.get(reverse("relationship-list")).content.decode()


def test_relationship_list_query_count_is_flat_with_many_rows(client, executive, django_assert_num_queries):
    for index in range(40):
        relationship = RelationshipFactory()
        ProjectFactory(relationship=relationship)
        if index % 2:
            score_row(relationship)
    client.force_login(executive)
    access.role_of(executive)
    client.get(reverse("relationship-list"))  # warm the session
    # session, user, role, organisation, count, page of rows, process areas, scores, which of
    # them rest on contested figures; filter choices: clients, providers (each at most
    # SELECT_LIMIT + 1 rows, a searchable field beyond)
    with django_assert_num_queries(11):
        response = client.get(reverse("relationship-list"))
    assert len(response.context["page"]) == 25


def test_relationship_page_shows_contract_leadership_projects_by_stage_and_score(
    client, account_manager, portfolio, aerospace_project
):
    from projects.services import relationship_set_leadership

    relationship_set_leadership(
        actor=None,
        relationship=portfolio["rel_a"],
        client_leader="Clara Client",
        provider_leader="Pete Provider",
        started_on=dt.date(2024, 1, 1),
    )
    score_row(portfolio["rel_a"])
    client.force_login(account_manager)
    response = client.get(reverse("relationship-detail", args=[portfolio["rel_a"].pk]))
    page = response.content.decode()
    assert "Clara Client" in page and "Pete Provider" in page
    assert "1,000,000 USD" in page
    assert "48.8" in page and "Steady" in page
    assert "60.71 %" in page  # impact component 0.607143
    assert "no data — left out" in page  # attainment, realisation
    idea = next(group for group in response.context["stages"] if group["stage"] == "idea")
    assert [project.title for project in idea["projects"]] == ["Vendor management"]


def test_relationship_page_query_count_is_flat_with_many_projects(
    client, account_manager, portfolio, django_assert_num_queries
):
    kpi = KPIFactory()
    for index in range(30):
        project = ProjectFactory(
            relationship=portfolio["rel_a"], stage=["idea", "proposed", "approved"][index % 3]
        )
        MeasurementFactory(project_kpi=ProjectKPIFactory(project=project, kpi=kpi))
    score_row(portfolio["rel_a"])
    client.force_login(account_manager)
    access.role_of(account_manager)
    url = reverse("relationship-detail", args=[portfolio["rel_a"].pk])
    client.get(url)
    # session, user, role, organisation, relationship, process areas, managers, leadership pairs,
    # score, projects, their KPIs with latest values, may-write check; the contests the score rests
    # on and whether the manager may contest (their side: the assignment)
    with django_assert_num_queries(14):
        response = client.get(url)
    assert response.context["project_count"] == 30


def test_relationship_page_of_another_client_is_404(client, client_viewer_a, portfolio):
    client.force_login(client_viewer_a)
    assert client.get(reverse("relationship-detail", args=[portfolio["rel_a"].pk])).status_code == 200
    assert client.get(reverse("relationship-detail", args=[portfolio["rel_b"].pk])).status_code == 404


# --- Projects ---------------------------------------------------------------------------------


def test_project_list_filters_by_stage_level_relationship_and_search(client, admin_user, portfolio):
    ProjectFactory(relationship=portfolio["rel_a"], title="Invoice robot", level="operational")
    ProjectFactory(
        relationship=portfolio["rel_a"], title="Claims analytics", level="strategic", stage="proposed"
    )
    ProjectFactory(relationship=portfolio["rel_b"], title="Invoice portal", level="process")
    client.force_login(admin_user)
    url = reverse("project-list")

    def titles(**params):
        return sorted(row[0] for row in rows_of(client.get(url, params)))

    assert titles(q="invoice") == ["Invoice portal", "Invoice robot"]
    assert titles(stage="proposed") == ["Claims analytics"]
    assert titles(level=["strategic", "process"]) == ["Claims analytics", "Invoice portal"]
    assert titles(relationship=portfolio["rel_b"].pk) == ["Invoice portal"]


def test_project_list_filters_by_delivered_range_and_owner(client, admin_user, account_manager, portfolio):
    ProjectFactory(
        relationship=portfolio["rel_a"], title="Early", stage="delivered", delivered_on=dt.date(2024, 2, 1)
    )
    ProjectFactory(
        relationship=portfolio["rel_a"],
        title="Late",
        stage="delivered",
        delivered_on=dt.date(2024, 9, 1),
        owner=account_manager,
    )
    client.force_login(admin_user)
    url = reverse("project-list")
    rows = rows_of(client.get(url, {"delivered_after": "2024-06-01", "delivered_before": "2024-12-31"}))
    assert [row[0] for row in rows] == ["Late"]
    rows = rows_of(client.get(url, {"owner": account_manager.pk}))
    assert [row[0] for row in rows] == ["Late"]


def test_project_list_invalid_filter_shows_error_and_no_rows(client, account_manager, portfolio):
    ProjectFactory(relationship=portfolio["rel_a"], title="Mine")
    client.force_login(account_manager)
    # A relationship the manager cannot see is not a valid choice: no rows, a message, not a 500.
    response = client.get(reverse("project-list"), {"relationship": portfolio["rel_b"].pk})
    assert response.status_code == 200
    assert rows_of(response) == [["Fix the filters above to see projects."]]
    assert "Select a valid choice" in response.content.decode()


def test_project_list_sorts_by_any_column_both_ways(client, admin_user, portfolio):
    for title in ("Bravo", "Alpha", "Charlie"):
        ProjectFactory(relationship=portfolio["rel_a"], title=title)
    client.force_login(admin_user)
    url = reverse("project-list")
    assert [row[0] for row in rows_of(client.get(url, {"sort": "title"}))] == ["Alpha", "Bravo", "Charlie"]
    assert [row[0] for row in rows_of(client.get(url, {"sort": "-title"}))] == ["Charlie", "Bravo", "Alpha"]
    # An unknown sort key falls back to the default instead of failing.
    assert client.get(url, {"sort": "password"}).status_code == 200


def test_project_list_sorts_stages_in_pipeline_order(client, admin_user, portfolio):
    ProjectFactory(
        relationship=portfolio["rel_a"],
        title="P-delivered",
        stage="delivered",
        delivered_on=dt.date(2024, 1, 1),
    )
    ProjectFactory(relationship=portfolio["rel_a"], title="P-idea", stage="idea")
    ProjectFactory(relationship=portfolio["rel_a"], title="P-approved", stage="approved")
    client.force_login(admin_user)
    rows = rows_of(client.get(reverse("project-list"), {"sort": "stage"}))
    assert [row[0] for row in rows] == ["P-idea", "P-approved", "P-delivered"]
    rows = rows_of(client.get(reverse("project-list"), {"sort": "-stage"}))
    assert [row[0] for row in rows] == ["P-delivered", "P-approved", "P-idea"]


def test_project_list_headers_link_to_the_reverse_sort_and_say_how_it_is_sorted(
    client, admin_user, portfolio
):
    client.force_login(admin_user)
    response = client.get(reverse("project-list"), {"sort": "title", "q": "x", "page": "2"})
    headers = {header["key"]: header for header in response.context["headers"]}
    assert headers["title"]["aria_sort"] == "ascending" and headers["title"]["query"] == "q=x&sort=-title"
    assert headers["stage"]["aria_sort"] is None and headers["stage"]["query"] == "q=x&sort=stage"
    assert 'aria-sort="ascending"><a href="?q=x&amp;sort=-title">Project' in response.content.decode()
    descending = client.get(reverse("project-list"), {"sort": "-title"}).context["headers"][0]
    assert descending["aria_sort"] == "descending" and descending["query"] == "sort=title"


def test_project_list_paginates(client, admin_user, portfolio):
    for index in range(30):
        ProjectFactory(relationship=portfolio["rel_a"], title=f"Project {index:02d}")
    client.force_login(admin_user)
    url = reverse("project-list")
    first = rows_of(client.get(url, {"sort": "title"}))
    second = rows_of(client.get(url, {"sort": "title", "page": 2}))
    assert len(first) == 25 and len(second) == 5
    assert first[0][0] == "Project 00" and second[-1][0] == "Project 29"
    assert "page=2" in client.get(url, {"sort": "title"}).content.decode()


def test_project_list_shows_impact(client, account_manager, aerospace_project):
    client.force_login(account_manager)
    rows = rows_of(client.get(reverse("project-list")))
    # mean of +41.67 % (60 → 85) and +19.05 % (21 → 17 h, lower is better)
    assert rows[0][0] == "Vendor management" and rows[0][-1] == "+30.36 %"


def test_project_list_query_count_is_flat_with_many_rows(
    client, account_manager, portfolio, django_assert_num_queries
):
    kpi = KPIFactory()
    for index in range(40):
        project = ProjectFactory(relationship=portfolio["rel_a"], owner=account_manager, title=f"P{index}")
        MeasurementFactory(project_kpi=ProjectKPIFactory(project=project, kpi=kpi))
    client.force_login(account_manager)
    access.role_of(account_manager)
    client.get(reverse("project-list"))
    # session, user, role, organisation, count, rows, KPIs with latest values; filter choices:
    # relationships, clients, providers (each at most SELECT_LIMIT + 1 rows), owners; saved filters
    with django_assert_num_queries(12):
        response = client.get(reverse("project-list"), {"stage": "idea", "sort": "owner"})
    assert len(response.context["rows"]) == 25


def test_project_list_offers_new_project_only_to_editors(client, account_manager, executive):
    client.force_login(executive)
    assert "New project" not in client.get(reverse("project-list")).content.decode()
    client.force_login(account_manager)
    assert "New project" in client.get(reverse("project-list")).content.decode()


# --- CSV export -------------------------------------------------------------------------------


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_csv_export_matches_the_filtered_sorted_list_across_pages(client, admin_user, portfolio):
    for index in range(30):
        ProjectFactory(relationship=portfolio["rel_a"], title=f"Match {index:02d}", level="process")
    ProjectFactory(relationship=portfolio["rel_a"], title="Other level", level="strategic")
    ProjectFactory(relationship=portfolio["rel_b"], title="Match elsewhere", level="process")
    client.force_login(admin_user)
    params = {"q": "match", "level": "process", "relationship": portfolio["rel_a"].pk, "sort": "-title"}
    shown = rows_of(client.get(reverse("project-list"), params))
    shown += rows_of(client.get(reverse("project-list"), {**params, "page": 2}))
    response = client.get(reverse("project-export"), params)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    exported = csv_rows(response)
    assert exported[0] == [
        *("Project", "Relationship", "Level", "Stage", "Owner", "Delivered", "Impact (%)"),
        *("Client", "Provider", "Proposed", "Started", "Currency", "Investment"),
        *("Expected annual benefit", "Realised annual benefit", "KPIs"),
    ]
    assert len(exported) == 31
    assert [row[0] for row in exported[1:]] == [row[0] for row in shown]
    assert [row[:4] for row in exported[1:]] == [row[:4] for row in shown]


def test_csv_export_is_scoped_and_carries_impact(client, account_manager, portfolio, aerospace_project):
    ProjectFactory(relationship=portfolio["rel_b"], title="Not mine")
    client.force_login(account_manager)
    exported = csv_rows(client.get(reverse("project-export")))
    assert [row[0] for row in exported[1:]] == ["Vendor management"]
    row = dict(zip(exported[0], exported[1], strict=True))
    assert (row["Impact (%)"], row["KPIs"], row["Client"], row["Provider"]) == (
        "30.36",
        "2",
        "Client A",
        "Shared Provider",
    )


def test_csv_export_neutralises_formulas(client, admin_user, portfolio):
    ProjectFactory(relationship=portfolio["rel_a"], title='=HYPERLINK("http://x")')
    client.force_login(admin_user)
    exported = csv_rows(client.get(reverse("project-export")))
    assert exported[1][0].startswith("'=")


def test_export_columns_in_csv_and_excel(client, admin_user, portfolio):
    ProjectFactory(
        relationship=portfolio["rel_a"],
        title='=HYPERLINK("http://x")',
        stage="delivered",
        proposed_on=dt.date(2024, 1, 5),
        started_on=dt.date(2024, 2, 1),
        delivered_on=dt.date(2024, 9, 30),
        investment=Decimal("350000"),
        expected_annual_benefit=Decimal("1200000.50"),
        realised_annual_benefit=Decimal("1050000"),
        owner=admin_user,
    )
    ProjectFactory(relationship=portfolio["rel_a"], title="@SUM(A1)", stage="idea")
    client.force_login(admin_user)
    exported = csv_rows(client.get(reverse("project-export"), {"sort": "title"}))
    row = dict(zip(exported[0], exported[1], strict=True))
    assert row["Project"] == '\'=HYPERLINK("http://x")'
    assert (row["Proposed"], row["Started"], row["Delivered"]) == ("2024-01-05", "2024-02-01", "2024-09-30")
    assert (row["Investment"], row["Expected annual benefit"], row["Realised annual benefit"]) == (
        "350000.00",
        "1200000.50",
        "1050000.00",
    )
    assert (row["Currency"], row["Stage"], row["Level"], row["KPIs"]) == (
        "USD",
        "Delivered",
        "Operational (efficiency)",
        "0",
    )
    assert row["Owner"] == admin_user.get_full_name()

    response = client.get(reverse("project-export-xlsx"), {"sort": "title"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert (
        'filename="projects-' in response["Content-Disposition"]
        and ".xlsx" in response["Content-Disposition"]
    )
    sheet_xml = zipfile.ZipFile(io.BytesIO(response.content)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml  # no formula anywhere in the workbook
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header = [cell.value for cell in sheet[1]]
    assert header == exported[0]
    cells = dict(zip(header, sheet[2], strict=True))
    assert cells["Project"].value == '=HYPERLINK("http://x")' and cells["Project"].data_type == "s"
    assert (
        cells["Delivered"].value.date() == dt.date(2024, 9, 30)
        and cells["Delivered"].number_format == "yyyy-mm-dd"
    )
    assert cells["Expected annual benefit"].value == 1200000.5 and cells["KPIs"].value == 0
    assert cells["Impact (%)"].value is None
    assert sheet.cell(row=3, column=1).value == "@SUM(A1)" and sheet.max_row == 3


def test_csv_export_with_invalid_filter_is_400(client, account_manager, portfolio):
    client.force_login(account_manager)
    response = client.get(reverse("project-export"), {"relationship": portfolio["rel_b"].pk})
    assert response.status_code == 400
    response = client.get(reverse("project-export-xlsx"), {"relationship": portfolio["rel_b"].pk})
    assert response.status_code == 400


def test_client_viewer_sees_only_own_clients_projects(client, portfolio):
    viewer = UserFactory(role=Role.CLIENT_VIEWER, organization=portfolio["client_b"])
    ProjectFactory(relationship=portfolio["rel_a"], title="A's project")
    ProjectFactory(relationship=portfolio["rel_b"], title="B's project")
    client.force_login(viewer)
    assert [row[0] for row in rows_of(client.get(reverse("project-list")))] == ["B's project"]
    assert [row[0] for row in csv_rows(client.get(reverse("project-export")))[1:]] == ["B's project"]


# --- Lists at scale: sorting, page sizes, date ranges, searchable choices ------------------------


def test_project_list_sorts_by_impact_largest_first_and_without_impact_last(
    client, account_manager, portfolio, fill_rate
):
    for title, latest in (("Small", "63"), ("Large", "90"), ("None", None), ("Worse", "50")):
        project = ProjectFactory(relationship=portfolio["rel_a"], title=title)
        if latest is not None:
            project_kpi = ProjectKPIFactory(project=project, kpi=fill_rate, baseline_value=Decimal("60"))
            MeasurementFactory(project_kpi=project_kpi, value=Decimal(latest))
    client.force_login(account_manager)
    page = client.get(reverse("project-list")).content.decode()
    assert 'href="?sort=-impact"' in page  # a number: largest first on the first click
    rows = rows_of(client.get(reverse("project-list"), {"sort": "-impact"}))
    assert [row[0] for row in rows] == ["Large", "Small", "Worse", "None"]
    assert [row[-1] for row in rows] == ["+50.00 %", "+5.00 %", "−16.67 %", "—"]
    rows = rows_of(client.get(reverse("project-list"), {"sort": "impact"}))
    assert [row[0] for row in rows] == ["Worse", "Small", "Large", "None"]


def test_reversed_delivered_range_is_refused_with_a_message(client, account_manager, portfolio):
    ProjectFactory(relationship=portfolio["rel_a"], stage="delivered", delivered_on=dt.date(2025, 3, 1))
    client.force_login(account_manager)
    response = client.get(
        reverse("project-list"), {"delivered_after": "2025-06-01", "delivered_before": "2025-01-01"}
    )
    page = response.content.decode()
    assert "“Delivered to” (1 Jan 2025) is before “Delivered from” (1 Jun 2025)" in page
    assert "Fix the filters above" in page and '<details class="filters-panel" open>' in page
    assert response.context["rows"] == []
    # The export refuses it too, and so does the API (the same filters).
    export = client.get(
        reverse("project-export"), {"delivered_after": "2025-06-01", "delivered_before": "2025-01-01"}
    )
    assert export.status_code == 400
    api = client.get("/api/v1/projects/", {"proposed_after": "2025-06-01", "proposed_before": "2025-01-01"})
    assert api.status_code == 400
    assert "is before “Proposed from”" in api.json()["errors"]["proposed_before"][0]


def test_page_size_and_first_last_links(client, account_manager, portfolio):
    for number in range(130):
        ProjectFactory(relationship=portfolio["rel_a"], title=f"P{number:03d}")
    client.force_login(account_manager)
    response = client.get(reverse("project-list"), {"sort": "title", "page_size": "50", "page": "2"})
    assert [row[0] for row in rows_of(response)][:2] == ["P050", "P051"]
    page = response.content.decode()
    assert 'href="?sort=title&amp;page_size=50&amp;page=1" rel="first"' in page
    assert 'href="?sort=title&amp;page_size=50&amp;page=3" rel="last"' in page
    assert (
        '<strong aria-current="true">50</strong>' in page and 'href="?sort=title&amp;page_size=100"' in page
    )
    # Unknown page sizes are the default; the filters stay folded when only sort and size are set.
    response = client.get(reverse("project-list"), {"page_size": "100000"})
    assert len(response.context["rows"]) == 25
    assert '<details class="filters-panel">' in response.content.decode()
    assert (
        '<details class="filters-panel" open>'
        in client.get(reverse("project-list"), {"q": "P1", "page_size": "50"}).content.decode()
    )


def test_relationship_list_sorts_and_filters_by_client_and_provider(client, executive, portfolio):
    score_row(portfolio["rel_a"], score="72.50", tier="high_performing")
    score_row(portfolio["rel_b"], score="40.00", tier="steady")
    other = RelationshipFactory(name="C elsewhere")
    client.force_login(executive)

    def names(params):
        response = client.get(reverse("relationship-list"), params)
        assert response.status_code == 200
        return [relationship.name for relationship in response.context["page"]]

    assert names({}) == ["A with provider", "B with provider", "C elsewhere"]
    assert names({"sort": "-score"}) == ["A with provider", "B with provider", "C elsewhere"]
    assert names({"sort": "score"}) == ["B with provider", "A with provider", "C elsewhere"]  # unscored last
    by_client = sorted(Relationship.objects.select_related("client"), key=lambda r: r.client.name)
    assert names({"sort": "-client"}) == [r.name for r in reversed(by_client)]
    assert names({"provider": portfolio["provider"].pk}) == ["A with provider", "B with provider"]
    assert names({"client": other.client_id}) == ["C elsewhere"]
    page = client.get(reverse("relationship-list"), {"sort": "-in_flight"}).content.decode()
    assert 'aria-sort="descending"' in page and "approved or in progress" in page


def test_choices_become_searchable_at_scale(client, executive, monkeypatch):
    monkeypatch.setattr(pickers, "SELECT_LIMIT", 3)
    for number in range(5):
        RelationshipFactory(name=f"Harbor {number}")
    client.force_login(executive)
    page = client.get(reverse("project-list")).content.decode()
    assert 'data-picker="/suggest/relationships/"' in page
    assert 'data-picker="/suggest/clients/"' in page and "pickers.js" in page
    assert "<option value" not in page.split('id="id_relationship_search"')[1].split("</div>")[0]
    # A chosen relationship keeps its name in the field and its id in the form.
    chosen = Relationship.objects.get(name="Harbor 2")
    page = client.get(reverse("project-list"), {"relationship": chosen.pk}).content.decode()
    assert (
        'value="Harbor 2"' in page and f'name="relationship" id="id_relationship" value="{chosen.pk}"' in page
    )
    suggestions = client.get("/suggest/relationships/", {"q": "harbor"}).json()["results"]
    assert [item["label"] for item in suggestions] == [f"Harbor {n}" for n in range(5)]
    assert client.get("/suggest/clients/", {"q": "Client"}).json()["results"]
    assert client.get("/suggest/secrets/").status_code == 404


def test_suggestions_stay_in_scope(client, account_manager, portfolio):
    client.force_login(account_manager)
    labels = [
        item["label"] for item in client.get("/suggest/relationships/", {"q": "provider"}).json()["results"]
    ]
    assert labels == ["A with provider"]
    clients = [item["label"] for item in client.get("/suggest/clients/").json()["results"]]
    assert clients == ["Client A"]


def test_sort_menu_stands_in_for_the_headers_on_phones(client, account_manager, portfolio):
    client.force_login(account_manager)
    page = client.get(
        reverse("project-list"), {"stage": ["idea", "proposed"], "sort": "-impact", "page": "2"}
    )
    menu = page.content.decode().split('class="sort-menu"')[1].split("</form>")[0]
    assert '<option value="-impact" selected>Impact, largest first</option>' in menu
    assert '<option value="delivered">Delivered, oldest first</option>' in menu
    assert '<option value="title">Project, A–Z</option>' in menu
    # The filters ride along; the page does not (a new sort starts at page 1).
    assert menu.count('name="stage"') == 2 and 'name="page"' not in menu

"""Account managers in a real Chromium: log a project with KPIs, take it to delivered, see the
improvements and the score; invalid input; concurrent edits; scoping by URL; CSV export."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from kpis.models import KPI, Measurement, ProjectKPI
from projects.models import InnovationProject
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import KPIFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalogue(db):
    return {
        "fill": KPIFactory(code="order_fill_rate", name="Customer-order fill rate", unit="percent"),
        "turnaround": KPIFactory(
            code="turnaround_time",
            name="Turnaround time",
            unit="hours",
            direction=KPI.Direction.LOWER_IS_BETTER,
        ),
    }


def add_kpi(page, label: str, baseline: str, on: str, target: str = "") -> None:
    form = page.locator("#add-kpi-form")
    form.get_by_label("KPI").select_option(label=label)
    form.get_by_label("Baseline value").fill(baseline)
    form.get_by_label("Baseline date").fill(on)
    form.get_by_label("Target value").fill(target)
    form.get_by_role("button", name="Add KPI").click()


def record(page, kpi_label: str, on: str, value: str) -> None:
    form = page.locator("#measurement-form")
    form.get_by_label("KPI").select_option(label=kpi_label)
    form.get_by_label("Measured on").fill(on)
    form.get_by_label("Value").fill(value)
    form.get_by_label("Value").press("Enter")  # keyboard submit


def kpi_cells(page, name: str) -> dict[str, str]:
    row = page.locator("#kpi-table tbody tr", has=page.get_by_role("rowheader", name=name))
    cells = row.locator("td[data-label]")
    return {cells.nth(i).get_attribute("data-label"): cells.nth(i).inner_text() for i in range(cells.count())}


def test_account_manager_logs_a_project_through_to_delivered(new_page, account_manager, portfolio, catalogue):
    page = new_page()
    sign_in(page, account_manager.username)
    page.get_by_role("link", name="Projects", exact=True).click()
    page.get_by_role("link", name="New project").click()

    # Only the relationship the manager is assigned to is offered.
    options = page.get_by_label("Relationship").locator("option").all_inner_texts()
    assert [o for o in options if "provider" in o] == ["A with provider (Client A ↔ Shared Provider)"]
    page.get_by_label("Relationship").select_option(label="A with provider (Client A ↔ Shared Provider)")
    page.get_by_label("Title").fill("Third-party vendor management")
    page.get_by_label("Level").select_option("process")
    screenshot(page, "project-create-form")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Third-party vendor management")
    expect(page.locator(".messages")).to_contain_text("Created")
    project = InnovationProject.objects.get(title="Third-party vendor management")
    # Nothing delivered in the window yet: the relationship scores 0 (DESIGN §4, continuity).
    page.goto(f"/relationships/{portfolio['rel_a'].pk}/")
    expect(page.locator(".score-card .score-value")).to_have_text("0.0")
    expect(page.locator(".score-card .tier")).to_have_text("At risk")
    page.goto(f"/projects/{project.pk}/")

    # Two KPIs, inline (htmx: the page is not reloaded, so a marker set on the window survives).
    page.evaluate("window.__notReloaded = true")
    add_kpi(page, "Customer-order fill rate (%, higher is better)", "60", "2024-01-01", target="90")
    expect(page.locator(".notice")).to_have_text("Now tracking Customer-order fill rate.")
    add_kpi(page, "Turnaround time (hours, lower is better)", "21", "2024-01-01")
    expect(page.locator(".notice")).to_have_text("Now tracking Turnaround time.")
    assert page.evaluate("window.__notReloaded") is True
    assert ProjectKPI.objects.filter(project=project).count() == 2

    record(page, "Customer-order fill rate (%)", "2024-03-01", "72")
    expect(page.locator(".notice")).to_contain_text("Recorded Customer-order fill rate: 72")
    record(page, "Customer-order fill rate (%)", "2024-06-01", "85")
    expect(page.locator(".notice")).to_contain_text("Recorded Customer-order fill rate: 85")
    record(page, "Turnaround time (hours)", "2024-06-01", "17")
    expect(page.locator(".notice")).to_contain_text("Recorded Turnaround time: 17")
    assert page.evaluate("window.__notReloaded") is True
    assert Measurement.objects.filter(project_kpi__project=project).count() == 3

    # The stages, one step at a time through the stage dialog (dated today, as it suggests);
    # the next stage comes first, later stages are offered as skips, cancelling last.
    for stage in ("Proposed", "Approved", "In progress", "Delivered"):
        actions = page.locator(".stage-actions a")
        expect(actions.first).to_have_text(f"Move to {stage}…")
        expect(actions.last).to_have_text("Cancel project…")
        actions.first.click()
        dialog = page.locator("dialog#stage-dialog")
        expect(dialog).to_be_visible()
        confirm = "Confirm delivery" if stage == "Delivered" else f"Move to {stage}"
        dialog.get_by_role("button", name=confirm).click()
        expect(page.locator(".messages")).to_contain_text(f"Moved to {stage}.")
    expect(page.locator(".stage-steps [aria-current=step]")).to_have_text("Delivered")
    assert page.locator(".stage-actions").count() == 0

    fill = kpi_cells(page, "Customer-order fill rate")
    assert fill["Baseline"].startswith("60") and fill["Latest value"].startswith("85")
    assert fill["Improvement"] == "+41.67 %" and fill["Target achievement"] == "83.33 %"
    turnaround = kpi_cells(page, "Turnaround time")
    assert turnaround["Improvement"] == "+19.05 %" and turnaround["Target achievement"] == "—"
    expect(page.locator("#project-impact")).to_have_text("+30.36 %")
    # A chart per KPI, drawn by Chart.js from the embedded data.
    assert page.locator("canvas[data-kpi-chart]").count() == 2
    assert page.evaluate("document.querySelectorAll('canvas[data-kpi-chart]')[0].width") > 0
    assert page.evaluate("Chart.getChart(document.querySelector('canvas[data-kpi-chart]')) !== undefined")
    history = page.locator("#history").inner_text()
    assert (
        "moved the project from In progress to Delivered" in history
        and "created the KPI" in history
        and "created the measurement" in history
    )
    assert account_manager.get_full_name() in history
    screenshot(page, "project-page-delivered")

    page.get_by_role("link", name="A with provider").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("A with provider")
    delivered = page.locator(
        "section.stage-column", has=page.get_by_role("heading", name=re.compile("^Delivered"))
    )
    expect(delivered).to_contain_text("Third-party vendor management")
    # The roll-up recomputed the score after each save (in-process here, as in the embedded
    # default). DESIGN §4: impact mean(41.67 %, 19.05 %) = 30.36 % → 0.607143; attainment of the
    # one KPI with a target (85 − 60) / (90 − 60) → 0.833333; continuity 1 of 4 quarters → 0.25;
    # no benefits recorded, so realisation is left out and the weights rescale over 0.8:
    # 100 × (0.4 × 0.607143 + 0.2 × 0.833333 + 0.2 × 0.25) / 0.8 = 57.44 → 57.4, steady.
    score_card = page.locator(".score-card")
    expect(score_card.locator(".score-value")).to_have_text("57.4")
    expect(score_card.locator(".tier")).to_have_text("Steady")
    components = score_card.locator("tbody").inner_text()
    assert "60.71 %" in components and "83.33 %" in components and "25.00 %" in components
    assert "no data — left out" in components  # realisation
    screenshot(page, "relationship-page")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Relationships").click()
    row = page.locator("table.data tbody tr", has=page.get_by_role("link", name="A with provider"))
    expect(row.locator("td[data-label='Current score']")).to_have_text("57.4 Steady")
    screenshot(page, "relationship-list")
    assert page.console_errors == []


def test_invalid_project_form_shows_messages_and_saves_nothing(new_page, account_manager, portfolio):
    page = new_page()
    sign_in(page, account_manager.username)
    page.goto("/projects/new/")
    page.get_by_label("Relationship").select_option(index=1)
    page.get_by_label("Title").fill("Doomed")
    page.get_by_label("Stage").select_option("delivered")
    page.get_by_label("Started on").fill("2024-05-01")
    page.get_by_label("Delivered on").fill("2024-04-01")
    page.get_by_label("Proposed on").fill("0001-01-01")
    page.get_by_label("Investment").fill("-5")
    page.get_by_label("Gain-share %").fill("120")
    page.get_by_role("button", name="Create project").click()

    expect(page.get_by_role("alert").first).to_contain_text("Nothing was saved")
    expect(page.locator("#id_delivered_on_error")).to_have_text(
        "A project cannot be delivered before it started."
    )
    expect(page.locator("#id_proposed_on_error")).to_have_text("Enter a date between 1950 and 2100.")
    expect(page.locator("#id_investment_error")).to_contain_text("greater than or equal to 0")
    expect(page.locator("#id_gain_share_pct_error")).to_contain_text("less than or equal to 100")
    assert page.get_by_label("Investment").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Title").input_value() == "Doomed"  # what was typed is kept
    screenshot(page, "project-form-errors")
    assert not InnovationProject.objects.exists()


def test_invalid_inline_kpi_shows_field_error_without_reload(new_page, account_manager, portfolio, catalogue):
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Inline errors")
    page = new_page()
    sign_in(page, account_manager.username)
    page.goto(f"/projects/{project.pk}/")
    page.evaluate("window.__notReloaded = true")
    add_kpi(page, "Customer-order fill rate (%, higher is better)", "150", "9999-01-01")
    expect(page.locator("#id_add-kpi-baseline_value_error")).to_have_text(
        "A percentage must be between 0 and 100."
    )
    expect(page.locator("#id_add-kpi-baseline_date_error")).to_have_text(
        "Enter a date between 1950 and 2100."
    )
    # Focus moves to the first invalid field for keyboard and screen-reader users.
    expect(page.locator("#id_add-kpi-baseline_value")).to_be_focused()
    assert page.evaluate("window.__notReloaded") is True
    assert not ProjectKPI.objects.filter(project=project).exists()

    add_kpi(page, "Customer-order fill rate (%, higher is better)", "60", "2024-01-01")
    expect(page.locator(".notice")).to_have_text("Now tracking Customer-order fill rate.")
    add_kpi(page, "Customer-order fill rate (%, higher is better)", "61", "2024-01-01")
    expect(page.locator("#id_add-kpi-kpi_error")).to_have_text("This KPI is already tracked on this project.")
    screenshot(page, "project-inline-kpi-error")
    assert ProjectKPI.objects.filter(project=project).count() == 1


def test_second_of_two_concurrent_edits_is_refused(new_page, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Shared plan")
    first, second = new_page(), new_page()
    for page in (first, second):
        sign_in(page, account_manager.username)
        page.goto(f"/projects/{project.pk}/edit/")
    first.get_by_label("Title").fill("Plan by the first")
    first.get_by_role("button", name="Save changes").click()
    expect(first.locator(".messages")).to_contain_text("Saved.")

    second.get_by_label("Title").fill("Plan by the second")
    second.get_by_label("Investment").fill("12345")
    second.get_by_role("button", name="Save changes").click()
    alert = second.locator(".conflict")
    expect(alert).to_contain_text("Not saved — this record changed while you were editing.")
    # The same person in two tabs: the banner says it was them, not "someone".
    expect(alert).to_contain_text("You saved this innovation project in another tab or window at")
    assert second.get_by_label("Title").input_value() == "Plan by the first"  # current values shown
    expect(alert.locator("tbody tr").first).to_contain_text("Plan by the second")
    screenshot(second, "project-edit-conflict")
    project.refresh_from_db()
    assert (project.title, project.version) == ("Plan by the first", 2)

    # Saving again from the refreshed form (now at the current version) goes through.
    second.get_by_label("Investment").fill("12345")
    second.get_by_role("button", name="Save changes").click()
    expect(second.locator(".messages")).to_contain_text("Saved.")
    project.refresh_from_db()
    assert (project.title, str(project.investment), project.version) == ("Plan by the first", "12345.00", 3)


def test_second_of_two_concurrent_inline_kpi_edits_is_refused(
    new_page, account_manager, portfolio, catalogue
):
    from kpis.services import ProjectKPIFields, project_kpi_add

    project = ProjectFactory(relationship=portfolio["rel_a"], title="Inline race")
    project_kpi = project_kpi_add(
        actor=None,
        fields=ProjectKPIFields(
            project=project, kpi=catalogue["fill"], baseline_value=60, baseline_date=dt.date(2024, 1, 1)
        ),
    )
    pages = [new_page(), new_page()]
    for page in pages:
        sign_in(page, account_manager.username)
        page.goto(f"/projects/{project.pk}/")
        page.get_by_role("link", name="Edit Customer-order fill rate").click()
        expect(page.locator("form.inline-edit")).to_be_visible()
    for page, target in zip(pages, ("80", "95"), strict=True):
        page.locator("form.inline-edit").get_by_label("Target value").fill(target)
        page.locator("form.inline-edit").get_by_role("button", name="Save KPI").click()
    expect(pages[0].locator(".notice")).to_have_text("Saved Customer-order fill rate.")
    expect(pages[1].locator(".conflict")).to_contain_text(
        "You saved this project KPI in another tab or window"
    )
    assert pages[1].locator("form.inline-edit").get_by_label("Target value").input_value() == "80"
    screenshot(pages[1], "project-inline-kpi-conflict")
    project_kpi.refresh_from_db()
    assert project_kpi.target_value == 80


def test_client_viewer_cannot_reach_another_clients_relationship(new_page, portfolio, client_viewer_a):
    page = new_page()
    sign_in(page, client_viewer_a.username)
    page.goto("/relationships/")
    expect(page.get_by_role("link", name="A with provider")).to_be_visible()
    assert page.get_by_role("link", name="B with provider").count() == 0
    assert "Client viewer" in page.locator("header").inner_text()
    assert page.get_by_role("link", name="New project").count() == 0

    response = page.goto(f"/relationships/{portfolio['rel_b'].pk}/")
    assert response.status == 404
    assert "B with provider" not in page.content()
    hidden_project = ProjectFactory(relationship=portfolio["rel_b"], title="Competitor secret")
    assert page.goto(f"/projects/{hidden_project.pk}/").status == 404
    assert page.goto("/projects/new/").status == 403
    page.goto("/projects/")
    assert "Competitor secret" not in page.content()


def test_csv_export_matches_the_filtered_list(new_page, account_manager, portfolio):
    for index in range(8):
        ProjectFactory(
            relationship=portfolio["rel_a"],
            title=f"Automation {index}",
            stage="proposed" if index % 2 else "idea",
            owner=account_manager,
        )
    ProjectFactory(relationship=portfolio["rel_a"], title="Unrelated proposal", stage="proposed")
    page = new_page()
    sign_in(page, account_manager.username)
    page.goto("/projects/")
    page.get_by_text("Filters and search").click()
    page.get_by_label("Search").fill("automation")
    page.get_by_label("Proposed").check()
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("link", name="Project", exact=True).click()  # sort by title
    expect(page.locator("#result-count")).to_have_text("4 projects match")
    shown = [
        [cell.strip() for cell in row.locator("td").all_inner_texts()]
        for row in page.locator("#project-table tbody tr").all()
    ]
    screenshot(page, "project-list-filtered")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    text = download_info.value.path().read_text(encoding="utf-8-sig")
    exported = list(csv.reader(io.StringIO(text)))
    assert exported[0][:6] == ["Project", "Relationship", "Level", "Stage", "Owner", "Delivered"]
    assert [row[:5] for row in exported[1:]] == [row[:5] for row in shown]
    assert [row[0] for row in exported[1:]] == [
        "Automation 1",
        "Automation 3",
        "Automation 5",
        "Automation 7",
    ]


def test_pages_work_at_phone_width(new_page, account_manager, portfolio, catalogue):
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Phone-sized")
    page = new_page(width=390, height=844)
    sign_in(page, account_manager.username)
    for path, name in (
        (f"/projects/{project.pk}/", "phone-project-page"),
        ("/projects/", "phone-project-list"),
    ):
        page.goto(path)
        # Nothing wider than the screen: no sideways scrolling of the page.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, name)
    page.goto(f"/projects/{project.pk}/")
    add_kpi(page, "Customer-order fill rate (%, higher is better)", "60", "2024-01-01")
    expect(page.locator(".notice")).to_have_text("Now tracking Customer-order fill rate.")


def test_delete_with_confirmation_removes_project_from_list(new_page, account_manager, portfolio):
    ProjectFactory(relationship=portfolio["rel_a"], title="Keep me")
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Remove me")
    page = new_page()
    sign_in(page, account_manager.username)
    page.goto(f"/projects/{project.pk}/")
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete “Remove me”?")
    page.get_by_role("button", name="Delete project").click()
    expect(page.locator(".messages")).to_contain_text("Deleted “Remove me”.")
    titles = page.locator("#project-table tbody tr td:first-child").all_inner_texts()
    assert titles == ["Keep me"]


def test_executive_sees_a_read_only_project_page(new_page, portfolio):
    from projects.access import Role

    executive = UserFactory(username="exec-ro", role=Role.EXECUTIVE)
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Read only")
    page = new_page()
    sign_in(page, executive.username)
    page.goto(f"/projects/{project.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Read only")
    assert page.get_by_role("link", name="Edit project").count() == 0
    assert page.locator("#add-kpi-form").count() == 0
    assert page.goto(f"/projects/{project.pk}/edit/").status == 403


def test_inline_save_after_session_ended_keeps_the_entries(new_page, account_manager, portfolio, catalogue):
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Long lunch")
    page = new_page()
    sign_in(page, account_manager.username)
    page.goto(f"/projects/{project.pk}/")
    page.context.clear_cookies(name="sessionid")  # the session ends while the page is open
    add_kpi(page, "Customer-order fill rate (%, higher is better)", "60", "2024-01-01", target="90")
    expect(page.locator("#page-alert")).to_contain_text("Your session has ended, so this was not saved.")
    form = page.locator("#add-kpi-form")
    assert form.get_by_label("Baseline value").input_value() == "60"
    assert form.get_by_label("Target value").input_value() == "90"
    assert not ProjectKPI.objects.filter(project=project).exists()


def test_cancelling_a_project_asks_why_and_can_be_backed_out_of(new_page, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Maybe")
    page = new_page()
    sign_in(page, account_manager.username)
    page.goto(f"/projects/{project.pk}/")
    page.get_by_role("link", name="Cancel project…").click()
    dialog = page.locator("dialog#stage-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Cancel “Maybe”?")
    dialog.get_by_role("link", name="Back").click()
    expect(dialog).to_have_count(0)
    project.refresh_from_db()
    assert project.stage == "idea"

    page.get_by_role("link", name="Cancel project…").click()
    dialog.get_by_role("button", name="Cancel the project").click()  # no reason given
    expect(dialog.locator(".has-error")).to_contain_text("Say why the project is cancelled")
    project.refresh_from_db()
    assert project.stage == "idea"
    dialog.get_by_label("Why is it cancelled?").fill("The client moved the process in-house.")
    screenshot(page, "stage-dialog-cancel")
    dialog.get_by_role("button", name="Cancel the project").click()
    expect(page.locator(".messages")).to_contain_text("Moved to Cancelled.")
    expect(page.locator("#project-cancellation-reason")).to_have_text(
        "The client moved the process in-house."
    )
    project.refresh_from_db()
    assert (project.stage, project.cancellation_reason) == (
        "cancelled",
        "The client moved the process in-house.",
    )


def test_skipping_to_delivered_asks_each_date_refuses_the_future_and_records_the_benefit(
    new_page, account_manager, portfolio
):
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Forecasting tools")
    page = new_page(width=390, height=844)
    sign_in(page, account_manager.username)
    page.goto(f"/projects/{project.pk}/")
    page.get_by_role("link", name="Skip to Delivered…").click()
    dialog = page.locator("dialog#stage-dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Mark “Forecasting tools” delivered?")
    expect(dialog).to_contain_text("through Proposed, Approved, In progress")
    dialog.get_by_label("Proposed on").fill("2026-01-05")
    dialog.get_by_label("Started on").fill("2026-02-02")
    dialog.get_by_label("Delivered on").fill("2099-01-01")
    dialog.get_by_label("Realised annual benefit so far (USD)").fill("125000")
    dialog.get_by_label("Outcome in one line").fill("Stock fill rate up from 80 % to 95 %")
    dialog.get_by_role("button", name="Confirm delivery").click()
    expect(dialog.locator(".has-error")).to_contain_text("A stage change cannot be dated in the future.")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "stage-dialog-delivered-refused-390")
    project.refresh_from_db()
    assert (project.stage, project.version) == ("idea", 1)

    dialog.get_by_label("Delivered on").fill("2026-06-30")
    dialog.get_by_role("button", name="Confirm delivery").click()
    expect(page.locator(".messages")).to_contain_text("Moved to Delivered.")
    expect(page.locator("#project-outcome")).to_have_text("Stock fill rate up from 80 % to 95 %")
    project.refresh_from_db()
    assert project.stage == "delivered"
    assert (project.proposed_on, project.started_on, project.delivered_on) == (
        dt.date(2026, 1, 5),
        dt.date(2026, 2, 2),
        dt.date(2026, 6, 30),
    )
    assert project.realised_annual_benefit == Decimal("125000")

"""Importing a spreadsheet in a real Chromium: upload → dry-run table → confirm → progress → done."""

import threading

import pytest
from django.db import connection
from django.urls import reverse
from playwright.sync_api import expect

from imports import services
from imports.models import ImportJob
from kpis.models import Measurement
from tests.e2e.conftest import screenshot, sign_in
from tests.imports import conftest as imports_fixtures
from tests.imports.conftest import xlsx_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
tracked = imports_fixtures.tracked  # a project with a tracked KPI (PK-1) on relationship A


@pytest.fixture
def worker_in_a_thread(monkeypatch, settings):
    """Jobs run a moment after they are queued, in a thread of their own, batch by batch with a
    pause, as a worker would: the page has to follow them by polling."""
    settings.IMPORT_BATCH_ROWS = 5
    real_batch = services._batch

    def slow_batch(*args, **kwargs):
        threading.Event().wait(0.3)
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(services, "_batch", slow_batch)

    def enqueue(job_id):
        def run():
            try:
                services.import_run(job_id=job_id)
            finally:
                connection.close()

        services.transaction.on_commit(lambda: threading.Timer(0.5, run).start())

    monkeypatch.setattr(services, "_enqueue", enqueue)


def test_upload_dry_run_confirm_progress_done(
    new_page, account_manager, tracked, worker_in_a_thread, tmp_path
):
    rows = [["External ID", "Project KPI", "Measured on", "Value", "Comment"]]
    rows += [[f"M-{n}", "PK-1", f"2026-01-{n:02d}", 60 + n, ""] for n in range(1, 21)]
    rows.append(["M-21", "PK-1", "2026-01-21", "12,5 %", "a typo"])
    sheet = tmp_path / "readings.xlsx"
    sheet.write_bytes(xlsx_bytes(rows))

    page = new_page()
    sign_in(page, account_manager.username)
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", name="Imports", exact=True)).to_be_visible()
    page.get_by_label("Spreadsheet").set_input_files(str(sheet))
    page.get_by_label("The rows are").select_option("measurements")
    page.get_by_label("Import the valid rows, skip the rest").check()
    screenshot(page, "import-1-upload")
    page.get_by_role("button", name="Upload and dry-run").click()

    state = page.locator("#import-state")
    expect(state).to_have_attribute("data-status", "dry_run_done", timeout=30_000)
    expect(page.get_by_text("Dry run done: nothing has been written.")).to_be_visible()
    expect(page.get_by_text("Columns not imported (no such field): Comment.")).to_be_visible()
    table = page.locator("#import-rows")
    expect(table.locator("tr.outcome-created")).to_have_count(20)
    expect(table.locator("tr.outcome-rejected")).to_contain_text("value: not a number: '12,5 %'")
    assert Measurement.objects.count() == 0
    screenshot(page, "import-2-dry-run")

    page.get_by_role("button", name="Confirm: import 20 rows").click()
    expect(state).to_have_attribute("data-status", "running", timeout=10_000)
    expect(page.locator("#import-state progress")).to_be_visible()
    screenshot(page, "import-3-progress")
    expect(state).to_have_attribute("data-status", "done", timeout=30_000)
    expect(page.get_by_text("Imported. 20 created, 0 updated, 0 unchanged, 1 rejected.")).to_be_visible()
    screenshot(page, "import-4-done")
    assert Measurement.objects.count() == 20
    assert ImportJob.objects.get().status == ImportJob.Status.DONE

    page.get_by_role("link", name="← Imports").click()
    history = page.locator("#import-history")
    expect(history).to_contain_text("readings.xlsx")
    with page.expect_download() as download:
        history.get_by_role("link", name="rejected rows (CSV)").click()
    assert "value: not a number" in download.value.path().read_text()
    assert page.console_errors == []


def test_a_register_of_projects_with_kpi_columns(
    new_page, account_manager, tracked, worker_in_a_thread, tmp_path
):
    from kpis.models import ProjectKPI
    from projects.models import InnovationProject
    from tests.factories import KPIFactory

    KPIFactory(code="first_time_right")
    header = ["External ID", "Relationship", "Title"]
    header += ["KPI 1", "KPI 1 baseline value", "KPI 1 baseline date"]
    header += ["KPI 2", "KPI 2 baseline value", "KPI 2 baseline date"]
    groups = ["fill_rate", 60, "2026-01-31", "first_time_right", 90, "2026-01-31"]
    rows = [header, *[[f"P-{n}", "A with provider", f"Project {n}", *groups] for n in range(1, 8)]]
    bad_groups = ["fill_rate", 60, "2026-01-31", "first_time_right", "12,5 %", "2026-01-31"]
    rows.append(["P-8", "A with provider", "Project 8", *bad_groups])
    sheet = tmp_path / "register.xlsx"
    sheet.write_bytes(xlsx_bytes(rows))

    page = new_page()
    sign_in(page, account_manager.username)
    page.goto(reverse("import-list"))
    page.get_by_label("Spreadsheet").set_input_files(str(sheet))
    page.get_by_label("The rows are").select_option("project_register")
    page.get_by_label("Import the valid rows, skip the rest").check()
    page.get_by_role("button", name="Upload and dry-run").click()

    state = page.locator("#import-state")
    expect(state).to_have_attribute("data-status", "dry_run_done", timeout=30_000)
    table = page.locator("#import-rows")
    expect(table.locator("tr.outcome-created")).to_have_count(7)
    expect(table.locator("tr.outcome-created").first).to_contain_text(
        "KPIs: fill_rate created, first_time_right created"
    )
    expect(table.locator("tr.outcome-rejected")).to_contain_text(
        "KPI 2 baseline value: not a number: '12,5 %'"
    )
    screenshot(page, "import-register-dry-run")
    assert not InnovationProject.objects.filter(external_id__startswith="P-").exists()

    page.get_by_role("button", name="Confirm: import 7 rows").click()
    expect(state).to_have_attribute("data-status", "done", timeout=30_000)
    expect(page.get_by_text("Imported. 7 created, 0 updated, 0 unchanged, 1 rejected.")).to_be_visible()
    screenshot(page, "import-register-done")
    assert ProjectKPI.objects.filter(project__external_id__startswith="P-").count() == 14
    assert not InnovationProject.objects.filter(external_id="P-8").exists()
    assert page.console_errors == []

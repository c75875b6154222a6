"""The lists in a real Chromium on the demo portfolio, at phone and desktop widths: a searchable
relationship filter, sorting by impact, page sizes with first and last pages, a reversed date range
refused, the relationship list sorted and filtered, the Excel export downloaded."""

import io

import openpyxl
import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from demo.portfolio import DEMO_PASSWORD
from projects.models import InnovationProject, Relationship
from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_layout import WIDTHS, _overflow
from web.views import pickers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def impacts(page) -> list[str]:
    return page.locator("#project-table tbody td[data-label=Impact]").all_inner_texts()


def as_number(text: str) -> float | None:
    if text == "—":
        return None
    return float(text.replace("−", "-").replace("±", "").replace("+", "").replace("%", "").replace(",", ""))


@pytest.mark.parametrize("width", list(WIDTHS))
def test_project_list_filters_sorts_and_pages(new_page, width, monkeypatch):
    call_command("seed_demo")
    # The demo has 25 relationships; a lower limit shows the searchable field a large portfolio gets.
    monkeypatch.setattr(pickers, "SELECT_LIMIT", 10)
    w, h = WIDTHS[width]
    page = new_page(width=w, height=h)
    sign_in(page, "admin", DEMO_PASSWORD)
    page.goto("/projects/")
    page.locator(".filters-panel summary").click()
    search = page.get_by_label("Relationship", exact=True)
    expect(search).to_have_attribute("type", "search")
    with page.expect_response(lambda response: "/suggest/relationships/" in response.url):
        search.fill("Harbor")
    target = Relationship.objects.get(name__startswith="Harbor Bank")
    expect(page.locator("#id_relationship_options option")).to_have_count(1)
    search.fill(target.name)  # what choosing the suggestion puts in the field
    expect(page.locator("#id_relationship")).to_have_value(str(target.pk))
    screenshot(page, f"lists-{width}-relationship-search")
    page.get_by_role("button", name="Apply").click()
    expected = InnovationProject.objects.filter(relationship=target, deleted_at__isnull=True).count()
    expect(page.locator("#result-count")).to_contain_text(f"{expected} project")
    expect(page.locator(".filters-panel")).to_have_attribute("open", "")
    expect(page.get_by_label("Relationship", exact=True)).to_have_value(target.name)

    # Impact, largest first, projects without one last.
    page.goto("/projects/")
    if width == "phone":  # the column headers are folded away: the sort menu stands in
        page.get_by_label("Sort by").select_option(label="Impact, largest first")
        page.get_by_role("button", name="Sort", exact=True).click()
    else:
        page.locator("#project-table thead").get_by_role("link", name="Impact").click()
    expect(page.locator("#project-table th[aria-sort=descending]")).to_contain_text("Impact")
    values = [as_number(text) for text in impacts(page)]
    measured = [value for value in values if value is not None]
    assert measured == sorted(measured, reverse=True) and measured
    assert values[: len(measured)] == measured  # the unmeasured come after
    assert _overflow(page) == []
    screenshot(page, f"lists-{width}-projects-by-impact")

    # 50 a page; the last page and back to the first.
    page.get_by_role("link", name="50", exact=True).click()
    expect(page.locator("#project-table tbody tr")).to_have_count(50)
    total = InnovationProject.objects.filter(deleted_at__isnull=True).count()
    page.get_by_role("link", name="Last page").click()
    expect(page.locator("#project-table tbody tr")).to_have_count(total - 50 * ((total - 1) // 50))
    page.get_by_role("link", name="First page").click()
    expect(page.locator(".pagination span")).to_contain_text("Page 1 of")

    # A reversed date range is refused with a message; the filters stay open.
    page.goto("/projects/?delivered_after=2026-06-01&delivered_before=2026-01-01")
    expect(page.locator(".filters-panel")).to_have_attribute("open", "")
    expect(page.locator(".field-error")).to_contain_text("is before “Delivered from”")
    expect(page.locator("#project-table tbody")).to_contain_text("Fix the filters above")
    assert _overflow(page) == []
    screenshot(page, f"lists-{width}-reversed-range")
    assert [error for error in page.console_errors if "404" not in error] == []


@pytest.mark.parametrize("width", list(WIDTHS))
def test_relationship_list_sorts_and_filters(new_page, width):
    call_command("seed_demo")
    w, h = WIDTHS[width]
    page = new_page(width=w, height=h)
    sign_in(page, "executive", DEMO_PASSWORD)
    page.goto("/relationships/")
    if width == "phone":
        page.get_by_label("Sort by").select_option(label="Current score, largest first")
        page.get_by_role("button", name="Sort", exact=True).click()
    else:
        page.locator("#relationship-table thead").get_by_role("link", name="Current score").click()
    expect(page.locator("#relationship-table th[aria-sort=descending]")).to_contain_text("Current score")
    scores = [
        text.split("/")[0].strip()
        for text in page.locator("td[data-label='Current score']").all_inner_texts()
    ]
    numbers = [float(text.split()[0]) for text in scores if text[:1].isdigit()]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) > 5
    page.locator(".filters-panel summary").click()
    page.get_by_label("Provider").select_option(label="Atlas Business Services")
    page.get_by_role("button", name="Apply").click()
    providers = set(page.locator("td[data-label=Provider]").all_inner_texts())
    assert providers == {"Atlas Business Services"}
    expect(page.locator("#relationship-table th[aria-sort=descending]")).to_contain_text("Current score")
    assert _overflow(page) == []
    screenshot(page, f"lists-{width}-relationships")
    assert page.console_errors == []


def test_excel_export_downloads_the_filtered_list(new_page):
    call_command("seed_demo")
    page = new_page()
    sign_in(page, "manager", DEMO_PASSWORD)
    page.goto("/projects/?stage=delivered&sort=title")
    shown = page.locator("#project-table tbody td[data-label=Project]").all_inner_texts()
    with page.expect_download() as download:
        page.get_by_role("link", name="Export Excel").click()
    sheet = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Project", "Relationship", "Level")
    assert [row[0] for row in rows[1:]][: len(shown)] == shown
    assert {row[3] for row in rows[1:]} == {"Delivered"}

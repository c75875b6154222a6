"""An executive opens the dashboards on the demo data in a real Chromium: charts draw, nothing errs."""

import re
from urllib.parse import urlparse

import pytest
from django.core.management import call_command

from demo.portfolio import DEMO_PASSWORD
from kpis.models import RelationshipScore
from tests.e2e.conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def rendered(page, chart: str) -> int:
    return page.locator(f'canvas[data-chart="{chart}"][data-rendered="true"]').count()


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_executive_reads_portfolio_and_relationship_dashboards(new_page):
    call_command("seed_demo")
    assert RelationshipScore.objects.exists(), "the demo data should come with 12 months of scores"

    page = new_page()
    sign_in(page, "executive", DEMO_PASSWORD)
    assert urlparse(page.url).path == "/"  # the portfolio dashboard is the home page
    page.wait_for_selector('canvas[data-chart="distribution"][data-rendered="true"]')
    for chart in ("stages", "levels", "quarters", "distribution"):
        assert rendered(page, chart) == 1, chart
    assert rendered(page, "sparkline") >= 10
    assert page.get_by_role("heading", name="Scoreboard").is_visible()
    assert page.locator('[data-figure="active"] .figure-value').inner_text().strip() != "0"
    screenshot(page, "dashboard-portfolio-desktop")

    # Find a published case and drill down to its relationship.
    page.get_by_label("Search").fill("Northwind")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("tr[data-relationship]").count() == 1
    page.locator("tr[data-relationship] a").first.click()
    page.wait_for_load_state("networkidle")
    assert re.search(r"/relationships/\d+/dashboard/$", page.url)
    page.wait_for_selector('canvas[data-chart="history"][data-rendered="true"]')
    for chart in ("history", "stages", "kpis", "benefits"):
        assert rendered(page, chart) == 1, chart
    assert page.get_by_role("heading", name=re.compile(r"^Why \d+\.\d\?$")).is_visible()
    kpi_table = page.locator('table[data-table="kpis"]')
    assert "+41.67 %" in kpi_table.inner_text() and "+19.05 %" in kpi_table.inner_text()
    screenshot(page, "dashboard-relationship-desktop")
    relationship_url = page.url
    assert page.console_errors == []

    phone = new_page(**PHONE)
    sign_in(phone, "executive", DEMO_PASSWORD)
    phone.wait_for_selector('canvas[data-chart="distribution"][data-rendered="true"]')
    assert no_sideways_scroll(phone)
    screenshot(phone, "dashboard-portfolio-phone")
    phone.goto(relationship_url)
    phone.wait_for_selector('canvas[data-chart="history"][data-rendered="true"]')
    assert no_sideways_scroll(phone)
    screenshot(phone, "dashboard-relationship-phone")
    assert phone.console_errors == []

"""Every page holds up at phone width (390 px) and on a desktop (1,440 px), in light and dark mode
(the board, My work and the filtered list included):
no sideways scrolling of the page, charts drawn, nothing erring in the console. Screenshots of each
are listed in the test summary."""

import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import expect

from collab.models import Contest
from demo.portfolio import DEMO_PASSWORD
from projects.models import InnovationProject, Relationship
from tests.e2e.conftest import follow_nav, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"phone": (390, 844), "desktop": (1440, 900)}


def _pages() -> list[tuple[str, str]]:
    relationship = Relationship.objects.filter(deleted_at__isnull=True).order_by("pk").first()
    project = (
        InnovationProject.objects.filter(
            relationship=relationship, stage="delivered", deleted_at__isnull=True
        )
        .order_by("pk")
        .first()
    )
    return [
        ("dashboard", "/"),
        ("relationship-list", "/relationships/"),
        ("relationship-page", f"/relationships/{relationship.pk}/"),
        ("relationship-dashboard", f"/relationships/{relationship.pk}/dashboard/"),
        ("leadership-form", f"/relationships/{relationship.pk}/leadership/"),
        ("project-list", "/projects/"),
        ("project-list-filtered", "/projects/?stage=delivered&sort=-impact&page_size=50"),
        ("board", "/projects/board/"),
        ("relationship-board", f"/projects/board/?relationship={relationship.pk}"),
        ("my-work", "/my-work/"),
        ("project-new", "/projects/new/"),
        ("project-page", f"/projects/{project.pk}/"),
        ("project-edit", f"/projects/{project.pk}/edit/"),
        ("project-delete", f"/projects/{project.pk}/delete/"),
        ("api-tokens", "/account/tokens/"),
        ("webhooks", "/webhooks/"),
        ("imports", "/imports/"),
        ("notifications", "/notifications/"),
        ("notification-preferences", "/notifications/preferences/"),
        # The two sides at the table (demo data on the first relationship, Northwind Aerospace).
        ("relationship-contests", f"/relationships/{relationship.pk}/contests/"),
        ("contest-page", f"/contests/{Contest.objects.filter(relationship=relationship).earliest('pk').pk}/"),
        ("pulse", f"/relationships/{relationship.pk}/pulse/"),
        ("person", f"/people/{User.objects.get(username='pedro').pk}/"),
        ("not-found", "/projects/987654321/"),
    ]


def _overflow(page) -> list[str]:
    """What sticks out past the viewport's right edge (empty when nothing does)."""
    return page.evaluate(
        """() => {
          if (document.documentElement.scrollWidth <= window.innerWidth + 1) return [];
          return [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
            .filter(el => !el.closest('.table-wrap'))
            .slice(0, 5).map(el => el.tagName + '.' + el.className);
        }"""
    )


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_page_fits_the_screen_in_light_mode(new_page, width):
    call_command("seed_demo")
    pages = _pages()
    w, h = WIDTHS[width]
    page = new_page(width=w, height=h)
    page.goto("/accounts/login/")
    assert _overflow(page) == [], "sign-in page"
    screenshot(page, f"layout-{width}-sign-in")
    sign_in(page, "admin", DEMO_PASSWORD)
    for name, path in pages:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert _overflow(page) == [], f"{name} scrolls sideways at {w} px: {_overflow(page)}"
        screenshot(page, f"layout-{width}-{name}")
        if name != "not-found":  # the browser logs the page's own 404 status as an error
            assert page.console_errors == [], name
        if name == "relationship-dashboard" and width == "desktop":
            # Tall enough to read the monthly points and the tier bands behind them.
            page.wait_for_selector('canvas[data-chart="history"][data-rendered="true"]')
            history = "document.querySelector('canvas[data-chart=history]').getBoundingClientRect().height"
            assert page.evaluate(history) >= 240


@pytest.mark.parametrize("width", list(WIDTHS))
def test_dark_mode_follows_the_system_and_charts_stay_readable(new_page, width):
    call_command("seed_demo")
    pages = dict(_pages())
    w, h = WIDTHS[width]
    page = new_page(width=w, height=h, color_scheme="dark")
    sign_in(page, "admin", DEMO_PASSWORD)
    for name in ("dashboard", "relationship-dashboard", "project-page", "project-list", "board", "my-work"):
        page.goto(pages[name])
        page.wait_for_load_state("networkidle")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        text = page.evaluate("getComputedStyle(document.body).color")
        assert _luminance(background) < 0.2 < _luminance(text), (name, background, text)
        assert _overflow(page) == [], name
        screenshot(page, f"dark-{width}-{name}")
    page.goto(pages["dashboard"])
    page.wait_for_selector('canvas[data-chart="distribution"][data-rendered="true"]')
    assert page.console_errors == []


def _luminance(css_colour: str) -> float:
    """Relative luminance (0 black … 1 white) of an `rgb(r, g, b)` / `rgba(...)` colour."""
    channels = [float(part) for part in css_colour[css_colour.index("(") + 1 : -1].split(",")[:3]]
    linear = [
        (c / 255 / 12.92) if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in channels
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_the_header_menu_folds_on_a_phone_and_stays_open_on_a_desktop(new_page):
    call_command("seed_demo")
    phone = new_page(width=WIDTHS["phone"][0], height=WIDTHS["phone"][1])
    sign_in(phone, "admin", DEMO_PASSWORD)
    menu = phone.get_by_role("button", name="Menu", exact=True)
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(phone.locator("#site-menu")).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(phone.locator("#site-menu").get_by_role("link", name="Projects", exact=True)).to_be_visible()
    assert _overflow(phone) == []
    screenshot(phone, "layout-phone-menu-open")
    menu.click()
    expect(phone.locator("#site-menu")).to_be_hidden()
    follow_nav(phone, "My work")
    expect(phone).to_have_url(re.compile("/my-work/$"))
    assert phone.console_errors == []

    desktop = new_page(width=WIDTHS["desktop"][0], height=WIDTHS["desktop"][1])
    sign_in(desktop, "admin", DEMO_PASSWORD)
    expect(desktop.get_by_role("button", name="Menu", exact=True)).to_be_hidden()
    expect(desktop.locator("#site-menu").get_by_role("link", name="Projects", exact=True)).to_be_visible()

"""A person signs in through a real browser and sees the plain lists."""

import pytest

from tests.e2e.conftest import screenshot, sign_in
from tests.factories import ProjectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_account_manager_signs_in_and_sees_projects(new_page, account_manager, portfolio):
    ProjectFactory(relationship=portfolio["rel_a"], title="Visible in browser")
    page = new_page()
    sign_in(page, account_manager.username)
    page.goto("/projects/")
    assert page.get_by_text("Visible in browser").is_visible()
    assert "Account manager" in page.locator("header").inner_text()
    assert page.console_errors == []
    screenshot(page, "foundation-project-list")


def test_wrong_password_is_refused(new_page, account_manager):
    page = new_page()
    sign_in(page, account_manager.username, "not-the-password")
    assert "/accounts/login/" in page.url
    assert page.get_by_role("alert").is_visible()

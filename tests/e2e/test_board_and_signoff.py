"""The board, client sign-off and My work in a real Chromium, at phone and desktop widths: a card
moved through the stage dialog lands in its new lane; a client viewer approves a request the
manager made; My work lists what waits."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from projects import services
from projects.models import InnovationProject, SignOff
from tests.e2e.conftest import follow_nav, screenshot, sign_in
from tests.e2e.test_layout import WIDTHS, _overflow
from tests.factories import ProjectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Stage = InnovationProject.Stage


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_card_moves_through_the_stage_dialog(new_page, account_manager, portfolio, width):
    relationship = portfolio["rel_a"]
    card = ProjectFactory(
        relationship=relationship, title="Invoice OCR", stage=Stage.IDEA, owner=account_manager
    )
    for number, stage in enumerate(("proposed", "approved", "in_progress")):
        ProjectFactory(relationship=relationship, title=f"Other {number}", stage=stage)
    w, h = WIDTHS[width]
    page = new_page(width=w, height=h)
    sign_in(page, account_manager.username)
    page.goto(f"/projects/board/?relationship={relationship.pk}")
    assert _overflow(page) == []
    expect(page.locator("#lane-idea")).to_contain_text("Idea")
    screenshot(page, f"board-{width}")

    page.evaluate("window.__board = true")
    idea_card = page.locator(f"#card-{card.pk}")
    idea_card.get_by_text("Move…").click()
    idea_card.get_by_role("link", name="Proposed…").click()
    dialog = page.locator("dialog#stage-dialog")
    expect(dialog).to_be_visible()
    assert page.evaluate("window.__board") is True  # the dialog came in place, without a reload
    # The dialog's rules: a date in the future is refused, in the dialog.
    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    dialog.get_by_label("Proposed on").fill(future)
    dialog.get_by_role("button", name="Move to Proposed").click()
    expect(dialog.locator(".field-error")).to_contain_text("cannot be dated in the future")
    screenshot(page, f"board-dialog-{width}")
    dialog.get_by_label("Proposed on").fill(dt.date.today().isoformat())
    dialog.get_by_role("button", name="Move to Proposed").click()
    expect(page.locator(".messages")).to_contain_text("Moved to Proposed.")
    expect(page).to_have_url(
        f"{page.url.split('/projects/')[0]}/projects/board/?relationship={relationship.pk}"
    )
    expect(page.locator(f"section[data-stage=proposed] #card-{card.pk}")).to_be_visible()
    assert page.locator(f"section[data-stage=idea] #card-{card.pk}").count() == 0
    assert _overflow(page) == []
    # The browser logs the refused move's 422 answer; nothing else may err.
    assert [error for error in page.console_errors if "422" not in error] == []


@pytest.mark.parametrize("width", list(WIDTHS))
def test_client_viewer_approves_what_the_manager_asked(
    new_page, account_manager, client_viewer_a, portfolio, width
):
    services.relationship_update(
        actor=None,
        relationship=portfolio["rel_a"],
        changes=services.RelationshipFields(client_signoff_required=True),
    )
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Parts forecasting", stage=Stage.PROPOSED)
    w, h = WIDTHS[width]
    manager = new_page(width=w, height=h)
    sign_in(manager, account_manager.username)
    manager.goto(f"/projects/{project.pk}/")
    manager.get_by_role("link", name="Request client approval…").click()
    dialog = manager.locator("dialog#stage-dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Ask Client A to approve “Parts forecasting”")
    dialog.get_by_label("Note to Client A").fill("Budget agreed in the QBR")
    screenshot(manager, f"signoff-request-{width}")
    dialog.get_by_role("button", name="Ask for approval").click()
    expect(manager.locator("#client-signoff")).to_contain_text("Waiting for Client A to approve the project")
    assert _overflow(manager) == []

    viewer = new_page(width=w, height=h)
    sign_in(viewer, client_viewer_a.username)
    follow_nav(viewer, "My work")
    expect(viewer.locator("#to-decide")).to_contain_text("Parts forecasting")
    expect(viewer.locator("#to-decide")).to_contain_text("“Budget agreed in the QBR”")
    assert _overflow(viewer) == []
    screenshot(viewer, f"my-work-client-{width}")
    viewer.locator("#to-decide").get_by_role("link", name="Parts forecasting").click()
    signoff = viewer.locator("#client-signoff")
    # Declining needs a reason: the form says so and nothing is decided.
    signoff.get_by_role("button", name="Decline").click()
    expect(viewer.locator("#client-signoff .field-error")).to_contain_text("Say why it is declined")
    screenshot(viewer, f"signoff-decide-{width}")
    viewer.locator("#client-signoff").get_by_role("button", name="Approve the project").click()
    expect(viewer.locator(".messages")).to_contain_text("Approved: the project is now Approved.")
    expect(viewer.locator(".stage-steps [aria-current=step]")).to_have_text("Approved")
    expect(viewer.locator("#client-signoff")).to_contain_text("approved the project")
    assert viewer.locator(".stage-actions").count() == 0  # the viewer still moves nothing
    assert SignOff.objects.get(project=project).status == "approved"
    # The decline without a reason answered 422 (logged by the browser); nothing else may err.
    assert manager.console_errors == []
    assert [error for error in viewer.console_errors if "422" not in error] == []


@pytest.mark.parametrize("width", list(WIDTHS))
def test_my_work_lists_stuck_work_and_saved_filters(new_page, account_manager, portfolio, width):
    ProjectFactory(
        relationship=portfolio["rel_a"],
        title="A proposal nobody answered",
        stage=Stage.PROPOSED,
        proposed_on=dt.date.today() - dt.timedelta(days=120),
    )
    w, h = WIDTHS[width]
    page = new_page(width=w, height=h)
    sign_in(page, account_manager.username)
    page.goto("/projects/?stage=proposed")
    page.get_by_label("Save this filter as").fill("Proposals")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Saved the filter “Proposals”.")
    follow_nav(page, "My work")
    expect(page.locator("#stuck")).to_contain_text("A proposal nobody answered")
    expect(page.locator("#stuck")).to_contain_text("(120 days)")
    expect(page.locator("#saved-filters")).to_contain_text("Proposals")
    assert _overflow(page) == []
    screenshot(page, f"my-work-manager-{width}")
    page.locator("#saved-filters").get_by_role("link", name="as a board").click()
    expect(page.locator("section[data-stage=proposed]")).to_contain_text("A proposal nobody answered")
    assert page.console_errors == []

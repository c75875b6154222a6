"""Both sides at the table, in a real Chromium: a client-side contributor comments with a mention,
contests a measurement and answers the pulse; the provider's account manager answers the contest and
resolves it, correcting the figure. Screenshots: two-sides-*.png."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from collab.models import Comment, Contest, PulseResponse
from kpis import services as kpi_services
from kpis.models import Measurement
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import KPIFactory, ProjectFactory, ProjectKPIFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def delivered_project(transactional_db, table):
    today = timezone.localdate()
    project = ProjectFactory(
        relationship=table["relationship"],
        title="Third-party vendor management",
        level="process",
        stage="delivered",
        started_on=today - dt.timedelta(days=150),
        delivered_on=today - dt.timedelta(days=20),
    )
    project_kpi = ProjectKPIFactory(
        project=project,
        kpi=KPIFactory(
            code="turnaround_time", name="Turnaround time", unit="hours", direction="lower_is_better"
        ),
        baseline_value=Decimal("21"),
        baseline_date=project.started_on,
    )
    measurement = kpi_services.measurement_record(
        actor=None,
        fields=kpi_services.MeasurementFields(
            project_kpi=project_kpi, measured_on=today - dt.timedelta(days=25), value=Decimal("17")
        ),
    )
    return {"project": project, "measurement": measurement}


def test_a_client_contributor_and_the_providers_account_manager_at_the_table(
    new_page, table, delivered_project
):
    project, measurement = delivered_project["project"], delivered_project["measurement"]

    # --- The client side: a comment with a mention --------------------------------------------
    page = new_page()
    sign_in(page, "carla")
    page.goto(f"/projects/{project.pk}/")
    form = page.locator("#comment-form")
    form.get_by_label("Comment").fill(
        "Do these figures include weekend requests, @pia?\n\n- weekdays\n- weekends"
    )
    form.get_by_label("Shared — Client A and Shared Provider").check()
    form.get_by_role("button", name="Post comment").click()
    expect(page.locator(".messages")).to_contain_text("both sides can read it")
    comment = Comment.objects.get()
    posted = page.locator(f"#comment-{comment.pk}")
    expect(posted.locator(".mention")).to_have_text("@pia")
    expect(posted.locator(".comment-body li")).to_have_count(2)
    # A mention of someone who cannot read it is refused, the text kept.
    form = page.locator("#comment-form")
    form.get_by_label("Comment").fill("Internal: ask @pia too")
    form.get_by_label("Internal — Client A only").check()
    form.get_by_role("button", name="Post comment").click()
    expect(page.locator(".form-errors, .field-error").first).to_be_visible()
    expect(page.get_by_text("@pia cannot be mentioned")).to_be_visible()
    assert Comment.objects.count() == 1
    page.console_errors.clear()  # the browser logs the refusal's 422, which was the point
    page.goto(f"/projects/{project.pk}/#discussion")
    screenshot(page, "two-sides-client-comment")

    # --- The client side: contest a measurement -------------------------------------------------
    page.locator("details.measurements summary").first.click()
    page.get_by_role("link", name="Contest the measurement of Turnaround time").click()
    expect(page.locator("[data-figure-now]")).to_have_text("17 h")
    page.get_by_label("Why is the figure wrong?").fill(
        "Our log shows 19.5 h: two requests closed the next day."
    )
    page.get_by_label("What should it be? (optional)").fill("19.5")
    screenshot(page, "two-sides-contest-form")
    page.get_by_role("button", name="Contest this figure").click()
    expect(page.locator("#contest-status")).to_have_text("Open")
    contest = Contest.objects.get()
    assert (contest.measurement_id, contest.raised_by.username) == (measurement.pk, "carla")
    page.goto(f"/projects/{project.pk}/")
    expect(page.locator("#kpi-table .contested-marker")).to_have_count(1)

    # --- The client side: the quarter's pulse ---------------------------------------------------
    page.goto(f"/relationships/{table['relationship'].pk}/pulse/")
    pulse_form = page.locator("#pulse-form")
    for statement, answer in (
        ("The other side brings us ideas we would not have had", "4"),
        ("We can raise a problem openly and it gets solved", "3"),
        ("Leadership on both sides actively sponsors innovation", "5"),
        ("I trust the other side to act in our joint interest", "4"),
    ):
        pulse_form.get_by_role("group", name=statement).locator(f"input[value='{answer}']").check()
    pulse_form.get_by_label("Anything to add?").fill("More joint workshops, please.")
    pulse_form.get_by_role("button", name="Send my answers").click()
    expect(page.locator(".messages")).to_contain_text("only you will ever see them")
    answer = PulseResponse.objects.get()
    assert (answer.ideas, answer.openness, answer.sponsorship, answer.trust, answer.side) == (
        4,
        3,
        5,
        4,
        "client",
    )
    screenshot(page, "two-sides-pulse")
    assert page.console_errors == []

    # --- The provider's account manager: answer, then resolve ------------------------------------
    manager = new_page()
    sign_in(manager, table["account_manager"].username)
    manager.goto(f"/projects/{project.pk}/")
    manager.locator("#kpi-table .contested-marker").click()
    manager.get_by_label("Your answer").fill(
        "Recounted: one request was closed after midnight; 18 h is right."
    )
    manager.get_by_role("button", name="Send answer").click()
    expect(manager.locator("#contest-status")).to_have_text("Answered")
    manager.get_by_label("Accept — correct the figure").check()
    manager.get_by_label("Corrected figure").fill("18")
    manager.get_by_label("Note (needed to reject: why the figure stands)").fill(
        "Corrected after the recount."
    )
    manager.get_by_role("button", name="Resolve").click()
    expect(manager.locator("#contest-status")).to_have_text("Resolved — accepted")
    expect(manager.locator("[data-corrected-value]")).to_contain_text("18 h")
    screenshot(manager, "two-sides-contest-resolved")
    assert Measurement.objects.get(pk=measurement.pk).value == Decimal("18")
    contest.refresh_from_db()
    assert contest.correction is not None and contest.correction.object_id == measurement.pk
    manager.goto(f"/projects/{project.pk}/")
    expect(manager.locator("#kpi-table .contested-marker")).to_have_count(0)
    expect(manager.locator("#kpi-table")).to_contain_text("18 h")
    assert manager.console_errors == []

    # The client sees the outcome on the contest's page.
    page.goto(f"/contests/{contest.pk}/")
    expect(page.locator("[data-answer]")).to_contain_text("Recounted")
    expect(page.locator("#contest-status")).to_have_text("Resolved — accepted")

"""In Chromium: an account manager registers a webhook to a real receiver, sees the secret once,
sends a test event and watches it arrive in the delivery log; the notification centre's bell,
list and link to the record. Screenshots of each, at desktop and phone width."""

import re

import pytest
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from notifications.kinds import Kind
from notifications.services import notify
from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_layout import _overflow
from tests.factories import ProjectFactory
from tests.webhooks.receiver import Receiver
from webhooks.models import Endpoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.inprocess_deliveries]


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def test_an_account_manager_registers_a_webhook_and_sends_a_test_event(
    new_page, account_manager, portfolio, receiver
):
    page = new_page()
    sign_in(page, account_manager.username)
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    page.locator("#id_url").fill(receiver.url)
    page.get_by_label("Description").fill("Client ERP")
    page.get_by_text("Event types (all)").click()
    page.get_by_label("project.stage_changed").check()
    page.locator("#id_relationship").select_option(label=portfolio["rel_a"].name)
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_label("Signing secret").input_value()
    assert secret.startswith("whsec_")
    screenshot(page, "webhooks-new-endpoint-secret-once")

    page.get_by_role("link", name="Client ERP").click()
    assert secret not in page.content()
    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_text("Test message queued")).to_be_visible()
    # Delivered in-process (no broker here): the log shows it after a reload.
    for _ in range(50):
        if page.locator(".delivery-delivered").count():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.locator(".delivery-delivered").first).to_be_visible()
    page.locator(".delivery-log details summary").first.click()
    expect(page.locator("ol.attempts li").first).to_contain_text("200")
    screenshot(page, "webhooks-endpoint-delivery-log")
    request = receiver.received[0]
    assert Webhook(secret).verify(request.body, request.headers)["type"] == "webhook.test"
    assert page.console_errors == []

    phone = new_page(width=390, height=844)
    sign_in(phone, account_manager.username)
    phone.goto(f"/webhooks/{Endpoint.objects.get().pk}/")
    phone.wait_for_load_state("networkidle")
    assert _overflow(phone) == []
    screenshot(phone, "webhooks-endpoint-phone")


def test_the_bell_counts_unread_and_the_centre_leads_to_the_record(new_page, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Forecasting tools")
    notify(
        recipients=[account_manager],
        kind=Kind.MEASUREMENT_DUE,
        title="Measure the KPIs of “Forecasting tools”",
        body="Delivered 92 days ago and nothing measured since.",
        url=f"/projects/{project.pk}/",
    )
    notify(recipients=[account_manager], kind=Kind.OTHER, title="Welcome to notifications", url="/")
    page = new_page()
    sign_in(page, account_manager.username)
    badge = page.locator("#notification-count .count")
    expect(badge).to_have_text("2")
    screenshot(page, "notifications-bell")
    page.get_by_role("link", name=re.compile("Notifications")).first.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    screenshot(page, "notifications-centre")
    page.get_by_role("link", name="Measure the KPIs of “Forecasting tools”").click()
    expect(page).to_have_url(re.compile(rf"/projects/{project.pk}/$"))
    expect(page.locator("#notification-count .count")).to_have_text("1")
    page.goto("/notifications/")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#notification-count .count")).to_have_count(0)
    page.goto("/notifications/preferences/")
    page.get_by_label("Digest hour").select_option(label="18:00")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("preferences are saved")).to_be_visible()
    screenshot(page, "notifications-preferences")
    assert page.console_errors == []

"""Contested figures in the browser layer: raise from the figure, markers wherever the figure
shows, answer and resolve on the contest's page."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from collab.models import Contest
from collab.services import ContestFields, contest_raise
from kpis.models import Measurement
from kpis.rollup import rollup_scores
from tests.collab.conftest import delivered  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def page(client, user, url, **params):
    client.force_login(user)
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_a_contributor_contests_a_measurement_from_the_project_page(client, table, delivered):  # noqa: F811
    project, measurement = delivered["project"], delivered["measurement"]
    html = page(client, table["client_contributor"], reverse("project-detail", args=[project.pk]))
    link = f"{reverse('contest-new')}?kind=measurement&amp;measurement={measurement.pk}"
    assert link in html
    # A viewer comments but does not contest: no link for them.
    assert link not in page(client, table["client_viewer"], reverse("project-detail", args=[project.pk]))
    client.force_login(table["client_contributor"])
    form = client.get(reverse("contest-new"), {"kind": "measurement", "measurement": measurement.pk})
    assert "85 %" in form.content.decode()
    response = client.post(
        reverse("contest-new"),
        {
            "kind": "measurement",
            "measurement": measurement.pk,
            "reason": "Our count says 70",
            "proposed_value": "70",
        },
    )
    contest = Contest.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "contest-detail", args=[contest.pk]
    )
    assert (contest.reason, contest.proposed_value, contest.raised_by) == (
        "Our count says 70",
        "70",
        table["client_contributor"],
    )


def test_an_empty_reason_is_refused_and_writes_nothing(client, table, delivered):  # noqa: F811
    client.force_login(table["client_contributor"])
    data = {"kind": "measurement", "measurement": delivered["measurement"].pk, "reason": ""}
    response = client.post(reverse("contest-new"), data)
    assert response.status_code == 422 and not Contest.objects.exists()


def test_a_figure_outside_ones_scope_is_404_and_a_viewer_gets_403(client, table, delivered):  # noqa: F811
    measurement = delivered["measurement"]
    client.force_login(table["client_b_contributor"])
    assert (
        client.get(reverse("contest-new"), {"kind": "measurement", "measurement": measurement.pk}).status_code
        == 404
    )
    client.force_login(table["client_viewer"])
    assert (
        client.get(reverse("contest-new"), {"kind": "measurement", "measurement": measurement.pk}).status_code
        == 403
    )


def test_the_marker_shows_wherever_the_figure_does_until_resolved(client, table, delivered):  # noqa: F811
    relationship, project = table["relationship"], delivered["project"]
    rollup_scores(period=timezone.localdate(), relationship_ids=[relationship.pk])
    contest = contest_raise(
        actor=table["client_contributor"],
        fields=ContestFields(kind="measurement", measurement=delivered["measurement"], reason="Wrong"),
    )
    marker = f'href="{reverse("contest-detail", args=[contest.pk])}" class="contested-marker"'
    for who in ("client_contributor", "account_manager", "provider_contributor", "portfolio_executive"):
        project_page = page(client, table[who], reverse("project-detail", args=[project.pk]))
        assert project_page.count(marker) == 2, who  # the latest value and the measurement's row
        dashboard = page(client, table[who], reverse("relationship-dashboard", args=[relationship.pk]))
        assert "data-rests-on-contested" in dashboard and "data-contested" in dashboard
        detail = page(client, table[who], reverse("relationship-detail", args=[relationship.pk]))
        assert "Rests on contested figures" in detail
    client.force_login(table["account_manager"])
    client.post(
        reverse("contest-resolve", args=[contest.pk]),
        {"outcome": "rejected", "resolution": "Counted twice", "version": contest.version},
    )
    assert "contested-marker" not in page(
        client, table["client_contributor"], reverse("project-detail", args=[project.pk])
    )


def test_the_account_manager_answers_and_accepts_with_the_corrected_figure(client, table, delivered):  # noqa: F811
    contest = contest_raise(
        actor=table["client_contributor"],
        fields=ContestFields(kind="measurement", measurement=delivered["measurement"], reason="Wrong"),
    )
    url = reverse("contest-detail", args=[contest.pk])
    html = page(client, table["account_manager"], url)
    assert "Send answer" in html and "Resolve" in html
    # The raiser's page offers no answer, only withdrawing.
    raiser = page(client, table["client_contributor"], url)
    assert "Send answer" not in raiser and "Withdraw my contest" in raiser
    client.force_login(table["account_manager"])
    client.post(reverse("contest-answer", args=[contest.pk]), {"answer": "Recounting", "version": 1})
    # A stale version is refused with who changed it, and writes nothing.
    stale = client.post(
        reverse("contest-resolve", args=[contest.pk]),
        {"outcome": "accepted", "corrected_value": "70", "version": 1},
    )
    assert stale.status_code == 422 and "version 2" in stale.content.decode()
    # Accepting without a corrected figure is refused.
    missing = client.post(
        reverse("contest-resolve", args=[contest.pk]), {"outcome": "accepted", "version": 2}
    )
    assert missing.status_code == 422 and "Give the corrected figure." in missing.content.decode()
    done = client.post(
        reverse("contest-resolve", args=[contest.pk]),
        {"outcome": "accepted", "corrected_value": "70", "version": 2},
    )
    assert done.status_code == 302
    assert Measurement.objects.get(pk=delivered["measurement"].pk).value == Decimal("70")
    html = page(client, table["client_contributor"], url)
    contest.refresh_from_db()
    assert "Accepted" in html and f"audit entry #{contest.correction_id}" in html
    assert re.search(r"data-corrected-value>70 %", html)
    # The project's history names the contest its correction settled.
    project_page = page(
        client, table["client_viewer"], reverse("project-detail", args=[delivered["project"].pk])
    )
    assert f'data-correction-of="{contest.pk}"' in project_page


def test_the_relationships_contests_list_them_by_state(client, table, delivered):  # noqa: F811
    contest_raise(
        actor=table["client_contributor"],
        fields=ContestFields(kind="realised_benefit", project=delivered["project"], reason="Too high"),
    )
    html = page(
        client,
        table["provider_contributor"],
        reverse("relationship-contests", args=[table["relationship"].pk]),
    )
    assert "Realised benefit" in html and "90,000 USD a year" in html
    client.force_login(table["client_b_contributor"])
    assert client.get(reverse("relationship-contests", args=[table["relationship"].pk])).status_code == 404


def test_the_lists_of_scores_mark_those_resting_on_contested_figures(client, table, delivered):  # noqa: F811
    relationship = table["relationship"]
    rollup_scores(period=timezone.localdate(), relationship_ids=[relationship.pk])
    for url in (reverse("relationship-list"), reverse("home")):
        assert "data-contested" not in page(client, table["provider_contributor"], url)
    contest_raise(
        actor=table["client_contributor"],
        fields=ContestFields(kind="delivery_date", project=delivered["project"], reason="It was later"),
    )
    for url in (reverse("relationship-list"), reverse("home")):
        html = page(client, table["provider_contributor"], url)
        row = html.split(f'data-relationship="{relationship.pk}"')[-1] if url == reverse("home") else html
        assert "data-contested" in row, url

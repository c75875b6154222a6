"""The collaboration resources of the API: comments, contests (with their steps), one's own pulse
answers, pulse results (aggregates) and contributors — scoped, versioned (ETag / If-Match), synced,
every write through the services, every refusal in the one error shape."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from collab.calendar import previous_quarter, quarter_key
from collab.models import Comment, Contest, ProjectContributor, PulseResponse
from collab.services import PulseFields, pulse_answer
from kpis.models import Measurement
from kpis.rollup import rollup_scores
from projects.models import AuditEntry
from tests.collab.conftest import delivered  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def error_of(response) -> dict:
    body = response.json()
    assert set(body) >= {"status", "code", "detail", "errors"}
    return body


# --- Comments ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # sync sees committed changes only
def test_a_comment_is_posted_edited_with_if_match_and_deleted_as_a_tombstone(transactional_db, table, api_as):
    client = api_as(table["client_contributor"])
    response = client.post(
        "/api/v1/comments/",
        {
            "project": table["project"].pk,
            "body": "See [the memo](https://example.com/m) @pia",
            "external_id": "c-1",
        },
    )
    assert response.status_code == 201, response.json()
    comment = response.json()
    assert response.headers["ETag"] == '"1"' and comment["relationship"] == table["relationship"].pk
    assert (comment["author"], comment["author_side"], comment["author_organization"]) == (
        "carla",
        "client",
        "Client A",
    )
    assert comment["mentions"] == ["pia"] and '<span class="mention">@pia</span>' in comment["body_html"]
    assert comment["visibility"] == "shared"
    url = f"/api/v1/comments/{comment['id']}/"
    stale = client.patch(url, {"body": "x"}, HTTP_IF_MATCH='"7"')
    assert stale.status_code == 412 and error_of(stale)["current_version"] == 1
    edited = client.patch(url, {"body": "See the memo"}, HTTP_IF_MATCH='"1"')
    assert edited.status_code == 200 and edited.json()["edited_at"] and edited.json()["mentions"] == []
    assert client.patch(url, {"visibility": "internal"}).status_code == 400
    assert api_as(table["client_colleague"]).patch(url, {"body": "mine now"}).status_code == 403
    cursor = client.get("/api/v1/comments/").json()["next_sync"]
    assert client.delete(url, HTTP_IF_MATCH='"2"').status_code == 204
    changes = client.get(f"/api/v1/comments/?sync={cursor}").json()["results"]
    assert [(row["id"], row["body"], row["deleted_at"] is not None) for row in changes] == [
        (comment["id"], "", True)
    ]


def test_comment_refusals_answer_in_the_error_shape_and_write_nothing(table, api_as):
    contributor = api_as(table["client_contributor"])
    refused = contributor.post("/api/v1/comments/", {"project": table["project"].pk, "body": "Ask @bert"})
    assert refused.status_code == 400 and "body" in error_of(refused)["errors"]
    no_target = contributor.post("/api/v1/comments/", {"body": "On what?"})
    assert no_target.status_code == 400 and "project" in error_of(no_target)["errors"]
    # People of neither side: 403 (they see the project); another client: the project is absent (400).
    admin = api_as(table["admin"]).post("/api/v1/comments/", {"project": table["project"].pk, "body": "Hi"})
    assert admin.status_code == 403
    outsider = api_as(table["client_b_contributor"]).post(
        "/api/v1/comments/", {"project": table["project"].pk, "body": "Hi"}
    )
    assert outsider.status_code == 400 and "project" in error_of(outsider)["errors"]
    viewer = api_as(table["client_viewer"]).post(
        "/api/v1/comments/",
        {
            "relationship": table["relationship"].pk,
            "period": "2025-01-15",
            "body": "Why?",
            "visibility": "internal",
        },
    )
    assert viewer.status_code == 201 and viewer.json()["period"] == "2025-01-01"
    assert Comment.objects.count() == 1


def test_comment_filters(table, api_as):
    client = api_as(table["provider_contributor"])
    client.post("/api/v1/comments/", {"project": table["project"].pk, "body": "On the project"})
    client.post(
        "/api/v1/comments/",
        {"relationship": table["relationship"].pk, "period": "2025-01-01", "body": "Score"},
    )
    on_score = client.get("/api/v1/comments/?on=score").json()["results"]
    assert [row["body"] for row in on_score] == ["Score"]
    assert client.get("/api/v1/comments/?visibility=nope").status_code == 400
    assert client.get("/api/v1/comments/?stage=idea").status_code == 400  # a filter this list does not take


# --- Contests ---------------------------------------------------------------------------------


def test_the_contest_workflow_end_to_end_over_the_api(table, delivered, api_as):  # noqa: F811
    measurement = delivered["measurement"]
    rollup_scores(period=timezone.localdate(), relationship_ids=[table["relationship"].pk])
    client_side, manager = api_as(table["client_contributor"]), api_as(table["account_manager"])
    raised = client_side.post(
        "/api/v1/contests/",
        {
            "kind": "measurement",
            "measurement": measurement.pk,
            "reason": "We count 70",
            "proposed_value": "70",
        },
    )
    assert raised.status_code == 201, raised.json()
    contest = raised.json()
    assert (contest["status"], contest["contested_value"], contest["raised_by"], contest["project"]) == (
        "open",
        "85",
        "carla",
        delivered["project"].pk,
    )
    assert contest["escalates_on"]
    # The marker, in the API, on the figure and on the scores it feeds.
    assert manager.get(f"/api/v1/measurements/{measurement.pk}/").json()["contested"] is True
    relationship = manager.get(f"/api/v1/relationships/{table['relationship'].pk}/").json()
    assert relationship["current_score"]["rests_on_contested"] is True
    url = f"/api/v1/contests/{contest['id']}/"
    assert client_side.post(url + "answer/", {"answer": "own side"}).status_code == 403
    answered = manager.post(url + "answer/", {"answer": "Recounting"}, HTTP_IF_MATCH='"1"')
    assert answered.status_code == 200 and answered.headers["ETag"] == '"2"'
    stale = manager.post(
        url + "resolve/", {"outcome": "accepted", "corrected_value": "70"}, HTTP_IF_MATCH='"1"'
    )
    assert stale.status_code == 412
    assert client_side.post(url + "resolve/", {"outcome": "rejected", "resolution": "no"}).status_code == 403
    missing = manager.post(url + "resolve/", {"outcome": "accepted"}, HTTP_IF_MATCH='"2"')
    assert missing.status_code == 400 and "corrected_value" in error_of(missing)["errors"]
    resolved = manager.post(
        url + "resolve/", {"outcome": "accepted", "corrected_value": "70"}, HTTP_IF_MATCH='"2"'
    )
    assert resolved.status_code == 200, resolved.json()
    body = resolved.json()
    assert (body["status"], body["outcome"], body["corrected_value"]) == ("resolved", "accepted", "70")
    entry = AuditEntry.objects.get(pk=body["correction"])
    assert (entry.object_id, entry.changes["value"]["after"]) == (measurement.pk, "70.0000")
    assert Measurement.objects.get(pk=measurement.pk).value == Decimal("70")
    # The correction is in the project's history as the API shows it.
    history = manager.get(f"/api/v1/projects/{delivered['project'].pk}/history/").json()["results"]
    assert any(row["resource"] == "measurements" and row["changes"].get("value") for row in history)
    assert manager.get(f"/api/v1/measurements/{measurement.pk}/").json()["contested"] is False
    steps = manager.get(url + "history/").json()["results"]
    assert [row["action"] for row in steps] == ["transition", "transition", "create"]
    # Never changed otherwise, never deleted.
    assert manager.patch(url, {"reason": "x"}).status_code == 405
    assert manager.delete(url).status_code == 405


def test_contest_refusals(table, delivered, api_as):  # noqa: F811
    measurement = delivered["measurement"]
    payload = {"kind": "measurement", "measurement": measurement.pk, "reason": "Wrong"}
    assert api_as(table["client_viewer"]).post("/api/v1/contests/", payload).status_code == 403
    outsider = api_as(table["client_b_contributor"]).post("/api/v1/contests/", payload)
    assert outsider.status_code == 400 and "measurement" in error_of(outsider)["errors"]
    bad_kind = api_as(table["client_contributor"]).post("/api/v1/contests/", {**payload, "kind": "mood"})
    assert bad_kind.status_code == 400 and "kind" in error_of(bad_kind)["errors"]
    api_as(table["client_contributor"]).post("/api/v1/contests/", payload)
    twice = api_as(table["provider_contributor"]).post("/api/v1/contests/", payload)
    assert twice.status_code == 409 and Contest.objects.count() == 1


# --- The pulse --------------------------------------------------------------------------------


def test_own_pulse_answers_once_a_quarter_changed_with_if_match(table, api_as):
    client = api_as(table["client_contributor"])
    answer = {
        "relationship": table["relationship"].pk,
        "ideas": 4,
        "openness": 3,
        "sponsorship": 5,
        "trust": 4,
    }
    created = client.post("/api/v1/pulse-answers/", answer)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["quarter"] == quarter_key(timezone.localdate()) and body["side"] == "client"
    twice = client.post("/api/v1/pulse-answers/", answer)
    assert twice.status_code == 409 and PulseResponse.objects.count() == 1
    for bad in (0, 6, "4", True, 3.5):
        refused = client.post("/api/v1/pulse-answers/", {**answer, "trust": bad})
        assert refused.status_code == 400 and "trust" in error_of(refused)["errors"], bad
    url = f"/api/v1/pulse-answers/{body['id']}/"
    assert client.patch(url, {"trust": 2}, HTTP_IF_MATCH='"1"').json()["trust"] == 2
    assert client.patch(url, {"trust": 5}, HTTP_IF_MATCH='"1"').status_code == 412
    assert client.delete(url).status_code == 405
    assert api_as(table["admin"]).post("/api/v1/pulse-answers/", answer).status_code == 403


def test_pulse_results_are_aggregates_with_the_thresholds(table, api_as):
    day = previous_quarter(timezone.localdate()) + dt.timedelta(days=5)
    for person in (table["client_contributor"], table["client_colleague"], table["client_viewer"]):
        pulse_answer(
            actor=person,
            fields=PulseFields(
                relationship=table["relationship"], ideas=4, openness=4, sponsorship=3, trust=4
            ),
            today=day,
        )
    client = api_as(table["provider_contributor"])
    rows = client.get("/api/v1/pulse-results/").json()["results"]
    assert [row["relationship"] for row in rows] == [table["rel_a"].pk, table["rel_b"].pk]  # both it serves
    [row] = client.get(f"/api/v1/pulse-results/?relationship={table['relationship'].pk}").json()["results"]
    assert (row["relationship"], row["published"], row["quarter"]) == (
        table["relationship"].pk,
        True,
        quarter_key(day),
    )
    assert (
        row["client"]["shown"] and row["client"]["responses"] == 3 and row["client"]["trust_index"] == "68.8"
    )
    assert row["client"]["means"] == {
        "ideas": "4.00",
        "openness": "4.00",
        "sponsorship": "3.00",
        "trust": "4.00",
    }
    assert row["client"]["comments"] is None and row["client"]["band"] == "healthy"
    assert row["provider"] == {
        "shown": False,
        "responses": None,
        "means": None,
        "trust_index": None,
        "band": None,
        "comments": None,
    }
    assert row["overall"] == {"trust_index": None, "band": None, "gap": None}
    running = client.get(
        f"/api/v1/pulse-results/?quarter={quarter_key(timezone.localdate())}&relationship={table['relationship'].pk}"
    ).json()
    assert running["results"][0]["published"] is False
    assert client.get("/api/v1/pulse-results/?quarter=2026-Q9").status_code == 400
    assert client.get("/api/v1/pulse-results/?sync=0").status_code == 400
    other_client = api_as(table["client_b_contributor"]).get("/api/v1/pulse-results/").json()["results"]
    assert [row["relationship"] for row in other_client] == [table["rel_b"].pk]
    filtered = api_as(table["client_b_contributor"]).get(
        f"/api/v1/pulse-results/?relationship={table['rel_a'].pk}"
    )
    assert filtered.json()["results"] == []


# --- Contributors -----------------------------------------------------------------------------


def test_contributors_are_named_by_the_projects_writers(table, api_as):
    payload = {"project": table["project"].pk, "person": "pia", "contribution": "Built the model"}
    assert api_as(table["client_contributor"]).post("/api/v1/contributors/", payload).status_code == 403
    created = api_as(table["account_manager"]).post("/api/v1/contributors/", payload)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["person"], body["side"], body["organization_name"]) == ("pia", "provider", "Shared Provider")
    outsider = api_as(table["account_manager"]).post("/api/v1/contributors/", {**payload, "person": "bert"})
    assert outsider.status_code == 400 and "person" in error_of(outsider)["errors"]
    listed = api_as(table["client_viewer"]).get("/api/v1/contributors/?person=pia").json()["results"]
    assert [row["id"] for row in listed] == [body["id"]]
    assert api_as(table["client_b_contributor"]).get(f"/api/v1/contributors/{body['id']}/").status_code == 404
    assert ProjectContributor.objects.count() == 1

"""`/api/v1/webhooks/` and `/api/v1/events/`: who may manage endpoints, secrets shown once, the
delivery log, tests and replays, and the scoped event stream."""

import pytest
from standardwebhooks.webhooks import Webhook

from outbox.tasks import relay_events
from tests.factories import ProjectFactory
from tests.webhooks.receiver import Receiver
from webhooks.delivery import deliver_endpoint, send_test_delivery
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def create(client, **body):
    return client.post("/api/v1/webhooks/", body, format="json")


def test_an_admin_registers_an_endpoint_and_sees_its_secret_once(admin_user, api_as, receiver):
    client = api_as(admin_user)
    response = create(client, url=receiver.url, event_types=["project.created"], description="ERP")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert response["ETag"] == '"1"'
    later = client.get(f"/api/v1/webhooks/{body['id']}/").json()
    assert "secret" not in later
    assert body["secret"].startswith(later["secret_hint"].rstrip("…"))

    rotated = client.post(f"/api/v1/webhooks/{body['id']}/rotate-secret/").json()
    assert rotated["secret"] != body["secret"] and rotated["previous_secret_expires_at"]


def test_bad_endpoints_are_refused_field_by_field_and_nothing_is_written(admin_user, api_as, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_LOOPBACK": False}
    response = create(api_as(admin_user), url="http://127.0.0.1:9/hook", event_types=["project.renamed"])
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"event_types.0"}  # the serializer checks first
    response = create(api_as(admin_user), url="http://127.0.0.1:9/hook")
    assert response.status_code == 400
    assert "loopback" in response.json()["errors"]["url"][0]
    response = create(api_as(admin_user), url="ftp://example.com/x", colour="blue")
    assert response.status_code == 400 and "colour" in response.json()["errors"]
    assert not Endpoint.objects.exists()


def test_executives_and_viewers_may_not_manage_webhooks(executive, client_viewer_a, api_as, receiver):
    for user in (executive, client_viewer_a):
        assert api_as(user).get("/api/v1/webhooks/").status_code == 403
        assert create(api_as(user), url=receiver.url).status_code == 403


def test_account_managers_manage_their_own_endpoints_within_their_scope(
    account_manager, other_account_manager, admin_user, portfolio, api_as, receiver
):
    mine = create(api_as(account_manager), url=receiver.url, relationship=portfolio["rel_a"].pk)
    assert mine.status_code == 201, mine.json()
    outside = create(api_as(account_manager), url=receiver.url, relationship=portfolio["rel_b"].pk)
    assert outside.status_code == 400 and "relationship" in outside.json()["errors"]
    theirs = create(api_as(other_account_manager), url=receiver.url).json()
    listed = api_as(account_manager).get("/api/v1/webhooks/").json()
    assert [e["id"] for e in listed["results"]] == [mine.json()["id"]]
    assert api_as(account_manager).get(f"/api/v1/webhooks/{theirs['id']}/").status_code == 404
    assert len(api_as(admin_user).get("/api/v1/webhooks/").json()["results"]) == 2


def test_updates_honour_if_match_and_turning_off_is_recorded(admin_user, api_as, receiver):
    client = api_as(admin_user)
    endpoint = create(client, url=receiver.url).json()
    path = f"/api/v1/webhooks/{endpoint['id']}/"
    stale = client.patch(path, {"description": "x"}, format="json", HTTP_IF_MATCH='"7"')
    assert stale.status_code == 412
    off = client.patch(path, {"is_active": False}, format="json", HTTP_IF_MATCH='"1"')
    assert off.status_code == 200 and off.json()["version"] == 2
    assert off.json()["disabled_reason"]
    on = client.patch(path, {"is_active": True}, format="json")
    assert on.json()["is_active"] and on.json()["disabled_reason"] == ""
    assert client.delete(path, HTTP_IF_MATCH='"1"').status_code == 412
    assert client.delete(path).status_code == 204


def test_the_delivery_log_test_message_and_replay(admin_user, api_as, receiver):
    client = api_as(admin_user)
    endpoint = create(client, url=receiver.url, event_types=["project.created"]).json()
    test = client.post(f"/api/v1/webhooks/{endpoint['id']}/test/")
    assert test.status_code == 202 and test.json()["kind"] == "test"
    send_test_delivery(test.json()["id"])
    ProjectFactory()
    relay_events()
    deliver_endpoint(endpoint["id"])
    log = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries/").json()
    assert [d["kind"] for d in log["results"]] == ["event", "test"]
    attempt = log["results"][0]["attempt_log"][0]
    assert attempt["status_code"] == 200 and attempt["succeeded"] and attempt["latency_ms"] >= 0
    Webhook(Endpoint.objects.get(pk=endpoint["id"]).secret).verify(
        receiver.received[-1].body, receiver.received[-1].headers
    )
    event_id = log["results"][0]["event"]
    replay = client.post(f"/api/v1/webhooks/{endpoint['id']}/replay/", {"event_id": event_id}, format="json")
    assert replay.status_code == 202 and replay.json() == {"queued": 1}
    bad = client.post(f"/api/v1/webhooks/{endpoint['id']}/replay/", {}, format="json")
    assert bad.status_code == 400
    assert Delivery.objects.filter(kind="replay").count() == 1


def test_unknown_query_parameters_are_refused(admin_user, api_as):
    assert api_as(admin_user).get("/api/v1/webhooks/?stat=1").status_code == 400
    assert api_as(admin_user).get("/api/v1/events/?afterr=1").status_code == 400
    assert api_as(admin_user).get("/api/v1/events/?after=-1").status_code == 400
    assert api_as(admin_user).get("/api/v1/webhooks/abc/").status_code == 404


# --- The event stream -------------------------------------------------------------------------


def test_events_after_a_sequence_page_through_the_stream_in_order(admin_user, api_as, world):
    relay_events()
    client = api_as(admin_user)
    seen, after = [], 0
    while True:
        page = client.get(f"/api/v1/events/?after={after}&page_size=5").json()
        seen.extend(page["results"])
        after = page["next_after"]
        if not page["has_more"]:
            break
    sequences = [e["sequence"] for e in seen]
    assert sequences == sorted(sequences) and len(sequences) == len(set(sequences)) > 10
    project = world["project_a"]
    created = next(e for e in seen if e["type"] == "project.created" and e["record"]["id"] == project.pk)
    assert created["record"]["url"].endswith(f"/api/v1/projects/{project.pk}/")
    assert created["relationship_id"] == project.relationship_id
    assert created["id"].startswith("evt_")
    assert client.get(f"/api/v1/events/?after={after}").json()["results"] == []


def test_the_event_stream_is_scoped_like_every_read(account_manager, client_viewer_a, api_as, world):
    relay_events()
    for user in (account_manager, client_viewer_a):
        events = api_as(user).get("/api/v1/events/?page_size=1000").json()["results"]
        relationships = {e["relationship_id"] for e in events} - {None}
        assert relationships == {world["rel_a"].pk}, user
        assert not any(
            e["record"]["id"] == world["project_b"].pk and e["record"]["type"] == "project" for e in events
        )


def test_the_stream_skips_past_invisible_events_without_missing_later_ones(account_manager, api_as, world):
    relay_events()
    client = api_as(account_manager)
    first = client.get("/api/v1/events/?page_size=1000").json()
    ProjectFactory(relationship=world["rel_b"])  # invisible to this manager
    ProjectFactory(relationship=world["rel_a"], title="new one")
    relay_events()
    more = client.get(f"/api/v1/events/?after={first['next_after']}").json()
    assert [e["type"] for e in more["results"]] == ["project.created"]
    assert more["next_after"] > first["next_after"]


def test_unnumbered_events_are_not_listed_yet(admin_user, api_as, world):
    assert api_as(admin_user).get("/api/v1/events/").json()["results"] == []  # no relay has run

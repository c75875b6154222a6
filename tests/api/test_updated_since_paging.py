"""`updated_since` lists page by change stamp: a record changed between two pages skips nothing."""

import datetime as dt
import time

import pytest

from projects import services
from tests.factories import ProjectFactory

# Sync passes compare stamps against other transactions: rows must be committed, as a client's are.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("transactional_db")]


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_record_edited_after_page_one_does_not_hide_a_later_one(admin_user, portfolio, api_as):
    client = api_as(admin_user)
    time.sleep(0.01)
    since = _iso(dt.datetime.now(dt.UTC))
    time.sleep(0.01)
    projects = [
        ProjectFactory(relationship=portfolio["rel_a"], title=f"Record {index}") for index in range(1, 11)
    ]
    first = client.get("/api/v1/projects/", {"updated_since": since, "page_size": 5}).json()
    assert first["count"] == 10 and first["has_more"] is True
    assert [row["id"] for row in first["results"]] == [p.pk for p in projects[:5]]

    # Record 1 is edited between page 1 and page 2. With numbered pages ordered by updated_at it
    # moved to the end and record 6 slid onto page 1, already read: never delivered.
    services.project_update(
        actor=None, project=projects[0], changes=services.ProjectFields(title="Record 1, edited")
    )

    delivered = [row["id"] for row in first["results"]]
    page, titles = first, {}
    while page["has_more"]:
        assert "sync=" in page["next"] and "updated_since=" in page["next"]
        page = client.get(page["next"]).json()
        delivered += [row["id"] for row in page["results"]]
    assert delivered[5:] == [p.pk for p in projects[5:]]  # record 6 onwards, each once

    # The edit arrives with the next pass, still filtered by updated_since.
    changes = client.get("/api/v1/projects/", {"updated_since": since, "sync": page["next_sync"]}).json()
    titles = {row["id"]: row["title"] for row in changes["results"]}
    assert titles == {projects[0].pk: "Record 1, edited"}


def test_an_updated_since_list_follows_the_filter_and_ignores_older_records(admin_user, portfolio, api_as):
    client = api_as(admin_user)
    old = ProjectFactory(relationship=portfolio["rel_a"], title="Old")
    time.sleep(0.01)
    since = _iso(dt.datetime.now(dt.UTC))
    time.sleep(0.01)
    new = ProjectFactory(relationship=portfolio["rel_a"], title="New")
    body = client.get("/api/v1/projects/", {"updated_since": since}).json()
    assert [row["id"] for row in body["results"]] == [new.pk]
    assert old.pk not in [row["id"] for row in body["results"]]
    assert body["count"] == 1 and body["has_more"] is False and body["next"] is None

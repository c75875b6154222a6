"""A bulk upsert costs the same number of queries for 10 records as for 200: set-based, not per
record (the write path is projects.bulk)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kpis.models import Measurement

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite (the embedded default) splits a multi-row INSERT into batches of 999 variables; "
        "the one-statement-per-table pin is PostgreSQL's, which CI runs on",
    ),
]


def batch(count, *, prefix, value="70"):
    return [
        {
            "external_id": f"{prefix}-{index}",
            "project_kpi": "pk-a",
            "measured_on": (dt.date(2024, 6, 2) + dt.timedelta(days=index)).isoformat(),
            "value": value,
        }
        for index in range(count)
    ]


def queries(client, records):
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/measurements/bulk/", {"records": records}, format="json")
    assert response.status_code == 200, response.json()
    return len(captured), response.json()


@pytest.mark.parametrize("role", ["admin_user", "account_manager"])
def test_create_update_and_replay_take_as_many_queries_for_200_records_as_for_10(
    role, request, world, api_as
):
    client = api_as(request.getfixturevalue(role))
    queries(client, batch(1, prefix="warm-up"))  # caches filled once per process (content types)
    Measurement.objects.filter(external_id__startswith="warm-up").delete()
    passes = {}
    for count in (10, 200):
        prefix = f"q{count}"
        created, body = queries(client, batch(count, prefix=prefix))
        assert body["created"] == count
        updated, body = queries(client, batch(count, prefix=prefix, value="75"))
        assert body["updated"] == count
        replayed, body = queries(client, batch(count, prefix=prefix, value="75"))
        assert body["unchanged"] == count
        passes[count] = (created, updated, replayed)
        Measurement.objects.filter(external_id__startswith=prefix).delete()
    assert passes[10] == passes[200], passes
    assert max(passes[200]) <= 16, passes  # a handful of statements, whatever the batch size


def project_batch(count, *, prefix, relationship, **fields):
    return [
        {
            "external_id": f"{prefix}-{index}",
            "relationship": relationship,
            "title": f"{prefix} {index}",
            **fields,
        }
        for index in range(count)
    ]


def project_queries(client, records):
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/projects/bulk/", {"records": records}, format="json")
    assert response.status_code == 200, response.json()
    return len(captured), response.json()


@pytest.mark.parametrize("role", ["admin_user", "account_manager"])
def test_projects_take_as_many_queries_for_200_as_for_10(role, request, world, api_as):
    from projects.models import InnovationProject

    client = api_as(request.getfixturevalue(role))
    relationship = world["rel_a"].pk
    project_queries(client, project_batch(1, prefix="warm-up", relationship=relationship))
    passes = {}
    for count in (10, 200):
        prefix = f"q{count}"
        created, body = project_queries(
            client, project_batch(count, prefix=prefix, relationship=relationship)
        )
        assert body["created"] == count
        moved, body = project_queries(
            client, project_batch(count, prefix=prefix, relationship=relationship, stage="proposed")
        )
        assert body["updated"] == count
        replayed, body = project_queries(
            client, project_batch(count, prefix=prefix, relationship=relationship, stage="proposed")
        )
        assert body["unchanged"] == count
        passes[count] = (created, moved, replayed)
        InnovationProject.objects.filter(external_id__startswith=prefix).delete()
    assert passes[10] == passes[200], passes
    assert max(passes[200]) <= 20, passes

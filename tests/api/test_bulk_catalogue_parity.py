"""Organisations, relationships and the KPI catalogue in bulk are written set-based, held to their
services' rules and words: each refusal reads the same through the bulk endpoint as through the
single-record one, an accepted change writes the same audit entry and event, and a relationship's
process areas and account managers are written through their link tables."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outbox.models import Event
from projects import bulk, services
from projects.models import AuditEntry, Organization, ProcessArea, Relationship
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

PLURAL = {"organization": "organizations", "relationship": "relationships", "kpi": "kpis"}


def single(client, kind, pk, record):
    url = f"/api/v1/{PLURAL[kind]}/" + (f"{pk}/" if pk else "")
    response = (client.patch if pk else client.post)(url, record, format="json")
    return response.status_code, response.json().get("errors", response.json())


def in_bulk(client, kind, key, record):
    response = client.post(
        f"/api/v1/{PLURAL[kind]}/bulk/", {"records": [{"external_id": key, **record}]}, format="json"
    )
    body = response.json()
    return response.status_code, body["records"][0]["errors"] if "records" in body else body


@pytest.fixture
def keyed(world):
    """Relationship A, its parties and the KPI keyed for bulk."""
    for name, obj in (
        ("client_a", "org-client-a"),
        ("provider", "org-provider"),
        ("client_b", "org-client-b"),
    ):
        services.organization_update(
            actor=None, organization=world[name], changes=services.OrganizationFields(external_id=obj)
        )
    services.relationship_update(
        actor=None, relationship=world["rel_a"], changes=services.RelationshipFields(external_id="rel-a")
    )
    return world


def relationship(world, **fields):
    return {
        "name": "New deal",
        "client": world["client_b"].pk,
        "provider": world["provider"].pk,
        "contract_start": "2025-01-01",
        **fields,
    }


@pytest.mark.parametrize(
    "kind,key,pk_of,record",
    [
        ("organization", "org-new", None, {"name": "Client A", "kind": "client"}),
        ("organization", "org-client-a", "client_a", {"kind": "provider"}),
        ("organization", "org-client-a", "client_a", {"name": "Client B"}),
        (
            "kpi",
            "kpi-new",
            None,
            {"code": "fill_rate", "name": "X", "unit": "percent", "direction": "higher_is_better"},
        ),
        ("kpi", "kpi-fill", "kpi", {"unit": "days"}),
        ("kpi", "kpi-fill", "kpi", {"direction": "lower_is_better", "unit": "count"}),
        ("relationship", "rel-new", None, "provider_as_client"),
        ("relationship", "rel-new", None, "same_party"),
        ("relationship", "rel-new", None, "ends_before_start"),
        ("relationship", "rel-new", None, "duplicate_name"),
        ("relationship", "rel-a", "rel_a", {"contract_end": "2000-01-01"}),
        ("relationship", "rel-a", "rel_a", {"client": "provider"}),
        ("relationship", "rel-a", "rel_a", {"name": "B with provider", "client": "client_b"}),
    ],
)
def test_a_refusal_reads_as_the_single_write_says_it(admin_user, keyed, api_as, kind, key, pk_of, record):
    world = keyed
    if isinstance(record, str):
        record = {
            "provider_as_client": relationship(world, client=world["provider"].pk),
            "same_party": relationship(world, client=world["client_b"].pk, provider=world["client_b"].pk),
            "ends_before_start": relationship(world, contract_end="2024-01-01"),
            "duplicate_name": relationship(world, name="B with provider"),
        }[record]
    record = {
        name: world[value].pk if name in ("client", "provider") and isinstance(value, str) else value
        for name, value in record.items()
    }
    client = api_as(admin_user)
    pk = world[pk_of].pk if pk_of else None
    status, errors = single(client, kind, pk, record)
    assert status in (400, 409), errors
    assert in_bulk(client, kind, key, record) == (status, errors)


def test_only_an_admin_changes_a_relationships_parties_and_sign_off_setting(account_manager, keyed, api_as):
    # The API lets account managers change relationships one at a time (its bulk endpoint is for
    # admins); imports and other callers of the write path get the single write's answer.
    client = api_as(account_manager)
    rel = keyed["rel_a"]

    def engine(record):
        return bulk.upsert(
            actor=account_manager, record_type="relationship", records=[{"external_id": "rel-a", **record}]
        )

    for record in ({"client_signoff_required": True}, {"account_managers": []}):
        assert engine(record).problems == {0: single(client, "relationship", rel.pk, record)[1]}
    assert engine({"name": "A renamed"}).counts["updated"] == 1
    with pytest.raises(PermissionDenied):
        bulk.upsert(
            actor=account_manager,
            record_type="relationship",
            records=[{"external_id": "rel-new", **relationship(keyed, client=keyed["client_a"].pk)}],
        )
    with pytest.raises(PermissionDenied):
        bulk.upsert(
            actor=account_manager,
            record_type="organization",
            records=[{"external_id": "o", "name": "N", "kind": "client"}],
        )


def _written(model, pk):
    entry = AuditEntry.objects.filter(object_id=pk, content_type__model=model._meta.model_name).latest("id")
    event = Event.objects.filter(record_type=model._meta.model_name, record_id=pk).latest("id")
    return (entry.action, entry.changes, entry.version), (event.type, event.version, event.data)


def test_links_of_a_relationship_are_replaced_and_audited_as_a_single_update(
    admin_user, keyed, api_as, account_manager
):
    areas = list(ProcessArea.objects.order_by("pk")[:2])
    client = api_as(admin_user)
    twin = Relationship.objects.get(pk=keyed["rel_b"].pk)
    twin.account_managers.set([account_manager])
    record = {"process_areas": [area.code for area in areas], "account_managers": [], "currency": "EUR"}
    assert single(client, "relationship", twin.pk, record)[0] == 200
    assert in_bulk(client, "relationship", "rel-a", record)[0] == 200
    rel = Relationship.objects.get(pk=keyed["rel_a"].pk)
    assert list(rel.process_areas.order_by("pk")) == areas and not rel.account_managers.exists()
    (action, changes, _), event = _written(Relationship, rel.pk)
    (twin_action, twin_changes, _), twin_event = _written(Relationship, twin.pk)
    assert (action, changes, event[0], event[2]) == (twin_action, twin_changes, twin_event[0], twin_event[2])
    replay = in_bulk(client, "relationship", "rel-a", record)
    assert replay[0] == 200 and _written(Relationship, rel.pk)[0][2] == rel.version


def test_a_new_relationship_is_audited_with_its_links(admin_user, keyed, api_as, account_manager):
    area = ProcessArea.objects.order_by("pk").first()
    record = relationship(keyed, process_areas=[area.code], account_managers=[account_manager.username])
    client = api_as(admin_user)
    status, body = single(client, "relationship", None, {**record, "name": "Single one"})
    assert status == 201, body
    assert in_bulk(client, "relationship", "rel-new", record)[0] == 200
    made = Relationship.objects.get(external_id="rel-new")
    twin = Relationship.objects.get(name="Single one")
    assert list(made.account_managers.all()) == [account_manager]
    (action, changes, version), event = _written(Relationship, made.pk)
    (twin_action, twin_changes, _), twin_event = _written(Relationship, twin.pk)
    assert (action, version, event[0]) == (twin_action, 1, twin_event[0])
    assert (
        Event.objects.filter(record_type="relationship", record_id=made.pk).get().relationship_id == made.pk
    )
    differing = {"id", "name", "external_id", "created_at"}
    assert {k: v for k, v in changes.items() if k not in differing} == {
        k: v for k, v in twin_changes.items() if k not in differing
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement per table is PostgreSQL's")
@pytest.mark.parametrize("kind", ["organization", "relationship", "kpi"])
def test_catalogue_records_take_as_many_queries_for_200_as_for_10(admin_user, keyed, api_as, kind):
    client = api_as(admin_user)
    areas = [area.code for area in ProcessArea.objects.order_by("pk")[:2]]
    clients = [ClientFactory(name=f"Party {index}") for index in range(2)]

    def batch(count, prefix, variant):
        if kind == "organization":
            return [
                {
                    "external_id": f"{prefix}-{i}",
                    "name": f"{prefix} {i}",
                    "kind": "client",
                    "country": variant,
                }
                for i in range(count)
            ]
        if kind == "kpi":
            return [
                {
                    "external_id": f"{prefix}-{i}",
                    "code": f"{prefix}_{i}",
                    "name": f"{prefix} {i} {variant}",
                    "unit": "count",
                    "direction": "higher_is_better",
                }
                for i in range(count)
            ]
        return [
            {
                "external_id": f"{prefix}-{i}",
                "name": f"{prefix} {i}",
                "client": clients[i % 2].pk,
                "provider": keyed["provider"].pk,
                "contract_start": "2025-01-01",
                "currency": variant,
                "process_areas": areas if variant == "EUR" else areas[:1],
                "account_managers": [],
            }
            for i in range(count)
        ]

    def queries(records):
        with CaptureQueriesContext(connection) as captured:
            response = client.post(f"/api/v1/{PLURAL[kind]}/bulk/", {"records": records}, format="json")
        assert response.status_code == 200, response.json()
        return len(captured), response.json()

    queries(batch(1, "warm", "USD"))
    passes = {}
    for count in (10, 200):
        prefix = f"q{count}"
        created, body = queries(batch(count, prefix, "USD"))
        assert body["created"] == count
        updated, body = queries(batch(count, prefix, "EUR"))
        assert body["updated"] == count
        replayed, body = queries(batch(count, prefix, "EUR"))
        assert body["unchanged"] == count
        passes[count] = (created, updated, replayed)
    assert passes[10] == passes[200], passes
    assert max(passes[200]) <= 20, passes
    assert Organization.objects.filter(name__startswith="q200").count() == (
        200 if kind == "organization" else 0
    )

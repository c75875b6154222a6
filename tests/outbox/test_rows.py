"""The set-based writers' tools: many rows in one INSERT (each column one array literal, a column
with one value one parameter) and the `__any` lookup (many values in one array parameter). What they
store and find must be exactly what the ORM would, whatever the text holds."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from kpis.models import Measurement
from outbox.models import Event
from outbox.rows import array_literal, insert_values
from outbox.services import EVENT_COLUMNS
from projects.models import AuditEntry
from tests.factories import MeasurementFactory, ProjectKPIFactory, UserFactory

pytestmark = pytest.mark.django_db

AWKWARD_TEXTS = [
    'quote " inside',
    'back\\slash and \\" both',
    "{braces}, commas, and (parentheses)",
    "NULL",
    "",
    "  leading and trailing spaces  ",
    "line\nbreak\ttab",
    "accents: été, Zürich, 東京, emoji 🚀",
    "'single' quotes; DROP TABLE x; --",
]


def test_insert_values_stores_every_value_as_written():
    actor = UserFactory()
    content_type = ContentType.objects.get_for_model(Measurement)
    at = dt.datetime(2026, 3, 1, 12, 30, 15, 120000, tzinfo=dt.UTC)
    rows = [
        (
            at + dt.timedelta(microseconds=index),  # one value per row: an array
            actor.pk if index % 2 else None,  # some NULLs among ints
            content_type.pk,  # the same in every row: one parameter
            1000 + index,
            text,
            "update",
            {
                "field": {"before": text, "after": [1, "2", None, {"nested": text}]},
                "n": Decimal("1.50").__str__(),
            },
            index,
        )
        for index, text in enumerate(AWKWARD_TEXTS)
    ]
    fields = ["at", "actor", "content_type", "object_id", "object_repr", "action", "changes", "version"]
    with CaptureQueriesContext(connection) as queries:
        ids = insert_values(AuditEntry, fields, rows, returning_ids=True)
    assert len(queries) == 1
    stored = {entry.pk: entry for entry in AuditEntry.objects.filter(pk__in=ids)}
    assert [stored[pk].object_id for pk in ids] == [row[3] for row in rows]  # ids in the rows' order
    for pk, row in zip(ids, rows, strict=True):
        entry = stored[pk]
        assert (entry.at, entry.actor_id, entry.content_type_id, entry.object_repr) == (*row[:3], row[4])
        assert (entry.action, entry.changes, entry.version) == row[5:]


def test_a_column_with_one_value_and_a_batch_of_identical_rows():
    occurred_at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    same = ("measurement.created", occurred_at, "measurement", 7, "K-1", 1, None, None, 3, {})
    insert_values(Event, EVENT_COLUMNS, [same, same, same])
    stored = ["actor_id" if name == "actor" else name for name in EVENT_COLUMNS]
    events = list(Event.objects.values_list(*stored))
    assert events == [same] * 3


def test_decimals_and_dates_as_stored():
    project_kpi = ProjectKPIFactory(baseline_date=dt.date(2020, 1, 1))
    rows = [
        MeasurementFactory.build(
            project_kpi=project_kpi, measured_on=dt.date(2020, 1, 2 + n), value=value, external_id=f"M-{n}"
        )
        for n, value in enumerate([Decimal("0.0001"), Decimal("12.5000"), Decimal("99.9999")])
    ]
    fields = [
        "external_id",
        "project_kpi",
        "measured_on",
        "value",
        "unit",
        "version",
        "created_at",
        "updated_at",
        "change_stamp",
    ]
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    insert_values(
        Measurement,
        fields,
        [
            (m.external_id, project_kpi.pk, m.measured_on, m.value, project_kpi.unit, 1, now, now, 1)
            for m in rows
        ],
    )
    stored = list(Measurement.objects.order_by("measured_on").values_list("measured_on", "value"))
    assert stored == [(m.measured_on, m.value) for m in rows]


def test_array_literal_falls_back_to_a_list_for_types_it_does_not_write():
    assert array_literal([1, None, 3]) == "{1,NULL,3}"
    assert array_literal(['a"b', "c\\d"]) == '{"a\\"b","c\\\\d"}'
    assert array_literal([dt.timedelta(days=1)]) == [dt.timedelta(days=1)]


def test_any_finds_what_in_finds():
    project_kpi = ProjectKPIFactory(baseline_date=dt.date(2020, 1, 1))
    for n, key in enumerate(AWKWARD_TEXTS):
        MeasurementFactory(
            project_kpi=project_kpi, external_id=key or None, measured_on=dt.date(2021, 1, 1 + n)
        )
    keys = [*AWKWARD_TEXTS, "absent", None]
    by_any = set(Measurement.objects.filter(external_id__any=keys).values_list("pk", flat=True))
    by_in = set(Measurement.objects.filter(external_id__in=keys).values_list("pk", flat=True))
    assert by_any == by_in and len(by_any) == len([k for k in AWKWARD_TEXTS if k])
    dates = {dt.date(2021, 1, 2), dt.date(2021, 1, 5), dt.date(1999, 1, 1)}
    assert set(Measurement.objects.filter(measured_on__any=dates).values_list("measured_on", flat=True)) == {
        dt.date(2021, 1, 2),
        dt.date(2021, 1, 5),
    }
    assert Measurement.objects.filter(project_kpi_id__any=[project_kpi.pk]).count() == len(AWKWARD_TEXTS)
    assert Measurement.objects.filter(project_kpi__any=[project_kpi]).count() == len(AWKWARD_TEXTS)
    assert not Measurement.objects.filter(pk__any=[]).exists()


def test_any_never_cuts_or_rounds_a_value_into_a_match():
    project_kpi = ProjectKPIFactory(baseline_date=dt.date(2020, 1, 1))
    MeasurementFactory(
        project_kpi=project_kpi,
        external_id="k" * 100,
        value=Decimal("1.0001"),
        measured_on=dt.date(2021, 1, 1),
    )
    # external_id is varchar(100), value numeric(…, 4): a cast to those types would match both.
    assert not Measurement.objects.filter(external_id__any=["k" * 101]).exists()
    assert not Measurement.objects.filter(value__any=[Decimal("1.00005")]).exists()
    assert Measurement.objects.filter(value__any=[Decimal("1.0001")]).exists()


def test_a_value_too_long_for_its_column_is_refused_not_cut():
    content_type = ContentType.objects.get_for_model(Measurement)
    at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    row = (at, None, content_type.pk, 1, "r" * 301, "update", {}, 1)  # object_repr is varchar(300)
    fields = ["at", "actor", "content_type", "object_id", "object_repr", "action", "changes", "version"]
    with pytest.raises(DataError), transaction.atomic():
        insert_values(AuditEntry, fields, [row, row])
    assert not AuditEntry.objects.exists()

"""The bulk engine parses without DRF (it is domain code), yet its messages must be the API's word for
word: each parser is compared with the serializer field the single-record endpoints use."""

import pytest
from rest_framework import serializers as drf

from api import serializers
from projects import bulk

pytestmark = pytest.mark.django_db

VALUES = [
    None,
    "",
    "  ",
    0,
    12,
    12.5,
    True,
    "12,5 %",
    "abc",
    "NaN",
    "Infinity",
    "-1",
    "101",
    "60",
    "60.12345",
    "1e3",
    "1" * 21,
    "99999999999999999.5",
    "2024-02-30",
    "2024-2-3",
    "0001-01-01",
    "2024-06-01",
    "2024-06-01T10:00:00",
    "galactic",
    "process",
    "delivered",
    "x" * 201,
    " padded title ",
    "nul\x00char",
    "fill_rate",
    "fill rate",
    "client",
    "percent",
    "yes",
    "off",
    "null",
    1,
    False,
    "EUR",
    "renewing",
    [],
    {},
]

FIELDS = (
    [("measurement", serializers.MeasurementSerializer, name) for name in ("measured_on", "value")]
    + [
        ("project_kpi", serializers.ProjectKPISerializer, name)
        for name in ("baseline_value", "baseline_date", "target_value")
    ]
    + [("project", serializers.ProjectSerializer, name) for name in bulk.PROJECT_FIELDS]
    + [
        ("organization", serializers.OrganizationSerializer, name)
        for name in ("name", "kind", "industry", "country")
    ]
    + [
        ("kpi", serializers.KPISerializer, name)
        for name in ("code", "name", "unit", "direction", "description")
    ]
    + [("relationship", serializers.RelationshipSerializer, name) for name in bulk.RELATIONSHIP_FIELDS]
)


def drf_outcome(field, value):
    try:
        return ("ok", field.run_validation(value))
    except drf.ValidationError as error:
        return ("invalid", sorted(str(message) for message in error.detail))


def engine_outcome(parser, value):
    try:
        return ("ok", parser.parse(value))
    except bulk.Invalid as invalid:
        return ("invalid", sorted(invalid.messages))


@pytest.mark.parametrize("record_type,serializer,name", FIELDS)
def test_each_parser_answers_as_the_api_field_does(record_type, serializer, name):
    field = serializer().fields[name]
    parser = bulk.spec_for(record_type).fields[name]
    for value in VALUES:
        assert engine_outcome(parser, value) == drf_outcome(field, value), (name, value)


def test_every_writable_serializer_field_has_a_parser_and_read_only_ones_are_ignored():
    for record_type, serializer in (
        ("measurement", serializers.MeasurementSerializer),
        ("project_kpi", serializers.ProjectKPISerializer),
        ("project", serializers.ProjectSerializer),
        ("organization", serializers.OrganizationSerializer),
        ("kpi", serializers.KPISerializer),
        ("relationship", serializers.RelationshipSerializer),
    ):
        spec = bulk.spec_for(record_type)
        fields = serializer().fields
        writable = {name for name, field in fields.items() if not field.read_only} - {"external_id"}
        read_only = {name for name, field in fields.items() if field.read_only}
        assert set(spec.fields) == writable, record_type
        assert read_only <= spec.ignored | bulk.SERVER_MANAGED, record_type


@pytest.mark.parametrize(
    "value", ["finance", 3, None, ["no-such-area"], ["finance", "no-such-area"], [{"code": "x"}], []]
)
def test_many_to_many_lists_answer_as_the_api_field_does(admin_user, portfolio, value):
    field = serializers.RelationshipSerializer().fields["process_areas"]
    record = {"external_id": "rel-a-key", "process_areas": value}
    rel = portfolio["rel_a"]
    rel.external_id = "rel-a-key"
    rel.save(update_fields=["external_id"])
    outcome = bulk.upsert(actor=admin_user, record_type="relationship", records=[record], dry_run=True)
    expected = drf_outcome(field, value)
    if expected[0] == "ok":
        assert not outcome.problems, outcome.problems
    else:
        assert sorted(outcome.problems[0]["process_areas"]) == expected[1]

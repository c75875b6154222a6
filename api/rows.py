"""Read answers built from rows: what a serializer shows, without DRF's per-field work per record.

A list page of 100 projects through DRF builds some 700 model instances and calls a field object
about 3,000 times; most of the time of a read went there. A `RowPlan` reads a serializer's declared
fields once and derives, for each readable field, the `values()` lookup it reads and a converter
that gives exactly what the field's `to_representation` gives (the same DRF field object does the
work where a shortcut could differ: decimals are quantized by the field itself). The published
schema is still the serializer's; tests/api/test_row_reads.py compares the two outputs on varied
data so they cannot drift.

What a plan cannot derive (a nested serializer, `source="*"`, a dotted source, a many-to-many
field, another kind of related field) makes it unavailable, and that resource keeps DRF's path.
Method fields are called as DRF calls them, with the row as the object: a `Row` answers attribute
access (`row.version`, `row.pk`), and a viewset attaches whatever else its methods read.
"""

import datetime as dt
import decimal
from collections.abc import Callable, Iterable

from django.core.exceptions import FieldDoesNotExist
from django.db.models.query import ValuesIterable
from django.utils import timezone
from rest_framework import fields as drf_fields
from rest_framework import relations
from rest_framework import serializers as drf_serializers
from rest_framework.settings import ISO_8601, api_settings

from api.fields import RecordField


class Row(dict):
    """One record as `values()` read it, answering attribute access like the model instance it
    stands for (`pk` is the id), so method fields, ETags and sync cursors read it unchanged."""

    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            if name == "pk":
                return self["id"]
            raise AttributeError(name) from None


class RowIterable(ValuesIterable):
    """`values()` rows as `Row`s."""

    def __iter__(self):
        for values in super().__iter__():
            yield Row(values)


class UnsupportedField(Exception):
    """A field a plan cannot derive: its serializer keeps DRF's path."""


def _same(value):
    return value


def _plain_converter(field) -> Callable | None:
    """A converter equal to `field.to_representation` for the values `values()` reads, or None
    for the field's own method (still correct, only slower)."""
    if isinstance(field, drf_fields.DateTimeField):
        output = getattr(field, "format", api_settings.DATETIME_FORMAT)
        if output is None or output.lower() != ISO_8601 or hasattr(field, "timezone"):
            return None
        return _TIMESTAMP  # marker: needs the request's current time zone
    if isinstance(field, drf_fields.DateField):
        output = getattr(field, "format", api_settings.DATE_FORMAT)
        if output is None or output.lower() != ISO_8601:
            return None
        return lambda value: (
            value.isoformat() if isinstance(value, dt.date) else field.to_representation(value)
        )
    if isinstance(field, drf_fields.DecimalField):
        coerce = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
        if not coerce or field.localize or field.normalize_output:
            return None
        quantize = field.quantize
        return lambda value: (
            f"{quantize(value):f}" if type(value) is decimal.Decimal else field.to_representation(value)
        )
    if isinstance(field, drf_fields.BooleanField):
        return lambda value: value if type(value) is bool else field.to_representation(value)
    if isinstance(field, drf_fields.ChoiceField):
        choices = field.choice_strings_to_values
        return lambda value: (
            choices.get(value, value) if type(value) is str else field.to_representation(value)
        )
    if isinstance(field, drf_fields.CharField):
        return lambda value: value if type(value) is str else field.to_representation(value)
    if isinstance(field, drf_fields.IntegerField):
        return lambda value: value if type(value) is int else field.to_representation(value)
    return None


_TIMESTAMP = object()


def _timestamp_converter(zone):
    def convert(value):
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return convert


class RowPlan:
    """How to read and show a serializer's fields from `values()` rows."""

    def __init__(self, serializer_class):
        serializer = serializer_class()
        self.serializer_class = serializer_class
        self.lookups: list[str] = []
        # (field name, row key or None for a method field, converter or method name, DRF field)
        self.steps: list[tuple] = []
        for name, field in serializer.fields.items():
            if field.write_only:
                continue
            if isinstance(field, drf_fields.SerializerMethodField):
                self.steps.append((name, None, field.method_name, field))
                continue
            lookup = self._lookup(field)
            converter = self._converter(field)
            self.lookups.append(lookup)
            self.steps.append((name, lookup, converter, field))

    @staticmethod
    def _lookup(field) -> str:
        source = field.source
        if source == "*" or "." in source or isinstance(field, drf_serializers.BaseSerializer):
            raise UnsupportedField(field.field_name)
        if isinstance(field, relations.ManyRelatedField):
            raise UnsupportedField(field.field_name)
        if isinstance(field, relations.SlugRelatedField):
            if "." in field.slug_field:
                raise UnsupportedField(field.field_name)
            return f"{source}__{field.slug_field}"
        if isinstance(field, RecordField) or (
            isinstance(field, relations.PrimaryKeyRelatedField) and field.pk_field is None
        ):
            return source  # values() reads a foreign key as the related id
        if isinstance(field, relations.RelatedField):
            raise UnsupportedField(field.field_name)
        if isinstance(field, (drf_fields.ListField, drf_fields.DictField, drf_fields.HiddenField)):
            raise UnsupportedField(field.field_name)
        return source

    @staticmethod
    def _converter(field):
        if isinstance(field, relations.RelatedField):
            return _same  # an id or a slug, as read
        return _plain_converter(field) or field.to_representation

    def reads_columns_of(self, queryset) -> bool:
        """Whether every lookup is a column or an annotation of `queryset` (a field whose source
        is a model property, such as a computed figure, cannot be read as a value)."""
        return all(_is_column(queryset.model, queryset.query.annotations, lookup) for lookup in self.lookups)

    def rows(self, queryset, *extra_lookups: str):
        """The queryset's records as `Row`s of the lookups the fields read (and `extra_lookups`:
        what method fields or cursors read besides). Prefetches are dropped: a plan reads columns."""
        rows = queryset.prefetch_related(None).values(*dict.fromkeys([*self.lookups, *extra_lookups]))
        rows._iterable_class = RowIterable
        return rows

    def represent(self, rows: Iterable[Row], *, context: dict) -> list[dict]:
        """Each row as the serializer shows its record."""
        serializer = self.serializer_class(context=context)
        zone = timezone.get_current_timezone()
        steps = []
        for name, lookup, converter, _field in self.steps:
            if lookup is None:
                steps.append((name, None, getattr(serializer, converter)))
            elif converter is _TIMESTAMP:
                steps.append((name, lookup, _timestamp_converter(zone)))
            else:
                steps.append((name, lookup, converter))
        shown = []
        for row in rows:
            record = {}
            for name, lookup, convert in steps:
                if lookup is None:
                    record[name] = convert(row)
                else:
                    value = row[lookup]
                    record[name] = None if value is None else convert(value)
            shown.append(record)
        return shown


def _is_column(model, annotations, lookup: str) -> bool:
    name, _, rest = lookup.partition("__")
    if not rest and name in annotations:
        return True
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    if not field.concrete or field.many_to_many:
        return False
    if not rest:
        return True
    return field.is_relation and _is_column(field.related_model, {}, rest)


_plans: dict[type, RowPlan | None] = {}


def plan_for(serializer_class) -> RowPlan | None:
    """The serializer's plan, made once per process; None where its fields cannot be derived."""
    if serializer_class not in _plans:
        try:
            _plans[serializer_class] = RowPlan(serializer_class)
        except UnsupportedField:
            _plans[serializer_class] = None
    return _plans[serializer_class]

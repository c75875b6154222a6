"""Serializer fields shared by every resource."""

from decimal import Decimal

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers

MAX_ID = 2**63 - 1


class RecordField(serializers.RelatedField):
    """A related record named by its `id` (a number) or its `external_id` (a string).

    The lookup runs in the caller's scope (`queryset_for(user)`, live records only), so a record
    outside it reads as absent: a client cannot point a record at a parent it may not see.
    Responses always carry the id.
    """

    default_error_messages = {
        "does_not_exist": "No such record (id or external_id {value}) that you may use.",
        "incorrect_type": "Give the id (a number) or the external_id (a string) of the record.",
    }

    def __init__(self, *, queryset_for=None, **kwargs):
        self.queryset_for = queryset_for
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return self.queryset_for(getattr(request, "user", None))

    def use_pk_only_optimization(self):
        return True

    def to_internal_value(self, data):
        queryset = self.get_queryset()
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("incorrect_type")
        if isinstance(data, int):
            if not 0 < data <= MAX_ID:
                self.fail("does_not_exist", value=data)
            lookup = {"pk": data}
        else:
            data = data.strip()
            if not data or len(data) > 100 or "\x00" in data or not _encodable(data):
                self.fail("does_not_exist", value=ascii(data[:100]))
            lookup = {"external_id": data}
        try:
            return queryset.get(**lookup)
        except queryset.model.DoesNotExist:
            self.fail("does_not_exist", value=data if isinstance(data, int) else repr(data))

    def to_representation(self, value):
        return value.pk

    def get_choices(self, cutoff=None):  # never list a scoped table in forms or OPTIONS
        return {}


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON escapes; no database takes them
        return False
    return True


class RecordFieldExtension(OpenApiSerializerFieldExtension):
    target_class = RecordField

    def map_serializer_field(self, auto_schema, direction):
        if direction == "request":
            return {
                "oneOf": [
                    {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": "id"},
                    {"type": "string", "minLength": 1, "maxLength": 100, "description": "external_id"},
                ]
            }
        return build_basic_type(OpenApiTypes.INT)


class StrictStringMixin:
    """A string, and only a string. DRF's CharField coerces a number to text (`"description": 0`
    becomes "0"), so a client's type error would be stored silently; the schema says string."""

    default_error_messages = {"not_a_string": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictCharField(StrictStringMixin, serializers.CharField):
    pass


class StrictSlugField(StrictStringMixin, serializers.SlugField):
    pass


class ComputedDecimalField(serializers.DecimalField):
    """A read-only computed figure (a percentage), exact to 4 decimal places, null when undefined."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", None)
        kwargs.setdefault("decimal_places", 4)
        kwargs["read_only"] = True
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        if value is None:
            return None
        return super().to_representation(Decimal(value))

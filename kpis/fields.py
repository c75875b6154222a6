"""Model fields of the scoring tables."""

from django.core.exceptions import ValidationError
from django.db import models


class JSONObjectTextField(models.JSONField):
    """A JSON object stored on PostgreSQL as `json` (its text, as written) rather than `jsonb`.

    For a large document written often, read whole and never queried inside: a score's explanation
    (`RelationshipScore.components`, about 6 KB a row). A roll-up of 1,000 relationships writes
    6.3 MB of it, and building `jsonb` from that text was about 90 ms of PostgreSQL's time per
    roll-up (docs/BENCHMARKS.md); `json` only checks the text is JSON and keeps it, keys in the
    order written. `json` has no equality operator: compare values as text or cast to `jsonb`, and
    do not DISTINCT, GROUP BY or look up inside this column.
    """

    description = "A JSON object (stored as json text on PostgreSQL)"

    def db_type(self, connection):
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def from_db_value(self, value, expression, connection):
        # psycopg2 decodes `json` values itself (Django turns that off for `jsonb` only); an object
        # arrives decoded, while text (SQLite, or a jsonb value) is decoded as JSONField does.
        if isinstance(value, dict | list):
            return value
        return super().from_db_value(value, expression, connection)

    def validate(self, value, model_instance):
        # Only objects and arrays come back from `json` as written (psycopg2 would hand a JSON
        # string back already decoded, which JSONField would then decode a second time).
        super().validate(value, model_instance)
        if not isinstance(value, dict | list):
            raise ValidationError("Enter a JSON object or array.", code="invalid")

"""Many rows in one INSERT, without the ORM's per-value preparation: the set-based writers' tool
(outbox events here; audit entries and records in projects.bulk). It lives in the lowest layer
that writes, so that every layer above may use it.

`bulk_create` builds and prepares each value through its field (`get_db_prep_save`, expression
checks): for a thousand rows of ten columns that is most of the time of the write. The values given
here are already what the columns store (Decimals at the column's scale, aware datetimes, ids for
foreign keys), as tuples or as model instances, and on PostgreSQL they travel as one array per
column. Other databases (SQLite, the embedded default) take the ORM's `bulk_create`, which gives
the same rows.

Each array travels as ONE text parameter in PostgreSQL's array syntax (`'{"a","b"}'::text[]`), not
as a Python list: psycopg2 writes a list as `ARRAY['a', 'b', …]`, quoting every element on the
client and, for dates and times, casting every element (`'…'::timestamptz`), which the server then
parses as that many SQL expressions. For 1,000 measurements that was 7–9 ms of quoting and about
10 ms of parsing per statement, three statements a bulk request; one string per column costs a
fraction of a millisecond to quote and is read by the array type's own input function.
"""

import datetime as dt
import json
import re
from collections.abc import Sequence
from decimal import Decimal

import orjson
from django.db import connection, models

# orjson writes what json.dumps writes for the types JSON has; everything else (dates, dataclasses,
# subclasses of str or int) is passed through to json.dumps, so that a value json.dumps refuses is
# refused here too rather than written in orjson's own format.
_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def json_text(value, encoder=None) -> str:
    """A JSON column's value as the text json.dumps would give (up to whitespace, which jsonb drops)."""
    if encoder is None:
        try:
            return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
        except TypeError:  # a type orjson passes through, or an integer wider than 64 bits
            pass
    return json.dumps(value, cls=encoder)


class _NotLiteral(Exception):
    """A value this module does not write as array text: the column goes as a Python list."""


def _element(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return '"' + _quoted(value) + '"'
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return '"' + str(value) + '"'
    if isinstance(value, (dt.datetime, dt.date)):  # ISO 8601, as psycopg2 would send it
        return '"' + value.isoformat() + '"'
    raise _NotLiteral(type(value).__name__)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def array_literal(values: Sequence) -> str | list:
    """`values` as one PostgreSQL array literal, or as the list itself for a type not handled above."""
    kinds = set(map(type, values))
    # The usual columns hold one type throughout: written without a call per element.
    if kinds <= {int}:
        return "{" + ",".join(map(str, values)) + "}"
    if kinds <= {str}:
        return '{"' + '","'.join(map(_quoted, values)) + '"}'
    if kinds <= {Decimal}:  # digits, sign, point, exponent, NaN, Infinity: nothing to quote
        return "{" + ",".join(map(str, values)) + "}"
    if len(kinds) == 1 and kinds <= {dt.datetime, dt.date}:
        return '{"' + '","'.join(value.isoformat() for value in values) + '"}'
    try:
        return "{" + ",".join(map(_element, values)) + "}"
    except _NotLiteral:
        return list(values)


def unmodified_type(field: models.Field, connection) -> str:
    """The column's type without its modifiers (`varchar`, not `varchar(100)`; `numeric`, not
    `numeric(20, 4)`): what a value is cast to on its way in, so that the cast never cuts or rounds it."""
    db_type = field.rel_db_type(connection) if field.is_relation else field.db_type(connection)
    return re.sub(r"\(.*\)", "", db_type)


class AnyOf(models.Lookup):
    """`field__any=values`: the rows whose field is one of `values`, like `__in`, with the values
    sent as ONE array parameter on PostgreSQL (`field = ANY('{…}'::type[])`). `__in` sends one
    parameter per value, each quoted (and, for dates, cast) by psycopg2 and parsed by the server: for
    the thousand keys or dates of a bulk request's checks, most of those queries' time."""

    lookup_name = "any"

    def get_prep_lookup(self):
        field = self.lhs.output_field
        return [
            field.get_prep_value(value.pk if isinstance(value, models.Model) else value)
            for value in self.rhs
            if value is not None
        ]

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql":
            return compiler.compile(models.lookups.In(self.lhs, self.rhs))
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection, prepared=True) for value in self.rhs]
        # The type without its modifiers: a cast to varchar(100) or numeric(12, 4) would cut or round
        # a value into one that matches a row it does not name.
        db_type = unmodified_type(field, connection)
        return f"{lhs} = ANY(%s::{db_type}[])", [*lhs_params, array_literal(values)]


# Every column, foreign keys included (they keep lookups of their own).
models.Field.register_lookup(AnyOf)
models.ForeignObject.register_lookup(AnyOf)


def insert_values(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[tuple],
    *,
    returning_ids: bool = False,
    update_fields: Sequence[str] | None = None,
) -> list[int] | None:
    """Insert `rows` (tuples of stored values, one per name in `fields`) in one statement.

    On PostgreSQL the values travel as one array per column (`INSERT … SELECT * FROM unnest(…)`):
    a handful of parameters instead of one literal per value to quote. With `update_fields` the rows
    carry their ids and an existing id is updated instead (ON CONFLICT (id) DO UPDATE SET those).
    `returning_ids` gives the new rows' ids, in the order of `rows`.
    """
    if not rows:
        return [] if returning_ids else None
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    if connection.vendor != "postgresql":
        objs = [
            model(**{field.attname: value for field, value in zip(columns, row, strict=True)}) for row in rows
        ]
        if update_fields is None:
            model._default_manager.bulk_create(objs)
        else:
            model._default_manager.bulk_create(
                objs, update_conflicts=True, unique_fields=["id"], update_fields=list(update_fields)
            )
        return [obj.pk for obj in objs] if returning_ids else None
    quote = connection.ops.quote_name
    # A column with one value in every row (the time of the write, its actor, the event type…) is
    # sent once, not once per row; the others as one array each. At least one array gives the rows.
    column_values = []
    for index, field in enumerate(columns):
        values = [row[index] for row in rows]
        if isinstance(field, models.JSONField):
            values = [None if value is None else json_text(value, field.encoder) for value in values]
        column_values.append(values)
    constant = [
        len(values) > 1 and all(type(value) is type(values[0]) and value == values[0] for value in values)
        for values in column_values
    ]
    if all(constant):
        constant[0] = False
    selected, scalars, unnested, arrays = [], [], [], []
    for index, (field, values) in enumerate(zip(columns, column_values, strict=True)):
        # Cast to the bare type: an explicit cast to varchar(100) would cut a longer value without
        # a word, where the column's own assignment refuses it.
        db_type = unmodified_type(field, connection)
        if constant[index]:
            selected.append(f"%s::{db_type}")
            scalars.append(values[0])
        else:
            selected.append(f"u.c{index}")
            unnested.append((f"c{index}", f"%s::{db_type}[]"))
            arrays.append(array_literal(values))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in columns)}) "
        f"SELECT {', '.join(selected)} FROM unnest({', '.join(cast for _, cast in unnested)}) "
        f"AS u({', '.join(name for name, _ in unnested)})"
    )
    if update_fields is not None:
        assignments = ", ".join(
            f"{quote(column)} = EXCLUDED.{quote(column)}"
            for column in (meta.get_field(name).column for name in update_fields)
        )
        sql += f" ON CONFLICT ({quote(meta.pk.column)}) DO UPDATE SET {assignments}"
    if returning_ids:
        sql += f" RETURNING {quote(meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*scalars, *arrays])
        return [row[0] for row in cursor.fetchall()] if returning_ids else None


def insert_rows(
    model: type[models.Model], rows: Sequence[models.Model], *, update_fields: Sequence[str] | None = None
) -> None:
    """Insert model instances in one statement and set their ids; with `update_fields`, the rows
    carry their ids and an existing id is updated instead (INSERT … ON CONFLICT (id) DO UPDATE)."""
    if not rows:
        return
    pk = model._meta.pk
    fields = [field for field in model._meta.concrete_fields if update_fields is not None or field is not pk]
    attnames = [field.attname for field in fields]
    values = [tuple(getattr(row, name) for name in attnames) for row in rows]
    ids = insert_values(
        model,
        [field.name for field in fields],
        values,
        returning_ids=update_fields is None,
        update_fields=update_fields,
    )
    if update_fields is None:
        for row, new_id in zip(rows, ids, strict=True):
            row.pk = new_id
            row._state.adding = False

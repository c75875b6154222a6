"""Many rows in one INSERT, without the ORM's per-value preparation: the set-based writers' tool
(outbox events here; audit entries and records in projects.bulk). It lives in the lowest layer
that writes, so that every layer above may use it.

`bulk_create` prepares each value through its field (`get_db_prep_save`, expression checks): for a
thousand rows of ten columns that is most of the time of the write. The rows given here are model
instances whose values are already what the column stores (Decimals at the column's scale, aware
datetimes, ids in the foreign keys' attnames), so on PostgreSQL they go to psycopg2's
`execute_values` as they are, JSON columns wrapped as JSON. Other databases (SQLite, the embedded
default) take the ORM's `bulk_create`, which gives the same rows.
"""

import functools
import json
from collections.abc import Sequence

from django.db import connection, models


def _adapter(field: models.Field):
    """How a value of `field` goes to psycopg2: JSON wrapped (with the field's encoder), the rest as is."""
    if not isinstance(field, models.JSONField):
        return None
    from psycopg2.extras import Json

    dumps = functools.partial(json.dumps, cls=field.encoder)
    return lambda value: None if value is None else Json(value, dumps=dumps)


def insert_rows(
    model: type[models.Model], rows: Sequence[models.Model], *, update_fields: Sequence[str] | None = None
) -> None:
    """Insert `rows` in one statement and set their ids; with `update_fields`, the rows carry their
    ids and an existing id is updated instead (INSERT … ON CONFLICT (id) DO UPDATE SET those)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        if update_fields is None:
            model._default_manager.bulk_create(rows)
        else:
            model._default_manager.bulk_create(
                rows, update_conflicts=True, unique_fields=["id"], update_fields=list(update_fields)
            )
        return
    from psycopg2.extras import execute_values

    pk = model._meta.pk
    fields = [field for field in model._meta.concrete_fields if update_fields is not None or field is not pk]
    adapters = [_adapter(field) for field in fields]
    attnames = [field.attname for field in fields]
    values = [
        tuple(
            adapt(getattr(row, name)) if adapt is not None else getattr(row, name)
            for name, adapt in zip(attnames, adapters, strict=True)
        )
        for row in rows
    ]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    sql = f"INSERT INTO {table} ({columns}) VALUES %s"
    if update_fields is not None:
        assignments = ", ".join(
            f"{quote(column)} = EXCLUDED.{quote(column)}"
            for column in (model._meta.get_field(name).column for name in update_fields)
        )
        sql += f" ON CONFLICT ({quote(pk.column)}) DO UPDATE SET {assignments}"
        with connection.cursor() as cursor:
            execute_values(cursor, sql, values, page_size=len(values))
        return
    sql += f" RETURNING {quote(pk.column)}"
    with connection.cursor() as cursor:
        ids = execute_values(cursor, sql, values, page_size=len(values), fetch=True)
    for row, (new_id,) in zip(rows, ids, strict=True):
        row.pk = new_id
        row._state.adding = False

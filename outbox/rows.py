"""Many rows in one INSERT, without the ORM's per-value preparation: the set-based writers' tool
(outbox events here; audit entries and records in projects.bulk). It lives in the lowest layer
that writes, so that every layer above may use it.

`bulk_create` builds and prepares each value through its field (`get_db_prep_save`, expression
checks): for a thousand rows of ten columns that is most of the time of the write. The values given
here are already what the columns store (Decimals at the column's scale, aware datetimes, ids for
foreign keys), as tuples or as model instances, and on PostgreSQL they travel as one array per
column. Other databases (SQLite, the embedded default) take the ORM's `bulk_create`, which gives
the same rows.
"""

import json
from collections.abc import Sequence

from django.db import connection, models


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
    arrays = []
    for index, field in enumerate(columns):
        values = [row[index] for row in rows]
        if isinstance(field, models.JSONField):
            values = [None if value is None else json.dumps(value, cls=field.encoder) for value in values]
        arrays.append(values)
    casts = ", ".join(
        f"%s::{field.rel_db_type(connection) if field.is_relation else field.db_type(connection)}[]"
        for field in columns
    )
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in columns)}) "
        f"SELECT * FROM unnest({casts})"
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
        cursor.execute(sql, arrays)
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

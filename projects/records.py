"""Versioned, audited writes shared by every service in both apps.

Every change to a synced record goes through `record_create`, `record_update` or
`record_soft_delete`: each validates the row (`full_clean()`, which includes the database
constraints' own messages), bumps `version`, stamps `updated_at` and `change_stamp`, and writes an
`AuditEntry` with the values before and after, in the caller's transaction. Domain services wrap
these with their own rules (stage machine, parent checks, follow-up work).
"""

import contextlib
import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, Self, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from outbox.rows import insert_values
from projects.events import cascade_events, record_event, relationship_id_of, transition_field
from projects.models import AuditEntry, SyncClock, SyncedModel

M = TypeVar("M", bound=SyncedModel)


class Unset:
    """The value of a field the caller did not give: a partial update leaves that column alone."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()


@dataclasses.dataclass(frozen=True, kw_only=True)
class Fields:
    """The writable fields of one record type, as a service takes them.

    Each record type declares a subclass beside its services, so the field contract of a write is
    visible (and type-checked) where it is enforced. A create passes the fields it sets; an update
    passes only the fields it changes; every field left `UNSET` is not written.
    """

    def given(self) -> dict[str, Any]:
        """The fields that were set, as the record writers take them."""
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if getattr(self, field.name) is not UNSET
        }

    @classmethod
    def names(cls) -> frozenset[str]:
        return frozenset(field.name for field in dataclasses.fields(cls))

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Self:
        """Fields from a mapping (validated form or serializer data); an unknown name is refused."""
        unknown = sorted(set(values) - cls.names())
        if unknown:
            raise ValidationError(dict.fromkeys(unknown, "Unknown field."))
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class RecordServices(Generic[M]):
    """The create, update and delete services of one record type, for the interfaces that write
    every type the same way (the API's viewsets, the admin). Declared once beside the services."""

    fields: type[Fields]
    instance: str  # the keyword the update and delete services name the record by
    create: Callable[..., M]  # (*, actor, fields)
    update: Callable[..., M]  # (*, actor, <instance>, changes, expected_version)
    delete: Callable[..., M]  # (*, actor, <instance>, expected_version)

    def create_from(self, *, actor, values: Mapping[str, Any]) -> M:
        return self.create(actor=actor, fields=self.fields.of(values))

    def update_from(self, *, actor, instance: M, values: Mapping[str, Any], expected_version=None) -> M:
        return self.update(
            actor=actor,
            **{self.instance: instance},
            changes=self.fields.of(values),
            expected_version=expected_version,
        )

    def delete_record(self, *, actor, instance: M, expected_version=None) -> M:
        return self.delete(actor=actor, **{self.instance: instance}, expected_version=expected_version)


def last_change(record: SyncedModel) -> AuditEntry | None:
    """The audit entry of the record's latest write (who saved it, and when)."""
    return (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
        )
        .select_related("actor")
        .order_by("-at", "-id")
        .first()
    )


def conflict_message(current: SyncedModel, *, reader=None) -> str:
    """The one wording of a lost race, shown by pages and returned by the API alike: who saved
    the record since it was read, and when ("you, in another tab" when it was the reader)."""
    noun = current._meta.verbose_name
    entry = last_change(current)
    if entry is None or entry.actor is None or entry.version != current.version:
        return f"Someone else changed this {noun} since you read it: it is now at version {current.version}."
    local = timezone.localtime(entry.at)
    when = f"at {local:%H:%M} on {local.day} {local:%b %Y}"
    if reader is not None and entry.actor_id == getattr(reader, "pk", None):
        return (
            f"You saved this {noun} in another tab or window {when}, after this page was opened: "
            f"it is now at version {current.version}."
        )
    name = entry.actor.get_full_name() or entry.actor.get_username()
    return f"{name} saved this {noun} {when}, after you read it: it is now at version {current.version}."


class VersionConflict(Exception):
    """The record changed since the caller read it (its version no longer matches)."""

    def __init__(self, current: SyncedModel):
        super().__init__(conflict_message(current))
        self.current = current


def current_change_stamp() -> int:
    """A number that orders this write transaction against every other one.

    On PostgreSQL it is the transaction id: a reader that remembers the oldest transaction still
    running in its snapshot (`pg_snapshot_xmin`) can later ask for everything stamped at or above
    it and miss nothing, even when transactions commit out of order. SQLite serialises writers, so
    a counter bumped inside the write transaction commits in the same order as it counts.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            return cursor.fetchone()[0]
        cursor.execute(
            f"UPDATE {SyncClock._meta.db_table} SET value = value + 1 WHERE id = 1 RETURNING value"
        )
        row = cursor.fetchone()
        if row is None:
            SyncClock.objects.create(id=1, value=1)
            return 1
        return row[0]


_JSON_NATIVE = frozenset({str, int, bool, type(None)})


def json_value(value: Any) -> Any:
    """A value as it is stored in an audit entry: JSON-safe and exact (Decimals as text)."""
    if type(value) in _JSON_NATIVE:  # most values: checked once, not against every case below
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (list, tuple, set)):
        return sorted(json_value(v) for v in value)
    return value


def _m2m_names(instance: models.Model) -> list[str]:
    return [f.name for f in instance._meta.many_to_many]


def _scale_of(field: models.Field) -> Decimal | None:
    """The quantum a decimal column stores its values at (None for other columns)."""
    return Decimal(1).scaleb(-field.decimal_places) if isinstance(field, models.DecimalField) else None


def _audited(value: Any, quantum: Decimal | None) -> Any:
    if quantum is not None and isinstance(value, Decimal) and value.is_finite():
        # Compare and record at the column's scale: 250 and 250.00 are the same stored value.
        with contextlib.suppress(InvalidOperation):  # too many digits: full_clean() reports it
            value = value.quantize(quantum)
    return json_value(value)


def audited_value(field: models.Field, value: Any) -> Any:
    """A column's value as the audit records and compares it."""
    if isinstance(value, models.Model):
        value = value.pk
    return _audited(value, _scale_of(field))


@functools.cache
def _audited_columns(model: type[models.Model]) -> tuple[tuple[str, str, Decimal | None], ...]:
    """(name, attname, scale) of each audited column of a model: worked out once per model, since a
    bulk write snapshots a thousand rows of the same one."""
    return tuple(
        (field.name, field.attname, _scale_of(field))
        for field in model._meta.concrete_fields
        if field.name not in {"change_stamp", "updated_at", "version"}
    )


def row_snapshot(instance: models.Model) -> dict[str, Any]:
    """The audited columns of a row (foreign keys as ids), without its many-to-many links."""
    return {
        name: _audited(getattr(instance, attname), quantum)
        for name, attname, quantum in _audited_columns(type(instance))
    }


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The audited fields of a row: concrete fields (foreign keys as ids) and many-to-many ids."""
    values = row_snapshot(instance)
    if instance.pk:
        for name in _m2m_names(instance):
            values[name] = sorted(getattr(instance, name).values_list("pk", flat=True))
    return values


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if not before:  # a new record (a bulk create's thousand of them): every value it has
        return {key: {"before": None, "after": value} for key, value in after.items() if value is not None}
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in after.keys() | before.keys()
        if before.get(key) != after.get(key)
    }


# What an audit entry holds instead of a value its record keeps from the audit's readers.
HIDDEN = "(hidden)"


def audit_hidden_fields(instance: models.Model) -> frozenset[str]:
    """The fields whose values the audit must not hold: a record declares them with an
    `audit_hidden_fields()` method (an individual pulse answer, the text of an internal comment).
    The entry still says that the field changed, never what it said."""
    hidden = getattr(instance, "audit_hidden_fields", None)
    return frozenset(hidden()) if hidden is not None else frozenset()


def _masked(instance: models.Model, changes: dict) -> dict:
    hidden = audit_hidden_fields(instance)
    if not hidden:
        return changes
    return {
        name: {
            key: HIDDEN if name in hidden and value is not None else value for key, value in change.items()
        }
        for name, change in changes.items()
    }


def audit(*, actor, instance: models.Model, action: str, changes: dict) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        content_type=ContentType.objects.get_for_model(instance, for_concrete_model=True),
        object_id=instance.pk,
        object_repr=str(instance)[:300],
        action=action,
        changes=_masked(instance, changes),
        version=getattr(instance, "version", 0),
    )


def audit_many(*, actor, changes: list[tuple[models.Model, str, dict]]) -> int:
    """The audit entries of many writes, `(instance, action, changes)` each, in one INSERT."""
    if not changes:
        return 0
    now = timezone.now()
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    content_types = ContentType.objects.get_for_models(
        *{type(instance) for instance, _, _ in changes}, for_concrete_models=True
    )
    insert_values(
        AuditEntry,
        ["at", "actor", "content_type", "object_id", "object_repr", "action", "changes", "version"],
        [
            (
                now,
                actor_id,
                content_types[type(instance)].pk,
                instance.pk,
                str(instance)[:300],
                action,
                _masked(instance, change),
                getattr(instance, "version", 0),
            )
            for instance, action, change in changes
        ],
    )
    return len(changes)


def _split_m2m(model: type[models.Model], data: dict[str, Any]) -> tuple[dict, dict]:
    m2m_names = {f.name for f in model._meta.many_to_many}
    plain = {k: v for k, v in data.items() if k not in m2m_names}
    m2m = {k: v for k, v in data.items() if k in m2m_names}
    return plain, m2m


def _stamp(instance: SyncedModel) -> None:
    instance.updated_at = timezone.now()
    instance.change_stamp = current_change_stamp()


@transaction.atomic
def record_create(*, actor, model: type[M], data: dict[str, Any]) -> M:
    """Validate and insert a row (version 1) with its many-to-many values; audit it."""
    plain, m2m = _split_m2m(model, data)
    unknown = set(plain) - {f.name for f in model._meta.concrete_fields}
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown field."))
    instance = model(**plain)
    instance.full_clean()
    now = timezone.now()
    instance.created_at = now
    instance.version = 1
    _stamp(instance)
    instance.updated_at = now
    instance.save(force_insert=True)
    for name, values in m2m.items():
        getattr(instance, name).set(values)
    audit(
        actor=actor, instance=instance, action=AuditEntry.Action.CREATE, changes=diff({}, snapshot(instance))
    )
    record_event(instance=instance, action=AuditEntry.Action.CREATE, actor=actor)
    return instance


def lock_for_write(instance: M, *, expected_version: int | None = None) -> M:
    """Re-read the row under a row lock and check the caller's version, as one atomic step.

    Must run inside a transaction. Two writers holding the same expected version serialise on the
    lock; the second sees the first one's new version and gets a VersionConflict.
    """
    current = type(instance)._default_manager.select_for_update().get(pk=instance.pk)
    if expected_version is not None and current.version != expected_version:
        raise VersionConflict(current)
    return current


@transaction.atomic
def record_update(
    *,
    actor,
    instance: M,
    data: dict[str, Any],
    expected_version: int | None = None,
    action: str = AuditEntry.Action.UPDATE,
) -> M:
    """Apply `data` to the locked row; a change bumps the version and is audited, no change is a no-op.

    Returns the current row either way. Raises VersionConflict when `expected_version` is stale and
    ValidationError (nothing written) when the result would be invalid.
    """
    current = lock_for_write(instance, expected_version=expected_version)
    if current.deleted_at is not None:
        raise ValidationError("This record has been deleted.")
    plain, m2m = _split_m2m(type(current), data)
    writable = {f.name for f in current._meta.concrete_fields if f.editable and not f.primary_key}
    unknown = set(plain) - writable
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    before = snapshot(current)
    for name, value in plain.items():
        setattr(current, name, value)
    after = snapshot(current)
    for name, values in m2m.items():
        after[name] = sorted(json_value(v) for v in values)
    changes = diff(before, after)
    if not changes:
        return current
    current.full_clean()
    current.version += 1
    _stamp(current)
    current.save()
    for name, values in m2m.items():
        getattr(current, name).set(values)
    audit(actor=actor, instance=current, action=action, changes=changes)
    # The caller's instance has the parents it was read with (a record never changes relationship).
    record_event(
        instance=current,
        action=action,
        actor=actor,
        data=event_data(type(current), action, changes),
        relationship_id=relationship_id_of(instance),
    )
    instance.__dict__.update(current.__dict__)
    return current


def event_data(model, action: str, changes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What an event says about an update: which fields changed (never their values, which the
    reader sees scoped through the API) and, for a transition, the stages (or statuses)."""
    data: dict[str, Any] = {"changed": sorted(changes)}
    field = transition_field(model)
    if action == AuditEntry.Action.TRANSITION and field in changes:
        data["from"], data["to"] = changes[field]["before"], changes[field]["after"]
    return data


@transaction.atomic
def record_touch(*, actor, instance: M, changes: dict[str, Any]) -> M:
    """Record a change made outside the row itself (e.g. a related table): bump, stamp, audit."""
    current = lock_for_write(instance)
    current.version += 1
    _stamp(current)
    current.save(update_fields=["version", "updated_at", "change_stamp"])
    audit(actor=actor, instance=current, action=AuditEntry.Action.UPDATE, changes=changes)
    record_event(
        instance=current,
        action=AuditEntry.Action.UPDATE,
        actor=actor,
        data={"changed": sorted(changes)},
        relationship_id=relationship_id_of(instance),
    )
    instance.__dict__.update(current.__dict__)
    return current


@transaction.atomic
def record_soft_delete(*, actor, instance: M, expected_version: int | None = None) -> M:
    """Mark the row deleted (a tombstone sync clients will see); deleting twice is a no-op.

    The rows that belong to it go with it: a model whose `SOFT_DELETED_WITH` names one of its foreign
    keys is deleted with that parent, level by level (a relationship takes its projects, a project
    its tracked KPIs, a tracked KPI its measurements). The child declares it, so a lower app never
    needs to know the apps built on it; it may name several parents (a comment goes with its
    relationship or its project, whichever is deleted first). Each level is one locking read and one UPDATE,
    whatever the number of rows, and every tombstone gets its audit entry, written in bulk.
    """
    current = lock_for_write(instance, expected_version=expected_version)
    if current.deleted_at is not None:
        return current
    current.deleted_at = timezone.now()
    current.version += 1
    _stamp(current)
    current.save(update_fields=["deleted_at", "version", "updated_at", "change_stamp"])
    audit(
        actor=actor,
        instance=current,
        action=AuditEntry.Action.DELETE,
        changes={"deleted_at": {"before": None, "after": json_value(current.deleted_at)}},
    )
    relationship_id = relationship_id_of(instance)
    record_event(
        instance=current, action=AuditEntry.Action.DELETE, actor=actor, relationship_id=relationship_id
    )
    _cascade_soft_delete(
        actor=actor,
        model=type(current),
        parent_ids=[current.pk],
        deleted_at=current.deleted_at,
        change_stamp=current.change_stamp,
        relationship_id=relationship_id,
    )
    instance.__dict__.update(current.__dict__)
    return current


def _soft_deleted_with(model) -> tuple[str, ...]:
    """The foreign keys whose parent takes `model`'s rows with it (one name, or a tuple of names)."""
    names = getattr(model, "SOFT_DELETED_WITH", None) or ()
    return (names,) if isinstance(names, str) else tuple(names)


def _cascade_soft_delete(
    *, actor, model, parent_ids: list[int], deleted_at, change_stamp: int, relationship_id: int | None
) -> None:
    # Everything deleted with a parent belongs to the parent's relationship (SOFT_DELETED_WITH
    # never crosses relationships), so its events name that one without a query per row.
    if not parent_ids:
        return
    actor = actor if actor is not None and actor.is_authenticated else None
    for relation in model._meta.related_objects:
        child_model = relation.related_model
        if relation.field.name not in _soft_deleted_with(child_model):
            continue
        live_children = child_model._default_manager.filter(
            **{f"{relation.field.name}__in": parent_ids, "deleted_at__isnull": True}
        )
        children = list(
            live_children.select_related(*getattr(child_model, "AUDIT_REPR_RELATED", ()))
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        if not children:
            continue
        child_ids = [child.pk for child in children]
        child_model._default_manager.filter(pk__in=child_ids).update(
            deleted_at=deleted_at,
            version=models.F("version") + 1,
            updated_at=deleted_at,
            change_stamp=change_stamp,
        )
        content_type = ContentType.objects.get_for_model(child_model, for_concrete_model=True)
        changes = {"deleted_at": {"before": None, "after": json_value(deleted_at)}}
        AuditEntry.objects.bulk_create(
            AuditEntry(
                actor=actor,
                content_type=content_type,
                object_id=child.pk,
                object_repr=str(child)[:300],
                action=AuditEntry.Action.DELETE,
                changes=changes,
                version=child.version + 1,
            )
            for child in children
        )
        cascade_events(
            instances=children, actor=actor, relationship_id=relationship_id, sync_stamp=change_stamp
        )
        _cascade_soft_delete(
            actor=actor,
            model=child_model,
            parent_ids=child_ids,
            deleted_at=deleted_at,
            change_stamp=change_stamp,
            relationship_id=relationship_id,
        )

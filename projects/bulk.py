"""Bulk upsert by external_id: the one write path of the API's bulk endpoints and of imports.

Interface
---------
    from projects import bulk

    outcome = bulk.upsert(actor=user, record_type="measurement", records=[{...}, ...],
                          dry_run=False, skip_invalid=False)
    outcome.results    # [{"index", "external_id", "id", "version", "status"}], status created |
                       # updated | unchanged, in record order (a dry run's new records have id None)
    outcome.problems   # {index: {field: [message, ...]}}; when any, nothing is written (unless
                       # skip_invalid: then the valid records are written and these listed)
    outcome.conflicts  # the indexes whose only problem is a uniqueness conflict (API: 409)
    outcome.key_problems  # True when the problems are missing or duplicate keys (checked first)
    outcome.counts     # {"created": n, "updated": n, "unchanged": n}

`record_type` is one of `record_types()`: "organization", "relationship" and "project"
(registered here), "kpi", "project_kpi" and "measurement" (registered by kpis.apps, so that this
app never imports kpis). Many-to-many fields (a relationship's process areas and account managers)
are lists of codes or usernames. Records are plain
dicts in the API's JSON shape: `external_id` is the key (an existing live record in the actor's
scope is updated with the fields given, a new key creates one); related records are named by id
(a number) or external_id (a string), looked up in the actor's scope (`projects.access`), so a
record outside it reads as absent; decimals and dates as strings or numbers; read-only fields of
the API shape (`id`, `version`, `unit`, computed figures…) are ignored, unknown ones refused. The
messages are the API's, word for word (tests/api/test_bulk_parity.py compares them with DRF's), so
an empty date is refused as "" is by the API: a reader of spreadsheets passes an empty cell as None
(or leaves the field out) and names parents by their id or external_id.

The whole batch runs in one transaction; a dry run rolls it back (so it reports exactly what the
write would do, ids of new records aside). A set-based writer checks every rule and constraint
before it writes, so its dry run stops there, writing nothing: a dry run costs the checks only.
A replay of the same batch changes nothing: each record is `unchanged`, with no new version, audit
entry or event. Rights: records of a relationship the actor may not write raise PermissionDenied
for the whole batch, as a single write does. A race the checks cannot see (another transaction
inserting the same new key at the same moment) raises IntegrityError from the INSERT and rolls the
batch back (the API answers it 409).

Batches: a call holds its records, their rows and one statement per table in memory, so a caller
with more (an import of a large sheet) calls it once per slice of at most BULK_LIMIT records,
each slice its own transaction (or wraps the calls in one to keep all or nothing), and adds the
slice's offset to the indexes. The query count of a call does not grow with its size
(tests/api/test_bulk_query_counts.py).

How it is fast (the set-based record types, see `SetWriter`): parents are looked up with one query
per parent type, existing records with one locking query, field validation runs in Python (no
`full_clean()` round trips), uniqueness with one query per constraint, and the writes are one
INSERT for new rows and one INSERT … ON CONFLICT (id) DO UPDATE for changed ones, one INSERT of
audit entries, one of outbox events, one of stale-score marks. Every registered record type has a
set-based writer: organisations, relationships (with their link tables) and projects in
projects.bulk_writers (a project's stage machine, the dates a stage implies and the client's
sign-off, in the services' words), the KPI catalogue, project KPIs and measurements in kpis.bulk.
A record type registered without one would go through its services one record at a time, in a
savepoint each, after the same set-based parsing.
"""

import copy
import dataclasses
import datetime as dt
import decimal
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    ProhibitNullCharactersValidator,
    validate_slug,
)
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date

from outbox.rows import insert_rows
from outbox.services import NewEvent, append_events
from projects import access
from projects.events import event_type, record_type
from projects.models import AuditEntry
from projects.records import (
    RecordServices,
    audit_many,
    audited_value,
    current_change_stamp,
    diff,
    event_data,
    json_value,
    snapshot,
)

NON_FIELD = "non_field_errors"
MAX_ID = 2**63 - 1
MAX_KEY_LENGTH = 100
BULK_LIMIT = 1000  # records per call: the API's limit per request, and an import's batch size

# The API's own wording of each field error (DRF's messages), so that bulk and import read alike.
REQUIRED = "This field is required."
NULL = "This field may not be null."
UNKNOWN = "Unknown field."
DUPLICATE_KEY = "Conflicts with another record (a duplicate key)."


class Invalid(Exception):
    """A value that cannot be stored, with the messages that say why."""

    def __init__(self, *messages: str):
        super().__init__(*messages)
        self.messages = list(messages)


# --- Errors as the API words them ------------------------------------------------------------------


def error_messages(error: ValidationError) -> dict[str, list[str]]:
    """A Django ValidationError as {"field": ["message", …]} (`non_field_errors` for the rest)."""
    if hasattr(error, "error_dict"):
        return {
            (NON_FIELD if field == NON_FIELD_ERRORS else field): [
                message for item in items for message in item.messages
            ]
            for field, items in error.error_dict.items()
        }
    return {NON_FIELD: list(error.messages)}


def unique_messages(model) -> set[str]:
    return {
        str(constraint.get_violation_error_message())
        for constraint in getattr(model._meta, "constraints", [])
        if isinstance(constraint, models.UniqueConstraint)
    }


def is_uniqueness_conflict(error: ValidationError, model=None) -> bool:
    """True when every problem is a uniqueness conflict (a duplicate external_id, name, date…)."""
    unique = unique_messages(model) if model is not None else set()
    items = (
        [item for items in error.error_dict.values() for item in items]
        if hasattr(error, "error_dict")
        else list(error.error_list)
    )
    if not items:
        return False
    return all(
        item.code in ("unique", "unique_together") or any(message in unique for message in item.messages)
        for item in items
    )


# --- Field parsers: a JSON value to the stored value, or Invalid ---------------------------------


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON escapes; no database takes them
        return False
    return True


SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


@dataclasses.dataclass(frozen=True)
class Text:
    max_length: int | None = None
    blank: bool = False
    null: bool = False
    slug: bool = False
    validators: tuple[Callable, ...] = ()  # the model field's own (a currency code's pattern)

    def parse(self, value):
        if value is None:
            if self.null:
                return None
            raise Invalid(NULL)
        if value == "" or (isinstance(value, str) and value.strip() == ""):
            if not self.blank:
                raise Invalid("This field may not be blank.")
            return ""
        if not isinstance(value, str):
            raise Invalid("Not a valid string.")
        value = value.strip()
        messages = []
        if self.max_length is not None and len(value) > self.max_length:
            messages.append(f"Ensure this field has no more than {self.max_length} characters.")
        if "\x00" in value:
            messages.append("Null characters are not allowed.")
        for char in value:
            if 0xD800 <= ord(char) <= 0xDFFF:
                messages.append(f"Surrogate characters are not allowed: U+{ord(char):X}.")
                break
        if self.slug and not SLUG.match(value):
            messages.append('Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.')
        for validator in self.validators:
            try:
                validator(value)
            except ValidationError as error:
                messages.extend(error.messages)
        if messages:
            raise Invalid(*messages)
        return value


@dataclasses.dataclass(frozen=True)
class Choice:
    choices: tuple[str, ...]
    null: bool = False
    blank: bool = False

    def parse(self, value):
        if value is None:
            if self.null:
                return None
            raise Invalid(NULL)
        if value == "" and self.blank:
            return ""
        text = str(value)
        if text not in self.choices:
            raise Invalid(f'"{value}" is not a valid choice.')
        return text


@dataclasses.dataclass(frozen=True)
class Number:
    max_digits: int
    decimal_places: int
    null: bool = False
    min_value: decimal.Decimal | None = None
    max_value: decimal.Decimal | None = None

    def parse(self, value):
        if value is None:
            if self.null:
                return None
            raise Invalid(NULL)
        text = str(value).strip()
        if text == "" and self.null:
            return None
        if len(text) > 1000:
            raise Invalid("String value too large.")
        try:
            number = decimal.Decimal(text)
        except decimal.DecimalException:
            raise Invalid("A valid number is required.") from None
        if not number.is_finite():
            raise Invalid("A valid number is required.")
        _sign, digits, exponent = number.as_tuple()
        if exponent >= 0:
            total, whole, places = len(digits) + exponent, len(digits) + exponent, 0
        elif len(digits) > abs(exponent):
            total, whole, places = len(digits), len(digits) - abs(exponent), abs(exponent)
        else:
            total, whole, places = abs(exponent), 0, abs(exponent)
        if total > self.max_digits:
            raise Invalid(f"Ensure that there are no more than {self.max_digits} digits in total.")
        if places > self.decimal_places:
            raise Invalid(f"Ensure that there are no more than {self.decimal_places} decimal places.")
        if whole > self.max_digits - self.decimal_places:
            raise Invalid(
                f"Ensure that there are no more than {self.max_digits - self.decimal_places} digits "
                "before the decimal point."
            )
        context = decimal.Context(prec=self.max_digits)
        number = number.quantize(decimal.Decimal(".1") ** self.decimal_places, context=context)
        messages = []
        if self.max_value is not None and number > self.max_value:
            messages.append(f"Ensure this value is less than or equal to {self.max_value}.")
        if self.min_value is not None and number < self.min_value:
            messages.append(f"Ensure this value is greater than or equal to {self.min_value}.")
        if messages:
            raise Invalid(*messages)
        return number


@dataclasses.dataclass(frozen=True)
class Date:
    null: bool = False
    validators: tuple[Callable, ...] = ()

    def parse(self, value):
        if value is None:
            if self.null:
                return None
            raise Invalid(NULL)
        if isinstance(value, dt.datetime):
            raise Invalid("Expected a date but got a datetime.")
        if isinstance(value, dt.date):
            parsed = value
        else:
            try:
                parsed = parse_date(value)
            except (ValueError, TypeError):
                parsed = None
            if parsed is None:
                raise Invalid("Date has wrong format. Use one of these formats instead: YYYY-MM-DD.")
        messages = []
        for validator in self.validators:
            try:
                validator(parsed)
            except ValidationError as error:
                messages.extend(error.messages)
        if messages:
            raise Invalid(*messages)
        return parsed


@dataclasses.dataclass(frozen=True)
class Boolean:
    null: bool = False

    TRUE = frozenset(
        {"t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1", 1}
    )
    FALSE = frozenset(
        {"f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0", 0}
    )
    NULL = frozenset({"null", "Null", "NULL", ""})

    def parse(self, value):
        if value is None:
            if self.null:
                return None
            raise Invalid(NULL)
        if value is True or value is False:
            return value
        try:
            if value in self.TRUE:
                return True
            if value in self.FALSE:
                return False
            if self.null and value in self.NULL:
                return None
        except TypeError:  # a list or an object: not a boolean either
            pass
        raise Invalid("Must be a valid boolean.")


def field_parser(model: type[models.Model], name: str):
    """The parser of a model field, with the limits the model declares (as the API derives them)."""
    field = model._meta.get_field(name)
    if field.choices:
        return Choice(tuple(str(value) for value, _ in field.flatchoices), null=field.null, blank=field.blank)
    if isinstance(field, models.BooleanField):
        return Boolean(null=field.null)
    if isinstance(field, models.DecimalField):
        minimum = next((v.limit_value for v in field.validators if isinstance(v, MinValueValidator)), None)
        maximum = next((v.limit_value for v in field.validators if isinstance(v, MaxValueValidator)), None)
        return Number(
            field.max_digits, field.decimal_places, null=field.null, min_value=minimum, max_value=maximum
        )
    if isinstance(field, models.DateField):
        return Date(null=field.null, validators=tuple(field.validators))
    if isinstance(field, (models.CharField, models.TextField)):
        slug = isinstance(field, models.SlugField)
        # Length, NUL and slug checks are Text's own (as the API's field has them built in).
        builtin = (MaxLengthValidator, ProhibitNullCharactersValidator)
        own = tuple(v for v in field.validators if not isinstance(v, builtin) and v is not validate_slug)
        return Text(
            max_length=field.max_length, blank=field.blank, null=field.null, slug=slug, validators=own
        )
    raise TypeError(f"No bulk parser for {model.__name__}.{name}")


@dataclasses.dataclass(frozen=True)
class Parent:
    """A foreign key named by id or external_id, looked up in the actor's scope (live records)."""

    queryset_for: Callable[[Any], models.QuerySet]
    null: bool = False


@dataclasses.dataclass(frozen=True)
class Lookup:
    """A foreign key named by a unique slug (a project's owner by username)."""

    queryset_for: Callable[[Any], models.QuerySet]
    slug_field: str
    null: bool = False


@dataclasses.dataclass(frozen=True)
class Many:
    """A many-to-many field named by a list of unique slugs (process area codes, usernames)."""

    queryset_for: Callable[[Any], models.QuerySet]
    slug_field: str


def _parent_ref(value):
    """("pk", n) or ("external_id", text), or Invalid with the API's message."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise Invalid("Give the id (a number) or the external_id (a string) of the record.")
    if isinstance(value, int):
        if not 0 < value <= MAX_ID:
            raise Invalid(f"No such record (id or external_id {value}) that you may use.")
        return ("pk", value)
    text = value.strip()
    if not text or len(text) > MAX_KEY_LENGTH or "\x00" in text or not _encodable(text):
        raise Invalid(f"No such record (id or external_id {text[:100]!a}) that you may use.")
    return ("external_id", text)


# --- Record types ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Item:
    """One record of a batch on its way through: parsed values, the row it updates, its outcome."""

    index: int
    key: str
    record: Mapping[str, Any]
    instance: models.Model | None = None  # the live row it updates (None: a new record)
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    errors: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    conflict: bool = False
    obj: models.Model | None = None
    status: str | None = None
    changes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    # Database constraints the record would break: constraint name → message.
    violations: dict[str, str] = dataclasses.field(default_factory=dict)
    # False for a record matched by its caller (an import's natural key) that writes no key: the
    # row has none and the record keeps having none.
    writes_key: bool = True

    def fail(self, field: str, *messages: str) -> None:
        self.errors.setdefault(field, []).extend(messages)


class Match(NamedTuple):
    """An existing record a caller matched by other means than the key (an import's natural key):
    its id, and whether the record's key is written onto it (the row has one, the record none)."""

    id: int
    sets_key: bool


def claim_slots(items: list[Item], slot_of, taken: Mapping, constraint) -> None:
    """Flag the items whose unique slot (`slot_of(item)`; `slot_of(item, before=True)` the row's
    own) another live row holds (`taken`: slot → id): rows outside the batch first, then batch rows
    that keep their slot, then the rest in order, so that a swap within the batch is no conflict."""
    moving = {item.instance.pk for item in items if item.instance is not None}
    holders = {slot: pk for slot, pk in taken.items() if pk not in moving}
    staying = [i for i in items if i.instance is not None and slot_of(i) == slot_of(i, before=True)]
    for item in staying + [i for i in items if i not in staying]:
        slot = slot_of(item)
        owner = item.instance.pk if item.instance is not None else ("new", item.index)
        if holders.setdefault(slot, owner) != owner:
            item.violations[constraint.name] = str(constraint.get_violation_error_message())


def constraint_named(model: type[models.Model], name: str):
    return next(c for c in model._meta.constraints if c.name == name)


@functools.cache
def _column_names(model: type[models.Model]) -> frozenset[str]:
    return frozenset(name for field in model._meta.concrete_fields for name in (field.name, field.attname))


def new_instance(model: type[models.Model], values: Mapping[str, Any]) -> models.Model:
    """A new, unsaved row of `model` from field values by name (related records as instances),
    the rest at their defaults: what `model(**values)` gives, built through Model.__init__'s
    positional path (a third of the time, which counts for a thousand rows a request). The related
    records stay cached on the row, as with keyword arguments."""
    unknown = values.keys() - _column_names(model)
    if unknown:  # as model(**values) would refuse them
        raise TypeError(f"{model.__name__} has no field(s) {', '.join(sorted(unknown))}")
    args, related = [], []
    for field in model._meta.concrete_fields:
        if field.name in values:
            value = values[field.name]
            if field.is_relation and isinstance(value, models.Model):
                related.append((field.name, value))
                value = value.pk
        elif field.attname in values:
            value = values[field.attname]
        else:
            value = field.get_default()
        args.append(value)
    row = model(*args)
    for name, value in related:
        setattr(row, name, value)
    return row


def given_values(item: Item) -> dict[str, Any]:
    """The values an update writes: all but the key, unless the update gives the record its key."""
    current = item.instance.external_id if item.instance is not None else None
    return {name: value for name, value in item.values.items() if name != "external_id" or value != current}


class SetWriter:
    """Validation rules and writes of one record type, a whole batch at a time.

    `check` adds errors to the items (each rule once per batch, not once per record); `write`
    stores the valid items and sets each one's `obj` and `status`.
    """

    def check(self, *, actor, spec: "RecordSpec", items: list[Item]) -> None:
        raise NotImplementedError

    def write(self, *, actor, spec: "RecordSpec", items: list[Item], dry_run: bool = False) -> None:
        """Store the items (a dry run only sets each one's outcome: `check` found every problem)."""
        raise NotImplementedError


class ModelSetWriter(SetWriter):
    """The set-based writer of a versioned record type; a subclass states its rules.

    `check` runs, for the whole batch: the actor's rights (one query), the subclass's per-record
    rules (`check_record`, in Python on parents already loaded), which records would change, and
    the database constraints (`check_constraints`, one query per constraint; external_id here).
    `write` stamps every row with this transaction's change stamp, inserts the new rows in one
    INSERT and the changed ones in one INSERT … ON CONFLICT (id) DO UPDATE, then writes their audit
    entries, their events and (`after_write`) the follow-up marks, one INSERT each.
    """

    # Parents a record cannot move to once written: field → the message (services' wording).
    immovable: Mapping[str, str] = {}
    # The foreign key whose row the rules, events and audit read: loaded once for the batch (from
    # the records that name it, else one query), never one query per record.
    parent: str | None = None

    def parent_queryset(self) -> models.QuerySet:
        raise NotImplementedError

    def relationship_id(self, item: Item) -> int:
        raise NotImplementedError

    def check_record(self, *, actor, item: Item) -> None:
        """The service rules of one record; add errors to the item (ValidationError is caught)."""

    def check_constraints(self, *, spec: "RecordSpec", items: list[Item]) -> None:
        """The model's constraints other than external_id's, set-based: fill `item.violations`."""

    def new_row(self, item: Item) -> models.Model:
        raise NotImplementedError

    def after_write(self, *, actor, created: list[Item], updated: list[Item]) -> None:
        """Follow-up work of the rows written (stale score marks)."""

    def changes_of(self, item: Item) -> dict[str, dict[str, Any]]:
        """What writing the item would change on its row, as the audit records it."""
        return would_change(item.instance, given_values(item))

    def created_changes(self, item: Item) -> dict[str, dict[str, Any]]:
        """A new row's audit: every audited field, from the row in hand."""
        return diff({}, snapshot(item.obj))

    def update_action(self, item: Item) -> str:
        """How an update is audited and announced (a project's change of stage is a transition)."""
        return AuditEntry.Action.UPDATE

    def check(self, *, actor, spec, items):
        self._attach_parents(spec, items)
        self._check_rights(actor, items)
        for item in items:
            if item.instance is not None:
                for name, message in self.immovable.items():
                    if name in item.values and item.values[name].pk != getattr(item.instance, f"{name}_id"):
                        item.fail(name, message)
                        break
                    item.values.pop(name, None)
            if item.errors:
                continue
            try:
                self.check_record(actor=actor, item=item)
            except ValidationError as error:
                for field, messages in error_messages(error).items():
                    item.fail(field, *messages)
            if item.instance is not None and not item.errors:
                item.changes = self.changes_of(item)
        # Only rows that will be written are validated as a whole (an unchanged row is left alone).
        rows = [item for item in items if not item.errors and (item.instance is None or item.changes)]
        self._check_external_ids(
            spec, [item for item in rows if item.instance is None or "external_id" in item.changes]
        )
        self.check_constraints(spec=spec, items=rows)
        order = [constraint.name for constraint in spec.model._meta.constraints]
        unique = unique_messages(spec.model)
        for item in rows:
            if not item.violations:
                continue
            messages = [item.violations[name] for name in order if name in item.violations]
            item.conflict = not item.errors and all(message in unique for message in messages)
            item.fail(NON_FIELD, *messages)

    def _attach_parents(self, spec, items: list[Item]) -> None:
        if self.parent is None:
            return
        field = spec.model._meta.get_field(self.parent)
        named = [item.values[self.parent] for item in items if self.parent in item.values]
        known = {parent.pk: parent for parent in named}
        updated = [item for item in items if item.instance is not None and not field.is_cached(item.instance)]
        missing = {getattr(item.instance, field.attname) for item in updated} - set(known)
        if missing:
            known.update({obj.pk: obj for obj in self.parent_queryset().filter(pk__in=missing)})
        for item in updated:
            setattr(item.instance, self.parent, known[getattr(item.instance, field.attname)])

    def _check_rights(self, actor, items: list[Item]) -> None:
        if actor is None or access.role_of(actor) == access.Role.ADMIN or not items:
            return
        wanted = {self.relationship_id(item) for item in items}
        writable = set(
            access.writable_relationships(actor).filter(pk__in=wanted).values_list("pk", flat=True)
        )
        if wanted - writable:
            raise PermissionDenied("You may not change data of this relationship.")

    def _check_external_ids(self, spec, items: list[Item]) -> None:
        # A key the actor cannot see is new to them; another tenant's live record holding it wins.
        keys = [item.key for item in items]
        if not keys:
            return
        taken = set(
            spec.model._default_manager.filter(deleted_at__isnull=True, external_id__any=keys).values_list(
                "external_id", flat=True
            )
        )
        constraint = next(
            c for c in spec.model._meta.constraints if c.name.endswith("_external_id_live_unique")
        )
        for item in items:
            if item.key in taken:
                item.violations[constraint.name] = str(constraint.get_violation_error_message())

    def write(self, *, actor, spec, items, dry_run=False):
        if not items:
            return
        now = timezone.now()
        stamp = None if dry_run else current_change_stamp()
        many = {field.name for field in spec.model._meta.many_to_many}  # written by after_write
        created, updated = [], []
        for item in items:
            if item.instance is None:
                row = self.new_row(item)
                row.version, row.created_at, row.updated_at, row.change_stamp = 1, now, now, stamp
                item.obj, item.status = row, "created"
                created.append(item)
            elif item.changes:
                row = item.instance
                for name, value in item.values.items():
                    if name not in many:
                        setattr(row, name, value)
                row.version += 1
                row.updated_at, row.change_stamp = now, stamp
                item.obj, item.status = row, "updated"
                updated.append(item)
            else:
                item.obj, item.status = item.instance, "unchanged"
        if dry_run:  # every rule and constraint was checked set-based: the outcome is known
            return
        model = spec.model
        insert_rows(model, [item.obj for item in created])
        if updated:
            changed = sorted({name for item in updated for name in item.changes} - many)
            insert_rows(
                model,
                [item.obj for item in updated],
                update_fields=[*changed, "version", "updated_at", "change_stamp"],
            )
        audit_many(
            actor=actor,
            changes=[(item.obj, AuditEntry.Action.CREATE, self.created_changes(item)) for item in created]
            + [(item.obj, self.update_action(item), item.changes) for item in updated],
        )
        self._append_events(actor, model, created, updated)
        self.after_write(actor=actor, created=created, updated=updated)

    def _append_events(self, actor, model, created: list[Item], updated: list[Item]) -> None:
        # Built from the rows in hand (no re-read): these types have no OUTBOX_CONDITION.
        assert getattr(model, "OUTBOX_CONDITION", None) is None
        actions = [(AuditEntry.Action.CREATE, item) for item in created] + [
            (self.update_action(item), item) for item in updated
        ]
        types = {action: event_type(model, action) for action in {action for action, _ in actions}}
        kind = record_type(model)
        events = [
            NewEvent(
                type=types[action],
                record_type=kind,
                record_id=item.obj.pk,
                external_id=item.obj.external_id,
                version=item.obj.version,
                relationship_id=self.relationship_id(item),
                sync_stamp=item.obj.change_stamp,
                data={} if action == AuditEntry.Action.CREATE else event_data(model, action, item.changes),
            )
            for action, item in actions
        ]
        append_events(events, actor=actor)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecordSpec:
    """How bulk writes one record type: its fields as the API names them and where they are."""

    record_type: str
    model: type[models.Model]
    services: RecordServices
    existing: Callable[[Any], models.QuerySet]  # (actor) → the live records the actor may update
    fields: Mapping[str, Any]  # writable field → parser (Text, Number, Date, Choice, Parent, Lookup)
    required: frozenset[str]  # the fields a new record must have
    ignored: frozenset[str] = frozenset()  # read-only fields of the API shape: accepted, ignored
    writer: SetWriter | None = None  # None: one service call per record


_SPECS: dict[str, RecordSpec] = {}
SERVER_MANAGED = frozenset({"id", "version", "created_at", "updated_at", "deleted_at"})


def register(spec: RecordSpec) -> None:
    _SPECS[spec.record_type] = spec


def record_types() -> list[str]:
    return sorted(_SPECS)


def spec_for(record_type: str) -> RecordSpec:
    try:
        return _SPECS[record_type]
    except KeyError:
        raise ValueError(f"Unknown record type {record_type!r}; one of {record_types()}.") from None


def spec_of_model(model: type[models.Model]) -> RecordSpec | None:
    return next((spec for spec in _SPECS.values() if spec.model is model), None)


# --- The engine --------------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    results: list[dict[str, Any]]
    problems: dict[int, dict[str, list[str]]]
    conflicts: set[int]
    key_problems: bool = False
    written: bool = False

    @property
    def counts(self) -> dict[str, int]:
        return {
            name: sum(1 for result in self.results if result["status"] == name)
            for name in ("created", "updated", "unchanged")
        }


def check_keys(records: list) -> tuple[list[str], dict[int, dict[str, list[str]]]]:
    """Each record's key, and the records without a usable one or sharing one with another."""
    problems: dict[int, dict[str, list[str]]] = {}
    positions: dict[str, list[int]] = {}
    keys: list[str] = []
    for index, record in enumerate(records):
        keys.append("")
        if not isinstance(record, Mapping):
            problems[index] = {NON_FIELD: ["Each record must be a JSON object."]}
            continue
        key = record.get("external_id")
        if not isinstance(key, str) or not key.strip():
            problems[index] = {"external_id": ["Each record needs an external_id (its key in the batch)."]}
        elif len(key) > MAX_KEY_LENGTH or "\x00" in key or not _encodable(key):
            problems[index] = {"external_id": ["Ensure this field has no more than 100 characters."]}
        else:
            keys[index] = key.strip()
            positions.setdefault(key.strip(), []).append(index)
    for key, indexes in positions.items():
        if len(indexes) > 1:
            for index in indexes:
                others = ", ".join(str(i) for i in indexes if i != index)
                problems[index] = {
                    "external_id": [
                        f"external_id {key!r} appears more than once in this batch (also records {others})."
                    ]
                }
    return keys, problems


def upsert(
    *,
    actor,
    record_type: str,
    records: list,
    dry_run: bool = False,
    skip_invalid: bool = False,
    matches: Mapping[int, Match] | None = None,
) -> Outcome:
    """Create or update `records` of `record_type` by external_id (see the module docstring).

    `matches` (index → Match) names the existing record a record updates when its caller found it
    by other means (an import's natural key, for a record that has no external_id); the record's
    external_id then only tells the batch's records apart, unless the Match sets it."""
    spec = spec_for(record_type)
    # A writer keeps a batch's lookups between its check and its write: each call has its own copy.
    spec = dataclasses.replace(spec, writer=copy.copy(spec.writer))
    keys, key_problems = check_keys(records)
    if key_problems and not skip_invalid:
        return Outcome(results=[], problems=key_problems, conflicts=set(), key_problems=True)
    items = [
        Item(index=index, key=key, record=record)
        for index, (key, record) in enumerate(zip(keys, records, strict=True))
        if index not in key_problems
    ]
    with transaction.atomic():
        _attach_existing(actor, spec, items, matches or {})
        _parse(actor, spec, items)
        if spec.writer is not None:
            spec.writer.check(actor=actor, spec=spec, items=[item for item in items if not item.errors])
        problems = {**key_problems, **{item.index: item.errors for item in items if item.errors}}
        conflicts = {item.index for item in items if item.errors and item.conflict}
        valid = [item for item in items if not item.errors]
        if spec.writer is not None:
            if problems and not skip_invalid:
                return Outcome(results=[], problems=dict(sorted(problems.items())), conflicts=conflicts)
            spec.writer.write(actor=actor, spec=spec, items=valid, dry_run=dry_run)
        else:
            # Written even when the batch is refused, to report every record's problems at once (as
            # the services see them); the rollback below takes the writes back.
            _write_through_services(actor, spec, valid)
        # The services may refuse a record the parsing let through (the stage machine, say).
        for item in valid:
            if item.errors:
                problems[item.index] = item.errors
                if item.conflict:
                    conflicts.add(item.index)
        if problems and not skip_invalid:
            transaction.set_rollback(True)
            return Outcome(results=[], problems=dict(sorted(problems.items())), conflicts=conflicts)
        results = [
            {
                "index": item.index,
                "external_id": item.key if item.writes_key else item.obj.external_id,
                "id": None if dry_run and item.status == "created" else item.obj.pk,
                "version": item.obj.version,
                "status": item.status,
            }
            for item in valid
            if not item.errors
        ]
        if dry_run:
            transaction.set_rollback(True)
    return Outcome(
        results=results,
        problems=dict(sorted(problems.items())),
        conflicts=conflicts,
        written=not dry_run and bool(results),
    )


def _attach_existing(actor, spec: RecordSpec, items: list[Item], matches: Mapping[int, Match]) -> None:
    # Keys name live records: a deleted record's key is free again, so naming it creates anew. The
    # rows about to be updated are locked, so that a concurrent writer queues behind this batch.
    keys = [item.key for item in items if item.index not in matches]
    ids = [matches[item.index].id for item in items if item.index in matches]
    rows = list(
        spec.existing(actor).filter(Q(external_id__any=keys) | Q(pk__any=ids)).select_for_update(of=("self",))
    )
    by_key = {obj.external_id: obj for obj in rows if obj.external_id}
    by_id = {obj.pk: obj for obj in rows}
    for item in items:
        match = matches.get(item.index)
        if match is None:
            item.instance = by_key.get(item.key)
            continue
        item.instance = by_id.get(match.id)
        item.writes_key = match.sets_key
        if item.instance is None:  # deleted (or moved out of scope) since the caller matched it
            item.fail(NON_FIELD, f"No such record (id {match.id}) that you may use.")


def _parse(actor, spec: RecordSpec, items: list[Item]) -> None:
    """Every field of every record; parents and lookups resolved with one query per field."""
    known = set(spec.fields) | spec.ignored | SERVER_MANAGED | {"external_id"}
    refs: dict[str, dict[tuple, list[Item]]] = {name: {} for name, parser in spec.fields.items()}
    for item in items:
        if item.errors:  # the record it matched is gone: nothing to parse it against
            continue
        unknown = sorted(str(name) for name in item.record if name not in known)
        for name in unknown:
            item.fail(name, UNKNOWN)
        if unknown:
            continue
        if item.writes_key:
            item.values["external_id"] = item.key
        for name, parser in spec.fields.items():
            if name not in item.record:
                if item.instance is None and name in spec.required:
                    item.fail(name, REQUIRED)
                continue
            value = item.record[name]
            try:
                if isinstance(parser, Many):
                    if value is None:
                        raise Invalid(NULL)
                    if isinstance(value, str) or not isinstance(value, (list, tuple)):
                        raise Invalid(f'Expected a list of items but got type "{type(value).__name__}".')
                    for slug in value:
                        refs[name].setdefault(("slug", slug if isinstance(slug, str) else str(slug)), [])
                    item.values[name] = list(value)  # resolved below, in order
                    refs[name].setdefault(("many",), []).append(item)
                    continue
                if isinstance(parser, (Parent, Lookup)):
                    if value is None:
                        if not parser.null:
                            raise Invalid(NULL)
                        item.values[name] = None
                        continue
                    ref = _parent_ref(value) if isinstance(parser, Parent) else ("slug", value)
                    refs[name].setdefault(ref, []).append(item)
                else:
                    item.values[name] = parser.parse(value)
            except Invalid as invalid:
                item.fail(name, *invalid.messages)
    for name, wanted in refs.items():
        if wanted:
            _resolve(actor, name, spec.fields[name], wanted)


def _resolve(actor, name: str, parser, wanted: dict[tuple, list[Item]]) -> None:
    queryset = parser.queryset_for(actor)
    found: dict[tuple, models.Model] = {}
    if isinstance(parser, Many):
        slugs = [ref[1] for ref in wanted if ref[0] == "slug"]
        for obj in queryset.filter(**{f"{parser.slug_field}__in": slugs}):
            found[("slug", getattr(obj, parser.slug_field))] = obj
        for item in wanted.get(("many",), []):
            objs = []
            for slug in item.values[name]:
                obj = found.get(("slug", slug if isinstance(slug, str) else str(slug)))
                if obj is None:
                    item.values.pop(name)
                    item.fail(name, f"Object with {parser.slug_field}={slug} does not exist.")
                    break
                objs.append(obj)
            else:
                item.values[name] = objs
        return
    if isinstance(parser, Lookup):
        slugs = [value for _, value in wanted if isinstance(value, str)]
        for obj in queryset.filter(**{f"{parser.slug_field}__in": slugs}):
            found[("slug", getattr(obj, parser.slug_field))] = obj
    else:
        ids = [value for kind, value in wanted if kind == "pk"]
        external_ids = [value for kind, value in wanted if kind == "external_id"]
        for obj in queryset.filter(Q(pk__in=ids) | Q(external_id__in=external_ids)):
            if obj.pk in ids:
                found[("pk", obj.pk)] = obj
            if obj.external_id in external_ids:
                found[("external_id", obj.external_id)] = obj
    for ref, items in wanted.items():
        obj = found.get(ref)
        for item in items:
            if obj is not None:
                item.values[name] = obj
            elif isinstance(parser, Lookup):
                shown = ref[1]
                item.fail(
                    name,
                    f"Object with {parser.slug_field}={shown} does not exist."
                    if isinstance(shown, str)
                    else "Invalid value.",
                )
            else:
                shown = ref[1] if ref[0] == "pk" else repr(ref[1])
                item.fail(name, f"No such record (id or external_id {shown}) that you may use.")


def would_change(instance: models.Model, values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The changes writing `values` would make to the row, as the audit records them (only the
    fields given are compared: the others keep their values)."""
    meta = instance._meta
    if any(field.name in values for field in meta.many_to_many):
        probe = copy.copy(instance)
        m2m_names = {field.name for field in meta.many_to_many}
        for name, value in values.items():
            if name not in m2m_names:
                setattr(probe, name, value)
        after = snapshot(probe)
        for name in m2m_names & set(values):
            after[name] = sorted(json_value(value) for value in values[name])
        return diff(snapshot(instance), after)
    changes = {}
    for name, value in values.items():
        field = meta.get_field(name)
        before, after = audited_value(field, getattr(instance, field.attname)), audited_value(field, value)
        if before != after:
            changes[name] = {"before": before, "after": after}
    return changes


def _write_through_services(actor, spec: RecordSpec, items: Iterable[Item]) -> None:
    """One service call per record, each in a savepoint: a refused record rolls back alone."""
    for item in items:
        try:
            with transaction.atomic():
                if item.instance is None:
                    item.obj = spec.services.create_from(actor=actor, values=item.values)
                    item.status = "created"
                    continue
                values = given_values(item)
                if not would_change(item.instance, values):
                    item.obj, item.status = item.instance, "unchanged"
                    continue
                before = item.instance.version
                item.obj = spec.services.update_from(actor=actor, instance=item.instance, values=values)
                item.status = "updated" if item.obj.version != before else "unchanged"
        except ValidationError as error:
            item.errors = error_messages(error)
            item.conflict = is_uniqueness_conflict(error, spec.model)
        except IntegrityError:
            item.errors = {"external_id": [DUPLICATE_KEY]}
            item.conflict = True


# --- Organisations, relationships and projects -------------------------------------------------


def _live_relationships(actor):
    from projects.access import scope
    from projects.models import Relationship

    return scope(actor, Relationship.objects.filter(deleted_at__isnull=True))


def _live_relationships_with_client(actor):
    # The client's name is in the sign-off messages a project's rules may give.
    return _live_relationships(actor).select_related("client")


def _active_users(actor):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_active=True)


def _live_projects(actor):
    from projects import selectors

    return selectors.project_list(user=actor)


PROJECT_FIELDS = (
    "title",
    "description",
    "level",
    "stage",
    "originator",
    "proposed_on",
    "started_on",
    "delivered_on",
    "investment",
    "expected_annual_benefit",
    "realised_annual_benefit",
    "funding",
    "gain_share_pct",
    "gain_share_baseline",
    "outcome",
    "cancellation_reason",
)


RELATIONSHIP_FIELDS = (
    "name",
    "contract_start",
    "contract_end",
    "annual_contract_value",
    "currency",
    "status",
    "client_signoff_required",
)


def _process_areas(actor):
    from projects.models import ProcessArea

    return ProcessArea.objects.all()


def _account_managers(actor):
    from django.contrib.auth import get_user_model

    from projects.access import Role

    return get_user_model().objects.filter(is_active=True, groups__name=Role.ACCOUNT_MANAGER.value)


def _live_organizations(actor):
    from projects import selectors

    return selectors.organization_list(user=actor)


def register_projects() -> None:
    """The organisation and project record types (called from ProjectsConfig.ready)."""
    from projects import services
    from projects.bulk_writers import OrganizationWriter, ProjectWriter, RelationshipWriter
    from projects.models import InnovationProject, Organization, Relationship

    register(
        RecordSpec(
            record_type="organization",
            model=Organization,
            services=services.ORGANIZATION,
            existing=_live_organizations,
            fields={
                name: field_parser(Organization, name) for name in ("name", "kind", "industry", "country")
            },
            required=frozenset({"name", "kind"}),
            writer=OrganizationWriter(),
        )
    )

    register(
        RecordSpec(
            record_type="relationship",
            model=Relationship,
            services=services.RELATIONSHIP,
            existing=_live_relationships,
            fields={
                "client": Parent(_live_organizations),
                "provider": Parent(_live_organizations),
                "process_areas": Many(_process_areas, "code"),
                "account_managers": Many(_account_managers, "username"),
                **{name: field_parser(Relationship, name) for name in RELATIONSHIP_FIELDS},
            },
            required=frozenset({"name", "client", "provider", "contract_start"}),
            writer=RelationshipWriter(),
            ignored=frozenset({"projects_in_flight", "current_score"}),
        )
    )
    register(
        RecordSpec(
            record_type="project",
            model=InnovationProject,
            services=services.PROJECT,
            existing=_live_projects,
            fields={
                "relationship": Parent(_live_relationships_with_client),
                "owner": Lookup(_active_users, "username", null=True),
                **{name: field_parser(InnovationProject, name) for name in PROJECT_FIELDS},
            },
            required=frozenset({"relationship", "title"}),
            writer=ProjectWriter(),
            ignored=frozenset(
                {"impact_pct", "gain_share", "delivery_date_contested", "realised_benefit_contested"}
            ),
        )
    )

"""Events of synced records, appended to the outbox by projects.records (and the bulk paths).

Every versioned write appends one event per record it changed, in its own transaction:
`<record type>.created`, `.updated`, `.deleted`, or `project.stage_changed`. An event names the
record (type, id, external_id, new version), the relationship it belongs to (for scoping), the
actor and the record's change stamp (the sync pass that carries the change).

`record_events` is the set-based form for many records of one type at once (bulk upserts and
imports call it after their statements): one SELECT and one INSERT whatever the count.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from outbox.services import NewEvent, append_events
from projects.models import AuditEntry, SyncedModel

# What an audit action is called in an event type.
EVENT_ACTIONS = {
    AuditEntry.Action.CREATE: "created",
    AuditEntry.Action.UPDATE: "updated",
    AuditEntry.Action.DELETE: "deleted",
    AuditEntry.Action.TRANSITION: "stage_changed",
}


def record_type(model: type[models.Model]) -> str:
    """The record type events and the API call a model (`project`, `project_kpi`, …)."""
    return getattr(model, "RECORD_TYPE", None) or model._meta.model_name


def transition_field(model: type[models.Model]) -> str:
    """The field a transition moves: a project's `stage`; a model with a workflow of its own names
    it in `TRANSITION_FIELD` (a contest's `status`)."""
    return getattr(model, "TRANSITION_FIELD", "stage")


def event_type(model: type[models.Model], action: str) -> str:
    if action == AuditEntry.Action.TRANSITION:
        return f"{record_type(model)}.{transition_field(model)}_changed"
    return f"{record_type(model)}.{EVENT_ACTIONS.get(action, action)}"


def _relationship_path(model: type[models.Model]) -> str | None:
    """The lookup from a model to its relationship id; None for records outside relationships."""
    path = getattr(model, "SCOPE_PATH", None)
    if path is None:
        return None
    return "pk" if path == "" else path


def relationship_id_of(instance: models.Model) -> int | None:
    """The id of the relationship a record belongs to, following relations already loaded and
    asking the database only when one is not."""
    path = _relationship_path(type(instance))
    if path is None:
        return None
    if path == "pk":
        return instance.pk
    obj: Any = instance
    names = path.split("__")
    for index, name in enumerate(names):
        field = obj._meta.get_field(name)
        if index == len(names) - 1:
            return getattr(obj, field.attname)
        if not field.is_cached(obj):
            return type(instance)._default_manager.filter(pk=instance.pk).values_list(path, flat=True).first()
        obj = getattr(obj, name)
    return None


def _with_events(model: type[models.Model], queryset):
    """Only the rows that have events: a model may declare `OUTBOX_CONDITION`, a condition on its
    rows, when some of them must stay out of a stream both sides of a relationship read (an
    internal comment, a pulse answer)."""
    condition = getattr(model, "OUTBOX_CONDITION", None)
    return queryset if condition is None else queryset.filter(condition)


def has_events(instance: models.Model) -> bool:
    model = type(instance)
    if getattr(model, "OUTBOX_CONDITION", None) is None:
        return True
    return _with_events(model, model._default_manager.filter(pk=instance.pk)).exists()


def record_event(
    *, instance: SyncedModel, action: str, actor, data: Mapping[str, Any] | None = None, relationship_id=None
) -> None:
    """Append the event of one record's write (call inside the write's transaction)."""
    if not has_events(instance):
        return
    if relationship_id is None:
        relationship_id = relationship_id_of(instance)
    append_events(
        [
            NewEvent(
                type=event_type(type(instance), action),
                record_type=record_type(type(instance)),
                record_id=instance.pk,
                external_id=instance.external_id,
                version=instance.version,
                relationship_id=relationship_id,
                sync_stamp=instance.change_stamp,
                data=dict(data or {}),
            )
        ],
        actor=actor,
    )


def record_events(
    *,
    model: type[SyncedModel],
    ids: Iterable[int],
    action: str,
    actor,
    data: Mapping[str, Any] | None = None,
) -> int:
    """Append one event per record for rows already written in this transaction, set-based: the
    rows' keys, versions, stamps and relationships are read in one query and the events written
    in one INSERT. Returns the number of events appended."""
    ids = list(ids)
    if not ids:
        return 0
    path = _relationship_path(model)
    columns = ["pk", "external_id", "version", "change_stamp"] + ([path] if path and path != "pk" else [])
    kind, name = event_type(model, action), record_type(model)
    events = []
    rows = _with_events(model, model._default_manager.filter(pk__in=ids))
    for row in rows.order_by("pk").values_list(*columns):
        pk, external_id, version, stamp = row[:4]
        relationship_id = pk if path == "pk" else (row[4] if path else None)
        events.append(
            NewEvent(
                type=kind,
                record_type=name,
                record_id=pk,
                external_id=external_id,
                version=version,
                relationship_id=relationship_id,
                sync_stamp=stamp,
                data=dict(data or {}),
            )
        )
    return append_events(events, actor=actor)


def cascade_events(
    *, instances: Iterable[SyncedModel], actor, relationship_id: int | None, sync_stamp: int
) -> int:
    """`.deleted` events for rows deleted with their parent (projects.records' cascade), built from
    the rows as they were read before the UPDATE (so one version below their tombstone's)."""
    instances = list(instances)
    if instances and getattr(type(instances[0]), "OUTBOX_CONDITION", None) is not None:
        model = type(instances[0])
        keep = set(
            _with_events(model, model._default_manager.filter(pk__in=[i.pk for i in instances])).values_list(
                "pk", flat=True
            )
        )
        instances = [instance for instance in instances if instance.pk in keep]
    events = [
        NewEvent(
            type=event_type(type(instance), AuditEntry.Action.DELETE),
            record_type=record_type(type(instance)),
            record_id=instance.pk,
            external_id=instance.external_id,
            version=instance.version + 1,
            relationship_id=relationship_id,
            sync_stamp=sync_stamp,
        )
        for instance in instances
    ]
    return append_events(events, actor=actor)


def scope_events(user, queryset):
    """The events `user` may read (projects.access decides): those of relationships they see,
    the shared KPI catalogue's, organisations they meet, and events without a record scope that
    they caused themselves (their imports). Admins and executives read every event."""
    from django.db.models import Q

    from projects import access
    from projects.models import Organization

    if access.sees_everything(user):
        return queryset
    if access.role_of(user) is None:
        return queryset.none()
    organizations = access.scope(user, Organization.objects.all()).values("pk")
    return queryset.filter(
        Q(relationship_id__in=access.visible_relationships(user).values("pk"))
        | Q(relationship_id__isnull=True, record_type="kpi")
        | Q(relationship_id__isnull=True, record_type="organization", record_id__in=organizations)
        | Q(relationship_id__isnull=True, actor_id=user.pk)
    )

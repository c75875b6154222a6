"""Set-based writers of the projects app's record types (projects.bulk): the rules of
projects.services, checked for a whole batch with a fixed number of queries.

Organisations (and the KPI catalogue, kpis.bulk) are `ManagedWriter`s: only a portfolio manager
writes them, one field is unique among live rows, and some fields are frozen while the record is
in use. Relationships add their parties' kinds, their contract dates, the fields only an admin may
change, and their many-to-many process areas and account managers (read and written through their
link tables, one statement per table).

Projects: the stage machine (`_check_transition`), the dates a stage implies (`_stage_dates`), a
delivered project's date, the client's sign-off of approvals and realised benefits, the model's
`clean()` and its date constraints — each with the services' own words (tests/api/test_bulk_parity.py
holds bulk to the single-record API). After the write, sign-off requests the change made moot are
withdrawn (as `_lapse_signoffs` does) and the affected months are marked stale once per batch
(`projects_written`, which the kpis app follows).
"""

import copy
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.utils import timezone

from outbox.rows import insert_values
from projects import access, bulk, services
from projects.models import AuditEntry, InnovationProject, Organization, Relationship, SignOff
from projects.records import diff, json_value, record_update, row_snapshot
from projects.signals import projects_written, relationship_changed

Stage = InnovationProject.Stage

# The constraints full_clean() checks that the field parsers cannot (they compare two fields), in
# declaration order, with the fields each one reads.
_DATE_CONSTRAINTS = {
    "project_started_after_proposed": ("started_on", "proposed_on"),
    "project_delivered_after_started": ("delivered_on", "started_on"),
    "project_delivered_has_date": ("stage", "delivered_on"),
}


def _violates(name: str, project: InnovationProject) -> bool:
    if name == "project_started_after_proposed":
        return bool(project.started_on and project.proposed_on and project.started_on < project.proposed_on)
    if name == "project_delivered_after_started":
        return bool(project.delivered_on and project.started_on and project.delivered_on < project.started_on)
    delivered = project.stage == Stage.DELIVERED
    return delivered != (project.delivered_on is not None)


def _constraint_messages(project: InnovationProject, exclude: set[str]) -> dict[str, str]:
    """The date constraints `project` breaks (name → message), leaving out, as full_clean() does,
    those reading a field that already has an error."""
    found = {}
    for constraint in InnovationProject._meta.constraints:
        fields = _DATE_CONSTRAINTS.get(constraint.name)
        if fields and not exclude & set(fields) and _violates(constraint.name, project):
            found[constraint.name] = str(constraint.get_violation_error_message())
    return found


class ProjectWriter(bulk.ModelSetWriter):
    immovable = {
        "relationship": "A project cannot move to another relationship; create it there and delete this one."
    }
    parent = "relationship"

    def parent_queryset(self):
        return Relationship.objects.select_related("client")

    @staticmethod
    def relationship(item: bulk.Item) -> Relationship:
        return item.instance.relationship if item.instance is not None else item.values["relationship"]

    def relationship_id(self, item):
        return self.relationship(item).pk

    def update_action(self, item):
        return AuditEntry.Action.TRANSITION if "stage" in item.changes else AuditEntry.Action.UPDATE

    def check(self, *, actor, spec, items):
        self._attach_parents(spec, items)
        self._signoff_active = self._relationships_with_signoff(actor, items)
        self._today = timezone.localdate()
        super().check(actor=actor, spec=spec, items=items)

    def _relationships_with_signoff(self, actor, items) -> set[int]:
        """The batch's relationships whose client signs off (`services.client_signoff_active`), in
        one query; the system (actor None) is never held to sign-off."""
        if actor is None:
            return set()
        wanted = {
            self.relationship_id(item) for item in items if self.relationship(item).client_signoff_required
        }
        if not wanted:
            return set()
        return set(
            Relationship.objects.filter(pk__in=wanted)
            .filter(access.client_side_has_person_expression())
            .values_list("pk", flat=True)
        )

    def check_record(self, *, actor, item):
        relationship = self.relationship(item)
        signoff = relationship.pk in self._signoff_active
        if item.instance is None:
            self._check_create(item, relationship, signoff)
        else:
            self._check_update(item, relationship, signoff)

    def _check_create(self, item, relationship, signoff) -> None:
        values = item.values
        stage = values.get("stage") or Stage.IDEA
        if stage == Stage.DELIVERED and not values.get("delivered_on"):
            raise ValidationError({"delivered_on": "A delivered project needs a delivered date."})
        if stage != Stage.CANCELLED:
            values.update(services._stage_dates(values, stage, self._today))
        if signoff:
            errors = {}
            if stage in services._SIGNED_OFF_STAGES:
                errors["stage"] = services._approval_needed_message(relationship)
            if values.get("realised_annual_benefit") is not None:
                errors["realised_annual_benefit"] = services._benefit_needed_message(relationship)
            if errors:
                raise ValidationError(errors)
        self._check_row(item, InnovationProject(**values))

    def _check_update(self, item, relationship, signoff) -> None:
        project, values = item.instance, item.values
        if signoff:
            moves_to_approved = values.get("stage") == Stage.APPROVED and project.stage != Stage.APPROVED
            changes_benefit = "realised_annual_benefit" in values and services._as_decimal(
                values["realised_annual_benefit"]
            ) != services._as_decimal(project.realised_annual_benefit)
            errors = {}
            if moves_to_approved:
                errors["stage"] = services._approval_needed_message(relationship)
            if changes_benefit:
                errors["realised_annual_benefit"] = services._benefit_needed_message(relationship)
            if errors:
                raise ValidationError(errors)
        if "stage" in values and values["stage"] != project.stage:
            services._check_transition(project.stage, values["stage"])
            if values["stage"] != Stage.CANCELLED:
                merged = {name: values.get(name, getattr(project, name)) for name in services._DATE_ORDER}
                values.update(services._stage_dates(merged, values["stage"], self._today))
        given = bulk.given_values(item)
        if not bulk.would_change(project, given):
            return  # an unchanged project is left alone, unvalidated, as record_update does
        probe = copy.copy(project)
        for name, value in given.items():
            setattr(probe, name, value)
        self._check_row(item, probe)

    def _check_row(self, item, probe: InnovationProject) -> None:
        """full_clean()'s part that the parsers leave: the model's clean() and its date constraints
        (as non-field errors; kept for check_constraints when the row is otherwise valid)."""
        try:
            probe.clean()
        except ValidationError as error:
            for field, messages in bulk.error_messages(error).items():
                item.fail(field, *messages)
        item.violations.update(_constraint_messages(probe, set(item.errors)))
        if item.errors and item.violations:
            # full_clean() reports both at once; check_constraints only sees rows without errors.
            item.fail(bulk.NON_FIELD, *item.violations.values())
            item.violations.clear()

    def new_row(self, item):
        return InnovationProject(**item.values)

    def after_write(self, *, actor, created, updated):
        self._lapse_signoffs(actor, updated)
        changes = [(item.obj.relationship_id, item.obj.delivered_on, None) for item in created] + [
            (
                item.obj.relationship_id,
                item.obj.delivered_on,
                _date_before(item, "delivered_on", item.obj.delivered_on),
            )
            for item in updated
        ]
        projects_written.send(sender=InnovationProject, changes=changes, reason=_reason(created, updated))

    @staticmethod
    def _lapse_signoffs(actor, updated) -> None:
        """services._lapse_signoffs for the batch: the pending requests of every project whose stage
        or realised benefit moved are read in one query; each one found is withdrawn as the single
        write withdraws it (rare: a request is open only while the client has not decided)."""
        reasons: dict[tuple[int, str], str] = {}
        for item in updated:
            project = item.obj
            if "stage" in item.changes and project.stage not in (Stage.IDEA, Stage.PROPOSED):
                reasons[(project.pk, SignOff.Kind.APPROVAL)] = (
                    f"The project moved to {Stage(project.stage).label} without it."
                )
            if project.stage == Stage.CANCELLED:
                reasons[(project.pk, SignOff.Kind.BENEFIT)] = "The project was cancelled."
            elif "realised_annual_benefit" in item.changes:
                reasons[(project.pk, SignOff.Kind.BENEFIT)] = "The realised benefit was recorded without it."
        if not reasons:
            return
        pending = SignOff.objects.filter(
            project_id__in={pk for pk, _ in reasons}, status=SignOff.Status.PENDING, deleted_at__isnull=True
        ).order_by("pk")
        for signoff in pending:
            reason = reasons.get((signoff.project_id, signoff.kind))
            if reason is None:
                continue
            record_update(
                actor=actor,
                instance=signoff,
                data={
                    "status": SignOff.Status.WITHDRAWN,
                    "decided_by": actor if actor is not None and actor.is_authenticated else None,
                    "decided_at": timezone.now(),
                    "decision_note": reason,
                },
            )


def _date_before(item: bulk.Item, name: str, current: dt.date | None) -> dt.date | None:
    change = item.changes.get(name)
    if change is None:
        return current
    before = change["before"]
    return dt.date.fromisoformat(before) if before else None


def _reason(created: list[bulk.Item], updated: list[bulk.Item]) -> str:
    """Why the scores are stale, as the single write says it when the batch is one project."""
    if len(created) + len(updated) != 1:
        return f"{len(created) + len(updated)} projects written in bulk"
    if created:
        return f"project {created[0].obj.pk} added"
    item = updated[0]
    if "stage" in item.changes:
        return f"project {item.obj.pk} moved to {item.obj.get_stage_display().lower()}"
    return f"project {item.obj.pk} changed"


# --- Records only portfolio managers write: organisations, the KPI catalogue -----------------------


class ManagedWriter(bulk.ModelSetWriter):
    """A record type outside relationships that only an admin changes (`access.ensure_can_manage`),
    with one field unique among live rows and fields frozen while the record is in use."""

    unique_field: str = ""
    unique_constraint: str = ""
    # Fields that cannot change while the record is in use: field → the services' message.
    frozen_in_use: Mapping[str, str] = {}

    def in_use(self, ids: set[int]) -> set[int]:
        """Which of these records are in use (one query)."""
        return set()

    def relationship_id(self, item):
        return None

    def _check_rights(self, actor, items):
        if items:
            access.ensure_can_manage(actor)

    def _moves_frozen(self, item) -> bool:
        return item.instance is not None and any(
            name in item.values and item.values[name] != getattr(item.instance, name)
            for name in self.frozen_in_use
        )

    def check(self, *, actor, spec, items):
        moving = {item.instance.pk for item in items if self._moves_frozen(item)}
        self._in_use = self.in_use(moving) if moving else set()
        super().check(actor=actor, spec=spec, items=items)

    def check_record(self, *, actor, item):
        if item.instance is None or item.instance.pk not in self._in_use:
            return
        for name, message in self.frozen_in_use.items():
            if name in item.values and item.values[name] != getattr(item.instance, name):
                raise ValidationError({name: message})

    def check_constraints(self, *, spec, items):
        field = self.unique_field

        def slot_of(item, before=False):
            if before:
                return getattr(item.instance, field)
            return item.values.get(field, getattr(item.instance, field, None))

        wanted = {slot_of(item) for item in items}
        taken = dict(
            spec.model._default_manager.filter(
                deleted_at__isnull=True, **{f"{field}__in": wanted}
            ).values_list(field, "pk")
        )
        bulk.claim_slots(items, slot_of, taken, bulk.constraint_named(spec.model, self.unique_constraint))

    def new_row(self, item):
        return self.model(**item.values)


class OrganizationWriter(ManagedWriter):
    model = Organization
    unique_field = "name"
    unique_constraint = "organization_name_unique"
    frozen_in_use = {"kind": "An organisation that is part of a relationship cannot change kind."}

    def in_use(self, ids):
        live = Relationship.objects.filter(deleted_at__isnull=True)
        clients = live.filter(client_id__in=ids).values_list("client_id", flat=True)
        providers = live.filter(provider_id__in=ids).values_list("provider_id", flat=True)
        return set(clients.union(providers))


# --- Relationships -----------------------------------------------------------------------------

MANY = ("process_areas", "account_managers")


class RelationshipWriter(bulk.ModelSetWriter):
    def relationship_id(self, item):
        # A relationship's events name itself (a new one once it has its id).
        row = item.obj if item.obj is not None else item.instance
        return row.pk if row is not None else None

    def _check_rights(self, actor, items):
        # A new relationship is an admin's to create; an existing one its account managers may
        # change (all but the fields only an admin may change, checked per record).
        if any(item.instance is None for item in items):
            access.ensure_can_manage(actor)
        super()._check_rights(actor, [item for item in items if item.instance is not None])

    def check(self, *, actor, spec, items):
        self._admin = actor is None or access.can_manage_portfolio(actor)
        existing = [item.instance for item in items if item.instance is not None]
        self._links = self._current_links([row.pk for row in existing])
        # The parties' kinds are checked on the row as it would be: load those not named in the batch.
        named = {
            party.pk: party
            for item in items
            for name in ("client", "provider")
            if (party := item.values.get(name))
        }
        missing = {getattr(row, f"{name}_id") for row in existing for name in ("client", "provider")} - set(
            named
        )
        if missing:
            named.update(Organization.objects.in_bulk(missing))
        for row in existing:
            row.client, row.provider = named[row.client_id], named[row.provider_id]
        super().check(actor=actor, spec=spec, items=items)

    @staticmethod
    def _current_links(ids: list[int]) -> dict[str, dict[int, list[int]]]:
        """Each relationship's process areas and account managers (ids), one query per table."""
        links: dict[str, dict[int, list[int]]] = {name: defaultdict(list) for name in MANY}
        if not ids:
            return links
        for name in MANY:
            field = Relationship._meta.get_field(name)
            through, target = field.remote_field.through, field.m2m_reverse_field_name()
            for owner, other in through.objects.filter(relationship_id__in=ids).values_list(
                "relationship_id", target
            ):
                links[name][owner].append(other)
        return links

    def changes_of(self, item):
        given = bulk.given_values(item)
        changes = bulk.would_change(item.instance, {n: v for n, v in given.items() if n not in MANY})
        for name in MANY:
            if name in given:
                before = sorted(self._links[name].get(item.instance.pk, []))
                after = sorted(json_value(value) for value in given[name])
                if before != after:
                    changes[name] = {"before": before, "after": after}
        return changes

    def created_changes(self, item):
        after = row_snapshot(item.obj)  # its links are the record's, not read back
        for name in MANY:
            after[name] = sorted(json_value(value) for value in item.values.get(name, []))
        return diff({}, after)

    def check_record(self, *, actor, item):
        if item.instance is None:
            probe = Relationship(**{n: v for n, v in item.values.items() if n not in MANY})
        else:
            changes = self.changes_of(item)
            if not self._admin:
                restricted = sorted(services._RELATIONSHIP_ADMIN_FIELDS & set(changes))
                if restricted:
                    raise ValidationError(dict.fromkeys(restricted, "Only an admin may change this."))
            if not changes:
                return  # unchanged: left alone, unvalidated, as record_update does
            probe = copy.copy(item.instance)
            for name, value in item.values.items():
                if name not in MANY:
                    setattr(probe, name, value)
        try:
            probe.clean()
        except ValidationError as error:
            for field, messages in bulk.error_messages(error).items():
                item.fail(field, *messages)
        if probe.client_id == probe.provider_id and not {"client", "provider"} & set(item.errors):
            item.violations["relationship_client_not_provider"] = str(
                bulk.constraint_named(
                    Relationship, "relationship_client_not_provider"
                ).get_violation_error_message()
            )
        if probe.contract_end is not None and probe.contract_end < probe.contract_start:
            item.violations["relationship_contract_end_after_start"] = str(
                bulk.constraint_named(
                    Relationship, "relationship_contract_end_after_start"
                ).get_violation_error_message()
            )
        if item.errors and item.violations:
            item.fail(bulk.NON_FIELD, *item.violations.values())
            item.violations.clear()

    def check_constraints(self, *, spec, items):
        def slot_of(item, before=False):
            if before:
                row = item.instance
                return (row.client_id, row.provider_id, row.name)
            values, row = item.values, item.instance
            client, provider = (
                values[name].pk if name in values else getattr(row, f"{name}_id", None)
                for name in ("client", "provider")
            )
            return (client, provider, values.get("name", getattr(row, "name", None)))

        slots = {slot_of(item) for item in items}
        taken = {
            (row[0], row[1], row[2]): row[3]
            for row in Relationship.objects.filter(
                deleted_at__isnull=True,
                client_id__in={slot[0] for slot in slots},
                provider_id__in={slot[1] for slot in slots},
                name__in={slot[2] for slot in slots},
            ).values_list("client_id", "provider_id", "name", "pk")
        }
        bulk.claim_slots(
            items, slot_of, taken, bulk.constraint_named(Relationship, "relationship_name_unique_per_pair")
        )

    def new_row(self, item):
        return Relationship(**{name: value for name, value in item.values.items() if name not in MANY})

    def after_write(self, *, actor, created, updated):
        self._write_links(created, updated)
        for item in updated:
            change = item.changes.get("contract_start")
            if change is not None:  # rare: a contract start corrected (as relationship_update says it)
                relationship_changed.send(
                    sender=Relationship,
                    relationship=item.obj,
                    actor=actor,
                    contract_start_before=dt.date.fromisoformat(change["before"]),
                )

    @staticmethod
    def _write_links(created, updated) -> None:
        """The link tables: one DELETE and one INSERT per table for the rows whose links changed."""
        for name in MANY:
            field = Relationship._meta.get_field(name)
            through, target = field.remote_field.through, field.m2m_reverse_field_name()
            rewritten = [item for item in updated if name in item.changes]
            if rewritten:
                through.objects.filter(relationship_id__in=[item.obj.pk for item in rewritten]).delete()
            rows = [
                (item.obj.pk, other.pk)
                for item in created + rewritten
                for other in {value.pk: value for value in item.values.get(name, [])}.values()
            ]
            insert_values(through, ["relationship", target], rows)

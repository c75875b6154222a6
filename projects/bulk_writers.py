"""Set-based writers of the projects app's record types (projects.bulk): the rules of
projects.services, checked for a whole batch with a fixed number of queries.

Projects: the stage machine (`_check_transition`), the dates a stage implies (`_stage_dates`), a
delivered project's date, the client's sign-off of approvals and realised benefits, the model's
`clean()` and its date constraints — each with the services' own words (tests/api/test_bulk_parity.py
holds bulk to the single-record API). After the write, sign-off requests the change made moot are
withdrawn (as `_lapse_signoffs` does) and the affected months are marked stale once per batch
(`projects_written`, which the kpis app follows).
"""

import copy
import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone

from projects import access, bulk, services
from projects.models import AuditEntry, InnovationProject, Relationship, SignOff
from projects.records import record_update
from projects.signals import projects_written

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

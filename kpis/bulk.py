"""The KPI record types of bulk upserts and imports (projects.bulk): project KPIs and measurements,
both written set-based. Registered from KpisConfig.ready(), so that projects.bulk writes them
without importing kpis.

Each rule is the services' own: `check_measured_on`, the models' `clean()`, and the models'
constraints, checked for the whole batch with one query each (tests/kpis/test_bulk.py holds them
to the single writes' messages).
"""

import copy
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from kpis import selectors, services
from kpis.models import KPI, Measurement, ProjectKPI, Unit
from kpis.scoring import periods_counting
from kpis.tasks import request_score_recomputes
from projects import bulk
from projects.access import scope
from projects.bulk_writers import ManagedWriter

PERCENT_MESSAGE = "Percent values must be between 0 and 100."


def _outside_percent(unit: str, *values) -> bool:
    return unit == Unit.PERCENT and any(
        value is not None and not Decimal(0) <= value <= Decimal(100) for value in values
    )


def _reason(noun: str, verb: str, items: list[bulk.Item]) -> str:
    if len(items) == 1:
        return f"{noun} {items[0].obj.pk} {verb}"
    return f"{len(items)} {noun}s written in bulk"


def _request_recomputes(items: list[bulk.Item], *, since_of, relationship_of, noun: str) -> None:
    """Stale marks for the months each written row counts in, once per relationship."""
    today = timezone.localdate()
    periods: dict[int, set[dt.date]] = defaultdict(set)
    for item in items:
        project = relationship_of(item)
        periods[project.relationship_id].update(
            periods_counting(project.delivered_on, since=since_of(item), through=today)
        )
    verb = "recorded" if noun == "measurement" else "added"
    if items and all(item.status == "updated" for item in items):
        verb = "changed"
    request_score_recomputes(periods, reason=_reason(noun, verb, items))


class MeasurementWriter(bulk.ModelSetWriter):
    immovable = {"project_kpi": "A measurement cannot move to another KPI."}
    parent = "project_kpi"

    def parent_queryset(self):
        return ProjectKPI.objects.select_related("kpi", "project")

    @staticmethod
    def project_kpi(item: bulk.Item) -> ProjectKPI:
        return item.instance.project_kpi if item.instance is not None else item.values["project_kpi"]

    def relationship_id(self, item):
        return self.project_kpi(item).project.relationship_id

    def check(self, *, actor, spec, items):
        self.today = timezone.localdate()  # one "today" for the whole batch (each writer is a copy)
        super().check(actor=actor, spec=spec, items=items)

    def check_record(self, *, actor, item):
        services.check_measured_on(self.project_kpi(item), item.values.get("measured_on"), today=self.today)

    def check_constraints(self, *, spec, items):
        for item in items:
            value = item.values.get("value", getattr(item.instance, "value", None))
            if _outside_percent(self.project_kpi(item).unit, value):
                item.violations["measurement_percent_range"] = PERCENT_MESSAGE

        def slot_of(item, before=False):
            if before:
                return (item.instance.project_kpi_id, item.instance.measured_on)
            measured_on = item.values.get("measured_on", getattr(item.instance, "measured_on", None))
            return (self.project_kpi(item).pk, measured_on)

        slots = {slot_of(item) for item in items}
        taken = {
            (row[0], row[1]): row[2]
            for row in Measurement.objects.filter(
                deleted_at__isnull=True,
                project_kpi_id__any={slot[0] for slot in slots},
                measured_on__any={slot[1] for slot in slots},
            ).values_list("project_kpi_id", "measured_on", "pk")
        }
        bulk.claim_slots(
            items, slot_of, taken, bulk.constraint_named(Measurement, "measurement_one_per_date")
        )

    def new_row(self, item):
        return bulk.new_instance(Measurement, {**item.values, "unit": item.values["project_kpi"].unit})

    def after_write(self, *, actor, created, updated):
        def since(item):
            before = item.changes.get("measured_on", {}).get("before")
            dates = [item.obj.measured_on] + ([dt.date.fromisoformat(before)] if before else [])
            return min(dates)

        _request_recomputes(
            created + updated,
            since_of=since,
            relationship_of=lambda item: self.project_kpi(item).project,
            noun="measurement",
        )


class KPIWriter(ManagedWriter):
    # A KPI's scores move only with its unit or direction, which cannot change while it is tracked:
    # a write of the catalogue leaves every score as it was (nothing to mark stale).
    model = KPI
    unique_field = "code"
    unique_constraint = "kpi_code_unique"
    frozen_in_use = {
        field: f"This KPI is tracked on projects; its {field} cannot change."
        for field in ("unit", "direction")
    }

    def in_use(self, ids):
        tracked = ProjectKPI.objects.filter(deleted_at__isnull=True, kpi_id__in=ids)
        return set(tracked.values_list("kpi_id", flat=True))


class ProjectKPIWriter(bulk.ModelSetWriter):
    immovable = {
        "project": "A tracked KPI cannot move; remove it and add a new one.",
        "kpi": "A tracked KPI cannot move; remove it and add a new one.",
    }

    @staticmethod
    def project(item: bulk.Item):
        return item.instance.project if item.instance is not None else item.values["project"]

    def relationship_id(self, item):
        return self.project(item).relationship_id

    def check_constraints(self, *, spec, items):
        for item in items:
            probe = copy.copy(item.instance) if item.instance is not None else ProjectKPI()
            for name, value in item.values.items():
                setattr(probe, name, value)
            try:
                probe.clean()  # the model's own rules, as full_clean() runs them
            except ValidationError as error:
                for field, messages in bulk.error_messages(error).items():
                    item.fail(field, *messages)
            unit = item.instance.unit if item.instance is not None else item.values["kpi"].unit
            if not {"baseline_value", "target_value"} & set(item.errors) and _outside_percent(
                unit, probe.baseline_value, probe.target_value
            ):
                item.violations["project_kpi_percent_range"] = PERCENT_MESSAGE
        created = [item for item in items if item.instance is None]
        if not created:
            return
        taken = {
            (row[0], row[1]): row[2]
            for row in ProjectKPI.objects.filter(
                deleted_at__isnull=True,
                project_id__in={item.values["project"].pk for item in created},
                kpi_id__in={item.values["kpi"].pk for item in created},
            ).values_list("project_id", "kpi_id", "pk")
        }
        bulk.claim_slots(
            created,
            lambda item, before=False: (item.values["project"].pk, item.values["kpi"].pk),
            taken,
            bulk.constraint_named(ProjectKPI, "project_kpi_unique"),
        )

    def new_row(self, item):
        return bulk.new_instance(ProjectKPI, {**item.values, "unit": item.values["kpi"].unit})

    def after_write(self, *, actor, created, updated):
        _request_recomputes(
            created + updated, since_of=lambda item: None, relationship_of=self.project, noun="project KPI"
        )


def _live_projects(actor):
    from projects import selectors as project_selectors

    return project_selectors.project_list(user=actor)


def _live_kpis(actor):
    return selectors.kpi_catalogue()


def _live_project_kpis(actor):
    return scope(
        actor,
        ProjectKPI.objects.filter(deleted_at__isnull=True, project__deleted_at__isnull=True).select_related(
            "kpi", "project"
        ),
    )


def _existing_project_kpis(actor):
    return scope(
        actor, ProjectKPI.objects.filter(deleted_at__isnull=True, project__deleted_at__isnull=True)
    ).select_related("project", "kpi")


def _existing_measurements(actor):
    # Their project KPIs are attached from the batch's parents (MeasurementWriter.parent), not joined.
    return selectors.measurement_list(user=actor).select_related(None)


def _catalogue(actor):
    return selectors.kpi_catalogue()


def register() -> None:
    bulk.register(
        bulk.RecordSpec(
            record_type="kpi",
            model=KPI,
            services=services.KPI_CATALOGUE,
            existing=_catalogue,
            fields={
                name: bulk.field_parser(KPI, name)
                for name in ("code", "name", "unit", "direction", "description")
            },
            required=frozenset({"code", "name", "unit", "direction"}),
            writer=KPIWriter(),
        )
    )
    bulk.register(
        bulk.RecordSpec(
            record_type="project_kpi",
            model=ProjectKPI,
            services=services.PROJECT_KPI,
            existing=_existing_project_kpis,
            fields={
                "project": bulk.Parent(_live_projects),
                "kpi": bulk.Parent(_live_kpis),
                **{
                    name: bulk.field_parser(ProjectKPI, name)
                    for name in ("baseline_value", "baseline_date", "target_value")
                },
            },
            required=frozenset({"project", "kpi", "baseline_value", "baseline_date"}),
            writer=ProjectKPIWriter(),
            ignored=frozenset(
                {
                    "unit",
                    "latest_value",
                    "latest_measured_on",
                    "improvement_pct",
                    "target_achievement_pct",
                    "baseline_contested",
                }
            ),
        )
    )
    bulk.register(
        bulk.RecordSpec(
            record_type="measurement",
            model=Measurement,
            services=services.MEASUREMENT,
            existing=_existing_measurements,
            fields={
                "project_kpi": bulk.Parent(_live_project_kpis),
                **{name: bulk.field_parser(Measurement, name) for name in ("measured_on", "value")},
            },
            required=frozenset({"project_kpi", "measured_on", "value"}),
            writer=MeasurementWriter(),
            ignored=frozenset({"unit", "contested"}),
        )
    )

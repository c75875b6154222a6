"""The KPI record types of bulk upserts and imports (projects.bulk): project KPIs and measurements.

Registered from KpisConfig.ready(), so that projects.bulk writes them without importing kpis.
"""

from kpis import selectors, services
from kpis.models import Measurement, ProjectKPI
from projects import bulk
from projects.access import scope


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
    return scope(actor, ProjectKPI.objects.filter(deleted_at__isnull=True, project__deleted_at__isnull=True))


def _existing_measurements(actor):
    return selectors.measurement_list(user=actor)


def register() -> None:
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
            ignored=frozenset({"unit", "contested"}),
        )
    )

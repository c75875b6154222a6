from django.contrib import admin

from kpis import services as kpi_services
from kpis.models import KPI, Measurement, PendingScoreRecompute, ProjectKPI, RelationshipScore
from projects.admin import SYNC_FIELDS, DeletedFilter
from projects.admin_tools import ReadOnlyAdmin, ServiceModelAdmin


@admin.register(KPI)
class KPIAdmin(ServiceModelAdmin):
    list_display = ("name", "code", "unit", "direction", "version", "deleted_at")
    list_filter = ("unit", "direction", DeletedFilter)
    search_fields = ("name", "code", "description", "external_id")
    readonly_fields = SYNC_FIELDS
    services = kpi_services.KPI_CATALOGUE


@admin.register(ProjectKPI)
class ProjectKPIAdmin(ServiceModelAdmin):
    list_display = ("kpi", "project", "unit", "baseline_value", "baseline_date", "target_value", "deleted_at")
    list_filter = ("kpi", "unit", DeletedFilter)
    search_fields = ("project__title", "kpi__name", "external_id")
    list_select_related = ("kpi", "project")
    autocomplete_fields = ("project", "kpi")
    readonly_fields = ("unit", *SYNC_FIELDS)
    services = kpi_services.PROJECT_KPI


@admin.register(Measurement)
class MeasurementAdmin(ServiceModelAdmin):
    list_display = ("project_kpi", "measured_on", "value", "unit", "deleted_at")
    list_filter = ("unit", DeletedFilter)
    search_fields = ("project_kpi__project__title", "project_kpi__kpi__name", "external_id")
    list_select_related = ("project_kpi__kpi", "project_kpi__project")
    autocomplete_fields = ("project_kpi",)
    date_hierarchy = "measured_on"
    readonly_fields = ("unit", *SYNC_FIELDS)
    services = kpi_services.MEASUREMENT


@admin.register(RelationshipScore)
class RelationshipScoreAdmin(ReadOnlyAdmin):
    list_display = (
        "relationship",
        "period",
        "score",
        "tier",
        "is_new",
        "projects_delivered",
        "kpis_measured",
        "computed_at",
    )
    list_filter = ("tier", "is_new", "period")
    search_fields = ("relationship__name",)
    list_select_related = ("relationship",)
    date_hierarchy = "period"


@admin.register(PendingScoreRecompute)
class PendingScoreRecomputeAdmin(ReadOnlyAdmin):
    list_display = ("relationship", "requested_at")

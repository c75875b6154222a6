from django.contrib import admin

from kpis import services
from kpis.models import KPI, Measurement, PendingScoreRecompute, ProjectKPI, RelationshipScore
from projects.admin import SYNC_FIELDS, DeletedFilter
from projects.admin_tools import ReadOnlyAdmin, ServiceModelAdmin


@admin.register(KPI)
class KPIAdmin(ServiceModelAdmin):
    list_display = ("name", "code", "unit", "direction", "version", "deleted_at")
    list_filter = ("unit", "direction", DeletedFilter)
    search_fields = ("name", "code", "description", "external_id")
    readonly_fields = SYNC_FIELDS
    create_service = staticmethod(lambda actor, data: services.kpi_create(actor=actor, data=data))
    update_service = staticmethod(
        lambda actor, obj, data: services.kpi_update(actor=actor, kpi=obj, data=data)
    )
    delete_service = staticmethod(lambda actor, obj: services.kpi_delete(actor=actor, kpi=obj))


@admin.register(ProjectKPI)
class ProjectKPIAdmin(ServiceModelAdmin):
    list_display = ("kpi", "project", "unit", "baseline_value", "baseline_date", "target_value", "deleted_at")
    list_filter = ("kpi", "unit", DeletedFilter)
    search_fields = ("project__title", "kpi__name", "external_id")
    list_select_related = ("kpi", "project")
    autocomplete_fields = ("project", "kpi")
    readonly_fields = ("unit", *SYNC_FIELDS)
    create_service = staticmethod(lambda actor, data: services.project_kpi_add(actor=actor, data=data))
    update_service = staticmethod(
        lambda actor, obj, data: services.project_kpi_update(actor=actor, project_kpi=obj, data=data)
    )
    delete_service = staticmethod(
        lambda actor, obj: services.project_kpi_delete(actor=actor, project_kpi=obj)
    )


@admin.register(Measurement)
class MeasurementAdmin(ServiceModelAdmin):
    list_display = ("project_kpi", "measured_on", "value", "unit", "deleted_at")
    list_filter = ("unit", DeletedFilter)
    search_fields = ("project_kpi__project__title", "project_kpi__kpi__name", "external_id")
    list_select_related = ("project_kpi__kpi", "project_kpi__project")
    autocomplete_fields = ("project_kpi",)
    date_hierarchy = "measured_on"
    readonly_fields = ("unit", *SYNC_FIELDS)
    create_service = staticmethod(lambda actor, data: services.measurement_record(actor=actor, data=data))
    update_service = staticmethod(
        lambda actor, obj, data: services.measurement_update(actor=actor, measurement=obj, data=data)
    )
    delete_service = staticmethod(
        lambda actor, obj: services.measurement_delete(actor=actor, measurement=obj)
    )


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

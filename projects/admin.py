from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from projects import services as project_services
from projects.admin_tools import ReadOnlyAdmin, ServiceModelAdmin
from projects.models import (
    AuditEntry,
    InnovationProject,
    LeadershipPair,
    Organization,
    ProcessArea,
    Relationship,
    SignOff,
    UserProfile,
)

SYNC_FIELDS = ("version", "created_at", "updated_at", "deleted_at")


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Live"), ("yes", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Organization)
class OrganizationAdmin(ServiceModelAdmin):
    list_display = ("name", "kind", "industry", "country", "version", "deleted_at")
    list_filter = ("kind", "industry", DeletedFilter)
    search_fields = ("name", "industry", "country", "external_id")
    readonly_fields = SYNC_FIELDS
    services = project_services.ORGANIZATION


class LeadershipPairInline(admin.TabularInline):
    """Shown for the record; a new pair is set through the relationship page or the API."""

    model = LeadershipPair
    extra = 0
    can_delete = False
    fields = ("client_leader", "provider_leader", "started_on", "ended_on")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Relationship)
class RelationshipAdmin(ServiceModelAdmin):
    list_display = (
        "name",
        "client",
        "provider",
        "status",
        "contract_start",
        "contract_end",
        "version",
        "deleted_at",
    )
    list_filter = ("status", "process_areas", "client__industry", DeletedFilter)
    search_fields = ("name", "client__name", "provider__name", "external_id")
    list_select_related = ("client", "provider")
    autocomplete_fields = ("client", "provider")
    filter_horizontal = ("process_areas", "account_managers")
    readonly_fields = SYNC_FIELDS
    inlines = [LeadershipPairInline]
    services = project_services.RELATIONSHIP


@admin.register(InnovationProject)
class InnovationProjectAdmin(ServiceModelAdmin):
    list_display = (
        "title",
        "relationship",
        "level",
        "stage",
        "owner",
        "delivered_on",
        "version",
        "deleted_at",
    )
    list_filter = ("stage", "level", "originator", "funding", DeletedFilter)
    search_fields = ("title", "description", "relationship__name", "external_id")
    list_select_related = ("relationship", "owner")
    autocomplete_fields = ("relationship", "owner")
    date_hierarchy = "delivered_on"
    readonly_fields = SYNC_FIELDS
    services = project_services.PROJECT


@admin.register(ProcessArea)
class ProcessAreaAdmin(admin.ModelAdmin):
    list_display = ("name", "code")
    search_fields = ("name", "code")


@admin.register(SignOff)
class SignOffAdmin(ReadOnlyAdmin):
    """Client sign-offs are asked and decided on the project page or through the API (so that the
    change they apply is made in the decider's name); the admin only shows them."""

    list_display = ("project", "kind", "status", "requested_by", "requested_at", "decided_by", "decided_at")
    list_filter = ("kind", "status", DeletedFilter)
    search_fields = ("project__title", "project__relationship__name", "decision_note", "request_note")
    list_select_related = ("project", "requested_by", "decided_by")
    date_hierarchy = "requested_at"


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "content_type", "object_repr", "action", "version")
    list_filter = ("action", "content_type")
    search_fields = ("object_repr", "actor__username")
    list_select_related = ("actor", "content_type")
    date_hierarchy = "at"


class UserProfileInline(admin.StackedInline):
    model = UserProfile
    can_delete = False
    autocomplete_fields = ("organization",)
    verbose_name_plural = (
        "organisation (everyone but an admin belongs to one: it decides the relationships they see "
        "and their side of each)"
    )


admin.site.unregister(User)


@admin.register(User)
class PortfolioUserAdmin(UserAdmin):
    inlines = [UserProfileInline]
    list_display = ("username", "get_full_name", "email", "is_active", "is_staff")
    list_filter = ("groups", "is_active", "is_staff")

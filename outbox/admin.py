from django.contrib import admin

from outbox.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The outbox, to look into: events are written by the changes themselves, never by hand."""

    list_display = (
        "sequence",
        "type",
        "record_type",
        "record_id",
        "version",
        "relationship_id",
        "actor",
        "occurred_at",
    )
    list_filter = ("type", "record_type")
    search_fields = ("external_id", "type")
    ordering = ("-id",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

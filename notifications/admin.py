from django.contrib import admin

from notifications.models import Notification
from projects.admin_tools import ReadOnlyAdmin


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("recipient", "kind", "title", "created_at", "read_at", "resolved_at")
    list_filter = ("kind",)
    search_fields = ("recipient__username", "title")
    list_select_related = ("recipient",)

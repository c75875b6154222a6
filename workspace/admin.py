from django.contrib import admin

from workspace.models import SavedFilter


@admin.register(SavedFilter)
class SavedFilterAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "query", "updated_at")
    search_fields = ("name", "user__username")
    list_select_related = ("user",)

"""The collaboration records in the admin, for the record: read-only, and never what one side keeps
from the other — shared comments only, no pulse answer at all (nobody but its author reads one)."""

from django.contrib import admin

from collab.models import Comment, Contest, ProjectContributor, Visibility
from projects.admin_tools import ReadOnlyAdmin


@admin.register(Contest)
class ContestAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "relationship", "project", "status", "outcome", "raised_side", "created_at")
    list_filter = ("kind", "status", "outcome", "raised_side")
    search_fields = ("relationship__name", "project__title", "external_id")
    list_select_related = ("relationship", "project")
    exclude = ("change_stamp",)


@admin.register(Comment)
class SharedCommentAdmin(ReadOnlyAdmin):
    """Shared comments (both sides read them); internal ones stay with their side."""

    list_display = (
        "id",
        "relationship",
        "project",
        "period",
        "author",
        "author_side",
        "created_at",
        "deleted_at",
    )
    list_filter = ("author_side",)
    search_fields = ("body", "relationship__name", "project__title")
    list_select_related = ("relationship", "project", "author")
    exclude = ("change_stamp",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(visibility=Visibility.SHARED)


@admin.register(ProjectContributor)
class ProjectContributorAdmin(ReadOnlyAdmin):
    list_display = ("person", "project", "organization", "side", "contribution", "deleted_at")
    list_filter = ("side",)
    search_fields = ("person__username", "project__title", "organization__name")
    list_select_related = ("person", "project", "organization")
    exclude = ("change_stamp",)

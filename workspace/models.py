"""What a person keeps for their own work: named filters of the project list."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class SavedFilter(models.Model):
    """A named project-list filter of one person (the list's query string), reopened as the list
    or the board."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters")
    name = models.CharField(max_length=80)
    query = models.CharField(
        max_length=2000, help_text="The list's query string, e.g. stage=approved&level=process."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [Lower("name"), "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                "user",
                name="saved_filter_name_unique_per_user",
                violation_error_message="You already have a saved filter of this name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

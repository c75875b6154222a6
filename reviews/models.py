"""Stored quarterly business review packs."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from projects.models import Relationship


class ReviewPack(models.Model):
    """A generated QBR pack, kept byte for byte with its SHA-256 so the pack an executive saw can be
    fetched again unchanged."""

    relationship = models.ForeignKey(Relationship, on_delete=models.CASCADE, related_name="review_packs")
    quarter = models.CharField(max_length=6, help_text="The quarter reviewed, e.g. 2026Q3.")
    pdf = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    pages = models.PositiveSmallIntegerField()
    generated_at = models.DateTimeField(default=timezone.now)

    SCOPE_PATH = "relationship"

    class Meta:
        ordering = ["relationship_id", "-quarter"]
        constraints = [
            models.UniqueConstraint(fields=["relationship", "quarter"], name="review_pack_one_per_quarter"),
            models.CheckConstraint(
                condition=Q(quarter__regex=r"^\d{4}Q[1-4]$"), name="review_pack_quarter_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.relationship} {self.quarter} ({self.sha256[:12]})"

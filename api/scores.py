"""Scores in sync. A score has no `deleted_at` of its own: it is deleted with its relationship.
Each score row is read with the relationship's `deleted_at`, and synced by the later of its
computation and that deletion, so a sync pass after a relationship is deleted re-sends its scores
as tombstones (`deleted_at` set)."""

from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce, Greatest

SCORE_SYNCED_AT = "synced_at"


def score_sync_fields(scores: QuerySet) -> QuerySet:
    return scores.annotate(
        deleted_at=F("relationship__deleted_at"),
        **{SCORE_SYNCED_AT: Greatest("computed_at", Coalesce("relationship__deleted_at", "computed_at"))},
    )

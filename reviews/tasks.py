"""The quarterly job: every active relationship's pack of the quarter that just ended, stored."""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from reviews.quarters import Quarter
from reviews.services import pack_store, relationships_for_packs

logger = logging.getLogger(__name__)


@shared_task(
    name="reviews.tasks.generate_quarter_packs",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=60,
    max_retries=5,
)
def generate_quarter_packs(quarter: str | None = None, relationship_ids: list[int] | None = None) -> int:
    """Store the pack of `quarter` (default: the last complete one) for every active relationship
    (or those of `relationship_ids`) that has none yet; return how many were stored. Each pack is
    stored in its own transaction, so a run killed half-way is finished by the next one."""
    reviewed = Quarter.parse(quarter) if quarter else Quarter.last_complete(timezone.localdate())
    relationships = relationships_for_packs()
    if relationship_ids is not None:
        relationships = relationships.filter(pk__in=relationship_ids)
    stored = 0
    for relationship in relationships.iterator(chunk_size=100):
        if pack_store(relationship=relationship, quarter=reviewed) is not None:
            stored += 1
    logger.info("Stored %d QBR packs of %s", stored, reviewed.code)
    return stored

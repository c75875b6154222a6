"""`score.changed` events for the monthly scores a roll-up has just written.

A roll-up leaves a row whose figures did not move alone (its `computed_at` stays), so the rows
stamped with this roll-up's `computed_at` are exactly the changed ones: one SELECT and one INSERT
per batch, whatever its size.
"""

import datetime as dt

from kpis.models import RelationshipScore
from outbox.services import NewEvent, append_events


def append_score_events(*, relationship_ids: list[int], period: dt.date, computed_at: dt.datetime) -> int:
    """Append one `score.changed` event per score row this roll-up wrote (inside its transaction)."""
    rows = (
        RelationshipScore.objects.filter(
            relationship_id__in=relationship_ids, period=period, computed_at=computed_at
        )
        .order_by("relationship_id")
        .values_list("pk", "relationship_id", "score", "tier", "is_new")
    )
    return append_events(
        NewEvent(
            type="score.changed",
            record_type="score",
            record_id=pk,
            relationship_id=relationship_id,
            data={"period": period.isoformat(), "score": str(score), "tier": tier, "is_new": is_new},
        )
        for pk, relationship_id, score, tier, is_new in rows
    )

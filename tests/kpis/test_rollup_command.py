"""`rollup_scores` (the nightly roll-up by hand, with backfill) and the demo's score history."""

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from kpis import scoring
from kpis.models import RelationshipScore
from projects.models import Relationship
from tests.factories import RelationshipFactory

pytestmark = pytest.mark.django_db


def test_backfill_writes_each_month_once_with_progress():
    relationships = [RelationshipFactory() for _ in range(3)]
    out = io.StringIO()
    call_command("rollup_scores", "--months", "4", stdout=out)
    this_month = scoring.month_start(timezone.localdate())
    expected = {scoring.add_months(this_month, -offset) for offset in range(4)}
    assert set(RelationshipScore.objects.values_list("period", flat=True)) == expected
    assert RelationshipScore.objects.count() == 12
    text = out.getvalue()
    assert "[" + "#" * 30 + "] 4/4" in text and "12 score rows written" in text
    call_command("rollup_scores", "--months", "4", "--relationship", str(relationships[0].pk), stdout=out)
    assert "0 score rows written" in out.getvalue()


def test_month_option_and_bad_input():
    RelationshipFactory()
    call_command("rollup_scores", "--month", "2025-03", stdout=io.StringIO())
    assert list(RelationshipScore.objects.values_list("period", flat=True)) == [
        timezone.datetime(2025, 3, 1).date()
    ]
    with pytest.raises(CommandError, match="--month must look like"):
        call_command("rollup_scores", "--month", "March")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("rollup_scores", "--months", "0")


def test_seed_demo_leaves_twelve_months_of_scores_and_the_published_cases_score_as_designed():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    relationships = Relationship.objects.filter(deleted_at__isnull=True).count()
    assert RelationshipScore.objects.count() == 12 * relationships
    assert "12 months ready" in out.getvalue()
    this_month = scoring.month_start(timezone.localdate())
    aerospace = RelationshipScore.objects.get(
        relationship__external_id="demo-rel-aerospace", period=this_month
    )
    # Fill rate 60 → 85 and turnaround 21 → 17 on one process project: impact 30.36 %.
    assert aerospace.components["impact"]["mean_impact_pct"] == "30.36"
    # Benefits 1,050,000 of 1,200,000 realised; one quarter of four with a delivery.
    assert (aerospace.impact, aerospace.realisation, aerospace.continuity) == (
        Decimal("0.607143"),
        Decimal("0.875"),
        Decimal("0.25"),
    )
    # 100 × (0.4 × 0.607143 + 0.2 × 0.875 + 0.2 × 0.25) / 0.8
    assert (aerospace.score, aerospace.tier) == (Decimal("58.5"), "steady")
    tiers = set(RelationshipScore.objects.filter(period=this_month).values_list("tier", flat=True))
    assert len(tiers) >= 2
    call_command("seed_demo", stdout=out)
    assert "(0 rows written)" in out.getvalue()

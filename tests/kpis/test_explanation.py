"""The typed score explanation: its stored document round-trips, and one rounding for a component."""

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal

import pytest

from kpis.explanation import ScoreExplanation, component_pct
from kpis.models import RelationshipScore

DOCUMENT = {
    "weights": {"impact": "0.4", "attainment": "0.2", "realisation": "0.2", "continuity": "0.2"},
    "weights_used": {"impact": "0.666667", "continuity": "0.333333"},
    "window": {"start": "2024-12-01", "end": "2025-11-30"},
    "impact": {
        "value": "0.607143",
        "mean_impact_pct": "30.36",
        "projects": [
            {
                "id": 7,
                "title": 'Vendor "management" — café',
                "level": "process",
                "level_weight": 2,
                "delivered_on": "2025-10-01",
                "impact_pct": "30.36",
                "kpis": [
                    {
                        "project_kpi_id": 3,
                        "kpi": "Turnaround time",
                        "unit": "hours",
                        "direction": "lower_is_better",
                        "baseline": "21.0000",
                        "latest": "17.0000",
                        "latest_measured_on": "2025-10-01",
                        "improvement_pct": "19.05",
                        "target": None,
                        "target_achievement_pct": None,
                    }
                ],
            }
        ],
    },
    "attainment": {"value": None, "kpis_with_target": 0},
    "realisation": {
        "value": None,
        "realised_sum": "0.00",
        "expected_sum": "0.00",
        "projects_counted": 0,
        "projects_in_grace": 0,
    },
    "continuity": {
        "value": "0.250000",
        "quarters": [
            {"start": "2024-12-01", "end": "2025-02-28", "delivered": 0},
            {"start": "2025-09-01", "end": "2025-11-30", "delivered": 1},
        ],
    },
}


def test_stored_document_round_trips_through_the_typed_structure():
    explanation = ScoreExplanation.from_json(DOCUMENT)
    assert explanation.to_json() == json.dumps(DOCUMENT, separators=(",", ":"))
    assert ScoreExplanation.from_json(explanation.to_json()) == explanation
    [project] = explanation.projects
    assert project.delivered_on == dt.date(2025, 10, 1) and project.kpis[0].latest == Decimal("17.0000")
    assert explanation.basis == ["impact", "continuity"]
    assert [quarter.delivered for quarter in explanation.quarters] == [0, 1]


def test_writing_rounds_figures_as_stored():
    exact = ScoreExplanation.from_json(DOCUMENT)
    written = replace(exact, mean_impact_pct=Decimal(25) / 60 * 100, impact=Decimal("0.6071425"))
    decoded = json.loads(written.to_json())
    assert decoded["impact"]["mean_impact_pct"] == "41.67"
    assert decoded["impact"]["value"] == "0.607143"  # half up, 6 places


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("0.607143"), Decimal("60.71")),
        (Decimal("0.25"), Decimal("25.00")),
        (Decimal("0.000050"), Decimal("0.01")),  # half up
        (Decimal("1"), Decimal("100.00")),
        (None, None),
    ],
)
def test_a_component_is_shown_as_a_percentage_to_two_places(value, shown):
    assert component_pct(value) == shown


def test_a_score_rows_columns_outrank_its_document():
    row = RelationshipScore(
        impact=Decimal("0.5"), continuity=Decimal("0.25"), attainment=None, realisation=None, components={}
    )
    explanation = ScoreExplanation.of_score(row)
    components = {component.name: component for component in explanation.components}
    assert explanation.basis == ["impact", "continuity"]
    # weights from the settings when the row stored none, rescaled over the basis
    assert components["impact"].weight_used == Decimal("0.4") / Decimal("0.6")
    assert components["impact"].percent == Decimal("50.00") and components["attainment"].percent is None
    # 100 × (0.4 × 0.5 + 0.2 × 0.25) ÷ 0.6
    expected = (
        Decimal(100) * (Decimal("0.4") * Decimal("0.5") + Decimal("0.2") * Decimal("0.25")) / Decimal("0.6")
    )
    assert explanation.points_total == expected

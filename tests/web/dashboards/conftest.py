"""Dashboard page tests share their builders and fixtures with the domain's dashboard tests."""

from tests.dashboard_data import (  # noqa: F401 (fixtures and builders used by the tests here)
    TODAY,
    book,
    cancelled,
    delivered,
    kpis,
    month,
    score_row,
    tier_of,
    track,
    worked_example_components,
)

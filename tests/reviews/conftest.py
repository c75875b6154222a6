"""QBR pack tests: a relationship with a scored year, and page images of the PDF to look at.

Page images go to SCREENSHOT_DIR/qbr (default test-artifacts/screenshots/qbr), made with
`pdftoppm` (Debian's poppler-utils, installed by .ci/run); the test summary lists them.
"""

import datetime as dt
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from kpis import rollup, scoring
from projects import services as project_services
from reviews.quarters import Quarter
from tests.factories import (
    ClientFactory,
    KPIFactory,
    MeasurementFactory,
    ProjectFactory,
    ProjectKPIFactory,
    ProviderFactory,
    RelationshipFactory,
)

ROOT = Path(__file__).resolve().parents[2]
PAGE_DIR = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "test-artifacts" / "screenshots") / "qbr"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pdf_to_pngs(pdf: bytes, name: str, *, pages: int = 2) -> list[Path]:
    """The first `pages` pages of a PDF as PNG files named `name`-1.png, …"""
    if shutil.which("pdftoppm") is None:
        if IN_CI:
            pytest.fail("pdftoppm (poppler-utils) is missing: .ci/run installs it")
        pytest.skip("pdftoppm (poppler-utils) is not installed: apt-get install poppler-utils")
    PAGE_DIR.mkdir(parents=True, exist_ok=True)
    source = PAGE_DIR / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", str(pages), str(source), str(PAGE_DIR / name)],
        check=True,
        timeout=120,
    )
    source.unlink()
    return sorted(PAGE_DIR.glob(f"{name}-*.png"))


def pytest_terminal_summary(terminalreporter):
    shots = sorted(PAGE_DIR.glob("*.png")) if PAGE_DIR.exists() else []
    if shots:
        terminalreporter.write_sep("-", f"QBR pack pages: {len(shots)} in {PAGE_DIR}")
        for shot in shots:
            terminalreporter.write_line(f"  {shot.name}")


@pytest.fixture
def quarter() -> Quarter:
    return Quarter.last_complete(timezone.localdate())


def _delivered(relationship, delivered_on, title, level, *, expected, realised, **fields):
    return ProjectFactory(
        relationship=relationship,
        title=title,
        level=level,
        stage="delivered",
        proposed_on=delivered_on - dt.timedelta(days=200),
        started_on=delivered_on - dt.timedelta(days=150),
        delivered_on=delivered_on,
        expected_annual_benefit=Decimal(expected),
        realised_annual_benefit=Decimal(realised) if realised is not None else None,
        **fields,
    )


def _track(project, kpi, baseline, *values, target=None):
    project_kpi = ProjectKPIFactory(
        project=project,
        kpi=kpi,
        baseline_value=Decimal(baseline),
        baseline_date=project.delivered_on - dt.timedelta(days=180),
        target_value=Decimal(target) if target is not None else None,
    )
    for measured_on, value in values:
        MeasurementFactory(project_kpi=project_kpi, measured_on=measured_on, value=Decimal(value))
    return project_kpi


@pytest.fixture
def reviewed(db, quarter, account_manager):
    """A relationship with three delivered projects (one in the reviewed quarter, one with a
    gain-share), open and cancelled work, and its scores rolled up for 15 months."""
    relationship = RelationshipFactory(
        name="Northwind — vendor management",
        client=ClientFactory(name="Northwind Aerospace", industry="Aerospace"),
        provider=ProviderFactory(name="Atlas Business Services"),
        contract_start=dt.date(2023, 1, 1),
        annual_contract_value=Decimal("4500000"),
        account_managers=[account_manager],
    )
    project_services.relationship_set_leadership(
        actor=None,
        relationship=relationship,
        client_leader="Ada Ortiz",
        provider_leader="Ben Okafor",
        started_on=dt.date(2023, 2, 1),
    )
    fill = KPIFactory(code="fill_rate_qbr", name="Order fill rate", unit="percent")
    turnaround = KPIFactory(
        code="turnaround_qbr", name="Turnaround", unit="hours", direction="lower_is_better"
    )
    first = quarter.first_day
    in_quarter = _delivered(
        relationship, first + dt.timedelta(days=20), "Vendor management", "process",
        expected="1200000", realised="1050000",
        gain_share_pct=Decimal("25"), gain_share_baseline=Decimal("400000"),
    )  # fmt: skip
    _track(
        in_quarter, fill, "60", (first + dt.timedelta(days=25), "72"), (first + dt.timedelta(days=60), "85")
    )
    _track(in_quarter, turnaround, "21", (first + dt.timedelta(days=60), "17"), target="15")
    earlier = _delivered(
        relationship, scoring.add_months(first, -5), "Forecasting tools", "strategic",
        expected="800000", realised=None,
    )  # fmt: skip
    _track(earlier, fill, "80", (scoring.add_months(first, -4), "95"), target="98")
    ProjectFactory(relationship=relationship, title="Spend analytics", stage="in_progress",
                   proposed_on=dt.date(2025, 1, 10), started_on=dt.date(2025, 3, 1))  # fmt: skip
    cancelled = ProjectFactory(relationship=relationship, title="Kiosk pilot", stage="proposed",
                               proposed_on=dt.date(2025, 1, 10))  # fmt: skip
    project_services.project_advance(
        actor=None, project=cancelled, to_stage="cancelled", cancellation_reason="Client chose another vendor"
    )
    rollup.rollup_history(months=15)
    return {"relationship": relationship, "in_quarter": in_quarter, "earlier": earlier}


@pytest.fixture
def api_as():
    """api_as(user) -> an APIClient signed in as `user` (None: anonymous)."""
    from rest_framework.test import APIClient

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make

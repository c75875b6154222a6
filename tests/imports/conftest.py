import io

import pytest
from openpyxl import Workbook

from imports import services
from tests.factories import KPIFactory, ProjectFactory, ProjectKPIFactory


def csv_bytes(*lines: str, bom: bool = False) -> bytes:
    text = "\n".join(lines) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def xlsx_bytes(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run_import(
    user, content: bytes, record_type: str, *, dry_run=True, mode="all_or_nothing", name="file.csv"
):
    """Upload and run an import in-process (the task's body), as the worker would."""
    job = services.import_create(
        actor=user, file_name=name, content=content, record_type=record_type, dry_run=dry_run, mode=mode
    )
    services.import_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def confirm(user, job):
    services.import_confirm(actor=user, job=job)
    services.import_run(job_id=job.pk)
    job.refresh_from_db()
    return job


@pytest.fixture
def tracked(portfolio):
    """Relationship A's project with a tracked KPI (fill rate), keyed for spreadsheets."""
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Vendor onboarding", external_id="PRJ-1")
    kpi = KPIFactory(code="fill_rate", name="Fill rate")
    project_kpi = ProjectKPIFactory(project=project, kpi=kpi, external_id="PK-1")
    return {"project": project, "kpi": kpi, "project_kpi": project_kpi}

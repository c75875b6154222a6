"""The flat register: one row per project, its KPIs in numbered column groups (kpi_1_code, …).
Projects go to the bulk engine first, then their KPIs; the row is the unit of all or nothing."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext

from imports import services
from imports.models import ImportJob
from imports.templates import template_csv, template_notes
from kpis.models import Measurement, ProjectKPI
from projects.models import AuditEntry, InnovationProject
from tests.factories import KPIFactory
from tests.imports.conftest import confirm, csv_bytes, run_import, xlsx_bytes

pytestmark = pytest.mark.django_db

HEADER = (
    "external_id,relationship,title,level,"
    "kpi_1_code,kpi_1_baseline_value,kpi_1_baseline_date,kpi_1_target_value,"
    "kpi_2_code,kpi_2_baseline_value,kpi_2_baseline_date,kpi_2_target_value"
)
REGISTER = csv_bytes(
    HEADER,
    "P-10,A with provider,Invoice matching,process,fill_rate,60,2026-01-31,85,"
    'first_time_right,"92,5",31/01/2026,98',
    "P-11,A with provider,Cash forecasting,strategic,first_time_right,70,2026-01-31,,,,,",
    "PRJ-1,A with provider,Vendor onboarding,,fill_rate,61,2024-01-01,80,,,,",
)


@pytest.fixture
def catalogue(tracked):
    return {**tracked, "second_kpi": KPIFactory(code="first_time_right", name="First time right")}


def _state():
    return (
        InnovationProject.objects.count(),
        sorted(ProjectKPI.objects.values_list("external_id", "baseline_value", "target_value", "version")),
        AuditEntry.objects.count(),
    )


def test_dry_run_reports_each_row_with_its_kpis_and_writes_nothing(account_manager, catalogue):
    before = _state()
    job = run_import(account_manager, REGISTER, "project_register")
    assert job.status == ImportJob.Status.DRY_RUN_DONE, job.message
    assert (job.created, job.updated, job.unchanged, job.rejected) == (2, 1, 0, 0), job.errors
    assert [(row["row"], row["status"], row["key"]) for row in job.row_results] == [
        (2, "created", "P-10"),
        (3, "created", "P-11"),
        (4, "updated", "PRJ-1"),  # the project is as it was; its KPI's target changes
    ]
    assert job.row_results[0]["messages"] == ["KPIs: fill_rate created, first_time_right created"]
    assert job.row_results[2]["messages"] == ["KPIs: fill_rate updated"]
    assert job.row_results[0]["id"] is None  # a dry run's new records have no id
    assert _state() == before


def test_confirm_imports_projects_and_kpis_then_reimport_changes_nothing(account_manager, catalogue):
    job = confirm(account_manager, run_import(account_manager, REGISTER, "project_register"))
    assert (job.status, job.created, job.updated) == (ImportJob.Status.DONE, 2, 1), job.errors or job.message
    invoice = InnovationProject.objects.get(external_id="P-10")
    assert (invoice.title, invoice.level, invoice.relationship) == (
        "Invoice matching",
        "process",
        catalogue["project"].relationship,
    )
    kpis = {pk.kpi.code: pk for pk in ProjectKPI.objects.filter(project=invoice).select_related("kpi")}
    assert kpis["first_time_right"].baseline_value == Decimal("92.5")
    assert kpis["fill_rate"].target_value == Decimal("85")
    catalogue["project_kpi"].refresh_from_db()
    assert catalogue["project_kpi"].target_value == Decimal("80")  # matched by project + KPI
    assert ProjectKPI.objects.filter(project__external_id="P-11").count() == 1  # the empty group skipped
    before = _state()

    again = run_import(account_manager, REGISTER, "project_register", dry_run=False)
    assert (again.status, again.created, again.updated, again.unchanged) == (ImportJob.Status.DONE, 0, 0, 3)
    assert _state() == before


def test_rows_without_any_external_id_are_keyed_by_natural_keys(account_manager, catalogue):
    content = csv_bytes(
        "relationship,title,kpi_1_code,kpi_1_baseline_value,kpi_1_baseline_date",
        "A with provider,Invoice matching,fill_rate,60,2026-01-31",
        "A with provider,Vendor onboarding,first_time_right,50,2026-01-31",
    )
    first = run_import(account_manager, content, "project_register", dry_run=False)
    assert (first.created, first.updated, first.rejected) == (1, 1, 0), first.errors
    before = _state()
    again = run_import(account_manager, content, "project_register", dry_run=False)
    assert (again.unchanged, again.created, again.updated) == (2, 0, 0), again.errors
    assert _state() == before


BAD_GROUP = csv_bytes(
    HEADER,
    "P-10,A with provider,Invoice matching,process,fill_rate,60,2026-01-31,85,,,,",
    "P-11,A with provider,Cash forecasting,strategic,fill_rate,60,2026-01-31,,"
    'first_time_right,"12,5 %",2026-01-31,',
)


def test_all_or_nothing_a_bad_cell_in_group_two_names_its_column_and_writes_nothing(
    account_manager, catalogue
):
    before = _state()
    job = run_import(account_manager, BAD_GROUP, "project_register", dry_run=False)
    assert job.status == ImportJob.Status.FAILED
    assert "1 of 2 rows are invalid; nothing was imported" in job.message
    assert job.errors == [
        {
            "row": 3,
            "column": "kpi_2_baseline_value",
            "message": "not a number: '12,5 %' (a percentage; give the plain number, e.g. 12.5)",
        }
    ]
    assert _state() == before


def test_skip_invalid_rejects_the_row_whole_project_included(account_manager, catalogue):
    job = run_import(account_manager, BAD_GROUP, "project_register", dry_run=False, mode="skip_invalid")
    assert (job.status, job.created, job.rejected) == (ImportJob.Status.DONE, 1, 1), job.errors
    assert InnovationProject.objects.filter(external_id="P-10").exists()
    assert not InnovationProject.objects.filter(external_id="P-11").exists()
    rows = list(csv.reader(io.StringIO(job.rejected_csv)))
    assert rows[0] == [*HEADER.split(","), "error"]
    assert rows[1][:3] == ["P-11", "A with provider", "Cash forecasting"]
    assert rows[1][-1].startswith("kpi_2_baseline_value: not a number: '12,5 %'")


def test_skip_invalid_a_kpi_the_engine_refuses_takes_its_project_out_too(account_manager, catalogue):
    """The engine, not the cell reader, refuses the KPI (an implausible baseline date): the
    project it had written in the same savepoint is rolled back, the other rows are kept."""
    content = csv_bytes(
        HEADER,
        "P-10,A with provider,Invoice matching,process,fill_rate,60,2026-01-31,85,,,,",
        "P-11,A with provider,Cash forecasting,strategic,fill_rate,60,2026-01-31,,"
        "first_time_right,5,1900-01-01,",
    )
    audits = AuditEntry.objects.count()
    job = run_import(account_manager, content, "project_register", dry_run=False, mode="skip_invalid")
    assert (job.created, job.rejected) == (1, 1), job.errors
    assert [(error["row"], error["column"]) for error in job.errors] == [(3, "kpi_2_baseline_date")]
    assert sorted(InnovationProject.objects.values_list("external_id", flat=True)) == ["P-10", "PRJ-1"]
    assert ProjectKPI.objects.filter(project__external_id="P-10").count() == 1
    assert AuditEntry.objects.count() == audits + 2  # P-10 and its KPI, nothing of P-11

    dry = run_import(account_manager, content, "project_register", mode="skip_invalid")
    assert (dry.unchanged, dry.rejected) == (1, 1), dry.errors


def test_the_same_kpi_twice_in_a_row_and_unknown_codes_are_refused(account_manager, catalogue):
    content = csv_bytes(
        "relationship,title,kpi_1_code,kpi_1_baseline_value,kpi_1_baseline_date,"
        "kpi_2_code,kpi_2_baseline_value,kpi_2_baseline_date",
        "A with provider,One,fill_rate,1,2026-01-31,fill_rate,2,2026-01-31",
        "A with provider,Two,fill_rate,1,2026-01-31,no_such_kpi,2,2026-01-31",
    )
    job = run_import(account_manager, content, "project_register", mode="skip_invalid")
    assert job.errors == [
        {"row": 2, "column": "kpi_2_code", "message": "the same KPI as kpi_1_code"},
        {"row": 3, "column": "kpi_2_code", "message": "no such record: 'no_such_kpi'"},
    ]


def test_another_tenants_relationship_reads_as_absent(account_manager, portfolio, catalogue):
    content = csv_bytes(
        "relationship,title,kpi_1_code,kpi_1_baseline_value,kpi_1_baseline_date",
        "B with provider,Sneaky,fill_rate,1,2026-01-31",
        f"{portfolio['rel_b'].pk},Sneakier,fill_rate,1,2026-01-31",
    )
    job = run_import(account_manager, content, "project_register", dry_run=False, mode="skip_invalid")
    assert (job.created, job.rejected) == (0, 2)
    assert {error["message"] for error in job.errors} == {
        "no such record: 'B with provider'",
        f"no such record: '{portfolio['rel_b'].pk}'",
    }
    assert not InnovationProject.objects.filter(relationship=portfolio["rel_b"]).exists()


def test_group_headers_match_loosely_and_the_rest_is_listed(account_manager, catalogue):
    content = xlsx_bytes(
        [
            ["Relationship", "Title", "KPI 1", "Kpi 1 Baseliné value", "KPI_1 baseline date", "kpi_1_colour"],
            ["A with provider", "Invoice matching", "fill_rate", 60, "31.01.2026", "red"],
        ]
    )
    job = run_import(account_manager, content, "project_register", name="register.xlsx")
    assert (job.created, job.rejected) == (1, 0), job.errors or job.message
    assert job.unknown_columns == ["kpi_1_colour"]

    missing = csv_bytes(
        "relationship,title,kpi_1_code,kpi_1_baseline_value,kpi_2_code", "A with provider,X,,,"
    )
    job = run_import(account_manager, missing, "project_register")
    assert job.status == ImportJob.Status.FAILED
    assert job.message == (
        "Missing required column(s): kpi_1_baseline_date, kpi_2_baseline_value, kpi_2_baseline_date."
    )


def test_template_round_trip(account_manager, portfolio, catalogue):
    """The template's example row (two KPI groups) imports as it is."""
    portfolio["rel_a"].name = "Acme with Provider"
    portfolio["rel_a"].save()
    header, hint, example = list(csv.reader(io.StringIO(template_csv("project_register"))))
    assert header[-14:] == [
        f"kpi_{n}_{name}"
        for n in (1, 2)
        for name in (
            "code",
            "external_id",
            "baseline_value",
            "baseline_date",
            "target_value",
            "value",
            "measured_on",
        )
    ]
    assert hint[0].startswith("# ")
    assert "one of: operational | process | strategic" in hint[header.index("level")]
    assert example[header.index("kpi_2_code")] == "first_time_right"
    job = run_import(account_manager, template_csv("project_register").encode(), "project_register")
    assert (job.created, job.rejected) == (1, 0), job.errors or job.message
    job = confirm(account_manager, job)
    assert job.status == ImportJob.Status.DONE
    project = InnovationProject.objects.get(external_id="PRJ-0001")
    assert sorted(project.project_kpis.values_list("kpi__code", flat=True)) == [
        "fill_rate",
        "first_time_right",
    ]
    reading = Measurement.objects.get(project_kpi__project=project)  # the example's one reading
    assert (reading.project_kpi.kpi.code, reading.value) == ("fill_rate", Decimal("72.5"))
    names = [note["name"] for note in template_notes("project_register")]
    assert "kpi_N_baseline_value" in names and "title" in names


def test_a_latest_reading_per_kpi_becomes_a_measurement(account_manager, catalogue):
    content = csv_bytes(
        "external_id,relationship,title,kpi_1_code,kpi_1_baseline_value,kpi_1_baseline_date,"
        "kpi_1_value,kpi_1_measured_on,kpi_2_code,kpi_2_baseline_value,kpi_2_baseline_date,"
        "kpi_2_latest_value,kpi_2_measured_on",
        'P-10,A with provider,Invoice matching,fill_rate,60,2026-01-31,"72,5",30/06/2026,'
        "first_time_right,90,2026-01-31,,",
        "P-11,A with provider,Cash forecasting,fill_rate,60,2026-01-31,70,,first_time_right,90,2026-01-31,,",
    )
    job = run_import(account_manager, content, "project_register", dry_run=False, mode="skip_invalid")
    assert (job.created, job.rejected) == (1, 1), job.errors
    assert job.errors == [{"row": 3, "column": "kpi_1_measured_on", "message": "required with kpi_1_value"}]
    assert job.row_results[0]["messages"] == [
        "KPIs: fill_rate created (reading created), first_time_right created"
    ]
    reading = Measurement.objects.get()
    assert (reading.project_kpi.project.external_id, reading.value) == ("P-10", Decimal("72.5"))
    before = (_state(), list(Measurement.objects.values_list("pk", "value", "version")))
    again = run_import(account_manager, content, "project_register", dry_run=False, mode="skip_invalid")
    assert (again.unchanged, again.created, again.updated) == (1, 0, 0), again.errors
    assert (_state(), list(Measurement.objects.values_list("pk", "value", "version"))) == before

    later = content.replace(b"72,5", b"75")
    assert run_import(account_manager, later, "project_register", mode="skip_invalid").row_results[0][
        "messages"
    ] == ["KPIs: fill_rate unchanged (reading updated), first_time_right unchanged"]


def test_offered_to_whoever_may_import_projects(account_manager, executive):
    assert "project_register" in [spec.key for spec in services.record_types_for(account_manager)]
    with pytest.raises(services.PermissionDenied):
        services.import_create(
            actor=executive, file_name="r.csv", content=REGISTER, record_type="project_register"
        )


def _queries(user, record_type: str, rows: int, *, dry_run: bool) -> int:
    register = record_type == "project_register"
    lines = [
        f"{record_type}-{rows}-{n},A with provider,Project {record_type} {rows}-{n}"
        + (",fill_rate,60,2026-01-31,85,first_time_right,70,2026-01-31,,72.5,2026-06-30" if register else "")
        for n in range(rows)
    ]
    header = "external_id,relationship,title" + (
        ",kpi_1_code,kpi_1_baseline_value,kpi_1_baseline_date,kpi_1_target_value"
        ",kpi_2_code,kpi_2_baseline_value,kpi_2_baseline_date,kpi_2_target_value"
        ",kpi_1_value,kpi_1_measured_on"
        if register
        else ""
    )
    job = services.import_create(
        actor=user,
        file_name="q.csv",
        content=csv_bytes(header, *lines),
        record_type=record_type,
        dry_run=dry_run,
    )
    reset_queries()  # the log keeps at most 9,000 queries; start each count with it empty
    with CaptureQueriesContext(connection) as queries:
        services.import_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.created == rows and job.rejected == 0, job.errors[:2] or job.message
    return len(queries)


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "import"])
def test_the_kpi_columns_add_no_queries_per_row(account_manager, catalogue, dry_run):
    """An import batch of a register costs what the projects sheet's costs (which the engine's
    project writer sets) plus a fixed number of queries: its KPI groups and their readings add
    none per row."""
    cost = {}
    for record_type in ("projects", "project_register"):
        _queries(account_manager, record_type, 2, dry_run=dry_run)  # first-time state out of the way
        cost[record_type] = [
            _queries(account_manager, record_type, rows, dry_run=dry_run) for rows in (5, 60)
        ]
    growth = {record_type: many - few for record_type, (few, many) in cost.items()}
    assert growth["project_register"] == growth["projects"], cost

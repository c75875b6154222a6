"""Imports end to end in the service layer: dry run, confirm, re-import, modes, scoping, bad input,
progress — all through the bulk engine, against PostgreSQL."""

import csv
import datetime as dt
import io
import threading
from decimal import Decimal

import pytest
from django.db import connection

from imports import services
from imports.models import ImportJob
from imports.templates import template_csv
from kpis.models import Measurement, ProjectKPI
from projects import bulk
from projects.models import AuditEntry, InnovationProject
from tests.factories import MeasurementFactory, ProjectFactory, ProjectKPIFactory
from tests.imports.conftest import confirm, csv_bytes, run_import, xlsx_bytes

pytestmark = pytest.mark.django_db

MEASUREMENTS = csv_bytes(
    "external_id;project_kpi;measured_on;value",
    "M-1;PK-1;31/01/2026;61,5",
    "M-2;PK-1;2026-02-28;63",
    "M-3;PK-1;31.03.2026;64,25",
)


def test_dry_run_reports_and_writes_nothing(account_manager, tracked):
    audits, measurements = AuditEntry.objects.count(), Measurement.objects.count()
    job = run_import(account_manager, MEASUREMENTS, "measurements")
    assert job.status == ImportJob.Status.DRY_RUN_DONE
    assert (job.created, job.updated, job.unchanged, job.rejected) == (3, 0, 0, 0), job.errors
    assert [row["status"] for row in job.row_results] == ["created"] * 3
    assert [row["row"] for row in job.row_results] == [2, 3, 4]
    assert (job.processed, job.total) == (3, 3)
    assert AuditEntry.objects.count() == audits
    assert Measurement.objects.count() == measurements


def test_confirm_imports_then_reimport_changes_nothing(account_manager, tracked):
    job = confirm(account_manager, run_import(account_manager, MEASUREMENTS, "measurements"))
    assert job.status == ImportJob.Status.DONE
    assert job.created == 3
    values = dict(
        Measurement.objects.filter(project_kpi=tracked["project_kpi"]).values_list("external_id", "value")
    )
    assert values == {"M-1": Decimal("61.5"), "M-2": Decimal("63"), "M-3": Decimal("64.25")}
    audits, versions = AuditEntry.objects.count(), list(Measurement.objects.values_list("version", flat=True))

    again = run_import(account_manager, MEASUREMENTS, "measurements", dry_run=False)
    assert again.status == ImportJob.Status.DONE
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert AuditEntry.objects.count() == audits
    assert list(Measurement.objects.values_list("version", flat=True)) == versions


def test_natural_keys_make_reimport_idempotent_without_external_ids(account_manager, tracked, portfolio):
    projects = csv_bytes(
        "Relationship,Title,Level,Stage",
        "A with provider,Invoice matching,Process (effectiveness),idea",
        "A with provider,Cash forecasting,strategic,proposed",
    )
    first = run_import(account_manager, projects, "projects", dry_run=False)
    assert (first.status, first.created) == (ImportJob.Status.DONE, 2)
    assert InnovationProject.objects.get(title="Invoice matching").level == "process"
    count = InnovationProject.objects.count()
    second = run_import(account_manager, projects, "projects", dry_run=False)
    assert (second.created, second.unchanged) == (0, 2)
    assert InnovationProject.objects.count() == count

    readings = csv_bytes(
        "project,kpi,measured_on,value",
        "PRJ-1,fill_rate,2026-04-30,70",
        "Vendor onboarding,fill_rate,2026-05-31,72",
    )
    assert run_import(account_manager, readings, "measurements", dry_run=False).created == 2
    assert run_import(account_manager, readings, "measurements", dry_run=False).unchanged == 2
    assert Measurement.objects.filter(project_kpi=tracked["project_kpi"]).count() == 2


def test_natural_key_match_updates_the_existing_record(account_manager, tracked):
    MeasurementFactory(
        project_kpi=tracked["project_kpi"],
        measured_on=dt.date(2026, 4, 30),
        value=Decimal("1"),
        external_id="OLD-7",
    )
    job = run_import(
        account_manager,
        csv_bytes("project_kpi,measured_on,value", "PK-1,2026-04-30,70"),
        "measurements",
        dry_run=False,
    )
    assert (job.updated, job.created) == (1, 0)
    assert Measurement.objects.get(external_id="OLD-7").value == Decimal("70")


BAD_ROW = csv_bytes(
    "external_id,project_kpi,measured_on,value",
    "M-1,PK-1,2026-01-31,61",
    "M-2,PK-1,2026-02-28,12,5 %",
    "M-3,PK-1,2026-03-31,=A1*2",
)


def test_all_or_nothing_writes_nothing_when_a_row_is_invalid(account_manager, tracked):
    before = Measurement.objects.count()
    job = run_import(account_manager, BAD_ROW.replace(b"12,5 %", b'"12,5 %"'), "measurements", dry_run=False)
    assert job.status == ImportJob.Status.FAILED
    assert "2 of 3 rows are invalid; nothing was imported" in job.message
    assert Measurement.objects.count() == before
    assert {(e["row"], e["column"]) for e in job.errors} == {(3, "value"), (4, "value")}
    messages = {e["row"]: e["message"] for e in job.errors}
    assert messages[3].startswith("not a number: '12,5 %'")
    assert messages[4] == "a formula, not a value"


def test_skip_invalid_writes_the_valid_rows_and_keeps_the_rejected_ones(account_manager, tracked):
    job = run_import(
        account_manager,
        BAD_ROW.replace(b"12,5 %", b'"12,5 %"'),
        "measurements",
        dry_run=False,
        mode="skip_invalid",
    )
    assert job.status == ImportJob.Status.DONE
    assert (job.created, job.rejected) == (1, 2)
    assert list(Measurement.objects.values_list("external_id", flat=True)) == ["M-1"]
    rows = list(csv.reader(io.StringIO(job.rejected_csv)))
    assert rows[0] == ["external_id", "project_kpi", "measured_on", "value", "error"]
    assert rows[1][:4] == ["M-2", "PK-1", "2026-02-28", "12,5 %"]
    assert rows[1][4].startswith("value: not a number")
    assert rows[2][3] == "'=A1*2"  # escaped: safe to open in a spreadsheet


def test_engine_refusals_are_reported_per_row(account_manager, tracked):
    content = csv_bytes(
        "external_id,project_kpi,measured_on,value", "M-1,PK-1,1900-01-01,5", "M-2,PK-1,2026-01-31,5"
    )
    job = run_import(account_manager, content, "measurements")
    assert (job.created, job.rejected) == (1, 1)
    assert job.errors[0]["row"] == 2 and job.errors[0]["column"] == "measured_on"


def test_the_same_record_twice_in_a_file_is_refused(account_manager, tracked):
    content = csv_bytes(
        "external_id,project_kpi,measured_on,value", "M-1,PK-1,2026-01-31,5", "M-1,PK-1,2026-02-28,6"
    )
    job = run_import(account_manager, content, "measurements")
    assert job.rejected == 1
    assert job.errors == [{"row": 3, "column": "external_id", "message": "the same record as row 2"}]


def test_another_tenants_records_read_as_absent(account_manager, portfolio, tracked):
    foreign = ProjectFactory(relationship=portfolio["rel_b"], external_id="PRJ-B")
    foreign_kpi = ProjectKPIFactory(project=foreign, kpi=tracked["kpi"], external_id="PK-B")
    projects = csv_bytes("relationship,title", "B with provider,Sneaky", f"{portfolio['rel_b'].pk},Sneakier")
    job = run_import(account_manager, projects, "projects")
    assert job.rejected == 2
    assert {e["message"] for e in job.errors} == {
        "no such record: 'B with provider'",
        f"no such record: '{portfolio['rel_b'].pk}'",
    }
    readings = csv_bytes(
        "project_kpi,measured_on,value", "PK-B,2026-01-31,5", f"{foreign_kpi.pk},2026-01-31,5"
    )
    job = run_import(account_manager, readings, "measurements", dry_run=False, mode="skip_invalid")
    assert job.rejected == 2 and job.created == 0
    assert not Measurement.objects.filter(project_kpi=foreign_kpi).exists()


def test_project_kpis_by_project_title_and_kpi_code(account_manager, tracked):
    ProjectFactory(relationship=tracked["project"].relationship, title="Second")
    content = csv_bytes(
        "project,kpi,baseline_value,baseline_date,target_value", "Second,fill_rate,60,2026-01-01,85"
    )
    job = run_import(account_manager, content, "project_kpis", dry_run=False)
    assert (job.status, job.created) == (ImportJob.Status.DONE, 1)
    pk = ProjectKPI.objects.get(project__title="Second")
    assert (pk.baseline_value, pk.target_value) == (Decimal("60"), Decimal("85"))
    assert run_import(account_manager, content, "project_kpis", dry_run=False).unchanged == 1


def test_xlsx_with_serial_dates_datetimes_and_numbers(account_manager, tracked):
    content = xlsx_bytes(
        [
            ["External ID", "Project KPI", "Measured on", "Value"],
            ["M-1", "PK-1", 46112, 61.5],
            ["M-2", "PK-1", dt.datetime(2026, 4, 30), "62,5"],
            ["M-3", "PK-1", "2026-05-31", "=B2*2"],
        ]
    )
    job = run_import(
        account_manager, content, "measurements", name="readings.xlsx", mode="skip_invalid", dry_run=False
    )
    assert job.file_format == "xlsx"
    assert (job.created, job.rejected) == (2, 1)
    assert job.errors == [{"row": 4, "column": "value", "message": "a formula, not a value"}]
    dates = set(Measurement.objects.values_list("measured_on", flat=True))
    assert dates == {dt.date(2026, 3, 31), dt.date(2026, 4, 30)}


def test_unknown_columns_are_listed_and_missing_required_ones_fail(account_manager, tracked):
    job = run_import(
        account_manager,
        csv_bytes("project_kpi,measured_on,value,comment", "PK-1,2026-01-31,5,hi"),
        "measurements",
    )
    assert job.unknown_columns == ["comment"]
    assert job.created == 1
    job = run_import(account_manager, csv_bytes("measured_on,value", "2026-01-31,5"), "measurements")
    assert job.status == ImportJob.Status.FAILED
    assert job.message == "Missing required column(s): project_kpi or project + kpi."


def test_bad_files_are_refused_with_a_named_reason(account_manager, tracked, settings):
    with pytest.raises(services.ValidationError) as empty:
        services.import_create(
            actor=account_manager, file_name="a.csv", content=b"", record_type="measurements"
        )
    assert empty.value.message_dict == {"file": ["The file is empty."]}
    with pytest.raises(services.ValidationError) as png:
        services.import_create(
            actor=account_manager,
            file_name="photo.xlsx",
            content=b"\x89PNG\r\n\x1a\n\x00\x00",
            record_type="measurements",
        )
    assert "neither CSV nor XLSX" in png.value.message_dict["file"][0]
    settings.IMPORT_MAX_FILE_BYTES = 100
    with pytest.raises(services.FileTooLarge, match="over the limit of 100 bytes"):
        services.import_create(
            actor=account_manager, file_name="a.csv", content=b"x" * 101, record_type="measurements"
        )
    settings.IMPORT_MAX_FILE_BYTES = 20 * 1024 * 1024
    settings.IMPORT_MAX_ROWS = 2
    job = run_import(account_manager, MEASUREMENTS, "measurements")
    assert (job.status, job.message) == (
        ImportJob.Status.FAILED,
        "The file has 3 data rows, over the limit of 2; split it.",
    )
    header_only = run_import(account_manager, csv_bytes("project_kpi,measured_on,value"), "measurements")
    assert header_only.message == "The file has a header row but no data rows."
    latin = run_import(
        account_manager,
        "external_id,project_kpi,measured_on,value\nÉté-1,PK-1,2026-01-31,5\n".encode("latin-1"),
        "measurements",
    )
    assert latin.status == ImportJob.Status.FAILED and "not valid UTF-8 (line 2" in latin.message
    assert Measurement.objects.count() == 0


def test_progress_is_saved_after_each_batch(account_manager, tracked, settings, monkeypatch):
    settings.IMPORT_BATCH_ROWS = 2
    seen = []
    real = bulk.upsert

    def watching(**kwargs):
        seen.append(ImportJob.objects.values_list("processed", "total").get())
        return real(**kwargs)

    monkeypatch.setattr(bulk, "upsert", watching)
    lines = [f"M-{n},PK-1,2026-01-{n:02d},{n}" for n in range(1, 6)]
    job = run_import(
        account_manager, csv_bytes("external_id,project_kpi,measured_on,value", *lines), "measurements"
    )
    assert seen == [(0, 5), (2, 5), (4, 5)]
    assert (job.processed, job.total, job.created) == (5, 5, 5)


@pytest.mark.django_db(transaction=True)
def test_an_all_or_nothing_write_shows_its_progress_from_outside_its_transaction(
    account_manager, tracked, settings, monkeypatch
):
    """The write pass is one transaction; another connection (the progress page's) still sees its
    rows processed grow batch by batch, and no measurement before the end."""
    if settings.DATABASE_VENDOR != "postgresql":
        pytest.fail("needs PostgreSQL: the embedded default (SQLite) keeps one writer at a time")
    settings.IMPORT_BATCH_ROWS = 2
    seen_outside = []
    real = bulk.upsert

    def from_another_connection():
        def read():
            try:
                seen_outside.append(
                    (ImportJob.objects.values_list("processed", "total").get(), Measurement.objects.count())
                )
            finally:
                connection.close()

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=30)

    def watching(**kwargs):
        if not kwargs.get("dry_run"):
            from_another_connection()
        return real(**kwargs)

    monkeypatch.setattr(bulk, "upsert", watching)
    lines = [f"M-{n},PK-1,2026-01-{n:02d},{n}" for n in range(1, 6)]
    job = run_import(
        account_manager,
        csv_bytes("external_id,project_kpi,measured_on,value", *lines),
        "measurements",
        dry_run=False,
    )
    from_another_connection()
    assert (job.status, job.processed, job.total, job.created) == (ImportJob.Status.DONE, 5, 5, 5)
    # Before each batch of the write: 0, 2, 4 rows processed, nothing visible yet; then all of it.
    assert seen_outside == [((0, 5), 0), ((2, 5), 0), ((4, 5), 0), ((5, 5), 5)]


def test_template_round_trip(account_manager, tracked):
    rows = list(csv.reader(io.StringIO(template_csv("measurements"))))
    header, hint, example = rows
    assert header == ["external_id", "project_kpi", "project", "kpi", "measured_on", "value"]
    assert hint[0].startswith("# ")
    filled = dict(zip(header, example, strict=True)) | {"project_kpi": "PK-1"}
    content = csv_bytes(",".join(header), ",".join(hint), ",".join(filled[name] for name in header))
    job = run_import(account_manager, content, "measurements")
    assert (job.status, job.created, job.rejected) == (ImportJob.Status.DRY_RUN_DONE, 1, 0)
    project_rows = list(csv.reader(io.StringIO(template_csv("projects"))))
    assert "one of: operational | process | strategic" in project_rows[1][project_rows[0].index("level")]


def test_only_importers_import(executive, tracked):
    with pytest.raises(services.PermissionDenied):
        services.import_create(
            actor=executive, file_name="a.csv", content=MEASUREMENTS, record_type="measurements"
        )


def test_a_job_runs_once(account_manager, tracked):
    job = run_import(account_manager, MEASUREMENTS, "measurements", dry_run=False)
    assert services.import_run(job_id=job.pk) is None
    assert Measurement.objects.count() == 3


def _queries_of_an_import(user, rows: int, *, dry_run: bool) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lines = [
        f"Q-{rows}-{n},PK-1,{(dt.date(2024, 2, 1) + dt.timedelta(days=rows * 3 + n)).isoformat()},{n % 90}"
        for n in range(rows)
    ]
    job = services.import_create(
        actor=user,
        file_name="q.csv",
        content=csv_bytes("external_id,project_kpi,measured_on,value", *lines),
        record_type="measurements",
        dry_run=dry_run,
    )
    with CaptureQueriesContext(connection) as queries:
        services.import_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.created == rows and job.rejected == 0, job.errors[:2] or job.message
    return len(queries)


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "import"])
def test_the_queries_of_an_import_batch_do_not_grow_with_its_rows(account_manager, tracked, dry_run):
    # A first import leaves state (a pending score recompute, say) that later ones find in place.
    _queries_of_an_import(account_manager, 2, dry_run=dry_run)
    few = _queries_of_an_import(account_manager, 5, dry_run=dry_run)
    many = _queries_of_an_import(account_manager, 200, dry_run=dry_run)
    assert many == few, (few, many)


def _queries_of_a_project_import(user, portfolio, rows: int) -> tuple[int, int]:
    """A projects sheet without external_ids, half naming projects that exist without one: the
    queries of its import, and of importing it again (everything unchanged)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(rows // 2):
        ProjectFactory(relationship=portfolio["rel_a"], title=f"Existing {rows}-{n}")
    lines = [f"A with provider,Existing {rows}-{n},strategic,proposed" for n in range(rows // 2)]
    lines += [f"A with provider,New {rows}-{n},process,idea" for n in range(rows - rows // 2)]
    content = csv_bytes("Relationship,Title,Level,Stage", *lines)
    counts = []
    for expected in ({"updated": rows // 2, "created": rows - rows // 2}, {"unchanged": rows}):
        job = services.import_create(
            actor=user, file_name="p.csv", content=content, record_type="projects", dry_run=False
        )
        with CaptureQueriesContext(connection) as queries:
            services.import_run(job_id=job.pk)
        job.refresh_from_db()
        assert {name: getattr(job, name) for name in expected} == expected, job.errors[:2] or job.message
        counts.append(len(queries))
    return tuple(counts)


def test_the_queries_of_a_project_import_matched_by_natural_key_do_not_grow_with_its_rows(
    account_manager, portfolio
):
    _queries_of_a_project_import(account_manager, portfolio, 2)
    assert _queries_of_a_project_import(account_manager, portfolio, 6) == _queries_of_a_project_import(
        account_manager, portfolio, 200
    )


def test_a_sheet_over_the_row_limit_is_refused_naming_it(account_manager, tracked, settings):
    assert settings.IMPORT_MAX_ROWS == 100_000  # the default, not a test's smaller one
    lines = [f"R-{n},PK-1,2026-01-01,{n % 90}" for n in range(100_001)]
    job = run_import(
        account_manager, csv_bytes("external_id,project_kpi,measured_on,value", *lines), "measurements"
    )
    assert job.status == ImportJob.Status.FAILED
    assert job.message == "The file has 100,001 data rows, over the limit of 100,000; split it."
    assert (job.processed, job.created) == (0, 0)
    assert Measurement.objects.count() == 0


def test_odd_cells_are_rejected_row_by_row_never_a_failed_job(account_manager, tracked):
    content = csv_bytes(
        "external_id,project_kpi,measured_on,value",
        "O-1,PK-1,2026-01-31,1e400",
        "O-2,PK-1,31/02/2026,5",
        "O-3,PK-1,2026-01-31,123456789012345678901234567890",
        "O-4,PK-1,,5",
        "O-5,,2026-01-31,5",
        f"{'X' * 101},PK-1,2026-01-31,5",
        "O-7,PK-1,2026-01-31,-5",
        "O-8,PK-1,1/2,5",
        "O-9,99999999999999999999999,2026-01-31,5",
    )
    job = run_import(account_manager, content, "measurements", mode="skip_invalid")
    assert job.status == ImportJob.Status.DRY_RUN_DONE, job.message
    assert job.rejected == 9, job.row_results
    assert {result["row"] for result in job.row_results} == set(range(2, 11))
    assert all(result["messages"] for result in job.row_results)


def test_admins_import_organisations_and_the_kpi_catalogue_by_natural_key(admin_user, account_manager):
    from kpis.models import KPI
    from projects.models import Organization

    organisations = csv_bytes(
        "Name,Kind,Country", "Acme Aerospace,Client,Germany", "Northwind BPO,provider,India"
    )
    first = run_import(admin_user, organisations, "organizations", dry_run=False)
    assert (first.status, first.created) == (ImportJob.Status.DONE, 2), first.errors or first.message
    assert Organization.objects.get(name="Northwind BPO").kind == "provider"
    assert run_import(admin_user, organisations, "organizations", dry_run=False).unchanged == 2

    catalogue = csv_bytes(
        "code,name,unit,direction", "order_fill_rate,Order fill rate,percent,higher is better"
    )
    assert run_import(admin_user, catalogue, "kpis", dry_run=False).created == 1
    assert KPI.objects.get(code="order_fill_rate").direction == "higher_is_better"
    with pytest.raises(services.PermissionDenied, match="Only admins import organisations, relationships"):
        services.import_create(
            actor=account_manager, file_name="o.csv", content=organisations, record_type="organizations"
        )


@pytest.mark.parametrize("record_type", ["projects", "project_kpis", "measurements"])
def test_each_templates_example_row_imports_as_it_is(account_manager, portfolio, tracked, record_type):
    """The example rows name each other (PRJ-0001, PK-0001) as a customer's sheets would."""
    portfolio["rel_a"].name = "Acme with Provider"
    portfolio["rel_a"].save()
    tracked["project"].external_id = "PRJ-0001"
    tracked["project"].save()
    tracked["project_kpi"].external_id = "PK-0001"
    tracked["project_kpi"].save()
    job = run_import(account_manager, template_csv(record_type).encode(), record_type, dry_run=False)
    assert (job.status, job.rejected) == (ImportJob.Status.DONE, 0), job.errors or job.message
    assert job.created + job.updated + job.unchanged == 1


def test_admins_import_relationships_naming_parties_by_name(admin_user, account_manager):
    from projects.models import Organization, Relationship

    Organization.objects.create(name="Acme Aerospace", kind="client")
    Organization.objects.create(name="Northwind BPO", kind="provider", external_id="ORG-NW")
    content = csv_bytes(
        "name,client,provider,process_areas,contract_start,annual_contract_value,currency,account_managers",
        'Acme with Northwind,Acme Aerospace,ORG-NW,"procurement; analytics",01/01/2025,"1.200.000,00",EUR,'
        + account_manager.username,
        "Ghost,Nobody Inc,ORG-NW,,2025-01-01,,EUR,",
    )
    job = run_import(admin_user, content, "relationships", dry_run=False, mode="skip_invalid")
    assert (job.created, job.rejected) == (1, 1), job.errors
    assert job.errors == [{"row": 3, "column": "client", "message": "no such record: 'Nobody Inc'"}]
    relationship = Relationship.objects.get(name="Acme with Northwind")
    assert relationship.annual_contract_value == Decimal("1200000.00")
    assert sorted(relationship.process_areas.values_list("code", flat=True)) == ["analytics", "procurement"]
    assert list(relationship.account_managers.all()) == [account_manager]
    again = run_import(admin_user, content, "relationships", dry_run=False, mode="skip_invalid")
    assert (again.unchanged, again.created) == (1, 0)


def _unkeyed_project(portfolio, title, **fields):
    project = ProjectFactory(relationship=portfolio["rel_a"], title=title, **fields)
    assert project.external_id is None
    return project


def test_rows_without_ids_update_existing_records_that_have_none_and_reimport_changes_nothing(
    account_manager, portfolio
):
    project = _unkeyed_project(portfolio, "Invoice matching")
    audits = AuditEntry.objects.count()
    same = csv_bytes("Relationship,Title,Level", "A with provider,Invoice matching,operational")
    job = run_import(account_manager, same, "projects", dry_run=False)
    assert (job.status, job.unchanged, job.created) == (ImportJob.Status.DONE, 1, 0), job.errors
    assert AuditEntry.objects.count() == audits
    changed = csv_bytes("Relationship,Title,Level", "A with provider,Invoice matching,strategic")
    first = run_import(account_manager, changed, "projects", dry_run=False)
    assert (first.updated, first.created) == (1, 0), first.errors
    project.refresh_from_db()
    assert (project.level, project.external_id, project.version) == ("strategic", None, 2)
    second = run_import(account_manager, changed, "projects", dry_run=False)
    assert (second.unchanged, second.updated, second.created) == (1, 0, 0)
    assert InnovationProject.objects.filter(title__iexact="invoice matching").count() == 1


def test_a_row_with_an_id_gives_it_to_the_record_its_natural_key_names(account_manager, tracked):
    reading = MeasurementFactory(
        project_kpi=tracked["project_kpi"], measured_on=dt.date(2026, 4, 30), value=Decimal("1")
    )
    assert reading.external_id is None
    rows = csv_bytes("external_id,project_kpi,measured_on,value", "M-30,PK-1,2026-04-30,70")
    job = run_import(account_manager, rows, "measurements", dry_run=False)
    assert (job.updated, job.created) == (1, 0), job.errors
    reading.refresh_from_db()
    assert (reading.external_id, reading.value) == ("M-30", Decimal("70"))
    entry = AuditEntry.objects.filter(object_id=reading.pk, content_type__model="measurement").latest("id")
    assert entry.changes["external_id"] == {"before": None, "after": "M-30"}
    assert run_import(account_manager, rows, "measurements", dry_run=False).unchanged == 1
    assert (
        Measurement.objects.filter(project_kpi=tracked["project_kpi"], deleted_at__isnull=True).count() == 1
    )


def test_a_natural_key_naming_two_records_is_the_rows_error(account_manager, portfolio):
    first = _unkeyed_project(portfolio, "Cash forecasting")
    second = _unkeyed_project(portfolio, "Cash forecasting")
    rows = csv_bytes("Relationship,Title,Level", "A with provider,Cash forecasting,strategic")
    job = run_import(account_manager, rows, "projects", dry_run=False, mode="skip_invalid")
    assert (job.rejected, job.updated, job.created) == (1, 0, 0)
    assert job.errors == [
        {
            "row": 2,
            "column": "relationship",
            "message": f"2 existing records have this relationship + title (ids {first.pk}, {second.pk}); "
            "give the row the external_id or id of the one to update",
        }
    ]
    assert set(
        InnovationProject.objects.filter(title="Cash forecasting").values_list("level", flat=True)
    ) == {"operational"}

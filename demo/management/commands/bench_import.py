"""Time a spreadsheet import end to end on a generated register: projects, their KPIs and their
measurements as three XLSX sheets, each parsed, dry-run and imported as the import job does (the
task's body, in this process), with the peak memory of the process; then the whole register's
totals against issue 10's goal (the import under 30 s).

The default is the issue's register: 500 projects with two KPIs each and ten measurements per KPI,
so a 10,000-row measurement sheet beside 500 project rows and 1,000 project KPI rows (11,500 rows
in all). `--projects 10000 --measurements-per-kpi 0` times a 10,000-project register instead."""

import datetime as dt
import io
import resource
import time
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from openpyxl import Workbook

from imports import services
from imports.models import ImportJob
from imports.parsing import rows_of
from kpis.models import KPI
from projects.access import Role
from projects.models import Organization, Relationship


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _xlsx(rows) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class Command(BaseCommand):
    help = (
        "Benchmark spreadsheet imports: --projects projects with two KPIs and --measurements-per-kpi "
        "measurements per KPI (default 10: 20 × projects measurement rows), as XLSX sheets; parse, dry "
        "run and import times per sheet and for the whole register. Refuses a database whose name does "
        "not contain 'bench'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--projects", type=int, default=500)
        parser.add_argument("--measurements-per-kpi", type=int, default=10)

    def handle(self, *args, projects, measurements_per_kpi, **options):
        name = connection.settings_dict["NAME"] or ""
        if "bench" not in name:
            raise CommandError(f"Refusing to write into database {name!r}: use one named *bench*.")
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        # The job's body is timed here, in this process: nothing is queued.
        services._enqueue = lambda job_id: None
        run = uuid.uuid4().hex[:8]
        admin = get_user_model().objects.create_user(username=f"bench-import-{run}")
        admin.groups.add(Group.objects.get(name=Role.ADMIN))
        client = Organization.objects.create(name=f"Import bench client {run}", kind="client")
        provider = Organization.objects.create(name=f"Import bench provider {run}", kind="provider")
        relationship = Relationship.objects.create(
            name=f"Import bench {run}",
            client=client,
            provider=provider,
            contract_start=dt.date(2024, 1, 1),
            contract_end=dt.date(2028, 12, 31),
            external_id=f"rel-{run}",
        )
        kpis = [
            KPI.objects.create(
                code=f"fill_{run}", name=f"Fill rate {run}", unit="percent", direction="higher_is_better"
            ),
            KPI.objects.create(
                code=f"tat_{run}", name=f"Turnaround {run}", unit="hours", direction="lower_is_better"
            ),
        ]
        sheets = {
            "projects": _xlsx(
                [["external_id", "relationship", "title", "level", "stage", "investment"]]
                + [
                    [f"p-{run}-{n}", relationship.external_id, f"Project {n}", "process", "idea", 1000 + n]
                    for n in range(projects)
                ]
            ),
            "project_kpis": _xlsx(
                [["external_id", "project", "kpi", "baseline_value", "baseline_date", "target_value"]]
                + [
                    [f"pk-{run}-{n}-{k}", f"p-{run}-{n}", kpi.code, 60, dt.date(2025, 1, 1), 80]
                    for n in range(projects)
                    for k, kpi in enumerate(kpis)
                ]
            ),
            "measurements": _xlsx(
                [["external_id", "project_kpi", "measured_on", "value"]]
                + [
                    [f"m-{run}-{n}-{k}-{m}", f"pk-{run}-{n}-{k}", dt.date(2025, 2 + m, 1), "61,5"]
                    for n in range(projects)
                    for k in range(len(kpis))
                    for m in range(measurements_per_kpi)
                ]
            ),
        }
        if not measurements_per_kpi:
            del sheets["measurements"]
        self.stdout.write(
            f"Import benchmark on {name}: {projects} projects, {2 * projects} project KPIs, "
            f"{2 * measurements_per_kpi * projects} measurements (XLSX)"
        )
        self.stdout.write(
            f"{'sheet':<14}{'rows':>8}{'bytes':>11}{'parse s':>9}{'dry run s':>11}{'import s':>10}"
            f"{'rows/s':>9}{'peak RSS MiB':>14}"
        )
        totals = [0, 0, 0.0, 0.0, 0.0]  # rows, bytes, parse, dry run, import
        for record_type, content in sheets.items():
            started = time.perf_counter()
            rows = sum(1 for _ in rows_of(content, "xlsx")) - 1
            parsed = time.perf_counter() - started
            timings = []
            for dry_run in (True, False):
                job = services.import_create(
                    actor=admin, file_name=f"{record_type}.xlsx", content=content, record_type=record_type,
                    dry_run=dry_run,
                )  # fmt: skip
                started = time.perf_counter()
                services.import_run(job_id=job.pk)
                timings.append(time.perf_counter() - started)
                job.refresh_from_db()
                expected = ImportJob.Status.DRY_RUN_DONE if dry_run else ImportJob.Status.DONE
                if job.status != expected or job.rejected:
                    raise CommandError(f"{record_type}: {job.status} {job.message} {job.errors[:3]}")
            self.stdout.write(
                f"{record_type:<14}{rows:>8}{len(content):>11}{parsed:>9.2f}{timings[0]:>11.2f}{timings[1]:>10.2f}"
                f"{rows / timings[1]:>9.0f}{_peak_rss_mib():>14.0f}"
            )
            for index, value in enumerate((rows, len(content), parsed, *timings)):
                totals[index] += value
        rows, size, parsed, dry_run, imported = totals
        self.stdout.write(
            f"{'register':<14}{rows:>8}{size:>11}{parsed:>9.2f}{dry_run:>11.2f}{imported:>10.2f}"
            f"{rows / imported:>9.0f}{_peak_rss_mib():>14.0f}"
        )
        verdict = "meets" if imported < 30 else "misses"
        self.stdout.write(
            f"The whole register ({rows:,} rows in {len(sheets)} sheets) imported in {imported:.1f} s "
            f"(dry run {dry_run:.1f} s): {verdict} the 30 s goal; peak RSS {_peak_rss_mib():.0f} MiB."
        )

"""Time the QBR pack: one large relationship's pack, and the quarterly job over a sample of the
generated portfolio (extrapolated to all of it), with the peak memory of this process."""

import datetime as dt
import logging
import os
import resource
import statistics
import time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from kpis.models import KPI, Measurement, ProjectKPI, RelationshipScore
from kpis.rollup import rollup_history
from projects.models import InnovationProject, Organization, Relationship
from reviews.models import ReviewPack
from reviews.pack import pack_data
from reviews.quarters import Quarter
from reviews.render import pack_pdf
from reviews.services import pack_store, relationships_for_packs

LARGE_NAME = "QBR benchmark — large relationship"


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    help = (
        "Benchmark the QBR pack on the generated benchmark portfolio (make bench first): a relationship "
        "with --projects delivered projects over 12 months, and the quarterly job over --sample "
        "relationships. Refuses a database whose name does not contain 'bench'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--projects", type=int, default=40)
        parser.add_argument("--repeat", type=int, default=3)
        parser.add_argument("--sample", type=int, default=50, help="Relationships the job is timed on.")

    def handle(self, *args, projects, repeat, sample, **options):
        logging.getLogger("weasyprint").setLevel(logging.WARNING)  # its per-step progress lines
        name = connection.settings_dict["NAME"] or ""
        if "bench" not in name:
            raise CommandError(
                f"Refusing to write into database {name!r}: use one named *bench* (make bench)."
            )
        today = timezone.localdate()
        quarter = Quarter.last_complete(today)
        baseline_rss = _peak_rss_mib()
        large = self._large_relationship(projects, today)
        rollup_history(months=15, relationship_ids=[large.pk], force=True)
        relationship = relationships_for_packs().get(pk=large.pk)
        # Wall time and CPU time: on a shared machine the wall time is the CPU time stretched by
        # whatever else runs; the CPU time is what the pack costs.
        times, cpu_times, pages = [], [], 0
        for _ in range(repeat):
            started, cpu_started = time.perf_counter(), time.process_time()
            rendered = pack_pdf(pack_data(relationship, quarter))
            times.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu_started)
            pages = rendered.pages
        counted = RelationshipScore.objects.get(
            relationship=large, period=quarter.last_month
        ).projects_delivered
        self.stdout.write(f"Load average {' '.join(f'{value:.1f}' for value in os.getloadavg())}")
        self.stdout.write(
            f"Pack of {relationship.name} for {quarter.code}: {counted} projects behind the score, "
            f"{projects} delivered, {pages} pages, {len(rendered.pdf):,} bytes"
        )
        self.stdout.write(
            f"  render time median {statistics.median(times):.2f} s "
            f"(best {min(times):.2f} s, {repeat} runs), CPU {statistics.median(cpu_times):.2f} s; "
            f"peak RSS of this process {_peak_rss_mib():.0f} MiB (before rendering {baseline_rss:.0f} MiB)"
        )

        ids = list(
            relationships_for_packs()
            .exclude(pk=large.pk)
            .order_by("pk")
            .values_list("pk", flat=True)[:sample]
        )
        total = relationships_for_packs().count()
        rollup_history(months=15, relationship_ids=ids)
        ReviewPack.objects.filter(quarter=quarter.code).delete()
        started, cpu_started = time.perf_counter(), time.process_time()
        for relationship in relationships_for_packs().filter(pk__in=ids).iterator(chunk_size=100):
            pack_store(relationship=relationship, quarter=quarter)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        stored = ReviewPack.objects.filter(quarter=quarter.code)
        sizes = list(stored.values_list("size", flat=True))
        per_pack = elapsed / max(len(sizes), 1)
        self.stdout.write(
            f"Quarterly job over {len(sizes)} of {total:,} active relationships: {elapsed:.1f} s, "
            f"{per_pack:.2f} s a pack (CPU {cpu / max(len(sizes), 1):.2f} s), "
            f"median {statistics.median(sizes) / 1024:.0f} KiB a pack; "
            f"peak RSS {_peak_rss_mib():.0f} MiB"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Extrapolated to {total:,} packs: {per_pack * total / 60:.0f} min on one worker "
                f"(CPU {cpu / max(len(sizes), 1) * total / 60:.0f} min), "
                f"{sum(sizes) / len(sizes) * total / 2**20:.0f} MiB stored. Large pack "
                f"{statistics.median(times):.2f} s: {'within' if statistics.median(times) < 5 else 'ABOVE'} "
                "the goal of 5 s."
            )
        )

    def _large_relationship(self, projects: int, today: dt.date) -> Relationship:
        """A relationship with `projects` delivered over the last 12 months, two KPIs each measured
        monthly (rebuilt on every run)."""
        Measurement.objects.filter(project_kpi__project__relationship__name=LARGE_NAME).delete()
        ProjectKPI.objects.filter(project__relationship__name=LARGE_NAME).delete()
        InnovationProject.objects.filter(relationship__name=LARGE_NAME).delete()
        Relationship.objects.filter(name=LARGE_NAME).delete()
        client = Organization.objects.filter(kind="client").order_by("pk").first()
        provider = Organization.objects.filter(kind="provider").order_by("pk").first()
        if client is None or provider is None:
            raise CommandError("No generated portfolio here: run make bench first.")
        now = timezone.now()
        stamp = {"created_at": now, "updated_at": now, "version": 1, "change_stamp": 0}
        relationship = Relationship.objects.create(
            **stamp,
            name=LARGE_NAME,
            client=client,
            provider=provider,
            contract_start=today - dt.timedelta(days=2000),
            contract_end=today + dt.timedelta(days=1000),
            annual_contract_value=Decimal("9000000"),
            currency="USD",
            status="active",
        )
        kpis = list(KPI.objects.order_by("pk")[:4])
        levels = ["operational", "process", "strategic"]
        for number in range(projects):
            delivered_on = today - dt.timedelta(days=20 + number * 330 // projects)
            project = InnovationProject.objects.create(
                **stamp,
                relationship=relationship,
                title=f"Innovation project {number + 1:02d} — process redesign",
                level=levels[number % 3],
                stage="delivered",
                proposed_on=delivered_on - dt.timedelta(days=200),
                started_on=delivered_on - dt.timedelta(days=120),
                delivered_on=delivered_on,
                expected_annual_benefit=Decimal(100000 + number * 5000),
                realised_annual_benefit=Decimal(80000 + number * 4000) if number % 4 else None,
                gain_share_pct=Decimal("20") if number % 5 == 0 else None,
                gain_share_baseline=Decimal("50000") if number % 5 == 0 else None,
            )
            for offset, kpi in enumerate(kpis[number % 3 : number % 3 + 2]):
                baseline = Decimal(40 + offset * 10)
                project_kpi = ProjectKPI.objects.create(
                    **stamp,
                    project=project,
                    kpi=kpi,
                    unit=kpi.unit,
                    baseline_value=baseline,
                    baseline_date=delivered_on - dt.timedelta(days=180),
                    target_value=baseline * Decimal("1.3") if offset == 0 else None,
                )
                Measurement.objects.bulk_create(
                    Measurement(
                        **stamp,
                        project_kpi=project_kpi,
                        unit=kpi.unit,
                        measured_on=delivered_on - dt.timedelta(days=30 * month),
                        value=min(Decimal(100), baseline * (Decimal("1.25") - Decimal("0.02") * month)),
                    )
                    for month in range(12)
                    if delivered_on - dt.timedelta(days=30 * month) >= delivered_on - dt.timedelta(days=170)
                )
        return relationship

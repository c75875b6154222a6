import os
import statistics
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from demo import benchmark
from kpis.models import RelationshipScore
from kpis.rollup import rollup_scores
from outbox.tasks import relays_held


class Command(BaseCommand):
    help = (
        "The floor and the full roll-up of bench_scoring (same portfolio, same forced roll-up, tables "
        "vacuumed before each), with the CPU time each spends in this Python process and in its "
        "PostgreSQL backend beside the wall time. On a machine whose cores are busy the wall-time ratio "
        "follows the CPU ratio, whatever the pipelining overlaps. The backend's CPU is read from "
        "/proc, so it needs PostgreSQL on this host; it prints n/a otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--repeat", type=int, default=5, help="Interleaved runs of each (medians reported)."
        )

    def handle(self, *args, repeat, **options):
        if connection.vendor != "postgresql" or "bench" not in connection.settings_dict["NAME"]:
            raise CommandError(
                "Run it on the portfolio bench_scoring generated (a PostgreSQL database named *bench*)."
            )
        if benchmark.portfolio_counts().relationships == 0:
            raise CommandError("No portfolio here: run bench_scoring first.")
        today = timezone.localdate()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")
        tick = os.sysconf("SC_CLK_TCK")

        def backend_cpu() -> float | None:
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            return (int(fields[11]) + int(fields[12])) / tick  # utime + stime, in clock ticks

        def measured(run) -> tuple[float, float, float | None]:
            wall, python, backend = time.perf_counter(), time.process_time(), backend_cpu()
            run()
            after = backend_cpu()
            return (
                time.perf_counter() - wall,
                time.process_time() - python,
                None if backend is None or after is None else after - backend,
            )

        def rollup() -> None:
            rollup_scores(period=today, force=True)

        floors, rollups = [], []
        for _ in range(repeat):
            benchmark.vacuum_written_tables()
            floors.append(measured(lambda: benchmark.run_floor(today)))
            RelationshipScore.objects.filter(period=today.replace(day=1)).delete()
            benchmark.vacuum_written_tables()
            with relays_held():  # the relay of its events is another task (bench_scoring)
                rollups.append(measured(rollup))

        def median(runs, index) -> float | None:
            values = [run[index] for run in runs]
            return None if None in values else statistics.median(values) * 1000

        def ms(value) -> str:
            return "   n/a" if value is None else f"{value:6.0f}"

        self.stdout.write(f"  {repeat} runs each (medians, ms)      wall  Python CPU  PostgreSQL CPU")
        for label, runs in (("floor (one SQL statement)", floors), ("full roll-up (no skip)", rollups)):
            wall, python, backend = (ms(median(runs, index)) for index in range(3))
            self.stdout.write(f"  {label:<30} {wall}      {python}          {backend}")
        ratio = median(rollups, 0) / median(floors, 0)
        line = f"  ratio roll-up / floor: wall {ratio:.2f}"
        if median(floors, 2) is not None and median(rollups, 2) is not None:
            cpu = (median(rollups, 1) + median(rollups, 2)) / (median(floors, 1) + median(floors, 2))
            line += f", CPU (Python + PostgreSQL) {cpu:.2f}"
        self.stdout.write(f"{line}; load average {os.getloadavg()[0]:.1f}")

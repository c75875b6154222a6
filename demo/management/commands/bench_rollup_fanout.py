"""How the monthly roll-up scales out: one process, then the fanned-out roll-up on 1, 2 and 4 worker
processes, on a generated portfolio (10,000 relationships by default), each result checked against
the single-process roll-up row for row."""

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from bpo_portfolio.celery import app as celery_app
from demo import benchmark
from kpis.models import RelationshipScore
from kpis.rollup import SCORE_FIELDS, rollup_scores
from kpis.tasks import rollup_month_fanned_out

ROOT = Path(settings.BASE_DIR)

# One digest per stored row over every figure the roll-up writes (computed_at aside): comparing
# 10,000 rows of ~6 KB explanations in Python would cost more than the roll-up.
DIGEST_SQL = """
SELECT relationship_id, md5(row({columns})::text)
FROM kpis_relationshipscore WHERE period = %s ORDER BY relationship_id
"""


def _digests(period) -> dict[int, str]:
    meta = RelationshipScore._meta
    columns = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in SCORE_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(DIGEST_SQL.format(columns=columns), [period])
        return dict(cursor.fetchall())


class Command(BaseCommand):
    help = (
        "Benchmark the monthly roll-up fanned out over 1, 2 and 4 Celery worker processes against "
        "the single-process roll-up (PostgreSQL and Redis; replaces the portfolio tables, so it "
        "refuses a database whose name does not contain 'bench')."
    )

    def add_arguments(self, parser):
        parser.add_argument("--relationships", type=int, default=10_000)
        parser.add_argument("--projects", type=int, default=100_000)
        parser.add_argument("--measurements", type=int, default=1_000_000)
        parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
        parser.add_argument("--batch-size", type=int, default=500, help="Relationships per batch task.")
        parser.add_argument("--repeat", type=int, default=3, help="Timed runs of each (median reported).")
        parser.add_argument("--regenerate", action="store_true")

    def handle(
        self, *args, relationships, projects, measurements, workers, batch_size, repeat, regenerate, **o
    ):
        name = connection.settings_dict["NAME"]
        if connection.vendor != "postgresql" or "bench" not in name:
            raise CommandError("Runs on a PostgreSQL database named *bench* (see `make bench-fanout`).")
        broker = celery_app.conf.broker_url or ""
        if not broker.startswith("redis://") or celery_app.conf.task_always_eager or not settings.REDIS_URL:
            raise CommandError(
                "Needs Redis as broker and result backend: set REDIS_URL (a database number of its own)."
            )

        size = benchmark.PortfolioSize(relationships, projects, measurements)
        today = timezone.localdate()
        month = today.replace(day=1)
        existing = benchmark.portfolio_counts()
        if regenerate or (existing.relationships, existing.projects) != (relationships, projects):
            self.stdout.write(f"Generating {relationships:,} relationships, {projects:,} projects …")
            started = time.perf_counter()
            benchmark.generate_portfolio(size, today=today)
            self.stdout.write(f"  generated in {time.perf_counter() - started:.1f} s")
        size = benchmark.portfolio_counts()
        self.stdout.write(
            f"Portfolio: {size.relationships:,} relationships, {size.projects:,} projects, "
            f"{size.measurements:,} measurements; scoring {today:%Y-%m}; batches of {batch_size} "
            f"relationships; load average at start {os.getloadavg()[0]:.2f}."
        )
        celery_app.control.purge()

        def clear():
            RelationshipScore.objects.filter(period=month).delete()

        # The reference: one process, the roll-up's own batches in sequence.
        clear()
        rollup_scores(period=today)  # warm-up
        reference = _digests(month)
        single = []
        for _ in range(repeat):
            clear()
            started = time.perf_counter()
            rollup_scores(period=today)
            single.append(time.perf_counter() - started)
        if _digests(month) != reference:
            raise CommandError("Two single-process roll-ups disagree: the reference is not stable.")
        results = [("one process, no broker", single)]

        for count in workers:
            worker = self._start_worker(count)
            try:
                self._run_fanned_out(today, batch_size)  # warm-up: every child connects and imports
                times = []
                for _ in range(repeat):
                    clear()
                    times.append(self._run_fanned_out(today, batch_size))
                    digests = _digests(month)
                    if digests != reference:
                        differing = sorted(
                            k for k in set(digests) | set(reference) if digests.get(k) != reference.get(k)
                        )
                        raise CommandError(
                            f"{count} workers: {len(differing)} rows differ from the single-process roll-up, "
                            f"e.g. relationships {differing[:10]}"
                        )
            finally:
                self._stop_worker(worker)
            results.append((f"fanned out, {count} worker process{'es' if count > 1 else ''}", times))

        self.stdout.write(
            f"Every fanned-out run stored the same {len(reference):,} rows as the single-process roll-up."
        )
        base = statistics.median(single)
        one_worker = statistics.median(results[1][1]) if len(results) > 1 else base
        self.stdout.write(
            f"\n  {repeat} runs each                              median      best   vs 1 worker"
        )
        for label, times in results:
            median = statistics.median(times)
            self.stdout.write(
                f"  {label:<40} {median:6.2f} s {min(times):6.2f} s   {one_worker / median:5.2f}×"
            )
        self.stdout.write(f"  load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")

    def _run_fanned_out(self, today, batch_size) -> float:
        started = time.perf_counter()
        fanned = rollup_month_fanned_out(period=today, batch_size=batch_size)
        fanned.wait(timeout=1800)
        return time.perf_counter() - started

    def _start_worker(self, count: int) -> subprocess.Popen:
        node = f"fanout-bench-{count}-{os.getpid()}@localhost"
        database = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": (
                f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
                f"/{database['NAME']}"
            ),
            "CELERY_BROKER_URL": celery_app.conf.broker_url,
            "REDIS_URL": settings.REDIS_URL,
        }
        if database.get("PASSWORD"):
            env["PGPASSWORD"] = database["PASSWORD"]
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "bpo_portfolio",
                "worker",
                "--pool=prefork",
                f"--concurrency={count}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                node,
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if celery_app.control.ping(destination=[node], timeout=1.0):
                return worker
            if worker.poll() is not None:
                raise CommandError(f"The worker exited with {worker.returncode}.")
        self._stop_worker(worker)
        raise CommandError("The worker did not answer a ping within 60 s.")

    def _stop_worker(self, worker: subprocess.Popen) -> None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

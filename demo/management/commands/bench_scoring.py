import os
import statistics
import time
import tracemalloc

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from demo import benchmark
from kpis.models import RelationshipScore
from kpis.rollup import rollup_scores
from outbox.tasks import relays_held

# Issue 17: the full roll-up within 1.5× of the hand-written statement (median of three runs).
ROLLUP_RATIO_GOAL = 1.5


class Command(BaseCommand):
    help = (
        "Benchmark the current-month score roll-up against the SQL floor on a generated portfolio "
        "(PostgreSQL only; it replaces the portfolio tables, so it refuses a database whose name does "
        "not contain 'bench')."
    )

    def add_arguments(self, parser):
        parser.add_argument("--relationships", type=int, default=1_000)
        parser.add_argument("--projects", type=int, default=50_000)
        parser.add_argument("--measurements", type=int, default=1_000_000)
        parser.add_argument("--repeat", type=int, default=5, help="Timed runs of each (median reported).")
        parser.add_argument(
            "--regenerate",
            action="store_true",
            help="Generate the portfolio even if one of this size exists.",
        )

    def handle(self, *args, relationships, projects, measurements, repeat, regenerate, **options):
        name = connection.settings_dict["NAME"]
        if connection.vendor != "postgresql":
            raise CommandError("The benchmark runs on PostgreSQL: set DATABASE_URL (see `make bench`).")
        if "bench" not in name:
            raise CommandError(
                f"Refusing to replace the data of database {name!r}: use a database named *bench* "
                "(make bench uses BENCH_DATABASE_URL)."
            )
        size = benchmark.PortfolioSize(relationships, projects, measurements)
        today = timezone.localdate()
        existing = benchmark.portfolio_counts()
        if regenerate or (existing.relationships, existing.projects) != (relationships, projects):
            self.stdout.write(
                f"Generating {relationships:,} relationships, {projects:,} projects, "
                f"{size.project_kpis:,} project KPIs, ~{size.project_kpis * size.measurements_per_kpi:,} "
                "measurements …"
            )
            started = time.perf_counter()
            benchmark.generate_portfolio(size, today=today)
            self.stdout.write(f"  generated in {time.perf_counter() - started:.1f} s")
        size = benchmark.portfolio_counts()
        self.stdout.write(
            f"Portfolio: {size.relationships:,} relationships, {size.projects:,} projects, "
            f"{size.measurements:,} measurements; scoring {today:%Y-%m}."
        )

        relay_times = []

        def fresh_rollup():
            # A full roll-up: the month's rows deleted, and `force`, so that every relationship is
            # read, computed and written (none is skipped by its fingerprint). Timed as a worker
            # runs it with a broker: its score.changed events are written and one relay is queued,
            # which is another task; here the relay runs right after, timed on its own line.
            RelationshipScore.objects.filter(period=today.replace(day=1)).delete()
            benchmark.vacuum_written_tables()
            with relays_held():
                started = time.perf_counter()
                written = rollup_scores(period=today, force=True)
                elapsed = time.perf_counter() - started
                relay_started = time.perf_counter()
            relay_times.append(time.perf_counter() - relay_started)
            return elapsed, written

        def floor():
            started = time.perf_counter()
            rows = benchmark.run_floor(today)
            return time.perf_counter() - started, rows

        # Warm the caches of both, and check they agree before timing anything.
        _, floor_rows = floor()
        _, written = fresh_rollup()
        problems = benchmark.mismatches(floor_rows, today)
        if problems:
            raise CommandError("The roll-up disagrees with the floor:\n  " + "\n  ".join(problems[:20]))
        # Interleaved, so that each pair of runs sees the same load on the machine.
        relay_times.clear()
        floor_times, rollup_times = [], []
        for _ in range(repeat):
            benchmark.vacuum_written_tables()
            floor_times.append(floor()[0])
            rollup_times.append(fresh_rollup()[0])
        # Over the stored rows, nothing changed: the fingerprints let the roll-up skip every
        # relationship, against a forced full recompute of the same rows (which writes nothing
        # either, but reads and computes everything), interleaved.
        rerun_times, forced_times = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            unchanged = rollup_scores(period=today)
            rerun_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            forced = rollup_scores(period=today, force=True)
            forced_times.append(time.perf_counter() - started)
        assert unchanged == 0 and forced == 0

        RelationshipScore.objects.filter(period=today.replace(day=1)).delete()
        tracemalloc.start()
        rollup_scores(period=today)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        # Peer benchmarks over the month's stored scores: the product (one query for every cohort,
        # the figures and anonymity rules in Python) against the same percent_rank by hand.
        peer_floor = benchmark.run_peer_floor(today)
        problems = benchmark.peer_mismatches(peer_floor, benchmark.peer_benchmarks(today))
        if problems:
            raise CommandError(
                "The peer benchmarks disagree with the floor:\n  " + "\n  ".join(problems[:20])
            )
        peer_floor_times, peer_times, shaped_times = [], [], []
        for _ in range(repeat):
            started = time.perf_counter()
            benchmark.run_peer_floor(today)
            peer_floor_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            benchmark.peer_cohorts(today)
            peer_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            benchmark.peer_benchmarks(today)
            shaped_times.append(time.perf_counter() - started)
        shown = sum(1 for across, _ in benchmark.peer_benchmarks(today) if across.available)

        floor_time, rollup_time = statistics.median(floor_times), statistics.median(rollup_times)
        scored = RelationshipScore.objects.filter(period=today.replace(day=1))
        in_window = sum(row[5] for row in floor_rows.values())
        self.stdout.write(
            f"In the window: {in_window:,} delivered projects; {written:,} score rows; "
            f"figures identical to the floor's for all {len(floor_rows):,} relationships."
        )
        self.stdout.write(f"Tiers: {dict(sorted(_tier_counts(scored).items()))}")
        self.stdout.write("")
        self.stdout.write(f"  {repeat} runs each                              median      best")
        for label, times in (
            ("floor (one SQL statement)", floor_times),
            ("full roll-up (no skip), all rows written", rollup_times),
            ("  then the relay of its events (a task)", relay_times),
            ("full recompute, nothing changed (force)", forced_times),
            ("roll-up, nothing changed (fingerprints)", rerun_times),
            ("peer floor (percent_rank by hand)", peer_floor_times),
            ("peer cohorts, whole portfolio (product)", peer_times),
            ("  + every relationship's benchmark, x2", shaped_times),
        ):
            self.stdout.write(
                f"  {label:<40} {statistics.median(times) * 1000:6.0f} ms {min(times) * 1000:6.0f} ms"
            )
        ratio, best_ratio = rollup_time / floor_time, min(rollup_times) / min(floor_times)
        self.stdout.write(f"  {'ratio roll-up / floor':<40} {ratio:9.2f} {best_ratio:9.2f}")
        self.stdout.write(f"  roll-up peak Python memory (tracemalloc): {peak / 2**20:.1f} MiB")
        skip_ratio = statistics.median(forced_times) / statistics.median(rerun_times)
        self.stdout.write(f"  {'ratio full recompute / unchanged':<40} {skip_ratio:9.2f}")
        peer_ratio = statistics.median(peer_times) / statistics.median(peer_floor_times)
        shaped_ratio = statistics.median(shaped_times) / statistics.median(peer_floor_times)
        best_peer_ratio = min(peer_times) / min(peer_floor_times)
        self.stdout.write(f"  {'ratio peer cohorts / floor':<40} {peer_ratio:9.2f} {best_peer_ratio:9.2f}")
        self.stdout.write(f"  {'ratio all benchmarks shaped / floor':<40} {shaped_ratio:9.2f}")
        self.stdout.write(
            f"  peer benchmarks: {len(peer_floor):,} relationship-area pairs, {shown:,} with a benchmark, "
            "all equal to the floor's figures"
        )
        verdict = "within" if ratio <= ROLLUP_RATIO_GOAL else "ABOVE"
        self.stdout.write(
            self.style.SUCCESS(
                f"Full roll-up / floor {ratio:.2f} (medians; load average {os.getloadavg()[0]:.1f}): "
                f"{verdict} the goal of {ROLLUP_RATIO_GOAL}."
            )
        )
        verdict = "within" if peer_ratio <= 1.5 else "ABOVE"
        self.stdout.write(
            self.style.SUCCESS(
                f"Peer cohorts {peer_ratio:.2f}× the hand-written SQL: {verdict} the goal of 1.5×."
            )
        )
        verdict = "meets" if skip_ratio >= 3 else "BELOW"
        self.stdout.write(
            self.style.SUCCESS(
                f"Unchanged portfolio {skip_ratio:.2f}× faster than a full recompute: "
                f"{verdict} the goal of 3×."
            )
        )


def _tier_counts(scores) -> dict[str, int]:
    from django.db.models import Count

    return {row["tier"]: row["n"] for row in scores.values("tier").annotate(n=Count("id")).order_by()}

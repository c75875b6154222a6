import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kpis import scoring
from kpis.rollup import rollup_scores


class ProgressBar:
    """A one-line progress bar (redrawn in place on a terminal, one line per step otherwise)."""

    WIDTH = 30

    def __init__(self, stdout, total: int):
        self.stdout, self.total = stdout, total
        self.interactive = hasattr(stdout, "isatty") and stdout.isatty()

    def show(self, done: int, label: str) -> None:
        filled = self.WIDTH * done // max(self.total, 1)
        line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{self.total} {label}"
        if self.interactive:
            self.stdout.write(f"\r{line}\033[K", ending="")
            self.stdout.flush()
        else:
            self.stdout.write(line)

    def close(self) -> None:
        if self.interactive:
            self.stdout.write("")


class Command(BaseCommand):
    help = (
        "Compute and store monthly relationship scores — the same roll-up as the nightly Celery job. "
        "By default the current month for every live relationship; --months N also backfills the "
        "N-1 months before it. Idempotent: unchanged scores are not rewritten."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--months", type=int, default=1, help="How many months, ending with --month (default 1)."
        )
        parser.add_argument(
            "--month",
            help="The last month to roll up, as YYYY-MM (default: the current month).",
        )
        parser.add_argument(
            "--relationship",
            type=int,
            action="append",
            dest="relationships",
            metavar="ID",
            help="Only this relationship (repeatable).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Compute every row again even where its inputs' fingerprint is unchanged "
            "(after a change of the scoring code; rows whose figures come out the same are still "
            "not rewritten).",
        )

    def handle(self, *args, months, month, relationships, force, **options):
        if months < 1:
            raise CommandError("--months must be at least 1.")
        last = self._parse_month(month) if month else scoring.month_start(timezone.localdate())
        periods = [scoring.add_months(last, -offset) for offset in range(months - 1, -1, -1)]
        bar = ProgressBar(self.stdout, len(periods))
        started = time.monotonic()
        written = 0
        for index, period in enumerate(periods, start=1):
            step = time.monotonic()
            rows = rollup_scores(
                period=period, relationship_ids=relationships, reason="rollup_scores command", force=force
            )
            written += rows
            bar.show(index, f"{period:%Y-%m}: {rows} rows written in {time.monotonic() - step:.2f} s")
        bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"Rolled up {len(periods)} month(s), {periods[0]:%Y-%m} to {periods[-1]:%Y-%m}: "
                f"{written} score rows written in {time.monotonic() - started:.2f} s."
            )
        )

    @staticmethod
    def _parse_month(text: str) -> dt.date:
        try:
            return dt.datetime.strptime(text, "%Y-%m").date()
        except ValueError as error:
            raise CommandError(f"--month must look like 2026-11, not {text!r}.") from error

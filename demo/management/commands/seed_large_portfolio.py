import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from demo.scale import ScalePortfolio


class Command(BaseCommand):
    help = (
        "Add a large generated portfolio (default 1,000 relationships) with projects, KPIs, "
        "measurements and 12 months of scores, for looking at the dashboards at scale. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--relationships", type=int, default=1000, help="How many (default 1000).")

    def handle(self, *args, relationships: int, **options):
        if not 1 <= relationships <= 20000:
            raise CommandError("--relationships must be between 1 and 20000.")
        started = time.monotonic()
        result = ScalePortfolio(count=relationships).run()
        if connection.vendor == "postgresql" and result.relationships:
            # Thousands of rows arrived at once: refresh the planner's statistics now rather than
            # waiting for autovacuum, or the first dashboards are planned for empty tables.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {result.relationships} relationships, {result.projects} projects, "
                f"{result.project_kpis} project KPIs, {result.measurements} measurements and "
                f"{result.scores} monthly scores in {time.monotonic() - started:.1f} s."
            )
        )

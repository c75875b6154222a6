from django.core.management.base import BaseCommand
from django.db import connection

from demo.collaboration import TABLE_PEOPLE
from demo.portfolio import DEMO_PASSWORD, DEMO_USERS, MORE_ACCOUNT_MANAGERS, DemoSeeder
from kpis.rollup import rollup_history


class Command(BaseCommand):
    help = (
        "Create the demo portfolio (KPI catalogue, published cases, generated relationships, users). "
        "Idempotent."
    )

    def handle(self, *args, **options):
        created = DemoSeeder(stdout=self.stdout).run()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({created} records created)."))
        # Twelve months of score history, so dashboards have trends from the first sign-in.
        scores = rollup_history(months=12)
        self.stdout.write(f"Relationship scores for the last 12 months ready ({scores} rows written).")
        if connection.vendor == "postgresql":
            # The rows arrived at once: refresh the planner's statistics now rather than waiting for
            # autovacuum (off on some servers), or the first pages are planned for empty tables
            # (measured: the portfolio dashboard's top-improvements query took 98 ms unanalysed,
            # 2.7 ms analysed, at 25 relationships).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.stdout.write(f"Demo logins (password for each: {DEMO_PASSWORD}):")
        for demo in DEMO_USERS:
            self.stdout.write(f"  {demo.username:<10} {demo.role.label}")
        for person in TABLE_PEOPLE:
            side = "Northwind Aerospace" if person.organization.endswith("northwind-aerospace") else "Atlas"
            self.stdout.write(f"  {person.username:<10} {person.role.label} ({side})")
        others = ", ".join(demo.username for demo in MORE_ACCOUNT_MANAGERS)
        self.stdout.write(f"  ({others}: the other account managers)")

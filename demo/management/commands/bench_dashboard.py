"""Time the portfolio dashboard (the home page) at the demo portfolio's 25 relationships and with the
large generated portfolio beside it (about 1,025), in two databases, rendered alternately.

Each database is measured by a child process of this command (`--measure`, DATABASE_URL set to it):
it signs in the demo executive, renders the page once to warm the caches, then renders it
`--renders` times with Django's test client and prints its times, the queries of the last render
with each one's time, and `EXPLAIN (ANALYZE, BUFFERS)` of the slowest ones. The parent runs the two
children in turn `--rounds` times, so both sizes see the same load on the machine, and prints the
medians, their ratio and the plans.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

RATIO_GOAL = 1.5
DASHBOARD_USER = "executive"


class Command(BaseCommand):
    help = (
        "Benchmark the portfolio dashboard at 25 and at about 1,025 relationships (two PostgreSQL "
        "databases whose names contain 'bench': see `make bench-dashboard`)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--small-database-url", help="The demo portfolio alone (seed_demo).")
        parser.add_argument(
            "--large-database-url", help="The demo portfolio and seed_large_portfolio's 1,000 more."
        )
        parser.add_argument("--rounds", type=int, default=5, help="Alternations of the two databases.")
        parser.add_argument("--renders", type=int, default=5, help="Timed renders per database per round.")
        parser.add_argument("--explain", type=int, default=3, help="Plans shown: the slowest queries.")
        parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)

    def handle(
        self, *args, small_database_url, large_database_url, rounds, renders, explain, measure, **options
    ):
        if measure:
            self._measure(renders=renders, explain=explain)
            return
        if not small_database_url or not large_database_url:
            raise CommandError("Give --small-database-url and --large-database-url (make bench-dashboard).")
        for url in (small_database_url, large_database_url):
            if "bench" not in urllib.parse.urlparse(url).path:
                raise CommandError(f"Use databases whose names contain 'bench', not {url!r}.")
        sizes = {"small": small_database_url, "large": large_database_url}
        times: dict[str, list[float]] = {"small": [], "large": []}
        last: dict[str, dict] = {}
        loads = [os.getloadavg()[0]]
        for index in range(rounds):
            final = index == rounds - 1
            for size, url in sizes.items():
                result = self._child(url, renders=renders, explain=explain if final else 0)
                times[size].extend(result["times"])
                last[size] = result
            loads.append(os.getloadavg()[0])

        medians = {size: statistics.median(values) for size, values in times.items()}
        self.stdout.write(
            f"Load average (1 min) {min(loads):.1f}–{max(loads):.1f} over the run; "
            f"{rounds} rounds × {renders} renders per size, alternating."
        )
        for size in sizes:
            result = last[size]
            self.stdout.write("")
            self.stdout.write(
                f"{result['relationships']:,} relationships ({size}): median {medians[size] * 1000:.1f} ms, "
                f"best {min(times[size]) * 1000:.1f} ms; {len(result['queries'])} queries, "
                f"{sum(q['ms'] for q in result['queries']):.1f} ms of SQL in the last render"
            )
            for number, query in enumerate(result["queries"], 1):
                self.stdout.write(f"  {number:2}. {query['ms']:7.2f} ms  {query['sql'][:150]}")
            for plan in result["plans"]:
                self.stdout.write("")
                self.stdout.write(
                    f"  EXPLAIN (ANALYZE, BUFFERS) of query {plan['number']} ({plan['ms']:.2f} ms):"
                )
                for line in plan["plan"]:
                    self.stdout.write(f"    {line}")
        ratio = medians["large"] / medians["small"]
        best_ratio = min(times["large"]) / min(times["small"])
        self.stdout.write(f"Ratio of the best renders: {best_ratio:.2f}")
        self.stdout.write("")
        verdict = "within" if ratio <= RATIO_GOAL else "ABOVE"
        self.stdout.write(
            self.style.SUCCESS(
                f"Portfolio dashboard at {last['large']['relationships']:,} relationships / at "
                f"{last['small']['relationships']:,}: {ratio:.2f} (medians), {verdict} the goal of "
                f"{RATIO_GOAL}."
            )
        )

    def _child(self, url: str, *, renders: int, explain: int) -> dict:
        command = [
            sys.executable,
            str(settings.BASE_DIR / "manage.py"),
            "bench_dashboard",
            "--measure",
            f"--renders={renders}",
            f"--explain={explain}",
        ]
        env = {**os.environ, "DATABASE_URL": url}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise CommandError(f"Measuring {url} failed:\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def _measure(self, *, renders: int, explain: int) -> None:
        from django.contrib.auth import get_user_model
        from django.test import Client

        from projects.models import Relationship

        name = connection.settings_dict["NAME"] or ""
        if connection.vendor != "postgresql" or "bench" not in name:
            raise CommandError("Measure on a PostgreSQL database whose name contains 'bench'.")
        settings.DEBUG = False
        user = get_user_model().objects.filter(username=DASHBOARD_USER).first()
        if user is None:
            raise CommandError(f"No user {DASHBOARD_USER!r}: run seed_demo on {name!r} first.")
        client = Client()
        client.force_login(user)
        queries: list[dict] = []

        def timed(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                queries.append({"sql": sql, "params": params, "ms": (time.perf_counter() - started) * 1000})

        def render() -> float:
            queries.clear()
            started = time.perf_counter()
            with connection.execute_wrapper(timed):
                response = client.get("/")
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise CommandError(f"The dashboard answered {response.status_code}.")
            return elapsed

        render()  # warm: templates, content types, the session
        times = [render() for _ in range(renders)]
        plans = []
        slowest = sorted(range(len(queries)), key=lambda index: -queries[index]["ms"])[:explain]
        for index in sorted(slowest):
            query = queries[index]
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"], query["params"])
                plans.append(
                    {"number": index + 1, "ms": query["ms"], "plan": [row[0] for row in cursor.fetchall()]}
                )
        result = {
            "relationships": Relationship.objects.filter(deleted_at__isnull=True).count(),
            "times": times,
            "queries": [{"sql": query["sql"], "ms": query["ms"]} for query in queries],
            "plans": plans,
        }
        self.stdout.write(json.dumps(result, default=str))

"""API reads against a hand-written floor: `make bench-api` (see docs/BENCHMARKS.md).

The product (gunicorn, the production settings, 2 sync workers, throttles raised) and the floor
(load/floor.py's `projects_application`: the same projects with the same fields, one raw query per
answer, under the same gunicorn settings) serve the same generated portfolio. The command first
checks that both answer the same JSON on every page of the list and for a sample of details, then
measures them interleaved — alternating timed rounds of back-to-back requests from N threads, each
with its own keep-alive connection — at each concurrency, and prints requests/s and the ratio.
"""

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.services import issue_token, revoke_token, tokens_of
from projects.models import InnovationProject, Relationship

TOKEN_NAME = "api benchmark"
LIST_PATH = "/api/v1/projects/"
# Keys of the list answer both sides must show alike: the sync cursor names the database's position
# (the floor has none) and the page links carry the query in the order the client sent it.
COMPARED_LIST_KEYS = ("count", "has_more", "reset", "results")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@contextlib.contextmanager
def serving(command: list[str], env: dict, log: Path, *, port: int, ready_path: str, cwd: Path):
    """A gunicorn server, stopped on the way out (whatever happens in between)."""
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    status, _ = fetch(port, ready_path, {})
                    if status < 500:
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise CommandError(f"{command[-1]} did not start; see {log}")
                time.sleep(0.2)
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def fetch(port: int, path: str, headers: dict) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def timed_round(port: int, paths: list[str], headers: dict, *, threads: int, seconds: float) -> float:
    """Requests per second over `seconds`, from `threads` clients sending back to back."""
    stop = time.monotonic() + seconds
    counts = [0] * threads
    failures = []

    def client(number: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        rng = random.Random(number)
        try:
            while time.monotonic() < stop:
                conn.request("GET", rng.choice(paths), headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failures.append(response.status)
                    return
                counts[number] += 1
        finally:
            conn.close()

    started = time.monotonic()
    workers = [threading.Thread(target=client, args=(number,)) for number in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    if failures:
        raise CommandError(f"A request on port {port} answered {failures[0]}")
    return sum(counts) / elapsed


class Command(BaseCommand):
    help = (
        "GET /api/v1/projects/ (list and detail) under gunicorn against a hand-written WSGI floor on "
        "the same data, interleaved, at concurrency 1 and 4 (refuses a database whose name does not "
        "contain 'bench')."
    )

    def add_arguments(self, parser):
        parser.add_argument("--relationships", type=int, default=1000, help="Generated relationships.")
        parser.add_argument("--page-size", type=int, default=100)
        parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
        parser.add_argument("--rounds", type=int, default=5, help="Timed rounds of each side.")
        parser.add_argument("--seconds", type=float, default=3.0, help="Length of one round.")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers, each side.")
        parser.add_argument(
            "--only", choices=["list", "detail"], default=None, help="Measure one endpoint only."
        )
        parser.add_argument(
            "--app-dir",
            type=Path,
            default=None,
            help="Serve the app from another checkout of the code (an earlier commit, to compare); "
            "the floor is served from this one.",
        )

    def handle(
        self, *args, relationships, page_size, concurrency, rounds, seconds, workers, only, app_dir, **options
    ):
        if connection.vendor != "postgresql" or "bench" not in connection.settings_dict["NAME"]:
            raise CommandError("Use a PostgreSQL database whose name contains 'bench' (this writes rows).")
        token = self._prepare(relationships)
        live = InnovationProject.objects.filter(deleted_at=None, relationship__deleted_at=None)
        count = live.count()
        pages = -(-count // page_size)
        list_paths = [f"{LIST_PATH}?page={page}&page_size={page_size}" for page in range(1, pages + 1)]
        ids = list(live.order_by("pk").values_list("pk", flat=True))
        detail_paths = [f"{LIST_PATH}{pk}/" for pk in random.Random(17).sample(ids, min(len(ids), 400))]
        self.stdout.write(
            f"API read benchmark: {Relationship.objects.filter(deleted_at=None).count()} relationships, "
            f"{count} live projects, {pages} pages of {page_size}; gunicorn {workers} sync workers each; "
            f"load average {load_average()}" + (f"; the app served from {app_dir}" if app_dir else "")
        )
        workdir = Path(tempfile.mkdtemp(prefix="bench-api-"))
        env = self._server_env(workers, workdir)
        app_port, floor_port = free_port(), free_port()
        gunicorn = [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            "python:bpo_portfolio.gunicorn_conf",
        ]
        headers = {"Authorization": f"Token {token}"}
        with (
            serving(
                [*gunicorn, "--bind", f"127.0.0.1:{app_port}", "bpo_portfolio.wsgi:application"],
                env,
                workdir / "app.log",
                port=app_port,
                ready_path="/healthz",
                cwd=app_dir or settings.BASE_DIR,
            ),
            serving(
                [*gunicorn, "--bind", f"127.0.0.1:{floor_port}", "load.floor:projects_application"],
                env,
                workdir / "floor.log",
                port=floor_port,
                ready_path=f"{LIST_PATH}?page_size=1",
                cwd=settings.BASE_DIR,
            ),
        ):
            self._check_same_answers(app_port, floor_port, headers, list_paths, detail_paths[:100])
            endpoints = {"list": list_paths, "detail": detail_paths}
            for name, paths in endpoints.items():
                if only and name != only:
                    continue
                for threads in concurrency:
                    self._measure(name, paths, app_port, floor_port, headers, threads, rounds, seconds)
        self.stdout.write(f"Load average at the end: {load_average()}")

    def _prepare(self, relationships: int) -> str:
        """The demo portfolio and a generated one beside it (reused when present), and a fresh API
        token of the demo admin."""
        if not User.objects.filter(username="admin").exists():
            call_command("seed_demo", verbosity=0)
        call_command("seed_large_portfolio", relationships=relationships, verbosity=0)  # idempotent
        admin = User.objects.get(username="admin")
        for old in tokens_of(admin).filter(name=TOKEN_NAME):
            revoke_token(admin, old.pk)
        return issue_token(admin, name=TOKEN_NAME, expires_in_days=1)[1]

    def _server_env(self, workers: int, workdir: Path) -> dict:
        (workdir / "metrics").mkdir()
        return {
            **os.environ,
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "DJANGO_ENV": "production",
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only-" + os.urandom(16).hex()),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on loopback: no HTTPS redirect, no secure-only cookies.
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_COOKIES": "false",
            "DJANGO_HSTS_SECONDS": "0",
            "DJANGO_LOG_LEVEL": "WARNING",
            # One account sends all the traffic: the per-user API rates would stop it.
            "API_THROTTLE_API": "10000000/min",
            "API_THROTTLE_SYNC": "10000000/min",
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_ACCESS_LOG": "/dev/null",
            # Workers are not recycled in the middle of a round.
            "GUNICORN_MAX_REQUESTS": "0",
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        }

    def _check_same_answers(self, app_port, floor_port, headers, list_paths, detail_paths):
        for path in list_paths:
            app_status, app_body = fetch(app_port, path, headers)
            floor_status, floor_body = fetch(floor_port, path, {})
            if app_status != 200 or floor_status != 200:
                raise CommandError(f"{path}: the app answered {app_status}, the floor {floor_status}")
            app, floor = json.loads(app_body), json.loads(floor_body)
            for key in COMPARED_LIST_KEYS:
                if app[key] != floor[key]:
                    raise CommandError(f"{path}: the app and the floor differ in {key!r}")
        for path in detail_paths:
            app_status, app_body = fetch(app_port, path, headers)
            floor_status, floor_body = fetch(floor_port, path, {})
            if (app_status, json.loads(app_body)) != (floor_status, json.loads(floor_body)):
                raise CommandError(f"{path}: the app and the floor answer differently")
        self.stdout.write(
            f"Same answers: all {len(list_paths)} pages ({', '.join(COMPARED_LIST_KEYS)}) and "
            f"{len(detail_paths)} details are equal as JSON."
        )

    def _measure(self, name, paths, app_port, floor_port, headers, threads, rounds, seconds):
        timed_round(app_port, paths, headers, threads=threads, seconds=1)  # warm both sides up
        timed_round(floor_port, paths, {}, threads=threads, seconds=1)
        app_rates, floor_rates, loads = [], [], []
        for number in range(rounds):
            # Alternate which side goes first, so a drift in the machine's load hits both alike.
            order = [("app", app_port, headers), ("floor", floor_port, {})]
            for side, port, side_headers in order if number % 2 == 0 else order[::-1]:
                rate = timed_round(port, paths, side_headers, threads=threads, seconds=seconds)
                (app_rates if side == "app" else floor_rates).append(rate)
            loads.append(os.getloadavg()[0])
        app, floor = statistics.median(app_rates), statistics.median(floor_rates)
        ratios = [a / f for a, f in zip(app_rates, floor_rates, strict=True)]
        self.stdout.write(
            f"{name:<6} concurrency {threads}: app {app:7.1f} req/s, floor {floor:7.1f} req/s, "
            f"app/floor {app / floor:.2f} (rounds {min(ratios):.2f}–{max(ratios):.2f}; "
            f"load {min(loads):.2f}–{max(loads):.2f})"
        )

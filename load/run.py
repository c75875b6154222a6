"""The load test, start to finish: `make load` runs it (docs/BENCHMARKS.md has the figures).

1. Prepares a PostgreSQL database of its own (migrations, the demo portfolio, a generated one beside
   it, counter projects, API keys: `manage.py prepare_load`).
2. Serves the app with gunicorn and the production config on a loopback port, with a Celery worker
   on Redis (the writes queue score recomputes), and finds its *saturation point*: locust users
   sending back to back, more at every step, until p95 passes 1 s or a request fails; the
   saturation point is the highest throughput of a step that passed.
3. Runs the same mix at 80 % of that rate (each user at a fixed rate) and reports p50/p95/p99,
   errors, and lost updates (a counter's end value against its start plus the successful writes).
4. Does steps 2 and 3 again for the floor (load/floor.py, the same first page of projects from one
   hand-written query) under the same gunicorn settings.

Everything listens on 127.0.0.1 only, and every phase is bounded in time. It runs with the load
test's own Python (.venv-load, with locust) and starts the app with the app's (--app-python).
"""

import argparse
import csv
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@contextmanager
def serving(command: list[str], env: dict, log: Path, *, health_url: str | None = None):
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            if health_url:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        requests.get(health_url, timeout=5)
                        break
                    except requests.RequestException:
                        if process.poll() is not None or time.monotonic() > deadline:
                            raise SystemExit(f"{command[0]} did not start; see {log}") from None
                        time.sleep(0.2)
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_locust(
    args, *, user_class: str, host: str, users: int, seconds: int, rate: float, workdir: Path
) -> dict:
    """One headless locust run; the aggregated figures of its stats CSV."""
    prefix = workdir / f"{user_class}-{users}-{int(rate * 1000)}-{time.monotonic_ns()}"
    results = prefix.with_suffix(".writes.json")
    env = {
        **os.environ,
        "LOAD_DATA": str(args.data),
        "LOAD_RATE_PER_USER": str(rate),
        "LOAD_RESULTS": str(results),
    }
    locust = str(Path(sys.executable).with_name("locust"))
    command = [
        locust, "-f", str(ROOT / "load" / "locustfile.py"), "--headless", "--users", str(users),
        "--spawn-rate", str(users), "--run-time", f"{seconds}s", "--host", host, "--csv", str(prefix),
        "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING", user_class,
    ]  # fmt: skip
    loads = [os.getloadavg()[0]]
    subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    loads.append(os.getloadavg()[0])
    with open(f"{prefix}_stats.csv", newline="") as stats:
        rows = list(csv.DictReader(stats))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    measured = [
        row for row in rows if row["Name"] not in ("Aggregated",) and not row["Name"].startswith("setup")
    ]
    requests_measured = sum(int(row["Request Count"]) for row in measured)
    failures_measured = sum(int(row["Failure Count"]) for row in measured)
    by_kind = {}
    for row in measured:
        kind = row["Name"].split(":")[0]
        by_kind[kind] = by_kind.get(kind, 0) + int(row["Request Count"])
    writes = json.loads(results.read_text()) if results.exists() else {"writes_ok": {}, "conflicts": {}}
    return {
        "users": users,
        "rate_per_user": rate,
        "seconds": seconds,
        "requests": requests_measured,
        "failures": failures_measured,
        # locust's own rate: requests over the time it was sending them (start-up excluded).
        "rps": float(total["Requests/s"] or 0),
        "p50": float(total["50%"] or 0),
        "p95": float(total["95%"] or 0),
        "p99": float(total["99%"] or 0),
        "mix": by_kind,
        "writes": writes,
        "load": loads,
    }


def find_saturation(
    args, *, user_class: str, host: str, workdir: Path, label: str
) -> tuple[dict, list[dict]]:
    steps, best = [], None
    for users in args.steps:
        step = run_locust(
            args,
            user_class=user_class,
            host=host,
            users=users,
            seconds=args.step_seconds,
            rate=0,
            workdir=workdir,
        )
        passed = step["p95"] <= args.p95_limit_ms and step["failures"] == 0
        steps.append({**step, "passed": passed})
        print(
            f"  {label} step {users:>3} users: {step['rps']:7.1f} req/s  p50 {step['p50']:6.0f} ms  "
            f"p95 {step['p95']:6.0f} ms  failures {step['failures']}  "
            f"load {step['load'][0]:.1f}→{step['load'][1]:.1f}" + ("" if passed else "  ← over the limit"),
            flush=True,
        )
        if passed and (best is None or step["rps"] > best["rps"]):
            best = step
        if not passed:
            break
        if best is not None and step["rps"] < best["rps"] * 0.95 and step is not best:
            break  # more users, less throughput: past the knee
    if best is None:
        raise SystemExit(f"{label}: even the first step failed the limits; see the logs in {workdir}")
    return best, steps


def counter_values(host: str, token: str, counters: list[int]) -> dict[str, str]:
    headers = {"Authorization": f"Token {token}"}
    return {
        str(pk): requests.get(f"{host}/api/v1/projects/{pk}/", headers=headers, timeout=30).json()[
            "investment"
        ]
        for pk in counters
    }


def phase(args, *, user_class: str, host: str, workdir: Path, label: str, data: dict | None) -> dict:
    saturation, steps = find_saturation(args, user_class=user_class, host=host, workdir=workdir, label=label)
    users = saturation["users"]
    rate = 0.8 * saturation["rps"] / users
    before = counter_values(host, data["accounts"]["admin"]["token"], data["counters"]) if data else None
    at_80 = run_locust(
        args,
        user_class=user_class,
        host=host,
        users=users,
        seconds=args.hold_seconds,
        rate=rate,
        workdir=workdir,
    )
    lost = None
    if data:
        after = counter_values(host, data["accounts"]["admin"]["token"], data["counters"])
        ok = at_80["writes"]["writes_ok"]
        lost = sum(
            int(ok.get(pk, 0)) - (float(after[pk]) - float(before[pk])) for pk in map(str, data["counters"])
        )
    print(
        f"  {label} at 80 % ({0.8 * saturation['rps']:.1f} req/s asked, {users} users): "
        f"{at_80['rps']:.1f} req/s  "
        f"p50 {at_80['p50']:.0f} ms  p95 {at_80['p95']:.0f} ms  p99 {at_80['p99']:.0f} ms  "
        f"failures {at_80['failures']}" + (f"  lost updates {lost:g}" if lost is not None else ""),
        flush=True,
    )
    return {"saturation": saturation, "steps": steps, "at_80": at_80, "lost_updates": lost}


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--app-python", type=Path, default=ROOT / ".venv" / "bin" / "python")
    parser.add_argument("--database-url", default=os.environ.get("LOAD_DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("LOAD_REDIS_URL", ""))
    parser.add_argument("--relationships", type=int, default=200)
    parser.add_argument("--web-workers", type=int, default=os.cpu_count() * 2 + 1)
    parser.add_argument("--steps", type=int, nargs="+", default=[2, 4, 8, 12, 16, 24, 32])
    parser.add_argument("--step-seconds", type=int, default=20)
    parser.add_argument("--hold-seconds", type=int, default=60)
    parser.add_argument("--warmup-seconds", type=int, default=10)
    parser.add_argument("--p95-limit-ms", type=float, default=1000, help="Saturation: p95 above this.")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--output", type=Path, default=ROOT / "load-results")
    args = parser.parse_args()
    if "load" not in urlparse(args.database_url).path:
        raise SystemExit("--database-url (LOAD_DATABASE_URL) must name a PostgreSQL database called *load*.")
    if not args.redis_url.startswith("redis://"):
        raise SystemExit(
            "--redis-url (LOAD_REDIS_URL) must be a Redis URL with a database number of its own."
        )

    args.output.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="load-", dir=args.output))
    args.data = workdir / "data.json"
    app_bin = args.app_python.parent
    app_env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "load-test-only-" + os.urandom(16).hex()),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on loopback: no HTTPS redirect, no secure-only cookies.
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_HSTS_SECONDS": "0",
        "DJANGO_LOG_LEVEL": "WARNING",
        # Four accounts carry the traffic of many people here: the per-user API rates would stop them.
        "API_THROTTLE_API": "10000000/min",
        "API_THROTTLE_SYNC": "10000000/min",
        "GUNICORN_WORKERS": str(args.web_workers),
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
    }
    (workdir / "metrics").mkdir()
    manage = [str(args.app_python), "manage.py"]
    print(f"Load test {dt.datetime.now():%Y-%m-%d %H:%M}; load average {load_average()}; files in {workdir}")
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=app_env, check=True)
    subprocess.run(
        [*manage, "prepare_load", "--relationships", str(args.relationships), "--output", str(args.data)],
        cwd=ROOT,
        env=app_env,
        check=True,
    )
    subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=app_env, check=True)
    data = json.loads(args.data.read_text())
    report = {"started": dt.datetime.now().isoformat(), "cores": os.cpu_count(), "load_start": load_average()}

    port = free_port()
    host = f"http://127.0.0.1:{port}"
    gunicorn = [str(app_bin / "gunicorn"), "-c", "python:bpo_portfolio.gunicorn_conf"]
    web_env = {**app_env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    worker = [str(app_bin / "celery"), "-A", "bpo_portfolio", "worker", "--pool=solo", "-l", "WARNING"]
    print(f"The app: gunicorn ({args.web_workers} workers) and a Celery worker on {args.redis_url}")
    app = [*gunicorn, "bpo_portfolio.wsgi:application"]
    with (
        serving(app, web_env, workdir / "web.log", health_url=f"{host}/healthz"),
        serving(worker, app_env, workdir / "worker.log"),
    ):
        report["app"] = phase(
            args, user_class="PortfolioUser", host=host, workdir=workdir, label="app", data=data
        )
    if not args.skip_floor:
        print("The floor: load/floor.py under the same gunicorn settings")
        with serving(
            [*gunicorn, "load.floor:application"],
            web_env,
            workdir / "floor.log",
            health_url=f"{host}/healthz",
        ):
            report["floor"] = phase(
                args, user_class="FloorUser", host=host, workdir=workdir, label="floor", data=None
            )
        ratio = report["floor"]["saturation"]["rps"] / report["app"]["saturation"]["rps"]
        report["floor_over_app"] = ratio
        print(
            f"Saturation: app {report['app']['saturation']['rps']:.1f} req/s, floor "
            f"{report['floor']['saturation']['rps']:.1f} req/s: the floor serves {ratio:.1f}× as many."
        )
    report["load_end"] = load_average()
    mix = report["app"]["at_80"]["mix"]
    total = sum(mix.values())
    print(
        "Mix at 80 %: "
        + ", ".join(f"{kind} {100 * count / total:.0f} %" for kind, count in sorted(mix.items()))
    )
    print(f"Load average at the end: {report['load_end']}")
    (workdir / "report.json").write_text(json.dumps(report, indent=2))
    print(f"Report: {workdir / 'report.json'}")


if __name__ == "__main__":
    main()

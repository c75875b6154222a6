"""Real servers for the operations tests, each a subprocess with its own environment on a free
loopback port: gunicorn with the production config, a Celery worker, a private Redis."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def served_database_url() -> str:
    """The URL of the database this test run uses (where the migrations have run)."""
    settings_dict = connection.settings_dict
    if connection.vendor == "postgresql":
        user, host, db_port = settings_dict["USER"], settings_dict["HOST"], settings_dict["PORT"]
        return f"postgres://{user}@{host}:{db_port}/{settings_dict['NAME']}"
    return f"sqlite:///{settings_dict['NAME']}"


@contextmanager
def running_gunicorn(metrics_dir: Path, *, log: Path | None = None, **extra_env: str):
    """gunicorn with the production config on a free loopback port, serving the test database;
    yields (base URL, process) once it answers, stops it after. Its output is the process's stdout,
    or goes to `log` when given (a long test would fill the pipe)."""
    port = free_port()
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DATABASE_URL": served_database_url(),
        **extra_env,
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    output = log.open("w") if log is not None else subprocess.PIPE
    process = subprocess.Popen(
        [str(gunicorn), "-c", "python:bpo_portfolio.gunicorn_conf", "bpo_portfolio.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.RequestException:
                if process.poll() is not None:
                    pytest.fail(f"gunicorn exited: {log.read_text() if log else process.stdout.read()}")
                time.sleep(0.1)
        yield base, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        if log is not None:
            output.close()


def require_postgresql_and_redis_server() -> None:
    """Skip (fail in CI) unless the run uses PostgreSQL and `redis-server` is installed: the servers
    started here share the test database with the test and need a Redis of their own."""
    import shutil

    problems = []
    if connection.vendor != "postgresql":
        problems.append("PostgreSQL (a server process shares the test database)")
    if not shutil.which("redis-server"):
        problems.append("redis-server (a private Redis is started and stopped)")
    if problems:
        message = "needs " + " and ".join(problems)
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


class PrivateRedis:
    """A redis-server of this test's own on a free loopback port, without persistence, that the test
    may stop and start again (on the same port): the machine's shared Redis is never touched."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url(), socket_connect_timeout=1).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        pytest.fail(f"the private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None


@contextmanager
def running_celery_worker(log: Path, *, beat_schedule: Path | None = None, **extra_env: str):
    """A Celery worker (solo pool) on the test database, logging into `log`, with an embedded beat
    when `beat_schedule` names its schedule file (beat's file scheduler, not the database one, so
    nothing is left in the test database's beat tables); yields the process, stops it after."""
    env = {**os.environ, "DATABASE_URL": served_database_url(), **extra_env}
    command = [
        str(Path(sys.executable).with_name("celery")), "-A", "bpo_portfolio", "worker", "--pool=solo",
        "--without-gossip", "--without-mingle", "-l", "INFO",
    ]  # fmt: skip
    if beat_schedule is not None:
        command += [
            "--beat",
            "--scheduler",
            "celery.beat:PersistentScheduler",
            "--schedule",
            str(beat_schedule),
        ]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

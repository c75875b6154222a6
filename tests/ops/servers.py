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
def running_celery_worker(
    log: Path, *, beat_schedule: Path | None = None, queues: str | None = None, **extra_env: str
):
    """A Celery worker (solo pool) on the test database, logging into `log`, with an embedded beat
    when `beat_schedule` names its schedule file (beat's file scheduler, not the database one, so
    nothing is left in the test database's beat tables); yields the process, stops it after."""
    env = {**os.environ, "DATABASE_URL": served_database_url(), **extra_env}
    command = [
        str(Path(sys.executable).with_name("celery")), "-A", "bpo_portfolio", "worker", "--pool=solo",
        "--without-gossip", "--without-mingle", "-l", "INFO",
    ]  # fmt: skip
    if queues is not None:
        command += ["-Q", queues]
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


class PrivatePgBouncer:
    """A PgBouncer of this test's own, in transaction mode, in front of the test database.

    Two server connections used in turn (`server_round_robin`): consecutive transactions of one
    client land on different server connections, so anything that outlives a transaction (a WITH
    HOLD cursor, a session setting, a prepared statement) fails at once instead of now and then.
    """

    def __init__(self):
        import shutil
        import tempfile

        self.binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        # Its own directory, readable by the postgres user PgBouncer switches to when started as
        # root (it refuses to run as root).
        self.directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def database_url(self) -> str:
        return f"postgres://{connection.settings_dict['USER']}@127.0.0.1:{self.port}/{connection.settings_dict['NAME']}"

    def start(self) -> None:
        settings_dict = connection.settings_dict
        user = settings_dict["USER"] or "postgres"
        (self.directory / "userlist.txt").write_text(f'"{user}" ""\n')
        (self.directory / "pgbouncer.ini").write_text(
            f"""[databases]
{settings_dict["NAME"]} = host={settings_dict["HOST"] or "127.0.0.1"} port={settings_dict["PORT"] or 5432} \
dbname={settings_dict["NAME"]} user={user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.directory / "userlist.txt"}
admin_users = {user}
pool_mode = transaction
default_pool_size = 2
min_pool_size = 2
server_round_robin = 1
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
logfile = {self.directory / "pgbouncer.log"}
"""
        )
        command = [self.binary, str(self.directory / "pgbouncer.ini")]
        if os.geteuid() == 0:
            import pwd

            postgres = pwd.getpwnam("postgres")
            os.chown(self.directory, postgres.pw_uid, postgres.pw_gid)
            for path in self.directory.iterdir():
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
            command[1:1] = ["-u", "postgres"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import psycopg2

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                psycopg2.connect(self.database_url(), connect_timeout=2).close()
                return
            except psycopg2.OperationalError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        log = self.directory / "pgbouncer.log"
        pytest.fail(f"PgBouncer did not start: {log.read_text() if log.exists() else 'no log'}")

    def open_both_server_connections(self) -> None:
        """Two clients in a transaction at once make PgBouncer open both server connections; after
        that, a client's consecutive transactions alternate between them."""
        import psycopg2

        clients = [psycopg2.connect(self.database_url()) for _ in range(2)]
        try:
            for client in clients:
                with client.cursor() as cursor:
                    cursor.execute("SELECT 1")  # psycopg2 opens a transaction: a server connection each
        finally:
            for client in clients:
                client.rollback()
                client.close()

    def stats(self) -> dict:
        """`SHOW STATS` of the admin console, for this database."""
        import psycopg2

        admin = psycopg2.connect(
            dbname="pgbouncer",
            user=connection.settings_dict["USER"] or "postgres",
            host="127.0.0.1",
            port=self.port,
        )
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                cursor.execute("SHOW STATS")
                columns = [column[0] for column in cursor.description]
                for row in cursor.fetchall():
                    if row[0] == connection.settings_dict["NAME"]:
                        return dict(zip(columns, row, strict=True))
        finally:
            admin.close()
        return {}

    def stop(self) -> None:
        import shutil

        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        shutil.rmtree(self.directory, ignore_errors=True)

"""Production settings pass Django's deployment checklist, and a PostgreSQL backup restores whole."""

import datetime as dt
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from kpis.models import RelationshipScore
from kpis.rollup import rollup_scores
from projects.models import AuditEntry
from tests.factories import MeasurementFactory

ROOT = Path(__file__).resolve().parent.parent.parent
SCRUBBED = (
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DJANGO_DEBUG",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_HSTS_SECONDS",
    "DJANGO_SECURE_COOKIES",
)


def _check_deploy(**env_overrides) -> subprocess.CompletedProcess:
    """`manage.py check --deploy --fail-level WARNING` in a production environment."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="portfolio.example.com",
        **env_overrides,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_production_defaults():
    result = _check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_names_what_is_missing_when_hardening_is_turned_off():
    result = _check_deploy(DJANGO_HSTS_SECONDS="0", DJANGO_SECURE_SSL_REDIRECT="false")
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # HSTS
    assert "security.W008" in result.stderr + result.stdout  # HTTPS redirect


def _pg_args(name: str) -> list[str]:
    database = settings.DATABASES["default"]
    args = ["-h", database.get("HOST") or "127.0.0.1", "-p", str(database.get("PORT") or 5432)]
    args += ["-U", database.get("USER") or "postgres"]
    return [*args, name] if name else args


def _rows(cursor) -> dict[str, list]:
    cursor.execute(
        "SELECT relationship_id, period, score, tier, basis::text FROM kpis_relationshipscore ORDER BY 1, 2"
    )
    scores = cursor.fetchall()
    cursor.execute(
        "SELECT id, content_type_id, object_id, action, changes::text, version"
        " FROM projects_auditentry ORDER BY id"
    )
    return {"scores": scores, "audit": cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_pg_dump_and_pg_restore_bring_back_identical_scores_and_audit(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the backup path is PostgreSQL's pg_dump/pg_restore; this run uses SQLite")
    MeasurementFactory(value=85)
    rollup_scores(period=dt.date.today())
    assert RelationshipScore.objects.exists() and AuditEntry.objects.count() >= 3

    source = connection.settings_dict["NAME"]
    restored = f"{source}_restored"
    dump = tmp_path / "portfolio.dump"
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
    # The documented pair (docs/deploy.md): a custom-format dump, restored into a fresh database.
    subprocess.run(["pg_dump", "-Fc", "--no-owner", "-f", str(dump), *_pg_args(source)], check=True, env=env)
    subprocess.run(["dropdb", "--if-exists", *_pg_args(restored)], check=True, env=env)
    subprocess.run(["createdb", *_pg_args(restored)], check=True, env=env)
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "-d", restored, *_pg_args(""), str(dump)],
            check=True,
            env=env,
        )
        import psycopg2

        database = settings.DATABASES["default"]
        copy = psycopg2.connect(
            dbname=restored,
            host=database.get("HOST") or "127.0.0.1",
            port=database.get("PORT") or 5432,
            user=database.get("USER") or "postgres",
        )
        try:
            with connection.cursor() as original_cursor, copy.cursor() as copy_cursor:
                original, restored_rows = _rows(original_cursor), _rows(copy_cursor)
        finally:
            copy.close()
    finally:
        subprocess.run(["dropdb", "--if-exists", *_pg_args(restored)], check=False, env=env)
    assert original["scores"] and original["audit"]
    assert original == restored_rows

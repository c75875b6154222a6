"""docker-compose.yml is validated offline (no Docker engine runs here) and unknown keys fail."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = os.environ.get("COMPOSE_BIN") or str(ROOT / ".venv-compose" / "bin" / "docker-compose")


def validate(path: Path) -> subprocess.CompletedProcess:
    if not Path(COMPOSE).exists():
        pytest.fail(f"the offline compose validator is missing at {COMPOSE}; `make test` installs it")
    env = {**os.environ, "DJANGO_SECRET_KEY": "validation-only"}
    return subprocess.run([COMPOSE, "-f", str(path), "config", "-q"], capture_output=True, text=True, env=env)


def test_compose_file_is_valid():
    result = validate(ROOT / "docker-compose.yml")
    assert result.returncode == 0, result.stderr


def test_compose_describes_the_production_shape():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert set(services) == {"web", "worker", "beat", "db", "redis", "pgbouncer"}
    # The pool is optional: only `--profile pgbouncer` starts it, in transaction mode.
    assert services["pgbouncer"]["profiles"] == ["pgbouncer"]
    assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
    assert "gunicorn" in services["web"]["command"]
    assert "worker" in services["worker"]["command"] and "beat" in services["beat"]["command"]


def test_validator_rejects_unknown_key(tmp_path):
    text = (
        (ROOT / "docker-compose.yml")
        .read_text()
        .replace("    image: postgres:15", "    imagex: postgres:15\n    image: postgres:15")
    )
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text)
    result = validate(broken)
    assert result.returncode != 0
    assert "imagex" in result.stderr


def test_compose_can_route_the_app_through_pgbouncer():
    """With the documented variables the app's URL names the pool, with server-side cursors off."""
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "validation-only",
        "DATABASE_HOST": "pgbouncer",
        "DATABASE_PORT": "6432",
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS": "true",
    }
    if not Path(COMPOSE).exists():
        pytest.fail(f"the offline compose validator is missing at {COMPOSE}; `make test` installs it")
    result = subprocess.run(
        [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "--profile", "pgbouncer", "config"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    web = yaml.safe_load(result.stdout)["services"]["web"]["environment"]
    assert web["DATABASE_URL"] == "postgres://portfolio:portfolio@pgbouncer:6432/portfolio"
    assert web["DATABASE_DISABLE_SERVER_SIDE_CURSORS"] == "true"

"""A client generated from the live schema by a third-party generator works as is: it generates
without a warning, every module imports, and it runs a short sync against a live server."""

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.api.conftest import clear_throttles
from tests.api.schema_conformance import ResponseConformance

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "portfolio_client"


# The QBR pack is a PDF: the generator reads binary responses it knows by their content type as
# files, so an integrator tells it to (docs/api.md says so too).
GENERATOR_CONFIG = {"content_type_overrides": {"application/pdf": "application/octet-stream"}}


def _generate(schema: dict, into: Path) -> None:
    (into / "schema.json").write_text(json.dumps(schema))
    (into / "config.json").write_text(json.dumps(GENERATOR_CONFIG))
    tools = Path(sys.executable).parent  # the generator formats its output with ruff from here
    result = subprocess.run(
        [
            str(tools / "openapi-python-client"),
            "generate",
            "--path",
            str(into / "schema.json"),
            "--meta",
            "none",
            "--config",
            str(into / "config.json"),
            "--output-path",
            str(into / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"},
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output


def _import_everything(into: Path):
    sys.path.insert(0, str(into))
    try:
        package = importlib.import_module(PACKAGE)
        names = [info.name for info in pkgutil.walk_packages(package.__path__, f"{PACKAGE}.")]
        for name in names:
            importlib.import_module(name)
        assert len(names) > 50  # every operation and model has its module
        return package
    finally:
        sys.path.remove(str(into))


def _forget(prefix: str) -> None:
    for name in [name for name in sys.modules if name == prefix or name.startswith(f"{prefix}.")]:
        del sys.modules[name]


def _sync_all(list_projects, client, cursor: str) -> tuple[dict[int, object], str]:
    rows = {}
    while True:
        page = list_projects.sync(client=client, sync=cursor, page_size=2)
        for row in page.results:
            rows[row.id] = row
        cursor = page.next_sync
        if not page.has_more:
            return rows, cursor


def test_a_generated_client_imports_and_syncs(live_server, world, account_manager, tmp_path):
    clear_throttles()
    base = live_server.url
    schema = requests.get(f"{base}/api/v1/schema/?format=json", timeout=30)
    assert schema.status_code == 200
    _forget(PACKAGE)
    _generate(schema.json(), tmp_path)
    package = _import_everything(tmp_path)
    try:
        from portfolio_client.api.auth import auth_token_create
        from portfolio_client.models import AuthTokenRequest

        conformance = ResponseConformance(base)
        checked = {"event_hooks": {"response": [conformance]}}
        with package.Client(base_url=base, raise_on_unexpected_status=True, httpx_args=checked) as anonymous:
            token = auth_token_create.sync(
                client=anonymous, body=AuthTokenRequest(username="am-user", password="test-password")
            )
        # Sent as `Bearer <key>`, the generated client's default.
        with package.AuthenticatedClient(
            base_url=base, token=token.token, raise_on_unexpected_status=True, httpx_args=checked
        ) as client:
            _short_sync(client, world)
        assert conformance.checked >= 9  # every response the generated client received
    finally:
        _forget(PACKAGE)


def _short_sync(client, world) -> None:
    """Full sync, create, PATCH with If-Match (and a stale one), incremental sync, delete, tombstone."""
    from portfolio_client.api.projects import (
        projects_create,
        projects_destroy,
        projects_list,
        projects_partial_update,
        projects_retrieve,
    )
    from portfolio_client.models import PatchedProjectRequest, ProjectRequest

    mirror, cursor = _sync_all(projects_list, client, "0")
    assert set(mirror) == {world["project_a"].pk}

    created = projects_create.sync(
        client=client, body=ProjectRequest(relationship=world["rel_a"].pk, title="From a generated client")
    )
    assert created.version == 1 and created.impact_pct is None
    etag = projects_retrieve.sync_detailed(id=created.id, client=client).headers["ETag"]
    changed = projects_partial_update.sync(
        id=created.id, client=client, body=PatchedProjectRequest(title="Renamed"), if_match=etag
    )
    assert changed.version == 2 and changed.title == "Renamed"
    stale = projects_partial_update.sync_detailed(
        id=created.id, client=client, body=PatchedProjectRequest(title="Lost"), if_match=etag
    )
    assert stale.status_code == 412 and stale.parsed.current_version == 2

    changes, cursor = _sync_all(projects_list, client, cursor)
    assert changes[created.id].title == "Renamed"

    deleted = projects_destroy.sync_detailed(id=created.id, client=client, if_match='"2"')
    assert deleted.status_code == 204
    tombstones, _ = _sync_all(projects_list, client, cursor)
    assert tombstones[created.id].deleted_at is not None

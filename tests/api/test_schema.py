"""The published OpenAPI schema matches reality: a schemathesis run against a live server with a
real token finds no server error and no response that contradicts the schema."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import api_key_for

SCHEMATHESIS = Path(sys.executable).with_name("st")
# Bounded: a fixed number of generated cases per operation (about a minute in all).
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "8"))
# Every check but positive-data acceptance (generated "valid" data may still break a business rule,
# e.g. a stage change that skips a step, which the API rightly refuses).
EXCLUDED_CHECKS = "positive_data_acceptance"
# Besides the usual 4xx, the API rejects data with 412 (generated If-Match headers are stale ETags)
# and 413 (a bulk of more than 1,000 records, or a body over the size limit): both documented.
SCHEMATHESIS_CONFIG = """
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 412, 413, 415, 422, 428]
"""


@pytest.mark.django_db
def test_schema_documents_errors_etags_and_if_match(admin_user, api_as):
    schema = api_as(None).get("/api/v1/schema/?format=json").json()
    assert "Error" in schema["components"]["schemas"]
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) > 40
    for path, method, operation in operations:
        responses = operation["responses"]
        if path != "/api/v1/auth/token/":  # issuing a token: no sign-in, so no 401/403
            assert {"400", "401", "403", "404", "429"} <= set(responses), (path, method)
        # Versioned records take If-Match; API tokens are not versioned (revoking one is final).
        if method in ("put", "patch", "delete") and "{id}" in path and not path.startswith("/api/v1/auth/"):
            assert "412" in responses
            assert any(p["name"] == "If-Match" and p["in"] == "header" for p in operation["parameters"])
    retrieve = schema["paths"]["/api/v1/projects/{id}/"]["get"]["responses"]["200"]
    assert "ETag" in retrieve["headers"]
    request = schema["components"]["schemas"]["ProjectRequest"]["properties"]["relationship"]
    assert {option["type"] for option in request["oneOf"]} == {"integer", "string"}


@pytest.mark.django_db
def test_interactive_docs_are_served_without_a_cdn(api_as):
    response = api_as(None).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()


@pytest.mark.django_db(transaction=True)
def test_fuzzing_the_published_schema_finds_no_error(live_server, world, admin_user, settings, tmp_path):
    # Let the generated traffic reach the API's logic instead of the throttles.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(("token", "bulk", "sync", "api"), "100000/min"),
    }
    key = api_key_for(admin_user)
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{live_server.url}/api/v1/schema/",
        "--header",
        f"Authorization: Token {key}",
        "--checks",
        "all",
        "--exclude-checks",
        EXCLUDED_CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,fuzzing,stateful",
        "--workers",
        "1",
        "--seed",
        "20261129",
        "--generation-database",
        "none",
        # Revoking the token mid-run would leave every later request unauthenticated.
        "--exclude-operation-id",
        "auth_token_destroy",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    (tmp_path / "schemathesis.toml").write_text(SCHEMATHESIS_CONFIG)
    command[1:1] = ["--config-file", str(tmp_path / "schemathesis.toml")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    # Every operation but the excluded one: 65 of the portfolio and its events and webhooks, 28 of
    # the two sides at the table, 2 of the review packs and peer benchmarks, 6 of client sign-offs,
    # 4 of spreadsheet imports.
    assert "Tested: 105" in output, output[-3000:]
    assert " failed" not in output.split("SUMMARY")[-1], output[-6000:]

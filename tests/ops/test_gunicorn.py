"""The production server: gunicorn with its config file answers health checks with request ids."""

import signal

import pytest
import requests

from tests.ops.servers import running_gunicorn


@pytest.fixture
def gunicorn_server(transactional_db, tmp_path):
    with running_gunicorn(tmp_path / "metrics") as server:
        yield server


def test_gunicorn_serves_liveness_readiness_and_request_ids(gunicorn_server):
    base, process = gunicorn_server
    live = requests.get(f"{base}/healthz", headers={"X-Request-ID": "probe-1"}, timeout=5)
    assert (live.status_code, live.headers["X-Request-ID"]) == (200, "probe-1")
    ready = requests.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "ok"
    assert len(ready.headers["X-Request-ID"]) == 32
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    # Two workers were booted from the config file, and the access log names each request's id.
    assert output.count("Booting worker") == 2
    assert "rid=probe-1" in output


def _samples(text: str, name: str, **labels) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_metrics_add_up_the_requests_of_both_workers(gunicorn_server):
    base, _process = gunicorn_server

    def counted() -> float:
        metrics = requests.get(f"{base}/metrics", timeout=10)
        assert metrics.status_code == 200
        return _samples(
            metrics.text,
            "django_http_requests_total_by_view_transport_method_total",
            view="healthz",
            method="GET",
        )

    before = counted()  # the fixture's own start-up probes
    sent = 40
    for _ in range(sent):
        # A new connection each time, so the two workers share the requests.
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
    assert counted() - before == sent


@pytest.mark.django_db
def test_metrics_are_refused_outside_the_allowed_networks_without_the_token(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics").status_code == 403
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    answered = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert answered.status_code == 200
    assert "portfolio_stale_relationships" in answered.content.decode()

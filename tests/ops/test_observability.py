"""The request id: accepted or generated, returned, on every log line, carried into tasks."""

import json
import logging
import re

import pytest
from celery import signals

from bpo_portfolio import observability
from bpo_portfolio.observability import RequestIdFilter, current_request_id

pytestmark = pytest.mark.django_db


def test_a_plausible_request_id_is_kept_and_returned(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.42")
    assert response["X-Request-ID"] == "lb-7f3a.42"


@pytest.mark.parametrize("sent", [None, "", "has spaces", "x" * 129, "<script>"])
def test_a_missing_or_implausible_request_id_is_replaced_by_a_generated_one(client, sent):
    headers = {} if sent is None else {"HTTP_X_REQUEST_ID": sent}
    response = client.get("/healthz", **headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_pages_and_api_errors_carry_it_too(client):
    assert client.get("/api/v1/projects/", HTTP_X_REQUEST_ID="abc")["X-Request-ID"] == "abc"
    assert client.get("/accounts/login/", HTTP_X_REQUEST_ID="def")["X-Request-ID"] == "def"


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []
        self.addFilter(RequestIdFilter())

    def emit(self, record):
        self.records.append(record)


def test_log_lines_of_a_request_carry_its_id(client, admin_user):
    handler = _Collect()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        client.force_login(admin_user)
        client.get("/api/v1/projects/999999/", HTTP_X_REQUEST_ID="trace-404")
    finally:
        logger.removeHandler(handler)
    assert handler.records, "Django logs a 404 of a request"
    assert {record.request_id for record in handler.records} == {"trace-404"}


def test_outside_a_request_the_id_is_a_dash():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    RequestIdFilter().filter(record)
    assert record.request_id == "-"


def test_json_lines_name_time_level_logger_message_and_request_id():
    from django.conf import settings
    from pythonjsonlogger.json import JsonFormatter

    spec = settings.LOGGING["formatters"]["json"]
    formatter = JsonFormatter(spec["fmt"], rename_fields=spec["rename_fields"])
    record = logging.LogRecord("kpis.tasks", logging.WARNING, __file__, 1, "recompute %s", ("late",), None)
    token = current_request_id.set("req-1")
    try:
        RequestIdFilter().filter(record)
    finally:
        current_request_id.reset(token)
    line = json.loads(formatter.format(record))
    assert {k: line[k] for k in ("level", "logger", "message", "request_id")} == {
        "level": "WARNING",
        "logger": "kpis.tasks",
        "message": "recompute late",
        "request_id": "req-1",
    }
    assert "time" in line


def test_a_task_published_in_a_request_runs_under_its_id():
    # The hooks are connected to Celery's own signals by bpo_portfolio.celery; sending those
    # signals reaches them only if they are.
    import bpo_portfolio.celery  # noqa: F401

    headers = {}
    token = current_request_id.set("req-9")
    try:
        signals.before_task_publish.send(sender="kpis.tasks.recompute", headers=headers, body=None)
    finally:
        current_request_id.reset(token)
    assert headers["request_id"] == "req-9"

    class _Request:
        request_id = "req-9"

    class _Task:
        request = _Request()

    signals.task_prerun.send(sender=None, task_id="t1", task=_Task())
    assert current_request_id.get() == "req-9"
    signals.task_postrun.send(sender=None, task_id="t1", task=_Task())
    assert current_request_id.get() is None


def test_error_reports_leave_personal_data_out():
    event = {
        "user": {"email": "ada@example.com"},
        "request": {
            "url": "/x",
            "cookies": {"sessionid": "s"},
            "headers": {"Authorization": "Token t"},
            "data": "{}",
        },
    }
    scrubbed = observability.scrub_event(event, None)
    assert "user" not in scrubbed
    assert scrubbed["request"] == {"url": "/x"}

"""A request id on every log line, response and Celery task a request enqueued.

The id is taken from the `X-Request-ID` header when it is a plausible id (a proxy or the client
chose it), else generated. It is returned in the response, added to every log record of the
request (`request_id`), sent with each task the request publishes (a message header), and set
again while the worker runs that task, so one id follows a change from the browser to the score
recompute it caused.
"""

import contextvars
import logging
import re
import uuid

from django.core.signals import request_finished

REQUEST_ID_HEADER = "X-Request-ID"
TASK_HEADER = "request_id"
_PLAUSIBLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def request_id_from(header_value: str | None) -> str:
    if header_value and _PLAUSIBLE_ID.match(header_value):
        return header_value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        # Not reset on the way out: Django logs a 4xx/5xx after the middleware returns, and that
        # line must carry the id too. `request_finished` clears it (connected below).
        current_request_id.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _clear_request_id(**kwargs) -> None:
    current_request_id.set(None)


request_finished.connect(_clear_request_id, dispatch_uid="bpo_portfolio.clear_request_id")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get() or "-"
        return True


# --- Celery: carry the id from the publishing request into the task ---------------------------


def add_request_id_to_task(headers=None, **kwargs) -> None:
    request_id = current_request_id.get()
    if request_id and headers is not None:
        headers[TASK_HEADER] = request_id


_task_tokens: dict[str, contextvars.Token] = {}


def set_request_id_for_task(task_id=None, task=None, **kwargs) -> None:
    request_id = getattr(task.request, TASK_HEADER, None) if task is not None else None
    if request_id is None and task is not None:
        request_id = (getattr(task.request, "headers", None) or {}).get(TASK_HEADER)
    _task_tokens[task_id] = current_request_id.set(request_id)


def clear_request_id_after_task(task_id=None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        current_request_id.reset(token)


def connect_celery_signals() -> None:
    from celery import signals

    signals.before_task_publish.connect(add_request_id_to_task, weak=False)
    signals.task_prerun.connect(set_request_id_for_task, weak=False)
    signals.task_postrun.connect(clear_request_id_after_task, weak=False)


def scrub_event(event, hint):
    """Sentry: drop personal data (user details, cookies, headers, bodies) before sending."""
    event.pop("user", None)
    request = event.get("request") or {}
    for key in ("cookies", "data", "headers", "env", "query_string"):
        request.pop(key, None)
    return event

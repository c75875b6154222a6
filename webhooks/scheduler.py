"""Deliveries on the embedded default (no broker): a small in-process scheduler.

Without a broker Celery runs tasks eagerly, which would send webhooks inside the request that
caused them and drop every retry's countdown. Instead, deliveries go to one background thread
that runs each job when it is due — retries keep their real delays — and, under `runserver`,
sweeps every 30 s for work left over from before a restart.
"""

import heapq
import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0


class InProcessScheduler:
    def __init__(self) -> None:
        self._jobs: list[tuple[float, int, Callable, tuple]] = []
        self._counter = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, function: Callable, *args) -> None:
        with self._condition:
            heapq.heappush(
                self._jobs, (time.monotonic() + max(0.0, delay), next(self._counter), function, args)
            )
            self._ensure_thread()
            self._condition.notify()

    def pending(self) -> int:
        with self._condition:
            return len(self._jobs)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="webhook-deliveries", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._jobs or self._jobs[0][0] > time.monotonic():
                    timeout = self._jobs[0][0] - time.monotonic() if self._jobs else None
                    self._condition.wait(timeout)
                _due, _n, function, args = heapq.heappop(self._jobs)
            try:
                close_old_connections()
                function(*args)
            except Exception:
                logger.exception("In-process webhook job %s failed", getattr(function, "__name__", function))
            finally:
                connections.close_all()


scheduler = InProcessScheduler()


def _sweep_forever() -> None:
    from webhooks.dispatch import sweep

    sweep()
    scheduler.call_later(SWEEP_SECONDS, _sweep_forever)


def start_for_development_server() -> None:
    """Under `manage.py runserver` without a broker, resume deliveries left from a previous run."""
    from bpo_portfolio.celery import app

    if not (app.conf.task_always_eager and len(sys.argv) > 1 and sys.argv[1] == "runserver"):
        return
    # With the autoreloader the server runs in a child process (RUN_MAIN); the watcher needs none.
    if os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv:
        scheduler.call_later(2.0, _sweep_forever)

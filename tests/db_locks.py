"""Waiting in a test until other sessions queue on a lock (PostgreSQL)."""

import time

from django.db import connection


def lock_waiters_appear(count: int = 1, timeout: float = 10.0) -> bool:
    """Whether, within `timeout` seconds, `count` sessions of this database wait on a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return True
        time.sleep(0.02)
    return False

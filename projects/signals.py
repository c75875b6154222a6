"""Announcements from the projects layer to layers above it (which it must not import).

`project_changed` is sent inside the writing transaction by every project service, with
`project`, `action` (an AuditEntry.Action), `actor` and `relationship_id`. Receivers that start
follow-up work (a score recompute) defer it with `transaction.on_commit`, so nothing runs for a
change that rolls back; receivers that must change data with it (cascading a soft delete) do so
in the same transaction.
"""

from django.dispatch import Signal

project_changed = Signal()

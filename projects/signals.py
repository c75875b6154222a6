"""Announcements from the projects layer to layers above it (which it must not import).

`project_changed` is sent inside the writing transaction by every project service, with
`project`, `action` (an AuditEntry.Action), `actor`, `relationship_id` and `delivered_on_before`
(the project's delivered date before the change, None for a new project); `project` is None when
a whole relationship was deleted with its projects. Receivers defer follow-up work (a score
recompute) with `transaction.on_commit`, so nothing runs for a change that rolls back. Rows that
belong to a project are deleted with it by projects.records, not by receivers.

`signoff_changed` is sent inside the writing transaction when a client sign-off is requested or
decided, with `signoff`, `action` ("requested", "approved", "declined", "withdrawn") and `actor`:
the hook for notifications (`projects.signoffs.signoff_recipients` says whom a change concerns).
"""

from django.dispatch import Signal

project_changed = Signal()

# Sent inside the writing transaction when a relationship's contract start changes, with
# `relationship`, `actor` and `contract_start_before`.
relationship_changed = Signal()
signoff_changed = Signal()

# Sent inside the writing transaction by a set-based write of many projects (projects.bulk), once
# per batch, instead of one `project_changed` per project: `changes` lists `(relationship_id,
# delivered_on, delivered_on_before)` for every project created or changed, `reason` says why.
projects_written = Signal()

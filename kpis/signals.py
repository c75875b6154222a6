"""Announcements from the kpis app to whoever watches it (metrics), without importing them."""

from django.dispatch import Signal

# Sent after each roll-up with `period`, `relationships` (how many were computed), `rows_written`
# and `seconds`.
scores_rolled_up = Signal()

"""A project's audit history as a reader wants it: labels for choices, names for people, no noise."""

import datetime
import re

from django.contrib.auth import get_user_model

from projects.models import InnovationProject
from web import formatting

Stage = InnovationProject.Stage
_DECIMAL_TEXT = re.compile(r"^-?\d+\.\d+$")
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONEY_FIELDS = {"investment", "expected_annual_benefit", "realised_annual_benefit", "gain_share_baseline"}
# Fields an audit entry records that say nothing to a reader of the page.
_HISTORY_NOISE = {"id", "created_at", "deleted_at", "external_id", "project", "project_kpi", "unit", "kpi"}
_HISTORY_CHOICES = {
    "stage": dict(Stage.choices),
    "level": dict(InnovationProject.Level.choices),
    "originator": dict(InnovationProject.Originator.choices),
    "funding": dict(InnovationProject.Funding.choices),
}
_HISTORY_SUBJECTS = {"innovationproject": "Project", "projectkpi": "KPI", "measurement": "measurement"}


def history_rows(entries, project: InnovationProject) -> list[dict]:
    """Audit entries as a reader wants them: labels for choices, names for people, no noise."""
    entries = list(entries)
    owner_ids = {
        value
        for entry in entries
        for value in (entry.changes.get("owner") or {}).values()
        if isinstance(value, int)
    }
    names = {}
    if owner_ids:
        names = {
            user.pk: user.get_full_name() or user.get_username()
            for user in get_user_model().objects.filter(pk__in=owner_ids)
        }

    def shown(field, value):
        if value is None or value == "":
            return None
        if field in _HISTORY_CHOICES:
            return _HISTORY_CHOICES[field].get(value, value)
        if field == "owner":
            return names.get(value, f"user #{value}")
        if field == "relationship":
            return project.relationship.name if value == project.relationship_id else f"relationship #{value}"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if field in _MONEY_FIELDS:
            return formatting.money(value, project.relationship.currency)
        if isinstance(value, str) and _DECIMAL_TEXT.match(value):
            return formatting.exact(value)  # audit keeps the column's scale: 85.0000 → 85
        if isinstance(value, str) and _DATE_TEXT.match(value):
            return formatting.day(datetime.date.fromisoformat(value))
        return value

    rows = []
    for entry in entries:
        changes = []
        if entry.action != "delete":
            for field, change in sorted(entry.changes.items()):
                if field in _HISTORY_NOISE:
                    continue
                before, after = shown(field, change.get("before")), shown(field, change.get("after"))
                if entry.action == "create" and after is None:
                    continue
                changes.append({"field": field.replace("_", " "), "before": before, "after": after})
        rows.append(
            {
                "at": entry.at,
                "actor": entry.actor.get_full_name() or entry.actor.get_username()
                if entry.actor
                else "system",
                "action": entry.get_action_display(),
                "action_code": entry.action,
                "subject": _HISTORY_SUBJECTS.get(entry.content_type.model, entry.content_type.model),
                "object": entry.object_repr,
                "version": entry.version,
                "changes": changes,
            }
        )
    return rows

"""A project's audit history as a reader wants it: sentences with formatted values ("Marcus Manager
changed the investment from 350,000 USD to 387,000 USD"), grouped by day, filterable by kind."""

import datetime
import re

from django.contrib.auth import get_user_model
from django.utils import timezone

from presentation import formatting
from projects.models import InnovationProject

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
_HISTORY_SUBJECTS = {
    "innovationproject": "Project",
    "projectkpi": "KPI",
    "measurement": "measurement",
    "signoff": "sign-off",
}
# The history's filter: ?history=<kind>; each kind keeps the entries it names.
HISTORY_KINDS = {
    "project": (
        "Project details",
        lambda row: row["subject"] == "Project" and row["action_code"] != "transition",
    ),
    "stage": ("Stage changes", lambda row: row["action_code"] == "transition"),
    "kpi": ("KPIs", lambda row: row["subject"] == "KPI"),
    "measurement": ("Measurements", lambda row: row["subject"] == "measurement"),
    "signoff": ("Client sign-off", lambda row: row["subject"] == "sign-off"),
}
# A client sign-off's fields that its sentence already says, or that only the system uses.
_SIGNOFF_NOISE = {"status", "kind", "requested_by", "requested_at", "decided_by", "decided_at", "project"}


def _label(model, field: str) -> str:
    """A field as people call it: the model's verbose name (investment, delivered on)."""
    try:
        return str(model._meta.get_field(field).verbose_name)
    except Exception:  # a field the model no longer has: its name, readable
        return field.replace("_", " ")


def _subject_phrase(subject: str, object_repr: str) -> str:
    if subject == "Project":
        return "the project"
    return f"the {subject} “{object_repr}”"


def _headline(actor: str, action: str, subject: str, object_repr: str, changes: list[dict]) -> str:
    if action == "transition":
        stage = next((c for c in changes if c["name"] == "stage"), None)
        if stage is not None and stage["before"] and stage["after"]:
            return f"{actor} moved the project from {stage['before']} to {stage['after']}"
    verb = {"create": "created", "update": "changed", "delete": "deleted", "transition": "changed"}[action]
    return f"{actor} {verb} {_subject_phrase(subject, object_repr)}"


def _signoff_headline(actor: str, entry, project: InnovationProject) -> str:
    """A sign-off's entry as a sentence: who asked the client for what, or how the client decided."""
    client = project.relationship.client.name
    changes = entry.changes
    amount = (changes.get("realised_annual_benefit") or {}).get("after")
    is_approval = (changes.get("kind") or {}).get("after", "approval") == "approval" and amount is None
    subject = (
        "the project"
        if is_approval
        else f"a realised benefit of {formatting.money(amount, project.relationship.currency)}"
        if amount is not None
        else "a realised benefit"
    )
    if entry.action == "create":
        verb = "approve" if is_approval else "confirm"
        return f"{actor} asked {client} to {verb} {subject}"
    status = (changes.get("status") or {}).get("after")
    if status == "approved":
        return f"{actor} approved the request"
    if status == "declined":
        return f"{actor} declined the request"
    if status == "withdrawn":
        return f"{actor} withdrew the request" if entry.actor_id else "The request lapsed"
    return f"{actor} changed the sign-off request"


def _change_sentence(change: dict, *, created: bool) -> str:
    label, before, after = change["field"], change["before"], change["after"]
    if created:
        return f"{label}: {after}"
    if before is None:
        return f"set the {label} to {after}"
    if after is None:
        return f"cleared the {label} (was {before})"
    return f"changed the {label} from {before} to {after}"


def filter_history(rows: list[dict], kind: str | None) -> list[dict]:
    """The rows of one kind (see HISTORY_KINDS); every row for no or an unknown kind."""
    if kind not in HISTORY_KINDS:
        return rows
    keep = HISTORY_KINDS[kind][1]
    return [row for row in rows if keep(row)]


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
        model = entry.content_type.model_class()
        changes = []
        if entry.action != "delete":
            for field, change in sorted(entry.changes.items(), key=lambda item: item[0] != "stage"):
                if field in _HISTORY_NOISE:
                    continue
                before, after = shown(field, change.get("before")), shown(field, change.get("after"))
                if entry.action == "create" and after is None:
                    continue
                changes.append(
                    {
                        "name": field,
                        "field": _label(model, field) if model else field,
                        "before": before,
                        "after": after,
                    }
                )
        actor = (entry.actor.get_full_name() or entry.actor.get_username()) if entry.actor else "The system"
        subject = _HISTORY_SUBJECTS.get(entry.content_type.model, entry.content_type.model)
        created = entry.action == "create"
        sentences = [
            _change_sentence(change, created=created)
            for change in changes
            if not (entry.action == "transition" and change["name"] == "stage")
        ]
        headline = _headline(actor, entry.action, subject, entry.object_repr, changes)
        if subject == "sign-off":
            headline = _signoff_headline(actor, entry, project)
            changes = [change for change in changes if change["name"] not in _SIGNOFF_NOISE]
            sentences = [
                f"{change['field'][:1].upper()}{change['field'][1:]}: “{change['after']}”"
                for change in changes
                if change["name"] in ("request_note", "decision_note") and change["after"]
            ]
        local = timezone.localtime(entry.at)
        rows.append(
            {
                "id": entry.pk,
                "at": entry.at,
                "day": formatting.day(local.date()),
                "time": f"{local:%H:%M}",
                "actor": actor,
                "action": entry.get_action_display(),
                "action_code": entry.action,
                "subject": subject,
                "object": entry.object_repr,
                "version": entry.version,
                "headline": headline,
                "sentences": sentences,
                "changes": [{key: c[key] for key in ("field", "before", "after")} for c in changes],
            }
        )
    return rows

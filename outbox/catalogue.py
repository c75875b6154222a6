"""Every event type the outbox carries: the one list that subscriptions, filters and docs use.

A record event is named `<record type>.<what happened>`; the record types are those of the API
(`project` for an innovation project, `project_kpi` for a tracked KPI).
"""

RECORD_TYPES = (
    "organization",
    "relationship",
    "project",
    "kpi",
    "project_kpi",
    "measurement",
    # The two sides at the table. An internal comment and a pulse answer never have events: the
    # stream is read by both sides of a relationship (collab's models declare OUTBOX_CONDITION).
    "comment",
    "contest",
    "contributor",
    # Client sign-offs (projects.signoffs): requested, then decided or withdrawn (`.updated`).
    "sign_off",
)

RECORD_ACTIONS = ("created", "updated", "deleted")

EVENT_TYPES: dict[str, str] = {
    **{
        f"{record_type}.{action}": f"A {record_type.replace('_', ' ')} was {action}."
        for record_type in RECORD_TYPES
        for action in RECORD_ACTIONS
    },
    "project.stage_changed": "A project moved to another stage (data.from, data.to).",
    "contest.status_changed": "A contest was answered, resolved or withdrawn (data.from, data.to).",
    "score.changed": "A relationship's monthly score was computed with new figures (data.period, "
    "data.score, data.tier).",
    "import.finished": "A spreadsheet import finished (data names the import and its counts).",
    "webhook.test": "A test event sent from an endpoint's page or the API; it changes nothing.",
}


def is_known(event_type: str) -> bool:
    return event_type in EVENT_TYPES


# What an endpoint may subscribe to (test messages always go, whatever it subscribes to).
SUBSCRIBABLE = tuple(sorted(name for name in EVENT_TYPES if name != "webhook.test"))

"""Client sign-offs told to the people they concern: a request to the client's people who may
decide it, a decision to the requester and the relationship's account managers
(`projects.signoffs.signoff_recipients`), never to the person who acted. Sent after commit."""

from django.db import transaction
from django.urls import reverse

from notifications.kinds import Kind
from notifications.services import notify
from projects.signoffs import signoff_recipients

# What each step says, by the action projects.signoffs announces.
TITLES = {
    "requested": "{client} is asked to sign off {what} of “{title}”",
    "approved": "{client} approved {what} of “{title}”",
    "declined": "{client} declined {what} of “{title}”",
    "withdrawn": "The request to sign off {what} of “{title}” was withdrawn",
}
WHAT = {"approval": "the approval", "benefit": "the realised benefit"}


def on_signoff_changed(sender, *, signoff, action, actor, **kwargs) -> None:
    template = TITLES.get(action)
    if template is None:
        return
    project = signoff.project
    relationship = project.relationship
    title = template.format(
        client=relationship.client.name, what=WHAT.get(signoff.kind, "a change"), title=project.title
    )
    actor_id = getattr(actor, "pk", None)
    recipients = [person for person in signoff_recipients(signoff) if person.pk != actor_id]
    url = reverse("project-detail", args=[project.pk])
    body = signoff.decision_note if action == "declined" else ""
    transaction.on_commit(
        lambda: notify(
            recipients=recipients,
            kind=Kind.APPROVAL,
            title=title,
            body=body,
            url=url,
            relationship_id=relationship.pk,
        )
    )

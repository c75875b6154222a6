"""What the two sides' records put into the event stream and the notification centre: a shared
comment has events, an internal comment and a pulse answer never do (the stream is read by both
sides); mentions and replies arrive as notifications, only for people who may read the comment."""

import datetime as dt

import pytest

from collab.models import Comment
from collab.services import CommentFields, PulseFields, comment_delete, comment_post, pulse_answer
from notifications.models import Notification
from outbox.models import Event
from projects import services as project_services

pytestmark = pytest.mark.django_db


def post(actor, body, *, table, **fields):
    return comment_post(actor=actor, fields=CommentFields(body=body, project=table["project"], **fields))


def events_of(record_type: str, record_id: int) -> list[str]:
    return list(
        Event.objects.filter(record_type=record_type, record_id=record_id)
        .order_by("id")
        .values_list("type", flat=True)
    )


def test_a_shared_comment_has_events_and_an_internal_one_none(table):
    shared = post(table["client_contributor"], "Shared remark", table=table)
    internal = post(table["client_contributor"], "Between us", table=table, visibility="internal")
    comment_delete(actor=table["client_contributor"], comment=shared)
    comment_delete(actor=table["client_contributor"], comment=internal)
    assert events_of("comment", shared.pk) == ["comment.created", "comment.deleted"]
    assert events_of("comment", internal.pk) == []


def test_comments_deleted_with_their_project_keep_an_internal_one_out_of_the_stream(table):
    shared = post(table["account_manager"], "Shared", table=table)
    internal = post(table["account_manager"], "Ours", table=table, visibility="internal")
    project_services.project_delete(actor=table["account_manager"], project=table["project"])
    assert Comment.objects.filter(deleted_at__isnull=False).count() == 2
    assert events_of("comment", shared.pk) == ["comment.created", "comment.deleted"]
    assert events_of("comment", internal.pk) == []


def test_a_pulse_answer_never_enters_the_event_stream(table):
    answer = pulse_answer(
        actor=table["client_contributor"],
        fields=PulseFields(relationship=table["relationship"], ideas=4, openness=3, sponsorship=4, trust=5),
        today=dt.date(2026, 8, 14),
    )
    assert answer.pk is not None
    assert not Event.objects.filter(record_type="pulse_answer").exists()
    assert not Event.objects.filter(actor=table["client_contributor"]).exists()


def test_a_mention_reaches_the_notification_centre_with_a_link_to_the_comment(
    table, django_capture_on_commit_callbacks
):
    colleague = table["client_colleague"]
    with django_capture_on_commit_callbacks(execute=True):
        comment = post(table["client_contributor"], f"@{colleague.username} can you check?", table=table)
    notification = Notification.objects.get(recipient=colleague)
    assert notification.kind == "mention"
    assert notification.url == f"/projects/{table['project'].pk}/#comment-{comment.pk}"
    assert notification.relationship_id == table["relationship"].pk
    # The author is never told about their own comment.
    assert not Notification.objects.filter(recipient=table["client_contributor"]).exists()


def test_a_reply_to_an_internal_comment_notifies_only_the_authors_side(
    table, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        thread = post(table["client_contributor"], "Between us", table=table, visibility="internal")
        comment_post(actor=table["client_colleague"], fields=CommentFields(body="Agreed", parent=thread))
    told = set(Notification.objects.values_list("recipient__username", "kind"))
    assert told == {(table["client_contributor"].username, "reply")}

"""Comments: shared or internal to one side, mentions only of people who may read them, edits within
15 minutes, soft deletes, and notices to visibility-filtered recipients."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from collab import notifications, selectors
from collab.models import Comment
from collab.services import CommentFields, comment_delete, comment_edit, comment_post
from projects.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def notices(monkeypatch):
    """Every notice handed to the notification centre's hook."""
    sent = []
    monkeypatch.setattr(notifications, "notify_people", sent.append)
    return sent


def post(actor, body, *, table, visibility=None, parent=None, on_score=False):
    target = (
        {"relationship": table["relationship"], "period": table["score"].period}
        if on_score
        else {"project": table["project"]}
    )
    if parent is not None:
        target = {"parent": parent}
    if visibility is not None:
        target["visibility"] = visibility
    return comment_post(actor=actor, fields=CommentFields(body=body, **target))


def test_internal_comments_reach_only_the_authors_side(table):
    shared = post(table["client_contributor"], "Shared remark", table=table)
    internal = post(table["client_contributor"], "Between us", table=table, visibility="internal")
    provider_internal = post(table["account_manager"], "Provider only", table=table, visibility="internal")
    on_score = post(table["provider_contributor"], "About January", table=table, on_score=True)
    expected = {
        "client_contributor": {shared, internal, on_score},
        "client_colleague": {shared, internal, on_score},
        "client_viewer": {shared, internal, on_score},
        "account_manager": {shared, provider_internal, on_score},
        "provider_contributor": {shared, provider_internal, on_score},
        "admin": {shared, on_score},
        "portfolio_executive": {shared, on_score},
        "client_b_contributor": set(),
        "no_role": set(),
    }
    everything = Comment.objects.all()
    for name, user in table["people"].items():
        fresh = type(user).objects.get(pk=user.pk)
        listed = set(selectors.comment_list(user=fresh))
        assert listed == expected[name], name
        # The query and the one-record rule agree.
        assert {c for c in everything if selectors.comment_visible_to(fresh, c)} == expected[name], name


def test_people_of_neither_side_may_not_comment(table):
    for name in ("admin", "portfolio_executive"):
        with pytest.raises(PermissionDenied):
            post(table[name], "Hello", table=table)
    assert not Comment.objects.exists()


def test_a_client_viewer_may_comment(table):
    comment = post(table["client_viewer"], "Looks good", table=table)
    assert comment.author_side == "client" and comment.visibility == "shared"


def test_a_mention_of_someone_who_cannot_read_the_comment_is_refused(table, notices):
    outsider = f"@{table['client_b_contributor'].username}"
    with pytest.raises(ValidationError) as refused:
        post(table["client_contributor"], f"{outsider} please check", table=table)
    assert outsider in str(refused.value)
    # Internal: the other side of the same relationship cannot read it either.
    with pytest.raises(ValidationError):
        post(table["client_contributor"], "@pia have a look", table=table, visibility="internal")
    # Nobody of that name: the same answer, so it tells nothing about who exists.
    with pytest.raises(ValidationError) as unknown:
        post(table["client_contributor"], "@nobody-here hi", table=table)
    assert "cannot be mentioned" in str(unknown.value)
    assert not Comment.objects.exists() and notices == []


def test_mentions_notify_after_commit_the_people_who_may_read(
    table, notices, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        comment = post(table["client_contributor"], "@cole and @pia, see this", table=table)
    assert list(comment.mentions.order_by("username").values_list("username", flat=True)) == ["cole", "pia"]
    [notice] = notices
    assert notice.reason == "mention"
    assert set(notice.recipient_ids) == {table["client_colleague"].pk, table["provider_contributor"].pk}
    with django_capture_on_commit_callbacks(execute=True):
        post(table["client_contributor"], "@cole only us", table=table, visibility="internal")
    assert set(notices[-1].recipient_ids) == {table["client_colleague"].pk}


def test_a_reply_notifies_the_thread_author_only_when_they_may_read_it(
    table, notices, django_capture_on_commit_callbacks
):
    thread = post(table["client_contributor"], "Is this figure right?", table=table)
    with django_capture_on_commit_callbacks(execute=True):
        reply = post(table["account_manager"], "Checking", table=table, parent=thread)
    [notice] = notices
    assert notice.reason == "reply" and notice.recipient_ids == (table["client_contributor"].pk,)
    assert reply.parent == thread and reply.project == thread.project
    # An internal reply on the provider's side to the client's shared comment tells the client nothing.
    with django_capture_on_commit_callbacks(execute=True):
        aside = post(
            table["account_manager"], "They may be right", table=table, parent=thread, visibility="internal"
        )
    assert aside.is_internal and len(notices) == 1
    # A reply to a reply joins the thread; a reply to an internal comment is internal.
    internal = post(table["client_contributor"], "Our view", table=table, visibility="internal")
    nested = post(table["client_colleague"], "Agreed", table=table, parent=internal)
    assert nested.is_internal and nested.parent == internal
    again = post(table["provider_contributor"], "Also", table=table, parent=reply)
    assert again.parent == thread


def test_a_reply_to_an_internal_comment_of_the_other_side_is_refused(table):
    internal = post(table["account_manager"], "Provider only", table=table, visibility="internal")
    with pytest.raises(ValidationError) as refused:
        post(table["client_contributor"], "Peek", table=table, parent=internal)
    assert "parent" in refused.value.message_dict


def test_a_score_comment_needs_a_stored_score_of_that_month(table):
    with pytest.raises(ValidationError) as refused:
        comment_post(
            actor=table["client_contributor"],
            fields=CommentFields(relationship=table["relationship"], period=dt.date(2020, 5, 1), body="Hm"),
        )
    assert "period" in refused.value.message_dict


def test_the_author_may_edit_within_fifteen_minutes_and_nobody_else(table, notices):
    comment = post(table["client_contributor"], "Frist", table=table)
    edited = comment_edit(
        actor=table["client_contributor"],
        comment=comment,
        changes=CommentFields(body="First"),
        expected_version=1,
    )
    assert edited.body == "First" and edited.version == 2 and edited.edited_at is not None
    with pytest.raises(PermissionDenied):
        comment_edit(actor=table["client_colleague"], comment=edited, changes=CommentFields(body="Hijack"))
    Comment.objects.filter(pk=comment.pk).update(created_at=timezone.now() - dt.timedelta(minutes=16))
    late = Comment.objects.get(pk=comment.pk)
    with pytest.raises(ValidationError) as refused:
        comment_edit(actor=table["client_contributor"], comment=late, changes=CommentFields(body="Later"))
    assert "15 minutes" in str(refused.value)
    with pytest.raises(ValidationError):
        comment_edit(
            actor=table["client_contributor"],
            comment=Comment.objects.get(pk=comment.pk),
            changes=CommentFields(visibility="internal"),
        )
    assert Comment.objects.get(pk=comment.pk).body == "First"


def test_a_deleted_comment_keeps_its_thread_and_is_gone_from_lists(table):
    thread = post(table["client_contributor"], "Question", table=table)
    post(table["account_manager"], "Answer", table=table, parent=thread)
    with pytest.raises(PermissionDenied):
        comment_delete(actor=table["account_manager"], comment=thread)
    comment_delete(actor=table["client_contributor"], comment=thread, expected_version=1)
    user = table["client_colleague"]
    assert thread not in selectors.comment_list(user=user)
    [root] = selectors.comment_threads(
        user=user, relationship=table["relationship"], project=table["project"]
    )
    assert (
        root == thread and root.deleted_at is not None and [r.body for r in root.thread_replies] == ["Answer"]
    )
    # An admin may remove a shared comment (moderation).
    lone = post(table["provider_contributor"], "Spam", table=table)
    comment_delete(actor=table["admin"], comment=lone)
    assert Comment.objects.get(pk=lone.pk).deleted_at is not None


def test_the_audit_never_holds_the_text_of_an_internal_comment(table):
    internal = post(table["client_contributor"], "Secret @cole", table=table, visibility="internal")
    shared = post(table["client_contributor"], "Open remark", table=table)
    entries = {entry.object_id: entry for entry in AuditEntry.objects.filter(content_type__model="comment")}
    assert entries[internal.pk].changes["body"] == {"before": None, "after": "(hidden)"}
    assert entries[internal.pk].changes["mentions"]["after"] == "(hidden)"
    assert (
        "Secret" not in str(entries[internal.pk].changes) and "Secret" not in entries[internal.pk].object_repr
    )
    assert entries[shared.pk].changes["body"]["after"] == "Open remark"


def test_deleting_a_project_deletes_its_comments(table):
    from projects.services import project_delete

    comment = post(table["client_contributor"], "On the project", table=table)
    project_delete(actor=None, project=table["project"])
    comment.refresh_from_db()
    assert comment.deleted_at is not None and comment.version == 2


def test_the_admin_lists_shared_comments_only(client, table):
    shared = post(table["client_contributor"], "Open remark", table=table)
    internal = post(table["client_contributor"], "Between us", table=table, visibility="internal")
    table["admin"].is_staff = table["admin"].is_superuser = True
    table["admin"].save()
    client.force_login(table["admin"])
    page = client.get("/admin/collab/comment/").content.decode()
    assert (
        f"/admin/collab/comment/{shared.pk}/" in page and f"/admin/collab/comment/{internal.pk}/" not in page
    )
    assert client.get(f"/admin/collab/comment/{internal.pk}/change/").status_code in (302, 404)
    assert "/admin/collab/pulseresponse/" not in client.get("/admin/").content.decode()

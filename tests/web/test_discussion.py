"""Discussions on the project page and the relationship dashboard: each side reads the shared
comments and its own internal ones, never the other side's; posting, replying, editing, deleting."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from collab.models import Comment
from collab.services import CommentFields, comment_post
from projects.access import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def say(actor, body, table, **fields):
    target = fields.pop("target", None) or {"project": table["project"]}
    return comment_post(actor=actor, fields=CommentFields(body=body, **target, **fields))


@pytest.fixture
def talk(table):
    on_score = {"relationship": table["relationship"], "period": table["score"].period}
    return {
        "shared": say(table["client_contributor"], "SHARED-REMARK for @pia", table),
        "client_internal": say(table["client_colleague"], "CLIENT-ONLY-NOTE", table, visibility="internal"),
        "provider_internal": say(
            table["account_manager"], "PROVIDER-ONLY-NOTE", table, visibility="internal"
        ),
        "score_shared": say(table["provider_contributor"], "SCORE-SHARED", table, target=on_score),
        "score_internal": say(
            table["provider_contributor"],
            "SCORE-PROVIDER-ONLY",
            table,
            target=on_score,
            visibility="internal",
        ),
    }


PAGE_TEXTS = {
    # who: (sees, never sees)
    "client_contributor": (
        {"SHARED-REMARK", "CLIENT-ONLY-NOTE"},
        {"PROVIDER-ONLY-NOTE"},
    ),
    "client_viewer": ({"SHARED-REMARK", "CLIENT-ONLY-NOTE"}, {"PROVIDER-ONLY-NOTE"}),
    "account_manager": ({"SHARED-REMARK", "PROVIDER-ONLY-NOTE"}, {"CLIENT-ONLY-NOTE"}),
    "provider_contributor": ({"SHARED-REMARK", "PROVIDER-ONLY-NOTE"}, {"CLIENT-ONLY-NOTE"}),
    "admin": ({"SHARED-REMARK"}, {"CLIENT-ONLY-NOTE", "PROVIDER-ONLY-NOTE"}),
    "portfolio_executive": ({"SHARED-REMARK"}, {"CLIENT-ONLY-NOTE", "PROVIDER-ONLY-NOTE"}),
}
SCORE_TEXTS = {
    "client_contributor": ({"SCORE-SHARED"}, {"SCORE-PROVIDER-ONLY"}),
    "provider_contributor": ({"SCORE-SHARED", "SCORE-PROVIDER-ONLY"}, set()),
    "portfolio_executive": ({"SCORE-SHARED"}, {"SCORE-PROVIDER-ONLY"}),
}


@pytest.mark.parametrize("who", PAGE_TEXTS)
def test_the_project_page_shows_each_side_its_own_internal_comments_only(who, client, table, talk):
    client.force_login(table[who])
    page = client.get(reverse("project-detail", args=[table["project"].pk])).content.decode()
    sees, never = PAGE_TEXTS[who]
    assert all(text in page for text in sees), who
    assert not any(text in page for text in never), who


@pytest.mark.parametrize("who", SCORE_TEXTS)
def test_the_dashboard_shows_the_months_discussion_by_side(who, client, table, talk):
    client.force_login(table[who])
    url = reverse("relationship-dashboard", args=[table["relationship"].pk])
    page = client.get(url, {"month": "2025-01"}).content.decode()
    sees, never = SCORE_TEXTS[who]
    assert all(text in page for text in sees) and not any(text in page for text in never)


def test_a_contributor_posts_a_comment_with_a_mention_and_sees_it(client, table):
    client.force_login(table["client_contributor"])
    url = reverse("project-comment", args=[table["project"].pk])
    response = client.post(url, {"body": "Please check the baseline, @pia", "visibility": "shared"})
    comment = Comment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{table['project'].pk}/#comment-{comment.pk}"
    page = client.get(response["Location"]).content.decode()
    assert '<span class="mention">@pia</span>' in page and "Comment posted; both sides can read it." in page


def test_a_refused_mention_keeps_the_text_and_saves_nothing(client, table):
    client.force_login(table["client_contributor"])
    url = reverse("project-comment", args=[table["project"].pk])
    response = client.post(url, {"body": "Ask @bert about it", "visibility": "shared"})
    assert response.status_code == 422
    page = response.content.decode()
    assert "@bert cannot be mentioned" in page and "Ask @bert about it" in page
    assert not Comment.objects.exists()


def test_people_of_neither_side_see_no_form_and_cannot_post(client, table):
    client.force_login(table["portfolio_executive"])
    page = client.get(reverse("project-detail", args=[table["project"].pk])).content.decode()
    assert 'id="comment-form"' not in page
    response = client.post(reverse("project-comment", args=[table["project"].pk]), {"body": "x"})
    assert response.status_code == 403 and not Comment.objects.exists()


def test_a_project_outside_ones_scope_cannot_be_commented(client, table):
    client.force_login(table["client_b_contributor"])
    response = client.post(reverse("project-comment", args=[table["project"].pk]), {"body": "x"})
    assert response.status_code == 404 and not Comment.objects.exists()


def test_an_internal_reply_stays_on_the_side_of_its_author(client, table, talk):
    client.force_login(table["account_manager"])
    url = reverse("project-comment", args=[table["project"].pk])
    client.post(url, {"body": "REPLY-PROVIDER-ASIDE", "visibility": "internal", "parent": talk["shared"].pk})
    reply = Comment.objects.get(body="REPLY-PROVIDER-ASIDE")
    assert reply.parent == talk["shared"] and reply.is_internal
    client.force_login(table["client_contributor"])
    page = client.get(reverse("project-detail", args=[table["project"].pk])).content.decode()
    assert "REPLY-PROVIDER-ASIDE" not in page
    # Nor can the client reply into the provider's internal thread.
    response = client.post(
        url, {"body": "peek", "visibility": "internal", "parent": talk["provider_internal"].pk}
    )
    assert response.status_code == 422 and not Comment.objects.filter(body="peek").exists()


def test_a_score_comment_is_posted_on_the_month_shown(client, table):
    client.force_login(table["client_viewer"])
    url = reverse("score-comment", args=[table["relationship"].pk, "2025-01"])
    response = client.post(url, {"body": "Why did it drop?", "visibility": "shared"})
    comment = Comment.objects.get()
    assert comment.period == dt.date(2025, 1, 1) and comment.project is None
    assert response["Location"].endswith(f"?month=2025-01#comment-{comment.pk}")
    missing = client.post(reverse("score-comment", args=[table["relationship"].pk, "2019-01"]), {"body": "x"})
    assert missing.status_code == 422 and Comment.objects.count() == 1


def test_editing_within_the_window_and_deleting(client, table, talk):
    comment = talk["shared"]
    client.force_login(table["client_contributor"])
    edit = reverse("comment-edit", args=[comment.pk])
    assert client.get(edit).status_code == 200
    response = client.post(edit, {"body": "SHARED-REMARK corrected", "version": comment.version})
    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.body == "SHARED-REMARK corrected" and comment.edited_at is not None
    Comment.objects.filter(pk=comment.pk).update(created_at=timezone.now() - dt.timedelta(minutes=20))
    assert client.post(edit, {"body": "too late", "version": comment.version}).status_code == 302
    comment.refresh_from_db()
    assert comment.body == "SHARED-REMARK corrected"
    # Someone else's comment: no edit, no delete.
    client.force_login(table["client_colleague"])
    assert client.post(reverse("comment-delete", args=[comment.pk])).status_code == 403
    client.force_login(table["client_contributor"])
    client.post(reverse("comment-delete", args=[comment.pk]), {"version": comment.version})
    comment.refresh_from_db()
    assert comment.deleted_at is not None
    page = client.get(reverse("project-detail", args=[table["project"].pk])).content.decode()
    assert "SHARED-REMARK corrected" not in page


def test_the_project_page_costs_the_same_with_many_comments(client, table, django_assert_num_queries):
    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client.force_login(table["client_contributor"])
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("project-detail", args=[table["project"].pk])).status_code == 200
        return len(captured)

    first = say(table["client_contributor"], "one @pia", table)
    say(table["provider_contributor"], "and its reply", table, parent=first)
    few = count_queries()
    for number in range(12):
        thread = say(table["provider_contributor"], f"thread {number} @carla", table, visibility="shared")
        say(table["client_colleague"], "reply @pia", table, parent=thread)
        say(
            UserFactory(role=Role.CONTRIBUTOR, organization=table["client_a"]),
            "note",
            table,
            visibility="internal",
        )
    assert count_queries() == few

"""Where a collaboration record is read in the browser, by the pages' URL names: the one place
both the pages and the notifications that point at them take a link from."""

import datetime as dt

from django.urls import reverse

from collab.models import Comment, Contest


def score_url(relationship_id: int, period: dt.date) -> str:
    """The relationship dashboard at a month's score (where its discussion is)."""
    return f"{reverse('relationship-dashboard', args=[relationship_id])}?month={period:%Y-%m}"


def comment_url(comment: Comment) -> str:
    """Where a comment is read: its project's page or its month's dashboard, at the comment."""
    if comment.project_id:
        url = reverse("project-detail", args=[comment.project_id])
    else:
        url = score_url(comment.relationship_id, comment.period)
    return f"{url}#comment-{comment.pk}"


def contest_url(contest: Contest) -> str:
    return reverse("contest-detail", args=[contest.pk])


def record_url(record) -> str:
    """The page of a comment or a contest ("" for anything else)."""
    if isinstance(record, Comment):
        return comment_url(record)
    if isinstance(record, Contest):
        return contest_url(record)
    return ""

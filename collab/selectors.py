"""Reads of the collaboration records, always scoped: the relationships a user sees (the one
scoping rule, projects.access) and, for internal comments, the side they sit on."""

from django.db.models import Prefetch, Q, QuerySet

from collab.models import Comment, Visibility
from projects import access
from projects.models import Relationship

# --- Comments ---------------------------------------------------------------------------------


def comment_visible_to(user, comment: Comment) -> bool:
    """Whether `user` may read `comment`: they see its relationship and, when it is internal, sit
    on its author's side. `comment_list` is the same rule as a query."""
    relationship = comment.relationship
    if not access.can_see_relationship(user, relationship):
        return False
    return (
        comment.visibility == Visibility.SHARED or access.side_of(user, relationship) == comment.author_side
    )


def comment_list(*, user, include_deleted: bool = False) -> QuerySet[Comment]:
    """The comments `user` may read: shared ones of the relationships they see, and the internal
    ones of their own side. With `include_deleted`, tombstones too (of those same comments only)."""
    comments = access.scope(user, Comment.objects.all()).filter(
        Q(visibility=Visibility.SHARED)
        | (Q(visibility=Visibility.INTERNAL) & access.on_my_side(user, side_field="author_side"))
    )
    comments = comments.select_related(
        "author", "relationship__client", "relationship__provider", "project"
    ).prefetch_related("mentions")
    if include_deleted:
        return comments
    return comments.filter(deleted_at__isnull=True, relationship__deleted_at__isnull=True).exclude(
        project__deleted_at__isnull=False
    )


def comment_threads(*, user, relationship: Relationship, project=None, period=None) -> list[Comment]:
    """The discussion of a project or of a month's score as threads, oldest first: each first
    comment with its visible replies in `thread_replies`. A deleted first comment stays (shown as
    deleted) while it has replies that live."""
    target = {"project": project} if project is not None else {"project__isnull": True, "period": period}
    comments = comment_list(user=user, include_deleted=True).filter(
        relationship=relationship, relationship__deleted_at__isnull=True, **target
    )
    replies = comments.filter(parent__isnull=False, deleted_at__isnull=True).order_by("created_at", "id")
    roots = (
        comments.filter(parent__isnull=True)
        .prefetch_related(Prefetch("replies", queryset=replies, to_attr="thread_replies"))
        .order_by("created_at", "id")
    )
    return [root for root in roots if root.deleted_at is None or root.thread_replies]


def mentionable_people(*, relationship: Relationship, author_side: str, visibility: str) -> list:
    """The people of the table a new comment may mention, for the pages' hint: both sides for a
    shared comment, the author's side for an internal one (anyone else who may read the comment,
    an admin say, may be mentioned too; `comment_visible_to` decides)."""
    seated = access.seated_people(relationship)
    if visibility == Visibility.INTERNAL:
        return seated[author_side]
    return seated[access.Side.CLIENT] + seated[access.Side.PROVIDER]

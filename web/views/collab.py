"""The collaboration pages: discussions on projects and monthly scores. Views parse input with
web.forms.collab, call collab's services, and read through collab's selectors (scoped, internal
comments only to their side)."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from collab import markup
from collab import selectors as collab_selectors
from collab import services as collab_services
from collab.models import Comment
from projects import access
from projects import selectors as project_selectors
from projects.models import Relationship
from projects.records import VersionConflict, conflict_message
from web.forms.collab import CommentEditForm, CommentForm, party_names
from web.forms.projects import add_service_errors
from web.views.common import visible_project

MONTH_PARAM_FORMAT = "%Y-%m"


def visible_relationship(request, pk: int) -> Relationship:
    try:
        return project_selectors.relationship_list(user=request.user).get(pk=pk)
    except Relationship.DoesNotExist as missing:
        raise Http404("No such relationship.") from missing


def parse_month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, MONTH_PARAM_FORMAT).date().replace(day=1)
    except ValueError as error:
        raise Http404("No such month.") from error


def score_url(relationship_id: int, period: dt.date) -> str:
    return f"{reverse('relationship-dashboard', args=[relationship_id])}?month={period:%Y-%m}"


def comment_record_url(comment: Comment) -> str:
    """Where a comment is read: its project's page or its month's dashboard, at the comment."""
    if comment.project_id:
        url = reverse("project-detail", args=[comment.project_id])
    else:
        url = score_url(comment.relationship_id, comment.period)
    return f"{url}#comment-{comment.pk}"


# --- The discussion of a record, for the pages that show one ------------------------------------


def _author_organization(comment: Comment) -> str:
    relationship = comment.relationship
    return relationship.client.name if comment.author_side == "client" else relationship.provider.name


def _prepare(comment: Comment, user) -> Comment:
    comment.html = mark_safe(  # markup.render escapes every character it does not write itself
        markup.render(comment.body, mentions={person.get_username() for person in comment.mentions.all()})
    )
    comment.organization_name = _author_organization(comment)
    comment.can_edit = collab_services.comment_can_edit(user, comment)
    comment.can_delete = collab_services.comment_can_delete(user, comment)
    return comment


def discussion_context(request, *, relationship: Relationship, project=None, period=None, form=None) -> dict:
    """The threads of a project or a month's score, and the form to join them (for a person of
    either side)."""
    user = request.user
    threads = collab_selectors.comment_threads(
        user=user, relationship=relationship, project=project, period=period
    )
    for thread in threads:
        _prepare(thread, user)
        for reply in thread.thread_replies:
            _prepare(reply, user)
    side = access.side_of(user, relationship)
    if project is not None:
        post_url = reverse("project-comment", args=[project.pk])
    else:
        post_url = reverse("score-comment", args=[relationship.pk, f"{period:%Y-%m}"])
    mine, other = party_names(relationship, side)
    context = {
        "threads": threads,
        "count": sum((thread.deleted_at is None) + len(thread.thread_replies) for thread in threads),
        "can_post": side is not None,
        "side": side,
        "my_organization": mine,
        "other_organization": other,
        "post_url": post_url,
        "relationship": relationship,
    }
    if side is not None:
        context["form"] = form or CommentForm(relationship=relationship, side=side)
        context["reply_form"] = CommentForm(relationship=relationship, side=side, auto_id=False)
        context["people"] = access.seated_people(relationship)
    return context


# --- Posting, editing, deleting -----------------------------------------------------------------


def _post(request, *, relationship: Relationship, target: dict, back: str, title: str):
    side = collab_services.side_or_refuse(request.user, relationship, to="comment")
    form = CommentForm(request.POST, relationship=relationship, side=side)
    if form.is_valid():
        parent = None
        parent_id = form.cleaned_data.get("parent")
        if parent_id:
            parent = collab_selectors.comment_list(user=request.user).filter(pk=parent_id).first()
            if parent is None:
                form.add_error(None, "The comment you replied to is no longer there.")
        if not form.errors:
            fields = collab_services.CommentFields(
                **({"parent": parent} if parent is not None else target),
                visibility=form.cleaned_data["visibility"],
                body=form.cleaned_data["body"],
            )
            try:
                comment = collab_services.comment_post(actor=request.user, fields=fields)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                shown = "your side" if comment.is_internal else "both sides"
                messages.success(request, f"Comment posted; {shown} can read it.")
                return redirect(comment_record_url(comment))
    context = {"form": form, "back": back, "title": title, "relationship": relationship}
    return render(request, "web/collab/comment_form.html", context, status=422)


@require_POST
@login_required
def project_comment(request, pk: int):
    project = visible_project(request, pk)
    return _post(
        request,
        relationship=project.relationship,
        target={"project": project},
        back=reverse("project-detail", args=[project.pk]),
        title=f"Comment on {project.title}",
    )


@require_POST
@login_required
def score_comment(request, pk: int, month: str):
    relationship = visible_relationship(request, pk)
    period = parse_month(month)
    return _post(
        request,
        relationship=relationship,
        target={"relationship": relationship, "period": period},
        back=score_url(relationship.pk, period),
        title=f"Comment on the {period:%B %Y} score of {relationship.name}",
    )


def _visible_comment(request, pk: int) -> Comment:
    comment = collab_selectors.comment_list(user=request.user).filter(pk=pk).first()
    if comment is None:
        raise Http404("No such comment.")
    return comment


@require_http_methods(["GET", "POST"])
@login_required
def comment_edit(request, pk: int):
    comment = _visible_comment(request, pk)
    back = comment_record_url(comment)
    if not collab_services.comment_can_edit(request.user, comment):
        minutes = collab_services.edit_window().seconds // 60
        messages.error(request, f"A comment can be edited by its author for {minutes} minutes after posting.")
        return redirect(back)
    if request.method == "GET":
        form = CommentEditForm(initial={"body": comment.body, "version": comment.version})
        return render(request, "web/collab/comment_form.html", _edit_context(comment, form, back))
    form = CommentEditForm(request.POST)
    if form.is_valid():
        try:
            comment = collab_services.comment_edit(
                actor=request.user,
                comment=comment,
                changes=collab_services.CommentFields(body=form.cleaned_data["body"]),
                expected_version=form.cleaned_data["version"],
            )
        except VersionConflict as conflict:
            form.add_error(None, conflict_message(conflict.current, reader=request.user))
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Comment saved.")
            return redirect(comment_record_url(comment))
    return render(request, "web/collab/comment_form.html", _edit_context(comment, form, back), status=422)


def _edit_context(comment: Comment, form, back: str) -> dict:
    until = collab_services.comment_editable_until(comment)
    return {
        "form": form,
        "back": back,
        "title": "Edit your comment",
        "comment": comment,
        "editable_until": until,
        "relationship": comment.relationship,
        "action": reverse("comment-edit", args=[comment.pk]),
    }


@require_POST
@login_required
def comment_delete(request, pk: int):
    comment = _visible_comment(request, pk)
    back = comment_record_url(comment).split("#")[0] + "#discussion"
    version = request.POST.get("version")
    try:
        collab_services.comment_delete(
            actor=request.user,
            comment=comment,
            expected_version=int(version) if version and version.isdigit() else None,
        )
    except VersionConflict as conflict:
        messages.error(request, conflict_message(conflict.current, reader=request.user))
    else:
        messages.success(request, "Comment deleted.")
    return redirect(back)

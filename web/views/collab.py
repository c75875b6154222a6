"""The collaboration pages: discussions on projects and monthly scores, contested figures. Views
parse input with
web.forms.collab, call collab's services, and read through collab's selectors (scoped, internal
comments only to their side)."""

import csv
import dataclasses
import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from collab import markup, pulse
from collab import selectors as collab_selectors
from collab import services as collab_services
from collab.calendar import (
    parse_quarter,
    previous_quarter,
    quarter_end,
    quarter_key,
    quarter_label,
    quarter_start,
)
from collab.links import comment_url as comment_record_url
from collab.links import score_url
from collab.models import Comment, Contest, PulseResponse
from presentation import formatting
from projects import access
from projects import selectors as project_selectors
from projects.models import Relationship
from projects.records import VersionConflict, conflict_message
from web import exports
from web.forms.collab import (
    CommentEditForm,
    CommentForm,
    ContestAnswerForm,
    ContestForm,
    ContestResolveForm,
    ContestWithdrawForm,
    PulseForm,
    party_names,
)
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


# --- Contested figures ------------------------------------------------------------------------

Kind = Contest.Kind


def figure_text(contest: Contest, value: str) -> str:
    """A contested figure's value (as stored, plain text) as the pages show such a figure."""
    if not value:
        return formatting.DASH
    currency = contest.relationship.currency
    if contest.kind in (Kind.MEASUREMENT, Kind.BASELINE):
        return formatting.measure(value, contest.project_kpi.unit, currency)
    if contest.kind == Kind.REALISED_BENEFIT:
        return f"{formatting.money(value, currency)} a year"
    if contest.kind == Kind.DELIVERY_DATE:
        try:
            return formatting.day(dt.date.fromisoformat(value))
        except ValueError:
            return value
    return formatting.score(value)


def figure_name(contest: Contest) -> str:
    """What a contest is about, for its page: "Measurement of Fill rate on 1 Jun 2024"."""
    if contest.kind == Kind.MEASUREMENT:
        measured_on = formatting.day(contest.measurement.measured_on)
        return f"Measurement of {contest.project_kpi.kpi.name} on {measured_on}"
    if contest.kind == Kind.BASELINE:
        return f"Baseline of {contest.project_kpi.kpi.name}"
    if contest.kind == Kind.SCORE:
        return f"Score of {formatting.month(contest.period)}"
    return contest.get_kind_display()


def figure_url(contest: Contest) -> str:
    if contest.kind == Kind.SCORE:
        return score_url(contest.relationship_id, contest.period)
    return reverse("project-detail", args=[contest.project_id])


def _prepare_contest(contest: Contest) -> Contest:
    contest.figure_name = figure_name(contest)
    contest.figure_url = figure_url(contest)
    contest.contested_text = figure_text(contest, contest.contested_value)
    contest.proposed_text = figure_text(contest, contest.proposed_value) if contest.proposed_value else ""
    contest.corrected_text = figure_text(contest, contest.corrected_value) if contest.corrected_value else ""
    contest.due = collab_services.contest_due(contest) if contest.created_at else None
    return contest


def _new_contest_target(request) -> tuple[dict, Relationship]:
    """The figure a new contest names, from the query (?kind=measurement&measurement=12), read
    through the scoped selectors (404 outside one's scope)."""
    from kpis import selectors as kpi_selectors

    params = request.GET if request.method == "GET" else request.POST
    kind = params.get("kind")
    user = request.user

    def one(queryset, name):
        value = params.get(name, "")
        if not value.isdigit():
            raise Http404("No such figure.")
        found = queryset.filter(pk=int(value)).first()
        if found is None:
            raise Http404("No such figure.")
        return found

    if kind == Kind.MEASUREMENT:
        measurement = one(
            kpi_selectors.measurement_list(user=user).select_related("project_kpi__project"), "measurement"
        )
        return {"kind": kind, "measurement": measurement}, measurement.project_kpi.project.relationship
    if kind == Kind.BASELINE:
        project_kpi = one(kpi_selectors.project_kpi_list(user=user), "project_kpi")
        return {"kind": kind, "project_kpi": project_kpi}, project_kpi.project.relationship
    if kind in (Kind.DELIVERY_DATE, Kind.REALISED_BENEFIT):
        project = one(project_selectors.project_list(user=user), "project")
        return {"kind": kind, "project": project}, project.relationship
    if kind == Kind.SCORE:
        relationship = one(project_selectors.relationship_list(user=user), "relationship")
        period = parse_month(params.get("month", ""))
        return {"kind": kind, "relationship": relationship, "period": period}, relationship
    raise Http404("No such figure.")


@require_http_methods(["GET", "POST"])
@login_required
def contest_new(request):
    target, relationship = _new_contest_target(request)
    if not collab_services.contest_can_raise(request.user, relationship):
        raise PermissionDenied("Contributors and account managers of the relationship contest its figures.")
    problem = None
    try:
        kind, _, fields, value = collab_services.figure_of(target)
    except ValidationError as error:
        problem = " ".join(error.messages)
        preview = None
    else:
        preview = _prepare_contest(
            Contest(relationship=relationship, kind=kind, contested_value=value, **fields)
        )
    form = ContestForm(request.POST or None)
    if request.method == "POST" and problem is None and form.is_valid():
        try:
            contest = collab_services.contest_raise(
                actor=request.user, fields=collab_services.ContestFields(**target, **form.cleaned_data)
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Contest raised: the other side has been told.")
            return redirect("contest-detail", pk=contest.pk)
    context = {
        "form": form,
        "relationship": relationship,
        "target": target,
        "preview": preview,
        "problem": problem,
        "escalation_days": settings.BPO_COLLAB["CONTEST_ESCALATION_BUSINESS_DAYS"],
    }
    return render(request, "web/collab/contest_new.html", context, status=422 if form.errors else 200)


def _visible_contest(request, pk: int) -> Contest:
    contest = collab_selectors.contest_list(user=request.user).filter(pk=pk).first()
    if contest is None:
        raise Http404("No such contest.")
    return contest


def contest_page(request, contest: Contest, *, status: int = 200, **forms):
    user = request.user
    version = {"version": contest.version}
    context = {
        "contest": _prepare_contest(contest),
        "relationship": contest.relationship,
        "history": collab_selectors.contest_history(contest),
        "can_answer": collab_services.contest_can_answer(user, contest),
        "can_resolve": collab_services.contest_can_resolve(user, contest),
        "can_withdraw": collab_services.contest_can_withdraw(user, contest),
        "answer_form": forms.get("answer_form") or ContestAnswerForm(initial=version),
        "resolve_form": forms.get("resolve_form") or ContestResolveForm(initial=version),
        "withdraw_form": ContestWithdrawForm(initial=version),
    }
    return render(request, "web/collab/contest_detail.html", context, status=status)


@require_http_methods(["GET"])
@login_required
def contest_detail(request, pk: int):
    return contest_page(request, _visible_contest(request, pk))


def _contest_step(request, pk: int, form_class, form_name: str, step):
    contest = _visible_contest(request, pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            contest = step(contest, form.cleaned_data)
        except VersionConflict as conflict:
            form.add_error(None, conflict_message(conflict.current, reader=request.user))
            contest = conflict.current
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return redirect("contest-detail", pk=contest.pk)
    contest = _visible_contest(request, pk)
    return contest_page(request, contest, status=422, **{form_name: form})


@require_POST
@login_required
def contest_answer(request, pk: int):
    def step(contest, data):
        answered = collab_services.contest_answer(
            actor=request.user, contest=contest, answer=data["answer"], expected_version=data["version"]
        )
        messages.success(request, "Answer sent.")
        return answered

    return _contest_step(request, pk, ContestAnswerForm, "answer_form", step)


@require_POST
@login_required
def contest_resolve(request, pk: int):
    def step(contest, data):
        resolved = collab_services.contest_resolve(
            actor=request.user,
            contest=contest,
            outcome=data["outcome"],
            resolution=data["resolution"],
            corrected_value=data["corrected_value"] or None,
            expected_version=data["version"],
        )
        if resolved.outcome == Contest.Outcome.ACCEPTED:
            messages.success(request, "Contest accepted; the figure is corrected.")
        else:
            messages.success(request, "Contest rejected; the figure stands.")
        return resolved

    return _contest_step(request, pk, ContestResolveForm, "resolve_form", step)


@require_POST
@login_required
def contest_withdraw(request, pk: int):
    def step(contest, data):
        withdrawn = collab_services.contest_withdraw(
            actor=request.user, contest=contest, expected_version=data["version"]
        )
        messages.success(request, "Contest withdrawn.")
        return withdrawn

    return _contest_step(request, pk, ContestWithdrawForm, "withdraw_form", step)


def score_contests_context(request, *, relationship: Relationship, score) -> dict:
    """For a page showing a month's score: the contests it rests on (`feeds_score`), the month's own
    contest, and the projects and tracked KPIs whose figures are contested."""
    feeding = (
        collab_selectors.contests_feeding_score(relationship=relationship, period=score.period)
        if score is not None
        else []
    )
    for contest in feeding:
        contest.figure_name = figure_name(contest)
    figures = [contest for contest in feeding if contest.kind != Kind.SCORE]
    return {
        "feeding": feeding,
        "score": next((contest for contest in feeding if contest.kind == Kind.SCORE), None),
        "projects": {c.project_id for c in figures if c.kind in (Kind.DELIVERY_DATE, Kind.REALISED_BENEFIT)},
        "project_kpis": {c.project_kpi_id for c in figures if c.project_kpi_id},
        "can_contest": collab_services.contest_can_raise(request.user, relationship),
    }


@require_http_methods(["GET"])
@login_required
def relationship_contests(request, pk: int):
    relationship = visible_relationship(request, pk)
    contests = [
        _prepare_contest(contest)
        for contest in collab_selectors.contest_list(user=request.user)
        .filter(relationship=relationship)
        .order_by("-created_at", "-id")
    ]
    context = {
        "relationship": relationship,
        "unresolved": [c for c in contests if c.is_unresolved],
        "resolved": [c for c in contests if not c.is_unresolved],
    }
    return render(request, "web/collab/relationship_contests.html", context)


# --- The relationship pulse -------------------------------------------------------------------


def pulse_card(request, *, relationship: Relationship) -> dict:
    """For the relationship dashboard: the latest published quarter's trust, beside the score, and
    whether the person has this quarter's pulse still to answer."""
    today = timezone.localdate()
    quarter = collab_selectors.latest_pulse_quarter(today)
    results = collab_selectors.pulse_results(relationship=relationship, quarter=quarter, today=today)
    side = access.side_of(request.user, relationship)
    due = (
        side is not None
        and collab_selectors.my_pulse_answer(user=request.user, relationship=relationship, quarter=today)
        is None
    )
    return {
        "results": results,
        "label": quarter_label(quarter),
        "due": due,
        "current_label": quarter_label(today),
        "url": reverse("relationship-pulse", args=[relationship.pk]),
    }


def _pulse_quarter(request, today: dt.date) -> dt.date:
    text = request.GET.get("quarter")
    if not text:
        return collab_selectors.latest_pulse_quarter(today)
    try:
        return parse_quarter(text)
    except ValueError as error:
        raise Http404("No such quarter.") from error


@require_http_methods(["GET", "POST"])
@login_required
def relationship_pulse(request, pk: int):
    relationship = visible_relationship(request, pk)
    today = timezone.localdate()
    side = access.side_of(request.user, relationship)
    mine = (
        collab_selectors.my_pulse_answer(user=request.user, relationship=relationship, quarter=today)
        if side is not None
        else None
    )
    form = None
    if side is not None:
        initial = (
            {name: getattr(mine, name) for name in (*PulseResponse.ANSWERS, "comment", "version")}
            if mine
            else {}
        )
        form = PulseForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if form is None:
            raise PermissionDenied("The people of the relationship's two sides answer its pulse.")
        if form.is_valid():
            data = form.cleaned_data
            fields = collab_services.PulseFields(
                **{name: data[name] for name in PulseResponse.ANSWERS}, comment=data["comment"]
            )
            try:
                if mine is None:
                    collab_services.pulse_answer(
                        actor=request.user, fields=dataclasses.replace(fields, relationship=relationship)
                    )
                else:
                    collab_services.pulse_change(
                        actor=request.user, response=mine, changes=fields, expected_version=data["version"]
                    )
            except VersionConflict as conflict:
                form.add_error(None, conflict_message(conflict.current, reader=request.user))
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request,
                    f"Thank you: your answers for {quarter_label(today)} are saved. You can change them "
                    f"until {formatting.day(quarter_end(today))}; only you will ever see them.",
                )
                return redirect("relationship-pulse", pk=relationship.pk)
    quarter = _pulse_quarter(request, today)
    results = collab_selectors.pulse_results(relationship=relationship, quarter=quarter, today=today)
    context = {
        "relationship": relationship,
        "form": form,
        "mine": mine,
        "side": side,
        "current_label": quarter_label(today),
        "closes_on": quarter_end(today),
        "results": results,
        "quarter_label": quarter_label(quarter),
        "answers_so_far": collab_selectors.pulse_answers_so_far(relationship=relationship, quarter=quarter)
        if not results.published
        else None,
        "quarters": [
            {"key": quarter_key(q), "label": quarter_label(q), "current": q == quarter}
            for q in _recent_quarters(today, count=6)
        ],
        "questions": pulse.QUESTIONS,
        "band_labels": pulse.BAND_LABELS,
        "thresholds": settings.BPO_COLLAB,
    }
    return render(
        request, "web/collab/pulse.html", context, status=422 if form is not None and form.errors else 200
    )


def _recent_quarters(today: dt.date, *, count: int) -> list[dt.date]:
    quarters, quarter = [], quarter_start(today)
    for _ in range(count):
        quarters.append(quarter)
        quarter = previous_quarter(quarter)
    return quarters


# --- Recognition ------------------------------------------------------------------------------


def contributors_context(request, *, project, can_write: bool, people=None) -> dict:
    """The project page's contributors, and (for its writers) the people who may still be named."""
    contributors = list(
        collab_selectors.contributor_list(user=request.user)
        .filter(project=project)
        .order_by("side", "person__first_name", "person__last_name", "id")
    )
    context = {"contributors": contributors, "can_name": can_write}
    if can_write:
        seated = people if people is not None else access.seated_people(project.relationship)
        named = {contributor.person_id for contributor in contributors}
        context["candidates"] = [
            (relationship_party(project.relationship, side), person)
            for side in (access.Side.CLIENT, access.Side.PROVIDER)
            for person in seated[side]
            if person.pk not in named
        ]
    return context


def relationship_party(relationship: Relationship, side: str):
    return relationship.client if side == access.Side.CLIENT else relationship.provider


@require_POST
@login_required
def contributor_add(request, pk: int):
    project = visible_project(request, pk)
    back = reverse("project-detail", args=[project.pk]) + "#contributors"
    person_id = request.POST.get("person", "")
    person = None
    if person_id.isdigit():
        person = get_user_model().objects.filter(pk=int(person_id), is_active=True).first()
    try:
        contributor = collab_services.contributor_add(
            actor=request.user,
            fields=collab_services.ContributorFields(
                project=project, person=person, contribution=request.POST.get("contribution", "")[:200]
            ),
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        name = contributor.person.get_full_name() or contributor.person.get_username()
        messages.success(request, f"{name} ({contributor.organization}) is named on this project.")
    return redirect(back)


@require_POST
@login_required
def contributor_remove(request, pk: int):
    contributor = collab_selectors.contributor_list(user=request.user).filter(pk=pk).first()
    if contributor is None:
        raise Http404("No such contributor.")
    collab_services.contributor_remove(actor=request.user, contributor=contributor)
    messages.success(request, "Contributor removed.")
    return redirect(reverse("project-detail", args=[contributor.project_id]) + "#contributors")


@require_http_methods(["GET"])
@login_required
def person_contributions(request, pk: int | None = None):
    """A person's page of contributions: those the viewer may see (all of them on one's own)."""
    person = request.user if pk is None else get_user_model().objects.filter(pk=pk, is_active=True).first()
    if person is None:
        raise Http404("No such person.")
    contributions = collab_selectors.person_contributions(user=request.user, person=person)
    own = person.pk == request.user.pk
    if not contributions and not own:
        raise Http404("No such person.")  # nothing in common: not even whether they exist
    [summary] = collab_selectors.recognition(user=request.user, person=person) or [None]
    context = {
        "person": person,
        "own": own,
        "contributions": contributions,
        "summary": summary,
        "since": collab_selectors.recognition_since(),
    }
    return render(request, "web/collab/person.html", context)


# --- Export -----------------------------------------------------------------------------------

DISCUSSION_CSV_HEADER = ["Posted", "Author", "Organisation", "Visibility", "On", "Reply to", "Text", "Edited"]


@require_http_methods(["GET"])
@login_required
def discussion_export(request, pk: int):
    """A relationship's discussion (its projects' and its scores'), as CSV: exactly the comments the
    reader may read — the shared ones and their own side's internal ones."""
    relationship = visible_relationship(request, pk)
    comments = (
        collab_selectors.comment_list(user=request.user)
        .filter(relationship=relationship)
        .order_by("created_at", "id")
    )
    writer = csv.writer(exports.Echo())

    def rows():
        yield "\ufeff"
        yield writer.writerow(DISCUSSION_CSV_HEADER)
        for comment in comments.iterator(chunk_size=500):
            on = comment.project.title if comment.project_id else f"Score {formatting.month(comment.period)}"
            author = comment.author.get_full_name() or comment.author.get_username() if comment.author else ""
            yield writer.writerow(
                [
                    timezone.localtime(comment.created_at).strftime("%Y-%m-%d %H:%M"),
                    exports.csv_text(author),
                    exports.csv_text(_author_organization(comment)),
                    comment.get_visibility_display(),
                    exports.csv_text(on),
                    f"#{comment.parent_id}" if comment.parent_id else "",
                    exports.csv_text(comment.body),
                    "yes" if comment.edited_at else "",
                ]
            )

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="discussion-{relationship.pk}-{stamp}.csv"'
    return response

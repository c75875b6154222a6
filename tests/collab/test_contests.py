"""Contested figures: raise → answer → resolve (accept corrects the figure through its service, the
audit entry linked; reject with a reason; withdraw), markers, and escalation after 10 business days."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef
from django.utils import timezone

from collab import notifications, selectors
from collab.models import Contest
from collab.services import (
    ContestFields,
    contest_answer,
    contest_raise,
    contest_resolve,
    contest_withdraw,
    contests_escalate_overdue,
)
from kpis import scoring
from kpis.models import Measurement, ProjectKPI, RelationshipScore
from kpis.rollup import rollup_scores
from projects.access import Role
from projects.models import AuditEntry, InnovationProject
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def notices(monkeypatch):
    sent = []
    monkeypatch.setattr(notifications, "notify_people", sent.append)
    return sent


def contest(actor, kind, reason="The figure is wrong", **target):
    return contest_raise(actor=actor, fields=ContestFields(kind=kind, reason=reason, **target))


def current_score(relationship):
    return RelationshipScore.objects.get(
        relationship=relationship, period=timezone.localdate().replace(day=1)
    )


def test_the_whole_workflow_accept_corrects_the_figure_and_the_score_with_audit_links(
    table, delivered, notices, django_capture_on_commit_callbacks
):
    relationship, measurement = table["relationship"], delivered["measurement"]
    rollup_scores(period=timezone.localdate(), relationship_ids=[relationship.pk])
    before = current_score(relationship)
    with django_capture_on_commit_callbacks(execute=True):
        raised = contest(
            table["client_contributor"],
            "measurement",
            measurement=measurement,
            proposed_value="70",
            reason="Our own count says 70 %",
        )
    assert (raised.status, raised.raised_side, raised.contested_value) == ("open", "client", "85")
    assert raised.project == delivered["project"] and raised.project_kpi == delivered["project_kpi"]
    # The other side is told: the provider's contributors and the relationship's account manager.
    assert set(notices[-1].recipient_ids) == {table["provider_contributor"].pk, table["account_manager"].pk}

    with django_capture_on_commit_callbacks(execute=True):
        answered = contest_answer(
            actor=table["account_manager"], contest=raised, answer="We will recount.", expected_version=1
        )
    assert answered.status == "answered" and answered.answered_by == table["account_manager"]
    assert notices[-1].recipient_ids == (table["client_contributor"].pk,)

    with django_capture_on_commit_callbacks(execute=True):
        resolved = contest_resolve(
            actor=table["account_manager"],
            contest=answered,
            outcome="accepted",
            corrected_value="70",
            resolution="Recounted: 70 %.",
            expected_version=2,
        )
    measurement.refresh_from_db()
    assert measurement.value == Decimal("70") and measurement.version == 2
    assert (resolved.status, resolved.outcome, resolved.corrected_value) == ("resolved", "accepted", "70")
    # The figure's correction is an ordinary audit entry of the measurement, linked to the contest.
    entry = resolved.correction
    assert (entry.content_type.model, entry.object_id, entry.version) == ("measurement", measurement.pk, 2)
    assert entry.changes["value"] == {"before": "85.0000", "after": "70.0000"}
    assert entry.actor == table["account_manager"]
    # The score followed the corrected figure (the normal recompute after commit).
    after = current_score(relationship)
    assert after.impact < before.impact and after.score < before.score
    # The whole history: the contest's own audit entries, one per step.
    steps = AuditEntry.objects.filter(content_type__model="contest", object_id=raised.pk).order_by("at", "id")
    assert [step.action for step in steps] == ["create", "transition", "transition"]
    assert steps[2].changes["status"] == {"before": "answered", "after": "resolved"}
    assert steps[2].changes["correction"]["after"] == entry.pk


def test_a_rejection_needs_a_reason_and_leaves_the_figure(table, delivered):
    raised = contest(table["client_contributor"], "baseline", project_kpi=delivered["project_kpi"])
    with pytest.raises(ValidationError) as refused:
        contest_resolve(actor=table["account_manager"], contest=raised, outcome="rejected")
    assert "resolution" in refused.value.message_dict
    rejected = contest_resolve(
        actor=table["account_manager"],
        contest=raised,
        outcome="rejected",
        resolution="The baseline is audited.",
    )
    assert rejected.outcome == "rejected" and rejected.correction is None
    assert ProjectKPI.objects.get(pk=delivered["project_kpi"].pk).baseline_value == Decimal("60")


def test_who_may_raise_answer_and_resolve(table, delivered):
    measurement = delivered["measurement"]
    for name in ("client_viewer", "admin", "portfolio_executive", "client_b_contributor", "no_role"):
        with pytest.raises(PermissionDenied):
            contest(table[name], "measurement", measurement=measurement)
    raised = contest(table["client_contributor"], "measurement", measurement=measurement)
    # The raiser's own side does not answer its contest; nor does anyone answer twice.
    with pytest.raises(PermissionDenied):
        contest_answer(actor=table["client_colleague"], contest=raised, answer="Agreed")
    answered = contest_answer(actor=table["provider_contributor"], contest=raised, answer="Looking")
    with pytest.raises(ValidationError):
        contest_answer(actor=table["account_manager"], contest=answered, answer="Again")
    # Only the keepers of the figures settle it (accepting corrects through their services).
    for name in ("client_contributor", "provider_contributor"):
        with pytest.raises(PermissionDenied):
            contest_resolve(actor=table[name], contest=answered, outcome="rejected", resolution="No")
    # Whoever raised it may withdraw it.
    with pytest.raises(PermissionDenied):
        contest_withdraw(actor=table["client_colleague"], contest=answered)
    withdrawn = contest_withdraw(actor=table["client_contributor"], contest=answered)
    assert (withdrawn.status, withdrawn.outcome) == ("resolved", "withdrawn")


def test_one_open_contest_per_figure(table, delivered):
    contest(table["client_contributor"], "delivery_date", project=delivered["project"])
    with pytest.raises(ValidationError) as refused:
        contest(table["provider_contributor"], "delivery_date", project=delivered["project"])
    assert "already contested" in str(refused.value)
    # Another figure of the same project is contested on its own.
    contest(table["provider_contributor"], "realised_benefit", project=delivered["project"])


def test_figures_that_do_not_exist_cannot_be_contested(table, delivered):
    undelivered = table["project"]
    with pytest.raises(ValidationError):
        contest(table["client_contributor"], "delivery_date", project=undelivered)
    with pytest.raises(ValidationError):
        contest(table["client_contributor"], "realised_benefit", project=undelivered)
    with pytest.raises(ValidationError) as no_score:
        contest(
            table["client_contributor"],
            "score",
            relationship=table["relationship"],
            period=dt.date(2019, 1, 1),
        )
    assert "period" in no_score.value.message_dict
    with pytest.raises(ValidationError) as mismatch:
        contest(
            table["client_contributor"],
            "measurement",
            measurement=delivered["measurement"],
            project=table["project"],
        )
    assert "project" in mismatch.value.message_dict
    with pytest.raises(ValidationError):
        contest(table["client_contributor"], "measurement", measurement=delivered["measurement"], reason="  ")
    assert not Contest.objects.exists()


@pytest.mark.parametrize(
    ("kind", "corrected", "check"),
    [
        (
            "baseline",
            "55",
            lambda d: ProjectKPI.objects.get(pk=d["project_kpi"].pk).baseline_value == Decimal("55"),
        ),
        (
            "delivery_date",
            None,
            lambda d: (
                InnovationProject.objects.get(pk=d["project"].pk).delivered_on
                == timezone.localdate() - dt.timedelta(days=12)
            ),
        ),
        (
            "realised_benefit",
            "75000",
            lambda d: (
                InnovationProject.objects.get(pk=d["project"].pk).realised_annual_benefit == Decimal("75000")
            ),
        ),
    ],
)
def test_accepting_corrects_each_kind_of_figure_through_its_service(table, delivered, kind, corrected, check):
    target = (
        {"project_kpi": delivered["project_kpi"]} if kind == "baseline" else {"project": delivered["project"]}
    )
    raised = contest(table["client_contributor"], kind, **target)
    corrected = corrected or (timezone.localdate() - dt.timedelta(days=12)).isoformat()
    resolved = contest_resolve(
        actor=table["account_manager"], contest=raised, outcome="accepted", corrected_value=corrected
    )
    assert check(delivered) and resolved.correction is not None


def test_a_correction_the_service_refuses_writes_nothing(table, delivered):
    raised = contest(table["client_contributor"], "measurement", measurement=delivered["measurement"])
    for bad in ("-5", "abc", "85", "101"):  # negative percent, not a number, unchanged, over 100 %
        with pytest.raises(ValidationError) as refused:
            contest_resolve(
                actor=table["account_manager"], contest=raised, outcome="accepted", corrected_value=bad
            )
        assert "corrected_value" in refused.value.message_dict, bad
    assert Contest.objects.get(pk=raised.pk).status == "open"
    assert Measurement.objects.get(pk=delivered["measurement"].pk).value == Decimal("85")


def test_accepting_a_score_contest_rolls_the_month_up_again(table, delivered):
    relationship = table["relationship"]
    period = timezone.localdate().replace(day=1)
    rollup_scores(period=period, relationship_ids=[relationship.pk])
    stale = current_score(relationship)
    RelationshipScore.objects.filter(pk=stale.pk).update(score=Decimal("1.00"))
    raised = contest(table["client_contributor"], "score", relationship=relationship, period=period)
    assert raised.contested_value == "1"
    contest_resolve(
        actor=table["account_manager"], contest=raised, outcome="accepted", resolution="Recomputed"
    )
    assert current_score(relationship).score == stale.score


def test_markers_flag_exactly_the_contested_figures(table, delivered):
    measurement, project_kpi, project = (
        delivered["measurement"],
        delivered["project_kpi"],
        delivered["project"],
    )
    other = UserFactory(role=Role.CONTRIBUTOR, organization=table["client_a"])
    contest(table["client_contributor"], "measurement", measurement=measurement)
    contest(other, "realised_benefit", project=project)
    flagged = selectors.with_contest_flags(Measurement.objects.filter(pk=measurement.pk)).get()
    assert flagged.contested
    assert (
        not selectors.with_contest_flags(ProjectKPI.objects.filter(pk=project_kpi.pk))
        .get()
        .baseline_contested
    )
    flags = selectors.with_contest_flags(InnovationProject.objects.filter(pk=project.pk)).get()
    assert (flags.delivery_date_contested, flags.realised_benefit_contested) == (False, True)
    markers = selectors.project_contest_markers(project=project)
    assert markers.measurement(measurement.pk) and markers.realised_benefit(project.pk)
    assert not markers.baseline(project_kpi.pk) and not markers.delivery_date(project.pk)


def test_contest_flags_are_the_exists_they_stand_for(table, delivered):
    """The flags (collab.selectors.UnresolvedContestOn, SQL written once) answer what
    `Exists(unresolved_contests().filter(kind=…, record=OuterRef("pk")))` answers, for every kind of
    record and every state of its contest — open, answered, resolved, deleted — and records without."""
    measurement, project_kpi, project = (
        delivered["measurement"],
        delivered["project_kpi"],
        delivered["project"],
    )
    uncontested = ProjectFactory(relationship=table["relationship"])
    other = UserFactory(role=Role.CONTRIBUTOR, organization=table["client_a"])
    contest(table["client_contributor"], "measurement", measurement=measurement)
    contest(table["client_contributor"], "baseline", project_kpi=project_kpi)
    contest(table["client_contributor"], "delivery_date", project=project)
    contest(other, "realised_benefit", project=project)
    open_, kind = selectors.unresolved_contests(), Contest.Kind
    flags = [
        (Measurement, "contested", Exists(open_.filter(kind=kind.MEASUREMENT, measurement=OuterRef("pk")))),
        (
            ProjectKPI,
            "baseline_contested",
            Exists(open_.filter(kind=kind.BASELINE, project_kpi=OuterRef("pk"))),
        ),
        (
            InnovationProject,
            "delivery_date_contested",
            Exists(open_.filter(kind=kind.DELIVERY_DATE, project=OuterRef("pk"))),
        ),
        (
            InnovationProject,
            "realised_benefit_contested",
            Exists(open_.filter(kind=kind.REALISED_BENEFIT, project=OuterRef("pk"))),
        ),
    ]

    def compared():
        seen = set()
        for model, flag, definition in flags:
            rows = selectors.with_contest_flags(model.objects.all()).annotate(defined=definition)
            pairs = list(rows.order_by("pk").values_list("pk", flag, "defined"))
            assert len(pairs) >= 2 and all(got == defined for _, got, defined in pairs), (flag, pairs)
            seen |= {flag for _, got, _ in pairs if got}
        return seen

    every_flag = {flag for _, flag, _ in flags}
    assert compared() == every_flag and uncontested.pk
    # Each state as the workflow leaves it (the table's constraints want an answer, an outcome).
    states = {
        Contest.Status.OPEN: {"answer": "", "outcome": ""},
        Contest.Status.ANSWERED: {"answer": "Checked", "outcome": ""},
        Contest.Status.RESOLVED: {"answer": "Checked", "outcome": "withdrawn"},
    }
    for status, fields in states.items():
        for deleted_at in (None, timezone.now()):
            Contest.objects.update(status=status, deleted_at=deleted_at, **fields)
            unresolved = status in Contest.UNRESOLVED and deleted_at is None
            assert compared() == (every_flag if unresolved else set())
    # One contest resolved: only its own flag goes.
    Contest.objects.update(status=Contest.Status.OPEN, deleted_at=None, **states[Contest.Status.OPEN])
    Contest.objects.filter(kind=kind.DELIVERY_DATE).update(
        status=Contest.Status.RESOLVED, **states[Contest.Status.RESOLVED]
    )
    assert compared() == every_flag - {"delivery_date_contested"}


OFFSETS = range(-14, 14)  # the months around today's


def months_fed(contest_):
    """The months whose score a contest feeds, by the SQL rule (`feeds_score`)."""
    found = set()
    today = timezone.localdate()
    for offset in OFFSETS:
        period = scoring.add_months(today, offset)
        if (
            selectors.with_months(selectors.unresolved_contests())
            .filter(pk=contest_.pk)
            .filter(selectors.feeds_score(relationship=contest_.relationship_id, period=period))
            .exists()
        ):
            found.add(period)
    return found


def test_a_score_rests_on_contested_figures_of_its_window_as_the_scoring_window_says(table, delivered):
    delivered_on = delivered["project"].delivered_on
    raised = contest(table["client_contributor"], "realised_benefit", project=delivered["project"])
    today = timezone.localdate()
    expected = {
        scoring.add_months(today, offset)
        for offset in OFFSETS
        if scoring.score_window(scoring.add_months(today, offset)).contains(delivered_on)
    }
    assert months_fed(raised) == expected and len(expected) == 12
    # A measurement feeds only the months ending after it was measured.
    on_measurement = contest(table["client_colleague"], "measurement", measurement=delivered["measurement"])
    measured_on = delivered["measurement"].measured_on
    assert months_fed(on_measurement) == {
        month for month in expected if scoring.month_end(month) >= measured_on
    }
    # A month's score contest: that month only. Resolved contests feed nothing.
    rollup_scores(period=today, relationship_ids=[table["relationship"].pk])
    on_score = contest(
        table["provider_contributor"], "score", relationship=table["relationship"], period=today
    )
    assert months_fed(on_score) == {today.replace(day=1)}
    contest_withdraw(actor=table["client_contributor"], contest=raised)
    assert months_fed(Contest.objects.get(pk=raised.pk)) == set()
    scores = selectors.with_contest_flags(
        RelationshipScore.objects.filter(relationship=table["relationship"])
    )
    by_month = {score.period: (score.contested, score.rests_on_contested) for score in scores}
    assert by_month[today.replace(day=1)] == (True, True)
    assert by_month[table["score"].period] == (False, False)  # January 2025: outside every window


def monday(weeks_ago: int) -> dt.datetime:
    today = timezone.localdate()
    start = today - dt.timedelta(days=today.weekday() + 7 * weeks_ago)
    return timezone.make_aware(dt.datetime.combine(start, dt.time(9, 0)))


def test_escalation_after_ten_business_days_to_the_relationships_executives(
    table, delivered, notices, django_capture_on_commit_callbacks
):
    client_executive = UserFactory(role=Role.EXECUTIVE, organization=table["client_a"])
    provider_executive = UserFactory(role=Role.EXECUTIVE, organization=table["provider"])
    raised = contest(table["client_contributor"], "measurement", measurement=delivered["measurement"])
    raised_at = monday(weeks_ago=4)
    Contest.objects.filter(pk=raised.pk).update(created_at=raised_at)
    nine_days = raised_at + dt.timedelta(days=13)  # Monday + 13 days: 9 business days
    assert contests_escalate_overdue(now=nine_days) == 0
    ten_days = raised_at + dt.timedelta(days=14)
    with django_capture_on_commit_callbacks(execute=True):
        assert contests_escalate_overdue(now=ten_days) == 1
    escalated = Contest.objects.get(pk=raised.pk)
    assert escalated.escalated_at == ten_days and escalated.status == "open"
    [notice] = notices
    assert notice.reason == "contest_escalated"
    assert set(notice.recipient_ids) == {client_executive.pk, provider_executive.pk}
    # Once only, and a resolved contest never.
    assert contests_escalate_overdue(now=ten_days + dt.timedelta(days=30)) == 0
    second = contest(table["client_colleague"], "baseline", project_kpi=delivered["project_kpi"])
    Contest.objects.filter(pk=second.pk).update(created_at=raised_at)
    contest_resolve(
        actor=table["account_manager"],
        contest=Contest.objects.get(pk=second.pk),
        outcome="rejected",
        resolution="No",
    )
    assert contests_escalate_overdue(now=ten_days) == 0


def test_without_executives_of_either_side_the_portfolio_executives_hear(
    table, delivered, notices, django_capture_on_commit_callbacks
):
    raised = contest(table["client_contributor"], "measurement", measurement=delivered["measurement"])
    Contest.objects.filter(pk=raised.pk).update(created_at=monday(weeks_ago=4))
    with django_capture_on_commit_callbacks(execute=True):
        assert contests_escalate_overdue() == 1
    assert notices[-1].recipient_ids == (table["portfolio_executive"].pk,)


def test_contests_of_a_quarter_for_the_qbr_pack(table, delivered):
    from collab.calendar import previous_quarter, quarter_start

    raised = contest(table["client_contributor"], "measurement", measurement=delivered["measurement"])
    this_quarter = quarter_start(timezone.localdate())
    user = table["provider_contributor"]
    assert selectors.contests_of_quarter(
        user=user, relationship=table["relationship"], quarter=this_quarter
    ) == [raised]
    last = previous_quarter(this_quarter)
    assert selectors.contests_of_quarter(user=user, relationship=table["relationship"], quarter=last) == []
    assert (
        selectors.contests_of_quarter(
            user=table["client_b_contributor"], relationship=table["relationship"], quarter=this_quarter
        )
        == []
    )

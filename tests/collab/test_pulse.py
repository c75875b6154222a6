"""The relationship pulse: once per person per quarter, editable until the quarter closes, results
per side from 3 answers (free text from 5), published when the quarter has closed, the trust index
and its bands (the worked examples of docs/collaboration.md), and nobody reads another's answers."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from collab import pulse, selectors
from collab.models import Contest, PulseResponse
from collab.services import ContestFields, PulseFields, contest_raise, pulse_answer, pulse_change
from projects.access import Role
from projects.models import AuditEntry
from tests.factories import UserFactory

IN_Q3 = dt.date(2026, 8, 14)  # a day of the third quarter of 2026
AFTER_Q3 = dt.date(2026, 10, 2)


# --- The maths (no database) ------------------------------------------------------------------


def side(answers: list[tuple[int, int, int, int]], comments=()) -> pulse.SideTotals:
    names = [name for name, _ in pulse.QUESTIONS]
    return pulse.SideTotals(
        side="client",
        responses=len(answers),
        sums={name: sum(row[i] for row in answers) for i, name in enumerate(names)},
        lowest=min(min(row) for row in answers),
        comments=tuple(comments),
    )


@pytest.mark.parametrize(
    ("answers", "problems", "index", "band"),
    [
        # Worked example 1: agreement with reservations → 70.8, healthy.
        ([(4, 4, 3, 4), (5, 4, 4, 4), (3, 3, 4, 4)], False, Decimal("70.8"), "healthy"),
        # Worked example 2: everyone agrees with everything, nothing ever contested → uncritical.
        ([(5, 5, 5, 5), (5, 4, 5, 5), (5, 5, 4, 5)], False, Decimal("95.8"), "uncritical"),
        # The same answers where a figure was contested this year: problems are raised → healthy.
        ([(5, 5, 5, 5), (5, 4, 5, 5), (5, 5, 4, 5)], True, Decimal("95.8"), "healthy"),
        # Very high, but one person is unsure of something (a 3) → healthy.
        ([(5, 5, 5, 5), (5, 5, 5, 5), (5, 3, 5, 5)], False, Decimal("95.8"), "healthy"),
        # Worked example 3: mostly disagreement → 31.3, low.
        ([(2, 2, 3, 2), (2, 2, 3, 2), (2, 2, 3, 2)], False, Decimal("31.3"), "low"),
        # On the edges: exactly 50 is not low; exactly 85 with nothing below 4 is uncritical.
        ([(3, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3)], False, Decimal("50.0"), "healthy"),
        (
            [(4, 4, 4, 5), (4, 4, 5, 5), (5, 5, 4, 4), (4, 5, 4, 4), (5, 4, 5, 4)],
            False,
            Decimal("85.0"),
            "uncritical",
        ),
    ],
)
def test_trust_index_and_band(answers, problems, index, band):
    result = pulse.side_result(side(answers), side="client", problems_raised=problems)
    assert (result.trust_index, result.band) == (index, band)


def test_means_are_exact_to_two_decimals():
    result = pulse.side_result(
        side([(4, 4, 3, 4), (5, 4, 4, 4), (3, 3, 4, 4)]), side="client", problems_raised=False
    )
    assert result.means == {
        "ideas": Decimal("4.00"),
        "openness": Decimal("3.67"),
        "sponsorship": Decimal("3.67"),
        "trust": Decimal("4.00"),
    }


def test_below_three_answers_nothing_shows_not_even_the_count():
    result = pulse.side_result(side([(5, 5, 5, 5), (1, 1, 1, 1)]), side="client", problems_raised=False)
    assert result == pulse.SideResult(
        side="client", shown=False, responses=None, means=None, trust_index=None, band=None, comments=None
    )


def test_free_text_only_from_five_answers_and_in_text_order():
    four = side([(4, 4, 4, 4)] * 4, comments=["zeta", "alpha", "mid", " "])
    assert pulse.side_result(four, side="client", problems_raised=False).comments is None
    five = side([(4, 4, 4, 4)] * 5, comments=["zeta", "alpha", "mid", " "])
    assert pulse.side_result(five, side="client", problems_raised=False).comments == ("alpha", "mid", "zeta")


def test_overall_index_and_the_gap_between_the_sides():
    client = pulse.side_result(
        side([(4, 4, 3, 4), (5, 4, 4, 4), (3, 3, 4, 4)]), side="client", problems_raised=False
    )
    provider = pulse.side_result(
        side([(5, 5, 5, 5), (5, 4, 5, 5), (5, 5, 4, 5)]), side="provider", problems_raised=False
    )
    both = pulse.overall(client, provider, problems_raised=False)
    # (70.833… + 95.833…) / 2 = 83.3; the client sees 25 points less trust than the provider.
    assert (both.trust_index, both.band, both.gap) == (Decimal("83.3"), "healthy", Decimal("-25.0"))
    hidden = pulse.side_result(None, side="provider", problems_raised=False)
    assert pulse.overall(client, hidden, problems_raised=False) == pulse.Overall(None, None, None)


# --- Answers (database) -----------------------------------------------------------------------


def answer(user, table, values=(4, 4, 4, 4), comment="", today=IN_Q3):
    ideas, openness, sponsorship, trust = values
    return pulse_answer(
        actor=user,
        fields=PulseFields(
            relationship=table["relationship"],
            ideas=ideas,
            openness=openness,
            sponsorship=sponsorship,
            trust=trust,
            comment=comment,
        ),
        today=today,
    )


@pytest.mark.django_db
def test_once_per_person_per_quarter_editable_until_it_closes(table):
    mine = answer(table["client_contributor"], table)
    assert (mine.quarter, mine.side) == (dt.date(2026, 7, 1), "client")
    with pytest.raises(ValidationError) as twice:
        answer(table["client_contributor"], table, values=(1, 1, 1, 1))
    assert "already" in str(twice.value)
    changed = pulse_change(
        actor=table["client_contributor"],
        response=mine,
        changes=PulseFields(trust=2),
        expected_version=1,
        today=IN_Q3,
    )
    assert changed.trust == 2 and changed.version == 2
    with pytest.raises(ValidationError) as closed:
        pulse_change(
            actor=table["client_contributor"], response=changed, changes=PulseFields(trust=5), today=AFTER_Q3
        )
    assert "closed" in str(closed.value)
    with pytest.raises(PermissionDenied):
        pulse_change(
            actor=table["client_colleague"], response=changed, changes=PulseFields(trust=5), today=IN_Q3
        )
    # The next quarter is a new pulse.
    assert answer(table["client_contributor"], table, today=AFTER_Q3).quarter == dt.date(2026, 10, 1)


@pytest.mark.django_db
@pytest.mark.parametrize("bad", [0, 6, "4", True, None, 3.5])
def test_answers_are_whole_numbers_from_1_to_5(table, bad):
    with pytest.raises(ValidationError) as refused:
        answer(table["client_contributor"], table, values=(4, bad, 4, 4))
    assert "openness" in refused.value.message_dict and not PulseResponse.objects.exists()


@pytest.mark.django_db
def test_both_sides_answer_people_of_neither_do_not(table):
    assert answer(table["client_viewer"], table).side == "client"
    assert answer(table["account_manager"], table).side == "provider"
    for name in ("admin", "portfolio_executive", "client_b_contributor", "no_role"):
        with pytest.raises(PermissionDenied):
            answer(table[name], table)


@pytest.mark.django_db
def test_results_are_published_per_side_from_three_answers_when_the_quarter_closes(table):
    client_people = [table["client_contributor"], table["client_colleague"], table["client_viewer"]]
    for person, values in zip(client_people, [(4, 4, 3, 4), (5, 4, 4, 4), (3, 3, 4, 4)], strict=True):
        answer(person, table, values=values, comment=f"note of {person.username}")
    answer(table["account_manager"], table, values=(5, 5, 5, 5))
    answer(table["provider_contributor"], table, values=(5, 5, 5, 5))
    running = selectors.pulse_results(relationship=table["relationship"], quarter=IN_Q3, today=IN_Q3)
    assert not running.published and not running.client.shown and not running.provider.shown
    results = selectors.pulse_results(relationship=table["relationship"], quarter=IN_Q3, today=AFTER_Q3)
    assert results.published
    assert (results.client.responses, results.client.trust_index, results.client.band) == (
        3,
        Decimal("70.8"),
        "healthy",
    )
    assert results.client.comments is None  # fewer than 5
    assert not results.provider.shown and results.provider.responses is None  # 2 answers: nothing
    assert results.overall.trust_index is None and results.overall.gap is None


@pytest.mark.django_db
def test_a_contest_in_the_year_makes_very_high_trust_healthy_not_uncritical(table):
    people = [UserFactory(role=Role.CONTRIBUTOR, organization=table["client_a"]) for _ in range(3)]
    for person in people:
        answer(person, table, values=(5, 5, 5, 5))
    results = selectors.pulse_results(relationship=table["relationship"], quarter=IN_Q3, today=AFTER_Q3)
    assert results.client.band == "uncritical"
    score = table["score"]
    contest_raise(
        actor=table["provider_contributor"],
        fields=ContestFields(
            kind="score", relationship=table["relationship"], period=score.period, reason="Odd"
        ),
    )
    Contest.objects.update(created_at=dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC))
    results = selectors.pulse_results(relationship=table["relationship"], quarter=IN_Q3, today=AFTER_Q3)
    assert results.problems_raised and results.client.band == "healthy"


@pytest.mark.django_db
def test_nobody_but_the_author_reads_an_answer_admins_included(table):
    mine = answer(table["client_contributor"], table, values=(2, 1, 2, 1), comment="private worry")
    for name in ("admin", "portfolio_executive", "client_colleague", "account_manager"):
        assert not selectors.my_pulse_responses(user=table[name]).exists()
    assert list(selectors.my_pulse_responses(user=table["client_contributor"])) == [mine]
    [entry] = AuditEntry.objects.filter(content_type__model="pulseresponse")
    values = {
        name: entry.changes[name]["after"]
        for name in ("ideas", "openness", "sponsorship", "trust", "comment")
    }
    assert (
        set(values.values()) == {"(hidden)"} and "private worry" not in str(entry.changes) + entry.object_repr
    )
    from django.contrib import admin

    assert PulseResponse not in admin.site._registry

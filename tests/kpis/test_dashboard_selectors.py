"""The dashboards' set-based reads (kpis.dashboard_selectors): figures against values computed here,
scoping, and the score history of one relationship."""

import datetime as dt
from decimal import Decimal

import pytest

from kpis import dashboard_selectors as reads
from kpis import selectors
from projects.access import Role, role_of, user_organization_id
from projects.models import Relationship
from tests.dashboard_data import month, score_row
from tests.factories import RelationshipFactory, UserFactory

pytestmark = pytest.mark.django_db


def portfolio_reads(user):
    """What the portfolio dashboard reads, unfiltered: (as_of, stats, projects)."""
    as_of = reads.AsOf.of()
    stats = reads.portfolio_stats(reads.portfolio_relationships(user=user, as_of=as_of), as_of)
    return as_of, stats, reads.portfolio_projects(user=user, relationship_ids=stats.relationship_ids)


def test_tier_counts_and_distribution_cover_every_relationship(book, executive):
    _as_of, stats, _projects = portfolio_reads(executive)
    assert stats.tier_counts == {"high_performing": 1, "steady": 1, "at_risk": 2}
    assert (stats.scored, stats.unscored, stats.relationships) == (4, 1, 5)
    bins = {b["label"]: b["counts"] for b in stats.bins}
    assert bins["70–80"] == {"high_performing": 1, "steady": 0, "at_risk": 0}
    assert bins["40–50"] == {"high_performing": 0, "steady": 1, "at_risk": 0}
    assert bins["30–40"]["at_risk"] == 1 and bins["10–20"]["at_risk"] == 1
    assert sum(sum(counts.values()) for counts in bins.values()) == 4


def test_funnel_counts_stages_levels_and_quarters(book, executive):
    as_of, _stats, projects = portfolio_reads(executive)
    funnel = reads.funnel(projects=projects)
    deliveries = reads.deliveries(projects=projects, as_of=as_of)
    stages = {stage["stage"]: stage["count"] for stage in funnel.stages}
    assert stages == {
        "idea": 1, "proposed": 1, "approved": 1, "in_progress": 1, "delivered": 5, "cancelled": 1,
    }  # fmt: skip
    levels = {level["level"]: level["count"] for level in funnel.levels}
    assert levels == {"operational": 8, "process": 1, "strategic": 0}
    # Eight quarters ending this month: R3's at −20 months, R1's at −13 and −5, R1's and R2's at −1/−2.
    assert [q["delivered"] for q in deliveries.quarters] == [0, 1, 0, 1, 0, 0, 1, 2]
    assert deliveries.quarters[-1]["end"] == month(1, 1) - dt.timedelta(days=1)


@pytest.mark.parametrize("role", ["executive", "account_manager"])
def test_deliveries_and_funnel_in_one_query_equal_each_read_alone(
    book, request, role, django_assert_num_queries
):
    user = request.getfixturevalue(role)
    as_of, _stats, projects = portfolio_reads(user)
    alone = (reads.deliveries(projects=projects, as_of=as_of), reads.funnel(projects=projects))
    assert alone[1].by_stage_level  # something to compare
    with django_assert_num_queries(1):
        together = reads.deliveries_and_funnel(projects=projects, as_of=as_of)
    assert together == alone


def test_largest_improvements_are_ranked_and_exact(book, executive):
    as_of, stats, _projects = portfolio_reads(executive)
    improvements = reads.top_improvements(
        user=executive, relationship_ids=stats.relationship_ids, window=as_of.window
    )
    assert [(pk.kpi.code, pk.project.title) for pk in improvements] == [
        ("fill_rate", "Vendor management"),
        ("turnaround", "Vendor management"),
        ("first_pass", "R1 recent"),
    ]
    assert [pk.improvement_pct for pk in improvements] == [
        Decimal(25) / 60 * 100,  # 60 → 85
        Decimal(4) / 21 * 100,  # 21 h → 17 h, lower is better
        Decimal(-10) / 80 * 100,  # 80 → 70
    ]


def project_figures(user, covered):
    """The project figures of the portfolio dashboard over the relationships `covered`."""
    as_of = reads.AsOf.of()
    projects = reads.portfolio_projects(user=user, relationship_ids=covered)
    deliveries, funnel = reads.deliveries_and_funnel(projects=projects, as_of=as_of)
    assert (deliveries, funnel) == (
        reads.deliveries(projects=projects, as_of=as_of),
        reads.funnel(projects=projects),
    )
    improvements = reads.top_improvements(user=user, relationship_ids=covered, window=as_of.window)
    return (
        funnel.by_stage_level,
        deliveries,
        [(pk.pk, pk.improvement_pct) for pk in improvements],
        sorted(projects.values_list("pk", flat=True)),
    )


@pytest.mark.parametrize("role", ["executive", "account_manager", "viewer"])
def test_the_scope_alone_or_a_subquery_covers_what_the_list_of_ids_does(book, request, role):
    """Unfiltered, the dashboard passes no relationships (None: the scope alone); filtered, a
    subquery of the filtered selection. Both read the same figures as the list of the ids, for
    every kind of scope, and leave out the deleted R6 and what the user may not see."""
    user = (
        UserFactory(role=Role.CLIENT_VIEWER, organization=book["r2"].client)
        if role == "viewer"
        else request.getfixturevalue(role)
    )
    as_of = reads.AsOf.of()
    relationships = reads.portfolio_relationships(user=user, as_of=as_of)
    ids = reads.portfolio_stats(relationships, as_of).relationship_ids
    assert book["r6"].pk not in ids and ids
    by_ids = project_figures(user, ids)
    assert project_figures(user, None) == by_ids
    assert project_figures(user, relationships.values("pk")) == by_ids
    # A narrower selection as a subquery: only its relationships' projects.
    first = relationships.filter(pk=min(ids))
    assert project_figures(user, first.values("pk")) == project_figures(user, [min(ids)])
    assert {
        p.relationship_id for p in reads.portfolio_projects(user=user, relationship_ids=first.values("pk"))
    } <= {min(ids)}


def test_portfolio_reads_cost_a_fixed_number_of_queries(book, executive, django_assert_num_queries):
    # relationships with scores, projects per month, funnel, largest improvements, sparklines
    # The scoping's role and organisation lookups, once per request.
    role_of(executive), user_organization_id(executive)
    as_of = reads.AsOf.of()
    with django_assert_num_queries(5):
        stats = reads.portfolio_stats(reads.portfolio_relationships(user=executive, as_of=as_of), as_of)
        projects = reads.portfolio_projects(user=executive, relationship_ids=stats.relationship_ids)
        reads.deliveries(projects=projects, as_of=as_of)
        reads.funnel(projects=projects)
        reads.top_improvements(user=executive, relationship_ids=stats.relationship_ids, window=as_of.window)
        reads.sparklines(user=executive, relationship_ids=stats.relationship_ids, as_of=as_of)


def test_score_history_explains_the_month_asked_for_or_the_latest(executive, django_assert_num_queries):
    relationship = RelationshipFactory()
    for offset, value in ((-25, "5.0"), (-6, "20.0"), (-3, "30.0"), (0, "42.0"), (1, "99.0")):
        score_row(relationship, offset, value)
    as_of = reads.AsOf.of()
    role_of(executive), user_organization_id(executive)
    with django_assert_num_queries(1):
        history = reads.score_history(user=executive, relationship=relationship, as_of=as_of)
    # 24 months up to this one: neither the row of 25 months ago nor next month's
    assert [row.score for row in history.rows] == [Decimal("20.0"), Decimal("30.0"), Decimal("42.0")]
    assert (history.score.score, history.earlier_score.score) == (Decimal("42.0"), Decimal("30.0"))
    assert history.score_change == Decimal("12.0")
    earlier = reads.score_history(user=executive, relationship=relationship, as_of=as_of, month=month(-3))
    assert (earlier.score.score, earlier.earlier_score.score) == (Decimal("30.0"), Decimal("20.0"))
    missing = reads.score_history(user=executive, relationship=relationship, as_of=as_of, month=month(-1))
    assert missing.score.score == Decimal("42.0") and missing.earlier_score.score == Decimal("30.0")
    first = reads.score_history(user=executive, relationship=relationship, as_of=as_of, month=month(-6))
    assert first.earlier_score is None and first.score_change is None


def test_score_history_is_empty_outside_the_users_scope(account_manager):
    relationship = RelationshipFactory()
    score_row(relationship, 0, "42.0")
    history = reads.score_history(user=account_manager, relationship=relationship, as_of=reads.AsOf.of())
    assert (history.rows, history.score, history.earlier_score) == ([], None, None)


def test_stage_counts_and_benefit_totals_of_a_relationships_projects(book, executive):
    projects = reads.relationship_projects(user=executive, relationship=book["r1"])
    counts = {row["stage"]: row["count"] for row in reads.stage_counts(projects)}
    assert counts == {
        "idea": 1, "proposed": 0, "approved": 0, "in_progress": 1, "delivered": 3, "cancelled": 1,
    }  # fmt: skip
    delivered = [project for project in projects if project.stage == "delivered"]
    assert [project.delivered_on for project in delivered] == [month(-1), month(-5), month(-13)]
    assert reads.benefit_totals(delivered) == {"expected": Decimal("120000"), "realised": Decimal("220000")}


def test_pages_api_and_dashboards_read_the_same_current_score(book, executive):
    """The prefetched current score (relationship pages, API) and the annotated one (dashboards)
    come from one definition: the latest stored score up to this month, never a later month's."""
    as_of = reads.AsOf.of()
    annotated = {r.pk: r for r in reads.portfolio_relationships(user=executive, as_of=as_of)}
    prefetched = selectors.with_current_score(Relationship.objects.filter(pk__in=annotated))
    seen = {}
    for relationship in prefetched:
        score = selectors.current_score(relationship)
        row = annotated[relationship.pk]
        assert (row.current_period, row.current_score, row.current_tier) == (
            (score.period, score.score, score.tier) if score else (None, None, None)
        )
        seen[relationship.name] = score.score if score else None
    assert seen == {
        "R1": Decimal("72.5"), "R2": Decimal("48.8"), "R3": Decimal("30.0"), "R4": Decimal("10.0"),
        "R5": None,
    }  # fmt: skip

"""The collaboration lists cost a fixed number of queries, whatever the page size (N+1 guard)."""

import datetime as dt

import pytest
from django.utils import timezone

from collab.calendar import previous_quarter
from collab.services import (
    CommentFields,
    ContestFields,
    ContributorFields,
    PulseFields,
    comment_post,
    contest_raise,
    contributor_add,
    pulse_answer,
)
from kpis.models import RelationshipScore
from projects.access import Role
from tests.api.test_query_counts import assert_flat_query_count
from tests.factories import MeasurementFactory, ProjectFactory, RelationshipFactory, UserFactory

pytestmark = pytest.mark.django_db

# Count, page, the sync bound and the scope fingerprint, plus: the comments' mentions; for pulse
# results (not synced) the relationships' process areas, the sums per side, the contests of the
# year and the free texts of the sides with enough answers.
EXPECTED = {"comments": 5, "contests": 4, "contributors": 4, "pulse-answers": 4, "pulse-results": 6}


@pytest.fixture
def crowded(table):
    """Relationships of client A's people, each with comments (mentions, replies, internal notes),
    contests, contributors and a published pulse with enough answers for its free texts."""
    client_a, provider = table["client_a"], table["provider"]
    people = [UserFactory(role=Role.CONTRIBUTOR, organization=client_a) for _ in range(4)]
    carla, manager = table["client_contributor"], table["account_manager"]
    day = previous_quarter(timezone.localdate()) + dt.timedelta(days=4)
    for number in range(4):
        relationship = (
            table["relationship"]
            if number == 0
            else RelationshipFactory(client=client_a, provider=provider, account_managers=[manager])
        )
        RelationshipScore.objects.get_or_create(  # the table's relationship has its score already
            relationship=relationship, period=dt.date(2025, 1, 1), defaults={"score": "50", "tier": "steady"}
        )
        project = ProjectFactory(relationship=relationship)
        for _ in range(3):
            first = comment_post(actor=carla, fields=CommentFields(project=project, body="@cole look"))
            comment_post(actor=manager, fields=CommentFields(parent=first, body="@carla seen"))
            comment_post(
                actor=carla, fields=CommentFields(project=project, body="ours", visibility="internal")
            )
        measurement = MeasurementFactory(project_kpi__project=project)
        contest_raise(
            actor=carla, fields=ContestFields(kind="measurement", measurement=measurement, reason="No")
        )
        contest_raise(
            actor=carla,
            fields=ContestFields(
                kind="score", relationship=relationship, period=dt.date(2025, 1, 1), reason="No"
            ),
        )
        for person in (carla, table["client_colleague"]):
            contributor_add(actor=manager, fields=ContributorFields(project=project, person=person))
        for person in [carla, table["client_colleague"], table["client_viewer"], *people]:
            pulse_answer(
                actor=person,
                fields=PulseFields(
                    relationship=relationship, ideas=4, openness=3, sponsorship=4, trust=5, comment="ok"
                ),
                today=day,
            )
    return table


@pytest.mark.parametrize("resource", sorted(EXPECTED))
def test_collaboration_lists_cost_the_same_for_one_row_or_fifty(
    resource, crowded, api_as, django_assert_num_queries
):
    user = crowded["client_contributor"]
    assert_flat_query_count(api_as(user), user, resource, "", EXPECTED[resource], django_assert_num_queries)

"""The two sides at the table in the pack: contested figures marked and listed, the quarter's pulse as
its published aggregates — and nothing that only one side or one person may read."""

import datetime as dt

import pytest
from django.utils import timezone

from collab.models import Contest
from collab.services import (
    CommentFields,
    ContestFields,
    PulseFields,
    comment_post,
    contest_raise,
    pulse_answer,
)
from projects.access import Role
from tests.factories import UserFactory
from tests.reviews.test_pack import get_pack, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(reviewed):
    relationship = reviewed["relationship"]

    def person(name, organization):
        return UserFactory(username=name, role=Role.CONTRIBUTOR, organization=organization)

    return {
        "client": [person(f"client-{n}", relationship.client) for n in range(3)],
        "provider": [person(f"provider-{n}", relationship.provider) for n in range(3)],
    }


def test_a_contested_measurement_is_marked_and_listed_with_the_scores_caveat(
    reviewed, quarter, people, executive, api_as
):
    project = reviewed["in_quarter"]
    measurement = project.project_kpis.get(kpi__code="fill_rate_qbr").measurements.latest("measured_on")
    contest = contest_raise(
        actor=people["client"][0],
        fields=ContestFields(
            kind="measurement", measurement=measurement, reason="The July figure counts back-orders twice."
        ),
    )
    # Raised within the quarter reviewed (the pack lists the contests open during it).
    raised = timezone.make_aware(dt.datetime.combine(quarter.last_day, dt.time(12)))
    Contest.objects.filter(pk=contest.pk).update(created_at=raised)
    text = text_of(get_pack(api_as(executive), reviewed["relationship"], quarter).content)
    assert "Contested figures" in text
    assert "raised by the client side" in text and "open" in text
    assert "Order fill rate †" in text
    assert "rests on contested figures" in text


def test_the_pulse_shows_published_aggregates_and_no_answer_or_comment(
    reviewed, quarter, people, executive, api_as
):
    relationship = reviewed["relationship"]
    day = quarter.first_day + dt.timedelta(days=10)
    for index, person in enumerate(people["client"] + people["provider"]):
        pulse_answer(
            actor=person,
            fields=PulseFields(
                relationship=relationship,
                ideas=4,
                openness=3 + index % 2,
                sponsorship=4,
                trust=4,
                comment=f"private remark number {index}",
            ),
            today=day,
        )
    comment_post(
        actor=people["client"][0],
        fields=CommentFields(project=reviewed["in_quarter"], visibility="internal", body="client-only words"),
    )
    client = api_as(executive)
    text = text_of(get_pack(client, relationship, quarter).content)
    results = client.get(
        f"/api/v1/pulse-results/?relationship={relationship.pk}&quarter={quarter.year}-Q{quarter.number}"
    ).json()["results"][0]
    assert "Relationship pulse" in text
    for side in ("client", "provider"):
        figures = results[side]
        assert f"{side.capitalize()} side trust index {float(figures['trust_index']):.1f}" in text
        assert f"({figures['band']}), 3 answers" in text
    assert "private remark" not in text and "client-only words" not in text

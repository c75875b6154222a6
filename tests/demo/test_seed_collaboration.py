"""`seed_demo` sits both sides at the table of the Northwind Aerospace relationship, and seeding
twice changes nothing of it."""

import pytest
from django.core.management import call_command

from collab import selectors
from collab.models import Comment, Contest, ProjectContributor, PulseResponse
from projects.access import people_of
from projects.models import Relationship

pytestmark = pytest.mark.django_db


def test_the_demo_shows_every_collaboration_feature_and_seeds_once():
    call_command("seed_demo")
    counts = [model.objects.count() for model in (Comment, Contest, PulseResponse, ProjectContributor)]
    call_command("seed_demo")
    assert [
        model.objects.count() for model in (Comment, Contest, PulseResponse, ProjectContributor)
    ] == counts
    relationship = Relationship.objects.get(external_id="demo-rel-aerospace")
    assert {person.username for person in people_of(relationship, "client")} >= {"carla", "nora", "viewer"}
    assert {person.username for person in people_of(relationship, "provider")} >= {"manager", "pedro"}
    assert Comment.objects.filter(visibility="internal").values("author_side").distinct().count() == 2
    assert (
        Contest.objects.filter(status="answered").exists()
        and Contest.objects.filter(outcome="rejected").exists()
    )
    results = selectors.pulse_results(relationship=relationship, quarter=selectors.latest_pulse_quarter())
    assert results.client.comments and results.provider.shown and results.overall.trust_index is not None
    assert ProjectContributor.objects.values("side").distinct().count() == 2

"""The large generated portfolio."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q

from demo.scale import ScalePortfolio
from kpis.models import Measurement, ProjectKPI
from projects.models import InnovationProject, LeadershipPair, Relationship


@pytest.mark.django_db
def test_large_portfolio_is_valid_consistent_and_idempotent(capsys):
    call_command("seed_large_portfolio", "--relationships", "60")
    assert "Added 60 relationships" in capsys.readouterr().out
    relationships = Relationship.objects.filter(external_id__startswith="scale-rel-")
    assert relationships.count() == 60
    # Every row passes the model's own validation, not only the database constraints.
    for model in (Relationship, InnovationProject, ProjectKPI, Measurement):
        for row in model.objects.filter(external_id__startswith="scale-")[:200]:
            row.full_clean()
    assert LeadershipPair.objects.filter(relationship__in=relationships).count() == 60
    assert not relationships.annotate(n=Count("process_areas")).filter(n=0).exists()
    projects = InnovationProject.objects.filter(relationship__in=relationships)
    assert set(projects.values_list("stage", flat=True)) == set(InnovationProject.Stage.values)
    assert not projects.filter(stage="delivered", delivered_on__isnull=True).exists()
    assert not projects.filter(delivered_on__lt=F("started_on")).exists()
    # Units are copied from the catalogue, measurements of percent KPIs stay within 0–100.
    assert not ProjectKPI.objects.exclude(unit=F("kpi__unit")).exists()
    assert not Measurement.objects.exclude(unit=F("project_kpi__unit")).exists()
    assert not Measurement.objects.filter(Q(unit="percent") & (Q(value__lt=0) | Q(value__gt=100))).exists()
    assert set(projects.values_list("version", flat=True)) == {1}

    counts = [model.objects.count() for model in (Relationship, InnovationProject, ProjectKPI, Measurement)]
    assert ScalePortfolio(count=60).run().relationships == 0
    assert [
        model.objects.count() for model in (Relationship, InnovationProject, ProjectKPI, Measurement)
    ] == counts
    assert ScalePortfolio(count=70).run().relationships == 10


@pytest.mark.django_db
def test_large_portfolio_refuses_nonsense_sizes():
    with pytest.raises(CommandError):
        call_command("seed_large_portfolio", "--relationships", "0")

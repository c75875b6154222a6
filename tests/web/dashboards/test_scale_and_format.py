"""The large generated portfolio, and how dashboard figures are written out."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q

from demo.scale import ScalePortfolio
from kpis.models import Measurement, ProjectKPI
from projects.models import InnovationProject, LeadershipPair, Relationship
from web.templatetags import dashboard_format as fmt


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


@pytest.mark.parametrize(
    ("function", "value", "argument", "expected"),
    [
        (fmt.fixed, Decimal("48.75"), 1, "48.8"),
        (fmt.fixed, None, 1, "—"),
        (fmt.fixed, Decimal("-0.04"), 1, "0.0"),
        (fmt.fixed, Decimal("1234567"), 0, "1,234,567"),
        (fmt.signed, Decimal("12.5"), 1, "+12.5"),
        (fmt.signed, Decimal("-6.2"), 1, "−6.2"),
        (fmt.signed, Decimal("0"), 0, "±0"),
        (fmt.signed, None, 1, "—"),
        (fmt.signed_pct, Decimal(25) / 60 * 100, 2, "+41.67 %"),
        (fmt.signed_pct, Decimal(4) / 21 * 100, 2, "+19.05 %"),
        (fmt.pct, Decimal("104"), 1, "104.0 %"),
        (fmt.share, Decimal("0.607143"), 0, "61 %"),
        (fmt.measure, Decimal("85.0000"), "percent", "85 %"),
        (fmt.measure, Decimal("17.5000"), "hours", "17.5 h"),
        (fmt.measure, Decimal("4.1000"), "currency", "4.1"),
        (fmt.money, Decimal("11300000"), "USD", "11.3 M USD"),
        (fmt.money, Decimal("150000"), "USD", "150 k USD"),
        (fmt.money, Decimal("950"), "EUR", "950 EUR"),
        (fmt.signed_money, Decimal("-350000"), "USD", "−350 k USD"),
        (fmt.signed_money, Decimal("30000"), "USD", "+30.0 k USD"),
        (fmt.ratio_pct, Decimal("1050000"), Decimal("1200000"), "87.5 %"),
        (fmt.ratio_pct, Decimal("5"), Decimal("0"), "—"),
    ],
)
def test_dashboard_figures_are_written_out_exactly(function, value, argument, expected):
    assert function(value, argument) == expected

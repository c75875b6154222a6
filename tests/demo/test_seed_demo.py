"""`seed_demo` builds the demo portfolio, and running it twice changes nothing."""

import pytest
from django.core.management import call_command

from kpis.models import KPI, Measurement, ProjectKPI
from projects.models import AuditEntry, InnovationProject, Relationship

pytestmark = pytest.mark.django_db

REQUIRED_KPIS = {
    "order_fill_rate",
    "turnaround_time",
    "stock_fill_rate",
    "inventory_level",
    "error_rate",
    "rework_interception_rate",
    "cost_per_claim",
    "cycle_time",
    "first_pass_yield",
    "customer_satisfaction",
}


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (KPI, Relationship, InnovationProject, ProjectKPI, Measurement, AuditEntry)
    }


def test_seed_demo_is_idempotent_and_complete(capsys):
    call_command("seed_demo")
    first = counts()
    versions = dict(InnovationProject.objects.values_list("external_id", "version"))
    call_command("seed_demo")
    assert counts() == first
    assert dict(InnovationProject.objects.values_list("external_id", "version")) == versions

    assert set(KPI.objects.values_list("code", flat=True)) >= REQUIRED_KPIS
    assert first["Relationship"] >= 23  # 3 published cases + at least 20 generated
    assert set(InnovationProject.objects.values_list("stage", flat=True)) == set(
        InnovationProject.Stage.values
    )
    industries = set(Relationship.objects.values_list("client__industry", flat=True))
    assert len(industries) >= 8
    output = capsys.readouterr().out
    for username in ("admin", "executive", "manager", "viewer"):
        assert username in output
    assert "portfolio-demo" in output


def test_published_cases_are_delivered_with_their_kpis():
    call_command("seed_demo")
    fill = ProjectKPI.objects.get(external_id="demo-pk-aerospace-order_fill_rate")
    assert fill.project.stage == "delivered"
    assert fill.baseline_value == 60
    assert fill.measurements.order_by("-measured_on").first().value == 85
    inventory = ProjectKPI.objects.get(external_id="demo-pk-supermarket-inventory_level")
    assert (inventory.baseline_value, inventory.measurements.order_by("-measured_on").first().value) == (
        100,
        73,
    )
    rework = ProjectKPI.objects.get(external_id="demo-pk-healthcare-rework_interception_rate")
    assert rework.baseline_value == 0 and rework.measurements.order_by("-measured_on").first().value > 50

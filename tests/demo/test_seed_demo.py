"""`seed_demo` builds the demo portfolio, and running it twice changes nothing."""

import pytest
from django.core.management import call_command

from kpis.models import KPI, Measurement, ProjectKPI
from projects.models import AuditEntry, InnovationProject, Relationship, SignOff

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


def test_demo_portfolio_reads_like_a_real_one():
    call_command("seed_demo")
    relationships = Relationship.objects.select_related("client")
    clients = [relationship.client.name for relationship in relationships]
    assert len(clients) == len(set(clients))  # one relationship per client, no "Harbor Bank 20"
    assert not any(name.split()[-1].isdigit() for name in clients)
    assert {relationship.status for relationship in relationships} == {"active", "renewing", "ended"}
    projects = InnovationProject.objects.select_related("relationship__client")
    assert not projects.filter(owner__isnull=True).exists()
    assert not [p.title for p in projects if p.relationship.client.name.split()[0] in p.title]
    assert all(p.cancellation_reason for p in projects if p.stage == "cancelled")
    # Most relationships have evidence: a delivered project with measured KPIs.
    with_evidence = (
        Relationship.objects.filter(
            projects__stage="delivered", projects__project_kpis__measurements__isnull=False
        )
        .distinct()
        .count()
    )
    assert with_evidence >= 0.8 * relationships.count()
    # Histories name people, not "the system".
    assert not AuditEntry.objects.filter(actor__isnull=True).exists()
    # Northwind Aerospace signs off: one approval and one benefit wait for Clara.
    pending = SignOff.objects.filter(status="pending").values_list(
        "kind", "project__relationship__external_id"
    )
    assert sorted(pending) == [("approval", "demo-rel-aerospace"), ("benefit", "demo-rel-aerospace")]

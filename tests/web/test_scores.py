"""Pages show the roll-up's scores: a delivery raises the relationship's score, and a deleted
project leaves it. Transactional, so the recompute runs after each commit as it does in use."""

import datetime as dt
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from kpis import services as kpi_services
from projects import services as project_services
from tests.factories import ProjectFactory, ProjectKPIFactory

# `transactional_db` is asked for by name (not through the marker) so that the shared
# reference-data fixture restores the roles a previous transactional test flushed.


def shown_score(client, relationship):
    response = client.get(reverse("relationship-detail", args=[relationship.pk]))
    score = response.context["score"]
    return None if score is None else (score.score, score.tier)


def test_delivery_raises_the_score_and_deleting_the_project_removes_it(
    transactional_db, client, account_manager, portfolio, fill_rate, turnaround
):
    relationship = portfolio["rel_a"]
    today = timezone.localdate()
    project = ProjectFactory(relationship=relationship, level="process", stage="in_progress")
    for kpi, baseline, after in ((fill_rate, "60", "85"), (turnaround, "21", "17")):
        project_kpi = ProjectKPIFactory(
            project=project,
            kpi=kpi,
            baseline_value=Decimal(baseline),
            baseline_date=today - dt.timedelta(days=60),
        )
        kpi_services.measurement_record(
            actor=account_manager,
            fields=kpi_services.MeasurementFields(
                project_kpi=project_kpi, measured_on=today, value=Decimal(after)
            ),
        )
    client.force_login(account_manager)
    assert shown_score(client, relationship) == (Decimal("0.00"), "at_risk")  # nothing delivered yet

    project = project_services.project_transition(
        actor=account_manager, project=project, to_stage="delivered"
    )
    # DESIGN §4's worked example: impact 30.36 % → 0.607, continuity 0.25 → 48.8, steady.
    assert shown_score(client, relationship) == (Decimal("48.80"), "steady")
    listed = client.get(reverse("relationship-list")).content.decode()
    assert "48.8" in listed and "Steady" in listed
    page = client.get(reverse("relationship-detail", args=[relationship.pk])).content.decode()
    assert reverse("relationship-dashboard", args=[relationship.pk]) in page  # drill-down to "why"
    # When and why the figures were last computed: the delivery that moved them.
    assert f"(project {project.pk} moved to delivered)" in page
    dashboard = client.get(reverse("relationship-dashboard", args=[relationship.pk])).content.decode()
    assert f"project {project.pk} moved to delivered" in dashboard

    response = client.post(reverse("project-delete", args=[project.pk]), {"version": project.version})
    assert response.status_code == 302
    assert shown_score(client, relationship) == (Decimal("0.00"), "at_risk")
    assert client.get(reverse("relationship-detail", args=[relationship.pk])).context["project_count"] == 0

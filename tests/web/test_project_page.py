"""The project page: KPI figures, stage actions, history, inline KPI and measurement edits."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kpis import services as kpi_services
from kpis.models import Measurement, ProjectKPI
from presentation import formatting
from projects import access
from projects import services as project_services
from projects.models import AuditEntry, InnovationProject
from tests.factories import KPIFactory, MeasurementFactory, ProjectFactory, ProjectKPIFactory

pytestmark = pytest.mark.django_db


def page_of(client, project, **params):
    return client.get(reverse("project-detail", args=[project.pk]), params)


def kpi_row(response, name):
    return next(kpi for kpi in response.context["project_kpis"] if kpi.kpi.name == name)


def test_project_page_shows_kpi_before_after_improvement_and_achievement(
    client, account_manager, aerospace_project
):
    client.force_login(account_manager)
    response = page_of(client, aerospace_project)
    page = response.content.decode()
    assert response.status_code == 200
    fill = kpi_row(response, "Order fill rate")
    assert (fill.baseline_value, fill.latest_value) == (Decimal("60"), Decimal("85"))
    assert "+41.67 %" in page  # 60 → 85, higher is better
    assert "83.33 %" in page  # (85 − 60) / (90 − 60)
    assert "+19.05 %" in page  # 21 → 17 h, lower is better
    assert "+30.36 %" in page  # project impact
    assert "↓ lower is better" in page
    chart = response.context["chart_data"][str(fill.pk)]
    assert chart["baseline"] == {"x": "2024-01-01", "y": 60.0}
    assert [point["y"] for point in chart["points"]] == [70.0, 85.0]
    assert chart["target"] == 90.0


def test_project_page_kpi_without_measurement_shows_dash_not_zero(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    ProjectKPIFactory(project=project)
    client.force_login(account_manager)
    row = page_of(client, project).content.decode().split('id="kpi-table"')[1].split("</tbody>")[0]
    assert "—" in row and "+0.00 %" not in row and ">0.00 %" not in row


def test_project_page_history_includes_kpi_and_measurement_entries(
    client, account_manager, aerospace_project
):
    project = project_services.project_update(
        actor=account_manager,
        project=aerospace_project,
        changes=project_services.ProjectFields(title="Vendor management v2"),
    )
    client.force_login(account_manager)
    response = page_of(client, project)
    history = response.context["history"]
    subjects = [entry["subject"] for entry in history]
    assert (
        subjects.count("Project") == 2 and subjects.count("KPI") == 2 and subjects.count("measurement") == 3
    )
    latest = history[0]
    assert latest["actor"] == account_manager.get_full_name()
    assert latest["changes"] == [
        {"field": "title", "before": "Vendor management", "after": "Vendor management v2"}
    ]
    assert "Vendor management v2" in response.content.decode()


def test_project_page_query_count_is_flat_with_many_kpis_and_measurements(
    client, account_manager, portfolio, django_assert_num_queries
):
    project = ProjectFactory(relationship=portfolio["rel_a"], owner=account_manager)
    for _ in range(8):
        project_kpi = ProjectKPIFactory(project=project)
        for day in range(6):
            MeasurementFactory(
                project_kpi=project_kpi, measured_on=dt.date(2024, 2, 1) + dt.timedelta(days=day)
            )
    client.force_login(account_manager)
    access.role_of(account_manager)
    page_of(client, project)
    # session, user, role, organisation, project, may-write check, KPIs with latest values,
    # measurements, history, the client sign-offs, KPI catalogue (add form); the discussion: its
    # threads, the viewer's side (organisation, assignment), the people of the table (people, roles,
    # organisations, assignments); the contests of its figures and those its history's corrections
    # settled; the contributors named on it
    with django_assert_num_queries(21):
        response = page_of(client, project)
    assert len(response.context["project_kpis"]) == 8


def test_project_page_of_unassigned_relationship_is_404(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_b"])
    client.force_login(account_manager)
    assert page_of(client, project).status_code == 404


def test_read_only_roles_get_no_edit_controls(client, executive, client_viewer_a, aerospace_project):
    for user in (executive, client_viewer_a):
        client.force_login(user)
        page = page_of(client, aerospace_project).content.decode()
        assert "Edit project" not in page and "Add a KPI" not in page and "Move to" not in page
        assert "Order fill rate" in page


def test_deleted_project_page_is_404(client, account_manager, aerospace_project):
    project_services.project_delete(actor=account_manager, project=aerospace_project)
    client.force_login(account_manager)
    assert page_of(client, aerospace_project).status_code == 404


# --- Stage actions ----------------------------------------------------------------------------


def transition(client, project, to_stage, version=None, htmx=False, **fields):
    data = {"to_stage": to_stage, "version": version or project.version, **fields}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("project-transition", args=[project.pk]), data, follow=not htmx, **headers)


def stage_dialog(client, project, to_stage, htmx=True):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.get(reverse("project-transition", args=[project.pk]), {"to": to_stage}, **headers)


def test_stage_actions_offer_the_next_stage_later_stages_and_cancel(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    client.force_login(account_manager)
    offered = [(s["value"], s["is_next"]) for s in page_of(client, project).context["next_stages"]]
    assert offered == [
        ("proposed", True),
        ("approved", False),
        ("in_progress", False),
        ("delivered", False),
        ("cancelled", True),
    ]
    page = page_of(client, project).content.decode()
    assert "Move to Proposed…" in page and "Skip to Delivered…" in page and "Cancel project…" in page


def test_the_dialog_asks_the_date_of_each_step_a_move_takes(client, account_manager, portfolio):
    project = ProjectFactory(
        relationship=portfolio["rel_a"], stage="proposed", proposed_on=dt.date(2024, 1, 2)
    )
    client.force_login(account_manager)
    response = stage_dialog(client, project, "delivered")
    assert response.status_code == 200
    form = response.context["form"]
    # Approval carries no date; starting and delivering each ask for theirs, defaulting to today.
    assert [field.name for field in form.date_fields] == ["started_on", "delivered_on"]
    assert form["started_on"].initial == timezone.localdate()
    assert [field.name for field in form.detail_fields] == ["realised_annual_benefit", "outcome"]
    page = response.content.decode()
    assert page.lstrip().startswith("<dialog") and "through Approved, In progress," in page
    assert f'max="{timezone.localdate().isoformat()}"' in page and "Confirm delivery" in page
    # Without JavaScript the same form is a page of its own.
    full = stage_dialog(client, project, "delivered", htmx=False).content.decode()
    assert "<html" in full and "Confirm delivery" in full


def test_moving_forward_records_the_date_asked_for(client, account_manager, portfolio):
    project = ProjectFactory(
        relationship=portfolio["rel_a"],
        stage="in_progress",
        proposed_on=dt.date(2024, 1, 2),
        started_on=dt.date(2024, 2, 1),
    )
    client.force_login(account_manager)
    response = transition(
        client,
        project,
        "delivered",
        delivered_on="2024-05-02",
        realised_annual_benefit="125000.50",
        outcome="Fill rate 60 % → 85 %",
    )
    project.refresh_from_db()
    assert (project.stage, project.delivered_on) == ("delivered", dt.date(2024, 5, 2))
    assert project.realised_annual_benefit == Decimal("125000.50")
    assert project.outcome == "Fill rate 60 % → 85 %"
    page = response.content.decode()
    assert "Moved to Delivered." in page and "Fill rate 60 % → 85 %" in page


def test_an_htmx_move_reloads_the_page(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    client.force_login(account_manager)
    response = transition(
        client, project, "proposed", htmx=True, proposed_on=timezone.localdate().isoformat()
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("project-detail", args=[project.pk])
    project.refresh_from_db()
    assert (project.stage, project.proposed_on) == ("proposed", timezone.localdate())


def test_skipping_stages_dates_each_step_and_audits_each(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    client.force_login(account_manager)
    transition(
        client,
        project,
        "delivered",
        proposed_on="2024-01-02",
        started_on="2024-02-01",
        delivered_on="2024-06-30",
    )
    project.refresh_from_db()
    assert project.stage == "delivered"
    dates = (project.proposed_on, project.started_on, project.delivered_on)
    assert dates == (dt.date(2024, 1, 2), dt.date(2024, 2, 1), dt.date(2024, 6, 30))
    steps = [
        entry.changes["stage"]["after"]
        for entry in AuditEntry.objects.filter(object_id=project.pk, action="transition").order_by("id")
    ]
    assert steps == ["proposed", "approved", "in_progress", "delivered"]


def test_a_step_dated_before_the_one_before_is_refused_and_writes_nothing(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    client.force_login(account_manager)
    response = transition(
        client,
        project,
        "delivered",
        proposed_on="2024-03-01",
        started_on="2024-02-01",
        delivered_on="2024-01-15",
    )
    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors["started_on"] == ["A project cannot be started before it was proposed (1 Mar 2024)."]
    assert form.errors["delivered_on"] == [
        "A project cannot be delivered before it was started (1 Feb 2024)."
    ]
    project.refresh_from_db()
    assert (project.stage, project.version) == ("idea", 1)


def test_a_future_date_is_refused_in_the_dialog(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    client.force_login(account_manager)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = transition(client, project, "proposed", htmx=True, proposed_on=tomorrow.isoformat())
    assert response.status_code == 422
    assert "A stage change cannot be dated in the future." in response.content.decode()
    project.refresh_from_db()
    assert project.stage == "idea"


def test_cancelling_asks_for_a_reason_keeps_and_shows_it(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"], stage="proposed")
    client.force_login(account_manager)
    refused = transition(client, project, "cancelled", htmx=True)
    assert refused.status_code == 422
    assert "Say why the project is cancelled" in refused.content.decode()
    project.refresh_from_db()
    assert project.stage == "proposed"
    response = transition(client, project, "cancelled", cancellation_reason="The client <b>re-tendered</b>.")
    project.refresh_from_db()
    assert (project.stage, project.cancellation_reason) == ("cancelled", "The client <b>re-tendered</b>.")
    page = response.content.decode()
    assert "Why cancelled" in page and "The client &lt;b&gt;re-tendered&lt;/b&gt;." in page


def test_a_move_the_stage_machine_does_not_allow_is_refused_with_message(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"], stage="proposed")
    client.force_login(account_manager)
    response = transition(client, project, "idea")
    project.refresh_from_db()
    assert project.stage == "proposed" and project.version == 1
    assert "A project cannot move from Proposed to Idea" in response.content.decode()
    assert stage_dialog(client, project, "bogus", htmx=False).status_code == 302


def test_transition_with_stale_version_is_refused(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    project_services.project_update(
        actor=account_manager, project=project, changes=project_services.ProjectFields(title="Renamed")
    )
    client.force_login(account_manager)
    response = transition(client, project, "proposed", version=1)
    project.refresh_from_db()
    assert project.stage == "idea"
    # The earlier write was the same person's: the banner says so rather than blaming "someone".
    assert "You saved this innovation project in another tab or window at " in response.content.decode()


def test_a_conflict_names_who_saved_and_when(client, account_manager, admin_user, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    project_services.project_update(
        actor=admin_user, project=project, changes=project_services.ProjectFields(title="Renamed")
    )
    saved = timezone.localtime(project.updated_at)
    client.force_login(account_manager)
    page = transition(client, project, "proposed", version=1).content.decode()
    name = admin_user.get_full_name() or admin_user.get_username()
    assert f"{name} saved this innovation project at {saved:%H:%M} on {saved.day} {saved:%b %Y}" in page


def test_transition_by_executive_is_403(client, executive, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    client.force_login(executive)
    assert transition(client, project, "proposed").status_code == 403


# --- Inline KPIs ------------------------------------------------------------------------------


def add_kpi(client, project, htmx=False, **fields):
    data = {f"add-kpi-{name}": value for name, value in fields.items()}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("project-kpi-add", args=[project.pk]), data, **headers)


def test_add_kpi_inline_with_htmx_returns_the_updated_section(client, account_manager, portfolio, fill_rate):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    client.force_login(account_manager)
    response = add_kpi(
        client,
        project,
        htmx=True,
        kpi=fill_rate.pk,
        baseline_value="60",
        baseline_date="2024-01-15",
        target_value="90",
    )
    assert response.status_code == 200
    assert "Now tracking Order fill rate." in response.content.decode()
    tracked = ProjectKPI.objects.get(project=project)
    assert (tracked.baseline_value, tracked.target_value) == (Decimal("60"), Decimal("90"))


def test_add_kpi_without_htmx_redirects_back(client, account_manager, portfolio, fill_rate):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    client.force_login(account_manager)
    response = add_kpi(client, project, kpi=fill_rate.pk, baseline_value="60", baseline_date="2024-01-15")
    assert response.status_code == 302 and response.url.endswith("#kpis")


@pytest.mark.parametrize(
    "fields,field,message",
    [
        ({"baseline_value": "120"}, "baseline_value", "A percentage must be between 0 and 100."),
        ({"target_value": "-1"}, "target_value", "A percentage must be between 0 and 100."),
        ({"baseline_date": "0001-01-01"}, "baseline_date", "Enter a date between 1950 and 2100."),
        ({"baseline_date": "9999-12-31"}, "baseline_date", "Enter a date between 1950 and 2100."),
        ({"baseline_date": "20244-01-01"}, "baseline_date", "Enter a valid date."),
        ({"baseline_value": "1" * 17}, "baseline_value", "no more than 16 digits before the decimal point"),
        ({"baseline_value": "NaN"}, "baseline_value", "Enter a number."),
        ({"baseline_value": ""}, "baseline_value", "This field is required."),
    ],
)
def test_add_kpi_rejects_bad_input_field_by_field(
    client, account_manager, portfolio, fill_rate, fields, field, message
):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    client.force_login(account_manager)
    data = {"kpi": fill_rate.pk, "baseline_value": "60", "baseline_date": "2024-01-15", **fields}
    response = add_kpi(client, project, htmx=True, **data)
    assert response.status_code == 422
    form = response.context["add_kpi_form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not ProjectKPI.objects.filter(project=project).exists()


@pytest.mark.parametrize(
    "fields,field,message",
    [
        (
            {"baseline_date": "tomorrow"},
            "baseline_date",
            "A baseline cannot be dated in the future.",
        ),
        (
            {"baseline_value": "60", "target_value": "60.0"},
            "target_value",
            "The target equals the baseline, so no target achievement could ever be computed",
        ),
    ],
)
def test_add_kpi_refuses_dates_and_targets_that_cannot_lock_it(
    client, account_manager, portfolio, fill_rate, fields, field, message
):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    client.force_login(account_manager)
    if fields.get("baseline_date") == "tomorrow":
        fields = {**fields, "baseline_date": (timezone.localdate() + dt.timedelta(days=1)).isoformat()}
    data = {"kpi": fill_rate.pk, "baseline_value": "60", "baseline_date": "2024-01-15", **fields}
    response = add_kpi(client, project, htmx=True, **data)
    assert response.status_code == 422
    form = response.context["add_kpi_form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not ProjectKPI.objects.filter(project=project).exists()


def test_edit_kpi_refuses_a_target_equal_to_the_baseline(client, account_manager, aerospace_project):
    project_kpi = ProjectKPI.objects.get(project=aerospace_project, kpi__code="order_fill_rate")
    before = (project_kpi.baseline_value, project_kpi.target_value, project_kpi.version)
    client.force_login(account_manager)
    prefix = f"kpi-{project_kpi.pk}"
    response = client.post(
        reverse("project-kpi-edit", args=[aerospace_project.pk, project_kpi.pk]),
        {
            f"{prefix}-version": project_kpi.version,
            f"{prefix}-baseline_value": "70",
            f"{prefix}-baseline_date": "2024-01-01",
            f"{prefix}-target_value": "70",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    errors = response.context["kpi_edit_form"].errors
    assert errors["target_value"][0].startswith("The target equals the baseline")
    project_kpi.refresh_from_db()
    assert (project_kpi.baseline_value, project_kpi.target_value, project_kpi.version) == before


def test_add_duplicate_kpi_is_a_field_error(client, account_manager, aerospace_project, fill_rate):
    client.force_login(account_manager)
    response = add_kpi(
        client, aerospace_project, kpi=fill_rate.pk, baseline_value="50", baseline_date="2024-01-15"
    )
    assert response.status_code == 422
    assert response.context["add_kpi_form"].errors["kpi"] == ["This KPI is already tracked on this project."]
    assert ProjectKPI.objects.filter(project=aerospace_project, kpi=fill_rate).count() == 1


def test_edit_kpi_with_stale_version_shows_conflict_and_current_values(
    client, account_manager, aerospace_project
):
    project_kpi = ProjectKPI.objects.get(project=aerospace_project, kpi__code="order_fill_rate")
    kpi_services.project_kpi_update(
        actor=None, project_kpi=project_kpi, changes=kpi_services.ProjectKPIFields(target_value=Decimal("95"))
    )
    client.force_login(account_manager)
    prefix = f"kpi-{project_kpi.pk}"
    response = client.post(
        reverse("project-kpi-edit", args=[aerospace_project.pk, project_kpi.pk]),
        {
            f"{prefix}-version": 1,
            f"{prefix}-baseline_value": "60",
            f"{prefix}-baseline_date": "2024-01-01",
            f"{prefix}-target_value": "80",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "Someone else changed this project KPI since you read it" in page
    form = response.context["kpi_edit_form"]
    assert form.initial["target_value"] == "95" and form.initial["version"] == 2
    assert response.context["kpi_conflict_differences"] == [
        {"label": "Target value", "yours": "80", "current": "95"}
    ]
    project_kpi.refresh_from_db()
    assert project_kpi.target_value == Decimal("95")


def test_edit_kpi_saves_with_current_version(client, account_manager, aerospace_project):
    project_kpi = ProjectKPI.objects.get(project=aerospace_project, kpi__code="order_fill_rate")
    client.force_login(account_manager)
    prefix = f"kpi-{project_kpi.pk}"
    response = client.post(
        reverse("project-kpi-edit", args=[aerospace_project.pk, project_kpi.pk]),
        {
            f"{prefix}-version": 1,
            f"{prefix}-baseline_value": "55",
            f"{prefix}-baseline_date": "2024-01-01",
            f"{prefix}-target_value": "90",
        },
    )
    assert response.status_code == 302
    project_kpi.refresh_from_db()
    assert (project_kpi.baseline_value, project_kpi.version) == (Decimal("55"), 2)


def test_inline_edit_form_is_offered_on_request(client, account_manager, aerospace_project):
    project_kpi = ProjectKPI.objects.get(project=aerospace_project, kpi__code="order_fill_rate")
    client.force_login(account_manager)
    response = page_of(client, aerospace_project, edit_kpi=project_kpi.pk)
    assert response.context["kpi_edit_form"].initial["version"] == 1
    assert f'name="kpi-{project_kpi.pk}-version"' in response.content.decode()


def test_remove_kpi_soft_deletes_it_and_its_measurements(client, account_manager, aerospace_project):
    project_kpi = ProjectKPI.objects.get(project=aerospace_project, kpi__code="order_fill_rate")
    client.force_login(account_manager)
    response = client.post(
        reverse("project-kpi-delete", args=[aerospace_project.pk, project_kpi.pk]), {"version": 1}
    )
    assert response.status_code == 302
    project_kpi.refresh_from_db()
    assert project_kpi.deleted_at is not None
    assert not Measurement.objects.filter(project_kpi=project_kpi, deleted_at__isnull=True).exists()


# --- Inline measurements ----------------------------------------------------------------------


def record(client, project, project_kpi, htmx=True, **fields):
    data = {"measure-project_kpi": project_kpi.pk, **{f"measure-{k}": v for k, v in fields.items()}}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("measurement-record", args=[project.pk]), data, **headers)


def test_record_measurement_updates_latest_value(client, account_manager, aerospace_project):
    project_kpi = ProjectKPI.objects.get(project=aerospace_project, kpi__code="order_fill_rate")
    client.force_login(account_manager)
    response = record(client, aerospace_project, project_kpi, measured_on="2024-09-01", value="88")
    assert response.status_code == 200
    assert kpi_row(response, "Order fill rate").latest_value == Decimal("88")
    assert "+46.67 %" in response.content.decode()


@pytest.mark.parametrize(
    "fields,field,message",
    [
        ({"value": "101"}, "value", "A percentage must be between 0 and 100."),
        ({"measured_on": "2024-06-01"}, "measured_on", "This KPI already has a measurement on this date."),
        (
            {"measured_on": "2023-12-31"},
            "measured_on",
            "A measurement cannot predate the baseline (2024-01-01).",
        ),
        ({"measured_on": "9999-01-01"}, "measured_on", "Enter a date between 1950 and 2100."),
        ({"measured_on": "2099-01-01"}, "measured_on", "A measurement cannot be dated in the future."),
        ({"value": "12345678901234567.5"}, "value", "no more than 16 digits before the decimal point"),
    ],
)
def test_record_measurement_rejects_bad_input(
    client, account_manager, aerospace_project, fields, field, message
):
    project_kpi = ProjectKPI.objects.get(project=aerospace_project, kpi__code="order_fill_rate")
    before = Measurement.objects.count()
    client.force_login(account_manager)
    response = record(
        client, aerospace_project, project_kpi, **{"measured_on": "2024-09-01", "value": "80", **fields}
    )
    assert response.status_code == 422
    errors = response.context["measurement_form"].errors[field]
    assert any(message in error for error in errors), errors
    assert Measurement.objects.count() == before


def test_record_measurement_for_another_projects_kpi_is_refused(
    client, account_manager, aerospace_project, portfolio
):
    other = ProjectKPIFactory(project=ProjectFactory(relationship=portfolio["rel_a"]))
    client.force_login(account_manager)
    response = record(client, aerospace_project, other, measured_on="2024-09-01", value="80")
    assert response.status_code == 422
    assert "project_kpi" in response.context["measurement_form"].errors
    assert not Measurement.objects.filter(project_kpi=other).exists()


def test_edit_measurement_with_stale_version_is_refused(client, account_manager, aerospace_project):
    measurement = Measurement.objects.get(project_kpi__kpi__code="turnaround_time")
    kpi_services.measurement_update(
        actor=None, measurement=measurement, changes=kpi_services.MeasurementFields(value=Decimal("16"))
    )
    client.force_login(account_manager)
    prefix = f"measurement-{measurement.pk}"
    response = client.post(
        reverse("measurement-edit", args=[aerospace_project.pk, measurement.pk]),
        {f"{prefix}-version": 1, f"{prefix}-measured_on": "2024-06-01", f"{prefix}-value": "18"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    assert "Someone else changed this measurement since you read it" in response.content.decode()
    measurement.refresh_from_db()
    assert measurement.value == Decimal("16")


def test_delete_measurement(client, account_manager, aerospace_project):
    measurement = Measurement.objects.get(project_kpi__kpi__code="turnaround_time")
    client.force_login(account_manager)
    response = client.post(
        reverse("measurement-delete", args=[aerospace_project.pk, measurement.pk]),
        {"version": measurement.version},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    measurement.refresh_from_db()
    assert measurement.deleted_at is not None
    assert kpi_row(response, "Turnaround time").latest_value is None


def test_kpi_writes_by_client_viewer_are_403(client, client_viewer_a, aerospace_project, fill_rate):
    client.force_login(client_viewer_a)
    response = add_kpi(
        client, aerospace_project, kpi=KPIFactory().pk, baseline_value="1", baseline_date="2024-01-01"
    )
    assert response.status_code == 403


def test_inline_write_to_deleted_project_is_404(client, account_manager, aerospace_project):
    project_services.project_delete(actor=account_manager, project=aerospace_project)
    client.force_login(account_manager)
    project_kpi = ProjectKPI.objects.filter(project=aerospace_project).first()
    assert (
        record(client, aerospace_project, project_kpi, measured_on="2024-09-01", value="80").status_code
        == 404
    )
    assert InnovationProject.objects.get(pk=aerospace_project.pk).deleted_at is not None


def test_stage_change_to_the_current_stage_is_a_no_op_like_the_api(client, account_manager, portfolio):
    from rest_framework.test import APIClient

    from projects.models import AuditEntry

    project = ProjectFactory(relationship=portfolio["rel_a"], stage="proposed")
    entries = AuditEntry.objects.count()
    client.force_login(account_manager)
    response = transition(client, project, "proposed")
    assert response.status_code == 200
    assert "The project is already Proposed; nothing changed." in response.content.decode()
    api = APIClient()
    api.force_authenticate(account_manager)
    answer = api.patch(f"/api/v1/projects/{project.pk}/", {"stage": "proposed"}, format="json")
    assert answer.status_code == 200 and answer.json()["version"] == project.version
    project.refresh_from_db()
    assert project.version == 1 and AuditEntry.objects.count() == entries


def test_stage_change_dated_in_the_future_is_refused_by_the_service_and_shown(
    client, account_manager, portfolio
):
    project = ProjectFactory(
        relationship=portfolio["rel_a"], stage="in_progress", proposed_on=dt.date(2024, 1, 2)
    )
    client.force_login(account_manager)
    response = transition(client, project, "delivered", delivered_on="2099-01-01")
    project.refresh_from_db()
    assert project.stage == "in_progress"
    assert response.status_code == 422
    assert response.context["form"].errors["delivered_on"] == [
        "A stage change cannot be dated in the future."
    ]


def test_project_page_shows_the_gain_share_earned_where_one_is_agreed(client, account_manager, portfolio):
    agreed = ProjectFactory(
        relationship=portfolio["rel_a"],
        stage="delivered",
        delivered_on=dt.date(2024, 6, 1),
        realised_annual_benefit=Decimal("250000"),
        gain_share_pct=Decimal("20"),
        gain_share_baseline=Decimal("100000"),
    )
    client.force_login(account_manager)
    response = page_of(client, agreed)
    assert response.context["gain_share"] == Decimal("30000")  # 20 % × (250,000 − 100,000)
    page = response.content.decode()
    assert "20.00 % of the realised benefit above 100,000 USD" in page
    assert '<dd id="project-gain-share">30,000 USD a year</dd>' in page


def test_project_page_gain_share_agreed_but_nothing_realised_yet(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"], gain_share_pct=Decimal("10"))
    client.force_login(account_manager)
    page = page_of(client, project).content.decode()
    assert "none yet — no realised benefit recorded" in page and "above 0 USD" in page


def test_project_page_without_gain_share_agreement_shows_none(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"], realised_annual_benefit=Decimal("250000"))
    client.force_login(account_manager)
    response = page_of(client, project)
    assert response.context["gain_share"] is None
    assert "Gain-share" not in response.content.decode()


def test_history_reads_as_sentences_with_formatted_values_grouped_by_day(
    client, account_manager, aerospace_project
):
    before = formatting.money(aerospace_project.investment, aerospace_project.relationship.currency)
    project = project_services.project_update(
        actor=account_manager,
        project=aerospace_project,
        changes=project_services.ProjectFields(investment=Decimal("387000")),
    )
    client.force_login(account_manager)
    response = page_of(client, project)
    latest = response.context["history"][0]
    name = account_manager.get_full_name()
    after = formatting.money(Decimal("387000"), project.relationship.currency)
    assert latest["headline"] == f"{name} changed the project"
    assert latest["sentences"] == [f"changed the investment from {before} to {after}"]
    section = response.content.decode().split('id="history"')[1].split("</section>")[0]
    assert f"{name} changed the project: changed the investment from {before} to {after}." in section
    today = formatting.day(timezone.localdate())
    assert f'<h3 class="history-day">{today}</h3>' in section
    assert section.count('class="history-day"') == len({row["day"] for row in response.context["history"]})


def test_history_names_a_stage_change_as_a_move_and_filters_by_kind(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    project_services.project_transition(actor=account_manager, project=project, to_stage="proposed")
    client.force_login(account_manager)
    stage_only = client.get(reverse("project-detail", args=[project.pk]), {"history": "stage"}).context[
        "history"
    ]
    assert [row["headline"] for row in stage_only] == [
        f"{account_manager.get_full_name()} moved the project from Idea to Proposed"
    ]
    details = client.get(reverse("project-detail", args=[project.pk]), {"history": "project"}).context[
        "history"
    ]
    assert [row["action_code"] for row in details] == ["create"]
    unknown = client.get(reverse("project-detail", args=[project.pk]), {"history": "nonsense"})
    assert len(unknown.context["history"]) == 2  # an unknown kind shows everything

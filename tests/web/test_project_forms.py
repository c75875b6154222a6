"""Create, edit and delete projects: field-level errors with nothing saved, versions, roles."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from projects import services as project_services
from projects.models import AuditEntry, InnovationProject
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def valid_data(relationship, **overrides):
    data = {
        "relationship": relationship.pk,
        "title": "Invoice automation",
        "description": "OCR and matching",
        "level": "operational",
        "stage": "idea",
        "originator": "provider",
        "owner": "",
        "funding": "provider",
        "proposed_on": "",
        "started_on": "",
        "delivered_on": "",
        "investment": "250000",
        "expected_annual_benefit": "400000",
        "realised_annual_benefit": "",
        "gain_share_pct": "",
        "gain_share_baseline": "",
    }
    data.update(overrides)
    return data


def test_create_project_on_assigned_relationship(client, account_manager, portfolio):
    client.force_login(account_manager)
    response = client.post(
        reverse("project-create"), valid_data(portfolio["rel_a"], owner=account_manager.pk)
    )
    project = InnovationProject.objects.get(title="Invoice automation")
    assert response.status_code == 302 and response.url == reverse("project-detail", args=[project.pk])
    assert (project.relationship, project.owner, project.investment) == (
        portfolio["rel_a"],
        account_manager,
        Decimal("250000.00"),
    )
    entry = AuditEntry.objects.get(object_id=project.pk, content_type__model="innovationproject")
    assert entry.actor == account_manager and entry.action == "create"


def test_create_form_offers_only_writable_relationships(client, account_manager, portfolio):
    client.force_login(account_manager)
    form = client.get(reverse("project-create")).context["form"]
    assert list(form.fields["relationship"].queryset) == [portfolio["rel_a"]]
    response = client.post(reverse("project-create"), valid_data(portfolio["rel_b"]))
    assert response.status_code == 422
    assert "Select a valid choice" in response.context["form"].errors["relationship"][0]
    assert not InnovationProject.objects.exists()


def test_create_historic_delivered_project(client, account_manager, portfolio):
    client.force_login(account_manager)
    data = valid_data(
        portfolio["rel_a"],
        stage="delivered",
        proposed_on="2023-01-10",
        started_on="2023-02-01",
        delivered_on="2023-09-30",
    )
    assert client.post(reverse("project-create"), data).status_code == 302
    project = InnovationProject.objects.get()
    assert (project.stage, project.delivered_on) == ("delivered", dt.date(2023, 9, 30))


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"gain_share_pct": "120"}, "gain_share_pct", "Ensure this value is less than or equal to 100."),
        ({"investment": "-5"}, "investment", "Ensure this value is greater than or equal to 0."),
        ({"realised_annual_benefit": "-0.01"}, "realised_annual_benefit", "greater than or equal to 0"),
        (
            {"stage": "delivered", "started_on": "2024-05-01", "delivered_on": "2024-04-01"},
            "delivered_on",
            "A project cannot be delivered before it started.",
        ),
        (
            {"proposed_on": "2024-05-01", "started_on": "2024-04-01"},
            "started_on",
            "cannot start before it was proposed",
        ),
        ({"stage": "delivered"}, "delivered_on", "A delivered project needs a delivered date."),
        ({"delivered_on": "2024-04-01"}, "delivered_on", "Only a delivered project has a delivered date"),
        ({"proposed_on": "0001-01-01"}, "proposed_on", "Enter a date between 1950 and 2100."),
        ({"proposed_on": "9999-12-31"}, "proposed_on", "Enter a date between 1950 and 2100."),
        ({"proposed_on": "2024-02-30"}, "proposed_on", "Enter a valid date."),
        ({"investment": "1" * 15}, "investment", "no more than 14 digits before the decimal point"),
        ({"investment": "1.005"}, "investment", "no more than 2 decimal places"),
        ({"title": ""}, "title", "This field is required."),
        ({"title": "x" * 201}, "title", "at most 200 characters"),
        ({"level": "galactic"}, "level", "Select a valid choice"),
    ],
)
def test_invalid_project_form_shows_field_error_and_saves_nothing(
    client, account_manager, portfolio, overrides, field, message
):
    client.force_login(account_manager)
    response = client.post(reverse("project-create"), valid_data(portfolio["rel_a"], **overrides))
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors
    page = response.content.decode()
    assert f'id="id_{field}_error"' in page and 'aria-invalid="true"' in page
    assert "Nothing was saved" in page
    assert not InnovationProject.objects.exists()
    assert not AuditEntry.objects.filter(content_type__model="innovationproject").exists()


def test_every_invalid_field_is_reported_at_once(client, account_manager, portfolio):
    client.force_login(account_manager)
    data = valid_data(
        portfolio["rel_a"],
        stage="delivered",
        started_on="2024-05-01",
        delivered_on="2024-04-01",
        proposed_on="0001-01-01",
        investment="-5",
        gain_share_pct="120",
    )
    response = client.post(reverse("project-create"), data)
    assert response.status_code == 422
    assert set(response.context["form"].errors) == {
        "proposed_on",
        "delivered_on",
        "investment",
        "gain_share_pct",
    }
    assert not InnovationProject.objects.exists()


def test_create_page_is_403_for_read_only_roles(client, executive, client_viewer_a):
    for user in (executive, client_viewer_a):
        client.force_login(user)
        assert client.get(reverse("project-create")).status_code == 403
        assert client.post(reverse("project-create"), {}).status_code == 403


# --- Edit -------------------------------------------------------------------------------------


def edit_data(project, **overrides):
    data = valid_data(project.relationship, title=project.title, version=project.version)
    data.pop("stage")
    data.update(overrides)
    return data


def test_edit_saves_with_current_version(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Before")
    client.force_login(account_manager)
    get = client.get(reverse("project-edit", args=[project.pk]))
    assert get.context["form"].initial["version"] == 1 and "stage" not in get.context["form"].fields
    response = client.post(reverse("project-edit", args=[project.pk]), edit_data(project, title="After"))
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.title, project.version) == ("After", 2)


def test_edit_with_stale_version_is_refused_and_shows_current_values(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Original")
    stale = edit_data(project, title="Mine", investment="1000")
    project_services.project_update(
        actor=None, project=project, changes=project_services.ProjectFields(title="Theirs")
    )
    client.force_login(account_manager)
    response = client.post(reverse("project-edit", args=[project.pk]), stale)
    assert response.status_code == 409
    page = response.content.decode()
    assert "Someone else changed this innovation project since you read it" in page
    form = response.context["form"]
    assert form.initial["title"] == "Theirs" and form.initial["version"] == 2
    assert 'value="Theirs"' in page
    differences = {
        row["label"]: (row["yours"], row["current"]) for row in response.context["conflict_differences"]
    }
    assert differences["Title"] == ("Mine", "Theirs")
    project.refresh_from_db()
    assert (project.title, project.version) == ("Theirs", 2)


def test_edit_of_unassigned_project_is_404_and_of_read_only_role_403(
    client, account_manager, executive, portfolio
):
    other = ProjectFactory(relationship=portfolio["rel_b"])
    client.force_login(account_manager)
    assert client.get(reverse("project-edit", args=[other.pk])).status_code == 404
    client.force_login(executive)
    assert client.get(reverse("project-edit", args=[other.pk])).status_code == 403


def test_edit_cannot_set_delivered_date_on_open_project(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    client.force_login(account_manager)
    response = client.post(
        reverse("project-edit", args=[project.pk]), edit_data(project, delivered_on="2024-01-01")
    )
    assert response.status_code == 422
    project.refresh_from_db()
    assert project.delivered_on is None and project.version == 1


# --- Delete -----------------------------------------------------------------------------------


def test_delete_asks_for_confirmation_then_soft_deletes(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Short-lived")
    client.force_login(account_manager)
    confirm = client.get(reverse("project-delete", args=[project.pk]))
    assert confirm.status_code == 200 and "Delete “Short-lived”?" in confirm.content.decode()
    project.refresh_from_db()
    assert project.deleted_at is None
    response = client.post(reverse("project-delete", args=[project.pk]), {"version": 1}, follow=True)
    assert "Deleted “Short-lived”." in response.content.decode()
    project.refresh_from_db()
    assert project.deleted_at is not None
    assert "Short-lived" not in client.get(reverse("project-list")).content.decode().split("<main")[1]
    assert client.get(reverse("project-detail", args=[project.pk])).status_code == 404


def test_delete_with_stale_version_is_refused(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    project_services.project_update(
        actor=None, project=project, changes=project_services.ProjectFields(title="Changed meanwhile")
    )
    client.force_login(account_manager)
    response = client.post(reverse("project-delete", args=[project.pk]), {"version": 1})
    assert response.status_code == 409
    assert "It was not deleted" in response.content.decode()
    project.refresh_from_db()
    assert project.deleted_at is None


def test_delete_by_executive_is_403(client, executive, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    client.force_login(executive)
    assert client.post(reverse("project-delete", args=[project.pk]), {"version": 1}).status_code == 403
    project.refresh_from_db()
    assert project.deleted_at is None

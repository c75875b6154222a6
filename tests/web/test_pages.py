"""Sign-in, the plain lists, and the admin writing through the services."""

import pytest
from django.urls import reverse

from projects.models import AuditEntry, InnovationProject
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_pages_require_sign_in(client):
    response = client.get(reverse("project-list"))
    assert response.status_code == 302 and reverse("login") in response.url


def test_sign_in_with_wrong_password_shows_error(client, account_manager):
    response = client.post(reverse("login"), {"username": account_manager.username, "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_account_manager_lists_only_assigned(client, account_manager, portfolio):
    ProjectFactory(relationship=portfolio["rel_a"], title="Visible project")
    ProjectFactory(relationship=portfolio["rel_b"], title="Hidden project")
    client.force_login(account_manager)
    page = client.get(reverse("project-list")).content.decode()
    assert "Visible project" in page and "Hidden project" not in page
    relationships = client.get(reverse("relationship-list")).content.decode()
    assert "A with provider" in relationships and "B with provider" not in relationships
    assert client.get(reverse("relationship-detail", args=[portfolio["rel_b"].pk])).status_code == 404


def test_admin_edit_goes_through_services(client, admin_user):
    project = ProjectFactory(title="Admin edit")
    client.force_login(admin_user)
    url = reverse("admin:projects_innovationproject_change", args=[project.pk])
    form = client.get(url).context["adminform"].form
    data = {name: "" if form[name].value() is None else form[name].value() for name in form.fields}
    data.update({"title": "Edited in admin", "stage": "delivered"})
    response = client.post(url, data)
    assert response.status_code == 200  # re-shown with the stage error
    assert "A project cannot move from Idea to Delivered" in response.content.decode()
    data["stage"] = "proposed"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    project = InnovationProject.objects.get(pk=project.pk)
    assert (project.title, project.stage, project.version) == ("Edited in admin", "proposed", 2)
    entry = AuditEntry.objects.filter(object_id=project.pk).first()
    assert entry.actor == admin_user and entry.action == "transition"

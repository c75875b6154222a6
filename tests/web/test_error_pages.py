"""The app's own 403, 404 and 500 pages, in its layout with a way back — never Django's debug
pages (which list every URL) nor a bare server error."""

import pytest
from django.test import Client, override_settings
from django.urls import path

from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_an_absent_project_is_the_apps_404_with_a_way_back(client, account_manager):
    client.force_login(account_manager)
    response = client.get("/projects/987654/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Not found</h1>" in page and 'href="/"' in page
    assert "site-header" in page  # in the app's layout, with its menu
    assert "URLconf" not in page  # not Django's debug page listing the routes


def test_another_tenants_project_is_the_same_404(client, account_manager, portfolio):
    hidden = ProjectFactory(relationship=portfolio["rel_b"])
    client.force_login(account_manager)
    response = client.get(f"/projects/{hidden.pk}/")
    assert response.status_code == 404
    assert hidden.title not in response.content.decode()


def test_a_refused_action_is_the_apps_403_saying_why(client, executive):
    client.force_login(executive)
    response = client.get("/projects/new/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>Not allowed</h1>" in page and "Your role does not create projects." in page


def _boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", _boom)]


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_server_error_is_the_apps_500_page():
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "<h1>Something went wrong</h1>" in page and "nothing was saved" in page
    assert "boom" not in page and "Traceback" not in page


def test_make_run_does_not_turn_debug_pages_on():
    with open("Makefile") as makefile:
        run = makefile.read().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "DJANGO_DEBUG" not in run

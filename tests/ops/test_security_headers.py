"""Every page answers with the browser security headers, and no page carries an inline script the
Content-Security-Policy would have to allow."""

import re

import pytest
from django.urls import reverse

from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)


def _pages(portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    relationship = portfolio["rel_a"].pk
    return [
        "/",
        reverse("relationship-list"),
        reverse("relationship-detail", args=[relationship]),
        reverse("relationship-dashboard", args=[relationship]),
        reverse("project-list"),
        reverse("project-create"),
        reverse("project-detail", args=[project.pk]),
        reverse("project-edit", args=[project.pk]),
        reverse("api-tokens"),
        "/admin/",
        "/api/docs/",
        "/api/v1/projects/",
    ]


def test_every_page_has_the_security_headers_and_no_inline_script(client, admin_user, portfolio):
    responses = [("/accounts/login/", client.get("/accounts/login/"))]  # signed out
    client.force_login(admin_user)
    responses += [(url, client.get(url)) for url in _pages(portfolio)]
    for url, response in responses:
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
        assert directives["script-src"] == "'self'", url
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'", url
        assert response["X-Frame-Options"] == "DENY", url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["Referrer-Policy"] == "same-origin", url
        assert "camera=()" in response["Permissions-Policy"], url
        if response["Content-Type"].startswith("text/html"):
            inline = INLINE_SCRIPT.findall(response.content.decode())
            assert inline == [], f"{url} has an inline script: {inline}"


def test_the_api_docs_load_their_start_up_script_as_a_file(client, admin_user):
    client.force_login(admin_user)
    page = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="(/api/docs/\?[^"]*script[^"]*)"', page)
    assert script, "the docs page names its start-up script"
    answer = client.get(script.group(1).replace("&amp;", "&"))
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in answer.content.decode()

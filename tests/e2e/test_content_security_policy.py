"""Under the Content-Security-Policy, pages work in a real Chromium with no violation reported."""

import pytest

from tests.e2e.conftest import sign_in
from tests.factories import ProjectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push(event.violatedDirective + ' ' + (event.blockedURI || 'inline'));
});
"""


def test_pages_docs_and_admin_run_without_a_policy_violation(new_page, portfolio, admin_user):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    page = new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    sign_in(page, admin_user.username)
    visited = {}
    for path, ready in (
        ("/", "main"),
        (f"/relationships/{portfolio['rel_a'].pk}/dashboard/", "main"),
        (f"/projects/{project.pk}/", "main"),
        ("/api/docs/", ".swagger-ui .info"),  # Swagger UI drew the schema: its scripts ran
        ("/admin/", "#content"),
    ):
        page.goto(path)
        page.wait_for_selector(ready)
        page.wait_for_load_state("networkidle")
        visited[path] = page.evaluate("window.__cspViolations")
    assert {path: found for path, found in visited.items() if found} == {}
    assert [error for error in page.console_errors if "Content Security Policy" in error] == []

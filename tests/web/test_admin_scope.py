"""A business admin (staff in the admin role, not a superuser) manages the portfolio in the Django
admin but does not see the scheduler's internals or Django's bookkeeping; a superuser does."""

import pytest

from projects.access import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_business_admin_sees_business_models_only(client):
    client.force_login(UserFactory(username="biz-admin", role=Role.ADMIN, is_staff=True))
    page = client.get("/admin/").content.decode()
    assert "/admin/projects/innovationproject/" in page
    assert "/admin/accounts/apitoken/" in page
    assert "/admin/projects/signoff/" in page
    assert "/admin/axes/accessattempt/" in page  # unlocking a locked-out person is theirs to do
    assert "django_celery_beat" not in page and "/admin/authtoken/" not in page
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 403


def test_superuser_still_sees_the_scheduler(client):
    client.force_login(UserFactory(username="root-user", is_staff=True, is_superuser=True))
    assert "django_celery_beat" in client.get("/admin/").content.decode()

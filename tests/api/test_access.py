"""Who may do what: role × resource × method × (own / other scope / absent), token auth."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import ApiToken
from accounts.services import digest_of
from kpis.models import KPI, Measurement, ProjectKPI
from projects.models import InnovationProject, Organization, Relationship
from tests.factories import KPIFactory, ProjectKPIFactory, UserFactory, api_key_for

pytestmark = pytest.mark.django_db

ABSENT_ID = 987654321
ROLES = [
    "admin",
    "executive",
    "organisation_executive",
    "account_manager",
    "contributor",
    "client_viewer",
    "no_role",
]
RESOURCES = ["organizations", "relationships", "projects", "kpis", "project-kpis", "measurements"]
MODELS = {
    "organizations": Organization,
    "relationships": Relationship,
    "projects": InnovationProject,
    "kpis": KPI,
    "project-kpis": ProjectKPI,
    "measurements": Measurement,
}
PATCHES = {
    "organizations": {"industry": "Retail"},
    "relationships": {"name": "Renamed relationship"},
    "projects": {"description": "Changed through the API"},
    "kpis": {"description": "Changed through the API"},
    "project-kpis": {"target_value": "95"},
    "measurements": {"value": "86"},
}


@pytest.fixture
def users(admin_user, executive, account_manager, client_viewer_a, no_role_user, portfolio):
    return {
        "admin": admin_user,
        "executive": executive,
        # An executive of client A sees what their organisation is part of, like its staff.
        "organisation_executive": UserFactory(
            username="exec-a", role="executive", organization=portfolio["client_a"]
        ),
        "account_manager": account_manager,
        "contributor": UserFactory(
            username="contributor-a", role="contributor", organization=portfolio["client_a"]
        ),
        "client_viewer": client_viewer_a,
        "no_role": no_role_user,
    }


def targets(world, resource):
    """The record in relationship A (the manager's and viewer A's), in relationship B, and none."""
    own, other = {
        "organizations": (world["client_a"], world["client_b"]),
        "relationships": (world["rel_a"], world["rel_b"]),
        "projects": (world["project_a"], world["project_b"]),
        "kpis": (world["kpi"], None),  # the catalogue is the same for everyone
        "project-kpis": (world["project_kpi_a"], world["project_kpi_b"]),
        "measurements": (world["measurement_a"], world["measurement_b"]),
    }[resource]
    return {"own": own, "other": other, "absent": None}


def expected(role, resource, method, target):
    if target == "absent":
        return 404
    if resource == "kpis" or role in ("admin", "executive"):
        visible = True
    else:
        visible = target == "own" and role != "no_role"
    if not visible:
        return 404
    if method == "get":
        return 200
    if role not in ("admin", "account_manager"):
        return 403
    if role == "account_manager" and resource in ("organizations", "kpis"):
        return 403
    if method == "patch":
        return 200
    # delete
    if role == "account_manager" and resource == "relationships":
        return 403
    if resource in ("organizations", "kpis"):
        return 400  # still in use (part of a relationship / tracked on projects)
    return 204


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_object_routes_follow_the_scoping_rules_for_every_role(role, resource, users, world, api_as):
    client = api_as(users[role])
    model = MODELS[resource]
    mismatches = []
    for target_name, obj in targets(world, resource).items():
        if obj is None and target_name == "other":
            continue
        pk = obj.pk if obj is not None else ABSENT_ID
        url = f"/api/v1/{resource}/{pk}/"
        for method in ("get", "history", "patch", "delete"):
            before = model.objects.filter(pk=pk).values_list("version", flat=True).first()
            if method == "history":
                response = client.get(url + "history/")
                want = expected(role, resource, "get", target_name)
            elif method == "patch":
                response = client.patch(url, PATCHES[resource])
                want = expected(role, resource, method, target_name)
            else:
                response = getattr(client, method)(url)
                want = expected(role, resource, method, target_name)
            if response.status_code != want:
                mismatches.append((method, target_name, response.status_code, want, response.content[:200]))
            if response.status_code >= 400:
                after = model.objects.filter(pk=pk).values_list("version", flat=True).first()
                if after != before:
                    mismatches.append((method, target_name, "written despite", response.status_code))
                assert set(response.json()) >= {"status", "code", "detail", "errors"}
    assert not mismatches


def create_payloads(world, parent):
    """A valid new record per resource, under relationship `parent` ("a" or "b")."""
    kpi2 = KPIFactory(code=f"kpi_new_{parent}", unit="count")
    return {
        "organizations": {"name": f"New organisation {parent}", "kind": "client"},
        "relationships": {
            "name": f"New relationship {parent}",
            "client": world[f"client_{parent}"].pk,
            "provider": world["provider"].pk,
            "contract_start": "2024-01-01",
        },
        "projects": {"relationship": world[f"rel_{parent}"].pk, "title": f"New project {parent}"},
        "kpis": {
            "code": f"new_{parent}",
            "name": f"New KPI {parent}",
            "unit": "count",
            "direction": "higher_is_better",
        },
        "project-kpis": {
            "project": world[f"project_{parent}"].pk,
            "kpi": kpi2.pk,
            "baseline_value": "10",
            "baseline_date": "2024-01-01",
        },
        "measurements": {
            "project_kpi": world[f"project_kpi_{parent}"].pk,
            "measured_on": "2024-09-01",
            "value": "80",
        },
    }


def expected_create(role, resource, parent):
    if role not in ("admin", "account_manager"):
        return 403
    if role == "admin":
        return 201
    if resource in ("organizations", "kpis", "relationships"):
        return 403
    return 201 if parent == "a" else 400  # a parent outside the manager's scope reads as absent


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_create_follows_roles_and_parent_scope(role, resource, users, world, api_as):
    client = api_as(users[role])
    model = MODELS[resource]
    for parent in ("a", "b"):
        payload = create_payloads(world, parent)[resource]
        count = model.objects.count()
        response = client.post(f"/api/v1/{resource}/", payload)
        want = expected_create(role, resource, parent)
        assert response.status_code == want, (parent, response.json())
        assert model.objects.count() == count + (1 if want == 201 else 0)
        if want == 400:
            field = {"projects": "relationship", "project-kpis": "project", "measurements": "project_kpi"}[
                resource
            ]
            assert field in response.json()["errors"]


def test_scores_are_read_only_and_scoped(users, world, api_as):
    from kpis.models import RelationshipScore

    score_a = RelationshipScore.objects.create(
        relationship=world["rel_a"], period=dt.date(2025, 1, 1), score=Decimal("48.80"), tier="steady"
    )
    score_b = RelationshipScore.objects.create(
        relationship=world["rel_b"],
        period=dt.date(2025, 1, 1),
        score=Decimal("75.00"),
        tier="high_performing",
    )
    manager = api_as(users["account_manager"])
    assert manager.get(f"/api/v1/scores/{score_a.pk}/").status_code == 200
    assert manager.get(f"/api/v1/scores/{score_b.pk}/").status_code == 404
    assert [row["id"] for row in manager.get("/api/v1/scores/").json()["results"]] == [score_a.pk]
    admin = api_as(users["admin"])
    assert admin.patch(f"/api/v1/scores/{score_a.pk}/", {"score": "99"}).status_code == 405
    assert admin.post("/api/v1/scores/", {}).status_code == 405
    assert admin.delete(f"/api/v1/scores/{score_a.pk}/").status_code == 405


@pytest.mark.parametrize("role", ROLES)
def test_lists_contain_exactly_the_scoped_rows(role, users, world, api_as):
    client = api_as(users[role])
    sees_all = role in ("admin", "executive")
    sees_a = role in ("account_manager", "client_viewer", "contributor", "organisation_executive")
    for resource in ("relationships", "projects", "project-kpis", "measurements"):
        ids = {row["id"] for row in client.get(f"/api/v1/{resource}/").json()["results"]}
        own = {obj.pk for obj in MODELS[resource].objects.filter(pk__in=_ids_in(world, resource, "a"))}
        other = {obj.pk for obj in MODELS[resource].objects.filter(pk__in=_ids_in(world, resource, "b"))}
        assert own <= ids if (sees_all or sees_a) else not (own & ids)
        assert other <= ids if sees_all else not (other & ids)


def _ids_in(world, resource, key):
    relationship = world[f"rel_{key}"]
    return {
        "relationships": Relationship.objects.filter(pk=relationship.pk),
        "projects": InnovationProject.objects.filter(relationship=relationship),
        "project-kpis": ProjectKPI.objects.filter(project__relationship=relationship),
        "measurements": Measurement.objects.filter(project_kpi__project__relationship=relationship),
    }[resource].values("pk")


def test_manager_cannot_point_a_project_kpi_at_a_project_outside_scope_by_external_id(
    account_manager, world, api_as
):
    client = api_as(account_manager)
    kpi = KPIFactory(code="other_kpi")
    before = ProjectKPI.objects.count()
    response = client.post(
        "/api/v1/project-kpis/",
        {"project": "p-b", "kpi": kpi.pk, "baseline_value": "1", "baseline_date": "2024-01-01"},
    )
    assert response.status_code == 400
    assert "project" in response.json()["errors"]
    assert ProjectKPI.objects.count() == before


def test_manager_cannot_move_a_project_to_another_relationship(account_manager, world, api_as):
    client = api_as(account_manager)
    project = world["project_a"]
    response = client.patch(f"/api/v1/projects/{project.pk}/", {"relationship": world["rel_b"].pk})
    assert response.status_code == 400
    project.refresh_from_db()
    assert project.relationship_id == world["rel_a"].pk and project.version == 1


def test_manager_cannot_change_admin_fields_of_a_relationship(
    account_manager, other_account_manager, world, api_as
):
    client = api_as(account_manager)
    relationship = world["rel_a"]
    response = client.patch(
        f"/api/v1/relationships/{relationship.pk}/", {"account_managers": ["am-user", "am-other"]}
    )
    assert response.status_code == 400
    assert "account_managers" in response.json()["errors"]
    assert list(relationship.account_managers.values_list("username", flat=True)) == ["am-user"]


# --- Authentication ---------------------------------------------------------------------------


def test_anonymous_requests_get_401_with_the_error_shape(world, api_as):
    response = api_as(None).get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "not_authenticated"


def test_token_is_issued_for_valid_credentials_and_authenticates(account_manager, world, api_as):
    anonymous = api_as(None)
    response = anonymous.post("/api/v1/auth/token/", {"username": "am-user", "password": "test-password"})
    assert response.status_code == 201
    key = response.json()["token"]
    stored = ApiToken.objects.get(user=account_manager)
    assert stored.digest == digest_of(key) and key not in (stored.digest, stored.prefix)
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    listed = anonymous.get("/api/v1/projects/").json()["results"]
    assert [row["id"] for row in listed] == [world["project_a"].pk]


def test_token_request_with_wrong_password_is_400_and_issues_nothing(account_manager, api_as):
    response = api_as(None).post("/api/v1/auth/token/", {"username": "am-user", "password": "wrong"})
    assert response.status_code == 400
    assert response.json()["errors"]["non_field_errors"]
    assert not ApiToken.objects.exists()


def test_token_accepts_form_encoded_credentials(account_manager, api_as):
    response = api_as(None).post(
        "/api/v1/auth/token/", {"username": "am-user", "password": "test-password"}, format="multipart"
    )
    assert response.status_code == 415  # multipart is not accepted; JSON and urlencoded forms are
    response = api_as(None).generic(
        "POST",
        "/api/v1/auth/token/",
        "username=am-user&password=test-password",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201


def test_revoked_token_no_longer_authenticates(account_manager, api_as):
    key = api_key_for(account_manager)
    client = api_as(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/projects/").status_code == 200
    assert client.delete("/api/v1/auth/token/").status_code == 204
    assert client.get("/api/v1/projects/").status_code == 401


def test_token_of_an_inactive_user_is_refused(api_as):
    user = UserFactory(username="gone", role="account_manager")
    key = api_key_for(user)
    user.is_active = False
    user.save()
    client = api_as(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/projects/").status_code == 401


def test_session_authentication_works_for_the_browser(client, account_manager, world):
    client.force_login(account_manager)
    response = client.get("/api/v1/projects/")
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_a_project_kpi_fixture_in_scope_is_writable_by_its_manager(account_manager, world, api_as):
    project_kpi = ProjectKPIFactory(project=world["project_a"], kpi=KPIFactory(code="spare"))
    response = api_as(account_manager).patch(
        f"/api/v1/project-kpis/{project_kpi.pk}/", {"target_value": "70"}
    )
    assert response.status_code == 200
    assert response.json()["target_value"] == "70.0000"

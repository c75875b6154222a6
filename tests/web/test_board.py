"""The board: a lane per stage for a filter or one relationship; moving a card opens the stage
dialog, whose rules (and client sign-off) apply, and comes back to the board."""

import datetime as dt
from urllib.parse import quote

import pytest

from projects import access, services
from projects.models import InnovationProject
from tests.factories import KPIFactory, MeasurementFactory, ProjectFactory, ProjectKPIFactory
from web.views import board

pytestmark = pytest.mark.django_db

Stage = InnovationProject.Stage


def lane_titles(response) -> dict[str, list[str]]:
    return {lane["stage"]: [project.title for project in lane["cards"]] for lane in response.context["lanes"]}


def test_board_lanes_hold_the_visible_projects_by_stage(client, account_manager, portfolio):
    for stage in ("idea", "proposed", "approved", "in_progress"):
        ProjectFactory(relationship=portfolio["rel_a"], title=f"A {stage}", stage=stage)
    ProjectFactory(
        relationship=portfolio["rel_a"], title="A done", stage="delivered", delivered_on=dt.date(2025, 1, 1)
    )
    ProjectFactory(relationship=portfolio["rel_b"], title="B idea", stage="idea")
    client.force_login(account_manager)
    response = client.get("/projects/board/")
    assert response.status_code == 200
    lanes = lane_titles(response)
    assert list(lanes) == list(InnovationProject.STAGE_ORDER)
    assert lanes["idea"] == ["A idea"] and lanes["delivered"] == ["A done"] and lanes["cancelled"] == []
    page = response.content.decode()
    assert "B idea" not in page and "Move…" in page
    assert "Skip to Delivered…" in page  # the stage machine's choices, as on the project page


def test_one_relationship_and_stage_filters(client, account_manager, portfolio):
    ProjectFactory(relationship=portfolio["rel_a"], title="Process idea", stage="idea", level="process")
    ProjectFactory(relationship=portfolio["rel_a"], title="Operational idea", stage="idea")
    client.force_login(account_manager)
    response = client.get(f"/projects/board/?relationship={portfolio['rel_a'].pk}&level=process&stage=idea")
    assert lane_titles(response) == {"idea": ["Process idea"]}
    page = response.content.decode()
    assert "<h1>A with provider</h1>" in page
    assert "?level=process&amp;relationship=" in page  # the list view keeps the filter


def test_moving_a_card_opens_the_dialog_and_returns_to_the_board(client, account_manager, portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Card", stage="idea")
    client.force_login(account_manager)
    board_url = f"/projects/board/?relationship={portfolio['rel_a'].pk}"
    page = client.get(board_url).content.decode()
    move = f"/projects/{project.pk}/stage/?to=proposed&amp;next={quote(board_url, safe='/')}"
    assert move in page
    dialog = client.get(
        f"/projects/{project.pk}/stage/", {"to": "proposed", "next": board_url}, HTTP_HX_REQUEST="true"
    )
    assert f'name="next" value="{board_url}"' in dialog.content.decode().replace("&amp;", "&")
    # A future date is refused by the same rules; nothing moves.
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    refused = client.post(
        f"/projects/{project.pk}/stage/",
        {"to_stage": "proposed", "version": 1, "proposed_on": future, "next": board_url},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 422 and "cannot be dated in the future" in refused.content.decode()
    moved = client.post(
        f"/projects/{project.pk}/stage/",
        {"to_stage": "proposed", "version": 1, "next": board_url},
        HTTP_HX_REQUEST="true",
    )
    assert moved["HX-Redirect"] == board_url
    project.refresh_from_db()
    assert project.stage == Stage.PROPOSED
    # Another site is never a place to go back to.
    moved = client.post(
        f"/projects/{project.pk}/stage/",
        {"to_stage": "approved", "version": 2, "next": "https://evil.example/"},
    )
    assert moved.url == f"/projects/{project.pk}/"


def test_cards_with_client_sign_off_ask_for_approval(client, account_manager, client_viewer_a, portfolio):
    services.relationship_update(
        actor=None,
        relationship=portfolio["rel_a"],
        changes=services.RelationshipFields(client_signoff_required=True),
    )
    ProjectFactory(relationship=portfolio["rel_a"], title="Needs approval", stage="proposed")
    client.force_login(account_manager)
    page = client.get("/projects/board/").content.decode()
    card = page.split('class="board-card"')[1]
    assert "Request client approval…" in card and "Skip to" not in card


def test_readers_see_cards_without_moves(client, executive, portfolio):
    ProjectFactory(relationship=portfolio["rel_a"], title="Read only", stage="idea")
    client.force_login(executive)
    page = client.get("/projects/board/").content.decode()
    assert "Read only" in page and "move-menu" not in page and "Move…" not in page


def test_a_full_lane_links_to_the_rest(client, account_manager, portfolio, monkeypatch):
    monkeypatch.setattr(board, "LANE_LIMIT", 3)
    for number in range(5):
        ProjectFactory(relationship=portfolio["rel_a"], title=f"Idea {number}", stage="idea")
    client.force_login(account_manager)
    response = client.get("/projects/board/?level=operational")
    idea = next(lane for lane in response.context["lanes"] if lane["stage"] == "idea")
    assert (idea["total"], len(idea["cards"]), idea["more"]) == (5, 3, 2)
    assert [p.title for p in idea["cards"]] == ["Idea 4", "Idea 3", "Idea 2"]  # latest changed first
    assert "/projects/?level=operational&amp;stage=idea" in response.content.decode()


def test_board_query_count_is_flat(client, account_manager, portfolio, django_assert_num_queries):
    kpi = KPIFactory()
    for number in range(36):
        project = ProjectFactory(
            relationship=portfolio["rel_a"],
            title=f"P{number}",
            stage=InnovationProject.OPEN_STAGES[number % 4],
        )
        MeasurementFactory(project_kpi=ProjectKPIFactory(project=project, kpi=kpi))
    client.force_login(account_manager)
    access.role_of(account_manager)
    client.get("/projects/board/")
    # session, user, role, organisation, lane counts, writable relationships, cards, their KPIs;
    # filter choices: relationships (and their process areas), owners
    with django_assert_num_queries(11):
        response = client.get("/projects/board/")
    assert sum(len(lane["cards"]) for lane in response.context["lanes"]) == 36

"""One sorting definition: parsing `sort`/`-sort`, the whitelist, the id tie-break, stage order."""

import datetime as dt

import pytest

from projects import selectors
from projects.models import InnovationProject
from projects.sorting import Sort, next_sort, parse_sort, with_id_tie_break
from tests.factories import ProjectFactory

ALLOWED = {"title": ["title"], "score": ["score"]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("title", Sort("title", False)),
        ("-score", Sort("score", True)),
        (" -title ", Sort("title", True)),
        ("", Sort("score", True)),  # the default
        (None, Sort("score", True)),
        ("password", Sort("score", True)),  # not whitelisted
        ("--title", Sort("score", True)),
        ("-", Sort("score", True)),
    ],
)
def test_parse_sort_whitelists_and_falls_back_to_the_default(value, expected):
    assert parse_sort(value, allowed=ALLOWED, default="-score") == expected


def test_sort_param_round_trips():
    assert [Sort("score", True).param, Sort("title").param] == ["-score", "title"]
    assert parse_sort(Sort("score", True).param, allowed=ALLOWED, default="title") == Sort("score", True)


def test_id_tie_break_is_added_once_in_the_requested_direction():
    assert with_id_tie_break(["title"]) == ["title", "id"]
    assert with_id_tie_break(["-title"], descending=True) == ["-title", "-id"]
    assert with_id_tie_break(["-pk"]) == ["-pk"]
    assert with_id_tie_break(["name", "id"]) == ["name", "id"]


def test_next_sort_reverses_the_current_column_and_starts_others_in_their_first_direction():
    current = Sort("title")
    assert next_sort("title", current) == Sort("title", True)
    assert next_sort("title", Sort("title", True)) == Sort("title")
    assert next_sort("score", current) == Sort("score")
    assert next_sort("score", current, descending_first=True) == Sort("score", True)


@pytest.mark.django_db
def test_stage_order_expression_follows_the_models_stage_order(portfolio):
    for stage in reversed(InnovationProject.STAGE_ORDER):
        ProjectFactory(
            relationship=portfolio["rel_a"],
            title=f"P-{stage}",
            stage=stage,
            delivered_on=dt.date(2024, 1, 1) if stage == InnovationProject.Stage.DELIVERED else None,
        )
    ordered = InnovationProject.objects.order_by(selectors.stage_order(), "id").values_list(
        "stage", flat=True
    )
    assert tuple(ordered) == InnovationProject.STAGE_ORDER
    descending = Sort("stage", True).ordering([selectors.stage_order()])
    assert tuple(InnovationProject.objects.order_by(*descending).values_list("stage", flat=True)) == tuple(
        reversed(InnovationProject.STAGE_ORDER)
    )


@pytest.mark.django_db
def test_level_order_expression_follows_the_level_choices(portfolio):
    for level in reversed(InnovationProject.Level.values):
        ProjectFactory(relationship=portfolio["rel_a"], level=level)
    ordered = InnovationProject.objects.order_by(selectors.level_order()).values_list("level", flat=True)
    assert list(ordered) == InnovationProject.Level.values

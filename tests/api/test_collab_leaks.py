"""The access matrix of the two sides at the table: for every person — each side of a relationship,
people of neither side, another client, nobody — every page, API list, object, history, sync pass
(`?sync=0` and `updated_since`) and CSV that could carry a comment or a pulse answer. Zero leaks: an
internal comment reaches only its author's side, an individual pulse answer only its author.

(Events, webhooks and the QBR pack do not exist yet; their streams read through the same selectors,
and the notification hook is tested with its recipients in tests/collab/test_comments.py.)"""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from collab.calendar import previous_quarter
from collab.models import Comment, PulseResponse
from collab.services import CommentFields, PulseFields, comment_delete, comment_post, pulse_answer

pytestmark = pytest.mark.django_db

CLIENT_SECRET = "CLIENT-INTERNAL-7f3"
PROVIDER_SECRET = "PROVIDER-INTERNAL-9k2"
DELETED_SECRET = "DELETED-INTERNAL-4q8"
SHARED = "SHARED-REMARK-2b5"
PULSE_SECRET = "PULSE-PRIVATE-x1"

# Who reads which of the texts (everything else must never reach them).
READS = {
    "client_contributor": {SHARED, CLIENT_SECRET, PULSE_SECRET},  # the author of both secrets
    "client_colleague": {SHARED, CLIENT_SECRET},
    "client_viewer": {SHARED, CLIENT_SECRET},
    "account_manager": {SHARED, PROVIDER_SECRET},
    "provider_contributor": {SHARED, PROVIDER_SECRET},
    "admin": {SHARED},
    "portfolio_executive": {SHARED},
    "client_b_contributor": set(),
    "anonymous": set(),
}
ALL_TEXTS = {CLIENT_SECRET, PROVIDER_SECRET, DELETED_SECRET, SHARED, PULSE_SECRET}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def talk(table):
    say = lambda actor, body, **fields: comment_post(actor=actor, fields=CommentFields(body=body, **fields))  # noqa: E731
    on_project = {"project": table["project"]}
    on_score = {"relationship": table["relationship"], "period": table["score"].period}
    shared = say(table["provider_contributor"], SHARED, **on_project)
    client_internal = say(table["client_contributor"], CLIENT_SECRET, visibility="internal", **on_project)
    say(table["account_manager"], PROVIDER_SECRET, visibility="internal", **on_score)
    # An internal reply of the provider under the client's shared thread; a deleted internal comment.
    say(table["account_manager"], PROVIDER_SECRET + " reply", visibility="internal", parent=shared)
    gone = say(table["client_colleague"], DELETED_SECRET, visibility="internal", **on_project)
    comment_delete(actor=table["client_colleague"], comment=gone)
    # The pulse of the last (closed) quarter: three client answers (results show, texts do not).
    day = previous_quarter(timezone.localdate()) + dt.timedelta(days=3)
    for person, text in (
        (table["client_contributor"], PULSE_SECRET),
        (table["client_colleague"], ""),
        (table["client_viewer"], ""),
    ):
        pulse_answer(
            actor=person,
            fields=PulseFields(
                relationship=table["relationship"], ideas=4, openness=2, sponsorship=5, trust=3, comment=text
            ),
            today=day,
        )
    return {"client_internal": client_internal, "shared": shared}


def everything_seen(user, table) -> str:
    """Every response body `user` can get that could carry a comment or a pulse answer."""
    relationship, project = table["relationship"], table["project"]
    browser, api = Client(), Client()
    if user is not None:
        browser.force_login(user)
        api.force_login(user)
    texts = []
    pages = [
        reverse("project-detail", args=[project.pk]),
        reverse("relationship-dashboard", args=[relationship.pk]) + "?month=2025-01",
        reverse("relationship-detail", args=[relationship.pk]),
        reverse("relationship-pulse", args=[relationship.pk]),
        reverse("relationship-pulse", args=[relationship.pk]) + "?quarter=" + _quarter_key(),
        reverse("discussion-export", args=[relationship.pk]),
        reverse("my-contributions"),
    ]
    for url in pages:
        response = browser.get(url)
        texts.append(_body(response))
    api_urls = [
        "/api/v1/comments/",
        "/api/v1/comments/?sync=0",
        "/api/v1/comments/?updated_since=2000-01-01T00:00:00Z",
        f"/api/v1/comments/?relationship={relationship.pk}&page_size=500",
        "/api/v1/pulse-answers/",
        "/api/v1/pulse-answers/?sync=0",
        "/api/v1/pulse-answers/?updated_since=2000-01-01T00:00:00Z",
        "/api/v1/pulse-results/",
        f"/api/v1/pulse-results/?quarter={_quarter_key()}",
    ]
    for comment in Comment.objects.all():
        api_urls += [f"/api/v1/comments/{comment.pk}/", f"/api/v1/comments/{comment.pk}/history/"]
    for answer in PulseResponse.objects.all():
        api_urls += [f"/api/v1/pulse-answers/{answer.pk}/", f"/api/v1/pulse-answers/{answer.pk}/history/"]
    for url in api_urls:
        texts.append(_body(api.get(url)))
    return "\n".join(texts)


def _quarter_key() -> str:
    quarter = previous_quarter(timezone.localdate())
    return f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"


def _body(response) -> str:
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.mark.django_db(transaction=True)  # sync passes read committed changes only
def test_no_internal_comment_or_individual_answer_reaches_anyone_it_is_not_for(transactional_db, table, talk):
    problems = []
    for who, reads in READS.items():
        user = None if who == "anonymous" else table[who]
        seen = everything_seen(user, table)
        leaked = {text for text in ALL_TEXTS - reads if text in seen}
        missing = {text for text in reads if text not in seen}
        if leaked or missing:
            problems.append((who, "leaked", leaked, "missing", missing))
        # The sync passes are not vacuous: what one reads arrives through them too.
        if SHARED in reads:
            client = Client()
            client.force_login(user)
            for url in ("/api/v1/comments/?sync=0", "/api/v1/comments/?updated_since=2000-01-01T00:00:00Z"):
                if SHARED not in client.get(url).content.decode():
                    problems.append((who, "sync misses", url))
    assert not problems


def test_individual_answer_values_never_leave_their_author(table, talk, api_as):
    """The answers themselves (not only the free text) stay with the author: the API lists one's own,
    another's id is absent for everyone, an admin included."""
    theirs = PulseResponse.objects.get(respondent=table["client_contributor"])
    for who in ("client_colleague", "account_manager", "admin", "portfolio_executive"):
        client = api_as(table[who])
        assert client.get(f"/api/v1/pulse-answers/{theirs.pk}/").status_code == 404
        ids = [row["id"] for row in client.get("/api/v1/pulse-answers/?sync=0").json()["results"]]
        assert theirs.pk not in ids
    mine = api_as(table["client_contributor"]).get(f"/api/v1/pulse-answers/{theirs.pk}/").json()
    assert (mine["ideas"], mine["openness"], mine["comment"]) == (4, 2, PULSE_SECRET)

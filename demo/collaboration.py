"""Demo data of the two sides at the table, on the first published case (Northwind Aerospace ↔ Atlas
Business Services): people of both sides, a discussion with mentions and internal notes, contested
figures (one open, one settled), the pulse of the last quarter and of this one, and the contributors
of the delivered project. Written through the services and keyed by `external_id`, so seeding twice
changes nothing.
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import Group, User

from collab import services as collab
from collab.calendar import previous_quarter, quarter_start
from collab.models import Comment, Contest, ProjectContributor, PulseResponse
from kpis.models import Measurement
from projects.access import Role
from projects.models import InnovationProject, Organization, Relationship, UserProfile


@dataclass(frozen=True)
class TablePerson:
    username: str
    role: Role
    first_name: str
    last_name: str
    organization: str  # the external_id of their organisation


# The records of the first published case this demo sits on (their external_ids, as demo.portfolio
# writes them): the two organisations, the relationship, its delivered project and a measurement.
NORTHWIND = "demo-org-northwind-aerospace"
ATLAS = "demo-org-atlas-business-services"
RELATIONSHIP = "demo-rel-aerospace"
PROJECT = "demo-prj-aerospace"
CONTESTED_MEASUREMENT = "demo-pk-aerospace-turnaround_time-m2"

# People at the table of the aerospace relationship (the demo `viewer` and `manager` sit there too).
TABLE_PEOPLE = [
    TablePerson("carla", Role.CONTRIBUTOR, "Carla", "Castillo", NORTHWIND),
    TablePerson("nils", Role.CONTRIBUTOR, "Nils", "Nyberg", NORTHWIND),
    TablePerson("nadia", Role.CONTRIBUTOR, "Nadia", "Novak", NORTHWIND),
    TablePerson("nora", Role.EXECUTIVE, "Nora", "Northcott", NORTHWIND),
    TablePerson("pedro", Role.CONTRIBUTOR, "Pedro", "Prakash", ATLAS),
    TablePerson("paulo", Role.CONTRIBUTOR, "Paulo", "Patel", ATLAS),
]


def table_people(password: str) -> dict[str, User]:
    people = {}
    for demo in TABLE_PEOPLE:
        user, created = User.objects.get_or_create(
            username=demo.username,
            defaults={
                "first_name": demo.first_name,
                "last_name": demo.last_name,
                "email": f"{demo.username}@example.com",
            },
        )
        if created:
            user.set_password(password)
            user.save()
            user.groups.add(Group.objects.get(name=demo.role.value))
        UserProfile.objects.get_or_create(
            user=user, defaults={"organization": Organization.objects.get(external_id=demo.organization)}
        )
        people[demo.username] = user
    return people


def _comment(key, *, actor, body, **fields) -> Comment:
    found = Comment.objects.filter(external_id=key).first()
    return found or collab.comment_post(
        actor=actor, fields=collab.CommentFields(external_id=key, body=body, **fields)
    )


def _pulse(key, *, person, relationship, answers, comment="", today) -> None:
    if PulseResponse.objects.filter(external_id=key).exists():
        return
    ideas, openness, sponsorship, trust = answers
    collab.pulse_answer(
        actor=person,
        fields=collab.PulseFields(
            external_id=key,
            relationship=relationship,
            ideas=ideas,
            openness=openness,
            sponsorship=sponsorship,
            trust=trust,
            comment=comment,
        ),
        today=today,
    )


def seed_collaboration(*, users: dict[str, User], password: str, today: dt.date) -> int:
    """The collaboration demo on the aerospace relationship; returns how many people it seated."""
    relationship = Relationship.objects.get(external_id=RELATIONSHIP)
    project = InnovationProject.objects.get(external_id=PROJECT)
    people = {**table_people(password), "manager": users["manager"], "viewer": users["viewer"]}
    carla, pedro, manager = people["carla"], people["pedro"], people["manager"]

    # A discussion of the delivered project: shared, with a mention and a reply; a note of each side.
    question = _comment(
        "demo-comment-1",
        actor=carla,
        project=project,
        body="The turnaround figures look great. @pedro, do they include the aircraft-on-ground requests "
        "handled over weekends?\n\n- weekday requests\n- weekend requests",
    )
    _comment(
        "demo-comment-2",
        actor=pedro,
        parent=question,
        body="They do: weekends are in the same measure since March. See the [method note]"
        "(https://example.com/turnaround-method).",
    )
    _comment(
        "demo-comment-3",
        actor=manager,
        project=project,
        visibility="internal",
        body="Internal: let us offer Northwind the same set-up for the spare-parts desk next quarter.",
    )
    _comment(
        "demo-comment-4",
        actor=carla,
        project=project,
        visibility="internal",
        body="Internal: @nils, can you check our own turnaround log for May before the review?",
    )

    # Contested figures: a measurement under discussion (answered), a realised benefit settled.
    measurement = Measurement.objects.get(external_id=CONTESTED_MEASUREMENT)
    if not Contest.objects.filter(external_id="demo-contest-1").exists():
        contest = collab.contest_raise(
            actor=carla,
            fields=collab.ContestFields(
                external_id="demo-contest-1",
                kind=Contest.Kind.MEASUREMENT,
                measurement=measurement,
                reason="Our own log shows 19.5 h for this date: two requests were closed the next morning.",
                proposed_value="19.5",
            ),
        )
        collab.contest_answer(
            actor=manager,
            contest=contest,
            answer="We are recounting the requests closed after midnight and will come back this week.",
        )
    if not Contest.objects.filter(external_id="demo-contest-2").exists():
        settled = collab.contest_raise(
            actor=people["nils"],
            fields=collab.ContestFields(
                external_id="demo-contest-2",
                kind=Contest.Kind.REALISED_BENEFIT,
                project=project,
                reason="Finance has booked the saving for the full year; is 1,050,000 final?",
            ),
        )
        collab.contest_resolve(
            actor=manager,
            contest=settled,
            outcome=Contest.Outcome.REJECTED,
            resolution="It is final: the full-year saving Northwind's finance confirmed in June.",
        )

    # The pulse: last quarter from both sides (results show; the client side's comments too), and
    # a few answers of this quarter (the rest are asked on the dashboard).
    last = previous_quarter(today) + dt.timedelta(days=20)
    answers = {
        "carla": ((4, 4, 4, 5), "The weekly stand-up with Atlas is where the ideas come from."),
        "nils": ((4, 3, 4, 4), "Problems get raised, but the fixes take a while."),
        "nadia": ((5, 4, 3, 4), "We would like to see their leadership at the quarterly review."),
        "nora": ((4, 4, 4, 4), "A steady partner; we should aim higher together."),
        "viewer": ((3, 4, 4, 4), "Good reporting; more ideas for the parts desk, please."),
        "manager": ((4, 4, 5, 5), ""),
        "pedro": ((4, 5, 4, 5), ""),
        "paulo": ((5, 4, 4, 4), ""),
    }
    for username, (values, comment) in answers.items():
        _pulse(
            f"demo-pulse-{quarter_start(last):%Y-%m}-{username}",
            person=people[username],
            relationship=relationship,
            answers=values,
            comment=comment,
            today=last,
        )
    for username, values in (("pedro", (4, 4, 4, 5)), ("nils", (4, 4, 3, 4))):
        _pulse(
            f"demo-pulse-{quarter_start(today):%Y-%m}-{username}",
            person=people[username],
            relationship=relationship,
            answers=values,
            today=today,
        )

    # Recognition: the delivered project names its people of both sides.
    for key, person, contribution in (
        ("demo-contributor-1", carla, "Ran the pilot with the parts desk"),
        ("demo-contributor-2", pedro, "Re-engineered the order handling"),
        ("demo-contributor-3", manager, "Led the vendor consolidation"),
    ):
        if not ProjectContributor.objects.filter(external_id=key).exists():
            collab.contributor_add(
                actor=manager,  # the relationship's account manager names them, as on the page
                fields=collab.ContributorFields(
                    external_id=key, project=project, person=person, contribution=contribution
                ),
            )
    return len(people)

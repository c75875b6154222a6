"""The load test's data: the demo portfolio, a generated one beside it, the projects whose counters
reveal lost updates, and one API key per demo user, written to a JSON file for the load driver."""

import json
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.services import issue_token, revoke_token, tokens_of
from demo.portfolio import DEMO_PASSWORD, DEMO_USERS
from projects.access import scope, visible_relationships
from projects.models import InnovationProject, Relationship
from projects.services import ProjectFields, project_create

COUNTER_PREFIX = "load-counter-"


class Command(BaseCommand):
    help = (
        "Prepare a database for the load test (load/run.py): demo data, a generated portfolio, "
        "counter projects and API keys (refuses a database whose name does not contain 'load')."
    )

    def add_arguments(self, parser):
        parser.add_argument("--relationships", type=int, default=200, help="Generated relationships.")
        parser.add_argument("--counters", type=int, default=8, help="Projects the writers increment.")
        parser.add_argument("--output", type=Path, required=True, help="Where to write the JSON.")

    def handle(self, *args, relationships, counters, output, **options):
        if "load" not in connection.settings_dict["NAME"]:
            raise CommandError("Refusing to prepare load data outside a database named *load*.")
        call_command("seed_demo", verbosity=0)
        call_command("seed_large_portfolio", relationships=relationships, verbosity=0)
        users = {demo.username: User.objects.get(username=demo.username) for demo in DEMO_USERS}
        # The counters sit in a relationship the account manager looks after, so both writing roles
        # (admin and account manager) may change them.
        relationship = Relationship.objects.filter(account_managers=users["manager"], deleted_at=None).first()
        if relationship is None:
            raise CommandError("The demo account manager looks after no relationship.")
        counter_ids = []
        for number in range(counters):
            external_id = f"{COUNTER_PREFIX}{number}"
            project = InnovationProject.objects.filter(external_id=external_id, deleted_at=None).first()
            if project is None:
                project = project_create(
                    actor=users["admin"],
                    fields=ProjectFields(
                        external_id=external_id,
                        relationship=relationship,
                        title=f"Load counter {number}",
                        level="operational",
                        investment=Decimal("0"),
                    ),
                )
            counter_ids.append(project.pk)
        for user in users.values():  # the keys of earlier runs
            for token in tokens_of(user).filter(name="load test"):
                revoke_token(user, token.pk)
        accounts = {
            demo.username: {
                "role": str(demo.role),
                "username": demo.username,
                "password": DEMO_PASSWORD,
                "token": issue_token(users[demo.username], name="load test", expires_in_days=1)[1],
                "session_cookie": {settings.SESSION_COOKIE_NAME: _signed_in_session(users[demo.username])},
                # What the role may see, for the detail reads (the same scoping as pages and API).
                "relationships": list(
                    visible_relationships(users[demo.username]).order_by("pk").values_list("pk", flat=True)
                ),
                "projects": list(
                    scope(users[demo.username], InnovationProject.objects.filter(deleted_at=None))
                    .order_by("pk")
                    .values_list("pk", flat=True)
                ),
            }
            for demo in DEMO_USERS
        }
        output.write_text(json.dumps({"accounts": accounts, "counters": counter_ids}, indent=2))
        live_relationships = Relationship.objects.filter(deleted_at=None).count()
        live_projects = InnovationProject.objects.filter(deleted_at=None).count()
        self.stdout.write(
            f"Load data ready: {live_relationships} relationships, {live_projects} projects, "
            f"{counters} counters → {output}"
        )


def _signed_in_session(user) -> str:
    """A browser session of `user`, as a sign-in makes it: the load test measures the pages, not
    the password hashing of thousands of sign-ins (those are throttled by design)."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.set_expiry(24 * 3600)
    session.save()
    return session.session_key

"""Incremental sync: cursors that miss nothing, tombstones, paging through a changing set, scope
changes, and interleaved concurrent writers on real PostgreSQL transactions."""

import datetime as dt
import random
import threading
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, transaction

from kpis import services as kpi_services
from kpis.models import Measurement, RelationshipScore
from projects import services
from projects.models import InnovationProject
from tests.factories import ProjectFactory, RelationshipFactory

ON_POSTGRESQL = settings.DATABASE_VENDOR == "postgresql"
needs_postgresql = pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="LOUD SKIP: needs PostgreSQL - SQLite serialises writers, so transactions cannot commit out of "
    "order there; CI runs this on PostgreSQL (make test with DATABASE_URL set)",
)
# Sync cursors compare stamps against other transactions: tests must commit like real clients do.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("transactional_db")]


class Replica:
    """A sync client's copy of one resource, kept with the cursor only."""

    def __init__(self, client, resource, page_size=3):
        self.client, self.resource, self.page_size = client, resource, page_size
        self.rows: dict[int, dict] = {}
        self.cursor = "0"
        self.requests = 0
        self.received: list[int] = []

    def pull(self) -> list[dict]:
        """Follow the cursor until the pass is complete; return the rows received."""
        received = []
        while True:
            response = self.client.get(
                f"/api/v1/{self.resource}/?sync={self.cursor}&page_size={self.page_size}"
            )
            assert response.status_code == 200, response.json()
            body = response.json()
            self.requests += 1
            if body["reset"]:
                self.rows.clear()
            for row in body["results"]:
                self.rows[row["id"]] = row
            received += body["results"]
            self.cursor = body["next_sync"]
            if not body["has_more"]:
                break
        self.received += [row["id"] for row in received]
        return received

    def state(self) -> dict[int, tuple]:
        return {pk: (row["version"], row["deleted_at"] is not None) for pk, row in self.rows.items()}


def server_state(model) -> dict[int, tuple]:
    return {
        pk: (version, deleted is not None)
        for pk, version, deleted in model.objects.values_list("pk", "version", "deleted_at")
    }


def test_full_then_incremental_sync_delivers_each_change_once_with_tombstones(admin_user, world, api_as):
    client = api_as(admin_user)
    projects = Replica(client, "projects", page_size=1)
    measurements = Replica(client, "measurements", page_size=3)
    projects.pull()
    measurements.pull()
    assert projects.state() == server_state(InnovationProject)
    assert measurements.state() == server_state(Measurement)

    # Nothing changed: the next pass is empty.
    assert projects.pull() == [] and measurements.pull() == []

    client.patch(f"/api/v1/projects/{world['project_a'].pk}/", {"title": "Renamed"})
    created = client.post("/api/v1/projects/", {"relationship": world["rel_b"].pk, "title": "New"}).json()
    client.delete(f"/api/v1/measurements/{world['measurement_b'].pk}/")

    changed = projects.pull()
    # Project B comes too: the deleted measurement moved its impact_pct (a computed figure).
    assert sorted(row["id"] for row in changed) == sorted(
        [world["project_a"].pk, created["id"], world["project_b"].pk]
    )
    tombstones = measurements.pull()
    assert [row["id"] for row in tombstones] == [world["measurement_b"].pk]
    assert tombstones[0]["deleted_at"] is not None
    assert projects.state() == server_state(InnovationProject)
    assert measurements.state() == server_state(Measurement)
    # Deleting a project deletes its KPIs and measurements: each arrives as a tombstone.
    client.delete(f"/api/v1/projects/{world['project_a'].pk}/")
    measurements.pull()
    assert measurements.state() == server_state(Measurement)
    assert measurements.rows[world["measurement_a"].pk]["deleted_at"] is not None


def test_a_pass_spans_pages_without_gaps_while_rows_change(admin_user, world, api_as):
    client = api_as(admin_user)
    for index in range(10):
        ProjectFactory(relationship=world["rel_a"], title=f"Bulk {index}")
    replica = Replica(client, "projects", page_size=2)
    first = client.get("/api/v1/projects/?sync=0&page_size=2").json()
    assert first["has_more"] and first["count"] is None
    for row in first["results"]:
        replica.rows[row["id"]] = row
    replica.cursor = first["next_sync"]
    # While the client pages: change a row it already has, a row it has not reached, delete one,
    # and add one.
    delivered = first["results"][0]["id"]
    pending = (
        InnovationProject.objects.exclude(pk__in=[r["id"] for r in first["results"]]).order_by("-pk").first()
    )
    client.patch(f"/api/v1/projects/{delivered}/", {"title": "Changed after delivery"})
    client.patch(f"/api/v1/projects/{pending.pk}/", {"title": "Changed before delivery"})
    client.delete(f"/api/v1/projects/{world['project_b'].pk}/")
    client.post("/api/v1/projects/", {"relationship": world["rel_a"].pk, "title": "Added mid-pass"})
    replica.pull()  # finishes the pass
    replica.pull()  # the next pass brings what changed during the first one
    assert replica.state() == server_state(InnovationProject)
    assert replica.rows[delivered]["title"] == "Changed after delivery"
    assert replica.rows[pending.pk]["title"] == "Changed before delivery"


def test_a_scope_change_restarts_the_pass_with_reset(admin_user, account_manager, world, api_as):
    replica = Replica(api_as(account_manager), "projects")
    replica.pull()
    assert set(replica.rows) == {world["project_a"].pk}
    services.relationship_update(
        actor=admin_user,
        relationship=world["rel_b"],
        changes=services.RelationshipFields(account_managers=[account_manager]),
    )
    response = api_as(account_manager).get(f"/api/v1/projects/?sync={replica.cursor}").json()
    assert response["reset"] is True
    replica.cursor = "0"
    replica.pull()
    # project B never changed, yet the manager's copy now has it
    assert set(replica.rows) == {world["project_a"].pk, world["project_b"].pk}


def test_every_list_hands_back_a_cursor_for_later_changes(admin_user, world, api_as):
    client = api_as(admin_user)
    listing = client.get("/api/v1/projects/?page_size=1").json()
    assert listing["count"] == 2 and listing["has_more"] is True
    project = world["project_b"]
    services.project_update(
        actor=None, project=project, changes=services.ProjectFields(title="Changed after the list")
    )
    changes = client.get(f"/api/v1/projects/?sync={listing['next_sync']}").json()
    assert [row["id"] for row in changes["results"]] == [project.pk]


def test_updated_since_returns_changes_and_tombstones(admin_user, world, api_as):
    client = api_as(admin_user)
    time.sleep(0.01)
    since = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    services.project_update(
        actor=None, project=world["project_a"], changes=services.ProjectFields(title="Later")
    )
    kpi_services.measurement_delete(actor=None, measurement=world["measurement_b"])
    stamp = since.isoformat().replace("+00:00", "Z")
    projects = client.get("/api/v1/projects/", {"updated_since": stamp}).json()
    # Project B too: the deleted measurement moved its impact_pct (a computed figure).
    assert sorted(row["id"] for row in projects["results"]) == sorted(
        [world["project_a"].pk, world["project_b"].pk]
    )
    measurements = client.get("/api/v1/measurements/", {"updated_since": stamp}).json()
    assert [row["id"] for row in measurements["results"]] == [world["measurement_b"].pk]
    assert measurements["results"][0]["deleted_at"] is not None
    offset = client.get("/api/v1/projects/", {"updated_since": "2000-01-01T02:00:00+02:00"}).json()
    assert offset["count"] == 2
    for bad in ("yesterday", "2024-13-45", "99999-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00"):
        response = client.get("/api/v1/projects/", {"updated_since": bad})
        assert response.status_code == 400 and "updated_since" in response.json()["errors"], bad


def test_an_invalid_cursor_is_a_400(admin_user, world, api_as):
    client = api_as(admin_user)
    for bad in ("garbage", "W10", "WzEsLTEsbnVsbCxudWxsLCIiXQ", "x" * 600):
        response = client.get("/api/v1/projects/", {"sync": bad})
        assert response.status_code == 400 and "sync" in response.json()["errors"], bad


def test_scores_sync_by_computation_time_without_missing_a_row(admin_user, world, api_as):
    client = api_as(admin_user)
    RelationshipScore.objects.create(
        relationship=world["rel_a"], period=dt.date(2025, 1, 1), score=Decimal("10"), tier="at_risk"
    )
    replica = Replica(client, "scores")
    replica.pull()
    # The world's own changes already rolled up current-month rows; the copy holds them all.
    assert set(replica.rows) == set(RelationshipScore.objects.values_list("pk", flat=True))
    before = len(replica.rows)
    # A writer stamps computed_at before it commits: a row computed "earlier" still arrives.
    RelationshipScore.objects.create(
        relationship=world["rel_b"],
        period=dt.date(2025, 1, 1),
        score=Decimal("80"),
        tier="high_performing",
        computed_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30),
    )
    replica.pull()
    assert len(replica.rows) == before + 1
    assert set(replica.rows) == set(RelationshipScore.objects.values_list("pk", flat=True))


# --- Real concurrency (PostgreSQL) ------------------------------------------------------------


def _in_thread(target, *args):
    errors = []

    def run():
        try:
            target(*args)
        except BaseException as error:  # surfaced by the test
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


@needs_postgresql
def test_a_transaction_that_commits_after_a_later_one_is_not_missed(admin_user, world, api_as):
    client = api_as(admin_user)
    replica = Replica(client, "projects")
    replica.pull()
    early_wrote, release = threading.Event(), threading.Event()
    early = {}

    def early_writer():
        with transaction.atomic():
            project = services.project_create(
                actor=None, fields=services.ProjectFields(relationship=world["rel_a"], title="Early")
            )
            early["id"], early["stamp"] = project.pk, project.change_stamp
            early_wrote.set()
            assert release.wait(20)

    thread, errors = _in_thread(early_writer)
    assert early_wrote.wait(20)
    # Another relationship: the two writers share no row (the score-recompute mark is per relationship).
    late = services.project_create(
        actor=None, fields=services.ProjectFields(relationship=world["rel_b"], title="Late")
    )
    assert late.change_stamp > early["stamp"]  # started later, commits first
    seen_before = replica.pull()
    # A "highest stamp seen" cursor would now stand at the late row and skip the early one for
    # ever; this cursor holds the late row back while the early transaction may still commit.
    assert late.pk not in [row["id"] for row in seen_before]
    release.set()
    thread.join(20)
    assert not errors
    _pull_until(replica, InnovationProject)
    assert {early["id"], late.pk} <= set(replica.rows)


def _pull_until(replica, model, timeout=60.0):
    """Pull until the copy equals the server: a change arrives once every older writer has finished
    (other transactions on the same PostgreSQL cluster count too), so allow some time."""
    deadline = time.monotonic() + timeout
    while True:
        replica.pull()
        if replica.state() == server_state(model):
            return
        assert time.monotonic() < deadline, "the copy did not converge"
        time.sleep(0.05)


@needs_postgresql
def test_concurrent_writers_and_a_syncing_reader_end_with_equal_copies(admin_user, world, api_as):
    # Writers spread over several relationships, so their transactions do not queue on one row.
    relationships = [world["rel_a"], world["rel_b"]] + [
        RelationshipFactory(client=world["client_a"], provider=world["provider"]) for _ in range(4)
    ]
    project_ids = [world["project_a"].pk, world["project_b"].pk]
    for index in range(6):
        project_ids.append(ProjectFactory(relationship=relationships[index], title=f"Seed {index}").pk)
    commits: list[tuple[int, int]] = []  # (change stamp, commit order)
    lock = threading.Lock()
    done = threading.Event()

    def writer(seed):
        rng = random.Random(seed)
        for step in range(12):
            with transaction.atomic():
                action = rng.random()
                if action < 0.3:
                    project = services.project_create(
                        actor=None,
                        fields=services.ProjectFields(
                            relationship=rng.choice(relationships), title=f"W{seed}-{step}"
                        ),
                    )
                    # Offered to the other writers only once committed: before that they cannot see it.
                    transaction.on_commit(lambda pk=project.pk: _publish(pk))
                else:
                    pk = rng.choice(project_ids)
                    # Locked before the check: another writer may delete it and commit meanwhile.
                    project = InnovationProject.objects.select_for_update().get(pk=pk)
                    if project.deleted_at is not None:
                        continue
                    if action < 0.4:
                        project = services.project_delete(actor=None, project=project)
                    else:
                        project = services.project_update(
                            actor=None,
                            project=project,
                            changes=services.ProjectFields(description=f"{seed}-{step}"),
                        )
                stamp = project.change_stamp
                time.sleep(rng.uniform(0, 0.02))  # hold the transaction open: commits interleave
                transaction.on_commit(lambda stamp=stamp: _record(commits, lock, stamp))

    def _publish(pk):
        with lock:
            project_ids.append(pk)

    def _record(log, guard, stamp):
        with guard:
            log.append((stamp, len(log)))

    threads = [_in_thread(writer, seed) for seed in range(4)]
    replica = Replica(api_as(admin_user), "projects", page_size=4)
    passes = 0
    while any(thread.is_alive() for thread, _ in threads):
        replica.pull()
        passes += 1
        time.sleep(0.005)
    for thread, errors in threads:
        thread.join(30)
        assert not errors, errors
    done.set()
    _pull_until(replica, InnovationProject)
    assert replica.state() == server_state(InnovationProject)
    # The run really interleaved: some transaction committed after one that started later.
    inversions = sum(
        1
        for (stamp_a, order_a) in commits
        for (stamp_b, order_b) in commits
        if stamp_a < stamp_b and order_a > order_b
    )
    assert inversions > 0
    assert passes > 3

import contextlib
import datetime as dt
import statistics
import time
from unittest import mock

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from psycopg2.extras import execute_values

from kpis import services as kpi_services
from kpis.models import KPI, Measurement, ProjectKPI
from projects import services
from projects.access import Role
from projects.models import InnovationProject, Organization, Relationship
from projects.records import current_change_stamp

BASELINE = dt.date(2020, 1, 1)

# The floor: the same rows in one statement, keyed like the API (external_id among live rows).
FLOOR_SQL = """
INSERT INTO kpis_measurement
    (external_id, project_kpi_id, measured_on, value, unit, version, created_at, updated_at,
     deleted_at, change_stamp)
VALUES %s
ON CONFLICT (external_id) WHERE deleted_at IS NULL DO UPDATE SET
    measured_on = EXCLUDED.measured_on, value = EXCLUDED.value, updated_at = EXCLUDED.updated_at,
    change_stamp = EXCLUDED.change_stamp
"""


# The same writes the API must make per record, by hand: the row, its audit entry, its event.
AUDIT_SQL = """
INSERT INTO projects_auditentry
    (at, actor_id, content_type_id, object_id, object_repr, action, changes, version)
SELECT %s, %s, %s, m.id, m.external_id, 'create', jsonb_build_object('value', jsonb_build_object(
    'before', NULL, 'after', m.value::text)), 1
FROM kpis_measurement m WHERE m.project_kpi_id = %s AND m.change_stamp = %s
"""
EVENTS_SQL = """
INSERT INTO outbox_event (type, occurred_at, record_type, record_id, external_id, version, relationship_id,
    actor_id, sync_stamp, data)
SELECT 'measurement.created', %s, 'measurement', m.id, m.external_id, 1, %s, %s, m.change_stamp, '{}'
FROM kpis_measurement m WHERE m.project_kpi_id = %s AND m.change_stamp = %s
"""


@contextlib.contextmanager
def follow_up_jobs_queued_elsewhere():
    """The after-commit work a write asks for (score recompute, event relay) runs in a worker in
    production; without a broker it would run here, inside the timed request. Its stale marks and
    events are still written by the request; only the job itself is left out of the timing."""
    with (
        mock.patch("kpis.tasks.enqueue_score_recompute", lambda relationship_ids: None),
        mock.patch("outbox.tasks.enqueue_relay", lambda: None),
    ):
        yield


class Command(BaseCommand):
    help = (
        "Bulk upsert of measurements through the API (a create pass and a replay pass) against the "
        "floor: the same rows in one INSERT … ON CONFLICT DO UPDATE with psycopg2's execute_values. "
        "Runs interleaved; medians. Writes rows, so it refuses a database whose name does not "
        "contain 'bench'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=1000, help="Measurements per upsert.")
        parser.add_argument("--repeat", type=int, default=5, help="Timed runs of each kind.")

    def handle(self, *args, records, repeat, **options):
        if connection.vendor != "postgresql" or "bench" not in connection.settings_dict["NAME"]:
            raise CommandError("Use a PostgreSQL database whose name contains 'bench' (this writes rows).")
        if records > 1000:
            raise CommandError("The API takes at most 1,000 records per request.")
        admin = self._admin()
        project_kpi = self._project_kpi(admin)
        batch = [
            {
                "external_id": f"bench-m-{index}",
                "project_kpi": project_kpi.external_id,
                "measured_on": (BASELINE + dt.timedelta(days=index)).isoformat(),
                "value": f"{100 + index % 50}.25",
            }
            for index in range(records)
        ]

        from rest_framework.test import APIClient

        client = APIClient()
        client.force_authenticate(admin)

        def clear():
            Measurement.objects.filter(project_kpi=project_kpi).delete()

        def api():
            started = time.perf_counter()
            with follow_up_jobs_queued_elsewhere():
                response = client.post("/api/v1/measurements/bulk/", {"records": batch}, format="json")
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise CommandError(f"bulk upsert failed: {response.status_code} {response.content[:300]!r}")
            return elapsed, response.json()

        from django.contrib.contenttypes.models import ContentType

        content_type = ContentType.objects.get_for_model(Measurement)
        relationship_id = project_kpi.project.relationship_id

        def floor(*, with_audit_and_events=False):
            started = time.perf_counter()
            with transaction.atomic():
                now, stamp = timezone.now(), current_change_stamp()
                rows = [
                    (
                        record["external_id"],
                        project_kpi.pk,
                        record["measured_on"],
                        record["value"],
                        project_kpi.unit,
                        1,
                        now,
                        now,
                        None,
                        stamp,
                    )
                    for record in batch
                ]
                with connection.cursor() as cursor:
                    execute_values(cursor.cursor, FLOOR_SQL, rows, page_size=len(rows))
                    if with_audit_and_events:
                        cursor.execute(AUDIT_SQL, [now, admin.pk, content_type.pk, project_kpi.pk, stamp])
                        cursor.execute(EVENTS_SQL, [now, relationship_id, admin.pk, project_kpi.pk, stamp])
            return time.perf_counter() - started

        clear()
        api()  # warm-up: caches, first connection, code paths
        clear()
        floor_create, floor_replay, api_create, api_replay, same_writes = [], [], [], [], []
        for _ in range(repeat):
            clear()
            floor_create.append(floor())
            floor_replay.append(floor())
            clear()
            same_writes.append(floor(with_audit_and_events=True))
            clear()
            elapsed, body = api()
            if body["created"] != records:
                raise CommandError(f"create pass: expected {records} created, got {body}")
            api_create.append(elapsed)
            elapsed, body = api()
            if body["unchanged"] != records:
                raise CommandError(f"replay pass: expected {records} unchanged, got {body}")
            api_replay.append(elapsed)
        clear()
        same_median = statistics.median(same_writes)
        self.stdout.write(
            f"bulk upsert of {records:,} measurements, medians of {repeat} (best in brackets), "
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
        )
        for name, api_times, floor_times in (
            ("create", api_create, floor_create),
            ("replay", api_replay, floor_replay),
        ):
            api_median, floor_median = statistics.median(api_times), statistics.median(floor_times)
            self.stdout.write(
                f"  {name}: API {api_median * 1000:.0f} ms ({min(api_times) * 1000:.0f}) = "
                f"{records / api_median:,.0f} rows/s; floor {floor_median * 1000:.0f} ms "
                f"({min(floor_times) * 1000:.0f}) = {records / floor_median:,.0f} rows/s; "
                f"ratio {floor_median / api_median:.2f}× the floor"
            )
        create_median = statistics.median(api_create)
        self.stdout.write(
            f"  the create pass's writes by hand (rows + audit entries + events, INSERT … SELECT): "
            f"{same_median * 1000:.0f} ms ({min(same_writes) * 1000:.0f}) = "
            f"{records / same_median:,.0f} rows/s; the API create pass is "
            f"{same_median / create_median:.2f}× that"
        )

    def _admin(self):
        admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True})
        admin.groups.add(Group.objects.get_or_create(name=Role.ADMIN.value)[0])
        return admin

    def _project_kpi(self, admin) -> ProjectKPI:
        existing = ProjectKPI.objects.filter(external_id="bench-bulk-pk", deleted_at__isnull=True).first()
        if existing:
            return existing
        with transaction.atomic():
            client = Organization.objects.filter(
                name="Bulk bench client"
            ).first() or services.organization_create(
                actor=admin, fields=services.OrganizationFields(name="Bulk bench client", kind="client")
            )
            provider = Organization.objects.filter(
                name="Bulk bench provider"
            ).first() or services.organization_create(
                actor=admin, fields=services.OrganizationFields(name="Bulk bench provider", kind="provider")
            )
            relationship = Relationship.objects.filter(
                name="Bulk bench", deleted_at__isnull=True
            ).first() or services.relationship_create(
                actor=admin,
                fields=services.RelationshipFields(
                    name="Bulk bench", client=client, provider=provider, contract_start=BASELINE
                ),
            )
            project = InnovationProject.objects.filter(
                relationship=relationship, title="Bulk bench project"
            ).first() or services.project_create(
                actor=admin,
                fields=services.ProjectFields(relationship=relationship, title="Bulk bench project"),
            )
            kpi = KPI.objects.filter(code="bulk_bench_count", deleted_at__isnull=True).first() or (
                kpi_services.kpi_create(
                    actor=admin,
                    fields=kpi_services.KPIFields(
                        code="bulk_bench_count",
                        name="Bulk bench count",
                        unit="count",
                        direction="higher_is_better",
                    ),
                )
            )
            return kpi_services.project_kpi_add(
                actor=admin,
                fields=kpi_services.ProjectKPIFields(
                    external_id="bench-bulk-pk",
                    project=project,
                    kpi=kpi,
                    baseline_value=100,
                    baseline_date=BASELINE,
                ),
            )

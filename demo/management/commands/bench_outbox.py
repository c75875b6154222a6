import contextlib
import datetime as dt
import statistics
import time
from unittest import mock

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from outbox import stream
from outbox.models import Event
from projects import services
from projects.access import Role
from projects.models import Organization, Relationship


@contextlib.contextmanager
def outbox_off():
    """The same writes with the outbox's appends (and their after-commit relay) taken out."""
    with (
        mock.patch("projects.records.record_event", lambda **kwargs: None),
        mock.patch("projects.records.cascade_events", lambda **kwargs: 0),
    ):
        yield


class Command(BaseCommand):
    help = (
        "What the outbox adds to a write: a single project update and a 1,000-record bulk upsert "
        "through the API, each with and without the event appends (runs interleaved; medians). "
        "Writes rows, so it refuses a database whose name does not contain 'bench'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--writes", type=int, default=300, help="Single writes timed per side.")
        parser.add_argument("--bulk", type=int, default=1000, help="Records per bulk upsert.")
        parser.add_argument("--repeat", type=int, default=5, help="Bulk upserts timed per side.")
        parser.add_argument(
            "--deliver",
            type=int,
            default=1000,
            help="Changes delivered end to end to a local receiver (0: skip).",
        )
        parser.add_argument("--skip-overhead", action="store_true", help="Only the end-to-end delivery run.")

    def handle(self, *args, writes, bulk, repeat, deliver, skip_overhead, **options):
        if "bench" not in connection.settings_dict["NAME"]:
            raise CommandError("Use a database whose name contains 'bench' (this command writes rows).")
        admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True})
        admin.groups.add(Group.objects.get_or_create(name=Role.ADMIN.value)[0])
        relationship = self._relationship(admin)
        if not skip_overhead:
            self._overhead(admin, relationship, writes=writes, bulk=bulk, repeat=repeat)
        if deliver:
            self._end_to_end(admin, relationship, changes=deliver)

    def _end_to_end(self, admin, relationship, *, changes):
        """`changes` project updates → their events numbered, fanned out and POSTed, signed, one by one
        in order, to a receiver on loopback; timed from the first write to the last 2xx. The relay and
        the deliveries run in this process (what a worker runs), so the figure is the pipeline's."""
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from outbox.tasks import relay_events
        from webhooks import services as webhook_services
        from webhooks.delivery import deliver_endpoint
        from webhooks.models import Delivery, Endpoint

        received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                received.append(self.headers["webhook-id"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        Endpoint.objects.filter(owner=admin).delete()
        relay_events()  # earlier events are not part of this run
        endpoint = webhook_services.endpoint_create(
            actor=admin,
            fields=webhook_services.EndpointFields(
                url=f"http://127.0.0.1:{server.server_address[1]}/", event_types=["project.updated"]
            ),
        )
        projects = list(relationship.projects.filter(deleted_at__isnull=True).order_by("pk")[:changes])
        while len(projects) < changes:
            projects.append(
                services.project_create(
                    actor=admin,
                    fields=services.ProjectFields(relationship=relationship, title="bench delivery"),
                )
            )
        started = time.perf_counter()
        for n, project in enumerate(projects):
            services.project_update(
                actor=admin,
                project=project,
                changes=services.ProjectFields(description=f"e2e {time.time()} {n}"),
            )
        written = time.perf_counter()
        relay_events()
        relayed = time.perf_counter()
        deliver_endpoint(endpoint.pk)
        finished = time.perf_counter()
        server.shutdown()
        delivered = Delivery.objects.filter(endpoint=endpoint, status="delivered").count()
        if delivered != changes or len(set(received)) != changes:
            raise CommandError(
                f"expected {changes} deliveries, got {delivered} ({len(set(received))} received)"
            )
        total, sending = finished - started, finished - relayed
        self.stdout.write(
            f"end to end: {changes:,} changes → {delivered:,} signed webhooks delivered in {total:.1f} s "
            f"= {changes / total:.0f} events/s (writes {written - started:.1f} s, relay and fan-out "
            f"{relayed - written:.2f} s, deliveries {sending:.1f} s = {changes / sending:.0f}/s)"
        )

    def _overhead(self, admin, relationship, *, writes, bulk, repeat):
        project = services.project_create(
            actor=admin, fields=services.ProjectFields(relationship=relationship, title="bench single")
        )

        def single(n):
            nonlocal project
            started = time.perf_counter()
            project = services.project_update(
                actor=admin, project=project, changes=services.ProjectFields(title=f"bench single {n}")
            )
            return time.perf_counter() - started

        on, off = [], []
        for n in range(writes):
            if n % 2:
                with outbox_off():
                    off.append(single(n))
            else:
                on.append(single(n))
        on_ms, off_ms = statistics.median(on) * 1000, statistics.median(off) * 1000
        self.stdout.write(
            f"single project update: {off_ms:.2f} ms without events, {on_ms:.2f} ms with "
            f"(+{on_ms - off_ms:.2f} ms, {100 * (on_ms - off_ms) / off_ms:+.1f} %), medians of {writes // 2}"
        )

        from rest_framework.test import APIClient

        client = APIClient()
        client.force_authenticate(admin)

        def upsert(run):
            records = [
                {
                    "external_id": f"bench-{i}",
                    "relationship": relationship.pk,
                    "title": f"bench {i} run {run}",
                }
                for i in range(bulk)
            ]
            started = time.perf_counter()
            response = client.post("/api/v1/projects/bulk/", {"records": records}, format="json")
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise CommandError(f"bulk upsert failed: {response.status_code} {response.content[:300]!r}")
            return elapsed

        upsert("warm-up")
        bulk_on, bulk_off = [], []
        for run in range(repeat * 2):
            if run % 2:
                with outbox_off():
                    bulk_off.append(upsert(run))
            else:
                bulk_on.append(upsert(run))
        b_on, b_off = statistics.median(bulk_on), statistics.median(bulk_off)
        added = b_on - b_off
        self.stdout.write(
            f"bulk upsert of {bulk:,} projects (updates): {b_off * 1000:.0f} ms without events, "
            f"{b_on * 1000:.0f} ms with (+{added * 1000:.0f} ms, {100 * added / b_off:+.1f} %), "
            f"medians of {repeat}"
        )
        started = time.perf_counter()
        numbered = stream.assign_sequences()
        self.stdout.write(
            f"relay: numbered {numbered:,} events in {(time.perf_counter() - started) * 1000:.0f} ms "
            f"({Event.objects.count():,} in the outbox)"
        )

    def _relationship(self, admin):
        existing = Relationship.objects.filter(name="Outbox bench", deleted_at__isnull=True).first()
        if existing:
            return existing
        with transaction.atomic():
            client = Organization.objects.filter(name="Bench client").first() or services.organization_create(
                actor=admin, fields=services.OrganizationFields(name="Bench client", kind="client")
            )
            provider = Organization.objects.filter(
                name="Bench provider"
            ).first() or services.organization_create(
                actor=admin, fields=services.OrganizationFields(name="Bench provider", kind="provider")
            )
            return services.relationship_create(
                actor=admin,
                fields=services.RelationshipFields(
                    name="Outbox bench", client=client, provider=provider, contract_start=dt.date(2024, 1, 1)
                ),
            )

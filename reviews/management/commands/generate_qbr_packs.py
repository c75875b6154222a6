import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reviews.quarters import Quarter
from reviews.services import pack_store, relationships_for_packs


class Command(BaseCommand):
    help = (
        "Store the QBR pack of a quarter for every active relationship, as the quarterly Celery job does "
        "(reviews.tasks.generate_quarter_packs). Packs already stored are kept unless --replace."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quarter", help="YYYYQn, e.g. 2026Q3 (default: the last complete quarter).")
        parser.add_argument("--relationship", type=int, action="append", dest="relationships", metavar="ID")
        parser.add_argument(
            "--replace", action="store_true", help="Render and store again packs already kept."
        )

    def handle(self, *args, quarter, relationships, replace, **options):
        try:
            reviewed = Quarter.parse(quarter) if quarter else Quarter.last_complete(timezone.localdate())
        except ValueError as invalid:
            raise CommandError(str(invalid)) from invalid
        chosen = relationships_for_packs()
        if relationships:
            chosen = chosen.filter(pk__in=relationships)
        started, stored, kept = time.monotonic(), 0, 0
        for relationship in chosen.iterator(chunk_size=100):
            try:
                pack = pack_store(relationship=relationship, quarter=reviewed, replace=replace)
            except ValueError as invalid:
                raise CommandError(str(invalid)) from invalid
            if pack is None:
                kept += 1
            else:
                stored += 1
                self.stdout.write(
                    f"{relationship.name}: {pack.pages} pages, {pack.size:,} bytes, {pack.sha256[:16]}…"
                )
        self.stdout.write(
            self.style.SUCCESS(
                f"{reviewed.code}: {stored} packs stored, {kept} already kept, "
                f"in {time.monotonic() - started:.1f} s."
            )
        )

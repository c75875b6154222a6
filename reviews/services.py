"""Packs for people (rendered on request) and for the record (stored by the quarterly job).

A stored pack is served as it was stored: the same bytes, the same checksum, whatever changed since.
A quarter without a stored pack is rendered from the current data on each request.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from projects import selectors as project_selectors
from projects.models import Relationship
from reviews.models import ReviewPack
from reviews.pack import pack_data
from reviews.quarters import Quarter
from reviews.render import pack_pdf


@dataclass(frozen=True)
class PackFile:
    relationship: Relationship
    quarter: Quarter
    pdf: bytes
    sha256: str
    generated_at: dt.datetime
    stored: bool  # the pack kept since the quarter closed, not a fresh rendering

    @property
    def filename(self) -> str:
        slug = "".join(c if c.isalnum() else "-" for c in self.relationship.name.lower()).strip("-")
        return f"qbr-{slug}-{self.quarter.code}.pdf"


def check_quarter(quarter: Quarter, *, today: dt.date | None = None) -> None:
    """A pack reviews a quarter that has ended."""
    today = today or timezone.localdate()
    if not quarter.has_ended(today):
        last = Quarter.last_complete(today)
        raise ValueError(f"{quarter.code} has not ended yet; the last complete quarter is {last.code}.")


def pack_for(*, user, relationship_id, quarter: Quarter) -> PackFile:
    """The pack of a relationship the user may see (Relationship.DoesNotExist otherwise): the stored
    one where the quarterly job kept it, else rendered now."""
    check_quarter(quarter)
    relationship = project_selectors.relationship_get(user=user, pk=relationship_id)
    stored = ReviewPack.objects.filter(relationship=relationship, quarter=quarter.code).first()
    if stored is not None:
        return PackFile(
            relationship, quarter, bytes(stored.pdf), stored.sha256, stored.generated_at, stored=True
        )
    now = timezone.now()
    rendered = pack_pdf(pack_data(relationship, quarter, now=now))
    return PackFile(
        relationship, quarter, rendered.pdf, hashlib.sha256(rendered.pdf).hexdigest(), now, stored=False
    )


def pack_store(*, relationship: Relationship, quarter: Quarter, replace: bool = False) -> ReviewPack | None:
    """Render and keep the relationship's pack of `quarter`; a pack already kept stays as it is
    (None is returned) unless `replace`. Safe to run twice or to kill half-way."""
    check_quarter(quarter)
    if not replace and ReviewPack.objects.filter(relationship=relationship, quarter=quarter.code).exists():
        return None
    now = timezone.now()
    rendered = pack_pdf(pack_data(relationship, quarter, now=now))
    values = {
        "pdf": rendered.pdf,
        "sha256": hashlib.sha256(rendered.pdf).hexdigest(),
        "size": len(rendered.pdf),
        "pages": rendered.pages,
        "generated_at": now,
    }
    try:
        with transaction.atomic():
            if replace:
                pack, _ = ReviewPack.objects.update_or_create(
                    relationship=relationship, quarter=quarter.code, defaults=values
                )
                return pack
            return ReviewPack.objects.create(relationship=relationship, quarter=quarter.code, **values)
    except IntegrityError:  # another worker stored it meanwhile: theirs stands
        return None


def relationships_for_packs():
    """Every live, active relationship, with what a pack reads of it."""
    return (
        Relationship.objects.filter(deleted_at__isnull=True, status=Relationship.Status.ACTIVE)
        .select_related("client", "provider")
        .prefetch_related("process_areas", "account_managers", "leadership_pairs")
        .order_by("pk")
    )

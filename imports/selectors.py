"""Which imports a user may see: their own; an admin sees everyone's."""

from django.db.models import QuerySet

from imports.models import ImportJob
from projects import access

# The heavy columns, read only where a page or answer needs them.
HEAVY = ("content", "rejected_csv", "row_results", "errors")


def import_list(*, user) -> QuerySet[ImportJob]:
    jobs = ImportJob.objects.select_related("created_by").defer(*HEAVY)
    if access.role_of(user) == access.Role.ADMIN:
        return jobs
    if not access.can_edit_projects(user):
        return jobs.none()
    return jobs.filter(created_by=user)


def import_get(*, user, pk: int, heavy: tuple[str, ...] = ()) -> ImportJob | None:
    """One import the user may see (with the heavy columns asked for), or None."""
    jobs = import_list(user=user)
    if heavy:
        jobs = jobs.defer(None).defer(*(name for name in HEAVY if name not in heavy))
    return jobs.filter(pk=pk).first()

"""Reads of organisations, relationships and projects, always scoped to what the user may see."""

from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate

from projects.access import scope
from projects.models import AuditEntry, InnovationProject, Organization, Relationship


def _position_in(field: str, values) -> Case:
    return Case(
        *(When(**{field: value}, then=Value(index)) for index, value in enumerate(values)),
        output_field=IntegerField(),
    )


def stage_order() -> Case:
    """A project's stage as its position in `InnovationProject.STAGE_ORDER`, for ordering by stage
    in pipeline order (idea first, cancelled last) rather than alphabetically."""
    return _position_in("stage", InnovationProject.STAGE_ORDER)


def level_order() -> Case:
    """A project's level as its position in `InnovationProject.Level` (operational first)."""
    return _position_in("level", InnovationProject.Level.values)


def stage_entered_on() -> Coalesce:
    """The day a project entered its current stage, as an SQL expression: the stage's own date where
    it has one (proposed, started, delivered: what the stage dialog asked), else the day of its
    latest stage change, else the day it was created."""
    own_date = Case(
        *(When(stage=stage, then=F(field)) for stage, field in InnovationProject.STAGE_DATE_FIELDS.items()),
        output_field=DateField(),
    )
    latest_move = (
        AuditEntry.objects.filter(
            content_type__app_label=InnovationProject._meta.app_label,
            content_type__model=InnovationProject._meta.model_name,
            object_id=OuterRef("pk"),
            action=AuditEntry.Action.TRANSITION,
        )
        .order_by("-at", "-id")
        .annotate(day=TruncDate("at"))
        .values("day")[:1]
    )
    return Coalesce(own_date, Subquery(latest_move, output_field=DateField()), TruncDate("created_at"))


def organization_list(*, user, include_deleted: bool = False) -> QuerySet[Organization]:
    organizations = scope(user, Organization.objects.all())
    return organizations if include_deleted else organizations.filter(deleted_at__isnull=True)


def relationship_list(*, user, include_deleted: bool = False) -> QuerySet[Relationship]:
    """Relationships with their parties, process areas and a count of projects in flight (approved
    or in progress: committed work not yet delivered)."""
    relationships = (
        scope(user, Relationship.objects.all())
        .select_related("client", "provider")
        .prefetch_related("process_areas")
        .annotate(
            projects_in_flight=Count(
                "projects",
                filter=Q(
                    projects__deleted_at__isnull=True,
                    projects__stage__in=InnovationProject.IN_FLIGHT_STAGES,
                ),
            )
        )
    )
    return relationships if include_deleted else relationships.filter(deleted_at__isnull=True)


def relationship_get(*, user, pk) -> Relationship:
    """One visible, live relationship with its parties, areas, managers and leadership history."""
    return relationship_list(user=user).prefetch_related("account_managers", "leadership_pairs").get(pk=pk)


def project_list(*, user, include_deleted: bool = False) -> QuerySet[InnovationProject]:
    """Projects of visible relationships; deleted projects (or of deleted relationships) left out."""
    projects = scope(user, InnovationProject.objects.all()).select_related(
        "relationship", "relationship__client", "relationship__provider", "owner"
    )
    if include_deleted:
        return projects
    return projects.filter(deleted_at__isnull=True, relationship__deleted_at__isnull=True)

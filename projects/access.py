"""Who may see and change what. Every read of portfolio data is scoped here, and only here.

Roles are Django groups (created by a migration):
- admin (or a superuser): sees and changes everything, manages the KPI catalogue;
- executive: sees everything, changes nothing;
- account_manager: sees and changes the relationships assigned to them;
- client_viewer: sees the relationships their organisation (UserProfile.organization) is part of,
  changes nothing.
A user with no role sees nothing.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet

from projects.models import Organization, Relationship, UserProfile


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    EXECUTIVE = "executive", "Executive"
    ACCOUNT_MANAGER = "account_manager", "Account manager"
    CLIENT_VIEWER = "client_viewer", "Client viewer"


# When a user is in several groups, the broadest one applies.
_ROLE_PRECEDENCE = [Role.ADMIN, Role.EXECUTIVE, Role.ACCOUNT_MANAGER, Role.CLIENT_VIEWER]


def role_of(user) -> Role | None:
    """The user's role, cached on the user object for the request."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if not hasattr(user, "_portfolio_role"):
        if user.is_superuser:
            role = Role.ADMIN
        else:
            names = set(user.groups.values_list("name", flat=True))
            role = next((r for r in _ROLE_PRECEDENCE if r.value in names), None)
        user._portfolio_role = role
    return user._portfolio_role


def user_organization_id(user) -> int | None:
    """The organisation a user belongs to, cached on the user object like the role."""
    if not hasattr(user, "_portfolio_organization_id"):
        profile = (
            UserProfile.objects.filter(user_id=user.pk).values_list("organization_id", flat=True).first()
        )
        user._portfolio_organization_id = profile
    return user._portfolio_organization_id


def sees_everything(user) -> bool:
    return role_of(user) in (Role.ADMIN, Role.EXECUTIVE)


def visible_relationships(user) -> QuerySet[Relationship]:
    """THE scoping rule: the relationships this user may see (deleted ones included, as tombstones)."""
    role = role_of(user)
    relationships = Relationship.objects.all()
    if role in (Role.ADMIN, Role.EXECUTIVE):
        return relationships
    if role == Role.ACCOUNT_MANAGER:
        return relationships.filter(account_managers=user)
    if role == Role.CLIENT_VIEWER:
        organization_id = user_organization_id(user)
        if organization_id is None:
            return relationships.none()
        return relationships.filter(Q(client_id=organization_id) | Q(provider_id=organization_id))
    return relationships.none()


def scope(user, queryset: QuerySet) -> QuerySet:
    """Restrict any portfolio queryset to what the user may see, via the model's SCOPE_PATH."""
    model = queryset.model
    if model is Organization:
        return _scope_organizations(user, queryset)
    path = getattr(model, "SCOPE_PATH", None)
    if path is None:
        raise TypeError(f"{model.__name__} has no SCOPE_PATH; it cannot be scoped.")
    if sees_everything(user):
        return queryset
    if role_of(user) is None:
        return queryset.none()
    lookup = f"{path}__in" if path else "pk__in"
    return queryset.filter(**{lookup: visible_relationships(user).values("pk")})


def _scope_organizations(user, queryset: QuerySet) -> QuerySet:
    """Organisations the user meets in their relationships (and their own); never another client."""
    if sees_everything(user):
        return queryset
    if role_of(user) is None:
        return queryset.none()
    relationships = visible_relationships(user)
    condition = Q(pk__in=relationships.values("client_id")) | Q(pk__in=relationships.values("provider_id"))
    organization_id = user_organization_id(user)
    if organization_id is not None:
        condition |= Q(pk=organization_id)
    return queryset.filter(condition)


def writable_relationships(user) -> QuerySet[Relationship]:
    """Relationships whose projects, KPIs and measurements this user may create and change."""
    role = role_of(user)
    if role == Role.ADMIN:
        return Relationship.objects.all()
    if role == Role.ACCOUNT_MANAGER:
        return Relationship.objects.filter(account_managers=user)
    return Relationship.objects.none()


def can_write_relationship(user, relationship: Relationship) -> bool:
    role = role_of(user)
    if role == Role.ADMIN:
        return True
    if role == Role.ACCOUNT_MANAGER:
        return relationship.account_managers.filter(pk=user.pk).exists()
    return False


def can_manage_portfolio(user) -> bool:
    """Organisations, relationships and the KPI catalogue are managed by admins only."""
    return role_of(user) == Role.ADMIN


def can_edit_projects(user) -> bool:
    """Whether the user may write projects at all (somewhere); pages use it to offer actions."""
    return role_of(user) in (Role.ADMIN, Role.ACCOUNT_MANAGER)


def ensure_can_write(actor, relationship: Relationship) -> None:
    """Services call this before any write; `actor=None` is the system (seed data, tasks)."""
    if actor is None:
        return
    if not can_write_relationship(actor, relationship):
        raise PermissionDenied("You may not change data of this relationship.")


def ensure_can_manage(actor) -> None:
    if actor is None:
        return
    if not can_manage_portfolio(actor):
        raise PermissionDenied("Only admins may change organisations, relationships and the KPI catalogue.")


# --- The client side of a relationship -----------------------------------------------------------

# The roles of people who speak for a client organisation in the product. The contributor role
# (people on both sides) joins this tuple when it exists; nothing else needs to change.
CLIENT_SIDE_ROLES = (Role.CLIENT_VIEWER,)


def client_side_people(relationship: Relationship) -> QuerySet:
    """The active people who speak for the relationship's client: users of a client-side role who
    belong to the client organisation."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            profile__organization_id=relationship.client_id,
            groups__name__in=[role.value for role in CLIENT_SIDE_ROLES],
        )
        .distinct()
    )


def client_side_has_person(relationship: Relationship) -> bool:
    """Does this relationship's client side have a person in the product (who could sign off)?"""
    return client_side_people(relationship).exists()


def client_side_has_person_expression(relationship_path: str = "") -> Exists:
    """`client_side_has_person` as an SQL condition on a queryset (`relationship_path` leads from its
    rows to the relationship: "" for relationships, "relationship" for projects), for lists."""
    client = f"{relationship_path}__client_id" if relationship_path else "client_id"
    people = get_user_model().objects.filter(
        is_active=True,
        profile__organization_id=OuterRef(client),
        groups__name__in=[role.value for role in CLIENT_SIDE_ROLES],
    )
    return Exists(people)


def speaks_for_client(user, relationship: Relationship) -> bool:
    """Whether `user` is a client-side person of this relationship (who may sign off its projects)."""
    if role_of(user) not in CLIENT_SIDE_ROLES:
        return False
    return user_organization_id(user) == relationship.client_id

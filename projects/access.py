"""Who may see and change what. Every read of portfolio data is scoped here, and only here.

Roles are Django groups (created by migrations):
- admin (or a superuser): sees and changes everything, manages the KPI catalogue;
- executive: sees the relationships their organisation (UserProfile.organization) is part of, or
  every relationship when they belong to none (a portfolio-wide executive); changes nothing;
- account_manager: sees and changes the relationships assigned to them (the provider's side);
- contributor: client- or provider-side staff; sees the relationships their organisation is part
  of, may comment, contest figures and answer the pulse there, and changes no project;
- client_viewer: sees the relationships their organisation is part of, may comment and answer the
  pulse, changes nothing.
A user with no role sees nothing; a contributor or viewer without an organisation sees nothing.

Every person who sees a relationship through their organisation sits on one *side* of it — the
client's or the provider's (`side_of`); an assigned account manager sits on the provider's.
`people_of(relationship, side)` is the reverse: the people of one side.
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
    CONTRIBUTOR = "contributor", "Contributor"
    CLIENT_VIEWER = "client_viewer", "Client viewer"


# The two sides of a relationship are the kinds of its two organisations.
Side = Organization.Kind

# When a user is in several groups, the broadest one applies.
_ROLE_PRECEDENCE = [Role.ADMIN, Role.EXECUTIVE, Role.ACCOUNT_MANAGER, Role.CONTRIBUTOR, Role.CLIENT_VIEWER]
# Roles that see what their organisation is part of (an executive only when they have one).
_ORGANIZATION_ROLES = (Role.CONTRIBUTOR, Role.CLIENT_VIEWER)


def _role_from_groups(user, names) -> Role | None:
    if user.is_superuser:
        return Role.ADMIN
    return next((r for r in _ROLE_PRECEDENCE if r.value in names), None)


def role_of(user) -> Role | None:
    """The user's role, cached on the user object for the request."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if not hasattr(user, "_portfolio_role"):
        user._portfolio_role = _role_from_groups(user, set(user.groups.values_list("name", flat=True)))
    return user._portfolio_role


# What `role_of` and `user_organization_id` read, as lookups from a user: another query that loads a
# user (an API token's, say) can read them in its own round trip, then `prime_principal`.
PRINCIPAL_LOOKUPS = {"group_names": "groups__name", "organization_ids": "profile__organization_id"}


def prime_principal(user, values: dict[str, set]) -> None:
    """Cache on `user` what `role_of` and `user_organization_id` would read, from the values of
    `PRINCIPAL_LOOKUPS` (each the set of what its lookup finds, as a query joining them gives it:
    all the user's group names; their organisation, or None without one)."""
    user._portfolio_role = _role_from_groups(user, values["group_names"]) if user.is_active else None
    (user._portfolio_organization_id,) = values["organization_ids"]


def user_organization_id(user) -> int | None:
    """The organisation a user belongs to, cached on the user object like the role."""
    if not hasattr(user, "_portfolio_organization_id"):
        profile = (
            UserProfile.objects.filter(user_id=user.pk).values_list("organization_id", flat=True).first()
        )
        user._portfolio_organization_id = profile
    return user._portfolio_organization_id


def sees_everything(user) -> bool:
    """Admins, and executives who belong to no organisation (portfolio-wide executives)."""
    role = role_of(user)
    return role == Role.ADMIN or (role == Role.EXECUTIVE and user_organization_id(user) is None)


def _sees_through_organization(user) -> bool:
    role = role_of(user)
    return role in _ORGANIZATION_ROLES or (role == Role.EXECUTIVE and not sees_everything(user))


def visible_relationships(user) -> QuerySet[Relationship]:
    """THE scoping rule: the relationships this user may see (deleted ones included, as tombstones)."""
    role = role_of(user)
    relationships = Relationship.objects.all()
    if sees_everything(user):
        return relationships
    if role == Role.ACCOUNT_MANAGER:
        return relationships.filter(account_managers=user)
    if _sees_through_organization(user):
        organization_id = user_organization_id(user)
        if organization_id is None:
            return relationships.none()
        return relationships.filter(Q(client_id=organization_id) | Q(provider_id=organization_id))
    return relationships.none()


def can_see_relationship(user, relationship: Relationship) -> bool:
    """`visible_relationships(user)` for one relationship, without a query where none is needed."""
    role = role_of(user)
    if role is None:
        return False
    if sees_everything(user):
        return True
    if role == Role.ACCOUNT_MANAGER:
        # Asked once per relationship per request (a page asks it of many comments).
        known = getattr(user, "_portfolio_manages", {})
        if relationship.pk not in known:
            known = user._portfolio_manages = {
                **known,
                relationship.pk: relationship.account_managers.filter(pk=user.pk).exists(),
            }
        return known[relationship.pk]
    organization_id = user_organization_id(user)
    return organization_id is not None and organization_id in (
        relationship.client_id,
        relationship.provider_id,
    )


def side_of(user, relationship: Relationship) -> Side | None:
    """The side of the table `user` sits on in `relationship`: the kind of their organisation when it
    is one of the two parties, the provider's for an assigned account manager of no party; None for
    whoever does not see the relationship or sees it without a side (admins, portfolio executives)."""
    if not can_see_relationship(user, relationship):
        return None
    organization_id = user_organization_id(user)
    if organization_id == relationship.client_id:
        return Side.CLIENT
    if organization_id == relationship.provider_id:
        return Side.PROVIDER
    if role_of(user) == Role.ACCOUNT_MANAGER:  # assigned (it sees the relationship)
        return Side.PROVIDER
    return None


def seated_people(relationship: Relationship) -> dict[str, list]:
    """The people at the table of a relationship, by side: active users who see it, each on the side
    `side_of` seats them, by name. The reverse of the scoping rule, checked person by person against
    it; three queries whatever the number of people."""
    user_model = get_user_model()
    candidates = Q(profile__organization_id__in=(relationship.client_id, relationship.provider_id))
    candidates |= Q(managed_relationships=relationship)
    users = list(
        user_model.objects.filter(candidates, is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
    _prime_roles(users, assigned_to=relationship)
    seated: dict[str, list] = {Side.CLIENT: [], Side.PROVIDER: []}
    for user in users:
        side = side_of(user, relationship)
        if side is not None:
            seated[side].append(user)
    return seated


def people_of(relationship: Relationship, side: str) -> QuerySet:
    """The people of one side of a relationship (`seated_people`), as a queryset by name: the client
    side's people of a relationship, say, to ask whether anyone there uses the product."""
    ids = [user.pk for user in seated_people(relationship)[side]]
    return get_user_model().objects.filter(pk__in=ids).order_by("first_name", "last_name", "username")


def on_my_side(user, *, side_field: str, relationship: str = "relationship") -> Q:
    """`side_of` as a query condition: the rows whose `side_field` names the side `user` sits on in
    the row's relationship (reached through `relationship`). For rows already scoped to what the
    user sees; matches no row for someone who sits on no side."""
    role = role_of(user)
    nothing = Q(pk__in=[])
    if role is None or sees_everything(user):
        return nothing
    organization_id = user_organization_id(user)
    client, provider = f"{relationship}__client_id", f"{relationship}__provider_id"
    condition = nothing
    if organization_id is not None:
        condition |= Q(**{side_field: Side.CLIENT, client: organization_id})
        condition |= Q(**{side_field: Side.PROVIDER, provider: organization_id})
    if role == Role.ACCOUNT_MANAGER:
        # Assigned (the scope keeps only those), so on the provider's side unless of the client.
        managed = Q(**{side_field: Side.PROVIDER})
        if organization_id is not None:
            managed &= ~Q(**{client: organization_id})
        condition |= managed
    return condition


def _prime_roles(users, *, assigned_to: Relationship | None = None) -> None:
    """Load the roles and organisations of many users in two queries (role_of, user_organization_id),
    and whether each is an account manager of `assigned_to` (can_see_relationship) in one more."""
    if not users:
        return
    user_model = get_user_model()
    names: dict[int, set[str]] = {user.pk: set() for user in users}
    for user_id, name in user_model.groups.through.objects.filter(user_id__in=names).values_list(
        "user_id", "group__name"
    ):
        names[user_id].add(name)
    organizations = dict(
        UserProfile.objects.filter(user_id__in=names).values_list("user_id", "organization_id")
    )
    managing = (
        set(assigned_to.account_managers.filter(pk__in=names).values_list("pk", flat=True))
        if assigned_to is not None
        else set()
    )
    for user in users:
        user._portfolio_role = _role_from_groups(user, names[user.pk]) if user.is_active else None
        user._portfolio_organization_id = organizations.get(user.pk)
        if assigned_to is not None:
            user._portfolio_manages = {assigned_to.pk: user.pk in managing}


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
# Who may sign off for a client: its viewers and its contributors.
CLIENT_SIDE_ROLES = (Role.CLIENT_VIEWER, Role.CONTRIBUTOR)


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

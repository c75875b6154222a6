"""Viewsets of organisations, relationships and projects: configuration around the shared
behaviour of projects.api.viewsets. The kpis app extends relationships and projects with the
figures it computes (kpis.api.views), and those are the classes the API routes to."""

from projects import selectors, services
from projects.access import Role
from projects.api import filters, serializers
from projects.api.viewsets import PortfolioViewSet
from projects.models import InnovationProject, Organization, Relationship

ADMIN_ONLY = (Role.ADMIN,)


class OrganizationViewSet(PortfolioViewSet):
    """Client and provider organisations. Admins manage them; others read those they work with."""

    model = Organization
    create_roles = ADMIN_ONLY
    serializer_class = serializers.OrganizationSerializer
    filterset_class = filters.OrganizationFilterSet
    ordering_fields = ["id", "name", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return selectors.organization_list(user=user, include_deleted=include_deleted)

    def service_create(self, *, actor, data):
        return services.organization_create(actor=actor, data=data)

    def service_update(self, *, actor, instance, data, expected_version):
        return services.organization_update(
            actor=actor, organization=instance, data=data, expected_version=expected_version
        )

    def service_delete(self, *, actor, instance, expected_version):
        return services.organization_delete(
            actor=actor, organization=instance, expected_version=expected_version
        )


class RelationshipViewSet(PortfolioViewSet):
    """Outsourcing relationships. Admins create and delete them; assigned account managers edit
    everything but the parties and the assignments."""

    model = Relationship
    create_roles = ADMIN_ONLY
    serializer_class = serializers.RelationshipSerializer
    filterset_class = filters.ApiRelationshipFilterSet
    ordering_fields = ["id", "name", "contract_start", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return selectors.relationship_list(user=user, include_deleted=include_deleted).prefetch_related(
            "account_managers"
        )

    def service_create(self, *, actor, data):
        return services.relationship_create(actor=actor, data=data)

    def service_update(self, *, actor, instance, data, expected_version):
        return services.relationship_update(
            actor=actor, relationship=instance, data=data, expected_version=expected_version
        )

    def service_delete(self, *, actor, instance, expected_version):
        return services.relationship_delete(
            actor=actor, relationship=instance, expected_version=expected_version
        )


class ProjectViewSet(PortfolioViewSet):
    """Innovation projects. A change of `stage` must follow the stage machine."""

    model = InnovationProject
    serializer_class = serializers.ProjectSerializer
    filterset_class = filters.ApiProjectFilterSet
    ordering_fields = ["id", "title", "stage", "proposed_on", "delivered_on", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return selectors.project_list(user=user, include_deleted=include_deleted)

    def service_create(self, *, actor, data):
        return services.project_create(actor=actor, data=data)

    def service_update(self, *, actor, instance, data, expected_version):
        return services.project_update(
            actor=actor, project=instance, data=data, expected_version=expected_version
        )

    def service_delete(self, *, actor, instance, expected_version):
        return services.project_delete(actor=actor, project=instance, expected_version=expected_version)

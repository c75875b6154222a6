"""Serializers of organisations, relationships and projects. They validate and shape data; every
write is done by the services (see the viewsets). Computed figures that come from the kpis app
(project impact, relationship score) are added by kpis.api.serializers."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from projects import selectors
from projects.access import Role, scope
from projects.api.fields import RecordField
from projects.models import InnovationProject, Organization, ProcessArea, Relationship

SYNC_FIELDS = ["id", "external_id", "version", "created_at", "updated_at", "deleted_at"]
SERVER_MANAGED = ["id", "version", "created_at", "updated_at", "deleted_at"]


class SyncedSerializer(serializers.ModelSerializer):
    """Identity, version and timestamps are the server's; unknown fields are rejected.

    Server-managed fields (id, version, timestamps, computed values) sent by a client are
    ignored, so a record read with GET can be sent back with PUT as it is.
    """

    external_id = serializers.CharField(
        max_length=100,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Your key for the record; unique per resource. Bulk upserts match on it.",
    )

    class Meta:
        fields = SYNC_FIELDS
        read_only_fields = SERVER_MANAGED
        validators = []  # uniqueness is the services' job (409 on conflict)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)

    def validate_external_id(self, value):
        return value or None


def _live_relationships(user):
    return scope(user, Relationship.objects.filter(deleted_at__isnull=True))


def _live_organizations(user):
    return selectors.organization_list(user=user)


def _account_manager_users():
    return get_user_model().objects.filter(is_active=True, groups__name=Role.ACCOUNT_MANAGER.value)


class OrganizationSerializer(SyncedSerializer):
    class Meta(SyncedSerializer.Meta):
        model = Organization
        fields = [*SYNC_FIELDS, "name", "kind", "industry", "country"]


class RelationshipSerializer(SyncedSerializer):
    client = RecordField(
        queryset_for=_live_organizations, help_text="A client organisation (id or external_id)."
    )
    provider = RecordField(
        queryset_for=_live_organizations, help_text="A provider organisation (id or external_id)."
    )
    process_areas = serializers.SlugRelatedField(
        many=True, slug_field="code", queryset=ProcessArea.objects.all(), required=False
    )
    account_managers = serializers.SlugRelatedField(
        many=True,
        slug_field="username",
        queryset=_account_manager_users(),
        required=False,
        help_text="Usernames of the account managers assigned (only an admin may change them).",
    )
    projects_in_flight = serializers.IntegerField(read_only=True, help_text="Live projects in an open stage.")

    class Meta(SyncedSerializer.Meta):
        model = Relationship
        fields = [
            *SYNC_FIELDS,
            "name",
            "client",
            "provider",
            "process_areas",
            "contract_start",
            "contract_end",
            "annual_contract_value",
            "currency",
            "status",
            "account_managers",
            "projects_in_flight",
        ]
        read_only_fields = [*SERVER_MANAGED, "projects_in_flight"]


class ProjectSerializer(SyncedSerializer):
    relationship = RecordField(
        queryset_for=_live_relationships, help_text="The relationship (id or external_id)."
    )
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="Username of the project's owner.",
    )

    class Meta(SyncedSerializer.Meta):
        model = InnovationProject
        fields = [
            *SYNC_FIELDS,
            "relationship",
            "title",
            "description",
            "level",
            "stage",
            "originator",
            "owner",
            "proposed_on",
            "started_on",
            "delivered_on",
            "investment",
            "expected_annual_benefit",
            "realised_annual_benefit",
            "funding",
            "gain_share_pct",
            "gain_share_baseline",
        ]
        extra_kwargs = {
            "stage": {
                "help_text": "idea → proposed → approved → in_progress → delivered, or cancelled from any "
                "open stage; a change must be one of these steps."
            }
        }

    def validate_relationship(self, value):
        if self.instance is not None and value.pk != self.instance.relationship_id:
            raise serializers.ValidationError(
                "A project cannot move to another relationship; create it there and delete this one."
            )
        return value

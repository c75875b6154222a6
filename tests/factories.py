"""Factories that create rows through the services, so test data obeys the same rules as real data."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User

from kpis import services as kpi_services
from kpis.models import KPI, Measurement, ProjectKPI
from projects import services as project_services
from projects.models import InnovationProject, Organization, Relationship, UserProfile


class ServiceFactory(factory.django.DjangoModelFactory):
    """Creates through `service(actor=None, data=kwargs)` instead of `Model.objects.create`."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return cls._service(kwargs)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.django.Password("test-password")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=str(extracted)))

    @factory.post_generation
    def organization(self, create, extracted, **kwargs):
        if extracted:
            UserProfile.objects.create(user=self, organization=extracted)


class OrganizationFactory(ServiceFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organisation {n}")
    kind = Organization.Kind.CLIENT
    industry = "Manufacturing"
    country = "Germany"

    @staticmethod
    def _service(data):
        return project_services.organization_create(
            actor=None, fields=project_services.OrganizationFields.of(data)
        )


class ClientFactory(OrganizationFactory):
    name = factory.Sequence(lambda n: f"Client {n}")
    kind = Organization.Kind.CLIENT


class ProviderFactory(OrganizationFactory):
    name = factory.Sequence(lambda n: f"Provider {n}")
    kind = Organization.Kind.PROVIDER


class RelationshipFactory(ServiceFactory):
    class Meta:
        model = Relationship

    name = factory.Sequence(lambda n: f"Relationship {n}")
    client = factory.SubFactory(ClientFactory)
    provider = factory.SubFactory(ProviderFactory)
    contract_start = dt.date(2023, 1, 1)
    contract_end = dt.date(2028, 12, 31)
    annual_contract_value = Decimal("1000000.00")
    currency = "USD"
    account_managers = factory.LazyFunction(list)

    @staticmethod
    def _service(data):
        return project_services.relationship_create(
            actor=None, fields=project_services.RelationshipFields.of(data)
        )


class ProjectFactory(ServiceFactory):
    class Meta:
        model = InnovationProject

    relationship = factory.SubFactory(RelationshipFactory)
    title = factory.Sequence(lambda n: f"Project {n}")
    level = InnovationProject.Level.OPERATIONAL
    stage = InnovationProject.Stage.IDEA

    @staticmethod
    def _service(data):
        return project_services.project_create(actor=None, fields=project_services.ProjectFields.of(data))


class KPIFactory(ServiceFactory):
    class Meta:
        model = KPI

    code = factory.Sequence(lambda n: f"kpi_{n}")
    name = factory.Sequence(lambda n: f"KPI {n}")
    unit = "percent"
    direction = KPI.Direction.HIGHER_IS_BETTER

    @staticmethod
    def _service(data):
        return kpi_services.kpi_create(actor=None, fields=kpi_services.KPIFields.of(data))


class ProjectKPIFactory(ServiceFactory):
    class Meta:
        model = ProjectKPI

    project = factory.SubFactory(ProjectFactory)
    kpi = factory.SubFactory(KPIFactory)
    baseline_value = Decimal("60")
    baseline_date = dt.date(2024, 1, 1)
    target_value = None

    @staticmethod
    def _service(data):
        return kpi_services.project_kpi_add(actor=None, fields=kpi_services.ProjectKPIFields.of(data))


class MeasurementFactory(ServiceFactory):
    class Meta:
        model = Measurement

    project_kpi = factory.SubFactory(ProjectKPIFactory)
    # Past dates only (measurements cannot be in the future), distinct within any one KPI.
    measured_on = factory.Sequence(lambda n: dt.date(2024, 6, 1) + dt.timedelta(days=n % 700))
    value = Decimal("70")

    @staticmethod
    def _service(data):
        return kpi_services.measurement_record(actor=None, fields=kpi_services.MeasurementFields.of(data))


def api_key_for(user, name: str = "test token") -> str:
    """A fresh API key of `user` (stored hashed, as every key is)."""
    from accounts.services import issue_token

    return issue_token(user, name=name)[1]

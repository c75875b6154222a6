"""Each invariant is enforced by the database itself: rows written around the services are rejected."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from kpis.models import KPI, Measurement, ProjectKPI, RelationshipScore
from projects.models import InnovationProject, LeadershipPair, Organization, Relationship
from tests.factories import (
    ClientFactory,
    KPIFactory,
    ProjectFactory,
    ProjectKPIFactory,
    ProviderFactory,
    RelationshipFactory,
)

pytestmark = pytest.mark.django_db


def assert_rejected(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


@pytest.fixture
def relationship():
    return RelationshipFactory()


def raw_project(relationship, **fields):
    values = {"relationship": relationship, "title": "Raw", "level": "operational", "stage": "idea"}
    values.update(fields)
    return lambda: InnovationProject.objects.create(**values)


def test_relationship_client_and_provider_must_differ():
    organization = ClientFactory()
    assert_rejected(
        lambda: Relationship.objects.create(
            name="Self", client=organization, provider=organization, contract_start=dt.date(2024, 1, 1)
        )
    )


def test_relationship_contract_end_not_before_start():
    assert_rejected(
        lambda: Relationship.objects.create(
            name="Backwards",
            client=ClientFactory(),
            provider=ProviderFactory(),
            contract_start=dt.date(2024, 1, 1),
            contract_end=dt.date(2023, 12, 31),
        )
    )


def test_relationship_contract_value_not_negative():
    assert_rejected(
        lambda: Relationship.objects.create(
            name="Negative",
            client=ClientFactory(),
            provider=ProviderFactory(),
            contract_start=dt.date(2024, 1, 1),
            annual_contract_value=Decimal("-1"),
        )
    )


def test_relationship_status_must_be_known():
    assert_rejected(
        lambda: Relationship.objects.create(
            name="Odd",
            client=ClientFactory(),
            provider=ProviderFactory(),
            contract_start=dt.date(2024, 1, 1),
            status="paused",
        )
    )


def test_relationship_name_unique_per_client_and_provider(relationship):
    assert_rejected(
        lambda: Relationship.objects.create(
            name=relationship.name,
            client=relationship.client,
            provider=relationship.provider,
            contract_start=dt.date(2024, 1, 1),
        )
    )


def test_organization_name_unique_among_live_rows():
    organization = ClientFactory(name="Unique Co")
    assert_rejected(lambda: Organization.objects.create(name="Unique Co", kind="client"))
    Organization.objects.filter(pk=organization.pk).update(deleted_at=dt.datetime.now(dt.UTC))
    Organization.objects.create(name="Unique Co", kind="client")  # a deleted name may be reused


def test_organization_kind_must_be_known():
    assert_rejected(lambda: Organization.objects.create(name="Nobody", kind="partner"))


def test_external_id_unique_per_record_type():
    ClientFactory(external_id="ext-1")
    assert_rejected(lambda: Organization.objects.create(name="Other", kind="client", external_id="ext-1"))


def test_leadership_pair_end_not_before_start(relationship):
    assert_rejected(
        lambda: LeadershipPair.objects.create(
            relationship=relationship,
            client_leader="A",
            provider_leader="B",
            started_on=dt.date(2024, 5, 1),
            ended_on=dt.date(2024, 4, 1),
        )
    )


def test_leadership_only_one_current_pair(relationship):
    LeadershipPair.objects.create(
        relationship=relationship, client_leader="A", provider_leader="B", started_on=dt.date(2024, 1, 1)
    )
    assert_rejected(
        lambda: LeadershipPair.objects.create(
            relationship=relationship, client_leader="C", provider_leader="D", started_on=dt.date(2024, 6, 1)
        )
    )


@pytest.mark.parametrize(
    "field", ["investment", "expected_annual_benefit", "realised_annual_benefit", "gain_share_baseline"]
)
def test_project_money_not_negative(relationship, field):
    assert_rejected(raw_project(relationship, **{field: Decimal("-0.01")}))


@pytest.mark.parametrize("value", [Decimal("-1"), Decimal("100.01")])
def test_project_gain_share_percent_within_0_to_100(relationship, value):
    assert_rejected(raw_project(relationship, gain_share_pct=value))


def test_project_delivered_not_before_started(relationship):
    assert_rejected(
        raw_project(
            relationship, stage="delivered", started_on=dt.date(2024, 5, 1), delivered_on=dt.date(2024, 4, 30)
        )
    )


def test_project_started_not_before_proposed(relationship):
    assert_rejected(
        raw_project(relationship, proposed_on=dt.date(2024, 5, 1), started_on=dt.date(2024, 4, 30))
    )


def test_delivered_project_needs_delivered_date(relationship):
    assert_rejected(raw_project(relationship, stage="delivered"))


def test_only_delivered_project_has_delivered_date(relationship):
    assert_rejected(raw_project(relationship, stage="in_progress", delivered_on=dt.date(2024, 4, 30)))


@pytest.mark.parametrize("field,value", [("stage", "shipped"), ("level", "galactic")])
def test_project_choices_enforced(relationship, field, value):
    assert_rejected(raw_project(relationship, **{field: value}))


def test_kpi_code_unique_and_unit_known():
    KPIFactory(code="fill")
    assert_rejected(
        lambda: KPI.objects.create(code="fill", name="Again", unit="percent", direction="higher_is_better")
    )
    assert_rejected(
        lambda: KPI.objects.create(code="other", name="Odd", unit="furlongs", direction="higher_is_better")
    )
    assert_rejected(lambda: KPI.objects.create(code="other2", name="Odd", unit="count", direction="sideways"))


@pytest.mark.parametrize("field", ["baseline_value", "target_value"])
@pytest.mark.parametrize("value", [Decimal("-0.5"), Decimal("100.5")])
def test_percent_project_kpi_values_within_0_to_100(field, value):
    project, kpi = ProjectFactory(), KPIFactory(unit="percent")
    values = {
        "project": project,
        "kpi": kpi,
        "unit": "percent",
        "baseline_value": Decimal("50"),
        "baseline_date": dt.date(2024, 1, 1),
        field: value,
    }
    assert_rejected(lambda: ProjectKPI.objects.create(**values))


def test_non_percent_project_kpi_values_unbounded():
    project, kpi = ProjectFactory(), KPIFactory(unit="hours", direction="lower_is_better")
    ProjectKPI.objects.create(
        project=project,
        kpi=kpi,
        unit="hours",
        baseline_value=Decimal("150"),
        baseline_date=dt.date(2024, 1, 1),
    )


def test_project_kpi_one_per_project_and_kpi():
    project_kpi = ProjectKPIFactory()
    assert_rejected(
        lambda: ProjectKPI.objects.create(
            project=project_kpi.project,
            kpi=project_kpi.kpi,
            unit="percent",
            baseline_value=1,
            baseline_date=dt.date(2024, 1, 1),
        )
    )


def test_percent_measurement_within_0_to_100():
    project_kpi = ProjectKPIFactory()
    assert_rejected(
        lambda: Measurement.objects.create(
            project_kpi=project_kpi, unit="percent", measured_on=dt.date(2024, 2, 1), value=Decimal("101")
        )
    )


def test_measurement_one_per_date():
    project_kpi = ProjectKPIFactory()
    Measurement.objects.create(
        project_kpi=project_kpi, unit="percent", measured_on=dt.date(2024, 2, 1), value=1
    )
    assert_rejected(
        lambda: Measurement.objects.create(
            project_kpi=project_kpi, unit="percent", measured_on=dt.date(2024, 2, 1), value=2
        )
    )


def score_row(relationship, **fields):
    values = {
        "relationship": relationship,
        "period": dt.date(2024, 5, 1),
        "score": Decimal("50"),
        "tier": "steady",
    }
    values.update(fields)
    return lambda: RelationshipScore.objects.create(**values)


def test_score_one_per_relationship_and_month(relationship):
    score_row(relationship)()
    assert_rejected(score_row(relationship))


@pytest.mark.parametrize(
    "fields",
    [
        {"period": dt.date(2024, 5, 2)},
        {"score": Decimal("100.5")},
        {"score": Decimal("-1")},
        {"tier": "stellar"},
    ],
)
def test_score_row_values_valid(relationship, fields):
    assert_rejected(score_row(relationship, **fields))

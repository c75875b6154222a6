"""Demo data: the KPI catalogue, the three published cases, a generated portfolio and demo users.

Everything is written through the services (so it is versioned and audited like real data) and
keyed by `external_id`, so seeding twice changes nothing. Generated data comes from a fixed random
seed and dates relative to the day of the first seeding.
"""

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from demo.collaboration import seed_collaboration
from kpis import services as kpi_services
from kpis.models import KPI, Measurement, ProjectKPI
from projects import services as project_services
from projects.access import Role
from projects.models import InnovationProject, Organization, ProcessArea, Relationship, UserProfile
from projects.reference_data import ensure_reference_data

DEMO_PASSWORD = "portfolio-demo"

CATALOGUE = [
    # code, name, unit, direction, description
    (
        "order_fill_rate",
        "Customer-order fill rate",
        "percent",
        "higher_is_better",
        "Share of customer orders filled completely from stock on first request.",
    ),
    (
        "turnaround_time",
        "Turnaround time",
        "hours",
        "lower_is_better",
        "Hours from request to fulfilment (e.g. parts to a grounded vehicle).",
    ),
    (
        "stock_fill_rate",
        "Stock fill rate",
        "percent",
        "higher_is_better",
        "Share of shelf or warehouse demand met from available stock.",
    ),
    (
        "inventory_level",
        "Inventory level",
        "index",
        "lower_is_better",
        "Inventory held, as an index of the baseline period (baseline = 100).",
    ),
    (
        "error_rate",
        "Error rate",
        "index",
        "lower_is_better",
        "Processing or forecasting errors, as an index of the baseline period (baseline = 100).",
    ),
    (
        "rework_interception_rate",
        "Rework claims intercepted",
        "percent",
        "higher_is_better",
        "Share of claims needing rework that are intercepted before payment.",
    ),
    (
        "cost_per_claim",
        "Cost per claim",
        "currency",
        "lower_is_better",
        "Fully loaded processing cost of one claim.",
    ),
    ("cycle_time", "Cycle time", "days", "lower_is_better", "Days from start to completion of the process."),
    (
        "first_pass_yield",
        "First-pass yield",
        "percent",
        "higher_is_better",
        "Share of transactions completed correctly the first time.",
    ),
    (
        "customer_satisfaction",
        "Customer satisfaction",
        "score",
        "higher_is_better",
        "Survey score on a 0–10 scale.",
    ),
    (
        "invoice_processing_cost",
        "Cost per invoice",
        "currency",
        "lower_is_better",
        "Fully loaded cost of processing one supplier invoice.",
    ),
    (
        "days_sales_outstanding",
        "Days sales outstanding",
        "days",
        "lower_is_better",
        "Average days to collect receivables.",
    ),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    first_name: str
    last_name: str


DEMO_USERS = [
    DemoUser("admin", Role.ADMIN, "Ada", "Admin"),
    DemoUser("executive", Role.EXECUTIVE, "Evelyn", "Executive"),
    DemoUser("manager", Role.ACCOUNT_MANAGER, "Marcus", "Manager"),
    DemoUser("viewer", Role.CLIENT_VIEWER, "Clara", "Viewer"),
]

# The published cases of DESIGN.md §1: (client, industry, provider, project, process areas, KPIs)
PUBLISHED_CASES = [
    {
        "key": "aerospace",
        "client": ("Northwind Aerospace", "Aerospace manufacturing", "United States"),
        "provider": ("Atlas Business Services", "Business process outsourcing", "India"),
        "relationship": "Northwind Aerospace — third-party vendor management",
        "areas": ["vendor_management", "supply_chain"],
        "project": "Third-party vendor management for new parts",
        "description": "Provider took over management of third-party parts vendors and re-engineered "
        "order handling for new parts and aircraft-on-ground requests.",
        "level": "process",
        "kpis": [("order_fill_rate", "60", "85", None), ("turnaround_time", "21", "17", None)],
    },
    {
        "key": "supermarket",
        "client": ("FreshWay Supermarkets", "Grocery retail", "United Kingdom"),
        "provider": ("Keystone Analytics Outsourcing", "Analytics outsourcing", "Poland"),
        "relationship": "FreshWay Supermarkets — demand forecasting",
        "areas": ["supply_chain", "analytics"],
        "project": "Forecasting tools for store replenishment",
        "description": "New demand-forecasting tools drive store replenishment.",
        "level": "strategic",
        "kpis": [
            ("stock_fill_rate", "80", "95", None),
            ("inventory_level", "100", "73", None),
            ("error_rate", "100", "50", None),
        ],
    },
    {
        "key": "healthcare",
        "client": ("Meridian Health", "Health care", "United States"),
        "provider": ("Crescent Claims Partners", "Claims processing", "Philippines"),
        "relationship": "Meridian Health — claims processing",
        "areas": ["claims", "analytics"],
        "project": "Predictive analytics for claims rework",
        "description": "Predictive models flag claims likely to need rework before they are paid.",
        "level": "strategic",
        # Baseline 0 %: the improvement is undefined (shown "—"); the target makes it measurable.
        "kpis": [("rework_interception_rate", "0", "52", "50")],
    },
]

INDUSTRIES = [
    ("Banking", ["finance_accounting", "customer_service"]),
    ("Insurance", ["claims", "customer_service"]),
    ("Telecommunications", ["customer_service", "it_services"]),
    ("Pharmaceuticals", ["procurement", "supply_chain"]),
    ("Automotive", ["supply_chain", "procurement", "logistics"]),
    ("Energy", ["finance_accounting", "procurement"]),
    ("Retail", ["supply_chain", "customer_service"]),
    ("Media", ["finance_accounting", "human_resources"]),
    ("Logistics", ["logistics", "finance_accounting"]),
    ("Consumer goods", ["procurement", "human_resources"]),
    ("Hospitality", ["human_resources", "customer_service"]),
    ("Chemicals", ["procurement", "finance_accounting"]),
]
CLIENT_NAMES = [
    "Harbor Bank",
    "Summit Insurance",
    "Beacon Telecom",
    "Aurora Pharma",
    "Vector Motors",
    "Solace Energy",
    "Juniper Retail",
    "Orchid Media",
    "Pioneer Freight",
    "Maple Consumer Goods",
    "Cobalt Hotels",
    "Granite Chemicals",
    "Lumen Bank",
    "Crest Mutual",
    "Nimbus Mobile",
    "Helix Biotech",
    "Trident Auto",
    "Evergreen Utilities",
    "Lattice Stores",
    "Quarry Publishing",
]
PROVIDER_NAMES = [
    ("Atlas Business Services", "India"),
    ("Keystone Analytics Outsourcing", "Poland"),
    ("Crescent Claims Partners", "Philippines"),
    ("Meridian Shared Services", "Mexico"),
    ("Northstar Operations", "South Africa"),
]
PROJECT_TEMPLATES = [
    (
        "Invoice automation with OCR",
        "operational",
        [("invoice_processing_cost", "4.10", "2.60"), ("cycle_time", "9", "5")],
    ),
    (
        "Robotic reconciliation of bank statements",
        "operational",
        [("first_pass_yield", "82", "95"), ("cycle_time", "4", "2")],
    ),
    (
        "Self-service claims status portal",
        "process",
        [("customer_satisfaction", "6.8", "8.1"), ("cost_per_claim", "31", "24")],
    ),
    ("Collections prioritisation model", "process", [("days_sales_outstanding", "52", "41")]),
    ("Supplier onboarding redesign", "process", [("cycle_time", "21", "9"), ("error_rate", "100", "64")]),
    (
        "Demand sensing pilot",
        "strategic",
        [("stock_fill_rate", "88", "94"), ("inventory_level", "100", "86")],
    ),
    (
        "Chat triage for service desk",
        "operational",
        [("turnaround_time", "30", "12"), ("customer_satisfaction", "7.1", "7.9")],
    ),
    ("Spend analytics cockpit", "strategic", [("cost_per_claim", "40", "33")]),
    ("First-time-right checklist", "operational", [("first_pass_yield", "76", "88")]),
    ("Payroll exception analytics", "process", [("error_rate", "100", "70")]),
]
STAGE_MIX = [
    "delivered",
    "delivered",
    "delivered",
    "in_progress",
    "approved",
    "proposed",
    "idea",
    "cancelled",
]


class DemoSeeder:
    def __init__(self, *, today: dt.date | None = None, stdout=None):
        self.today = today or timezone.localdate()
        self.rng = random.Random(20261129)
        self.created = 0
        self.stdout = stdout

    # --- helpers --------------------------------------------------------------------------
    def _exists(self, model, external_id: str):
        return model.objects.filter(external_id=external_id).first()

    def _organization(self, name: str, kind: str, industry: str, country: str) -> Organization:
        key = f"demo-org-{name.lower().replace(' ', '-')}"
        found = self._exists(Organization, key)
        if found:
            return found
        self.created += 1
        return project_services.organization_create(
            actor=None,
            fields=project_services.OrganizationFields(
                name=name, kind=kind, industry=industry, country=country, external_id=key
            ),
        )

    def _kpi(self, code: str) -> KPI:
        return KPI.objects.get(code=code, deleted_at__isnull=True)

    # --- pieces ---------------------------------------------------------------------------
    def users(self) -> dict[str, User]:
        users = {}
        for demo in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=demo.username,
                defaults={
                    "first_name": demo.first_name,
                    "last_name": demo.last_name,
                    "email": f"{demo.username}@example.com",
                    "is_staff": demo.role == Role.ADMIN,
                    "is_superuser": demo.role == Role.ADMIN,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
                user.groups.add(Group.objects.get(name=demo.role.value))
                self.created += 1
            users[demo.username] = user
        return users

    def catalogue(self) -> None:
        for code, name, unit, direction, description in CATALOGUE:
            if KPI.objects.filter(code=code).exists():
                continue
            kpi_services.kpi_create(
                actor=None,
                fields=kpi_services.KPIFields(
                    code=code,
                    name=name,
                    unit=unit,
                    direction=direction,
                    description=description,
                    external_id=f"demo-kpi-{code}",
                ),
            )
            self.created += 1

    def _relationship(
        self, *, key, name, client, provider, areas, start, value, managers, leaders
    ) -> Relationship:
        found = self._exists(Relationship, key)
        if found:
            return found
        relationship = project_services.relationship_create(
            actor=None,
            fields=project_services.RelationshipFields(
                name=name,
                client=client,
                provider=provider,
                process_areas=list(ProcessArea.objects.filter(code__in=areas)),
                contract_start=start,
                contract_end=start.replace(year=start.year + 5),
                annual_contract_value=value,
                currency="USD",
                status="active",
                account_managers=managers,
                external_id=key,
            ),
        )
        project_services.relationship_set_leadership(
            actor=None,
            relationship=relationship,
            client_leader=leaders[0],
            provider_leader=leaders[1],
            started_on=start,
        )
        self.created += 1
        return relationship

    def _project(
        self,
        *,
        key,
        relationship,
        title,
        description,
        level,
        stage,
        owner,
        delivered_on=None,
        started_on=None,
        proposed_on=None,
        investment="0",
        expected=None,
        realised=None,
        funding="provider",
        gain_share_pct=None,
        gain_share_baseline=None,
    ) -> InnovationProject:
        found = self._exists(InnovationProject, key)
        if found:
            return found
        project = project_services.project_create(
            actor=None,
            fields=project_services.ProjectFields(
                relationship=relationship,
                title=title,
                description=description,
                level=level,
                stage=stage,
                originator=self.rng.choice(["provider", "client", "joint"]),
                owner=owner,
                proposed_on=proposed_on,
                started_on=started_on,
                delivered_on=delivered_on,
                investment=Decimal(investment),
                expected_annual_benefit=Decimal(expected) if expected is not None else None,
                realised_annual_benefit=Decimal(realised) if realised is not None else None,
                funding=funding,
                gain_share_pct=Decimal(gain_share_pct) if gain_share_pct is not None else None,
                gain_share_baseline=Decimal(gain_share_baseline) if gain_share_baseline is not None else None,
                external_id=key,
            ),
        )
        self.created += 1
        return project

    def _track(
        self, *, key, project, code, baseline, after, target, baseline_date, measured_dates
    ) -> ProjectKPI:
        """Track a KPI with its baseline and a path of measurements ending at `after`."""
        project_kpi = self._exists(ProjectKPI, key)
        if project_kpi is None:
            project_kpi = kpi_services.project_kpi_add(
                actor=None,
                fields=kpi_services.ProjectKPIFields(
                    project=project,
                    kpi=self._kpi(code),
                    baseline_value=Decimal(baseline),
                    baseline_date=baseline_date,
                    target_value=Decimal(target) if target is not None else None,
                    external_id=key,
                ),
            )
            self.created += 1
        steps = len(measured_dates)
        for index, measured_on in enumerate(measured_dates, start=1):
            measurement_key = f"{key}-m{index}"
            if Measurement.objects.filter(external_id=measurement_key).exists():
                continue
            # Evenly spaced steps from baseline to the final value; the last one is exactly `after`.
            value = Decimal(baseline) + (Decimal(after) - Decimal(baseline)) * index / steps
            value = value.quantize(Decimal("0.01"))
            kpi_services.measurement_record(
                actor=None,
                fields=kpi_services.MeasurementFields(
                    project_kpi=project_kpi, measured_on=measured_on, value=value, external_id=measurement_key
                ),
            )
            self.created += 1
        return project_kpi

    def published_cases(self, users: dict[str, User]) -> None:
        for offset, case in enumerate(PUBLISHED_CASES):
            client = self._organization(*case["client"][:1], "client", *case["client"][1:])
            provider = self._organization(
                case["provider"][0], "provider", case["provider"][1], case["provider"][2]
            )
            start = dt.date(self.today.year - 3, 1 + offset * 3, 1)
            relationship = self._relationship(
                key=f"demo-rel-{case['key']}",
                name=case["relationship"],
                client=client,
                provider=provider,
                areas=case["areas"],
                start=start,
                value=Decimal("4500000") + offset * Decimal("1250000"),
                managers=[users["manager"]],
                leaders=(f"{client.name.split()[0]} COO", f"{provider.name.split()[0]} delivery head"),
            )
            delivered_on = self.today - dt.timedelta(days=45 + offset * 20)
            started_on = delivered_on - dt.timedelta(days=200)
            project = self._project(
                key=f"demo-prj-{case['key']}",
                relationship=relationship,
                title=case["project"],
                description=case["description"],
                level=case["level"],
                stage="delivered",
                owner=users["manager"],
                proposed_on=started_on - dt.timedelta(days=60),
                started_on=started_on,
                delivered_on=delivered_on,
                investment="350000",
                expected="1200000",
                realised="1050000",
                funding="shared",
            )
            baseline_date = started_on - dt.timedelta(days=30)
            measured = [
                delivered_on - dt.timedelta(days=90),
                delivered_on - dt.timedelta(days=30),
                delivered_on,
            ]
            for code, baseline, after, target in case["kpis"]:
                self._track(
                    key=f"demo-pk-{case['key']}-{code}",
                    project=project,
                    code=code,
                    baseline=baseline,
                    after=after,
                    target=target,
                    baseline_date=baseline_date,
                    measured_dates=measured,
                )

    def generated_portfolio(self, users: dict[str, User], count: int = 22) -> None:
        providers = [
            self._organization(name, "provider", "Business process outsourcing", country)
            for name, country in PROVIDER_NAMES
        ]
        for index in range(count):
            client_name = CLIENT_NAMES[index % len(CLIENT_NAMES)] + (
                "" if index < len(CLIENT_NAMES) else f" {index}"
            )
            industry, areas = INDUSTRIES[index % len(INDUSTRIES)]
            client = self._organization(
                client_name,
                "client",
                industry,
                self.rng.choice(
                    ["United States", "Germany", "United Kingdom", "France", "Japan", "Canada", "Australia"]
                ),
            )
            provider = providers[index % len(providers)]
            start = dt.date(self.today.year - 1 - index % 4, 1 + index % 12, 1)
            relationship = self._relationship(
                key=f"demo-rel-gen-{index:03d}",
                name=f"{client.name} — {provider.name.split()[0]} {areas[0].replace('_', ' ')}",
                client=client,
                provider=provider,
                areas=areas,
                start=start,
                value=Decimal(self.rng.randrange(800, 12000) * 1000),
                # The demo account manager looks after every third relationship.
                managers=[users["manager"]] if index % 3 == 0 else [],
                leaders=(f"{client.name.split()[0]} CFO", f"{provider.name.split()[0]} engagement lead"),
            )
            # Relationships differ in how much they deliver, so the tiers spread out.
            project_count = 2 + (index * 5) % 6
            for number in range(project_count):
                stage = (
                    STAGE_MIX[(index + number) % len(STAGE_MIX)] if index % 5 else STAGE_MIX[(number + 3) % 8]
                )
                title, level, kpi_specs = PROJECT_TEMPLATES[(index * 3 + number) % len(PROJECT_TEMPLATES)]
                self._generated_project(relationship, index, number, stage, title, level, kpi_specs, users)

    def _generated_project(self, relationship, index, number, stage, title, level, kpi_specs, users):
        rng = self.rng
        proposed_on = self.today - dt.timedelta(days=rng.randrange(120, 700))
        started_on = delivered_on = None
        if stage in ("in_progress", "delivered"):
            started_on = proposed_on + dt.timedelta(days=rng.randrange(20, 90))
        if stage == "delivered":
            delivered_on = min(
                self.today - dt.timedelta(days=1), started_on + dt.timedelta(days=rng.randrange(60, 240))
            )
        expected = Decimal(rng.randrange(50, 900) * 1000)
        realised = None
        if stage == "delivered" and rng.random() < 0.85:
            realised = (expected * Decimal(rng.randrange(40, 130)) / 100).quantize(Decimal("1"))
        gain_share = stage == "delivered" and rng.random() < 0.3
        project = self._project(
            key=f"demo-prj-gen-{index:03d}-{number}",
            relationship=relationship,
            title=f"{title} ({relationship.client.name.split()[0]})",
            description=f"{title} for {relationship.client.name}.",
            level=level,
            stage="idea" if stage == "cancelled" else stage,
            owner=users["manager"] if index % 3 == 0 else None,
            proposed_on=proposed_on if stage != "idea" else None,
            started_on=started_on,
            delivered_on=delivered_on,
            investment=str(rng.randrange(20, 400) * 1000),
            expected=expected,
            realised=realised,
            funding="gain_share"
            if gain_share
            else rng.choice(["provider", "client", "shared", "innovation_fund"]),
            gain_share_pct="25" if gain_share else None,
            gain_share_baseline=str((expected / 2).quantize(Decimal("1"))) if gain_share else None,
        )
        if stage == "cancelled" and project.stage == "idea":
            project_services.project_transition(actor=None, project=project, to_stage="cancelled")
        if stage not in ("delivered", "in_progress"):
            return
        baseline_date = started_on - dt.timedelta(days=14)
        end = delivered_on or self.today
        span = (end - started_on).days
        dates = [started_on + dt.timedelta(days=span * k // 4) for k in range(1, 5)]
        for code, baseline, after in kpi_specs:
            # Vary the achieved value around the template so improvements differ.
            achieved = (
                Decimal(after) + (Decimal(baseline) - Decimal(after)) * Decimal(rng.randrange(-20, 60)) / 100
            )
            target = Decimal(after) if rng.random() < 0.6 else None
            if stage == "in_progress":
                dates = dates[:2]
            self._track(
                key=f"demo-pk-gen-{index:03d}-{number}-{code}",
                project=project,
                code=code,
                baseline=baseline,
                after=str(achieved.quantize(Decimal("0.01"))),
                target=target,
                baseline_date=baseline_date,
                measured_dates=sorted(set(dates)),
            )

    def viewer_organization(self, users: dict[str, User]) -> None:
        """The demo client viewer works at the aerospace client of the first published case."""
        organization = Organization.objects.get(external_id="demo-org-northwind-aerospace")
        UserProfile.objects.get_or_create(user=users["viewer"], defaults={"organization": organization})

    @transaction.atomic
    def run(self) -> int:
        ensure_reference_data()
        self.catalogue()
        users = self.users()
        self.published_cases(users)
        self.generated_portfolio(users)
        self.viewer_organization(users)
        seed_collaboration(users=users, password=DEMO_PASSWORD, today=self.today)
        return self.created

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
from projects import signoffs
from projects.access import Role
from projects.models import (
    InnovationProject,
    Organization,
    ProcessArea,
    Relationship,
    SignOff,
    UserProfile,
)
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
# The other account managers of the portfolio (same password), so that every project has an owner.
MORE_ACCOUNT_MANAGERS = [
    DemoUser("priya", Role.ACCOUNT_MANAGER, "Priya", "Raman"),
    DemoUser("tomas", Role.ACCOUNT_MANAGER, "Tomás", "Lindqvist"),
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
    "Sterling Haulage",
    "Bluefin Seafoods",
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
PROJECT_DESCRIPTIONS = {
    "Invoice automation with OCR": "Supplier invoices read by OCR and matched to orders without keying.",
    "Robotic reconciliation of bank statements": "Bots match bank statement lines to ledger entries daily.",
    "Self-service claims status portal": "Claimants follow their claim online instead of calling in.",
    "Collections prioritisation model": "A model ranks overdue accounts by the chance of collecting them.",
    "Supplier onboarding redesign": "One digital form and checks in parallel instead of a paper chain.",
    "Demand sensing pilot": "Short-term forecasts from point-of-sale and weather data.",
    "Chat triage for service desk": "A chat assistant sorts and routes requests before an agent takes them.",
    "Spend analytics cockpit": "Spend by category, supplier and contract in one place, refreshed weekly.",
    "First-time-right checklist": "A checklist at the point of entry catches errors before they travel.",
    "Payroll exception analytics": "Outliers in each payroll run flagged before it is paid.",
}
CANCELLATION_REASONS = [
    "The client's ERP upgrade covers the same need.",
    "Business case did not hold after the pilot.",
    "Merged into a wider programme of the client.",
]
# (client-side leader, provider-side leader), taken in turn by the generated relationships.
LEADERS = [
    ("Hannah Becker, CFO", "Ravi Menon, engagement lead"),
    ("Daniel Osei, COO", "Anna Kowalska, delivery director"),
    ("Sofia Marques, VP Operations", "Miguel Torres, account director"),
    ("James Whitfield, CIO", "Thandi Nkosi, engagement lead"),
    ("Yuki Tanaka, head of shared services", "Marta Nowak, delivery director"),
    ("Claire Dubois, CFO", "Arjun Patel, engagement lead"),
    ("Oliver Grant, VP Finance", "Lucía Fernández, account director"),
]
PUBLISHED_LEADERS = [
    ("Karen Holt, VP Supply Chain", "Vikram Iyer, delivery head"),
    ("Graham Lowe, COO", "Agnieszka Wójcik, delivery head"),
    ("Denise Carter, VP Claims", "Paolo Reyes, delivery head"),
]
# Generated relationships whose contract began under three months ago: "new — not scored yet".
NEW_RELATIONSHIPS = {7, 19}
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
        # The demo admin once `users()` has run; until then (the catalogue alone, as the large
        # portfolio's generator asks for it) the system writes.
        self.admin = None

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
            actor=self.admin,
            fields=project_services.OrganizationFields(
                name=name, kind=kind, industry=industry, country=country, external_id=key
            ),
        )

    def _kpi(self, code: str) -> KPI:
        return KPI.objects.get(code=code, deleted_at__isnull=True)

    # --- pieces ---------------------------------------------------------------------------
    def users(self) -> dict[str, User]:
        users = {}
        for demo in [*DEMO_USERS, *MORE_ACCOUNT_MANAGERS]:
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
        # Records are written in people's names, as they would be: the admin sets up organisations
        # and relationships, each relationship's account manager its projects and figures.
        self.admin = users["admin"]
        return users

    def catalogue(self) -> None:
        for code, name, unit, direction, description in CATALOGUE:
            if KPI.objects.filter(code=code).exists():
                continue
            kpi_services.kpi_create(
                actor=self.admin,
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
        self,
        *,
        key,
        name,
        client,
        provider,
        areas,
        start,
        value,
        managers,
        leaders,
        end=None,
        status="active",
    ) -> Relationship:
        found = self._exists(Relationship, key)
        if found:
            return found
        relationship = project_services.relationship_create(
            actor=self.admin,
            fields=project_services.RelationshipFields(
                name=name,
                client=client,
                provider=provider,
                process_areas=list(ProcessArea.objects.filter(code__in=areas)),
                contract_start=start,
                contract_end=end or start.replace(year=start.year + 5),
                annual_contract_value=value,
                currency="USD",
                status=status,
                account_managers=managers,
                external_id=key,
            ),
        )
        project_services.relationship_set_leadership(
            actor=self.admin,
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
            actor=owner,
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
                actor=project.owner,
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
                actor=project.owner,
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
                leaders=PUBLISHED_LEADERS[offset],
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

    def generated_portfolio(self, users: dict[str, User]) -> None:
        """One relationship per name of CLIENT_NAMES, looked after by the three account managers in
        turn. Most have delivered evidence; a few are renewing or have ended, two began too
        recently to be scored, and their projects spread over every stage."""
        providers = [
            self._organization(name, "provider", "Business process outsourcing", country)
            for name, country in PROVIDER_NAMES
        ]
        areas_by_code = dict(ProcessArea.objects.values_list("code", "name"))
        managers = [users["manager"], users["priya"], users["tomas"]]
        for index, client_name in enumerate(CLIENT_NAMES):
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
            status, start, end = self._contract(index)
            manager = managers[index % len(managers)]
            relationship = self._relationship(
                key=f"demo-rel-gen-{index:03d}",
                name=f"{client.name} — {areas_by_code[areas[0]].lower()}",
                client=client,
                provider=provider,
                areas=areas,
                start=start,
                end=end,
                status=status,
                value=Decimal(self.rng.randrange(800, 12000) * 1000),
                managers=[manager],
                leaders=LEADERS[index % len(LEADERS)],
            )
            new = start > self.today - dt.timedelta(days=90)
            # Relationships differ in how much they deliver, so the tiers spread out.
            project_count = 2 + (index * 5) % 6
            for number in range(project_count):
                stage = self._generated_stage(index, number, status=status, new=new)
                title, level, kpi_specs = PROJECT_TEMPLATES[(index * 3 + number) % len(PROJECT_TEMPLATES)]
                self._generated_project(
                    relationship, index, number, stage, title, level, kpi_specs, manager, end
                )

    def _contract(self, index: int) -> tuple[str, dt.date, dt.date]:
        """(status, start, end) of a generated relationship's contract."""
        if index in NEW_RELATIONSHIPS:
            start = (self.today - dt.timedelta(days=40)).replace(day=1)
            return "active", start, start.replace(year=start.year + 3)
        start = dt.date(self.today.year - 2 - index % 3, 1 + index % 12, 1)
        if index % 8 == 5:  # the contract ended two months ago
            return "ended", start, (self.today - dt.timedelta(days=60))
        if index % 5 == 2:  # up for renewal within the year
            return "renewing", start, self.today + dt.timedelta(days=150 + index)
        return "active", start, start.replace(year=start.year + 5)

    @staticmethod
    def _generated_stage(index: int, number: int, *, status: str, new: bool) -> str:
        """The stage of a generated project: the first of most relationships is delivered (their
        evidence), the rest spread over the stages; a new relationship has nothing delivered yet,
        an ended one nothing open."""
        if new:
            return ("proposed", "idea", "approved")[number % 3]
        stage = "delivered" if number == 0 else STAGE_MIX[(index + number) % len(STAGE_MIX)]
        if status == "ended" and stage in InnovationProject.OPEN_STAGES:
            return "cancelled" if stage == "idea" else "delivered"
        return stage

    def _generated_project(self, relationship, index, number, stage, title, level, kpi_specs, owner, end):
        rng = self.rng
        last_day = min(self.today - dt.timedelta(days=1), end - dt.timedelta(days=1))
        proposed_on = last_day - dt.timedelta(days=rng.randrange(120, 700))
        proposed_on = max(proposed_on, relationship.contract_start)
        started_on = delivered_on = None
        if stage in ("in_progress", "delivered"):
            started_on = min(proposed_on + dt.timedelta(days=rng.randrange(20, 90)), last_day)
        if stage == "delivered":
            delivered_on = min(last_day, started_on + dt.timedelta(days=rng.randrange(60, 240)))
        expected = Decimal(rng.randrange(50, 900) * 1000)
        realised = None
        if stage == "delivered" and rng.random() < 0.85:
            realised = (expected * Decimal(rng.randrange(40, 130)) / 100).quantize(Decimal("1"))
        gain_share = stage == "delivered" and rng.random() < 0.3
        project = self._project(
            key=f"demo-prj-gen-{index:03d}-{number}",
            relationship=relationship,
            title=title,
            description=PROJECT_DESCRIPTIONS.get(title, ""),
            level=level,
            stage="idea" if stage == "cancelled" else stage,
            owner=owner,
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
            project_services.project_advance(
                actor=owner,
                project=project,
                to_stage="cancelled",
                cancellation_reason=CANCELLATION_REASONS[index % len(CANCELLATION_REASONS)],
            )
        if stage not in ("delivered", "in_progress"):
            return
        baseline_date = started_on - dt.timedelta(days=14)
        end_of_path = delivered_on or last_day
        span = (end_of_path - started_on).days
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
                measured_dates=sorted({d for d in dates if d > baseline_date}),
            )

    def client_signoff(self, users: dict[str, User]) -> None:
        """Northwind Aerospace signs off its relationship's approvals and realised benefits (Clara,
        the demo client viewer, works there): a proposal waits for her approval, and an updated
        benefit figure of the published case for her confirmation."""
        relationship = Relationship.objects.get(external_id="demo-rel-aerospace")
        manager = users["manager"]
        proposal = self._project(
            key="demo-prj-aerospace-forecasting",
            relationship=relationship,
            title="Predictive demand planning for spare parts",
            description="Forecast spare-parts demand per aircraft type from flight hours and removals, "
            "so that parts for aircraft-on-ground requests are stocked before they are asked for.",
            level="strategic",
            stage="proposed",
            owner=manager,
            proposed_on=self.today - dt.timedelta(days=12),
            investment="420000",
            expected="1600000",
            funding="shared",
        )
        if not relationship.client_signoff_required:
            project_services.relationship_update(
                actor=self.admin,
                relationship=relationship,
                changes=project_services.RelationshipFields(client_signoff_required=True),
            )
        if not SignOff.objects.filter(project=proposal).exists():
            signoffs.signoff_request(
                actor=manager,
                project=proposal,
                kind=SignOff.Kind.APPROVAL,
                note="Scope and budget as agreed in the last quarterly review.",
            )
            self.created += 1
        delivered = InnovationProject.objects.get(external_id="demo-prj-aerospace")
        if not SignOff.objects.filter(project=delivered).exists():
            signoffs.signoff_request(
                actor=manager,
                project=delivered,
                kind=SignOff.Kind.BENEFIT,
                realised_annual_benefit=Decimal("1120000"),
                note="Q3 review: fewer expedited shipments than planned.",
            )
            self.created += 1

    def viewer_organization(self, users: dict[str, User]) -> None:
        """The demo client viewer works at the aerospace client of the first published case."""
        organization = Organization.objects.get(external_id="demo-org-northwind-aerospace")
        UserProfile.objects.get_or_create(user=users["viewer"], defaults={"organization": organization})

    @transaction.atomic
    def run(self) -> int:
        ensure_reference_data()
        users = self.users()
        self.catalogue()
        self.published_cases(users)
        self.generated_portfolio(users)
        self.viewer_organization(users)
        seed_collaboration(users=users, password=DEMO_PASSWORD, today=self.today)
        self.client_signoff(users)
        return self.created

"""A large generated portfolio (1,000 relationships by default), for looking at the dashboards at scale.

Rows are written with bulk inserts, a few statements per table per batch, instead of one service
call per row (which would take minutes): the generator builds only rows that satisfy the model's
rules and the database's constraints (which still check every insert), gives every synced record
version 1, timestamps and the write transaction's change stamp, and keys everything by
`external_id` ("scale-…"), so running it again adds only what is missing. It does not write audit
entries: this is generated sample data, not anyone's change. The last 12 monthly scores of the new
relationships are then computed by the same roll-up as real data (kpis.rollup).

Everything is derived from the relationship's index and a fixed seed, so the portfolio is the same
on every machine (dates are relative to the day it is generated).
"""

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from demo.portfolio import DemoSeeder
from kpis.models import KPI, Measurement, ProjectKPI
from kpis.rollup import rollup_history
from projects.models import InnovationProject, LeadershipPair, Organization, ProcessArea, Relationship
from projects.records import current_change_stamp
from projects.reference_data import ensure_reference_data

PREFIX = "scale"
BATCH = 250

CLIENT_WORDS = [
    "Alder", "Birch", "Cedar", "Delta", "Ember", "Fjord", "Garnet", "Harbor", "Indigo", "Jasper",
    "Kestrel", "Larch", "Mistral", "Nordic", "Onyx", "Pacific", "Quartz", "Raven", "Sierra", "Tundra",
    "Umber", "Vista", "Willow", "Xenon", "Yarrow", "Zephyr",
]  # fmt: skip
CLIENT_KINDS = [
    ("Bank", "Banking"), ("Insurance", "Insurance"), ("Telecom", "Telecommunications"),
    ("Pharma", "Pharmaceuticals"), ("Motors", "Automotive"), ("Energy", "Energy"), ("Retail", "Retail"),
    ("Media", "Media"), ("Freight", "Logistics"), ("Foods", "Consumer goods"), ("Hotels", "Hospitality"),
    ("Chemicals", "Chemicals"), ("Health", "Health care"), ("Airlines", "Aviation"),
    ("Utilities", "Utilities"),
]  # fmt: skip
PROVIDERS = [
    ("Atlas Business Services", "India"), ("Keystone Analytics Outsourcing", "Poland"),
    ("Crescent Claims Partners", "Philippines"), ("Meridian Shared Services", "Mexico"),
    ("Northstar Operations", "South Africa"), ("Lighthouse BPO", "Ireland"),
    ("Pinnacle Process Partners", "Romania"), ("Harborview Services", "Malaysia"),
    ("Cobalt Operations Group", "Costa Rica"), ("Summit Global Delivery", "Egypt"),
    ("Orbit Back Office", "Vietnam"), ("Granite Shared Services", "Portugal"),
]  # fmt: skip
COUNTRIES = ["United States", "Germany", "United Kingdom", "France", "Japan", "Canada", "Australia", "Spain"]
AREAS = [
    "finance_accounting", "human_resources", "procurement", "claims", "supply_chain",
    "customer_service", "it_services", "logistics", "vendor_management", "analytics",
]  # fmt: skip
TITLES = [
    ("Invoice automation", "operational"), ("Robotic reconciliation", "operational"),
    ("Self-service status portal", "process"), ("Collections prioritisation", "process"),
    ("Supplier onboarding redesign", "process"), ("Demand sensing", "strategic"),
    ("Service-desk chat triage", "operational"), ("Spend analytics cockpit", "strategic"),
    ("First-time-right checklist", "operational"), ("Exception analytics", "process"),
    ("Predictive maintenance of parts supply", "strategic"), ("Claims fraud screening", "strategic"),
]  # fmt: skip
# How a KPI's value typically moves: (code, baseline low, baseline high, relative change of a good project)
KPI_PATTERNS = {
    "order_fill_rate": (55, 85, Decimal("0.20")),
    "turnaround_time": (12, 40, Decimal("-0.30")),
    "stock_fill_rate": (75, 92, Decimal("0.08")),
    "inventory_level": (100, 100, Decimal("-0.20")),
    "error_rate": (100, 100, Decimal("-0.35")),
    "cost_per_claim": (20, 45, Decimal("-0.20")),
    "cycle_time": (4, 25, Decimal("-0.40")),
    "first_pass_yield": (70, 90, Decimal("0.12")),
    "customer_satisfaction": (6, 8, Decimal("0.12")),
    "invoice_processing_cost": (2, 6, Decimal("-0.35")),
    "days_sales_outstanding": (35, 70, Decimal("-0.18")),
}
TWO = Decimal("0.01")


@dataclass
class Result:
    relationships: int = 0
    projects: int = 0
    project_kpis: int = 0
    measurements: int = 0
    scores: int = 0
    relationship_ids: list[int] | None = None


def _key(*parts) -> str:
    return "-".join([PREFIX, *(str(part) for part in parts)])


class ScalePortfolio:
    """Generates relationships number 0 … count − 1 (those not yet present)."""

    def __init__(self, *, count: int = 1000, today: dt.date | None = None, seed: int = 20261129):
        self.count = count
        self.today = today or timezone.localdate()
        self.seed = seed
        self.now = timezone.now()

    # --- helpers --------------------------------------------------------------------------
    def _synced(self) -> dict:
        return {
            "version": 1,
            "created_at": self.now,
            "updated_at": self.now,
            "change_stamp": self.stamp,
        }

    def _days_ago(self, days: int) -> dt.date:
        return self.today - dt.timedelta(days=days)

    # --- organisations --------------------------------------------------------------------
    def _organizations(self, indices: list[int]) -> tuple[dict[int, Organization], list[Organization]]:
        providers = [
            Organization(
                name=name,
                kind=Organization.Kind.PROVIDER,
                industry="Business process outsourcing",
                country=country,
                external_id=_key("org", "provider", number),
                **self._synced(),
            )
            for number, (name, country) in enumerate(PROVIDERS)
        ]
        clients = {}
        for index in indices:
            number = self._client_number(index)
            word = CLIENT_WORDS[number % len(CLIENT_WORDS)]
            kind, industry = CLIENT_KINDS[(number // len(CLIENT_WORDS)) % len(CLIENT_KINDS)]
            cycle = number // (len(CLIENT_WORDS) * len(CLIENT_KINDS))
            name = f"{word} {kind}" + (f" {cycle + 1}" if cycle else "")
            clients[number] = Organization(
                name=name,
                kind=Organization.Kind.CLIENT,
                industry=industry,
                country=COUNTRIES[number % len(COUNTRIES)],
                external_id=_key("org", "client", f"{number:04d}"),
                **self._synced(),
            )
        # Organisations another run (or the demo seed) already made are kept as they are.
        existing_names = set(
            Organization.objects.filter(
                deleted_at__isnull=True, name__in=[o.name for o in [*providers, *clients.values()]]
            ).values_list("name", flat=True)
        )
        Organization.objects.bulk_create(
            [o for o in [*providers, *clients.values()] if o.name not in existing_names], batch_size=BATCH
        )
        by_name = {
            o.name: o
            for o in Organization.objects.filter(
                deleted_at__isnull=True, name__in=[o.name for o in [*providers, *clients.values()]]
            )
        }
        return (
            {number: by_name[client.name] for number, client in clients.items()},
            [by_name[provider.name] for provider in providers],
        )

    def _client_number(self, index: int) -> int:
        # About two relationships per client: most clients outsource to two providers.
        return index // 2 if index % 5 else index // 2 + 7

    # --- generation -----------------------------------------------------------------------
    @transaction.atomic
    def run(self, *, scores: bool = True) -> Result:
        """Add the missing relationships and, with `scores`, roll up their last 12 months of scores."""
        result = self._generate()
        if scores and result.relationship_ids:
            result.scores = rollup_history(
                months=12, today=self.today, relationship_ids=result.relationship_ids
            )
        return result

    def _generate(self) -> Result:
        ensure_reference_data()
        if not KPI.objects.filter(deleted_at__isnull=True).exists():
            DemoSeeder(today=self.today).catalogue()
        self.stamp = current_change_stamp()
        existing = set(
            Relationship.objects.filter(external_id__startswith=_key("rel", "")).values_list(
                "external_id", flat=True
            )
        )
        indices = [i for i in range(self.count) if _key("rel", f"{i:05d}") not in existing]
        result = Result(relationship_ids=[])
        if not indices:
            return result
        clients, providers = self._organizations(indices)
        areas = {area.code: area for area in ProcessArea.objects.all()}
        kpis = {kpi.code: kpi for kpi in KPI.objects.filter(deleted_at__isnull=True, code__in=KPI_PATTERNS)}
        manager = User.objects.filter(username="manager").first()
        for start in range(0, len(indices), BATCH):
            batch = indices[start : start + BATCH]
            self._batch(batch, clients, providers, areas, kpis, manager, result)
        return result

    def _batch(self, indices, clients, providers, areas, kpis, manager, result: Result) -> None:
        relationships, area_links, rngs = [], [], {}
        for index in indices:
            rng = rngs[index] = random.Random(self.seed * 100_003 + index)
            client = clients[self._client_number(index)]
            # Relationships of the same client go to different providers (their indices never
            # differ by a multiple of the provider count), so no (client, provider, name) repeats.
            provider = providers[(self._client_number(index) * 5 + index) % len(providers)]
            # Contracts run five years; the live ones started within the last four and a half.
            start = self._days_ago(rng.randrange(200, 4 * 365 + 180))
            status = rng.choices(["active", "renewing", "ended"], weights=[86, 9, 5])[0]
            end = start.replace(year=start.year + 5) if start.month != 2 or start.day != 29 else None
            if status == "ended":
                end = self._days_ago(rng.randrange(1, 150))
                start = min(start, end - dt.timedelta(days=400))
            area_codes = rng.sample(AREAS, rng.choice([1, 2, 2, 3]))
            relationships.append(
                Relationship(
                    name=f"{client.name} — {provider.name.split()[0]} {areas[area_codes[0]].name.lower()}",
                    client=client,
                    provider=provider,
                    contract_start=start,
                    contract_end=end,
                    annual_contract_value=Decimal(rng.randrange(500, 25_000) * 1000),
                    currency=rng.choices(["USD", "EUR", "GBP"], weights=[80, 14, 6])[0],
                    status=status,
                    external_id=_key("rel", f"{index:05d}"),
                    **self._synced(),
                )
            )
            area_links.append(area_codes)
        Relationship.objects.bulk_create(relationships, batch_size=BATCH)
        # bulk_create sets primary keys on PostgreSQL and SQLite ≥ 3.35; re-read to be sure.
        saved = {
            r.external_id: r
            for r in Relationship.objects.filter(
                external_id__in=[r.external_id for r in relationships]
            ).select_related("client", "provider")
        }
        relationships = [saved[r.external_id] for r in relationships]
        Through = Relationship.process_areas.through
        Through.objects.bulk_create(
            [
                Through(relationship_id=relationship.pk, processarea_id=areas[code].pk)
                for relationship, codes in zip(relationships, area_links, strict=True)
                for code in codes
            ],
            batch_size=1000,
        )
        LeadershipPair.objects.bulk_create(
            [
                LeadershipPair(
                    relationship=relationship,
                    client_leader=f"{relationship.client.name.split()[0]} "
                    + rngs[i].choice(["COO", "CFO", "CPO"]),
                    provider_leader=f"{relationship.provider.name.split()[0]} engagement lead",
                    started_on=relationship.contract_start,
                )
                for i, relationship in zip(indices, relationships, strict=True)
            ],
            batch_size=BATCH,
        )
        if manager is not None:
            ManagerLink = Relationship.account_managers.through
            ManagerLink.objects.bulk_create(
                [
                    ManagerLink(relationship_id=relationship.pk, user_id=manager.pk)
                    for i, relationship in zip(indices, relationships, strict=True)
                    if i % 25 == 0
                ]
            )
        result.relationships += len(relationships)
        result.relationship_ids.extend(r.pk for r in relationships)

        projects, plans = [], []
        for index, relationship in zip(indices, relationships, strict=True):
            rng = rngs[index]
            # Relationships differ in how steadily they deliver, so scores spread over the tiers.
            cadence = rng.choices([0, 1, 2, 3, 4], weights=[8, 17, 28, 28, 19])[0]
            for number in range(cadence * 3 + rng.randrange(0, 3)):
                project, plan = self._project(rng, relationship, index, number, cadence)
                projects.append(project)
                plans.append(plan)
        InnovationProject.objects.bulk_create(projects, batch_size=BATCH)
        saved = {
            p.external_id: p
            for p in InnovationProject.objects.filter(external_id__in=[p.external_id for p in projects])
        }
        projects = [saved[p.external_id] for p in projects]
        result.projects += len(projects)

        project_kpis, paths = [], []
        for project, plan in zip(projects, plans, strict=True):
            for code, baseline, after, target, dates in plan:
                kpi = kpis.get(code)
                if kpi is None:
                    continue
                project_kpis.append(
                    ProjectKPI(
                        project=project,
                        kpi=kpi,
                        unit=kpi.unit,
                        baseline_value=baseline,
                        baseline_date=dates[0] - dt.timedelta(days=30),
                        target_value=target,
                        external_id=_key("pk", project.external_id.removeprefix(f"{PREFIX}-prj-"), code),
                        **self._synced(),
                    )
                )
                paths.append((baseline, after, dates))
        ProjectKPI.objects.bulk_create(project_kpis, batch_size=BATCH)
        saved = {
            p.external_id: p
            for p in ProjectKPI.objects.filter(external_id__in=[p.external_id for p in project_kpis])
        }
        project_kpis = [saved[p.external_id] for p in project_kpis]
        result.project_kpis += len(project_kpis)

        measurements = []
        for project_kpi, (baseline, after, dates) in zip(project_kpis, paths, strict=True):
            for step, measured_on in enumerate(dates, start=1):
                value = (baseline + (after - baseline) * step / len(dates)).quantize(TWO)
                measurements.append(
                    Measurement(
                        project_kpi=project_kpi,
                        measured_on=measured_on,
                        value=value,
                        unit=project_kpi.unit,
                        external_id=f"{project_kpi.external_id}-m{step}",
                        **self._synced(),
                    )
                )
        Measurement.objects.bulk_create(measurements, batch_size=1000)
        result.measurements += len(measurements)

    def _project(self, rng: random.Random, relationship: Relationship, index: int, number: int, cadence: int):
        title, level = TITLES[(index + number * 5) % len(TITLES)]
        stage = rng.choices(
            ["delivered", "in_progress", "approved", "proposed", "idea", "cancelled"],
            weights=[30 + cadence * 10, 14, 10, 10, 10, 6],
        )[0]
        proposed_on = started_on = delivered_on = None
        if stage != "idea":
            proposed_on = max(relationship.contract_start, self._days_ago(rng.randrange(60, 760)))
        if stage in ("in_progress", "delivered"):
            started_on = min(self.today, proposed_on + dt.timedelta(days=rng.randrange(10, 60)))
        if stage == "delivered":
            delivered_on = started_on + dt.timedelta(days=rng.randrange(30, 200))
            if delivered_on > self.today:  # not finished yet
                stage, delivered_on = "in_progress", None
        expected = Decimal(rng.randrange(40, 1500) * 1000)
        realised = None
        if stage == "delivered" and rng.random() < 0.85:
            realised = (expected * Decimal(rng.randrange(40 + cadence * 10, 130)) / 100).quantize(
                Decimal("1")
            )
        gain_share = stage == "delivered" and rng.random() < 0.2
        project = InnovationProject(
            relationship=relationship,
            title=f"{title} ({relationship.client.name.split()[0]})",
            description=f"{title} for {relationship.client.name}.",
            level=level,
            stage=stage,
            originator=rng.choice(["provider", "client", "joint"]),
            proposed_on=proposed_on,
            started_on=started_on,
            delivered_on=delivered_on,
            investment=Decimal(rng.randrange(10, 600) * 1000),
            expected_annual_benefit=expected,
            realised_annual_benefit=realised,
            funding="gain_share"
            if gain_share
            else rng.choice(["provider", "client", "shared", "innovation_fund"]),
            gain_share_pct=Decimal("25") if gain_share else None,
            gain_share_baseline=(expected / 2).quantize(Decimal("1")) if gain_share else None,
            external_id=_key("prj", f"{index:05d}", number),
            **self._synced(),
        )
        plan = []
        if stage in ("in_progress", "delivered"):
            end = delivered_on or self.today
            span = max((end - started_on).days, 3)
            dates = sorted({started_on + dt.timedelta(days=span * k // 3) for k in range(1, 4)})
            if stage == "in_progress":
                dates = dates[:1]
            # Better-run relationships (higher cadence) tend to achieve more of the typical change.
            quality = Decimal(rng.randrange(-20 + cadence * 10, 90 + cadence * 20)) / 100
            for code in rng.sample(sorted(KPI_PATTERNS), rng.choice([1, 2, 2, 3])):
                low, high, change = KPI_PATTERNS[code]
                baseline = (
                    Decimal(rng.randint(low, high))
                    if high > 10
                    else Decimal(rng.uniform(low, high)).quantize(TWO)
                )
                after = (baseline * (1 + change * quality)).quantize(TWO)
                if code in ("order_fill_rate", "stock_fill_rate", "first_pass_yield"):
                    after = min(after, Decimal(100))
                target = (baseline * (1 + change)).quantize(TWO) if rng.random() < 0.5 else None
                if target is not None and code in ("order_fill_rate", "stock_fill_rate", "first_pass_yield"):
                    target = min(target, Decimal(100))
                plan.append((code, baseline, max(after, Decimal(0)), target, dates))
        return project, plan

"""The scoring benchmark: a generated portfolio in PostgreSQL, the roll-up, and its SQL floor.

The *floor* is one hand-written SQL statement that computes the same per-relationship figures
(latest value per project KPI as of the month's end, per-project mean capped improvement,
level-weighted impact, attainment, benefit sums, quarters with a delivery, the score) over the same
rows, and writes nothing. The roll-up does all of that plus the per-project explanation and the
upsert; the ratio of the two says what the ORM, Python's Decimal and the snapshot cost.

PostgreSQL only: the portfolio is generated inside the database (INSERT … SELECT over
generate_series with a fixed random seed), which is far faster than sending rows over the wire.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection

from kpis import scoring
from kpis.models import RelationshipScore

KPI_CATALOGUE = [
    # code, unit, direction, baseline range (low, span), improvement at the end (fraction of baseline)
    ("fill_rate", "percent", "higher_is_better", 40, 40),
    ("turnaround_hours", "hours", "lower_is_better", 10, 30),
    ("inventory_index", "index", "lower_is_better", 100, 0),
    ("error_index", "index", "lower_is_better", 100, 0),
    ("cost_per_item", "currency", "lower_is_better", 2, 40),
    ("cycle_days", "days", "lower_is_better", 3, 20),
    ("first_pass_yield", "percent", "higher_is_better", 50, 40),
    ("satisfaction", "score", "higher_is_better", 5, 3),
    ("throughput", "count", "higher_is_better", 100, 900),
    ("dso_days", "days", "lower_is_better", 30, 40),
    ("rework_intercepted", "percent", "higher_is_better", 0, 0),  # a zero baseline: no improvement
    ("margin_ratio", "ratio", "higher_is_better", 0, 2),
]
PROVIDERS = 20
INDUSTRIES = ["Manufacturing", "Retail", "Health care", "Insurance", "Aerospace", "Logistics"]
KPIS_PER_PROJECT = 2
TABLES = [
    "kpis_relationshipscore",
    "kpis_pendingscorerecompute",
    "kpis_measurement",
    "kpis_projectkpi",
    "kpis_kpi",
    "projects_innovationproject",
    "projects_leadershippair",
    "projects_relationship_process_areas",
    "projects_relationship_account_managers",
    "projects_relationship",
    "projects_organization",
]


@dataclass(frozen=True)
class PortfolioSize:
    relationships: int
    projects: int
    measurements: int

    @property
    def project_kpis(self) -> int:
        return self.projects * KPIS_PER_PROJECT

    @property
    def measurements_per_kpi(self) -> int:
        return max(1, self.measurements // self.project_kpis)


def portfolio_counts() -> PortfolioSize:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM projects_relationship),"
            " (SELECT count(*) FROM projects_innovationproject), (SELECT count(*) FROM kpis_measurement)"
        )
        return PortfolioSize(*cursor.fetchone())


def generate_portfolio(size: PortfolioSize, *, today: dt.date, seed: float = 0.20261129) -> None:
    """Replace the portfolio tables' contents with a generated portfolio of `size`.

    Projects are delivered over the last three years (so about a third of the delivered ones fall
    in the current window), some cancelled, some soft-deleted; each tracks two KPIs, half of them
    with a target, each measured `measurements_per_kpi` times every 45 days from its baseline (the
    latest ones may lie after the scored month and must be ignored); 1 % of measurements are
    soft-deleted.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        cursor.execute("SELECT setseed(%s)", [seed])
        stamp = "now(), now(), 1, 0"  # created_at, updated_at, version, change_stamp
        cursor.execute(
            f"""
            INSERT INTO projects_organization (created_at, updated_at, version, change_stamp, name, kind,
                                               industry, country)
            SELECT {stamp}, 'Provider ' || i, 'provider', 'Business process outsourcing', 'India'
            FROM generate_series(1, %(providers)s) AS i
            UNION ALL
            SELECT {stamp}, 'Client ' || i, 'client', (%(industries)s::text[])[1 + i %% %(industry_count)s],
                   'Germany'
            FROM generate_series(1, %(relationships)s) AS i
            """,
            {
                "providers": PROVIDERS,
                "relationships": size.relationships,
                "industries": INDUSTRIES,
                "industry_count": len(INDUSTRIES),
            },
        )
        cursor.execute(
            f"""
            INSERT INTO projects_relationship (created_at, updated_at, version, change_stamp, name, client_id,
                provider_id, contract_start, contract_end, annual_contract_value, currency, status)
            SELECT {stamp}, 'Relationship ' || i, {PROVIDERS} + i, 1 + i %% {PROVIDERS},
                   %(today)s::date - 2000, %(today)s::date + 1000, 1000000, 'USD', 'active'
            FROM generate_series(1, %(relationships)s) AS i
            """,
            {"today": today, "relationships": size.relationships},
        )
        # Each relationship covers one process area, every third a second one (peer cohorts).
        cursor.execute(
            """
            INSERT INTO projects_relationship_process_areas (relationship_id, processarea_id)
            SELECT DISTINCT r.id, area.id
            FROM projects_relationship r
            CROSS JOIN LATERAL (VALUES (r.id), (CASE WHEN r.id % 3 = 0 THEN r.id / 3 + 1 END)) AS pick(n)
            JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS position, count(*) OVER () AS areas
                  FROM projects_processarea) AS area ON area.position = pick.n % area.areas
            """
        )
        cursor.execute(
            f"""
            INSERT INTO kpis_kpi (created_at, updated_at, version, change_stamp, code, name, unit, direction,
                                  description)
            SELECT {stamp}, code, initcap(replace(code, '_', ' ')), unit, direction, ''
            FROM unnest(%(codes)s::text[], %(units)s::text[], %(directions)s::text[])
                 AS k(code, unit, direction)
            """,
            {
                "codes": [row[0] for row in KPI_CATALOGUE],
                "units": [row[1] for row in KPI_CATALOGUE],
                "directions": [row[2] for row in KPI_CATALOGUE],
            },
        )
        # Stage by a random draw: 55 % delivered, 10 % cancelled, the rest open.
        cursor.execute(
            f"""
            INSERT INTO projects_innovationproject (created_at, updated_at, version, change_stamp,
                deleted_at, title, description, level, stage, originator, proposed_on, started_on,
                delivered_on, investment, expected_annual_benefit, realised_annual_benefit, funding,
                relationship_id, outcome, cancellation_reason)
            SELECT {stamp}, CASE WHEN random() < 0.02 THEN now() END,
                   'Project ' || j, '', (ARRAY['operational', 'process', 'strategic'])[1 + j %% 3],
                   stage, 'provider',
                   delivered - 260, CASE WHEN stage IN ('delivered', 'in_progress') THEN delivered - 200 END,
                   CASE WHEN stage = 'delivered' THEN delivered END,
                   50000,
                   CASE WHEN random() < 0.8 THEN round((10000 + random() * 990000)::numeric, 2) END,
                   CASE WHEN stage = 'delivered' AND random() < 0.7
                        THEN round((random() * 1200000)::numeric, 2) END,
                   'provider', 1 + (j - 1) %% %(relationships)s, '', ''
            FROM (
                SELECT j, %(today)s::date - (random() * 1095)::int AS delivered,
                       CASE WHEN draw < 0.55 THEN 'delivered' WHEN draw < 0.65 THEN 'cancelled'
                            WHEN draw < 0.8 THEN 'in_progress' WHEN draw < 0.9 THEN 'approved' ELSE 'idea' END
                       AS stage
                FROM (SELECT j, random() AS draw FROM generate_series(1, %(projects)s) AS j) AS drawn
            ) AS p
            """,
            {"today": today, "relationships": size.relationships, "projects": size.projects},
        )
        # Each project tracks KPIs k and k+1 of the catalogue; percent baselines stay within 0–100.
        cursor.execute(
            f"""
            INSERT INTO kpis_projectkpi (created_at, updated_at, version, change_stamp, project_id,
                                         kpi_id, unit, baseline_value, baseline_date, target_value)
            SELECT {stamp}, p.id, k.id, k.unit, base.value, coalesce(p.started_on, p.proposed_on) - 14,
                   CASE WHEN random() < 0.5 THEN LEAST(CASE WHEN k.unit = 'percent' THEN 100 END,
                        round(base.value * (1 + 0.3 * (CASE WHEN k.direction = 'higher_is_better'
                                                         THEN 1 ELSE -1 END)), 4)) END
            FROM projects_innovationproject p
            CROSS JOIN generate_series(0, %(per_project)s - 1) AS n
            JOIN kpis_kpi k ON k.id = 1 + (p.id * 7 + n) %% {len(KPI_CATALOGUE)}
            CROSS JOIN LATERAL (
                SELECT round((CASE k.code WHEN 'inventory_index' THEN 100 WHEN 'error_index' THEN 100
                    ELSE (ARRAY{[row[3] for row in KPI_CATALOGUE]})[k.id]
                         + random() * (ARRAY{[row[4] for row in KPI_CATALOGUE]})[k.id] END)::numeric, 4)
                       AS value
            ) AS base
            """,
            {"per_project": KPIS_PER_PROJECT},
        )
        # Measurements move from the baseline towards an end value between −20 % and +60 % better,
        # with noise; percent values are clamped to 0–100.
        cursor.execute(
            f"""
            INSERT INTO kpis_measurement (created_at, updated_at, version, change_stamp, deleted_at,
                                          project_kpi_id, measured_on, value, unit)
            SELECT {stamp}, CASE WHEN random() < 0.01 THEN now() END, pk.id, pk.baseline_date + 45 * m,
                   CASE WHEN pk.unit = 'percent' THEN LEAST(100, GREATEST(0, v)) ELSE GREATEST(0, v) END,
                   pk.unit
            FROM (
                SELECT pk.*, (CASE k.direction WHEN 'higher_is_better' THEN 1 ELSE -1 END)
                             * (random() * 0.8 - 0.2) AS gain
                FROM kpis_projectkpi pk JOIN kpis_kpi k ON k.id = pk.kpi_id
            ) AS pk
            CROSS JOIN generate_series(1, %(per_kpi)s) AS m
            CROSS JOIN LATERAL (
                SELECT round((pk.baseline_value * (1 + pk.gain * m / %(per_kpi)s + (random() - 0.5) * 0.04)
                              + (CASE WHEN pk.baseline_value = 0 THEN random() * 40 * m / %(per_kpi)s
                                      ELSE 0 END))::numeric, 4) AS v
            ) AS value
            """,
            {"per_kpi": size.measurements_per_kpi},
        )
        cursor.execute("ANALYZE")


# The tables a roll-up writes (score rows, re-stamped records, events): every run leaves its old row
# versions behind in them.
WRITTEN_TABLES = [
    "kpis_relationshipscore",
    "kpis_pendingscorerecompute",
    "kpis_pendingscoreperiod",
    "kpis_projectkpi",
    "projects_innovationproject",
    "projects_relationship",
    "outbox_event",
]


def vacuum_written_tables() -> None:
    """VACUUM what the previous runs wrote, as autovacuum would between nightly roll-ups.

    Without it, on a server with autovacuum off, each full roll-up leaves 1,000 dead relationship
    row versions (their change stamps) that the next floor and roll-up wade through: after 29 runs
    the floor's scan of 1,000 relationships took 1.3 s, and both figures drifted run by run.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(WRITTEN_TABLES)}")


FLOOR_SQL = """
WITH rel AS (
    SELECT id FROM projects_relationship WHERE deleted_at IS NULL
), prj AS (
    SELECT p.id, p.relationship_id, p.expected_annual_benefit AS expected,
           p.realised_annual_benefit AS realised,
           -- Realisation counts a project expecting a benefit unless its realised benefit is not
           -- recorded and it is still in its grace period (delivered after the last day of M − 6).
           (p.realised_annual_benefit IS NOT NULL OR p.delivered_on <= %(grace_ends)s) AS realisation_counts,
           CASE p.level WHEN 'operational' THEN %(w_operational)s WHEN 'process' THEN %(w_process)s
                        ELSE %(w_strategic)s END AS level_weight,
           ((extract(year FROM p.delivered_on)::int * 12 + extract(month FROM p.delivered_on)::int)
            - %(start_month_index)s) / %(quarter_months)s AS quarter
    FROM projects_innovationproject p JOIN rel ON rel.id = p.relationship_id
    WHERE p.stage = 'delivered' AND p.deleted_at IS NULL AND p.delivered_on BETWEEN %(start)s AND %(end)s
), pk AS (
    SELECT pk.id, pk.project_id, pk.baseline_value AS b, pk.target_value AS t,
           CASE k.direction WHEN 'higher_is_better' THEN 1 ELSE -1 END AS d
    FROM kpis_projectkpi pk JOIN prj ON prj.id = pk.project_id JOIN kpis_kpi k ON k.id = pk.kpi_id
    WHERE pk.deleted_at IS NULL
), latest AS (
    SELECT DISTINCT ON (m.project_kpi_id) m.project_kpi_id, m.value AS a
    FROM kpis_measurement m JOIN pk ON pk.id = m.project_kpi_id
    WHERE m.deleted_at IS NULL AND m.measured_on <= %(end)s
    ORDER BY m.project_kpi_id, m.measured_on DESC, m.id DESC
), kpi AS (
    SELECT pk.project_id, l.a,
           CASE WHEN l.a IS NOT NULL AND pk.b <> 0
                THEN GREATEST(-%(cap)s, LEAST(%(cap)s, pk.d * (l.a - pk.b) / abs(pk.b) * 100)) END AS capped,
           CASE WHEN l.a IS NOT NULL AND pk.t IS NOT NULL AND pk.t <> pk.b
                THEN GREATEST(0, LEAST(1, (l.a - pk.b) / (pk.t - pk.b))) END AS achievement
    FROM pk LEFT JOIN latest l ON l.project_kpi_id = pk.id
), per_project AS (
    SELECT prj.id, prj.relationship_id, prj.level_weight, prj.expected, prj.realised, prj.realisation_counts,
           prj.quarter,
           avg(kpi.capped) AS impact, count(kpi.a) AS measured,
           sum(kpi.achievement) AS achievement_sum, count(kpi.achievement) AS achievement_count
    FROM prj LEFT JOIN kpi ON kpi.project_id = prj.id
    GROUP BY prj.id, prj.relationship_id, prj.level_weight, prj.expected, prj.realised,
             prj.realisation_counts, prj.quarter
), per_relationship AS (
    SELECT relationship_id,
           sum(level_weight * impact) / nullif(sum(level_weight) FILTER (WHERE impact IS NOT NULL), 0)
               AS mean_impact,
           sum(achievement_sum) / nullif(sum(achievement_count), 0) AS attainment,
           sum(coalesce(realised, 0)) FILTER (WHERE expected > 0 AND realisation_counts) AS realised_sum,
           sum(expected) FILTER (WHERE expected > 0 AND realisation_counts) AS expected_sum,
           count(DISTINCT quarter) AS quarters, count(*) AS projects, sum(measured) AS kpis_measured
    FROM per_project GROUP BY relationship_id
), components AS (
    SELECT rel.id,
           -- LEAST and GREATEST skip NULLs, so "no data" must stay NULL explicitly.
           CASE WHEN r.mean_impact IS NOT NULL
                THEN round(GREATEST(0, LEAST(1, r.mean_impact / %(impact_full)s)), 6) END AS impact,
           round(r.attainment, 6) AS attainment,
           CASE WHEN r.expected_sum > 0
                THEN round(LEAST(1, r.realised_sum / r.expected_sum), 6) END AS realisation,
           round(coalesce(r.quarters, 0)::numeric / %(quarters)s, 6) AS continuity,
           coalesce(r.projects, 0) AS projects, coalesce(r.kpis_measured, 0) AS kpis_measured
    FROM rel LEFT JOIN per_relationship r ON r.relationship_id = rel.id
)
SELECT id, round(100 * (%(w_impact)s * coalesce(impact, 0) + %(w_attainment)s * coalesce(attainment, 0)
                        + %(w_realisation)s * coalesce(realisation, 0) + %(w_continuity)s * continuity)
                  / (%(w_impact)s * (impact IS NOT NULL)::int
                     + %(w_attainment)s * (attainment IS NOT NULL)::int
                     + %(w_realisation)s * (realisation IS NOT NULL)::int + %(w_continuity)s), 1) AS score,
       impact, attainment, realisation, continuity, projects, kpis_measured
FROM components
ORDER BY id
"""

FLOOR_COLUMNS = ("score", "impact", "attainment", "realisation", "continuity", "projects", "kpis_measured")


def floor_parameters(period: dt.date) -> dict:
    config = settings.BPO_SCORING
    window = scoring.score_window(period)
    weights = {f"w_{name}": Decimal(value) for name, value in config["WEIGHTS"].items()}
    levels = {f"w_{name}": int(value) for name, value in config["LEVEL_WEIGHTS"].items()}
    return {
        **weights,
        **levels,
        "start": window.start,
        "end": window.end,
        "grace_ends": scoring.realisation_grace_ends(window.period),
        "start_month_index": window.start.year * 12 + window.start.month,
        "quarter_months": config["WINDOW_MONTHS"] // config["QUARTERS"],
        "quarters": config["QUARTERS"],
        "cap": Decimal(config["IMPROVEMENT_CAP_PCT"]),
        "impact_full": Decimal(config["IMPACT_FULL_PCT"]),
    }


def run_floor(period: dt.date) -> dict[int, tuple]:
    """The floor statement's figures per relationship id."""
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL, floor_parameters(period))
        return {row[0]: row[1:] for row in cursor.fetchall()}


def mismatches(floor: dict[int, tuple], period: dt.date) -> list[str]:
    """Where the stored scores of `period` disagree with the floor's figures (should be none)."""
    stored = {
        row[0]: row[1:]
        for row in RelationshipScore.objects.filter(period=scoring.month_start(period)).values_list(
            "relationship_id",
            "score",
            "impact",
            "attainment",
            "realisation",
            "continuity",
            "projects_delivered",
            "kpis_measured",
        )
    }
    problems = []
    for relationship_id in sorted(set(floor) | set(stored)):
        expected, actual = floor.get(relationship_id), stored.get(relationship_id)
        if expected is None or actual is None:
            problems.append(f"relationship {relationship_id}: floor {expected}, stored {actual}")
            continue
        for name, want, got in zip(FLOOR_COLUMNS, expected, actual, strict=True):
            if want != got:
                problems.append(f"relationship {relationship_id} {name}: floor {want}, stored {got}")
    return problems


# --- Peer benchmarks ----------------------------------------------------------------------------

# The floor of kpis.benchmarks.portfolio_benchmarks: the same rows and the same figures written by
# hand in one statement (percent_rank in each area and in each area and industry, each area's and
# area-and-industry's size, distinct clients and quartiles), returned as rows and nothing more.
PEER_FLOOR_SQL = """
WITH cohort AS (
    SELECT s.relationship_id, pa.processarea_id AS area, r.client_id, o.industry, s.score,
           percent_rank() OVER (PARTITION BY pa.processarea_id ORDER BY s.score) AS rank_in_area,
           percent_rank() OVER (PARTITION BY pa.processarea_id, o.industry ORDER BY s.score)
               AS rank_in_industry
    FROM kpis_relationshipscore s
    JOIN projects_relationship r ON r.id = s.relationship_id
    JOIN projects_relationship_process_areas pa ON pa.relationship_id = r.id
    JOIN projects_organization o ON o.id = r.client_id
    WHERE s.period = %(period)s AND NOT s.is_new AND r.deleted_at IS NULL AND r.status = 'active'
), by_area AS (
    SELECT area, count(*) AS size, count(DISTINCT client_id) AS clients,
           percentile_cont(0.25) WITHIN GROUP (ORDER BY score) AS p25,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY score) AS median,
           percentile_cont(0.75) WITHIN GROUP (ORDER BY score) AS p75
    FROM cohort GROUP BY area
), by_industry AS (
    SELECT area, industry, count(*) AS size, count(DISTINCT client_id) AS clients,
           percentile_cont(0.25) WITHIN GROUP (ORDER BY score) AS p25,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY score) AS median,
           percentile_cont(0.75) WITHIN GROUP (ORDER BY score) AS p75
    FROM cohort GROUP BY area, industry
)
SELECT c.relationship_id, c.area, c.score, c.rank_in_area, a.size, a.clients, a.p25, a.median, a.p75,
       c.rank_in_industry, i.size, i.clients, i.p25, i.median, i.p75
FROM cohort c JOIN by_area a USING (area) JOIN by_industry i USING (area, industry)
"""


def run_peer_floor(period: dt.date) -> dict[tuple[int, int], tuple]:
    """The floor's figures per (relationship id, area id)."""
    with connection.cursor() as cursor:
        cursor.execute(PEER_FLOOR_SQL, {"period": scoring.month_start(period)})
        return {(row[0], row[1]): row[2:] for row in cursor.fetchall()}


def peer_cohorts(period: dt.date):
    """What the floor computes, as the product computes it: every cohort of the month (by area, and
    by area and industry) with its size, distinct clients and quartiles, from the one query."""
    from kpis.benchmarks import portfolio_benchmarks

    portfolio = portfolio_benchmarks(period=period)
    for cohort in (*portfolio.by_area.values(), *portfolio.by_area_industry.values()):
        cohort.quartiles()
    return portfolio


def peer_benchmarks(period: dt.date) -> list:
    """What the product computes for the whole portfolio: every relationship's benchmark in each of
    its areas, across industries and within its client's industry."""
    from kpis.benchmarks import portfolio_benchmarks
    from projects.models import ProcessArea

    areas = {area.pk: area for area in ProcessArea.objects.all()}
    portfolio = portfolio_benchmarks(period=period)
    return [
        (
            portfolio.of(relationship_id, areas[area_id]),
            portfolio.of(relationship_id, areas[area_id], same_industry=True),
        )
        for relationship_id, area_id in portfolio.member_of
    ]


def peer_mismatches(floor: dict[tuple[int, int], tuple], product: list) -> list[str]:
    """Where the product's benchmarks disagree with the floor's figures (should be none)."""
    from kpis.benchmarks import AVAILABLE

    problems = []
    if len(floor) != len(product):
        problems.append(f"{len(product)} benchmarks against {len(floor)} floor rows")
    minimum = settings.BPO_BENCHMARK
    for across, within in product:
        row = floor.get((across.relationship_id, across.area.pk))
        if row is None:
            problems.append(f"{across.relationship_id}/{across.area.pk}: not in the floor")
            continue
        score, rank, size, clients, *quartiles = row[:7]
        fair = size >= minimum["MIN_RELATIONSHIPS"] and clients >= minimum["MIN_CLIENTS"]
        if across.available != fair:
            problems.append(
                f"{across.relationship_id}/{across.area.pk}: shown {across.available}, floor {fair}"
            )
            continue
        if not fair:
            continue
        percentile = scoring.quantize(Decimal(repr(rank * 100)), Decimal("0.1"))
        if (across.score, across.percentile, across.cohort_size) != (score, percentile, size):
            problems.append(
                f"{across.relationship_id}/{across.area.pk}: rank or size differs from the floor's"
            )
        # The floor's quartiles are floats; the product's exact, to the cent: within half a cent.
        for got, floor_value in zip((across.p25, across.median, across.p75), quartiles, strict=True):
            if abs(float(got) - floor_value) > 0.005 + 1e-9:
                problems.append(f"{across.relationship_id}/{across.area.pk}: quartile {got} != {floor_value}")
        if within.status == AVAILABLE and within.percentile != scoring.quantize(
            Decimal(repr(row[7] * 100)), Decimal("0.1")
        ):
            problems.append(f"{across.relationship_id}/{across.area.pk} in its industry: percentile differs")
    return problems

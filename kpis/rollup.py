"""Monthly relationship scores: gather the inputs set-wise, compute them exactly, store snapshots.

A roll-up for one month reads its inputs with a fixed number of queries whatever the number of
relationships (live relationships; projects delivered in the window; their live KPIs with the latest
measurement of each as of the month's end, as kpis.selectors defines it), computes every figure in
Python with `Decimal` through kpis.scoring, and upserts one `RelationshipScore` per relationship in
the same transaction. Rows whose figures did not change are left alone, so running a roll-up twice
changes nothing, and a worker killed half-way leaves the old rows or the new ones, never a mix.

On PostgreSQL a transaction-scoped advisory lock per relationship makes a second roll-up of the same
relationship wait for the first, so two never compute and write the same rows at once; on SQLite
write transactions are serialised anyway (settings: BEGIN IMMEDIATE).
"""

import dataclasses
import datetime as dt
import functools
import gc
import hashlib
import io
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from kpis import scoring
from kpis.explanation import KPIExplanation, ProjectExplanation, QuarterExplanation, ScoreExplanation
from kpis.models import (
    Measurement,
    PendingScorePeriod,
    PendingScoreRecompute,
    ProjectKPI,
    RelationshipScore,
)
from kpis.score_events import append_score_events
from kpis.scoring import COMPONENT_PLACES, quantize
from kpis.selectors import latest_measurements
from kpis.signals import scores_rolled_up
from projects.models import InnovationProject, Relationship
from projects.records import current_change_stamp

# Advisory-lock keys of score roll-ups: this prefix in the high bits, the relationship id below.
LOCK_PREFIX = 0x5C02E << 40
# Relationships per slice when a batch's reading and writing overlap its computing (PostgreSQL).
PIPELINE_SLICE = 250

SCORE_FIELDS = (
    "score",
    "tier",
    "impact",
    "attainment",
    "realisation",
    "continuity",
    "basis",
    "components",
    "projects_delivered",
    "kpis_measured",
    "is_new",
)
# Written with the figures, but not figures themselves: an equal row is not rewritten for them.
BOOKKEEPING_FIELDS = ("reason", "inputs_fingerprint")


def _options() -> dict:
    return settings.BPO_SCORE_ROLLUP


# --- Inputs -----------------------------------------------------------------------------------


# Named tuples rather than dataclasses: tens of thousands are built per batch, and a frozen
# dataclass's __init__ costs several times a tuple's (measured).
class ProjectInput(NamedTuple):
    id: int
    relationship_id: int
    title: str
    level: str
    delivered_on: dt.date
    expected_benefit: Decimal | None
    realised_benefit: Decimal | None
    version: int = 1


class KPIInput(NamedTuple):
    project_kpi_id: int
    project_id: int
    kpi: str
    unit: str
    direction: str
    baseline: Decimal
    target: Decimal | None
    latest: Decimal | None = None
    latest_measured_on: dt.date | None = None
    # What the fingerprint rests on: the rows' versions (a write bumps them) and which measurement
    # is the latest.
    version: int = 1
    kpi_id: int = 0
    kpi_version: int = 1
    measurement_id: int | None = None
    measurement_version: int | None = None


@dataclass(frozen=True)
class ScoreInputs:
    window: scoring.Window
    relationship_ids: list[int]
    projects: list[ProjectInput]
    kpis: list[KPIInput]
    contract_starts: dict[int, dt.date]  # relationship id → contract start (for "new")


def _window_projects(window: scoring.Window, relationship_ids: list[int], prefix: str = "") -> dict:
    """Filter arguments for the projects a month's score counts: delivered in its window, not deleted.

    Cancelled projects never have a delivered date (a database constraint), so `stage=delivered`
    with a date in the window is exactly "delivered in the window".
    """
    return {
        f"{prefix}relationship_id__in": relationship_ids,
        f"{prefix}stage": InnovationProject.Stage.DELIVERED,
        f"{prefix}deleted_at__isnull": True,
        f"{prefix}delivered_on__gte": window.start,
        f"{prefix}delivered_on__lte": window.end,
    }


# PostgreSQL: each project KPI's latest measurement (kpis.selectors.latest_measurement, the one
# definition; tests/kpis/test_rollup.py checks this statement against it) through a LATERAL join,
# one backward probe of the (project_kpi, measured_on) index per KPI; measured here faster than
# ranking every measurement with a window function, and one statement instead of two. Live
# measurements are unique per (project KPI, date) (constraint measurement_one_per_date, whose
# partial index the probe walks), so ordering by the date alone is exact, and spares a sort per KPI
# that an id tie-break would need. The project KPIs are looked up per project through their
# project_id index as well (the LATERAL subquery; OFFSET 0 keeps the planner from flattening it back
# into a hash join): the planner otherwise scanned all 100,000 project KPIs for the 4,000 of a
# 250-relationship slice (measured: 47–53 ms against 91–115 ms for the statement).
_PROJECT_KPIS_WITH_LATEST_SQL = """
SELECT pk.id, pk.project_id, k.name, k.unit, k.direction, pk.baseline_value, pk.target_value,
       latest.value, latest.measured_on, pk.version, k.id, k.version, latest.id, latest.version
FROM projects_innovationproject p
CROSS JOIN LATERAL (
    SELECT * FROM kpis_projectkpi pk WHERE pk.project_id = p.id AND pk.deleted_at IS NULL OFFSET 0
) AS pk
JOIN kpis_kpi k ON k.id = pk.kpi_id
LEFT JOIN LATERAL (
    SELECT m.value, m.measured_on, m.id, m.version FROM kpis_measurement m
    WHERE m.project_kpi_id = pk.id AND m.deleted_at IS NULL AND m.measured_on <= %(end)s
    ORDER BY m.measured_on DESC
    LIMIT 1
) AS latest ON true
WHERE p.relationship_id = ANY(%(relationship_ids)s) AND p.stage = %(delivered)s
  AND p.deleted_at IS NULL AND p.delivered_on BETWEEN %(start)s AND %(end)s
"""


def _project_kpis_with_latest(window: scoring.Window, relationship_ids: list[int]) -> list[tuple]:
    """(id, project id, KPI name, unit, direction, baseline, target, latest value, its date, and
    the versions the fingerprint rests on) of the live KPIs of the projects delivered in the window,
    in one query."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _PROJECT_KPIS_WITH_LATEST_SQL,
                {
                    "start": window.start,
                    "end": window.end,
                    "relationship_ids": relationship_ids,
                    "delivered": InnovationProject.Stage.DELIVERED.value,
                },
            )
            return cursor.fetchall()
    # Elsewhere (SQLite): the project KPIs, and their latest measurements (kpis.selectors).
    project_kpis = ProjectKPI.objects.filter(
        deleted_at__isnull=True, **_window_projects(window, relationship_ids, prefix="project__")
    )
    latest = {
        project_kpi_id: rest
        for project_kpi_id, *rest in latest_measurements(project_kpis, as_of=window.end).values_list(
            "project_kpi_id", "value", "measured_on", "id", "version"
        )
    }
    rows = project_kpis.order_by().values_list(
        "id",
        "project_id",
        "kpi__name",
        "kpi__unit",
        "kpi__direction",
        "baseline_value",
        "target_value",
        "version",
        "kpi_id",
        "kpi__version",
    )
    result = []
    for *row, version, kpi_id, kpi_version in rows:
        value, measured_on, measurement_id, measurement_version = latest.get(row[0], (None,) * 4)
        result.append(
            (*row, value, measured_on, version, kpi_id, kpi_version, measurement_id, measurement_version)
        )
    return result


def gather_inputs(
    *, window: scoring.Window, relationship_ids: list[int], contract_starts: dict[int, dt.date] | None = None
) -> ScoreInputs:
    """Everything a month's scores rest on, for these relationships, in two queries (three on
    SQLite). `contract_starts` (relationship id → contract start) is read by the caller along with
    the ids; without it, one more query reads it."""
    if contract_starts is None:
        contract_starts = dict(
            Relationship.objects.filter(pk__in=relationship_ids).values_list("pk", "contract_start")
        )
    projects = list(
        map(
            ProjectInput._make,
            InnovationProject.objects.filter(**_window_projects(window, relationship_ids))
            .order_by("relationship_id", "delivered_on", "id")
            .values_list(
                "id",
                "relationship_id",
                "title",
                "level",
                "delivered_on",
                "expected_annual_benefit",
                "realised_annual_benefit",
                "version",
            ),
        )
    )
    # Sorted here rather than by the database: the same order (project, KPI name, id), cheaper.
    kpis = sorted(
        map(KPIInput._make, _project_kpis_with_latest(window, relationship_ids)),
        key=attrgetter("project_id", "kpi", "project_kpi_id"),
    )
    return ScoreInputs(
        window=window,
        relationship_ids=relationship_ids,
        projects=projects,
        kpis=kpis,
        contract_starts=contract_starts,
    )


# --- Fingerprints -------------------------------------------------------------------------------
#
# A score row keeps a digest of everything its figures were computed from: the scoring settings (and
# FINGERPRINT_VERSION), the contract start, and the id and version of each project counted, each of
# their live KPIs with its catalogue entry, and each KPI's latest measurement as of the month's end.
# Every write bumps a row's version and a different latest measurement has another id, so equal
# digests mean equal inputs, and a roll-up skips the relationship without reading or computing
# anything else. The digest is defined once, by `inputs_fingerprint`; PostgreSQL computes the same
# text in SQL (_FINGERPRINTS_SQL, tested against it) so an unchanged portfolio is checked in one
# statement.

# Bump when the computation or the explanation's shape changes, so every stored row is recomputed.
FINGERPRINT_VERSION = "1"


def _config_digest() -> str:
    settings_text = json.dumps(settings.BPO_SCORING, sort_keys=True, default=str)
    return hashlib.md5(f"{FINGERPRINT_VERSION}:{settings_text}".encode()).hexdigest()


def inputs_fingerprint(
    *,
    config: str,
    contract_start: dt.date | None,
    projects: Iterable[tuple[int, int]],
    kpis: Iterable[tuple[int, int, int, int, int | None, int | None]],
) -> str:
    """The digest of one relationship-month's inputs: `projects` as (id, version), `kpis` as (project
    KPI id, version, KPI id, KPI version, latest measurement id, its version) — any order."""
    project_text = ",".join(f"{pk}.{version}" for pk, version in sorted(projects))
    kpi_text = ",".join(
        f"{pk}.{version}.{kpi_id}.{kpi_version}"
        + ("" if measurement_id is None else f".{measurement_id}.{measurement_version}")
        for pk, version, kpi_id, kpi_version, measurement_id, measurement_version in sorted(kpis)
    )
    text = f"{config}|{contract_start or ''}|{project_text}|{kpi_text}"
    return hashlib.md5(text.encode()).hexdigest()


def fingerprints_of(inputs: ScoreInputs) -> dict[int, str]:
    """Each relationship's fingerprint from its gathered inputs."""
    config = _config_digest()
    projects: dict[int, list[tuple[int, int]]] = defaultdict(list)
    relationship_of: dict[int, int] = {}
    for project in inputs.projects:
        projects[project.relationship_id].append((project.id, project.version))
        relationship_of[project.id] = project.relationship_id
    kpis: dict[int, list[tuple]] = defaultdict(list)
    for kpi in inputs.kpis:
        kpis[relationship_of[kpi.project_id]].append(
            (
                kpi.project_kpi_id,
                kpi.version,
                kpi.kpi_id,
                kpi.kpi_version,
                kpi.measurement_id,
                kpi.measurement_version,
            )
        )
    return {
        relationship_id: inputs_fingerprint(
            config=config,
            contract_start=inputs.contract_starts.get(relationship_id),
            projects=projects[relationship_id],
            kpis=kpis[relationship_id],
        )
        for relationship_id in inputs.relationship_ids
    }


# `{relationships}` is a statement giving the relationship ids to digest (column relationship_id).
_FINGERPRINTS_SQL = """
WITH subject AS ({relationships}),
counted AS (
    SELECT p.id, p.relationship_id, p.version FROM projects_innovationproject p
    WHERE p.relationship_id IN (SELECT relationship_id FROM subject) AND p.stage = %(delivered)s
      AND p.deleted_at IS NULL AND p.delivered_on BETWEEN %(start)s AND %(end)s
),
project_text AS (
    SELECT relationship_id, string_agg(id || '.' || version, ',' ORDER BY id) AS text
    FROM counted GROUP BY relationship_id
),
kpi_text AS (
    SELECT c.relationship_id,
           string_agg(pk.id || '.' || pk.version || '.' || k.id || '.' || k.version
                      || coalesce('.' || latest.id || '.' || latest.version, ''), ',' ORDER BY pk.id) AS text
    FROM counted c
    JOIN kpis_projectkpi pk ON pk.project_id = c.id AND pk.deleted_at IS NULL
    JOIN kpis_kpi k ON k.id = pk.kpi_id
    LEFT JOIN LATERAL (
        SELECT m.id, m.version FROM kpis_measurement m
        WHERE m.project_kpi_id = pk.id AND m.deleted_at IS NULL AND m.measured_on <= %(end)s
        ORDER BY m.measured_on DESC
        LIMIT 1
    ) AS latest ON true
    GROUP BY c.relationship_id
)
SELECT s.relationship_id,
       md5(%(config)s || '|' || coalesce(r.contract_start::text, '') || '|'
           || coalesce(pt.text, '') || '|' || coalesce(kt.text, '')) AS fingerprint
FROM subject s
JOIN projects_relationship r ON r.id = s.relationship_id
LEFT JOIN project_text pt ON pt.relationship_id = s.relationship_id
LEFT JOIN kpi_text kt ON kt.relationship_id = s.relationship_id
"""


def _fingerprint_params(window: scoring.Window, **extra) -> dict:
    return {
        "start": window.start,
        "end": window.end,
        "delivered": InnovationProject.Stage.DELIVERED.value,
        "config": _config_digest(),
        **extra,
    }


def database_fingerprints(window: scoring.Window, relationship_ids: list[int]) -> dict[int, str]:
    """The fingerprints PostgreSQL computes for these relationships (what the skip check compares)."""
    sql = _FINGERPRINTS_SQL.format(
        relationships="SELECT unnest(%(relationship_ids)s::bigint[]) AS relationship_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, _fingerprint_params(window, relationship_ids=relationship_ids))
        return dict(cursor.fetchall())


def _unchanged_relationships(window: scoring.Window, relationship_ids: list[int]) -> set[int]:
    """The relationships whose stored row for the month was computed from the inputs they have now
    (PostgreSQL: one statement, digesting only relationships that have a stored fingerprint)."""
    if connection.vendor != "postgresql" or not relationship_ids:
        return set()
    table = RelationshipScore._meta.db_table
    stored = (
        f"SELECT relationship_id, inputs_fingerprint FROM {table} "
        "WHERE period = %(period)s AND relationship_id = ANY(%(relationship_ids)s) "
        "AND inputs_fingerprint <> ''"
    )
    sql = (
        f"WITH fingerprints AS ({_FINGERPRINTS_SQL.format(relationships=stored)}) "
        f"SELECT f.relationship_id FROM fingerprints f JOIN {table} s "
        "ON s.relationship_id = f.relationship_id AND s.period = %(period)s "
        "WHERE s.inputs_fingerprint = f.fingerprint"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, _fingerprint_params(window, period=window.period, relationship_ids=relationship_ids)
        )
        return {row[0] for row in cursor.fetchall()}


# --- The pure computation ---------------------------------------------------------------------


@dataclass(frozen=True)
class ComputedScore:
    """The figures of one RelationshipScore row; `components_json` is the `components` column's JSON
    text, `ScoreExplanation.to_json()` (kpis.explanation)."""

    relationship_id: int
    period: dt.date
    score: Decimal
    tier: str
    impact: Decimal | None
    attainment: Decimal | None
    realisation: Decimal | None
    continuity: Decimal | None
    basis: list[str]
    components_json: str
    projects_delivered: int
    kpis_measured: int
    is_new: bool


@dataclass(frozen=True)
class _BatchConstants:
    """What every relationship of a batch shares: the weights and the level weights."""

    weights: dict[str, Decimal]
    level_weights: dict[str, int]


def _compute_one(
    relationship_id: int,
    contract_start: dt.date | None,
    window: scoring.Window,
    projects: list[ProjectInput],
    kpis_by_project: dict[int, list[KPIInput]],
    batch: _BatchConstants,
) -> ComputedScore:
    achievements: list[Decimal] = []
    kpis_measured = 0
    impacts: list[tuple[str, Decimal | None]] = []
    quarter_deliveries = [0] * len(window.quarters)
    project_entries = []
    for project in projects:
        improvements, kpi_entries = [], []
        for kpi in kpis_by_project.get(project.id, ()):
            improvement = scoring.improvement_pct(
                baseline=kpi.baseline,
                latest=kpi.latest,
                higher_is_better=kpi.direction == "higher_is_better",
            )
            achievement = scoring.target_achievement_pct(
                baseline=kpi.baseline, latest=kpi.latest, target=kpi.target
            )
            improvements.append(improvement)
            if achievement is not None:
                achievements.append(achievement)
            if kpi.latest is not None:
                kpis_measured += 1
            kpi_entries.append(
                KPIExplanation(
                    kpi.project_kpi_id,
                    kpi.kpi,
                    kpi.unit,
                    kpi.direction,
                    kpi.baseline,
                    kpi.latest,
                    kpi.latest_measured_on,
                    improvement,
                    kpi.target,
                    achievement,
                )
            )
        impact_pct = scoring.project_impact_pct(improvements)
        impacts.append((project.level, impact_pct))
        quarter = window.quarter_of(project.delivered_on)
        if quarter is not None:
            quarter_deliveries[quarter] += 1
        project_entries.append(
            ProjectExplanation(
                project.id,
                project.title,
                project.level,
                batch.level_weights[project.level],
                project.delivered_on,
                impact_pct,
                tuple(kpi_entries),
            )
        )

    impact, mean_impact_pct = scoring.impact_component(impacts)
    attainment = scoring.attainment_component(achievements)
    realisation = scoring.realisation_component(
        [(project.expected_benefit, project.realised_benefit, project.delivered_on) for project in projects],
        period=window.period,
    )
    continuity = scoring.continuity_component(
        [index for index, count in enumerate(quarter_deliveries) if count], len(window.quarters)
    )
    # The score is combined from the components as stored (6 decimal places), so anyone can
    # recompute it from the row and the weights shown beside it.
    values = {
        "impact": quantize(impact, COMPONENT_PLACES),
        "attainment": quantize(attainment, COMPONENT_PLACES),
        "realisation": quantize(realisation.value, COMPONENT_PLACES),
        "continuity": quantize(continuity, COMPONENT_PLACES),
    }
    result = scoring.combine(values)
    explanation = ScoreExplanation(
        weights=batch.weights,
        weights_used=result.weights_used,
        window_start=window.start,
        window_end=window.end,
        impact=values["impact"],
        mean_impact_pct=mean_impact_pct,
        projects=tuple(project_entries),
        attainment=values["attainment"],
        kpis_with_target=len(achievements),
        realisation=values["realisation"],
        realised_sum=realisation.realised_sum,
        expected_sum=realisation.expected_sum,
        projects_counted=realisation.projects_counted,
        projects_in_grace=realisation.projects_in_grace,
        continuity=values["continuity"],
        quarters=tuple(
            QuarterExplanation(first, last, count)
            for (first, last), count in zip(window.quarters, quarter_deliveries, strict=True)
        ),
    )
    return ComputedScore(
        relationship_id=relationship_id,
        period=window.period,
        score=result.score,
        tier=result.tier,
        basis=result.basis,
        components_json=explanation.to_json(),
        projects_delivered=len(projects),
        kpis_measured=kpis_measured,
        is_new=scoring.is_new_relationship(
            contract_start=contract_start, period=window.period, projects_delivered=len(projects)
        ),
        **values,
    )


def compute_scores(inputs: ScoreInputs) -> list[ComputedScore]:
    """The score of every relationship in `inputs` (pure: no database access)."""
    projects_by_relationship: dict[int, list[ProjectInput]] = defaultdict(list)
    for project in inputs.projects:
        projects_by_relationship[project.relationship_id].append(project)
    kpis_by_project: dict[int, list[KPIInput]] = defaultdict(list)
    for kpi in inputs.kpis:
        kpis_by_project[kpi.project_id].append(kpi)
    level_weights = {level: int(weight) for level, weight in settings.BPO_SCORING["LEVEL_WEIGHTS"].items()}
    batch = _BatchConstants(weights=scoring.weights(), level_weights=level_weights)
    return [
        _compute_one(
            relationship_id,
            inputs.contract_starts.get(relationship_id),
            inputs.window,
            projects_by_relationship[relationship_id],
            kpis_by_project,
            batch,
        )
        for relationship_id in inputs.relationship_ids
    ]


def _pipelined_rollup(
    window: scoring.Window,
    relationship_ids: list[int],
    contract_starts: dict[int, dt.date],
    *,
    computed_at: dt.datetime,
    reasons: dict[int, str],
) -> int:
    """Read, compute and upsert a batch in slices of PIPELINE_SLICE relationships, overlapping the
    database's work with Python's; return the rows written (PostgreSQL).

    A helper thread runs the slices' statements on this same connection, so inside this transaction:
    it reads slice k + 1 and writes slice k − 1 while this thread computes slice k, instead of
    PostgreSQL and Python each waiting for the other (reading the inputs and storing the rows are
    mostly PostgreSQL's time, computing them is Python's). The helper is the connection's only user
    while it works: this thread touches the connection only through it until the last slice is in.
    Each slice's queries are those of a whole batch, so a batch costs a fixed number of queries for a
    given BATCH_SIZE and PIPELINE_SLICE.
    """
    slices = [
        relationship_ids[start : start + PIPELINE_SLICE]
        for start in range(0, len(relationship_ids), PIPELINE_SLICE)
    ]

    def read(ids: list[int]) -> ScoreInputs:
        return gather_inputs(
            window=window, relationship_ids=ids, contract_starts={pk: contract_starts[pk] for pk in ids}
        )

    written = 0
    with _connection_helper() as helper:
        reading = helper.submit(read, slices[0])
        writing = None
        for index in range(len(slices)):
            inputs = reading.result()
            if index + 1 < len(slices):
                reading = helper.submit(read, slices[index + 1])
            statement = _upsert_statement(
                compute_scores(inputs),
                computed_at=computed_at,
                reasons=reasons,
                fingerprints=fingerprints_of(inputs),
            )
            if writing is not None:
                written += writing.result()
            writing = helper.submit(_execute_upsert, statement)
        written += writing.result()
    return written


@contextmanager
def _connection_helper():
    """A single helper thread that runs its tasks, in order, on this thread's database connection
    (as Django's live test server shares one): the caller must leave the connection to it until
    its last task has returned. Tasks still queued when the caller fails are cancelled."""
    database = connections[DEFAULT_DB_ALIAS]

    def share() -> None:
        connections[DEFAULT_DB_ALIAS] = database

    database.inc_thread_sharing()
    helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollup-db", initializer=share)
    try:
        yield helper
    except BaseException:
        helper.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        helper.shutdown(wait=True)
        database.dec_thread_sharing()


# --- Storing ----------------------------------------------------------------------------------


def _lock(relationship_ids: list[int]) -> None:
    """Wait for any other roll-up of these relationships to finish (PostgreSQL; until commit).

    Locks are taken in id order, so two roll-ups of overlapping sets cannot deadlock; a wait longer
    than LOCK_TIMEOUT_SECONDS fails with a (transient, retried) database error.

    The same statement makes the transaction compress what it stores with lz4 where the server has
    it (PostgreSQL 14+ built with lz4; else the default stays): the explanations are about 6 KB a
    row, and lz4 compresses them several times faster than the default pglz (measured: 50 ms less
    for 1,000 rows) and decompresses them faster for the pages that read them. Like the lock timeout,
    the setting lasts until the outermost transaction ends.
    """
    if connection.vendor != "postgresql" or not relationship_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true), "
            "(SELECT set_config(name, 'lz4', true) FROM pg_settings "
            " WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)), "
            "count(pg_advisory_xact_lock(%s + id)) FROM unnest(%s::bigint[]) AS id",
            [f"{int(_options()['LOCK_TIMEOUT_SECONDS'] * 1000)}ms", LOCK_PREFIX, sorted(relationship_ids)],
        )


def _delete_returning_ids(model, relationship_ids: list[int]) -> list[int]:
    """Delete the model's rows of these relationships; return the relationship ids that had one."""
    if not relationship_ids:
        return []
    table = connection.ops.quote_name(model._meta.db_table)
    placeholders = ", ".join(["%s"] * len(relationship_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE relationship_id IN ({placeholders}) RETURNING relationship_id",
            relationship_ids,
        )
        return [row[0] for row in cursor.fetchall()]


def _take_pending_reasons(relationship_ids: list[int], period: dt.date) -> dict[int, str]:
    """Delete the month's recompute requests of these relationships and return their reasons.

    Deleted inside the roll-up's transaction and before its reads: a change committed after this
    point asks again (and is picked up), one committed before is read by this roll-up.
    """
    if not relationship_ids:
        return {}
    table = connection.ops.quote_name(PendingScorePeriod._meta.db_table)
    placeholders = ", ".join(["%s"] * len(relationship_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE period = %s AND relationship_id IN ({placeholders}) "
            "RETURNING relationship_id, reason",
            [
                PendingScorePeriod._meta.get_field("period").get_db_prep_value(period, connection),
                *relationship_ids,
            ],
        )
        return {relationship_id: reason for relationship_id, reason in cursor.fetchall() if reason}


def _rollup_batch(
    window: scoring.Window,
    relationship_ids: list[int],
    contract_starts: dict[int, dt.date],
    *,
    clear_stale: bool,
    reason: str,
    force: bool,
) -> int:
    with transaction.atomic():
        _lock(relationship_ids)
        marked: list[int] = []
        if clear_stale:
            # Deleted inside this transaction and before the reads: a change committed after this
            # point marks the relationship stale again (and is picked up), one committed before is
            # read below. Either way no change is lost.
            marked = _delete_returning_ids(PendingScoreRecompute, relationship_ids)
        reasons = _take_pending_reasons(relationship_ids, window.period)
        if not force:
            unchanged = _unchanged_relationships(window, relationship_ids)
            relationship_ids = [pk for pk in relationship_ids if pk not in unchanged]
        written = 0
        computed_at = timezone.now()
        if relationship_ids:
            reasons = {pk: reasons.get(pk, reason) for pk in relationship_ids}
            contract_starts = {pk: contract_starts[pk] for pk in relationship_ids}
            with _without_cyclic_gc():
                if connection.vendor == "postgresql" and len(relationship_ids) > PIPELINE_SLICE:
                    written = _pipelined_rollup(
                        window, relationship_ids, contract_starts, computed_at=computed_at, reasons=reasons
                    )
                else:
                    inputs = gather_inputs(
                        window=window, relationship_ids=relationship_ids, contract_starts=contract_starts
                    )
                    fingerprints = fingerprints_of(inputs)
                    if not force and connection.vendor != "postgresql":
                        inputs = _without_unchanged(inputs, fingerprints)
                    written = _upsert(
                        compute_scores(inputs),
                        computed_at=computed_at,
                        reasons=reasons,
                        fingerprints=fingerprints,
                    )
                if written:
                    # The rows this roll-up wrote carry its computed_at; the others are left out.
                    append_score_events(
                        relationship_ids=relationship_ids, period=window.period, computed_at=computed_at
                    )
        if clear_stale and (marked or relationship_ids):  # the current month: the figures records show now
            stamp_changed_figures(
                marked,
                rescored=relationship_ids if written else [],
                period=window.period,
                computed_at=computed_at,
            )
        return written


def _without_unchanged(inputs: ScoreInputs, fingerprints: dict[int, str]) -> ScoreInputs:
    """The inputs less the relationships whose stored fingerprint is the one they have now (where
    the database cannot compute fingerprints itself, they are compared after reading the inputs)."""
    stored = dict(
        RelationshipScore.objects.filter(
            period=inputs.window.period, relationship_id__in=inputs.relationship_ids
        ).values_list("relationship_id", "inputs_fingerprint")
    )
    changed = [pk for pk in inputs.relationship_ids if stored.get(pk) != fingerprints[pk]]
    return dataclasses.replace(inputs, relationship_ids=changed)


def stamp_changed_figures(
    changed: list[int], *, rescored: list[int], period: dt.date, computed_at: dt.datetime
) -> None:
    """Give a new change stamp to the records whose computed figures moved, so sync re-sends them.

    A project KPI shows its latest measurement (`latest_value`, `improvement_pct`, …), a project
    the mean improvement of its KPIs (`impact_pct`), a relationship its current score. None of them
    is written when those figures change, so sync clients would keep stale numbers. Their
    `change_stamp` and `updated_at` move (never `version`: that is the client's concurrency token
    and nothing the client could have written changed):

    * in the relationships a change marked (`changed`), a project KPI with a measurement stamped
      after it (recorded, corrected or deleted since), and a project with a project KPI stamped after
      it (the line above, or an edited baseline);
    * of the relationships `rescored`, those whose current-month score this roll-up has just written.

    Only marked relationships are searched for moved records: every write of a measurement, a project
    KPI or a project marks its relationship in its own transaction (kpis.tasks), and the roll-up that
    takes the mark re-stamps what the change moved, so the records of an unmarked relationship have
    not moved since. Searching every relationship rolled up meant two scans of all measurements and
    project KPIs per batch (at 1,000 relationships and 1,000,000 measurements their plans took 375
    and 75 ms, against 960 ms for the whole roll-up) that found nothing in a full roll-up.

    Stamps compare as transactions order (projects.records.current_change_stamp): a row stamped
    here is stamped above the rows it was computed from, so a later roll-up leaves it alone until
    something new arrives.
    """
    stamp, now = current_change_stamp(), timezone.now()
    if changed:
        ProjectKPI.objects.filter(project__relationship_id__in=changed).filter(
            Exists(
                Measurement.objects.filter(
                    project_kpi=OuterRef("pk"), change_stamp__gt=OuterRef("change_stamp")
                )
            )
        ).update(change_stamp=stamp, updated_at=now)
        InnovationProject.objects.filter(relationship_id__in=changed).filter(
            Exists(
                ProjectKPI.objects.filter(project=OuterRef("pk"), change_stamp__gt=OuterRef("change_stamp"))
            )
        ).update(change_stamp=stamp, updated_at=now)
    if rescored:
        written = RelationshipScore.objects.filter(
            relationship_id__in=rescored, period=period, computed_at=computed_at
        ).values("relationship_id")
        Relationship.objects.filter(pk__in=written).update(change_stamp=stamp, updated_at=now)


@contextmanager
def _without_cyclic_gc():
    """Reading tens of thousands of rows and building as many small objects triggers the cyclic
    garbage collector over and over (measured: a fifth of the reading's time and a quarter of the
    arithmetic's); none of them form cycles, so it is paused for the batch and restored after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def _upsert(
    scores: list[ComputedScore],
    *,
    computed_at: dt.datetime,
    reasons: dict[int, str] | None = None,
    fingerprints: dict[int, str] | None = None,
) -> int:
    """Insert or update the rows in one statement; a row whose figures are unchanged is left alone
    (its computed_at and reason too: they say when and why the figures last changed), only its
    fingerprint is brought up to date. Returns the number of rows inserted or updated."""
    if not scores:
        return 0
    statement = _upsert_statement(scores, computed_at=computed_at, reasons=reasons, fingerprints=fingerprints)
    return _execute_upsert(statement)


class _UpsertStatement(NamedTuple):
    sql: str
    params: list
    computed_at: object  # this run's computed_at as the database adapter has it
    # PostgreSQL: the rows as COPY text for the staging table the statement reads (None elsewhere).
    staged_rows: str | None = None


# PostgreSQL: the rows are copied into a temporary table of the transaction (COPY's text format,
# no per-value parsing beyond the column's type) and upserted from it in one statement that also
# empties it. Measured against one JSON document unpacked by json_to_recordset, which parses the
# 1.5 MB of explanations of a 250-row slice as JSON twice (the document, then each `json` value):
# 31–37 ms against 47–55 ms a slice (median of 8, a 250-row slice at the benchmark's size).
# ON COMMIT DROP: nothing outlives the transaction (a PgBouncer in transaction mode allows it).
STAGING_TABLE = "pg_temp.rollup_score_rows"


def _copy_text(value) -> str:
    """A value in COPY's text format: \\N for NULL, backslash, newline, return and tab escaped."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, list):
        value = _compact(value)
    text = str(value)
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\n" in text or "\r" in text or "\t" in text:
        text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text


def _written_fields() -> list:
    """The score row's fields an upsert writes (computed_at aside), in the order it writes them."""
    meta = RelationshipScore._meta
    return [meta.get_field(name) for name in ("relationship", "period", *SCORE_FIELDS, *BOOKKEEPING_FIELDS)]


def _upsert_statement(
    scores: list[ComputedScore],
    *,
    computed_at: dt.datetime,
    reasons: dict[int, str] | None = None,
    fingerprints: dict[int, str] | None = None,
) -> _UpsertStatement:
    """The upsert of `_upsert` for these rows, built but not sent."""
    reasons, fingerprints = reasons or {}, fingerprints or {}
    meta = RelationshipScore._meta
    fields = _written_fields()
    columns = [field.column for field in fields]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    computed_at = meta.get_field("computed_at").get_db_prep_save(computed_at, connection)
    # Each row's values in column order, `components` as its JSON text.
    rows = [
        [
            score.relationship_id,
            score.period,
            *(
                score.components_json if name == "components" else getattr(score, name)
                for name in SCORE_FIELDS
            ),
            reasons.get(score.relationship_id, "")[: meta.get_field("reason").max_length],
            fingerprints.get(score.relationship_id, ""),
        ]
        for score in scores
    ]
    staged_rows = None
    if connection.vendor == "postgresql":
        # The staging table holds `components` as text; it becomes `json` (checked once) on insert.
        staged_rows = "".join("\t".join(map(_copy_text, row)) + "\n" for row in rows)
        selected = ", ".join(
            f"{quote(column)}::json" if field.name == "components" else quote(column)
            for field, column in zip(fields, columns, strict=True)
        )
        source = f"SELECT {selected}, %s FROM staged"
        params = [computed_at]
        distinct = "IS DISTINCT FROM"  # a row comparison that treats NULLs as values
    else:
        params = []
        for row in rows:
            params.extend(
                value
                if field.name == "components"
                else _compact(value)
                if field.name == "basis"
                else field.get_db_prep_save(value, connection)
                for field, value in zip(fields, row, strict=True)
            )
            params.append(computed_at)
        placeholders = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
        source = f"VALUES {', '.join([placeholders] * len(rows))}"
        distinct = "IS NOT"  # SQLite's NULL-safe comparison
    compared = [meta.get_field(name).column for name in SCORE_FIELDS if name != "components"]
    fingerprint = quote(meta.get_field("inputs_fingerprint").column)
    old_figures = f"({', '.join(f'{table}.{quote(column)}' for column in compared)})"
    new_figures = f"({', '.join(f'excluded.{quote(column)}' for column in compared)})"
    components = quote(meta.get_field("components").column)
    old_components, new_components = f"{table}.{components}", f"excluded.{components}"
    if connection.vendor == "postgresql":
        # `json` has no equality: the same text is the same explanation (the roll-up writes it one
        # way); other text (a row written before, or by someone else) is compared as jsonb values.
        same_components = (
            f"({old_components}::text = {new_components}::text "
            f"OR {old_components}::jsonb = {new_components}::jsonb)"
        )
    else:
        same_components = f"({old_components} = {new_components})"  # text, never NULL
    moved = f"({old_figures} {distinct} {new_figures} OR NOT {same_components})"
    # One statement: a row whose figures moved gets them with this computed_at and reason; a row
    # whose figures are the same but whose inputs moved (a measurement re-entered with its old value)
    # gets only its new fingerprint, so the next roll-up skips it; any other row is left alone.
    # RETURNING tells the rows whose figures were written (their computed_at is this one).
    kept_unless_moved = ", ".join(
        f"{quote(column)} = CASE WHEN {moved} THEN excluded.{quote(column)} ELSE {table}.{quote(column)} END"
        for column in ("computed_at", meta.get_field("reason").column)
    )
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(column) for column in [*columns, 'computed_at'])}) {source} "
        f"ON CONFLICT ({quote('relationship_id')}, {quote('period')}) DO UPDATE SET "
        + ", ".join(f"{quote(column)} = excluded.{quote(column)}" for column in [*compared, components])
        + f", {fingerprint} = excluded.{fingerprint}, {kept_unless_moved}"
        f" WHERE {moved}"
        f" OR {table}.{fingerprint} {distinct} excluded.{fingerprint}"
        f" RETURNING {quote('relationship_id')}, {quote('computed_at')}"
    )
    if staged_rows is not None:
        # The statement empties the staging table as it reads it, for the next slice.
        sql = f"WITH staged AS (DELETE FROM {STAGING_TABLE} RETURNING *) {sql}"
    return _UpsertStatement(sql, params, computed_at, staged_rows)


@functools.cache
def _staging_table_sql() -> str:
    """The staging table's DDL (PostgreSQL): the written columns, `components` as text. Fixed by the
    model, so built once."""
    quote = connection.ops.quote_name
    columns = ", ".join(
        f"{quote(field.column)} {'text' if field.name == 'components' else field.db_type(connection)}"
        for field in _written_fields()
    )
    return f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING_TABLE} ({columns}) ON COMMIT DROP"


def _copy_into_staging(cursor, text: str) -> None:
    """COPY the rows into the staging table (created if this transaction has none yet). psycopg2
    sends COPY outside `execute`, so it is logged here like any statement when queries are."""
    if not connection.in_atomic_block:
        raise RuntimeError("The roll-up's upsert stages its rows inside a transaction.")
    cursor.execute(_staging_table_sql())
    started = time.monotonic()
    # One read of the whole text: psycopg2 reads the file in `size` chunks, taking the GIL for each,
    # and the main thread computing the next slice holds it for up to a switch interval (5 ms) at a
    # time (measured: 8 KB chunks made a slice's COPY 80–120 ms instead of 20–35).
    data = text.encode()
    cursor.cursor.copy_expert(f"COPY {STAGING_TABLE} FROM STDIN", io.BytesIO(data), size=len(data) + 1)
    if connection.queries_logged:
        connection.queries_log.append(
            {
                "sql": f"COPY {STAGING_TABLE} FROM STDIN -- {text.count(chr(10))} rows",
                "time": f"{time.monotonic() - started:.3f}",
            }
        )


def _execute_upsert(statement: _UpsertStatement) -> int:
    """Send a built upsert; return the rows it wrote."""
    with connection.cursor() as cursor:
        if statement.staged_rows is not None:
            _copy_into_staging(cursor, statement.staged_rows)
        cursor.execute(statement.sql, statement.params)
        returned = cursor.fetchall()
    # The stored computed_at comes back as the column's type; this run's, as the database has it.
    written = [row for row in returned if _same_instant(row[1], statement.computed_at)]
    return len(written)


def _same_instant(stored, written) -> bool:
    """A computed_at read back (a datetime, or text on SQLite) against the value this run wrote."""
    if isinstance(stored, dt.datetime) and isinstance(written, dt.datetime):
        return stored == written
    return str(stored) == str(written)


def rollup_scores(
    *,
    period: dt.date,
    relationship_ids: Iterable[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    reason: str = "roll-up",
    force: bool = False,
) -> int:
    """Compute and upsert the scores for the month containing `period`; return the rows written.

    `relationship_ids=None` means every live relationship; ids of deleted or unknown relationships
    are skipped quietly. A roll-up of the current month also clears the relationships' "stale" marks
    (kpis.models.PendingScoreRecompute); a roll-up of any month takes that month's recompute
    requests (kpis.models.PendingScorePeriod) and stores their reasons on the rows it writes, or
    `reason` where none was asked for. A relationship whose stored row was computed from the inputs
    it has now (its fingerprint) is skipped without computing anything, unless `force`; rows whose
    figures are unchanged are not rewritten (their `computed_at` and `reason` stay), so a second
    run returns 0. `progress(done, total)` is called after each batch of BATCH_SIZE relationships.
    """
    started = time.monotonic()
    window = scoring.score_window(period)
    clear_stale = window.period == scoring.month_start(timezone.localdate())
    live = Relationship.objects.filter(deleted_at__isnull=True)
    requested = None
    if relationship_ids is not None:
        requested = sorted(set(relationship_ids))
        live = live.filter(pk__in=requested)
    # Contract starts come with the ids (no query of their own): "new" rests on them.
    contract_starts = dict(live.order_by("pk").values_list("pk", "contract_start"))
    ids = list(contract_starts)
    if requested is None or len(ids) < len(requested):
        # Marks and requests of relationships deleted since would otherwise stay forever.
        for model in (PendingScoreRecompute, PendingScorePeriod) if clear_stale else (PendingScorePeriod,):
            gone = model.objects.filter(relationship__deleted_at__isnull=False)
            if requested is not None:
                gone = gone.filter(relationship_id__in=requested)
            gone.delete()
    batch_size = _options()["BATCH_SIZE"]
    written = 0
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        written += _rollup_batch(
            window,
            batch,
            {pk: contract_starts[pk] for pk in batch},
            clear_stale=clear_stale,
            reason=reason,
            force=force,
        )
        if progress is not None:
            progress(start + len(batch), len(ids))
    scores_rolled_up.send(
        sender=RelationshipScore,
        period=window.period,
        relationships=len(ids),
        rows_written=written,
        seconds=time.monotonic() - started,
    )
    return written


def rollup_history(
    *,
    months: int,
    today: dt.date | None = None,
    relationship_ids: Iterable[int] | None = None,
    progress: Callable[[dt.date, int, int], None] | None = None,
    reason: str = "history roll-up",
    force: bool = False,
) -> int:
    """Roll up the last `months` months up to the current one, oldest first; return rows written."""
    this_month = scoring.month_start(today or timezone.localdate())
    ids = list(relationship_ids) if relationship_ids is not None else None
    written = 0
    for offset in range(months - 1, -1, -1):
        period = scoring.add_months(this_month, -offset)
        written += rollup_scores(period=period, relationship_ids=ids, reason=reason, force=force)
        if progress is not None:
            progress(period, months - offset, months)
    return written

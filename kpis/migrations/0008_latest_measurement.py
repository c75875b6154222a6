"""Each project KPI's latest live measurement, and its improvement to order by, kept by triggers.

The rule is kpis.selectors.LATEST_FIRST without a date: the live measurement with the latest date
(live measurements are unique per project KPI and date). Every statement that inserts, changes or
deletes measurements rewrites the row of each project KPI it touched — from the measurements
themselves, never from the statement's values — so a soft delete, a restore, a new date or a move
to another KPI all land. The improvement (kpis.selectors.improvement_expression, d × (a − b) / |b|
in %) also reads the KPI's baseline and its catalogue entry's direction, so a change of either
rewrites the rows it moves too. tests/kpis/test_latest_measurement.py holds the table to both
definitions.
"""

import django.db.models.deletion
from django.db import migrations, models

# The improvement as a double, for ordering only (the figures shown come from kpis.scoring): NULL
# without a value or with a zero baseline, as kpis.selectors.improvement_expression leaves them out.
IMPROVEMENT = """CASE WHEN {value} IS NULL OR {baseline} = 0 THEN NULL
             ELSE CAST((CASE WHEN {direction} = 'higher_is_better' THEN 1 ELSE -1 END)
                       * ({value} - {baseline}) * 100.0 / abs({baseline}) AS double precision) END"""

# PostgreSQL: one statement-level trigger per event (transition tables allow no more); a whole bulk
# INSERT of 1,000 measurements refreshes its KPIs in one set-based pass.
POSTGRESQL_FORWARD = f"""
ALTER TABLE kpis_latestmeasurement
    ADD CONSTRAINT kpis_latestmeasurement_project_kpi_fk
    FOREIGN KEY (project_kpi_id) REFERENCES kpis_projectkpi (id) ON DELETE CASCADE;

CREATE FUNCTION kpis_refresh_latest_measurements(touched bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(touched) = 0 THEN
        RETURN;
    END IF;
    -- Writers of one project KPI's figures take turns on its row here, from this point to their
    -- commit: each then reads the other's committed rows (under READ COMMITTED every statement
    -- below takes a fresh snapshot), so the last to commit writes from both, whatever order they
    -- wrote in. Only these triggers write or lock this table, so the turn never waits on anything
    -- else (a lock on the project KPI itself would wait on, and deadlock with, a roll-up stamping
    -- the KPI's figures).
    INSERT INTO kpis_latestmeasurement (project_kpi_id)
    SELECT id FROM unnest(touched) AS t (id)
    ON CONFLICT (project_kpi_id) DO NOTHING;
    PERFORM 1 FROM kpis_latestmeasurement
     WHERE project_kpi_id = ANY (touched) ORDER BY project_kpi_id FOR UPDATE;
    UPDATE kpis_latestmeasurement AS stored
       SET measured_on = latest.measured_on, value = latest.value,
           improvement_order = latest.improvement_order
      FROM (
          SELECT pk.id, m.measured_on, m.value,
                 {IMPROVEMENT.format(value="m.value", baseline="pk.baseline_value", direction="k.direction")}
                     AS improvement_order
            FROM unnest(touched) AS t (id)
            JOIN kpis_projectkpi AS pk ON pk.id = t.id
            JOIN kpis_kpi AS k ON k.id = pk.kpi_id
            LEFT JOIN LATERAL (
                SELECT m.measured_on, m.value
                  FROM kpis_measurement AS m
                 WHERE m.project_kpi_id = t.id AND m.deleted_at IS NULL
                 ORDER BY m.measured_on DESC
                 LIMIT 1) AS m ON true) AS latest
     WHERE stored.project_kpi_id = latest.id
       AND (stored.measured_on, stored.value, stored.improvement_order)
           IS DISTINCT FROM (latest.measured_on, latest.value, latest.improvement_order);
END
$$;

-- Measurements: the KPIs whose rows a statement wrote. Only a change of KPI, date, value or
-- liveness can move a latest value; a new version or sync stamp cannot, so those updates cost no
-- refresh. Changed rows are those whose figures differ between the old and new images: EXCEPT
-- compares them by hashing, where a join of the two transition tables (no statistics, no index)
-- was planned as a nested loop (50 ms for an upsert rewriting 1,000 unchanged rows, measured).
CREATE FUNCTION kpis_measurement_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM kpis_refresh_latest_measurements(
            ARRAY(SELECT DISTINCT project_kpi_id FROM new_rows ORDER BY 1));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM kpis_refresh_latest_measurements(
            ARRAY(SELECT DISTINCT project_kpi_id FROM old_rows ORDER BY 1));
    ELSE
        PERFORM kpis_refresh_latest_measurements(ARRAY(
            SELECT DISTINCT changed.project_kpi_id
              FROM (
                  (SELECT id, project_kpi_id, measured_on, value, deleted_at IS NULL FROM new_rows
                   EXCEPT
                   SELECT id, project_kpi_id, measured_on, value, deleted_at IS NULL FROM old_rows)
                  UNION ALL
                  (SELECT id, project_kpi_id, measured_on, value, deleted_at IS NULL FROM old_rows
                   EXCEPT
                   SELECT id, project_kpi_id, measured_on, value, deleted_at IS NULL FROM new_rows)
              ) AS changed (id, project_kpi_id, measured_on, value, live)
             ORDER BY 1));
    END IF;
    RETURN NULL;
END
$$;

-- Project KPIs: a new baseline (or catalogue entry) moves the improvement.
CREATE FUNCTION kpis_project_kpi_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kpis_refresh_latest_measurements(ARRAY(
        SELECT changed.id
          FROM (SELECT id, kpi_id, baseline_value FROM new_rows
                EXCEPT
                SELECT id, kpi_id, baseline_value FROM old_rows) AS changed
         ORDER BY 1));
    RETURN NULL;
END
$$;

-- The catalogue: a KPI's direction turns the sign of every improvement of it (a catalogue is a
-- few dozen rows, so the join of the transition tables costs nothing).
CREATE FUNCTION kpis_kpi_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kpis_refresh_latest_measurements(ARRAY(
        SELECT pk.id
          FROM kpis_projectkpi AS pk
          JOIN new_rows AS n ON n.id = pk.kpi_id
          JOIN old_rows AS o ON o.id = n.id
         WHERE o.direction IS DISTINCT FROM n.direction
         ORDER BY 1));
    RETURN NULL;
END
$$;

CREATE TRIGGER kpis_measurement_inserted AFTER INSERT ON kpis_measurement
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_measurement_changed();
CREATE TRIGGER kpis_measurement_updated AFTER UPDATE ON kpis_measurement
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_measurement_changed();
CREATE TRIGGER kpis_measurement_deleted AFTER DELETE ON kpis_measurement
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_measurement_changed();
CREATE TRIGGER kpis_projectkpi_updated AFTER UPDATE ON kpis_projectkpi
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_project_kpi_changed();
CREATE TRIGGER kpis_kpi_updated AFTER UPDATE ON kpis_kpi
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_kpi_changed();

INSERT INTO kpis_latestmeasurement (project_kpi_id, measured_on, value, improvement_order)
SELECT latest.project_kpi_id, latest.measured_on, latest.value,
       {IMPROVEMENT.format(value="latest.value", baseline="pk.baseline_value", direction="k.direction")}
  FROM (SELECT DISTINCT ON (project_kpi_id) project_kpi_id, measured_on, value
          FROM kpis_measurement
         WHERE deleted_at IS NULL
         ORDER BY project_kpi_id, measured_on DESC) AS latest
  JOIN kpis_projectkpi AS pk ON pk.id = latest.project_kpi_id
  JOIN kpis_kpi AS k ON k.id = pk.kpi_id;
"""

POSTGRESQL_BACKWARD = """
ALTER TABLE kpis_latestmeasurement DROP CONSTRAINT kpis_latestmeasurement_project_kpi_fk;
DROP TRIGGER kpis_measurement_inserted ON kpis_measurement;
DROP TRIGGER kpis_measurement_updated ON kpis_measurement;
DROP TRIGGER kpis_measurement_deleted ON kpis_measurement;
DROP TRIGGER kpis_projectkpi_updated ON kpis_projectkpi;
DROP TRIGGER kpis_kpi_updated ON kpis_kpi;
DROP FUNCTION kpis_measurement_changed();
DROP FUNCTION kpis_project_kpi_changed();
DROP FUNCTION kpis_kpi_changed();
DROP FUNCTION kpis_refresh_latest_measurements(bigint[]);
"""


def _sqlite_refresh(project_kpi_ids: str) -> list[str]:
    """The statements rewriting the rows of the project KPIs `project_kpi_ids` (an SQL list or
    subquery) names.

    A DELETE and an INSERT, not INSERT OR REPLACE: an outer statement's conflict policy (an
    upsert's) would override the trigger's own."""
    latest = (
        "SELECT m.{column} FROM kpis_measurement AS m WHERE m.project_kpi_id = pk.id "
        "AND m.deleted_at IS NULL ORDER BY m.measured_on DESC LIMIT 1"
    )
    improvement = IMPROVEMENT.format(value="value", baseline="baseline_value", direction="direction")
    return [
        f"DELETE FROM kpis_latestmeasurement WHERE project_kpi_id IN ({project_kpi_ids})",
        f"""INSERT INTO kpis_latestmeasurement (project_kpi_id, measured_on, value, improvement_order)
    SELECT id, measured_on, value, {improvement.replace("double precision", "REAL")}
      FROM (SELECT pk.id, pk.baseline_value, k.direction,
                   ({latest.format(column="measured_on")}) AS measured_on,
                   ({latest.format(column="value")}) AS value
              FROM kpis_projectkpi AS pk JOIN kpis_kpi AS k ON k.id = pk.kpi_id
             WHERE pk.id IN ({project_kpi_ids}))""",
    ]


def _sqlite_trigger(name: str, event: str, project_kpi_ids: str) -> str:
    body = "".join(f"\n    {statement};" for statement in _sqlite_refresh(project_kpi_ids))
    return f"CREATE TRIGGER {name} {event}\nBEGIN{body}\nEND"


# SQLite (the embedded default) has row-level triggers only, and one writer at a time.
SQLITE_FORWARD = [
    _sqlite_trigger("kpis_measurement_inserted", "AFTER INSERT ON kpis_measurement", "NEW.project_kpi_id"),
    _sqlite_trigger(
        "kpis_measurement_updated",
        "AFTER UPDATE OF project_kpi_id, measured_on, value, deleted_at ON kpis_measurement",
        "OLD.project_kpi_id, NEW.project_kpi_id",
    ),
    _sqlite_trigger("kpis_measurement_deleted", "AFTER DELETE ON kpis_measurement", "OLD.project_kpi_id"),
    _sqlite_trigger(
        "kpis_projectkpi_updated", "AFTER UPDATE OF kpi_id, baseline_value ON kpis_projectkpi", "NEW.id"
    ),
    _sqlite_trigger(
        "kpis_kpi_updated",
        "AFTER UPDATE OF direction ON kpis_kpi",
        "SELECT id FROM kpis_projectkpi WHERE kpi_id = NEW.id",
    ),
    """CREATE TRIGGER kpis_projectkpi_deleted AFTER DELETE ON kpis_projectkpi
BEGIN
    DELETE FROM kpis_latestmeasurement WHERE project_kpi_id = OLD.id;
END""",
    *_sqlite_refresh("SELECT DISTINCT project_kpi_id FROM kpis_measurement"),
]

SQLITE_BACKWARD = [
    "DROP TRIGGER kpis_projectkpi_deleted",
    "DROP TRIGGER kpis_kpi_updated",
    "DROP TRIGGER kpis_projectkpi_updated",
    "DROP TRIGGER kpis_measurement_inserted",
    "DROP TRIGGER kpis_measurement_updated",
    "DROP TRIGGER kpis_measurement_deleted",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise NotImplementedError(
                f"Latest-measurement triggers exist for PostgreSQL and SQLite, not {schema_editor.connection.vendor}."
            )
        for statement in [statements] if isinstance(statements, str) else statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0007_score_bookkeeping_database_defaults"),
    ]

    operations = [
        migrations.CreateModel(
            name="LatestMeasurement",
            fields=[
                (
                    "project_kpi",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="stored_latest",
                        serialize=False,
                        to="kpis.projectkpi",
                    ),
                ),
                ("measured_on", models.DateField(null=True)),
                ("value", models.DecimalField(decimal_places=4, max_digits=20, null=True)),
                ("improvement_order", models.FloatField(null=True)),
            ],
            options={
                "default_permissions": ("view",),
                "indexes": [
                    models.Index(
                        models.F("improvement_order").desc(),
                        models.F("project_kpi"),
                        name="latest_improvement_order",
                    )
                ],
            },
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRESQL_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]

"""Each project KPI's latest live measurement, kept by triggers on the measurement table.

The rule is kpis.selectors.LATEST_FIRST without a date: the live measurement with the latest date
(live measurements are unique per project KPI and date). Every statement that inserts, changes or
deletes measurements rewrites the row of each project KPI it touched — from the measurements
themselves, never from the statement's values — so a soft delete, a restore, a new date or a move
to another KPI all land. tests/kpis/test_latest_measurement.py holds the table to the definition.
"""

import django.db.models.deletion
from django.db import migrations, models

# PostgreSQL: one statement-level trigger per event (transition tables allow no more), sharing one
# function; a whole bulk INSERT of 1,000 measurements refreshes its KPIs in one set-based pass.
POSTGRESQL_FORWARD = """
ALTER TABLE kpis_latestmeasurement
    ADD CONSTRAINT kpis_latestmeasurement_project_kpi_fk
    FOREIGN KEY (project_kpi_id) REFERENCES kpis_projectkpi (id) ON DELETE CASCADE;

CREATE FUNCTION kpis_refresh_latest_measurements(touched bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(touched) = 0 THEN
        RETURN;
    END IF;
    -- Writers of one project KPI's measurements take turns on its row here, from this point to
    -- their commit: each then reads the other's committed rows (under READ COMMITTED every
    -- statement below takes a fresh snapshot), so the last to commit writes the latest of both,
    -- whatever order they wrote in. Only these triggers write or lock this table, so the turn
    -- never waits on anything else (a lock on the project KPI itself would wait on, and deadlock
    -- with, a roll-up stamping the KPI's figures).
    INSERT INTO kpis_latestmeasurement (project_kpi_id)
    SELECT id FROM unnest(touched) AS t (id)
    ON CONFLICT (project_kpi_id) DO NOTHING;
    PERFORM 1 FROM kpis_latestmeasurement
     WHERE project_kpi_id = ANY (touched) ORDER BY project_kpi_id FOR UPDATE;
    UPDATE kpis_latestmeasurement AS stored
       SET measured_on = latest.measured_on, value = latest.value
      FROM (
          SELECT t.id, m.measured_on, m.value
            FROM unnest(touched) AS t (id)
            LEFT JOIN LATERAL (
                SELECT m.measured_on, m.value
                  FROM kpis_measurement AS m
                 WHERE m.project_kpi_id = t.id AND m.deleted_at IS NULL
                 ORDER BY m.measured_on DESC
                 LIMIT 1) AS m ON true) AS latest
     WHERE stored.project_kpi_id = latest.id
       AND (stored.measured_on, stored.value) IS DISTINCT FROM (latest.measured_on, latest.value);
END
$$;

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
        -- Only a change of KPI, date, value or liveness can move a latest value; a new version or
        -- sync stamp cannot, so those updates cost no refresh. The changed rows are those whose
        -- figures differ between the old and new images: EXCEPT compares them by hashing, where a
        -- join of the two transition tables (no statistics, no index) was planned as a nested loop
        -- (50 ms for an upsert rewriting 1,000 unchanged rows, measured).
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

CREATE TRIGGER kpis_measurement_inserted AFTER INSERT ON kpis_measurement
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_measurement_changed();
CREATE TRIGGER kpis_measurement_updated AFTER UPDATE ON kpis_measurement
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_measurement_changed();
CREATE TRIGGER kpis_measurement_deleted AFTER DELETE ON kpis_measurement
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_measurement_changed();

INSERT INTO kpis_latestmeasurement (project_kpi_id, measured_on, value)
SELECT DISTINCT ON (project_kpi_id) project_kpi_id, measured_on, value
  FROM kpis_measurement
 WHERE deleted_at IS NULL
 ORDER BY project_kpi_id, measured_on DESC;
"""

POSTGRESQL_BACKWARD = """
ALTER TABLE kpis_latestmeasurement DROP CONSTRAINT kpis_latestmeasurement_project_kpi_fk;
DROP TRIGGER kpis_measurement_inserted ON kpis_measurement;
DROP TRIGGER kpis_measurement_updated ON kpis_measurement;
DROP TRIGGER kpis_measurement_deleted ON kpis_measurement;
DROP FUNCTION kpis_measurement_changed();
DROP FUNCTION kpis_refresh_latest_measurements(bigint[]);
"""


def _sqlite_refresh(project_kpi_id: str) -> str:
    # A DELETE and an INSERT, not INSERT OR REPLACE: an outer statement's conflict policy (an
    # upsert's) would override the trigger's own.
    return f"""
    DELETE FROM kpis_latestmeasurement WHERE project_kpi_id = {project_kpi_id};
    INSERT INTO kpis_latestmeasurement (project_kpi_id, measured_on, value)
    SELECT {project_kpi_id}, latest.measured_on, latest.value
      FROM (SELECT 1) LEFT JOIN (
          SELECT measured_on, value FROM kpis_measurement
           WHERE project_kpi_id = {project_kpi_id} AND deleted_at IS NULL
           ORDER BY measured_on DESC LIMIT 1) AS latest ON 1;"""


# SQLite (the embedded default) has row-level triggers only, and one writer at a time.
SQLITE_FORWARD = [
    f"""CREATE TRIGGER kpis_measurement_inserted AFTER INSERT ON kpis_measurement
    BEGIN {_sqlite_refresh("NEW.project_kpi_id")}
    END""",
    f"""CREATE TRIGGER kpis_measurement_updated
    AFTER UPDATE OF project_kpi_id, measured_on, value, deleted_at ON kpis_measurement
    BEGIN {_sqlite_refresh("OLD.project_kpi_id")} {_sqlite_refresh("NEW.project_kpi_id")}
    END""",
    f"""CREATE TRIGGER kpis_measurement_deleted AFTER DELETE ON kpis_measurement
    BEGIN {_sqlite_refresh("OLD.project_kpi_id")}
    END""",
    """CREATE TRIGGER kpis_projectkpi_deleted AFTER DELETE ON kpis_projectkpi
    BEGIN DELETE FROM kpis_latestmeasurement WHERE project_kpi_id = OLD.id;
    END""",
    """INSERT INTO kpis_latestmeasurement (project_kpi_id, measured_on, value)
    SELECT m.project_kpi_id, m.measured_on, m.value FROM kpis_measurement AS m
     WHERE m.deleted_at IS NULL
       AND m.measured_on = (
           SELECT MAX(x.measured_on) FROM kpis_measurement AS x
            WHERE x.project_kpi_id = m.project_kpi_id AND x.deleted_at IS NULL)""",
]

SQLITE_BACKWARD = [
    "DROP TRIGGER kpis_projectkpi_deleted",
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
            ],
            options={
                "default_permissions": ("view",),
            },
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRESQL_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]

"""Imports: accept a file, run it (dry or for real) in batches through the bulk engine, confirm.

Every write goes through `projects.bulk.upsert`, the one write path shared with the API's bulk
endpoints: versions, audit entries, events and stale-score marks are the engine's. This module
reads the file, turns rows into the engine's records, and keeps the job's progress and outcome.

- A dry run sends each batch with `dry_run=True` (the engine rolls its transaction back), so it
  reports exactly what the import would do and writes nothing.
- Skip invalid: each batch is written in its own transaction, the valid rows only.
- All or nothing: a checking pass (a dry run, with progress) must come out clean; then every
  batch is written inside one transaction, so a row refused at write time (a concurrent change)
  still rolls back the whole import.
- A register (projects with their KPI columns) sends each batch's projects, then their KPIs and
  readings, in one savepoint; the row is the unit of both modes (`_register_batch`).
"""

import contextlib
import csv
import hashlib
import io
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connection, connections, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from imports import records as rec
from imports.models import ImportJob
from imports.parsing import FileProblem, is_blank, rows_of, sniff_format
from presentation.formatting import csv_text
from projects import access, bulk

logger = logging.getLogger(__name__)

Status = ImportJob.Status


class FileTooLarge(Exception):
    """The upload is over IMPORT_MAX_FILE_BYTES (the API answers 413 naming the limit)."""

    def __init__(self, size: int, limit: int):
        self.size, self.limit = size, limit
        super().__init__(
            f"The file is {size:,} bytes, over the limit of {limit:,} bytes ({limit / 1024 / 1024:.4g} MiB)."
        )


def max_file_bytes() -> int:
    return settings.IMPORT_MAX_FILE_BYTES


def batch_rows() -> int:
    """Rows per engine call: the setting, never more than the engine takes in one call."""
    return max(1, min(settings.IMPORT_BATCH_ROWS, bulk.BULK_LIMIT))


def can_import(user) -> bool:
    """Admins and account managers import (into the relationships they may write)."""
    return access.can_edit_projects(user)


def record_types_for(user) -> list[rec.RecordSpec]:
    """The record types this person may import: the portfolio's own records are admins' alone."""
    may_manage = access.can_manage_portfolio(user)
    return [spec for spec in rec.SPECS.values() if may_manage or not spec.admin_only]


def ensure_can_import(user) -> None:
    if not can_import(user):
        raise PermissionDenied("Only admins and account managers import data.")


# --- Accepting a file ---------------------------------------------------------------------------


def import_create(
    *,
    actor,
    file_name: str,
    content: bytes,
    record_type: str,
    dry_run: bool = True,
    mode: str = ImportJob.Mode.ALL_OR_NOTHING,
) -> ImportJob:
    """Keep the file and queue its run. Refuses (ValidationError by field, FileTooLarge) what can
    be told at once: an unknown record type or mode, an empty file, one that is not CSV or XLSX,
    one over the size limit. Problems inside the file are the run's to report."""
    ensure_can_import(actor)
    problems: dict[str, list[str]] = {}
    if record_type not in rec.SPECS:
        problems["record_type"] = [f"Choose one of: {', '.join(rec.SPECS)}."]
    elif rec.SPECS[record_type].admin_only and not access.can_manage_portfolio(actor):
        raise PermissionDenied("Only admins import organisations, relationships and the KPI catalogue.")
    if mode not in ImportJob.Mode.values:
        problems["mode"] = [f"Choose one of: {', '.join(ImportJob.Mode.values)}."]
    if len(content) > max_file_bytes():
        raise FileTooLarge(len(content), max_file_bytes())
    file_format = None
    try:
        file_format = sniff_format(content, file_name)
    except FileProblem as problem:
        problems["file"] = [str(problem)]
    if problems:
        raise ValidationError(problems)
    job = ImportJob.objects.create(
        created_by=actor,
        record_type=record_type,
        file_name=(file_name or "upload")[:255],
        file_format=file_format,
        file_size=len(content),
        content=content,
        dry_run=dry_run,
        mode=mode,
    )
    _enqueue(job.pk)
    return job


def import_confirm(*, actor, job: ImportJob) -> ImportJob:
    """Import the file of a finished dry run, with the same mode; the job becomes the import."""
    ensure_can_import(actor)
    if job.created_by_id != getattr(actor, "pk", None) and access.role_of(actor) != access.Role.ADMIN:
        raise PermissionDenied("Only the person who uploaded the file confirms its import.")
    updated = ImportJob.objects.filter(pk=job.pk, status=Status.DRY_RUN_DONE, dry_run=True).update(
        status=Status.QUEUED,
        dry_run=False,
        confirmed_at=timezone.now(),
        processed=0,
        started_at=None,
        finished_at=None,
    )
    if not updated:
        raise ValidationError({"status": ["Only a finished dry run can be confirmed."]})
    _enqueue(job.pk)
    job.refresh_from_db()
    return job


def _enqueue(job_id: int) -> None:
    from imports.tasks import run_import

    def send():
        try:
            run_import.delay(job_id)
        except Exception:  # the broker is down: say so on the job rather than leave it queued
            logger.warning("Import %s not queued (broker unreachable)", job_id, exc_info=True)
            ImportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
                status=Status.FAILED,
                message="The job queue is unreachable; nothing was imported. Please try again.",
                finished_at=timezone.now(),
            )

    transaction.on_commit(send, robust=True)


# --- Running ------------------------------------------------------------------------------------


class ImportRejected(Exception):
    """All or nothing: a row was refused while writing; the whole import rolls back."""


@dataclass
class Pass:
    """What one pass over the file found: counts, row outcomes, errors, rejected rows."""

    counts: dict = field(default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0})
    errors: list = field(default_factory=list)
    row_results: list = field(default_factory=list)
    rejected_rows: list = field(default_factory=list)  # (cells, error text)
    header: list = field(default_factory=list)


def import_run(*, job_id: int) -> ImportJob | None:
    """Run a queued job to its end; a job that is gone or not queued is left alone (a repeated
    message runs nothing twice)."""
    if not ImportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=timezone.now()
    ):
        return None
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    try:
        if job.created_by is None or not can_import(job.created_by):
            raise PermissionDenied("The person who uploaded the file may no longer import data.")
        _run(job)
    except (FileProblem, PermissionDenied) as problem:
        _finish(job, Status.FAILED, message=str(problem))
    except IntegrityError:
        # Another transaction wrote one of the same new keys at the same moment: the engine
        # rolled that batch back. Importing the file again finds those records and moves on.
        _finish(
            job,
            Status.FAILED,
            message="Another change wrote some of the same records at the same moment; that batch "
            "was not written. Import the file again: rows already imported come out unchanged.",
        )
    except Exception:
        logger.exception("Import %s failed", job_id)
        _finish(job, Status.FAILED, message="The import failed unexpectedly; nothing more was written.")
        raise
    return job


def _run(job: ImportJob) -> None:
    spec = rec.SPECS[job.record_type]
    header, headers = _header(job, spec)
    job.unknown_columns = headers.unknown
    if headers.missing:
        raise FileProblem(f"Missing required column(s): {', '.join(headers.missing)}.")
    total = sum(1 for _ in _data_rows(job))
    if total == 0:
        raise FileProblem("The file has a header row but no data rows.")
    if total > settings.IMPORT_MAX_ROWS:
        raise FileProblem(
            f"The file has {total:,} data rows, over the limit of {settings.IMPORT_MAX_ROWS:,}; split it."
        )
    job.total, job.processed = total, 0
    job.save(update_fields=["total", "processed", "unknown_columns"])

    if job.dry_run:
        outcome = _pass(job, spec, header, headers, dry_run=True)
        _finish(job, Status.DRY_RUN_DONE, outcome=outcome)
    elif job.mode == ImportJob.Mode.SKIP_INVALID:
        outcome = _pass(job, spec, header, headers, dry_run=False)
        _finish(job, Status.DONE, outcome=outcome)
    else:
        _say(job, "Checking every row before anything is written (all or nothing).")
        checked = _pass(job, spec, header, headers, dry_run=True)
        if checked.counts["rejected"]:
            _finish(
                job,
                Status.FAILED,
                outcome=checked,
                message=f"{checked.counts['rejected']:,} of {total:,} rows are invalid; "
                "nothing was imported.",
            )
            return
        # One transaction; its progress is saved from outside it, counting from 0 again.
        job.processed = 0
        _say(job, f"Every row checked; writing all {total:,} rows in one transaction.", processed=0)
        try:
            with transaction.atomic(), _progress_outside_the_transaction(job) as save:
                outcome = _pass(
                    job, spec, header, headers, dry_run=False, all_or_nothing=True, save_progress=save
                )
        except ImportRejected as rejected:
            _finish(
                job,
                Status.FAILED,
                outcome=rejected.args[0],
                message="A row was refused while importing; nothing was imported.",
            )
            return
        _finish(job, Status.DONE, outcome=outcome)


def _say(job: ImportJob, message: str, **fields) -> None:
    """What a running job is doing, for the progress display."""
    job.message = message
    ImportJob.objects.filter(pk=job.pk).update(message=message, **fields)


def _save_progress(job: ImportJob) -> None:
    ImportJob.objects.filter(pk=job.pk).update(processed=job.processed)


@contextlib.contextmanager
def _progress_outside_the_transaction(job: ImportJob):
    """A `save_progress` for a pass inside one transaction, whose writes others see only at its end:
    the rows processed go through a connection of its own (opened once for the pass), committed at
    once. Nothing in that transaction touches the job's row, so the two never wait for each other
    (and a lock timeout makes sure of it); should the side connection fail, the display lags and the
    import goes on. SQLite takes one writer at a time; there the embedded default runs the job in the
    request that started it, where no one polls, so it keeps its progress to the end."""
    if connection.vendor != "postgresql":
        yield lambda job: None
        return
    side = connections.create_connection(DEFAULT_DB_ALIAS)

    def save(job: ImportJob) -> None:
        try:
            with side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {ImportJob._meta.db_table} SET processed = %s WHERE id = %s",
                    [job.processed, job.pk],
                )
        except DatabaseError:
            logger.warning("Import %s: progress not saved", job.pk, exc_info=True)

    try:
        try:
            with side.cursor() as cursor:
                cursor.execute("SET lock_timeout = '2s'")
        except DatabaseError:
            logger.warning("Import %s: no connection for its progress", job.pk, exc_info=True)
        yield save
    finally:
        side.close()


def _header(job: ImportJob, spec: rec.RecordSpec):
    for row in rows_of(bytes(job.content), job.file_format):
        if not is_blank(row):
            return row, rec.match_headers(spec, row)
    raise FileProblem("The file has no header row (it is empty).")


def _data_rows(job: ImportJob) -> Iterator[tuple[int, list]]:
    """(row number as the spreadsheet shows it, cells) of every non-blank row after the header."""
    seen_header = False
    for number, row in enumerate(rows_of(bytes(job.content), job.file_format), start=1):
        if is_blank(row):
            continue
        if not seen_header:
            seen_header = True
            continue
        yield number, row


def _pass(
    job, spec, header, headers, *, dry_run: bool, all_or_nothing: bool = False, save_progress=None
) -> Pass:
    """One pass over the file in batches; after each, the rows processed so far are saved with
    `save_progress` (by default an UPDATE of the job in the caller's transaction)."""
    save_progress = save_progress or _save_progress
    outcome = Pass()
    seen: dict[tuple, int] = {}
    batch: list[tuple[int, list]] = []

    def run(batch):
        _batch(job, spec, headers, batch, seen, outcome, dry_run=dry_run, all_or_nothing=all_or_nothing)
        job.processed = min(job.total, job.processed + len(batch))
        save_progress(job)

    for number, row in _data_rows(job):
        batch.append((number, row))
        if len(batch) >= batch_rows():
            run(batch)
            batch = []
    if batch:
        run(batch)
    outcome.header = header
    return outcome


def _batch(job, spec, headers, batch, seen, outcome: Pass, *, dry_run: bool, all_or_nothing: bool) -> None:
    if spec.group:
        _register_batch(
            job, spec, headers, batch, seen, outcome, dry_run=dry_run, all_or_nothing=all_or_nothing
        )
        return
    actor = job.created_by
    parsed = [rec.row_values(spec, headers, row) for _number, row in batch]
    resolved = rec.resolve_batch(spec, actor, [values for values, _ in parsed])
    problems_of: dict[int, dict[str, list[str]]] = {}
    candidates: list[tuple[int, dict]] = []  # (position in batch, record)
    for position, ((_values, cell_problems), (record, ref_problems)) in enumerate(
        zip(parsed, resolved, strict=True)
    ):
        problems = {**cell_problems, **ref_problems}
        if problems or record is None:
            problems_of[position] = problems
        else:
            candidates.append((position, record))
    keyed, matched = _keys(spec, actor, candidates, problems_of)
    for position, record in keyed:
        key = rec.row_key(spec, record)
        number = batch[position][0]
        if key in seen:
            problems_of[position] = {
                "external_id" if record.get("external_id") else spec.natural_key[0]: [
                    f"the same record as row {seen[key]}"
                ]
            }
        else:
            seen[key] = number
    to_send = [(position, record) for position, record in keyed if position not in problems_of]
    if all_or_nothing and problems_of:  # the file changed under us since the check? never half-import
        for position, problems in problems_of.items():
            _reject(outcome, spec, headers, batch[position], problems)
        raise ImportRejected(outcome)
    results: dict[int, dict] = {}
    if to_send:
        engine_records = [_engine_shape(record) for _position, record in to_send]
        result = bulk.upsert(
            actor=actor,
            record_type=rec.ENGINE_RECORD_TYPES[spec.key],
            records=engine_records,
            dry_run=dry_run,
            skip_invalid=True,
            matches={
                index: matched[position] for index, (position, _) in enumerate(to_send) if position in matched
            },
        )
        for index, problems in result.problems.items():
            problems_of[to_send[index][0]] = problems
        for item in result.results:
            results[to_send[item["index"]][0]] = item
        if all_or_nothing and result.problems:
            for index, problems in result.problems.items():
                _reject(outcome, spec, headers, batch[to_send[index][0]], problems)
            raise ImportRejected(outcome)
    for position, (number, row) in enumerate(batch):
        if position in problems_of:
            _reject(outcome, spec, headers, (number, row), problems_of[position])
            continue
        item = results[position]
        outcome.counts[item["status"]] += 1
        _row_result(
            outcome,
            {"row": number, "status": item["status"], "key": item["external_id"] or "", "id": item["id"]},
        )


# --- The register: projects with their KPI columns ---------------------------------------------

# The project KPI's fields a register's KPI group gives (besides the KPI, named by its code).
KPI_GROUP_FIELDS = ("external_id", "baseline_value", "baseline_date", "target_value")
# A KPI group's reading: both cells, or neither.
READING_FIELDS = ("value", "measured_on")


@dataclass
class RegisterRow:
    """One register row on its way to the engine: its project and its non-empty KPI groups."""

    position: int  # in the batch
    project: dict
    groups: list  # rec.GroupValues, each with the KPI's id under values["kpi"]
    match: bulk.Match | None = None  # the existing project its natural key names, if it has no key


def _register_batch(
    job, spec, headers, batch, seen, outcome: Pass, *, dry_run: bool, all_or_nothing: bool
) -> None:
    """A batch of register rows, each a project and its KPIs. The row is the unit: a row with any
    bad cell, unknown reference or refused record is rejected whole, its project included. Cells
    and references are checked first for the whole batch; then projects and project KPIs go to
    the engine in one savepoint (projects first, so the KPIs can name new projects), and when the
    engine refuses a row's project or one of its KPIs, the savepoint is rolled back and the batch
    sent again without that row. A dry run rolls the savepoint back in any case."""
    actor = job.created_by
    parsed = [rec.row_values(spec, headers, row) for _number, row in batch]
    groups_of = [rec.group_values(spec, headers, row) for _number, row in batch]
    resolved = rec.resolve_batch(spec, actor, [values for values, _ in parsed])
    kpi_ids = rec.catalogue_by_code(
        {group.values["code"] for groups in groups_of for group in groups if "code" in group.values}
    )
    problems_of: dict[int, dict[str, list[str]]] = {}
    candidates: list[tuple[int, dict]] = []
    for position, ((_values, cell_problems), (record, ref_problems), groups) in enumerate(
        zip(parsed, resolved, groups_of, strict=True)
    ):
        problems = {**cell_problems, **ref_problems}
        for group in groups:
            problems.update(group.problems)
        problems.update(_kpis_of_groups(groups, kpi_ids))
        if problems or record is None:
            problems_of[position] = problems
        else:
            candidates.append((position, record))
    keyed, matched = _keys(rec.PROJECTS, actor, candidates, problems_of)
    for position, record in keyed:
        key = rec.row_key(rec.PROJECTS, record)
        if key in seen:
            column = "external_id" if record.get("external_id") else rec.PROJECTS.natural_key[0]
            problems_of[position] = {column: [f"the same record as row {seen[key]}"]}
        else:
            seen[key] = batch[position][0]
    rows = [
        RegisterRow(
            position=position, project=record, groups=groups_of[position], match=matched.get(position)
        )
        for position, record in keyed
        if position not in problems_of
    ]
    if all_or_nothing and problems_of:
        _reject_all(outcome, spec, headers, batch, problems_of)
    results: dict[int, dict] = {}
    while rows:
        results, refused = _write_register_rows(actor, rows, dry_run=dry_run)
        if not refused:
            break
        problems_of.update(refused)
        if all_or_nothing:
            _reject_all(outcome, spec, headers, batch, refused)
        rows = [row for row in rows if row.position not in refused]
        results = {}
    for position, (number, row) in enumerate(batch):
        if position in problems_of:
            _reject(outcome, spec, headers, (number, row), problems_of[position])
            continue
        item = results[position]
        outcome.counts[item["status"]] += 1
        _row_result(outcome, {"row": number, **item})


def _kpis_of_groups(groups: list, kpi_ids: dict[str, list[int]]) -> dict[str, list[str]]:
    """Name each group's KPI by its id (values["kpi"]); the problems by the code column as written."""
    problems: dict[str, list[str]] = {}
    first_column_of: dict[int, str] = {}
    for group in groups:
        given = [name for name in READING_FIELDS if name in group.values]
        if len(given) == 1:
            (absent,) = set(READING_FIELDS) - set(given)
            problems[group.headers[absent]] = [f"required with {group.headers[given[0]]}"]
        code, column = group.values.get("code"), group.headers["code"]
        if code is None:
            continue  # an empty code is a cell problem already
        pks = kpi_ids.get(code, [])
        if not pks:
            problems[column] = [rec.NO_SUCH_RECORD.format(value=code)]
        elif len(pks) > 1:
            problems[column] = [f"{code!r} names {len(pks)} KPIs; use the code"]
        elif pks[0] in first_column_of:
            problems[column] = [f"the same KPI as {first_column_of[pks[0]]}"]
        else:
            first_column_of[pks[0]] = column
            group.values["kpi"] = pks[0]
    return problems


def _write_register_rows(actor, rows: list[RegisterRow], *, dry_run: bool) -> tuple[dict, dict]:
    """Projects, then their KPIs, through the engine in one savepoint: (results by position,
    problems by position of the rows refused). Kept only when nothing was refused and this is
    not a dry run."""
    refused: dict[int, dict[str, list[str]]] = {}
    results: dict[int, dict] = {}
    with transaction.atomic():
        projects = bulk.upsert(
            actor=actor,
            record_type="project",
            records=[_engine_shape(row.project) for row in rows],
            dry_run=False,
            skip_invalid=True,
            matches={index: row.match for index, row in enumerate(rows) if row.match is not None},
        )
        for index, problems in projects.problems.items():
            refused[rows[index].position] = problems
        project_of = {rows[item["index"]].position: item for item in projects.results}
        kpi_rows: list[tuple[RegisterRow, object]] = []  # (row, group), one per project KPI record
        kpi_records: list[tuple[int, dict]] = []
        for row in rows:
            if row.position in refused:
                continue
            for group in row.groups:
                record = {"project": project_of[row.position]["id"], "kpi": group.values["kpi"]}
                record |= {name: group.values[name] for name in KPI_GROUP_FIELDS if name in group.values}
                kpi_records.append((len(kpi_rows), record))
                kpi_rows.append((row, group))
        key_problems: dict[int, dict[str, list[str]]] = {}
        _, kpi_matches = _keys(rec.PROJECT_KPIS, actor, kpi_records, key_problems)
        to_send = [(index, record) for index, record in kpi_records if index not in key_problems]
        kpis = (
            bulk.upsert(
                actor=actor,
                record_type="project_kpi",
                records=[_engine_shape(record) for _index, record in to_send],
                dry_run=False,
                skip_invalid=True,
                matches=_matches_of(to_send, kpi_matches),
            )
            if to_send
            else None
        )
        group_problems = dict(key_problems)
        kpi_status: dict[int, str] = {}
        kpi_pk: dict[int, int] = {}
        if kpis is not None:
            for index, problems in kpis.problems.items():
                group_problems[to_send[index][0]] = problems
            for item in kpis.results:
                kpi_status[to_send[item["index"]][0]] = item["status"]
                kpi_pk[to_send[item["index"]][0]] = item["id"]
        reading_status = _write_readings(actor, kpi_rows, kpi_pk, group_problems)
        for index, problems in group_problems.items():
            row, group = kpi_rows[index]
            named = refused.setdefault(row.position, {})
            for name, messages in problems.items():
                named.setdefault(_group_column(group, name), []).extend(messages)
        if refused or dry_run:
            transaction.set_rollback(True)
    if refused:
        return {}, refused
    statuses_of: dict[int, list[tuple[str, str, str | None]]] = {}
    for index, (row, group) in enumerate(kpi_rows):
        statuses_of.setdefault(row.position, []).append(
            (group.values["code"], kpi_status[index], reading_status.get(index))
        )
    for row in rows:
        project = project_of[row.position]
        statuses = statuses_of.get(row.position, [])
        status = project["status"]
        changed = {"created", "updated"}
        if status == "unchanged" and any(
            kpi in changed or reading in changed for _c, kpi, reading in statuses
        ):
            status = "updated"
        results[row.position] = {
            "status": status,
            "key": project["external_id"],
            "id": None if dry_run and project["status"] == "created" else project["id"],
            "messages": (
                ["KPIs: " + ", ".join(_kpi_outcome(*outcome) for outcome in statuses)] if statuses else []
            ),
        }
    return results, refused


def _write_readings(actor, kpi_rows: list, kpi_pk: dict[int, int], group_problems: dict) -> dict[int, str]:
    """The KPI groups' readings as measurements of their project KPIs (keyed by project KPI +
    date, as on the measurements sheet): their statuses by KPI record; problems added to
    group_problems."""
    records = [
        (index, {"project_kpi": kpi_pk[index], **{name: group.values[name] for name in READING_FIELDS}})
        for index, (_row, group) in enumerate(kpi_rows)
        if index in kpi_pk and all(name in group.values for name in READING_FIELDS)
    ]
    if not records:
        return {}
    unkeyed: dict[int, dict[str, list[str]]] = {}
    _, reading_matches = _keys(rec.MEASUREMENTS, actor, records, unkeyed)
    for index, problems in unkeyed.items():  # several readings kept on that date
        group_problems[index] = {
            "measured_on": [message for messages in problems.values() for message in messages]
        }
    to_send = [(index, record) for index, record in records if index not in group_problems]
    if not to_send:
        return {}
    readings = bulk.upsert(
        actor=actor,
        record_type="measurement",
        records=[_engine_shape(record) for _index, record in to_send],
        dry_run=False,
        skip_invalid=True,
        matches=_matches_of(to_send, reading_matches),
    )
    for index, problems in readings.problems.items():
        group_problems[to_send[index][0]] = {
            ("measured_on" if name == "external_id" else name): messages
            for name, messages in problems.items()
        }
    return {to_send[item["index"]][0]: item["status"] for item in readings.results}


def _matches_of(to_send: list[tuple[int, dict]], matches: dict[int, bulk.Match]) -> dict[int, bulk.Match]:
    """The natural-key matches of the records sent, by their index in what is sent."""
    return {
        index: matches[position] for index, (position, _record) in enumerate(to_send) if position in matches
    }


def _kpi_outcome(code: str, status: str, reading: str | None) -> str:
    return f"{code} {status}" + (f" (reading {reading})" if reading else "")


def _group_column(group, name: str) -> str:
    """The column, as the sheet writes it, of an engine problem with a KPI group's record."""
    if name in group.headers:
        return group.headers[name]
    return group.headers["code"]  # the KPI or project named, or the record as a whole


def _reject_all(outcome: Pass, spec, headers, batch, problems_of: dict[int, dict[str, list[str]]]):
    """All or nothing: report the refused rows, then roll the whole import back."""
    for position, problems in problems_of.items():
        _reject(outcome, spec, headers, batch[position], problems)
    raise ImportRejected(outcome)


def _row_result(outcome: Pass, result: dict) -> None:
    if len(outcome.row_results) < settings.IMPORT_ROW_RESULTS_SHOWN:
        outcome.row_results.append(result)


def _reject(outcome: Pass, spec, headers, numbered_row, problems: dict[str, list[str]]) -> None:
    number, row = numbered_row
    outcome.counts["rejected"] += 1
    texts = []
    for column, messages in problems.items():
        column = "row" if column == "non_field_errors" else column
        for message in messages:
            texts.append(f"{column}: {message}")
            if len(outcome.errors) < settings.IMPORT_ERRORS_KEPT:
                outcome.errors.append({"row": number, "column": column, "message": message})
    position = headers.positions.get("external_id")
    key = row[position] if position is not None and position < len(row) else None
    shown = "" if key is None or hasattr(key, "text") else str(key)[:100]
    _row_result(outcome, {"row": number, "status": "rejected", "key": shown, "messages": texts})
    outcome.rejected_rows.append((row, "; ".join(texts)))


def _keys(spec, actor, candidates, problems_of) -> tuple[list[tuple[int, dict]], dict[int, bulk.Match]]:
    """Give every row the engine's key, and find the existing records natural keys name.

    A row without an external_id takes the external_id of the one live record its natural key
    names; when that record has none, the row updates it as it is (matched by id, the record keeps
    having no key); when it names none, the row gets a key derived from the natural key, so that
    importing the same file again finds the same record. A row with an external_id that no live
    record holds updates the one record its natural key names that has none, and gives it the key.
    A natural key that names several records is the row's error. Three queries per batch at most."""
    own_keys = {record["external_id"] for _, record in candidates if record.get("external_id")}
    held = (
        set(spec.existing(actor).filter(external_id__in=own_keys).values_list("external_id", flat=True))
        if own_keys
        else set()
    )
    # The natural keys worth looking up: rows without an external_id, and rows whose external_id
    # no live record holds yet (a re-import of a keyed file looks up nothing).
    natural = {
        position: key
        for position, record in candidates
        if record.get("external_id") not in held and (key := rec.natural_key_of(spec, record)) is not None
    }
    existing = _existing_by_natural_key(spec, actor, set(natural.values()))
    matches: dict[int, bulk.Match] = {}
    for position, record in candidates:
        key = natural.get(position)
        rows = existing.get(key, []) if key is not None else []
        if record.get("external_id"):
            unkeyed = [row for row in rows if not row["external_id"]]
            if len(unkeyed) > 1:
                problems_of[position] = _ambiguous(spec, unkeyed)
            elif unkeyed:
                matches[position] = bulk.Match(id=unkeyed[0]["pk"], sets_key=True)
            continue
        if len(rows) > 1:
            problems_of[position] = _ambiguous(spec, rows)
        elif not rows:
            record["external_id"] = derived_key(spec, key)
        elif rows[0]["external_id"]:
            record["external_id"] = rows[0]["external_id"]
        else:
            record["external_id"] = derived_key(spec, key)  # tells the batch's rows apart; not written
            matches[position] = bulk.Match(id=rows[0]["pk"], sets_key=False)
    return candidates, matches


def _ambiguous(spec, rows: list[dict]) -> dict[str, list[str]]:
    ids = ", ".join(str(row["pk"]) for row in sorted(rows, key=lambda row: row["pk"]))
    names = " + ".join(spec.natural_key)
    return {
        spec.natural_key[0]: [
            f"{len(rows)} existing records have this {names} (ids {ids}); "
            "give the row the external_id or id of the one to update"
        ]
    }


def _existing_by_natural_key(spec, actor, keys: set[tuple]) -> dict[tuple, list[dict]]:
    """Existing live records (in the importer's scope) named by these natural keys: one query on
    each field's set of values (text compared ignoring case), the exact keys picked here, then one
    keeping those in scope. (Filtered by the values first: joined with the scope at once, a table
    without fresh statistics had the planner walk every scoped parent, seconds per batch.)"""
    if not keys:
        return {}
    rows = spec.model._default_manager.filter(deleted_at__isnull=True)
    for index, name in enumerate(spec.natural_key_fields):
        values = {key[index] for key in keys}
        if all(isinstance(value, str) for value in values):
            rows = rows.annotate(**{f"natural_{name}": Lower(name)}).filter(
                **{f"natural_{name}__in": {value.lower() for value in values}}
            )
        else:
            rows = rows.filter(**{f"{name}__in": values})
    candidates = []
    for row in rows.order_by("pk").values("pk", "external_id", *spec.natural_key_fields):
        key = tuple(
            value.casefold() if isinstance(value, str) else value
            for value in (row[name] for name in spec.natural_key_fields)
        )
        if key in keys:
            candidates.append((key, row))
    if not candidates:
        return {}
    in_scope = set(
        spec.existing(actor).filter(pk__in=[row["pk"] for _, row in candidates]).values_list("pk", flat=True)
    )
    found: dict[tuple, list[dict]] = defaultdict(list)
    for key, row in candidates:
        if row["pk"] in in_scope:
            found[key].append(row)
    return found


def derived_key(spec, key: tuple) -> str:
    """A stable external_id for a row that has none: the record type and its natural key."""
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:20]
    return f"import-{spec.key}-{digest}"


def _engine_shape(record: dict) -> dict:
    """Values as the API's JSON has them: decimals and dates as text, parents by id."""
    shaped = {}
    for name, value in record.items():
        if hasattr(value, "isoformat"):
            shaped[name] = value.isoformat()
        elif isinstance(value, (int, str, list)) or value is None:
            shaped[name] = value
        else:
            shaped[name] = str(value)
    return shaped


def _finish(job: ImportJob, status: str, *, outcome: Pass | None = None, message: str = "") -> None:
    job.status = status
    job.message = message
    job.finished_at = timezone.now()
    fields = ["status", "message", "finished_at", "processed", "unknown_columns"]
    if outcome is not None:
        job.created = outcome.counts["created"]
        job.updated = outcome.counts["updated"]
        job.unchanged = outcome.counts["unchanged"]
        job.rejected = outcome.counts["rejected"]
        job.errors = outcome.errors
        job.row_results = outcome.row_results
        job.rejected_csv = rejected_csv(getattr(outcome, "header", []), outcome.rejected_rows)
        job.processed = job.total
        fields += ["created", "updated", "unchanged", "rejected", "errors", "row_results", "rejected_csv"]
    job.save(update_fields=fields)


def rejected_csv(header: list, rows: list[tuple[list, str]]) -> str:
    """The rejected rows as they were, with an `error` column; formula-like cells escaped."""
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.writer(out)
    width = len(header)
    writer.writerow([csv_text(cell) for cell in header] + ["error"])
    for cells, error in rows:
        cells = list(cells)[:width] + [None] * (width - len(cells))
        writer.writerow([csv_text(_plain(cell)) for cell in cells] + [csv_text(error)])
    return out.getvalue()


def _plain(cell):
    text = getattr(cell, "text", None)  # a Formula keeps its text
    if text is not None:
        return text
    if hasattr(cell, "isoformat"):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        return int(cell)
    return cell

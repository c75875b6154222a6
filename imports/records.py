"""What a sheet of each record type holds, and how its rows become the bulk engine's records.

One `RecordSpec` per record type lists its columns (field name, label, kind, whether required,
allowed values). The columns' labels and allowed values come from the models, so a template, the
header matching and the messages always agree with what the database takes.

Rows name related records the way a spreadsheet does: by `external_id`, by id, or by a readable
key (a relationship's name, a KPI's code, a project's title when it is unique in the importer's
scope). `resolve_batch` turns a batch of rows into engine records in a few set-based queries (one
per parent type, one for the natural keys), scoped to the relationships the importer may write:
a record outside them reads as absent, exactly as through the API.

A register (`PROJECT_REGISTER`) is the projects sheet with numbered column groups beside it, one
per KPI (`kpi_1_code`, `kpi_1_baseline_value`, …, `kpi_2_code`, …): `match_headers` finds the
groups in the header, `group_values` reads a row's non-empty groups.
"""

import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Q

from imports.parsing import CellProblem, cell_text, normalise, parse_date, parse_decimal
from kpis.models import KPI, Measurement, ProjectKPI
from projects import access
from projects.models import InnovationProject, Organization, Relationship

NO_SUCH_RECORD = "no such record: {value!r}"
# The columns that name another record, resolved to its id before the engine sees the row.
REFERENCES = ("relationship", "project", "kpi", "project_kpi", "client", "provider")


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    kind: str = "text"  # text | decimal | date | choice | ref
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    example: str = ""
    note: str = ""

    @property
    def allowed(self) -> str:
        return " | ".join(value for value, _label in self.choices)


@dataclass(frozen=True)
class RecordSpec:
    key: str
    label: str
    model: type
    columns: tuple[Column, ...]
    # Fields that identify a record when the row has no external_id (after references resolve).
    natural_key: tuple[str, ...]
    # The same, as the table's columns (for the lookup of existing records).
    natural_key_fields: tuple[str, ...]
    # The live records of this type the importer may write (natural keys are looked up there).
    existing: Callable = field(default=lambda user: None)
    # Column groups of which at least one must be given (e.g. project_kpi, or project + kpi).
    either: tuple[tuple[str, ...], ...] = field(default=())
    # Organisations and the KPI catalogue are managed by admins only.
    admin_only: bool = False
    # A repeated column group (kpi_1_code, kpi_1_baseline_value, kpi_2_code, …): its prefix and
    # the columns of one group, numbered 1, 2, … in the header.
    group_prefix: str = ""
    group: tuple[Column, ...] = ()

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


def _model_column(model, name: str, *, kind: str | None = None, required: bool | None = None, example=""):
    model_field = model._meta.get_field(name)
    choices = tuple((str(value), str(label)) for value, label in (model_field.choices or ()))
    if kind is None:
        internal = model_field.get_internal_type()
        kind = (
            "choice"
            if choices
            else {"DecimalField": "decimal", "DateField": "date", "ForeignKey": "ref"}.get(internal, "text")
        )
    if required is None:
        required = not (model_field.blank or model_field.has_default())
    return Column(
        name=name,
        label=str(model_field.verbose_name),
        kind=kind,
        required=required,
        choices=choices,
        example=example,
    )


EXTERNAL_ID_NOTE = "your key for the row; rows without one are matched by their natural key"

PROJECTS = RecordSpec(
    key="projects",
    label="Projects",
    model=InnovationProject,
    natural_key=("relationship", "title"),
    natural_key_fields=("relationship_id", "title"),
    existing=lambda user: writable_projects(user),
    columns=(
        Column("external_id", "external id", note=EXTERNAL_ID_NOTE, example="PRJ-0001"),
        Column(
            "relationship",
            "relationship",
            "ref",
            required=True,
            example="Acme with Provider",
            note="the relationship's external_id, id or name",
        ),
        _model_column(InnovationProject, "title", example="Supplier onboarding automation"),
        _model_column(InnovationProject, "description", example="Robotic checks of new vendor records"),
        _model_column(InnovationProject, "level", example="process"),
        _model_column(InnovationProject, "stage", example="idea"),
        _model_column(InnovationProject, "originator", example="joint"),
        _model_column(InnovationProject, "proposed_on", example="2026-01-15"),
        _model_column(InnovationProject, "started_on"),
        _model_column(InnovationProject, "delivered_on"),
        _model_column(InnovationProject, "investment", example="120000"),
        _model_column(InnovationProject, "expected_annual_benefit", example="450000.50"),
        _model_column(InnovationProject, "realised_annual_benefit"),
        _model_column(InnovationProject, "funding", example="shared"),
        _model_column(InnovationProject, "gain_share_pct"),
        _model_column(InnovationProject, "gain_share_baseline"),
        _model_column(InnovationProject, "outcome"),
    ),
)

PROJECT_KPIS = RecordSpec(
    key="project_kpis",
    label="Project KPIs",
    model=ProjectKPI,
    natural_key=("project", "kpi"),
    natural_key_fields=("project_id", "kpi_id"),
    existing=lambda user: writable_project_kpis(user),
    columns=(
        Column("external_id", "external id", note=EXTERNAL_ID_NOTE, example="PK-0001"),
        Column(
            "project",
            "project",
            "ref",
            required=True,
            example="PRJ-0001",
            note="the project's external_id, id or title (a title unique among your projects)",
        ),
        Column("kpi", "KPI", "ref", required=True, example="fill_rate", note="the KPI's code"),
        _model_column(ProjectKPI, "baseline_value", example="60"),
        _model_column(ProjectKPI, "baseline_date", example="2026-01-31"),
        _model_column(ProjectKPI, "target_value", example="85"),
    ),
)

MEASUREMENTS = RecordSpec(
    key="measurements",
    label="Measurements",
    model=Measurement,
    natural_key=("project_kpi", "measured_on"),
    natural_key_fields=("project_kpi_id", "measured_on"),
    existing=lambda user: Measurement.objects.filter(
        deleted_at__isnull=True, project_kpi__in=writable_project_kpis(user)
    ),
    either=(("project_kpi",), ("project", "kpi")),
    columns=(
        Column("external_id", "external id", note=EXTERNAL_ID_NOTE, example="M-0001"),
        Column(
            "project_kpi",
            "project KPI",
            "ref",
            example="PK-0001",
            note="the project KPI's external_id or id; or give project and kpi instead",
        ),
        Column(
            "project", "project", "ref", example="", note="with kpi: the project's external_id, id or title"
        ),
        Column("kpi", "KPI", "ref", example="", note="with project: the KPI's code"),
        _model_column(Measurement, "measured_on", example="2026-06-30"),
        _model_column(Measurement, "value", example="72.5"),
    ),
)

ORGANIZATIONS = RecordSpec(
    key="organizations",
    label="Organisations",
    model=Organization,
    natural_key=("name",),
    natural_key_fields=("name",),
    existing=lambda user: Organization.objects.filter(deleted_at__isnull=True),
    admin_only=True,
    columns=(
        Column("external_id", "external id", note=EXTERNAL_ID_NOTE, example="ORG-0001"),
        _model_column(Organization, "name", example="Acme Aerospace"),
        _model_column(Organization, "kind", example="client"),
        _model_column(Organization, "industry", example="Aerospace"),
        _model_column(Organization, "country", example="Germany"),
    ),
)

KPIS = RecordSpec(
    key="kpis",
    label="KPI catalogue",
    model=KPI,
    natural_key=("code",),
    natural_key_fields=("code",),
    existing=lambda user: KPI.objects.filter(deleted_at__isnull=True),
    admin_only=True,
    columns=(
        Column("external_id", "external id", note=EXTERNAL_ID_NOTE, example="KPI-0001"),
        _model_column(KPI, "code", example="order_fill_rate"),
        _model_column(KPI, "name", example="Customer-order fill rate"),
        _model_column(KPI, "unit", example="percent"),
        _model_column(KPI, "direction", example="higher_is_better"),
        _model_column(KPI, "description", example="Share of orders filled complete"),
    ),
)

RELATIONSHIPS = RecordSpec(
    key="relationships",
    label="Relationships",
    model=Relationship,
    natural_key=("client", "provider", "name"),
    natural_key_fields=("client_id", "provider_id", "name"),
    existing=lambda user: Relationship.objects.filter(deleted_at__isnull=True),
    admin_only=True,
    columns=(
        Column("external_id", "external id", note=EXTERNAL_ID_NOTE, example="REL-0001"),
        _model_column(Relationship, "name", example="Acme with Provider"),
        Column(
            "client",
            "client",
            "ref",
            required=True,
            example="Acme Aerospace",
            note="the organisation's external_id, id or name",
        ),
        Column(
            "provider",
            "provider",
            "ref",
            required=True,
            example="Northwind BPO",
            note="the organisation's external_id, id or name",
        ),
        Column(
            "process_areas",
            "process areas",
            "list",
            example="procurement; finance_accounting",
            note="codes, separated by ; or ,",
        ),
        _model_column(Relationship, "contract_start", example="2025-01-01"),
        _model_column(Relationship, "contract_end", example="2028-12-31"),
        _model_column(Relationship, "annual_contract_value", example="1200000"),
        _model_column(Relationship, "currency", example="EUR"),
        _model_column(Relationship, "status", example="active"),
        Column("account_managers", "account managers", "list", note="usernames, separated by ; or ,"),
    ),
)

# A customer's register: one row per project, its KPIs in numbered column groups beside it.
PROJECT_REGISTER = RecordSpec(
    key="project_register",
    label="Projects with KPI columns",
    model=InnovationProject,
    natural_key=PROJECTS.natural_key,
    natural_key_fields=PROJECTS.natural_key_fields,
    existing=PROJECTS.existing,
    columns=PROJECTS.columns,
    group_prefix="kpi",
    group=(
        Column(
            "code",
            "KPI",
            "ref",
            required=True,
            example="fill_rate",
            note="the KPI's code (or external_id, id); a group whose cells are all empty is skipped",
        ),
        Column(
            "external_id",
            "project KPI external id",
            note="your key for the project's KPI; without one it is matched by project + KPI",
        ),
        _model_column(ProjectKPI, "baseline_value", example="60"),
        _model_column(ProjectKPI, "baseline_date", example="2026-01-31"),
        _model_column(ProjectKPI, "target_value", example="85"),
        # One reading per KPI fits a register's row (the latest, as registers carry it); a
        # series of readings belongs on the measurements sheet.
        Column(
            "value",
            "latest value",
            "decimal",
            example="72.5",
            note="a reading (optional; with its measured_on date), imported as a measurement",
        ),
        Column(
            "measured_on",
            "measured on",
            "date",
            example="2026-06-30",
            note="the reading's date (with value)",
        ),
    ),
)

SPECS = {
    spec.key: spec
    for spec in (PROJECTS, PROJECT_KPIS, PROJECT_REGISTER, MEASUREMENTS, ORGANIZATIONS, KPIS, RELATIONSHIPS)
}
RECORD_TYPE_CHOICES = [(spec.key, spec.label) for spec in SPECS.values()]

# The engine's name of each record type (projects.bulk).
ENGINE_RECORD_TYPES = {
    "projects": "project",
    "project_kpis": "project_kpi",
    "measurements": "measurement",
    "organizations": "organization",
    "kpis": "kpi",
    "relationships": "relationship",
}


# --- Headers ------------------------------------------------------------------------------------


@dataclass
class GroupColumn:
    name: str  # the group's column (code, baseline_value, …)
    position: int
    header: str  # as the sheet writes it ("KPI 2 baseline value"), for messages


@dataclass
class HeaderMap:
    positions: dict[str, int]  # column name → position in the row
    unknown: list[str]  # headers that match no column, as written
    missing: list[str]  # required columns absent from the header
    # Repeated groups by number (1, 2, …): their columns by name.
    groups: dict[int, dict[str, GroupColumn]] = field(default_factory=dict)


def group_header_name(spec: RecordSpec, number: int | str, name: str) -> str:
    """A group column's canonical header: kpi_2_baseline_value."""
    return f"{spec.group_prefix}_{number}_{name}"


def _match_group_headers(spec: RecordSpec, header: list) -> tuple[list, dict, list[str]]:
    """The group columns taken out of the header (their cells blanked for the other columns'
    matching): (the rest of the header, groups by number, unknown or repeated group headers)."""
    names = {}
    for column in spec.group:
        names[normalise(column.name)] = column.name
        names[normalise(column.label)] = column.name
    names[""] = spec.group[0].name  # a bare "kpi_1" is the group's first column (the KPI itself)
    pattern = re.compile(rf"^{re.escape(normalise(spec.group_prefix))}_?(\d{{1,3}})(?:_(.*))?$")
    rest = list(header)
    groups: dict[int, dict[str, GroupColumn]] = {}
    unknown: list[str] = []
    for position, raw in enumerate(header):
        text = "" if raw is None else str(raw).strip()
        match = pattern.match(normalise(text)) if text else None
        if match is None:
            continue
        rest[position] = None
        number, name = int(match.group(1)), names.get(match.group(2) or "")
        columns = groups.setdefault(number, {})
        if name is None or number == 0 or name in columns:
            unknown.append(text if name is None or number == 0 else f"{text} (a second “{name}” column)")
            continue
        columns[name] = GroupColumn(name=name, position=position, header=text)
    groups = {number: columns for number, columns in sorted(groups.items()) if columns}
    return rest, groups, unknown


def match_headers(spec: RecordSpec, header: list) -> HeaderMap:
    """Each header cell matched to a column by its field name or label, ignoring case, accents
    and punctuation; a header matching nothing is listed, never silently dropped."""
    if spec.group:
        rest, groups, unknown = _match_group_headers(spec, header)
        headers = match_headers(dataclasses.replace(spec, group=()), rest)
        headers.groups = groups
        headers.unknown += unknown
        for number, columns in groups.items():
            headers.missing += [
                group_header_name(spec, number, column.name)
                for column in spec.group
                if column.required and column.name not in columns
            ]
        return headers
    names = {}
    for column in spec.columns:
        names[normalise(column.name)] = column.name
        names[normalise(column.label)] = column.name
    positions: dict[str, int] = {}
    unknown: list[str] = []
    for position, raw in enumerate(header):
        text = "" if raw is None else str(raw).strip()
        if not text:
            continue
        name = names.get(normalise(text))
        if name is None or name in positions:
            unknown.append(text if name is None else f"{text} (a second “{name}” column)")
            continue
        positions[name] = position
    missing = [column.name for column in spec.columns if column.required and column.name not in positions]
    if spec.either and not any(all(name in positions for name in group) for group in spec.either):
        missing.append(" or ".join(" + ".join(group) for group in spec.either))
    return HeaderMap(positions=positions, unknown=unknown, missing=missing)


# --- Rows → values ------------------------------------------------------------------------------


def _choice(column: Column, value) -> str:
    text = cell_text(value)
    wanted = normalise(text)
    for choice, label in column.choices:
        if wanted in (normalise(choice), normalise(label)):
            return choice
    raise CellProblem(f"not one of the allowed values: {text!r} (allowed: {column.allowed})")


def _list(value) -> list[str] | None:
    text = cell_text(value)
    return [item.strip() for item in re.split(r"[;,|]", text) if item.strip()] or None


CONVERTERS: dict[str, Callable] = {
    "list": _list,
    "text": cell_text,
    "ref": cell_text,
    "decimal": parse_decimal,
    "date": parse_date,
}


def row_values(spec: RecordSpec, headers: HeaderMap, row: list) -> tuple[dict, dict[str, list[str]]]:
    """The row's cells converted to values by column; empty cells are left out (an import never
    blanks a field it was not given). Returns (values, problems by column)."""
    values: dict = {}
    problems: dict[str, list[str]] = {}
    for name, position in headers.positions.items():
        column = spec.column(name)
        raw = row[position] if position < len(row) else None
        try:
            value = _choice(column, raw) if column.kind == "choice" and cell_text(raw) else None
            if column.kind != "choice":
                value = CONVERTERS[column.kind](raw)
        except CellProblem as problem:
            problems.setdefault(name, []).append(str(problem))
            continue
        if value is None or value == "":
            if column.required:
                problems.setdefault(name, []).append("required, but empty")
            continue
        values[name] = value
    if (
        spec.either
        and not problems
        and not any(all(name in values for name in group) for group in spec.either)
    ):
        first = spec.either[0][0]
        problems[first] = ["give " + " or ".join(" + ".join(group) for group in spec.either)]
    return values, problems


@dataclass
class GroupValues:
    """One non-empty column group of a row: its values by column, its problems by the header as
    the sheet writes it."""

    number: int
    values: dict
    problems: dict[str, list[str]]
    headers: dict[str, str]  # column name → header as written (or the canonical one if absent)


def group_values(spec: RecordSpec, headers: HeaderMap, row: list) -> list[GroupValues]:
    """The row's column groups with a value in at least one cell (a group all empty is skipped),
    converted as any row's cells are."""
    one_group = dataclasses.replace(spec, columns=spec.group, group=(), either=())
    found = []
    for number, columns in headers.groups.items():
        cells = [row[column.position] if column.position < len(row) else None for column in columns.values()]
        if all(cell is None or str(cell).strip() == "" for cell in cells):
            continue
        positions = {name: column.position for name, column in columns.items()}
        values, problems = row_values(one_group, HeaderMap(positions=positions, unknown=[], missing=[]), row)
        written = {
            column.name: columns[column.name].header
            if column.name in columns
            else group_header_name(spec, number, column.name)
            for column in spec.group
        }
        found.append(
            GroupValues(
                number=number,
                values=values,
                problems={written[name]: messages for name, messages in problems.items()},
                headers=written,
            )
        )
    return found


# --- References and natural keys ----------------------------------------------------------------


def _by_key(queryset, wanted: set[str], readable: str | None) -> dict[str, list[int]]:
    """Each wanted reference → the ids it names: by external_id, by id (digits), by a readable key."""
    if not wanted:
        return {}
    ids = {int(value) for value in wanted if value.isdigit() and len(value) < 19}
    condition = Q(external_id__in=wanted) | Q(pk__in=ids)
    if readable:
        condition |= Q(**{f"{readable}__in": wanted})
    found: dict[str, list[int]] = defaultdict(list)
    fields = ["pk", "external_id", *([readable] if readable else [])]
    for row in queryset.filter(condition).values(*fields):
        if row["external_id"] in wanted:
            found[row["external_id"]].append(row["pk"])
        if str(row["pk"]) in wanted:
            found[str(row["pk"])].append(row["pk"])
        if readable and row[readable] in wanted:
            found[row[readable]].append(row["pk"])
    return {key: sorted(set(pks)) for key, pks in found.items()}


def catalogue_by_code(wanted: set[str]) -> dict[str, list[int]]:
    if not wanted:
        return {}
    found: dict[str, list[int]] = defaultdict(list)
    ids = {int(value) for value in wanted if value.isdigit() and len(value) < 19}
    condition = Q(code__in=wanted) | Q(external_id__in=wanted) | Q(pk__in=ids)
    for row in KPI.objects.filter(condition, deleted_at__isnull=True).values("pk", "code", "external_id"):
        for key in (row["code"], row["external_id"], str(row["pk"])):
            if key in wanted:
                found[key].append(row["pk"])
    return {key: sorted(set(pks)) for key, pks in found.items()}


def writable_projects(user):
    return InnovationProject.objects.filter(
        deleted_at__isnull=True, relationship__in=access.writable_relationships(user)
    )


def writable_project_kpis(user):
    return ProjectKPI.objects.filter(
        deleted_at__isnull=True,
        project__deleted_at__isnull=True,
        project__relationship__in=access.writable_relationships(user),
    )


def _lookups(spec: RecordSpec, user, rows: list[dict]) -> dict[str, dict[str, list[int]]]:
    wanted: dict[str, set[str]] = defaultdict(set)
    for values in rows:
        for name in REFERENCES:
            if name in values:
                wanted[name].add(values[name])
    relationships = access.writable_relationships(user).filter(deleted_at__isnull=True)
    organizations = Organization.objects.filter(deleted_at__isnull=True)
    return {
        "relationship": _by_key(relationships, wanted["relationship"], "name"),
        "project": _by_key(writable_projects(user), wanted["project"], "title"),
        "kpi": catalogue_by_code(wanted["kpi"]),
        "project_kpi": _by_key(writable_project_kpis(user), wanted["project_kpi"], None),
        "client": _by_key(organizations, wanted["client"], "name"),
        "provider": _by_key(organizations, wanted["provider"], "name"),
    }


def resolve_batch(spec: RecordSpec, user, rows: list[dict]) -> list[tuple[dict | None, dict[str, list[str]]]]:
    """Rows (values by column) → (engine record, problems) each: references become ids, and a row
    without an external_id is matched to an existing record by its natural key."""
    found = _lookups(spec, user, rows)
    resolved: list[tuple[dict | None, dict[str, list[str]]]] = []
    for values in rows:
        record = dict(values)
        problems: dict[str, list[str]] = {}
        for name in REFERENCES:
            if name not in values:
                continue
            pks = found[name].get(values[name], [])
            if not pks:
                problems[name] = [NO_SUCH_RECORD.format(value=values[name])]
            elif len(pks) > 1:
                problems[name] = [f"{values[name]!r} names {len(pks)} records; use the external_id or id"]
            else:
                record[name] = pks[0]
        resolved.append((None if problems else record, problems))
    _project_kpis_from_pairs(spec, user, resolved)
    return resolved


def _project_kpis_from_pairs(spec, user, resolved) -> None:
    """Measurements named by project + kpi: find the project KPI of each pair (one query)."""
    if spec is not MEASUREMENTS:
        return
    for record, _ in resolved:
        if record is not None and "project_kpi" in record:  # named directly: the pair is not needed
            record.pop("project", None)
            record.pop("kpi", None)
    pairs = {
        (record["project"], record["kpi"])
        for record, _ in resolved
        if record is not None and "project_kpi" not in record and "project" in record
    }
    if not pairs:
        return
    condition = Q()
    for project, kpi in pairs:
        condition |= Q(project_id=project, kpi_id=kpi)
    by_pair = {
        (row["project_id"], row["kpi_id"]): row["pk"]
        for row in writable_project_kpis(user).filter(condition).values("pk", "project_id", "kpi_id")
    }
    for index, (record, problems) in enumerate(resolved):
        if record is None or "project_kpi" in record or "project" not in record:
            continue
        pk = by_pair.get((record["project"], record["kpi"]))
        if pk is None:
            problems["kpi"] = ["this project does not track this KPI (no such project KPI)"]
            resolved[index] = (None, problems)
            continue
        record["project_kpi"] = pk
        record.pop("project")
        record.pop("kpi")


def natural_key_of(spec: RecordSpec, record: dict) -> tuple | None:
    if not all(name in record for name in spec.natural_key):
        return None
    return tuple(
        record[name].casefold() if isinstance(record[name], str) else record[name]
        for name in spec.natural_key
    )


def row_key(spec: RecordSpec, record: dict) -> tuple:
    """The key that makes two rows of one file the same record (so a file naming a record twice
    is refused rather than written in an order nobody chose)."""
    if record.get("external_id"):
        return ("external_id", record["external_id"])
    return ("natural", natural_key_of(spec, record))

"""The downloadable template of each record type: the header row, a comment row that says what
each column takes (required or not, the allowed values of a choice column), and one example row.
The import skips comment rows (first cell starting with “#”), so a filled-in template imports as
it is."""

import csv
import io

from imports.records import SPECS, Column, RecordSpec, group_header_name

KIND_HINTS = {
    "text": "text",
    "ref": "a reference",
    "decimal": "a number (12.5 or 12,5)",
    "date": "a date (2026-03-31, 31/03/2026 or 31.03.2026)",
    "choice": "one of",
    "list": "a list, separated by ; or ,",
}


def column_hint(column) -> str:
    parts = ["required" if column.required else "optional"]
    if column.kind == "choice":
        parts.append(f"one of: {column.allowed}")
    elif column.note:
        parts.append(column.note)
    else:
        parts.append(KIND_HINTS[column.kind])
    return "; ".join(parts)


# A register's template shows two KPI groups; the second one's example (the first's is its columns').
SECOND_GROUP_EXAMPLE = {"code": "first_time_right", "baseline_value": "92", "baseline_date": "2026-01-31"}
TEMPLATE_GROUPS = 2


def _template_columns(spec: RecordSpec) -> list[tuple[str, Column, str]]:
    """(header, column, example) of each column of the template, groups numbered 1 and 2."""
    columns = [(column.name, column, column.example) for column in spec.columns]
    for number in range(1, TEMPLATE_GROUPS + 1 if spec.group else 1):
        for column in spec.group:
            example = column.example if number == 1 else SECOND_GROUP_EXAMPLE.get(column.name, "")
            columns.append((group_header_name(spec, number, column.name), column, example))
    return columns


def template_csv(record_type: str) -> str:
    columns = _template_columns(SPECS[record_type])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([header for header, _column, _example in columns])
    hints = [column_hint(column) for _header, column, _example in columns]
    hints[0] = f"# {hints[0]}"
    writer.writerow(hints)
    writer.writerow([example for _header, _column, example in columns])
    return out.getvalue()


def template_notes(record_type: str) -> list[dict]:
    """Per column: name, label and what it takes (for the imports page); a register's KPI
    columns once, as kpi_N_… (N = 1, 2, … as many groups as the sheet needs)."""
    spec = SPECS[record_type]
    notes = [
        {"name": column.name, "label": column.label, "hint": column_hint(column)} for column in spec.columns
    ]
    notes += [
        {
            "name": group_header_name(spec, "N", column.name),
            "label": column.label,
            "hint": column_hint(column),
        }
        for column in spec.group
    ]
    return notes

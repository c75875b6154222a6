"""The downloadable template of each record type: the header row, a comment row that says what
each column takes (required or not, the allowed values of a choice column), and one example row.
The import skips comment rows (first cell starting with “#”), so a filled-in template imports as
it is."""

import csv
import io

from imports.records import SPECS

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


def template_csv(record_type: str) -> str:
    spec = SPECS[record_type]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([column.name for column in spec.columns])
    hints = [column_hint(column) for column in spec.columns]
    hints[0] = f"# {hints[0]}"
    writer.writerow(hints)
    writer.writerow([column.example for column in spec.columns])
    return out.getvalue()


def template_notes(record_type: str) -> list[dict]:
    """Per column: name, label and what it takes (for the imports page)."""
    return [
        {"name": column.name, "label": column.label, "hint": column_hint(column)}
        for column in SPECS[record_type].columns
    ]

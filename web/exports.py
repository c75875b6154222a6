"""A list as a file: the columns of the project export, written as CSV or as an Excel workbook.

One column list serves both formats. CSV cells are text as spreadsheets read it (ISO dates, plain
numbers, a leading apostrophe where text would start a formula); workbook cells keep their types
(dates as dates, amounts and percentages as numbers) and text is always stored as text, so a title
such as “=HYPERLINK(…)” can never become a formula in either.
"""

import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from presentation import formatting
from presentation.formatting import FORMULA_LEADS, csv_text  # noqa: F401 (the exports' own names)


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]
    kind: str = "text"  # text | date | money | percent | count
    width: int = 14


def _owner(project) -> str:
    return (project.owner.get_full_name() or project.owner.get_username()) if project.owner else ""


# The list's own columns first, in its order (so an export reads like the list it came from), then
# the detail a spreadsheet user needs.
PROJECT_COLUMNS = [
    Column("Project", lambda p: p.title, width=40),
    Column("Relationship", lambda p: p.relationship.name, width=36),
    Column("Level", lambda p: p.get_level_display(), width=24),
    Column("Stage", lambda p: p.get_stage_display()),
    Column("Owner", _owner, width=20),
    Column("Delivered", lambda p: p.delivered_on, "date"),
    Column("Impact (%)", lambda p: p.impact_pct, "percent", width=11),
    Column("Client", lambda p: p.relationship.client.name, width=24),
    Column("Provider", lambda p: p.relationship.provider.name, width=24),
    Column("Proposed", lambda p: p.proposed_on, "date"),
    Column("Started", lambda p: p.started_on, "date"),
    Column("Currency", lambda p: p.relationship.currency, width=9),
    Column("Investment", lambda p: p.investment, "money"),
    Column("Expected annual benefit", lambda p: p.expected_annual_benefit, "money", width=18),
    Column("Realised annual benefit", lambda p: p.realised_annual_benefit, "money", width=18),
    Column("KPIs", lambda p: len(p.live_kpis), "count", width=7),
]


# --- CSV ---------------------------------------------------------------------------------------


class Echo:
    """A file-like object whose write returns what it was given: csv.writer's rows, for a
    streamed response."""

    def write(self, value):
        return value


def csv_row(columns: list[Column], record) -> list[str]:
    cells = []
    for column in columns:
        value = column.value(record)
        if column.kind == "date":
            cells.append(formatting.export_date(value))
        elif column.kind in ("money", "percent"):
            cells.append(formatting.export_number(value, 2))
        elif column.kind == "count":
            cells.append(str(value))
        else:
            cells.append(csv_text(value))
    return cells


# --- Excel -------------------------------------------------------------------------------------

_NUMBER_FORMATS = {"date": "yyyy-mm-dd", "money": "#,##0.00", "percent": "0.00", "count": "0"}


def _xlsx_cell(sheet, column: Column, value):
    if column.kind == "text":
        cell = WriteOnlyCell(sheet, value="" if value is None else str(value))
        cell.data_type = "s"  # text stays text: never a formula, whatever it starts with
        return cell
    if value is None:
        return WriteOnlyCell(sheet, value=None)
    if column.kind in ("money", "percent"):
        # Exact to the cent (or to 2 decimals of a percent), as the CSV and the pages round it.
        value = Decimal(formatting.export_number(value, 2))
    cell = WriteOnlyCell(sheet, value=value if not isinstance(value, dt.datetime) else value.date())
    cell.number_format = _NUMBER_FORMATS[column.kind]
    return cell


def xlsx_workbook(columns: list[Column], records: Iterable, *, title: str) -> bytes:
    """The records as a one-sheet workbook (a bold, frozen header row; typed cells)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    for index, column in enumerate(columns):
        sheet.column_dimensions[get_column_letter(index + 1)].width = column.width
    sheet.freeze_panes = "A2"
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.data_type = "s"
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for record in records:
        sheet.append([_xlsx_cell(sheet, column, column.value(record)) for column in columns])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

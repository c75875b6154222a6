"""Reading an uploaded spreadsheet, one row at a time: CSV or XLSX, header matching, cell values.

Nothing here loads a whole file's cells as Python objects: CSV is read line by line from the
bytes, XLSX through openpyxl's read-only mode (which streams the sheet's XML). Every problem is a
`FileProblem` (the whole file is refused) or a per-cell message the caller reports with its row
number and column.

Why openpyxl: it is already a dependency (the exports write workbooks with it), it tells a formula
cell from a value (`data_type == "f"` when the workbook is not opened `data_only`), and read-only
mode keeps memory flat however many rows the sheet has. python-calamine is faster but gives no way
to tell a formula from its cached value, which the import must refuse.
"""

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from openpyxl import load_workbook

from presentation.formatting import FORMULA_LEADS

EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 is 1900-01-01 (Excel's 1900 leap-year bug included)
TEXT_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d")


class FileProblem(Exception):
    """The file as a whole cannot be imported; the message says why, for the person who sent it."""


class CellProblem(Exception):
    """One cell's value cannot be used; the message names what is wrong with it."""


@dataclass(frozen=True)
class Formula:
    """A cell that holds a formula: refused, since its value is whatever the spreadsheet computed."""

    text: str


# --- Files --------------------------------------------------------------------------------------


def sniff_format(content: bytes, file_name: str) -> str:
    """'csv' or 'xlsx', judged by the bytes (a PNG renamed .xlsx is no workbook)."""
    if not content:
        raise FileProblem("The file is empty.")
    if content[:4] == b"PK\x03\x04":
        try:
            names = zipfile.ZipFile(io.BytesIO(content)).namelist()
        except zipfile.BadZipFile as error:
            raise FileProblem("The file looks like a damaged XLSX workbook.") from error
        if "xl/workbook.xml" not in names:
            raise FileProblem("The file is a ZIP archive but not an XLSX workbook.")
        return "xlsx"
    head = content[:4096]
    if b"\x00" in head:
        raise FileProblem(
            f"{file_name or 'The file'} is neither CSV nor XLSX (it holds binary data); "
            "upload a .csv or .xlsx file."
        )
    return "csv"


def _decode_csv(content: bytes) -> str:
    if content.startswith(codecs.BOM_UTF8):
        content = content[len(codecs.BOM_UTF8) :]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise FileProblem(
            f"The CSV file is not valid UTF-8 (line {line}: byte 0x{content[error.start]:02x}); "
            "save it as “CSV UTF-8” and upload it again."
        ) from error


def csv_rows(content: bytes) -> Iterator[list]:
    """The rows of a CSV file, as lists of text; the delimiter (`,` or `;`) is sniffed from the
    header line. The whole text is decoded once (it is already in memory as bytes) but rows are
    parsed one at a time."""
    text = _decode_csv(content)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from reader
    except csv.Error as error:
        raise FileProblem(f"The CSV file cannot be read at line {reader.line_num}: {error}.") from error


def xlsx_rows(content: bytes) -> Iterator[list]:
    """The rows of the first sheet of a workbook, streamed; formula cells come as `Formula`."""
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many types for a broken archive
        raise FileProblem("The XLSX workbook cannot be opened; is it damaged?") from error
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows():
            values = []
            for cell in row:
                value = getattr(cell, "value", None)
                if getattr(cell, "data_type", None) == "f" or (
                    isinstance(value, str) and value.startswith("=") and len(value) > 1
                ):
                    values.append(Formula(str(value)))
                else:
                    values.append(value)
            yield values
    finally:
        workbook.close()


def rows_of(content: bytes, file_format: str) -> Iterator[list]:
    return xlsx_rows(content) if file_format == "xlsx" else csv_rows(content)


def is_blank(row: list) -> bool:
    """An empty row, or a comment row (first cell starting with “#”, as the templates' hint row)."""
    first = next((value for value in row if value is not None and str(value).strip()), None)
    return first is None or (isinstance(first, str) and first.strip().startswith("#") and first is row[0])


# --- Headers ------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a header: “Baseline Value (€)” and
    “baseline_value” both read `baseline_value`."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


# --- Cells --------------------------------------------------------------------------------------


def _unescape(text: str) -> str:
    # A cell an export escaped (presentation.formatting.csv_text) comes back with its apostrophe:
    # take it off again, so a rejected-rows file can be corrected and imported as it is.
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_LEADS:
        return text[1:]
    return text


def cell_text(value) -> str:
    """A cell as text, stripped; numbers without a spurious “.0”."""
    if isinstance(value, Formula):
        raise CellProblem("a formula, not a value")
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    text = str(value).strip()
    if text.startswith("=") and len(text) > 1:
        raise CellProblem("a formula, not a value")
    return _unescape(text)


def parse_decimal(value) -> Decimal | None:
    if isinstance(value, Formula):
        raise CellProblem("a formula, not a value")
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise CellProblem(f"not a number: {value!r}")
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    raw = cell_text(value)
    if not raw:
        return None
    if "%" in raw:
        raise CellProblem(f"not a number: {raw!r} (a percentage; give the plain number, e.g. 12.5)")
    text = raw.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace("'", "")
    if "," in text and "." in text:
        # Both separators: the last one is the decimal mark (1.234,5 or 1,234.5).
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        text = text.replace(",", ".") if text.count(",") == 1 else text.replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellProblem(f"not a number: {raw!r}") from None
    if not number.is_finite():
        raise CellProblem(f"not a number: {raw!r}")
    return number


def parse_date(value) -> dt.date | None:
    if isinstance(value, Formula):
        raise CellProblem("a formula, not a value")
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return _serial_date(value, repr(value))
    text = cell_text(value)
    if not text:
        return None
    if re.fullmatch(r"\d{4,5}(\.\d+)?", text):
        return _serial_date(float(text), text)
    candidate = re.sub(r"[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$", "", text)
    for pattern in TEXT_DATE_FORMATS:
        try:
            return dt.datetime.strptime(candidate, pattern).date()
        except ValueError:
            continue
    raise CellProblem(f"not a date: {text!r} (use 2026-03-31, 31/03/2026 or 31.03.2026)")


def _serial_date(number, shown: str) -> dt.date:
    # Serial numbers of 1950–2100 only (about 18,000–73,000): anything else is not meant as a date.
    if not 18_264 <= float(number) <= 73_415:
        raise CellProblem(f"not a date: {shown}")
    return EXCEL_EPOCH + dt.timedelta(days=int(float(number)))

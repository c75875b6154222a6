"""Reading files and cells: formats, encodings, delimiters, headers, numbers, dates, formulas."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from imports import parsing
from imports.parsing import CellProblem, FileProblem, Formula
from imports.records import MEASUREMENTS, PROJECTS, match_headers

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def workbook_bytes(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_sniff_format_refuses_empty_and_binary_files():
    with pytest.raises(FileProblem, match="empty"):
        parsing.sniff_format(b"", "a.csv")
    with pytest.raises(FileProblem, match="neither CSV nor XLSX"):
        parsing.sniff_format(PNG, "picture.xlsx")
    with pytest.raises(FileProblem, match="ZIP archive but not an XLSX"):
        buffer = io.BytesIO()
        import zipfile

        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hello.txt", "hi")
        parsing.sniff_format(buffer.getvalue(), "a.xlsx")
    assert parsing.sniff_format(b"a,b\n1,2\n", "x.xlsx") == "csv"
    assert parsing.sniff_format(workbook_bytes([["a"]]), "x.csv") == "xlsx"


@pytest.mark.parametrize(
    "content",
    [
        "title;value\nÉté;12,5\n".encode(),
        b'\xef\xbb\xbftitle,value\n\xc3\x89t\xc3\xa9,"12,5"\n',
    ],
    ids=["semicolon", "bom-comma"],
)
def test_csv_rows_sniff_delimiter_and_bom(content):
    assert list(parsing.csv_rows(content)) == [["title", "value"], ["Été", "12,5"]]


def test_csv_not_utf8_names_the_line():
    with pytest.raises(FileProblem, match=r"not valid UTF-8 \(line 2"):
        list(parsing.csv_rows("title\nÉté\n".encode("latin-1")))


def test_xlsx_rows_stream_values_and_mark_formulas():
    content = workbook_bytes([["title", "value"], ["A", 12.5], ["B", "=1+2"]])
    rows = list(parsing.xlsx_rows(content))
    assert rows[1] == ["A", 12.5]
    assert rows[2][1] == Formula("=1+2")


def test_headers_match_case_and_accent_insensitively_and_list_unknown():
    headers = match_headers(MEASUREMENTS, ["Project KPI", "MEASURED ON", "Valué", "Comment"])
    assert headers.positions == {"project_kpi": 0, "measured_on": 1, "value": 2}
    assert headers.unknown == ["Comment"]
    assert headers.missing == []


def test_headers_missing_required_columns_are_named():
    headers = match_headers(PROJECTS, ["title"])
    assert headers.missing == ["relationship"]
    assert match_headers(MEASUREMENTS, ["measured_on", "value"]).missing == ["project_kpi or project + kpi"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12,5", Decimal("12.5")),
        ("1.234,5", Decimal("1234.5")),
        ("1,234.5", Decimal("1234.5")),
        ("1 234,50", Decimal("1234.50")),
        (12.5, Decimal("12.5")),
        (7, Decimal(7)),
        ("'-3", Decimal(-3)),
        ("", None),
    ],
)
def test_parse_decimal(raw, expected):
    assert parsing.parse_decimal(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("12,5 %", "not a number: '12,5 %' (a percentage"),
        ("twelve", "not a number: 'twelve'"),
        (Formula("=A1*2"), "a formula, not a value"),
        ("=A1*2", "a formula, not a value"),
        ("NaN", "not a number"),
    ],
)
def test_parse_decimal_refuses(raw, message):
    with pytest.raises(CellProblem) as error:
        parsing.parse_decimal(raw)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    "raw",
    [
        "2026-03-31",
        "31/03/2026",
        "31.03.2026",
        "2026-03-31T00:00:00",
        46112,
        "46112",
        dt.datetime(2026, 3, 31, 0, 0),
    ],
)
def test_parse_date_formats_and_excel_serials(raw):
    assert parsing.parse_date(raw) == dt.date(2026, 3, 31)


@pytest.mark.parametrize("raw", ["31/13/2026", "March 31st", "12", Formula("=TODAY()")])
def test_parse_date_refuses(raw):
    with pytest.raises(CellProblem):
        parsing.parse_date(raw)


def test_normalise_ignores_case_accents_and_punctuation():
    assert parsing.normalise("Baseline Valué (€)") == "baseline_value"
    assert parsing.normalise("gain-share %") == "gain_share"


def test_comment_rows_are_blank():
    assert parsing.is_blank(["# required", "x"])
    assert parsing.is_blank([None, " "])
    assert not parsing.is_blank(["A-1", "# not a comment"])

"""Lists as files: CSV (streamed, UTF-8 with a byte-order mark and ``;`` between fields, as French Excel
opens it) and XLSX (openpyxl's write-only mode, one row at a time). The header row is in the reader's
language; a text cell that a spreadsheet would read as a formula (starting with = + - @, or a tab or
carriage return) is prefixed with a quote, so a name typed as ``=HYPERLINK(...)`` stays text."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.encoding import force_str

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    """One column: its header (translated lazily) and how to read its value from a row."""

    header: Any
    value: Callable[[Any], Any]


def neutralise(value: str) -> str:
    """A text that a spreadsheet would run as a formula, made plain text by a leading quote."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def cell(value: Any) -> Any:
    """A value as a spreadsheet cell: numbers and dates kept as such, everything else neutralised text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)  # a label, never True/False formulas
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, dt.date):
        return value
    return neutralise(force_str(value))


def csv_text(value: Any) -> str:
    """A cell as CSV text (dates in ISO form, numbers with a decimal comma for French Excel)."""
    value = cell(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        return str(value).replace(".", ",")
    return str(value)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(*, columns: list[Column], rows: Iterable[Any]) -> Iterator[str]:
    writer = csv.writer(_Echo(), delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    yield BOM + writer.writerow([force_str(c.header) for c in columns])
    for row in rows:
        yield writer.writerow([csv_text(c.value(row)) for c in columns])


def csv_response(*, filename: str, columns: list[Column], rows: Iterable[Any]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(columns=columns, rows=rows), content_type=CSV_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_file(*, title: str, columns: list[Column], rows: Iterable[Any]) -> Any:
    """The workbook written row by row (openpyxl's write-only mode) into a temporary file, rewound."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "export")
    headers = []
    for column in columns:
        header = WriteOnlyCell(sheet, value=neutralise(force_str(column.header)))
        header.font = Font(bold=True)
        headers.append(header)
    sheet.append(headers)
    for row in rows:
        values = [cell(c.value(row)) for c in columns]
        # openpyxl writes a string starting with "=" as a formula: such text was already quoted above.
        sheet.append(values)
    out = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the response, which closes it)
    book.save(out)
    out.seek(0)
    return out


def xlsx_response(*, filename: str, title: str, columns: list[Column], rows: Iterable[Any]) -> FileResponse:
    return FileResponse(
        xlsx_file(title=title, columns=columns, rows=rows),
        as_attachment=True,
        filename=f"{filename}.xlsx",
        content_type=XLSX_TYPE,
    )

"""Writing rows to XLSX and CSV, with one rule against formula injection.

A cell that starts with = + - @ (or a tab or carriage return) is what a spreadsheet may run as
a formula (CSV injection, OWASP). XLSX cells are written as text, so such a value is shown and
never run; CSV has no types, so the value gets a leading apostrophe, which Excel and WPS hide
and which ssj's importer removes again (`unneutralised`), so exports still import back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from ssj.errors import ValidationError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
FORMATS = ("xlsx", "csv")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Row = Sequence[Any]


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: None as empty, formula-like text behind an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unneutralised(text: str) -> str:
    """A CSV cell as it was before `csv_cell` (the importer's side of the rule)."""
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


def write_csv(rows: Iterable[Row], stream: IO[str], delimiter: str = ",") -> int:
    """Rows to an open text stream; returns how many rows after the header were written."""
    writer = csv.writer(stream, delimiter=delimiter)
    count = -1
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        count += 1
    return max(count, 0)


def write_xlsx(
    rows: Iterable[Row], target: Path | IO[bytes], title: str = "Sheet1", header: bool = True
) -> int:
    """Rows to one sheet, every string a text cell; with `header`, the first row bold and
    frozen and columns sized to it. Returns how many rows after the header were written."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import IllegalCharacterError

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "Sheet1")
    count = -1
    try:
        for row in rows:
            if header and count < 0:
                for index, label in enumerate(row, start=1):
                    width = max(12, 2 * len(str(label or "")) + 2)
                    sheet.column_dimensions[get_column_letter(index)].width = width
                sheet.freeze_panes = "A2"
                sheet.append(xlsx_row(sheet, row, Font(bold=True)))
            else:
                sheet.append(xlsx_row(sheet, row))
            count += 1
    except IllegalCharacterError:
        raise ValidationError(
            "数据中含有 Excel 不允许的控制字符，请改导出为 .csv",
            "the data holds control characters Excel does not allow: export to .csv instead",
        ) from None
    book.save(target)
    return max(count, 0)


def xlsx_row(sheet: Any, row: Row, font: Any = None) -> list[Any]:
    """A row for a write-only openpyxl sheet: every string a text cell (never a formula),
    empty strings as empty cells, other values (numbers, dates) as they are."""
    from openpyxl.cell import WriteOnlyCell

    cells: list[Any] = []
    for value in row:
        if isinstance(value, str):
            if not value:
                cells.append(None)
                continue
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # text: codes keep their digits, "=" is no formula
            if font is not None:
                cell.font = font
            cells.append(cell)
        else:
            cells.append(value)
    return cells


def render(rows: Iterable[Row], fmt: str, title: str = "Sheet1") -> bytes:
    """The whole file as bytes: XLSX, or CSV in UTF-8 with a BOM (so Excel reads Chinese)."""
    check_format(fmt)
    if fmt == "xlsx":
        buffer = io.BytesIO()
        write_xlsx(rows, buffer, title)
        return buffer.getvalue()
    text = io.StringIO()
    text.write("\ufeff")
    write_csv(rows, text)
    return text.getvalue().encode("utf-8")


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValidationError(
            f"不支持的导出格式“{fmt}”：应为 xlsx 或 csv", f"unknown format {fmt!r}: xlsx or csv"
        )

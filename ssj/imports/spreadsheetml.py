"""Excel 2003 XML workbooks (SpreadsheetML), which systems and WPS save under an .xlsx name.

Zhejiang's registration system served its target lists this way (`<?mso-application
progid="Excel.Sheet"?>`, `urn:schemas-microsoft-com:office:spreadsheet`). The file is plain
XML, read with the same guarded expat as XLSX parts (`ssj.imports.ooxml.parse`: no DOCTYPE,
bounded tokens and depth), in chunks from disk, twice: a first pass finds the sheets, their
visibility, the styles that show dates or percentages and every merged range (merges are
attributes of their first cell, `ss:MergeAcross`/`ss:MergeDown`, but the reader needs them
before the rows); the second yields the rows of one sheet.

Cells follow the format's own addressing: a row or cell without `ss:Index` follows the one
before it, a cell after a merge across N columns starts N columns later. Values are typed by
`ss:Type` (String, Number, DateTime, Boolean, Error); a `ss:Formula` cell is a formula whatever
its cached value; rich text (`ss:Data` with HTML tags inside) reads as its characters;
comments are not values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ssj.config import ImportLimits
from ssj.imports import excel
from ssj.imports.errors import over
from ssj.imports.ooxml import Handler, attribute, local, parse
from ssj.imports.xlsx import BadDate, ErrorValue, Formula, Percent, Raw

_CHUNK = 1 << 20
_DATE_FORMATS = {"General Date", "Long Date", "Medium Date", "Short Date", "Long Time"}
_DATE_FORMATS |= {"Medium Time", "Short Time"}
Merge = tuple[int, int, int, int]  # first row (1-based), first column (0-based), last row, last


@dataclass
class Sheet:
    name: str
    visible: bool = True
    index: int = 0
    merges: list[Merge] = field(default_factory=list)


def is_spreadsheetml(head: bytes) -> bool:
    """Whether an XML file's first bytes declare an Excel 2003 XML workbook."""
    sample = head[:4096]
    return (
        b'progid="Excel.Sheet"' in sample
        or b"urn:schemas-microsoft-com:office:spreadsheet" in sample
    )


class Workbook:
    """One Excel 2003 XML file: its sheets (with merges), then the rows of the one picked."""

    def __init__(self, path: Path, limits: ImportLimits, name: str | None = None) -> None:
        self.path = path
        self.name = name or path.name
        self.limits = limits
        self.size = path.stat().st_size
        self._done = 0
        handler = _BookHandler(limits, self.name)
        for _ in parse(self._chunks(), handler, self.name, "Workbook"):
            pass
        self.sheets = handler.sheets
        self.dates = handler.dates
        self.percents = handler.percents

    def _chunks(self) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                self._done = handle.tell()
                yield chunk

    def position(self) -> tuple[int, int]:
        return self._done, self.size

    def rows(self, sheet: Sheet) -> Iterator[tuple[int, list[Raw]]]:
        """(row number, values by 0-based column) for each row the sheet holds, in order."""
        handler = _RowsHandler(self, sheet.index)
        for _ in parse(self._chunks(), handler, self.name, f"Worksheet {sheet.name}"):
            if handler.ready:
                ready, handler.ready = handler.ready, []
                yield from ready

    def close(self) -> None:
        """Nothing stays open between passes."""


class _Cells(Handler):
    """Row and cell addressing shared by both passes."""

    def __init__(self) -> None:
        super().__init__()
        self.sheet = -1
        self.row = 0
        self.col = 0  # the next cell's 0-based column

    def _position(self, tag: str, attrs: dict[str, str]) -> tuple[int, int, int] | None:
        """(row, column, columns it spans) of a Cell; advances rows on Row."""
        if tag == "Worksheet":
            self.sheet += 1
            self.row = 0
        elif tag == "Row":
            index = attribute(attrs, "Index")
            self.row = int(index) if index else self.row + 1
            self.col = 0
        elif tag == "Cell":
            index = attribute(attrs, "Index")
            col = int(index) - 1 if index else self.col
            if col < 0 or self.row < 1:
                raise ValueError(f"cell at row {self.row} column {col + 1}")
            across = int(attribute(attrs, "MergeAcross") or 0)
            self.col = col + across + 1
            return self.row, col, across
        return None


class _BookHandler(_Cells):
    def __init__(self, limits: ImportLimits, name: str) -> None:
        super().__init__()
        self.limits = limits
        self.name = name
        self.sheets: list[Sheet] = []
        self.dates: set[str] = set()
        self.percents: set[str] = set()
        self._style: str | None = None
        self._options = False
        self._visible = False
        self._merges = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        super().start(name, attrs)
        tag = local(name)
        where = self._position(tag, attrs)
        if tag == "Worksheet":
            self.sheets.append(Sheet(attribute(attrs, "Name") or "", index=self.sheet))
        elif where is not None:
            row, col, across = where
            down = int(attribute(attrs, "MergeDown") or 0)
            if across or down:
                self._merges += 1
                if self._merges > self.limits.merged_ranges:
                    raise over(
                        self.name,
                        "merged_ranges",
                        self.limits.merged_ranges,
                        "合并单元格过多",
                        "too many merged ranges",
                    )
                self.sheets[-1].merges.append((row, col, row + down, col + across))
        elif tag == "Style":
            self._style = attribute(attrs, "ID")
        elif tag == "NumberFormat" and self._style is not None:
            code = attribute(attrs, "Format") or ""
            if code == "Percent" or "%" in code.split(";", 1)[0]:
                self.percents.add(self._style)
            elif code in _DATE_FORMATS or excel.is_date_format(code):
                self.dates.add(self._style)
        elif tag == "WorksheetOptions":
            self._options = True
        elif tag == "Visible" and self._options:
            self._visible = True

    def end(self, name: str) -> None:
        super().end(name)
        tag = local(name)
        if tag == "WorksheetOptions":
            self._options = False
        elif tag == "Visible":
            self._visible = False
        elif tag == "Style":
            self._style = None

    def text(self, data: str) -> None:
        super().text(data)
        if self._visible and self.sheets and data.strip() in ("SheetHidden", "SheetVeryHidden"):
            self.sheets[-1].visible = False


class _RowsHandler(_Cells):
    def __init__(self, book: Workbook, wanted: int) -> None:
        super().__init__()
        self.book = book
        self.wanted = wanted
        self.ready: list[tuple[int, list[Raw]]] = []
        self.cells: list[Raw] | None = None
        self._cell: tuple[int, str | None, str | None] | None = None  # column, style, formula
        self._type: str | None = None
        self._text: list[str] | None = None
        self._comment = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        super().start(name, attrs)
        tag = local(name)
        where = self._position(tag, attrs)
        if self.sheet != self.wanted:
            if self.sheet > self.wanted:
                self.done = True
            return
        if tag == "Row":
            self.cells = []
        elif where is not None:
            self._cell = (where[1], attribute(attrs, "StyleID"), attribute(attrs, "Formula"))
        elif tag == "Comment":
            self._comment += 1
        elif tag == "Data" and self._cell is not None and not self._comment:
            self._type = attribute(attrs, "Type") or "String"
            self._text = []

    def end(self, name: str) -> None:
        super().end(name)
        if self.sheet != self.wanted:
            return
        tag = local(name)
        if tag == "Comment":
            self._comment -= 1
        elif tag == "Cell" and self._cell is not None:
            self._store()
            self._cell, self._type, self._text = None, None, None
        elif tag == "Row" and self.cells is not None:
            self.ready.append((self.row, self.cells))
            self.cells = None

    def text(self, data: str) -> None:
        super().text(data)
        if self._text is not None and not self._comment and self.sheet == self.wanted:
            self._text.append(data)

    def _store(self) -> None:
        assert self._cell is not None
        col, style, formula = self._cell
        if self.cells is None:
            raise ValueError(f"a cell outside a row at row {self.row}")
        value = self._value(style, formula)
        if value is None or value == "":
            return
        if col >= len(self.cells):
            self.cells.extend([None] * (col + 1 - len(self.cells)))
        self.cells[col] = value

    def _value(self, style: str | None, formula: str | None) -> Raw:
        if formula is not None:
            return Formula(formula if formula.startswith("=") else "=" + formula)
        if self._text is None:
            return None
        text, kind = "".join(self._text), self._type
        if kind == "Number":
            stripped = text.strip()
            number: int | float = (
                int(stripped) if stripped.lstrip("-").isdigit() else float(stripped)
            )
            if style in self.book.percents:
                return Percent(number)
            if style in self.book.dates:
                try:
                    return excel.from_serial(number, excel.WINDOWS_EPOCH)
                except (OverflowError, ValueError):
                    return BadDate(text)
            return number
        if kind == "DateTime":
            try:
                return excel.from_iso(text)
            except ValueError:
                return BadDate(text)
        if kind == "Boolean":
            return text.strip() in ("1", "true", "TRUE")
        if kind == "Error":
            return ErrorValue(text.strip())
        return text

"""The parts of an XLSX workbook an import needs, streamed: its sheets, dates, strings and rows.

Why not openpyxl: even with read_only=True it loads every shared string into memory, and it
yields an empty row for every row number up to the sheet's last one, so one cell at row
1,048,576 costs a million rows. Here the package is read through `ssj.imports.ooxml` (bounded
inflation, guarded expat) and only what an import needs is kept:
- the workbook's sheets (name, visibility), its date system, and which cell styles are dates;
- the shared strings, written to a temporary file as they are parsed, with only their offsets
  in memory (4 or 8 bytes each), counted against the limit as they come;
- a sheet's merged ranges, found by scanning the inflated bytes for `<mergeCells` (they come
  after the cell data) without parsing the rows, then parsing only that element;
- a sheet's rows, as they appear in the XML: missing rows cost nothing (the caller decides what
  a gap means), and rows, columns and text lengths are checked against the limits as they come.

Values are raw: numbers (int or float), text, booleans, datetimes for date-styled numbers
(1900 or 1904 system, openpyxl's conversion), and `Formula`, `ErrorValue`, `BadDate` for what is
not a value. Text written with OOXML's `_xHHHH_` escapes is unescaped, as Excel shows it. Number
formats 27–36 and 50–58, dates in Chinese, Japanese and Korean Excel, count as dates (openpyxl
does not know them; see `ssj.imports.excel`).
"""

from __future__ import annotations

import mmap
import pyexpat
import re
import tempfile
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from ssj.config import ImportLimits
from ssj.imports import excel
from ssj.imports.errors import ImportFileError, over
from ssj.imports.ooxml import (
    LOCAL_NAMES,
    Handler,
    Package,
    attribute,
    broken,
    expat,
    local,
    parse,
    resolve,
)
from ssj.imports.plainrows import PlainRows, place, plain_strings

_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_MERGES = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?mergeCells[\s/>]")
_LETTERS: dict[str, int] = {}
Merge = tuple[int, int, int, int]  # first row, first column, last row, last column (0-based)


@dataclass(frozen=True)
class Formula:
    text: str


@dataclass(frozen=True)
class ErrorValue:
    text: str


@dataclass(frozen=True)
class BadDate:
    text: str


@dataclass(frozen=True)
class Percent:
    """A number shown as a percentage (0.1 under "0%" shows 10%): read as Excel shows it."""

    value: int | float


Raw = str | int | float | bool | datetime | object | None


@dataclass(frozen=True)
class Sheet:
    name: str
    visible: bool
    part: str


def unescape(text: str) -> str:
    """OOXML's `_xHHHH_` escapes (ECMA-376 ST_Xstring); `_x005F_` escapes an underscore. Lone
    surrogates stay escaped: they are no characters."""
    if "_x" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        code = int(match.group(1), 16)
        return match.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)

    return _ESCAPE.sub(one, text)


class Workbook:
    """One .xlsx file: open it, pick a sheet, read its merges and rows. Close when done."""

    def __init__(self, path: Path, limits: ImportLimits, name: str | None = None) -> None:
        self.package = Package(path, limits, name)
        self.name = self.package.name
        self.limits = limits
        self._strings: SharedStrings | None = None
        try:
            book = self._target("", "/officeDocument")
            if book is None:
                raise broken(self.name, "no workbook part")
            self.book = book
            rels = self._relationships(book)
            handler = _BookHandler()
            self._parse(book, handler)
            self.epoch = excel.MAC_EPOCH if handler.date1904 else excel.WINDOWS_EPOCH
            self.sheets = [
                Sheet(sheet_name, state == "visible", part)
                for sheet_name, state, rel_id in handler.sheets
                if (part := rels.get(rel_id, ("", ""))[1]) and self.package.find(part)
            ]
            by_type = {kind.rsplit("/", 1)[-1]: part for kind, part in rels.values()}
            self._strings_part = self.package.find(by_type.get("sharedStrings", ""))
            styles = self.package.find(by_type.get("styles", ""))
            self.dates, self.durations, self.percents = (
                self._styles(styles) if styles else (set(), set(), set())
            )
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._strings is not None:
            self._strings.close()
            self._strings = None

    # --- parts ---------------------------------------------------------------------------------

    def _parse(self, part: str, handler: Handler) -> None:
        for _ in parse(self.package.chunks(part), handler, self.name, part):
            pass

    def _relationships(self, source: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type, part) for `source` ("" for the package)."""
        folder, base = source.rpartition("/")[0], source.rpartition("/")[2]
        rels_part = self.package.find(f"{folder}/_rels/{base}.rels" if source else "_rels/.rels")
        if rels_part is None:
            return {}
        handler = _RelsHandler()
        self._parse(rels_part, handler)
        return {
            rel_id: (kind, resolve(source, target))
            for rel_id, kind, target, mode in handler.rels
            if mode != "External"
        }

    def _target(self, source: str, kind: str) -> str | None:
        for rel_kind, part in self._relationships(source).values():
            if rel_kind.endswith(kind):
                return self.package.find(part)
        return None

    def _styles(self, part: str) -> tuple[set[int], set[int], set[int]]:
        handler = _StylesHandler()
        self._parse(part, handler)
        dates, durations, percents = set(), set(), set()
        for index, format_id in enumerate(handler.cell_formats):
            code = handler.formats.get(format_id)
            if code is None:
                if format_id in excel.BUILTIN_DATES:
                    dates.add(index)
                if format_id in excel.BUILTIN_DURATIONS:
                    durations.add(index)
                if format_id in excel.BUILTIN_PERCENTS:
                    percents.add(index)
            else:
                if excel.is_date_format(code):
                    dates.add(index)
                if excel.is_duration_format(code):
                    durations.add(index)
                if excel.is_percent_format(code):
                    percents.add(index)
        return dates, durations, percents

    def strings(self) -> SharedStrings:
        """The shared strings: plain ones read by `ssj.imports.plainrows`; any other table, or
        one it gives up on, read again by expat and `_StringsHandler` (the reference)."""
        if self._strings is None:
            store = SharedStrings(self.limits.member_bytes)
            try:
                part = self._strings_part
                if part is not None and not self._plain_strings(part, store):
                    store.close()
                    store = SharedStrings(self.limits.member_bytes)
                    self._parse(part, _StringsHandler(store, self))
                store.finish()
            except BaseException:
                store.close()
                raise
            self._strings = store
        return self._strings

    def _plain_strings(self, part: str, store: SharedStrings) -> bool:
        handler = _StringsHandler(store, self)
        parser, declared_encoding = _declaring(handler)
        fed: list[bool] = []

        def feed(data: bytes, final: bool) -> bool:
            """The prefix first (True if it leaves the root open), then the rest."""
            try:
                parser.Parse(data, final)
            except Exception:  # the reference reads the part again and says why
                return False
            first = not fed
            fed.append(True)
            return declared_encoding() == "utf-8" and (not first or handler.depth == 1)

        def add(text: str) -> int:
            store.add(unescape(text))
            return len(store)

        return plain_strings(
            self.package.chunks(part),
            feed,
            add,
            self.limits.shared_strings,
            self.limits.cell_chars,
        )

    # --- a sheet -------------------------------------------------------------------------------

    def merges(self, sheet: Sheet) -> list[Merge]:
        """Its merged ranges: the bytes are scanned for `<mergeCells` (after the cell data, so the
        whole part is inflated, and its limits checked, before any row is parsed)."""
        chunks = self.package.chunks(sheet.part)
        tail = b""
        for chunk in chunks:
            data = tail + chunk
            found = _MERGES.search(data)
            if found is not None:
                handler = _MergesHandler(self)
                rest = _prepend(data[found.start() :], chunks)
                self._parse_merges(rest, handler, sheet.part)
                return handler.merges
            tail = data[-64:]
        return []

    def _parse_merges(self, chunks: Iterator[bytes], handler: _MergesHandler, part: str) -> None:
        for _ in parse(chunks, handler, self.name, part):
            pass

    def rows(self, sheet: Sheet) -> Iterator[tuple[int, list[Raw]]]:
        """(row number, values by 0-based column) for each row the XML holds, in order. Plain
        rows are read by `ssj.imports.plainrows`; from the first row it does not read exactly,
        the part is read again by expat and `_SheetHandler` (the reference), skipping the rows
        already given."""
        handler = _SheetHandler(self, self.strings())
        limits = self.limits
        plain = PlainRows(
            handler.strings, handler.plain, limits.rows, limits.columns, limits.cell_chars
        )
        for batch in plain.batches(self.package.chunks(sheet.part), _entering(handler)):
            yield from batch
        if plain.finished:
            return
        skip = plain.given
        for row in self.reference_rows(sheet):
            if skip:
                skip -= 1
            else:
                yield row

    def reference_rows(self, sheet: Sheet) -> Iterator[tuple[int, list[Raw]]]:
        """`rows` read by expat and `_SheetHandler` alone."""
        handler = _SheetHandler(self, self.strings())
        for _ in parse(self.package.chunks(sheet.part), handler, self.name, sheet.part):
            if handler.ready:
                ready, handler.ready = handler.ready, []
                yield from ready

    def position(self, sheet: Sheet) -> int:
        return self.package.size(sheet.part)


_PLAIN_ENCODINGS = frozenset({"utf-8", "us-ascii", "iso-8859-1"})


def _declaring(handler: Handler) -> tuple[pyexpat.XMLParserType, Callable[[], str]]:
    """An expat parser for `handler`, and what its XML declaration says the encoding is (lower
    case; "utf-8" without one): the plain-text fast paths read only ASCII-compatible parts."""
    parser = expat(handler)
    declared: list[str] = []
    parser.XmlDeclHandler = lambda version, encoding, standalone: declared.append(encoding or "")
    return parser, lambda: ((declared[0] if declared else "") or "utf-8").lower()


def _entering(handler: _SheetHandler) -> Callable[[bytes], bool]:
    """What `PlainRows` calls with the part up to and including `<sheetData>`: read by expat and
    the reference handler (a DOCTYPE, malformed XML, a row outside sheetData are refused there),
    True if that leaves it inside sheetData with no row open, in an ASCII-compatible encoding."""
    parser, declared_encoding = _declaring(handler)

    def enter(prefix: bytes) -> bool:
        try:
            parser.Parse(prefix, False)
        except Exception:  # the reference reads the part again and says why
            return False
        return (
            declared_encoding() in _PLAIN_ENCODINGS
            and handler.in_data
            and handler.depth == 2
            and handler.cells is None
            and not handler.done
            and not handler.ready
        )

    return enter


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield first
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()


class SharedStrings:
    """The shared-string table on disk; only each string's end offset stays in memory."""

    def __init__(self, max_bytes: int) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="ssj-strings-")  # noqa: SIM115
        self._ends = array("I" if max_bytes < (1 << 32) else "Q")
        self._pending = bytearray()
        self._written = 0
        self._map: mmap.mmap | None = None

    def add(self, text: str) -> None:
        data = text.encode("utf-8", "surrogatepass")
        self._pending += data
        self._written += len(data)
        self._ends.append(self._written)
        if len(self._pending) >= 1 << 20:
            self._file.write(self._pending)
            self._pending.clear()

    def __len__(self) -> int:
        return len(self._ends)

    def finish(self) -> None:
        self._file.write(self._pending)
        self._pending.clear()
        self._file.flush()
        if self._written:
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)

    def __getitem__(self, index: int) -> str:
        if not 0 <= index < len(self._ends):
            raise IndexError(f"shared string {index} of {len(self._ends)}")
        start = self._ends[index - 1] if index else 0
        end = self._ends[index]
        if start == end:
            return ""
        assert self._map is not None
        return self._map[start:end].decode("utf-8", "surrogatepass")

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        self._file.close()


# --- handlers ----------------------------------------------------------------------------------


class _RelsHandler(Handler):
    def __init__(self) -> None:
        super().__init__()
        self.rels: list[tuple[str, str, str, str]] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        super().start(name, attrs)
        if local(name) == "Relationship" and len(self.rels) < 100_000:
            self.rels.append(
                (
                    attrs.get("Id", ""),
                    attrs.get("Type", ""),
                    attrs.get("Target", ""),
                    attrs.get("TargetMode", ""),
                )
            )


class _BookHandler(Handler):
    def __init__(self) -> None:
        super().__init__()
        self.sheets: list[tuple[str, str, str]] = []
        self.date1904 = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        super().start(name, attrs)
        tag = local(name)
        if tag == "sheet" and len(self.sheets) < 100_000:
            self.sheets.append(
                (
                    attrs.get("name", ""),
                    attrs.get("state", "visible"),
                    attribute(attrs, "id") or "",
                )
            )
        elif tag == "workbookPr":
            self.date1904 = attrs.get("date1904", "").lower() in ("1", "true")


class _StylesHandler(Handler):
    """Number formats, and the format of each cell style (`cellXfs`, not `cellStyleXfs`)."""

    def __init__(self) -> None:
        super().__init__()
        self.formats: dict[int, str] = {}
        self.cell_formats: list[int] = []
        self._in_cell_xfs = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        super().start(name, attrs)
        tag = local(name)
        if tag == "numFmt":
            self.formats[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
        elif tag == "cellXfs":
            self._in_cell_xfs = True
        elif tag == "xf" and self._in_cell_xfs:
            self.cell_formats.append(int(attrs.get("numFmtId", "0")))

    def end(self, name: str) -> None:
        super().end(name)
        if local(name) == "cellXfs":
            self._in_cell_xfs = False
            self.done = True


class _StringsHandler(Handler):
    """Each `<si>`: its `<t>` and rich-text runs' `<t>`, without phonetic runs (`<rPh>`)."""

    def __init__(self, store: SharedStrings, book: Workbook) -> None:
        super().__init__()
        self.store = store
        self.book = book
        self.limit = book.limits.shared_strings
        self.chars = book.limits.cell_chars
        self.parts: list[str] | None = None
        self.capture: list[str] | None = None
        self.length = 0
        self.phonetic = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        super().start(name, attrs)
        tag = local(name)
        if tag == "si":
            if len(self.store) >= self.limit:
                raise self._too_many()
            self.parts, self.length = [], 0
        elif tag == "t" and self.parts is not None and not self.phonetic:
            self.capture = []
        elif tag == "rPh":
            self.phonetic += 1
        elif tag == "sst":
            declared = max(_count(attrs.get("uniqueCount")), 0)
            if declared > self.limit:
                raise self._too_many(declared)

    def end(self, name: str) -> None:
        super().end(name)
        tag = local(name)
        if tag == "t" and self.capture is not None:
            assert self.parts is not None
            self.parts.append("".join(self.capture))
            self.capture = None
        elif tag == "si" and self.parts is not None:
            self.store.add(unescape("".join(self.parts)))
            self.parts = None
        elif tag == "rPh":
            self.phonetic -= 1

    def text(self, data: str) -> None:
        self.ticks += 1
        if self.capture is not None:
            self.capture.append(data)
            self.length += len(data)
            if self.length > self.chars:
                raise over(
                    self.book.name,
                    "cell_chars",
                    self.chars,
                    f"第 {len(self.store) + 1:,} 个共享字符串过长",
                    f"shared string {len(self.store) + 1:,} is too long",
                )

    def _too_many(self, declared: int | None = None) -> ImportFileError:
        return over(
            self.book.name,
            "shared_strings",
            self.limit,
            f"共享字符串过多（声明 {declared:,} 个）" if declared else "共享字符串过多",
            f"too many shared strings ({declared:,} declared)"
            if declared
            else "too many shared strings",
        )


def _count(text: str | None) -> int:
    try:
        return int(text or "0")
    except ValueError:
        return 0


class _MergesHandler(Handler):
    def __init__(self, book: Workbook) -> None:
        super().__init__()
        self.book = book
        self.merges: list[Merge] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        super().start(name, attrs)
        if local(name) == "mergeCell":
            if len(self.merges) >= self.book.limits.merged_ranges:
                raise over(
                    self.book.name,
                    "merged_ranges",
                    self.book.limits.merged_ranges,
                    "合并单元格区域过多",
                    "too many merged ranges",
                )
            first_row, first_col, last_row, last_col = excel.cell_range(attrs.get("ref", ""))
            self.merges.append((first_row, first_col - 1, last_row, last_col - 1))

    def end(self, name: str) -> None:
        super().end(name)
        if local(name) == "mergeCells":
            self.done = True


def column_index(letters: str) -> int:
    """ "A" -> 0, "XFD" -> 16383."""
    found = _LETTERS.get(letters)
    if found is None:
        if not letters or len(letters) > 3 or not letters.isalpha() or not letters.isascii():
            raise ValueError(f"cell reference column {letters!r}")
        found = 0
        for letter in letters.upper():
            found = found * 26 + ord(letter) - 64
        found -= 1
        if len(_LETTERS) < 20_000:
            _LETTERS[letters] = found
    return found


class _SheetHandler(Handler):
    """Rows of `<sheetData>`; each finished row goes to `ready`. Kept flat for speed: one call
    per XML event, the limits checked where the value grows."""

    def __init__(self, book: Workbook, strings: SharedStrings) -> None:
        super().__init__()
        self.book = book
        self.strings = strings
        self.max_rows = book.limits.rows
        self.max_columns = book.limits.columns
        self.max_chars = book.limits.cell_chars
        self.ready: list[tuple[int, list[Raw]]] = []
        self.in_data = False
        self.rownum = 0
        self.cells: list[Raw] | None = None
        self.col = -1
        self.ref = ""
        self.kind = "n"
        self.style = 0
        self.value: str | None = None
        self.formula: str | None = None
        self.inline: list[str] | None = None
        self.capture: list[str] | None = None
        self.length = 0
        self.phonetic = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.ticks += 1
        self.depth += 1
        tag = LOCAL_NAMES.get(name) or local(name)
        if tag == "c":
            if self.cells is None:
                raise ValueError("a cell outside a row")
            ref = attrs.get("r")
            if ref:
                self.col = column_index(ref.rstrip("0123456789"))
            else:
                self.col += 1
            self.ref = ref or ""
            self.kind = attrs.get("t", "n")
            style = attrs.get("s")
            self.style = int(style) if style else 0
            self.value = self.formula = self.inline = None
        elif tag == "v" or tag == "f":
            self.capture, self.length = [], 0
        elif tag == "t":
            if self.inline is not None and not self.phonetic:
                self.capture = []
        elif tag == "is":
            self.inline, self.length = [], 0
        elif tag == "rPh":
            self.phonetic += 1
        elif tag == "row":
            if not self.in_data:
                raise ValueError("a row outside sheetData")
            ref = attrs.get("r")
            rownum = _row_number(ref) if ref else self.rownum + 1
            if rownum <= self.rownum:
                raise ValueError(f"row {rownum} after row {self.rownum}")
            if rownum > self.max_rows:
                raise over(
                    self.book.name,
                    "rows",
                    self.max_rows,
                    f"工作表有第 {rownum:,} 行",
                    f"the sheet has a row {rownum:,}",
                )
            self.rownum = rownum
            self.cells = []
            self.col = -1
        elif tag == "sheetData":
            self.in_data = True
        elif self.depth > 64:
            raise ValueError("elements nested deeper than 64")

    def end(self, name: str) -> None:
        self.depth -= 1
        tag = LOCAL_NAMES.get(name) or local(name)
        if tag == "c":
            self._cell()
        elif tag == "v":
            self.value = "".join(self.capture or ())
            self.capture = None
        elif tag == "f":
            self.formula = "".join(self.capture or ())
            self.capture = None
        elif tag == "t":
            if self.capture is not None and self.inline is not None:
                self.inline.append("".join(self.capture))
            self.capture = None
        elif tag == "rPh":
            self.phonetic -= 1
        elif tag == "row":
            assert self.cells is not None
            self.ready.append((self.rownum, self.cells))
            self.cells = None
        elif tag == "sheetData":
            self.done = True

    def text(self, data: str) -> None:
        self.ticks += 1
        if self.capture is not None:
            self.capture.append(data)
            self.length += len(data)
            if self.length > self.max_chars:
                raise over(
                    self.book.name,
                    "cell_chars",
                    self.max_chars,
                    f"第 {self.rownum:,} 行 {self._letter()} 列的内容过长",
                    f"the cell in row {self.rownum:,} column {self._letter()} is too long",
                )

    def _letter(self) -> str:
        return self.ref.rstrip("0123456789") or f"#{self.col + 1}"

    def _cell(self) -> None:
        value = self._value()
        if value is None or value == "":
            return
        col = self.col
        if col >= self.max_columns:
            raise over(
                self.book.name,
                "columns",
                self.max_columns,
                f"第 {self.rownum:,} 行第 {col + 1:,} 列（{self._letter()}）有内容",
                f"row {self.rownum:,} has a value in column {col + 1:,} ({self._letter()})",
            )
        assert self.cells is not None
        place(self.cells, col, value)

    def _value(self) -> Raw:
        if self.formula is not None:
            return Formula("=" + self.formula)
        if self.kind == "inlineStr":
            return unescape("".join(self.inline)) if self.inline is not None else None
        if self.value is None:
            return None
        return self.plain(self.kind, self.value, self.style)

    def plain(self, kind: str, value: str, style: int) -> Raw:
        """A cell's value from its type, its `<v>` text and its style: the reference, and what
        `ssj.imports.plainrows` asks for every cell that is not a shared string."""
        if kind == "n":
            number: int | float = (
                float(value) if "." in value or "e" in value or "E" in value else int(value)
            )
            if style in self.book.dates:
                try:
                    return excel.from_serial(
                        number, self.book.epoch, duration=style in self.book.durations
                    )
                except (OverflowError, ValueError):
                    return BadDate(value)
            if style in self.book.percents:
                return Percent(number)
            return number
        if kind == "s":
            return self.strings[int(value)]
        if kind == "str":
            return unescape(value)
        if kind == "b":
            return value.strip() in ("1", "true")
        if kind == "e":
            return ErrorValue(value)
        if kind == "d":
            try:
                return excel.from_iso(value)
            except ValueError:
                return BadDate(value)
        raise ValueError(f"cell {self.ref} of unknown type {kind!r}")


def _row_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        number = float(text)
        if not number.is_integer():
            raise ValueError(f"row number {text!r}") from None
        return int(number)

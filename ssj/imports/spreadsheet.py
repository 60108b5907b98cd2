"""Read the XLSX, XLS and CSV files that provincial authorities publish into clean records.

Departments do not control these files: they come with title rows, merged cells, two-level
headers, GBK encodings and legal bases spread over several rows. Importers (items, targets,
inspectors) need the same reading rules, so they live here, and every record keeps the row
numbers an official sees in Excel, so that each problem can be traced back to a cell.

Files. The format comes from the bytes, whatever the name says (issue #11: systems save Excel
2003 XML as .xlsx, .xlsx as .xls, text as .xls): OOXML (.xlsx/.xlsm), BIFF (.xls, WPS's too),
Excel 2003 XML (`ssj.imports.spreadsheetml`) and text. A name that disagrees with the content is
a `Note` ("format"), not an error. PDF, HTML, XML that is not a spreadsheet, other ZIPs, binary
data, XLSB (a ZIP with workbook.bin), password-protected files (an OLE2 file holding an
EncryptedPackage, or a BIFF workbook with FILEPASS), WPS .et files (OLE2 named .et) and an empty
file are refused by name. Text is decoded as UTF-16 when it starts with a UTF-16 BOM, else as
UTF-8 (with or without BOM) if every byte is valid UTF-8, else as GB18030 (a superset of GBK);
otherwise the error names the byte offset and line where each failed. The delimiter (comma, tab
or semicolon) is the one that splits the most sample rows into the same number of fields.

Sheets. `sheet` names one; by default the first visible sheet that is not a vocabulary (参数表,
填表说明, 字典 …) is read, and if it has no header with the required fields, the first later
one that has (a "sheet" note says so).

Header detection. Each of the first HEADER_SCAN_ROWS rows is a candidate header row. Labels are
compared after NFKC (full-width forms become half-width), case folding, removal of all whitespace
(line breaks inside header cells included) and of leading/trailing "*" (required-field marks);
a label that does not match as is also matches without one trailing note in brackets
("成立日期（YYYY-MM-DD）" matches "成立日期"). The candidate that maps the most expected fields
wins; on a tie, the earliest. A row r and the row below it form a two-level header when the row
below is a sub-header row: it has at least one label of its own (not a merge from row r), every
such label sits under a group of at least two columns in row r (a horizontally merged cell, or,
in CSV, a label followed by empty cells that have sub-labels), and every column of such a group
has a sub-label. A grouped column is labelled "parent/child" and also matches on "child" alone
when no other column of the header is labelled "child"; the other columns keep the row r label.
The two-level reading is used only if at least one field matches on a label that includes row r,
so a title row over the real header never becomes a parent. Outside a group, a header cell
covered by a horizontal merge from its left neighbour is no label: the merge belongs to its
first column.

Merged cells. XLSX and XLS files store a merged value only in the top-left cell. In header rows
the value fills the whole range. In the body it fills down the first column of the range only:
a category (抽查类别) merged over several items applies to each of them, while a horizontal merge
(a footer note across the sheet, say) is not copied into other fields.

Rows that are not data (templates and footers). In the body, a row with a cell reading like a
template's sample (案例（请删除）, 示例) is skipped; before the first record, a row whose cells
mostly read like instructions (YYYY-MM-DD, 详见参数表, 请填写, 单选 …) is skipped; after the
records, a row holding one value that starts like a footer (注：, 注意：, 备注：, 填表人：, 合计) is skipped.
Each skip is a `Note` ("skipped") quoting the cell that shows why, and ends the current record.
Title rows and notes above the header are never read as data (the header is searched for).

Unmapped columns. With `keep_unmapped`, header labels no field maps are `Table.unmapped` (a
note each) and their values are kept in `Record.extra` by label, so an importer can keep them
with the record instead of dropping them.

Records and continuation rows. Body rows whose mapped cells are all empty are skipped and end
the current record. With a `key` field, a row continues the current record when its key cell is
empty or is covered by a vertical merge that started on an earlier row; any other non-empty row
starts a record. With several key fields (an item list's 抽查子项 and 抽查事项), a row starts a
record when any of them has a value of its own, whatever other columns (序号) say. A continuation row adds its row number to the record. It may fill only
`list_fields`: another field with a value of its own (not the same merged cell as the record's)
is a problem and the value is dropped. A continuation row with no record to continue (right after
the header or after an empty row) is a problem and is dropped. List fields stay aligned row by
row: a row contributes one entry to every list field when at least one of its list cells holds a
value not already taken by this record (a merged cell counts once per record), and each list
field gets that row's value there, or None. So with 法律依据 merged over two rows and two 条款,
the record reads 法律依据 [A, A] and 条款 [1, 2]; with a single list field, there are no Nones.
A continuation row may also fill `joined_fields`: its own value joins the record's text with
“、” (a 检查主体 naming a second unit on the row below), and the record notes it (`joined`).
A continuation row whose own value in a `variant_fields` field differs from the record's (an
item list repeating one 抽查事项, merged over two rows, for a second 检查对象 with its own
事项类别) starts a variant record instead: the record's values and lists with the row's own
values over them, `variant_of` naming the first row of the record it varies.
Without `key` every non-empty row is a record of its own.

Values. Text is NFC-normalised and stripped of whitespace at both ends (full-width and
non-breaking spaces and zero-width characters too); an empty cell is None. Numbers are shown as
Excel shows them at 15 significant digits, integers without ".0" (469006600187440.0 reads
469006600187440); a number under a percentage format reads as Excel shows it (0.1 under "0%"
reads "10%"); a whole number of 16 or more digits
stored as floating point (as Excel stores numbers) is a problem: Excel may have changed its last
digits. Excel dates become
"YYYY-MM-DD" (with "THH:MM:SS" when there is a time of day), rounded to the second; booleans
"TRUE"/"FALSE". Formulas (XLSX only: xlrd reads cached values from XLS files), Excel error values
(#REF!, #N/A, ...) and any text beginning with "=" (a formula typed as text, or CSV injection)
are problems and read as None. A problem in a merged cell is reported once, on its first row.

Row numbers are 1-based as Excel shows them. In a CSV file a quoted cell may span several lines,
and the row number counts records (what Excel shows), not lines.

Missing rows. A row the file does not hold reads as an empty row, but a run of them costs
nothing: beyond the header rows (each of the first HEADER_SCAN_ROWS + 1 rows is read) and the
rows a merged cell covers, one empty row stands for the whole run. So one stray cell at row
1,048,576 does not make a million rows.

Limits (`ssj.config.ImportLimits`, see `ssj.imports.errors`) are checked while the file streams:
its size before anything is read; rows (by row number), columns holding a value, cell length,
and for XLSX the inflated size of each part and of all, their ratio to the compressed size,
shared strings and merged ranges. Going beyond one refuses the whole file with a message naming
the limit. Overlapping merged ranges (which Excel never writes) are a damaged file.

Streaming. XLSX is read by `ssj.imports.xlsx` over `ssj.imports.ooxml`, not openpyxl: openpyxl
loads every shared string into memory even when read-only and yields an empty row for every row
number up to the last, and guarding it would mean guarding its internals. Our reader inflates
each part in bounded chunks, parses it with expat, keeps the shared strings on disk, finds the
merged ranges (they come after the cell data) by scanning the inflated bytes before the rows
are parsed, and yields only the rows the XML holds. CSV is read with constant memory: the
encoding check decodes in chunks, lines are read with a bounded length, and the csv module
streams the rows. XLS files are at most 65,536 rows; xlrd loads them whole once the size check
has passed. Records are produced lazily: `Table.problems` is complete only once
`Table.records` has been read to the end (or reading was stopped, `Table.stop`).

Each format is a `_Source` of rows of cells; the header, merge, record and value rules above
apply to all of them. Excel 2003 XML is read in two streaming passes (merges are attributes of
their first cell and must be known before the rows).
"""

from __future__ import annotations

import bisect
import codecs
import csv
import dataclasses
import io
import math
import re
import struct
import unicodedata
from collections import Counter, defaultdict
from collections.abc import (
    Callable,
    Collection,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import xlrd
import xlrd.compdoc

from ssj.config import ImportLimits
from ssj.imports import excel, spreadsheetml, xlsx
from ssj.imports.errors import ImportFileError, ImportLimitError, over
from ssj.imports.ooxml import NotAZip, Package, broken
from ssj.presentation.sheets import unneutralised

__all__ = ["HEADER_SCAN_ROWS", "Column", "ImportFileError", "ImportLimitError", "Problem"]
__all__ += ["Record", "Table", "read_table"]

HEADER_SCAN_ROWS = 30
LINE_CHARS = 16  # a CSV line may hold this many cells' worth of characters
_SNIFF = 1 << 16
_OLE_SNIFF = 64 << 20  # an OLE2 directory is read from the first bytes of the file
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EDGE = re.compile(r"^[\s\u200b-\u200d\u2060\ufeff]+|[\s\u200b-\u200d\u2060\ufeff]+$")
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"  # what _EDGE strips besides \s
_SPACE = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]+")
_NOTE = re.compile(r"\([^()]*\)$")
_EXCEL_ERRORS = frozenset(
    {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"}
    | {"#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!"}
)
_EXTENSIONS = {
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".xml": "xml2003",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
}
_READABLE = frozenset({"xlsx", "xls", "xml2003", "csv", "utf16"})
_CONTENT = {
    "xlsx": ("Excel 工作簿（.xlsx）", "an Excel workbook (.xlsx)"),
    "xls": ("Excel 97-2003 工作簿（.xls）", "an Excel 97-2003 workbook (.xls)"),
    "xml2003": ("Excel 2003 XML 表格", "an Excel 2003 XML spreadsheet"),
    "csv": ("文本（CSV）", "plain text (CSV)"),
    "utf16": ("UTF-16 编码的文本（Excel 的“Unicode 文本”）", "UTF-16 text (Excel's Unicode Text)"),
    "pdf": ("PDF 文档", "a PDF document"),
    "zip": ("ZIP 压缩包或 Word 等其他文件", "a ZIP archive or another file such as a Word one"),
    "html": (
        "HTML 网页（有的系统把网页存成 .xls）",
        "an HTML page (some systems save those as .xls)",
    ),
    "xml": ("XML 文件（不是 Excel 2003 XML 表格）", "an XML file (not an Excel 2003 XML sheet)"),
    "xlsb": ("Excel 二进制工作簿（.xlsb）", "an Excel binary workbook (.xlsb)"),
    "encrypted": ("设置了打开密码的 Office 文件", "a password-protected Office file"),
    "et": ("WPS 表格文件（.et）", "a WPS Spreadsheets file (.et)"),
    "ole": (
        "不含工作簿的 Office 复合文档（可能是 Word 或 PowerPoint 97-2003 文件）",
        "an Office compound file without a workbook (maybe a Word or PowerPoint 97-2003 one)",
    ),
    "binary": ("二进制数据", "binary data"),
}
_UNREADABLE_HINT = {
    "xlsb": ("请在 Excel 中另存为 .xlsx 再导入", "save it as .xlsx in Excel and import that"),
    "encrypted": (
        "请在 Excel 或 WPS 中取消打开密码（文件→信息→保护工作簿），另存后再导入",
        "remove the password in Excel or WPS (File → Info → Protect Workbook), save and import that",
    ),
    "et": ("请在 WPS 中另存为 .xlsx 再导入", "save it as .xlsx in WPS and import that"),
}
_RESAVE = (
    "请用 Excel 打开后另存为 .xlsx 或“CSV UTF-8”再导入",
    "open it in Excel, save it as .xlsx or CSV UTF-8 and import that",
)
_BROKEN = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    struct.error,
    xlrd.XLRDError,
    xlrd.compdoc.CompDocError,
)

Value = str | list[str | None] | None


@dataclass(frozen=True)
class Problem:
    """A defect in one cell or row; importers collect them so officials can fix all at once."""

    row: int
    column: str  # Excel column letter, e.g. "D"
    zh: str
    en: str


@dataclass(frozen=True)
class Note:
    """Something an official should know that does not stop the import: a row skipped as a
    title, instruction, sample or footer, a file named for another format, a column not mapped.
    `kind` says which ("skipped", "format", "unmapped", ...); importers add their own."""

    row: int
    column: str
    zh: str
    en: str
    kind: str = "note"


@dataclass(frozen=True)
class Record:
    """One logical record with every source row it was read from, for row-level reports."""

    rows: tuple[int, ...]
    values: dict[str, Value]
    extra: dict[str, str] = dataclasses.field(
        default_factory=dict
    )  # unmapped columns, by header label
    variant_of: int | None = None  # first row of the record this one varies (variant_fields)
    joined: frozenset[str] = frozenset()  # joined_fields that continuation rows added to


@dataclass(frozen=True)
class Column:
    """Where a canonical field was found, and the header text officials see there."""

    field: str
    index: int  # 0-based
    label: str

    @property
    def letter(self) -> str:
        return excel.column_letter(self.index + 1)


@dataclass(frozen=True)
class _Bad:
    """A cell that holds something other than a value; it reads as None and is reported."""

    kind: str  # "formula", "error", "precision" or "date"
    text: str


class _Cell(NamedTuple):
    value: str | _Bad
    origin: tuple[int, int]  # (row, column index) of the cell that holds the value: merges


_Row = list[_Cell | None]
_Merge = tuple[int, int, int, int]  # first row, first column, last row, last column
_Rows = Iterator[tuple[int, _Row]]


@dataclass
class _Source:
    """One format's rows of cells, in row order; rows it does not hold may be missing."""

    rows: _Rows
    close: Callable[[], None]
    position: Callable[[], tuple[int, int]]  # (done, total) in the format's own units
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    merges: Sequence[_Merge] = ()
    others: Sequence[str] = ()  # the workbook's other sheets that might hold the table


@dataclass(frozen=True)
class _Spec:
    fields: tuple[str, ...]
    labels: dict[str, str]  # normalised accepted label -> field
    accepted: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    keys: tuple[str, ...]
    list_fields: frozenset[str]
    joined_fields: frozenset[str] = frozenset()
    variant_fields: frozenset[str] = frozenset()
    fallback_labels: frozenset[str] = frozenset()  # normalised; yield to the field's other labels


@dataclass(frozen=True)
class _Label:
    index: int
    display: str
    full: str  # normalised; "parent/child" in a group
    child: str | None = None


@dataclass
class _Draft:
    rows: list[int]
    values: dict[str, str | None]
    origins: dict[str, tuple[int, int] | None]
    lists: dict[str, list[str | None]]
    taken: set[tuple[int, int]]  # origins of cells already in `lists` (and in `extra`)
    extra: dict[str, str] = dataclasses.field(default_factory=dict)
    variant_of: int | None = None
    joined: set[str] = dataclasses.field(default_factory=set)


def column_of(columns: Sequence[Column], field: str) -> Column:
    """The column mapped to `field` (KeyError if none is)."""
    for column in columns:
        if column.field == field:
            return column
    raise KeyError(field)


class Table:
    """A header mapped to canonical fields and a one-pass stream of records.

    Iterate `records` to the end (or call `close()`, or use the table as a context manager) so
    the file is closed; `problems` raises until then, because a partial list would look clean.
    `on_record`, when set, is called after each record; returning False stops reading there
    (`stopped`), after which `problems` holds those found so far.
    """

    def __init__(
        self,
        source: _Source,
        kind: str,
        header_rows: tuple[int, ...],
        columns: tuple[Column, ...],
        body: _Rows,
        spec: _Spec,
        unmapped: tuple[Column, ...] = (),
    ) -> None:
        self.format = kind  # "xlsx", "xls", "xml2003" or "csv"
        self.sheet = source.sheet
        self.encoding = source.encoding
        self.delimiter = source.delimiter
        self.header_rows = header_rows
        self.columns = columns
        self.unmapped = unmapped
        self.notes: list[Note] = []  # skipped rows, format and sheet notes, unmapped columns
        self._close = source.close
        self._position = source.position
        self._problems: list[Problem] = []
        self._finished = False
        self.stopped = False
        self.records_read = 0
        self.rows_seen = 0  # rows, empty ones included, that records were looked for in
        self.last_row = 0  # the last sheet row read into a record
        self.on_record: Callable[[Table], bool] | None = None
        self._stream = self._read(body, spec)
        self.records: Iterator[Record] = self._stream

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(column.field for column in self.columns)

    @property
    def problems(self) -> list[Problem]:
        if not self._finished:
            raise RuntimeError("read Table.records to the end before asking for problems")
        return self._problems

    @property
    def problem_count(self) -> int:
        """Problems found so far (for a caller that bounds them while reading)."""
        return len(self._problems)

    def problems_since(self, count: int) -> list[Problem]:
        """Problems found after the first `count`, while reading: a caller can attach them to
        the record they fall in (a record's problems come before the record)."""
        return self._problems[count:]

    def position(self) -> tuple[int, int]:
        """How far reading has come: (done, total) in bytes (XLS: rows) of the part read."""
        return self._position()

    def column(self, field: str) -> Column:
        """For importers reporting their own problems against the cell officials see."""
        return column_of(self.columns, field)

    def close(self) -> None:
        """Stop reading early; a suspended stream closes the file through its finally."""
        self._stream.close()
        self._close()

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _count(self, rows: _Rows) -> _Rows:
        for row in rows:
            self.rows_seen += 1
            yield row

    def _read(self, rows: _Rows, spec: _Spec) -> Generator[Record, None, None]:
        try:
            reading = _records(
                self._count(rows), self.columns, spec, self._problems, self.notes, self.unmapped
            )
            for record in reading:
                self.records_read += 1
                self.last_row = record.rows[-1]
                yield record
                if self.on_record is not None and not self.on_record(self):
                    self.stopped = True
                    break
            self._finished = True
        finally:
            self._close()


def read_table(
    path: Path,
    *,
    expected: Mapping[str, Sequence[str]],
    sheet: str | None = None,
    key: str | Sequence[str] | None = None,
    list_fields: Collection[str] = (),
    optional: Collection[str] = (),
    limits: ImportLimits | None = None,
    joined_fields: Collection[str] = (),
    variant_fields: Collection[str] = (),
    name: str | None = None,
    keep_unmapped: bool = False,
    fallback_labels: Collection[str] = (),
) -> Table:
    """Open `path`, find its header and map columns to the fields of `expected`.

    `expected` maps each canonical field to its accepted header labels; every field is required
    unless named in `optional`. `key` enables continuation rows, whose values for `list_fields`
    accumulate, whose own values for `joined_fields` join the record's text, and whose own
    differing value in a `variant_fields` field starts a variant record (see the module
    docstring); with a sequence of keys a row starts a record when
    any of them has a value of its own (an item list's 抽查子项 or 抽查事项). `sheet` picks a worksheet by name; by default
    the first visible one that is not a vocabulary sheet (参数表 …), or, when that one has no
    header with the required fields, the first later one that has. File-level failures, limits
    included (`limits`, by default `ImportLimits()`), raise ImportFileError; cell-level ones
    become problems. `name` is the file's name in messages when `path` is a temporary copy (it
    defaults to `path`'s). With `keep_unmapped`, columns no field maps are listed in
    `Table.unmapped` and their values kept in `Record.extra`. A column under one of
    `fallback_labels` (a generic 证件编号 beside a roster's 执法编号) maps its field only when no
    other column does; beside one, it is an unmapped column.
    """
    spec = dataclasses.replace(
        _spec(expected, key, list_fields, optional),
        joined_fields=frozenset(joined_fields),
        variant_fields=frozenset(variant_fields),
        fallback_labels=frozenset(_norm(label) for label in fallback_labels),
    )
    path = Path(path)
    limits = limits or ImportLimits()
    named = path if name is None else path.with_name(name)
    kind, note = _kind(path, named, limits)
    opener = {
        "csv": _open_csv,
        "xlsx": _open_xlsx,
        "xls": _open_xls,
        "xml2003": _open_xml2003,
    }[kind]
    notes = [note] if note is not None else []
    first_error: ImportFileError | None = None
    wanted, tried = sheet, []
    while True:
        source = opener(path, named, wanted, limits)
        try:
            found = _open_header(source, spec, named, limits)
        except ImportFileError as e:
            source.close()
            first_error = first_error or e
            tried.append(source.sheet)
            rest = [n for n in source.others if n not in tried]
            if sheet is not None or not rest:
                raise first_error from None
            wanted = rest[0]
            continue
        except BaseException:
            source.close()
            raise
        break
    if tried:
        shown = "”“".join(str(t) for t in tried)
        notes.append(
            Note(
                0,
                "",
                f"工作表“{shown}”中没有所需的表头，已读取工作表“{source.sheet}”",
                f"no header with the required columns in sheet(s) '{', '.join(map(str, tried))}'; "
                f"read sheet '{source.sheet}'",
                "sheet",
            )
        )
    filler, head, header_rows, columns, labels = found
    mapped = {column.index for column in columns}
    unmapped = tuple(
        Column("", label.index, label.display) for label in labels if label.index not in mapped
    )
    last = header_rows[-1]
    filler.body([*mapped, *(c.index for c in unmapped)] if keep_unmapped else mapped)
    body = chain((item for item in head if item[0] > last), source.rows)
    table = Table(source, kind, header_rows, columns, body, spec, unmapped if keep_unmapped else ())
    table.notes.extend(notes)
    if keep_unmapped:
        for column in unmapped:
            table.notes.append(
                Note(
                    header_rows[-1],
                    column.letter,
                    f"{column.letter} 列（{column.label}）没有对应的字段，其内容作为附加信息随记录保存",
                    f"column {column.letter} ({column.label}) maps to no field; its values are kept "
                    "with each record as extra fields",
                    "unmapped",
                )
            )
    return table


def _open_header(
    source: _Source, spec: _Spec, named: Path, limits: ImportLimits
) -> tuple[_Filler, list[tuple[int, _Row]], tuple[int, ...], tuple[Column, ...], list[_Label]]:
    filler = _Filler(source.merges, limits.columns, named)
    source.rows = filler.rows(source.rows)
    head = list(islice(source.rows, HEADER_SCAN_ROWS + 1))
    blank = not any(cell is not None for _, row in head for cell in row)
    if blank and len(head) <= HEADER_SCAN_ROWS:
        where = f"工作表“{source.sheet}”" if source.sheet else "文件"
        raise ImportFileError(
            f"{named.name}：{where}没有内容", f"{named.name}: the {_sheet_en(source)} is empty"
        )
    header_rows, columns, labels = _find_header(head, spec, named, source)
    return filler, head, header_rows, columns, labels


def _sheet_en(source: _Source) -> str:
    return f"sheet '{source.sheet}'" if source.sheet else "file"


# --- expected fields ---------------------------------------------------------------------------


def _spec(
    expected: Mapping[str, Sequence[str]],
    key: str | Sequence[str] | None,
    list_fields: Collection[str],
    optional: Collection[str],
) -> _Spec:
    """Caller mistakes are programming errors (ValueError), not problems with the file."""
    if not expected:
        raise ValueError("expected names no field")
    labels: dict[str, str] = {}
    for field, accepted in expected.items():
        if isinstance(accepted, str) or not accepted:
            raise ValueError(f"field {field!r} needs a sequence of header labels")
        for label in accepted:
            norm = _norm(label)
            if labels.setdefault(norm, field) != field:
                raise ValueError(f"label {label!r} is accepted for {labels[norm]!r} and {field!r}")
    keys = (key,) if isinstance(key, str) else tuple(key or ())
    unknown = (set(list_fields) | set(optional) | set(keys)) - set(expected)
    if unknown:
        raise ValueError(f"not in expected: {sorted(unknown)}")
    if set(keys) & set(list_fields) or (keys and keys[-1] in optional):
        raise ValueError("the last key field must be required, and no key a list field")
    return _Spec(
        fields=tuple(expected),
        labels=labels,
        accepted={field: tuple(accepted) for field, accepted in expected.items()},
        required=tuple(field for field in expected if field not in optional),
        keys=keys,
        list_fields=frozenset(list_fields),
    )


def _norm(label: str) -> str:
    folded = unicodedata.normalize("NFKC", label).casefold()
    return _SPACE.sub("", folded).strip("*")


def _display(label: str) -> str:
    return " ".join(unicodedata.normalize("NFC", label).split())


def _lookup(label: str, spec: _Spec) -> str | None:
    return spec.labels.get(label) or spec.labels.get(_NOTE.sub("", label))


# --- file type -------------------------------------------------------------------------------


def _kind(path: Path, named: Path, limits: ImportLimits) -> tuple[str, Note | None]:
    """The format from the bytes, whatever the name says (systems save Excel 2003 XML as .xlsx,
    .xlsx as .xls, CSV as .xls); with a note when the name says otherwise. Formats no importer
    reads (PDF, HTML, XLSB, password-protected and WPS .et files) are refused by name."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF)
            handle.seek(0, 2)
            size = handle.tell()
    except OSError as e:
        raise ImportFileError(
            f"无法读取文件 {named.name}：{e.strerror}", f"cannot read {named.name}: {e.strerror}"
        ) from e
    if not head:
        raise ImportFileError(f"{named.name} 是空文件", f"{named.name} is an empty file")
    if size > limits.file_bytes:
        raise over(
            named.name,
            "file_bytes",
            limits.file_bytes,
            "文件过大，请拆分为几个较小的文件分别导入",
            "the file is too large; split it into smaller files",
        )
    found = _content(path, named, head, limits)
    if found == "xls" and named.suffix.lower() == ".et":
        found = "et"
    zh, en = _CONTENT[found]
    if found not in _READABLE:
        hint_zh, hint_en = _UNREADABLE_HINT.get(found, _RESAVE)
        raise ImportFileError(
            f"{named.name} 的内容是{zh}，无法读取；{hint_zh}",
            f"{named.name} holds {en}, which cannot be read; {hint_en}",
        )
    kind = "csv" if found == "utf16" else found
    named_as = _EXTENSIONS.get(named.suffix.lower())
    note = None
    if named_as != kind:
        shown = named.suffix or "（无）"
        note = Note(
            0,
            "",
            f"文件名是 {shown}，但内容是{zh}，已按实际格式读取",
            f"the file is named {named.suffix or '(no extension)'} but holds {en}; read as such",
            "format",
        )
    return kind, note


def _content(path: Path, named: Path, head: bytes, limits: ImportLimits) -> str:
    if head.startswith(b"PK\x03\x04"):
        try:
            names = Package(path, limits, named.name).names()
        except NotAZip:
            return "zip"
        if any(name.endswith("workbook.bin") for name in names):
            return "xlsb"
        return "xlsx" if any(name.endswith("workbook.xml") for name in names) else "zip"
    if head.startswith(_OLE2):
        return _ole_content(path)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf16"
    markup = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if markup.startswith(b"<?xml") or markup.startswith(b"<Workbook"):
        return "xml2003" if spreadsheetml.is_spreadsheetml(markup) else "xml"
    if markup.startswith(b"<"):
        return "html"
    return "binary" if b"\x00" in head else "csv"


def _ole_content(path: Path) -> str:
    """An OLE2 compound file: a BIFF workbook, an encrypted OOXML package (what Office writes
    for a password-protected .xlsx), or something else. BIFF's own encryption (FILEPASS) is
    found when the workbook is opened."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_OLE_SNIFF)
        names = {d.name for d in xlrd.compdoc.CompDoc(data, logfile=io.StringIO()).dirlist}
    except _BROKEN:
        return "xls"  # let the workbook reader name the damage
    if "EncryptedPackage" in names or "EncryptionInfo" in names:
        return "encrypted"
    if names & {"Workbook", "Book", "WORKBOOK", "BOOK"}:
        return "xls"
    return "ole"


def _broken(path: Path, error: BaseException) -> ImportFileError:
    return broken(path.name, error)


_VOCABULARY = re.compile(r"参数|字典|代码表|码表|说明|填表|下拉|选项|数据源|hidden", re.IGNORECASE)


def _pick_sheet(
    names: Sequence[str], visible: Sequence[bool], wanted: str | None
) -> tuple[str, list[str]]:
    """The sheet to read and the others that might hold the table instead. By default the first
    visible sheet that is not a vocabulary (参数表, 填表说明): templates often keep code lists
    beside, or hidden in front of, the table."""
    shown = [name for name, seen in zip(names, visible, strict=True) if seen]
    if wanted is None:
        if not shown:
            raise ImportFileError("工作簿中没有可见的工作表", "the workbook has no visible sheet")
        tables = [name for name in shown if not _VOCABULARY.search(name)] or shown
        return tables[0], tables[1:]
    if wanted in names:
        return wanted, []
    raise ImportFileError(
        f"找不到工作表“{wanted}”；文件中的工作表：{'、'.join(names)}",
        f"no sheet named '{wanted}'; the sheets are: {', '.join(names)}",
    )


# --- values ----------------------------------------------------------------------------------


def _clean(value: object) -> str | _Bad | None:
    """One value as text, the way an official reads it in Excel."""
    if type(value) is str:  # every cell of a CSV, most of a workbook: straight to the text rules
        return _clean_text(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, datetime):
        return _datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return _to_second(datetime.combine(date(2000, 1, 1), value)).time().isoformat()
    if isinstance(value, timedelta):
        seconds = round(abs(value.total_seconds()))
        sign = "-" if value < timedelta(0) else ""
        return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return _clean_text(str(value))


def _clean_text(value: str) -> str | _Bad | None:
    text = value if value.isascii() else unicodedata.normalize("NFC", value)
    # _EDGE changes a text only when its first or last character is one it strips (\s is
    # str.isspace in `re`): most cells are neither, and the test costs a fifth of the sub.
    if text and (
        text[0].isspace() or text[-1].isspace() or text[0] in _ZERO_WIDTH or text[-1] in _ZERO_WIDTH
    ):
        text = _EDGE.sub("", text)
    if not text:
        return None
    if text in _EXCEL_ERRORS:
        return _Bad("error", text)
    return text


def _number(value: float) -> str | _Bad:
    """Excel keeps 15 significant digits, so codes typed as numbers (1 → 1.0) read back as typed."""
    if not math.isfinite(value):
        return _Bad("error", str(value))
    shown = Decimal(format(value, ".15g"))
    if shown == shown.to_integral_value():
        if abs(value) >= 1e15:
            return _Bad("precision", format(shown, "f"))
        return str(int(shown))
    return format(shown, "f")


def _datetime(value: datetime) -> str:
    value = _to_second(value)
    if value.time() == time(0) and value.tzinfo is None:
        return value.date().isoformat()
    return value.isoformat()


def _to_second(value: datetime) -> datetime:
    """Excel stores times as fractions of a day, so 09:30 may read back as 09:29:59.999999."""
    return (value + timedelta(microseconds=500_000)).replace(microsecond=0)


class _Filler:
    """Gives every cell of a merged range its top-left value (remembering where it came from),
    and reads a run of missing rows as one empty row (see the module docstring).

    While the header is looked for, a merge fills its whole range; once `body` names the mapped
    columns, only merges whose first column is one of them matter, and only in that column. So
    the work per row is bounded by the mapped columns, whatever merges a file declares.
    """

    def __init__(self, merges: Iterable[_Merge], columns: int, named: Path) -> None:
        self.named = named
        self.columns = columns
        self.starting: dict[int, list[_Merge]] = defaultdict(list)
        for merge in merges:
            if merge[1] < columns and (merge[2] > merge[0] or merge[3] > merge[1]):
                self.starting[merge[0]].append(merge)
        self.active: list[tuple[int, int, _Merge, _Cell]] = []  # by first column
        self.mapped: frozenset[int] | None = None

    def body(self, columns: Iterable[int]) -> None:
        self.mapped = frozenset(columns)
        self.active = [entry for entry in self.active if entry[0] in self.mapped]

    def rows(self, rows: Iterable[tuple[int, _Row]]) -> _Rows:
        previous = 0
        for rownum, row in rows:
            missing = previous + 1
            while missing < rownum:
                if missing <= HEADER_SCAN_ROWS + 1 or self.active:
                    yield self._fill(missing, [])
                    missing += 1
                else:
                    yield missing, []  # one empty row for the rest of the run
                    missing = rownum
            yield self._fill(rownum, row)
            previous = rownum

    def _fill(self, rownum: int, row: _Row) -> tuple[int, _Row]:
        for merge in self.starting.pop(rownum, ()):
            anchor = row[merge[1]] if merge[1] < len(row) else None
            if anchor is not None and (self.mapped is None or merge[1] in self.mapped):
                self._start(merge, anchor)
        if self.active:
            for first, last, _, anchor in self.active:
                if self.mapped is not None:
                    last = first  # in the body a merge fills down its first column only
                if len(row) <= last:
                    row.extend([None] * (last + 1 - len(row)))
                for index in range(first, last + 1):
                    if (rownum, index) != anchor.origin:
                        row[index] = anchor
            self.active = [entry for entry in self.active if entry[2][2] > rownum]
        return rownum, row

    def _start(self, merge: _Merge, anchor: _Cell) -> None:
        first, last = merge[1], min(merge[3], self.columns - 1)
        at = bisect.bisect_left(self.active, first, key=lambda entry: entry[0])
        before = self.active[at - 1] if at else None
        after = self.active[at] if at < len(self.active) else None
        for other in (before, after):
            if other is not None and other[0] <= last and first <= other[1]:
                raise ImportFileError(
                    f"{self.named.name}：合并单元格 {_range(merge)} 与 {_range(other[2])} 重叠，"
                    "文件已损坏；请在 Excel 中取消这些合并后另存再导入",
                    f"{self.named.name}: merged ranges {_range(merge)} and {_range(other[2])} "
                    "overlap, so the file is damaged; unmerge them in Excel, save and import that",
                )
        self.active.insert(at, (first, last, merge, anchor))


def _range(merge: _Merge) -> str:
    return f"{excel.column_letter(merge[1] + 1)}{merge[0]}:{excel.column_letter(merge[3] + 1)}{merge[2]}"


def _too_wide(named: Path, limits: ImportLimits, row: int, index: int) -> ImportLimitError:
    return over(
        named.name,
        "columns",
        limits.columns,
        f"第 {row:,} 行第 {index + 1:,} 列（{excel.column_letter(min(index + 1, 18278))}）有内容",
        f"row {row:,} has a value in column {index + 1:,} "
        f"({excel.column_letter(min(index + 1, 18278))})",
    )


def _too_long(named: Path, limits: ImportLimits, row: int, index: int) -> ImportLimitError:
    letter = excel.column_letter(min(index + 1, 18278))
    return over(
        named.name,
        "cell_chars",
        limits.cell_chars,
        f"第 {row:,} 行 {letter} 列的内容过长",
        f"the cell in row {row:,} column {letter} is too long",
    )


def _too_many_rows(named: Path, limits: ImportLimits, row: int) -> ImportLimitError:
    return over(
        named.name,
        "rows",
        limits.rows,
        f"文件有第 {row:,} 行",
        f"the file has a row {row:,}",
    )


# --- CSV -------------------------------------------------------------------------------------


def _open_csv(path: Path, named: Path, sheet: str | None, limits: ImportLimits) -> _Source:
    if sheet is not None:
        raise ImportFileError(
            f"{named.name} 是 CSV 文件，没有工作表“{sheet}”",
            f"{named.name} is a CSV file and has no sheet '{sheet}'",
        )
    encoding = _csv_encoding(path, named)
    delimiter = _csv_delimiter(path, encoding)
    raw = path.open("rb")
    size = raw.seek(0, 2)
    raw.seek(0)
    handle = io.TextIOWrapper(raw, encoding=encoding, newline="")
    rows = _csv_rows(handle, delimiter, named, limits)
    return _Source(
        rows,
        handle.close,
        lambda: (raw.tell() if not raw.closed else size, size),
        encoding=encoding,
        delimiter=delimiter,
    )


def _csv_encoding(path: Path, named: Path) -> str:
    """UTF-8 strictly first (GB18030 would also accept much of it, garbled), then GB18030 ⊃ GBK."""
    with path.open("rb") as handle:
        start = handle.read(3)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        utf16 = _undecodable(path, "utf-16")
        if utf16 is None:
            return "utf-16"
        raise ImportFileError(
            f"{named.name} 以 UTF-16 标记开头，但字节偏移 {utf16[0]}（从 0 起算）处不是有效的 UTF-16",
            f"{named.name} starts with a UTF-16 byte order mark, but byte offset {utf16[0]} "
            "(counting from 0) is not valid UTF-16",
        )
    bom = start == codecs.BOM_UTF8
    utf8 = _undecodable(path, "utf-8")
    if utf8 is None:
        return "utf-8-sig" if bom else "utf-8"
    if bom:
        raise ImportFileError(
            f"{named.name} 以 UTF-8 标记开头，但第 {utf8[1]} 行（字节偏移 {utf8[0]}，从 0 起算）"
            "不是有效的 UTF-8",
            f"{named.name} starts with a UTF-8 byte order mark, but line {utf8[1]} "
            f"(byte offset {utf8[0]}, counting from 0) is not valid UTF-8",
        )
    gb = _undecodable(path, "gb18030")
    if gb is None:
        return "gb18030"
    raise ImportFileError(
        f"无法识别 {named.name} 的编码：按 UTF-8 读取在第 {utf8[1]} 行（字节偏移 {utf8[0]}）出错，"
        f"按 GB18030/GBK 读取在第 {gb[1]} 行（字节偏移 {gb[0]}）出错；字节偏移从 0 起算。"
        "请另存为“CSV UTF-8”再导入",
        f"cannot decode {named.name}: as UTF-8 it fails at line {utf8[1]} (byte offset {utf8[0]}), "
        f"as GB18030/GBK at line {gb[1]} (byte offset {gb[0]}), offsets counting from 0; "
        "save it as CSV UTF-8 and import that",
    )


def _undecodable(path: Path, encoding: str) -> tuple[int, int] | None:
    """(byte offset, line) of the first undecodable byte, decoding in chunks so memory stays
    constant even for a file without line breaks. A character left incomplete at the end of a
    chunk waits in the decoder; b"\n" never occurs inside a UTF-8 or GB18030 character."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = lines = 0  # bytes and line breaks before the current chunk
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(1 << 20)
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                seen = (pending + chunk)[: e.start]
                return offset - len(pending) + e.start, lines + seen.count(b"\n") + 1
            if not chunk:
                return None
            offset += len(chunk)
            lines += chunk.count(b"\n")


def _csv_delimiter(path: Path, encoding: str) -> str:
    """The delimiter that splits the most sample rows into the same number (>1) of fields.

    csv.Sniffer gives up on title rows without delimiters; counting copes with them. Ties go to
    more fields, then to the order comma, tab, semicolon.
    """
    with path.open(encoding=encoding, newline="") as handle:
        sample = handle.read(_SNIFF)
    if len(sample) == _SNIFF and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    best, best_score = ",", (0, 0)
    for delimiter in (",", "\t", ";"):
        try:
            rows = list(islice(csv.reader(io.StringIO(sample), delimiter=delimiter), 100))
        except csv.Error:
            continue
        widths = Counter(len(row) for row in rows if len(row) > 1)
        if widths:
            width, count = widths.most_common(1)[0]
            if (count, width) > best_score:
                best, best_score = delimiter, (count, width)
    return best


def _csv_lines(handle: io.TextIOWrapper, named: Path, limits: ImportLimits) -> Iterator[str]:
    """Lines of at most LINE_CHARS cells' worth of characters, so no line is read whole into
    memory whatever its length (the csv module bounds a quoted field over several lines)."""
    cap = limits.cell_chars * LINE_CHARS
    lineno = 0
    while line := handle.readline(cap + 1):
        lineno += 1
        if len(line) > cap:
            raise over(
                named.name,
                "cell_chars",
                limits.cell_chars,
                f"第 {lineno:,} 行（物理行）超过 {cap:,} 个字符",
                f"line {lineno:,} is longer than {cap:,} characters",
            )
        yield line


def _csv_rows(handle: io.TextIOWrapper, delimiter: str, named: Path, limits: ImportLimits) -> _Rows:
    rownum = 0
    chars, columns = limits.cell_chars, limits.columns
    reader = csv.reader(_csv_lines(handle, named, limits), delimiter=delimiter)
    try:
        for rownum, fields in enumerate(reader, start=1):
            if rownum > limits.rows:
                raise _too_many_rows(named, limits, rownum)
            row: _Row = []
            for index, text in enumerate(fields):
                if not text:
                    row.append(None)
                    continue
                if len(text) > chars:
                    raise _too_long(named, limits, rownum, index)
                if index >= columns:
                    if text.strip():
                        raise _too_wide(named, limits, rownum, index)
                    continue
                # `_clean(unneutralised(text))` as a cell, with the calls a CSV's text needs only
                value = _clean_text(unneutralised(text) if text[0] == "'" else text)
                if value is None:
                    row.append(None)
                    continue
                if text[0] == "=" and isinstance(value, str):
                    # A CSV has no types: Excel would run this. Behind an apostrophe (how ssj
                    # and Excel keep such text as text) it is the text itself.
                    value = _Bad("formula", value)
                row.append(_new_cell(_Cell, (value, (rownum, index))))
            yield rownum, row
    except csv.Error as e:
        if "field larger than field limit" in str(e):
            raise _too_long(named, limits, rownum + 1, 0) from e
        raise ImportFileError(
            f"{named.name} 第 {rownum + 1} 行无法读取：{e}", f"{named.name} row {rownum + 1}: {e}"
        ) from e
    except UnicodeDecodeError as e:
        raise ImportFileError(
            f"{named.name} 第 {rownum + 1} 行无法读取：{e}", f"{named.name} row {rownum + 1}: {e}"
        ) from e


# --- XLSX ------------------------------------------------------------------------------------


def _open_xlsx(path: Path, named: Path, sheet: str | None, limits: ImportLimits) -> _Source:
    book = xlsx.Workbook(path, limits, named.name)
    try:
        name, others = _pick_sheet(
            [s.name for s in book.sheets], [s.visible for s in book.sheets], sheet
        )
        chosen = next(s for s in book.sheets if s.name == name)
        merges = book.merges(chosen)
        total = book.position(chosen)
    except BaseException:
        book.close()
        raise
    rows = ((rownum, _xlsx_row(rownum, values)) for rownum, values in book.rows(chosen))
    return _Source(
        rows,
        book.close,
        lambda: (book.position(chosen), total),
        sheet=name,
        merges=merges,
        others=others,
    )


def _xlsx_row(rownum: int, values: list[xlsx.Raw]) -> _Row:
    """`_Cell(_xlsx_value(v), ...)` for each value, text (nearly every cell) going straight to
    `_clean_text`: four calls less a cell (about 2 of the 28 us of reading a registry export's
    row, measured at 100,000 rows)."""
    return [
        None
        if (value := _clean_text(v) if type(v) is str else _xlsx_value(v)) is None
        else _new_cell(_Cell, (value, (rownum, i)))
        for i, v in enumerate(values)
    ]


# `_Cell(value, origin)` without the named tuple's __new__ (a Python function): the same tuple.
_new_cell = tuple.__new__


def _xlsx_value(value: xlsx.Raw) -> str | _Bad | None:
    if isinstance(value, xlsx.Percent):
        return excel.percent_text(value.value)
    if isinstance(value, xlsx.Formula):
        return _Bad("formula", value.text)
    if isinstance(value, xlsx.ErrorValue):
        return _Bad("error", value.text)
    if isinstance(value, xlsx.BadDate):
        return _Bad("date", value.text)
    return _clean(value)


# --- Excel 2003 XML ---------------------------------------------------------------------------


def _open_xml2003(path: Path, named: Path, sheet: str | None, limits: ImportLimits) -> _Source:
    try:
        book = spreadsheetml.Workbook(path, limits, named.name)
    except ImportFileError:
        raise
    except (ValueError, OSError) as e:
        raise _broken(named, e) from e
    name, others = _pick_sheet(
        [s.name for s in book.sheets], [s.visible for s in book.sheets], sheet
    )
    chosen = next(s for s in book.sheets if s.name == name)

    def rows() -> _Rows:
        for rownum, values in book.rows(chosen):
            if rownum > limits.rows:
                raise _too_many_rows(named, limits, rownum)
            row: _Row = []
            for index, raw in enumerate(values):
                value = None if raw is None else _xlsx_value(raw)
                if value is None:
                    row.append(None)
                    continue
                if index >= limits.columns:
                    raise _too_wide(named, limits, rownum, index)
                if isinstance(value, str) and len(value) > limits.cell_chars:
                    raise _too_long(named, limits, rownum, index)
                row.append(_Cell(value, (rownum, index)))
            yield rownum, row

    return _Source(
        rows(),
        book.close,
        book.position,
        sheet=name,
        merges=chosen.merges,
        others=others,
    )


# --- XLS -------------------------------------------------------------------------------------


def _open_xls(path: Path, named: Path, sheet: str | None, limits: ImportLimits) -> _Source:
    try:
        book = xlrd.open_workbook(str(path), formatting_info=True, logfile=io.StringIO())
    except xlrd.XLRDError as e:
        if "encrypted" in str(e).lower():
            zh, en = _CONTENT["encrypted"]
            hint_zh, hint_en = _UNREADABLE_HINT["encrypted"]
            raise ImportFileError(
                f"{named.name} 的内容是{zh}，无法读取；{hint_zh}",
                f"{named.name} holds {en}, which cannot be read; {hint_en}",
            ) from e
        raise _broken(named, e) from e
    except _BROKEN as e:
        raise _broken(named, e) from e
    percents = {
        index
        for index, xf in enumerate(book.xf_list)
        if (shown := book.format_map.get(xf.format_key)) is not None
        and excel.is_percent_format(shown.format_str)
    }
    try:
        sheets = book.sheets()
        name, others = _pick_sheet(
            [s.name for s in sheets], [s.visibility == 0 for s in sheets], sheet
        )
    except BaseException:
        book.release_resources()
        raise
    worksheet = book.sheet_by_name(name)
    merges = [(rlo + 1, clo, rhi, chi - 1) for rlo, rhi, clo, chi in worksheet.merged_cells]
    done = [0]

    def rows() -> _Rows:
        for r in range(worksheet.nrows):
            done[0] = r + 1
            if r + 1 > limits.rows:
                raise _too_many_rows(named, limits, r + 1)
            row: _Row = []
            for index, cell in enumerate(worksheet.row(r)):
                if cell.ctype == xlrd.XL_CELL_NUMBER and cell.xf_index in percents:
                    value: str | _Bad | None = excel.percent_text(cell.value)
                else:
                    value = _xls_value(cell, book.datemode)
                if value is None:
                    row.append(None)
                    continue
                if isinstance(value, str) and len(value) > limits.cell_chars:
                    raise _too_long(named, limits, r + 1, index)
                if index >= limits.columns:
                    raise _too_wide(named, limits, r + 1, index)
                row.append(_Cell(value, (r + 1, index)))
            yield r + 1, row

    return _Source(
        rows(),
        book.release_resources,
        lambda: (done[0], worksheet.nrows),
        sheet=name,
        merges=merges,
        others=others,
    )


def _xls_value(cell: xlrd.sheet.Cell, datemode: int) -> str | _Bad | None:
    kind = cell.ctype
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if kind == xlrd.XL_CELL_ERROR:
        return _Bad("error", xlrd.error_text_from_code.get(cell.value, "#ERROR"))
    if kind == xlrd.XL_CELL_BOOLEAN:
        return _clean(bool(cell.value))
    if kind == xlrd.XL_CELL_DATE:
        try:
            parts = xlrd.xldate_as_tuple(cell.value, datemode)
        except xlrd.xldate.XLDateError:
            return _Bad("date", str(cell.value))
        if parts[:3] == (0, 0, 0):
            return _clean(time(*parts[3:]))
        return _clean(datetime(*parts))
    return _clean(cell.value)


# --- header ----------------------------------------------------------------------------------


def _find_header(
    head: list[tuple[int, _Row]], spec: _Spec, path: Path, source: _Source
) -> tuple[tuple[int, ...], tuple[Column, ...], list[_Label]]:
    best: tuple[int, tuple[int, ...], list[_Label], dict[int, str]] | None = None
    for i, (rownum, row) in enumerate(head[:HEADER_SCAN_ROWS]):
        rows: tuple[int, ...] = (rownum,)
        labels = _single_labels(row)
        matches = _match(labels, spec)
        if i + 1 < len(head):
            double = _double_labels(row, head[i + 1][1], head[i + 1][0])
            if double is not None:
                double_matches = _match(double, spec)
                if any(full for _, full in double_matches.values()):
                    rows, labels, matches = (rownum, rownum + 1), double, double_matches
        score = len({field for field, _ in matches.values()})
        if score and (best is None or score > best[0]):
            fields = {index: field for index, (field, _) in matches.items()}
            best = (score, rows, labels, fields)
    if best is None:
        wanted = "”“".join(spec.accepted[field][0] for field in spec.required[:4])
        raise ImportFileError(
            f"{path.name}：在前 {HEADER_SCAN_ROWS} 行中没有找到表头（应有“{wanted}”等列）",
            f"{path.name}: no header row in the first {HEADER_SCAN_ROWS} rows of the "
            f"{_sheet_en(source)} (expected columns such as “{wanted}”)",
        )
    _, rows, labels, found = best
    missing = [field for field in spec.required if field not in found.values()]
    if missing:
        seen = "、".join(label.display for label in labels) or "（无）"
        wanted_zh = "；".join(
            f"“{spec.accepted[f][0]}”（可写作：{'、'.join(spec.accepted[f])}）" for f in missing
        )
        wanted_en = "; ".join(
            f"“{spec.accepted[f][0]}” for {f} (accepted: {', '.join(spec.accepted[f])})"
            for f in missing
        )
        where = "、".join(str(r) for r in rows)
        raise ImportFileError(
            f"{path.name}：缺少必需的表头 {wanted_zh}。第 {where} 行的表头是：{seen}",
            f"{path.name}: missing required header(s) {wanted_en}. "
            f"The header in row(s) {', '.join(map(str, rows))} reads: {seen.replace('、', ', ')}",
        )
    by_field: dict[str, list[int]] = defaultdict(list)
    for index, field in found.items():
        by_field[field].append(index)
    display = {label.index: label.display for label in labels}
    fallback = {label.index for label in labels if label.full in spec.fallback_labels}
    for field, indexes in by_field.items():
        if len(indexes) > 1 and (own := [i for i in indexes if i not in fallback]):
            for index in set(indexes) - set(own):
                del found[index]
            by_field[field] = indexes = own
        if len(indexes) > 1:
            letters = [excel.column_letter(i + 1) for i in sorted(indexes)]
            shown = "、".join(
                f"{letter} 列（{display[i]}）"
                for letter, i in zip(letters, sorted(indexes), strict=True)
            )
            raise ImportFileError(
                f"{path.name}：“{spec.accepted[field][0]}”对应多列：{shown}，无法确定用哪一列",
                f"{path.name}: several columns match “{spec.accepted[field][0]}” ({field}): "
                f"{', '.join(letters)}; keep one",
            )
    columns = tuple(Column(found[i], i, display[i]) for i in sorted(found))
    return rows, columns, labels


def _single_labels(row: _Row) -> list[_Label]:
    labels = []
    for index, cell in enumerate(row):
        if cell is None or cell.origin[1] != index or not isinstance(cell.value, str):
            continue
        if norm := _norm(cell.value):
            labels.append(_Label(index, _display(cell.value), norm))
    return labels


def _double_labels(parent: _Row, child: _Row, child_row: int) -> list[_Label] | None:
    """Labels of a two-level header, or None when `child` is not a sub-header row."""
    width = max(len(parent), len(child))
    subs: list[str | None] = []  # the child row's own labels
    for index in range(width):
        cell = child[index] if index < len(child) else None
        if cell is not None and cell.origin == (child_row, index) and isinstance(cell.value, str):
            subs.append(cell.value)
        else:
            subs.append(None)
    if not any(subs):
        return None
    labels = []
    start = 0
    while start < width:
        head = parent[start] if start < len(parent) else None
        if head is None:
            if subs[start] is not None:
                return None  # a sub-label with no group above it
            start += 1
            continue
        end = start + 1
        while end < width:
            cell = parent[end] if end < len(parent) else None
            same = cell is not None and cell.origin == head.origin
            if same or (cell is None and subs[end] is not None):
                end += 1
            else:
                break
        group = head.value
        if not isinstance(group, str):
            return None
        if end - start == 1:
            if subs[start] is not None:
                return None
            if head.origin[1] == start and (norm := _norm(group)):
                labels.append(_Label(start, _display(group), norm))
        else:
            for index in range(start, end):
                sub = subs[index]
                if sub is None:
                    return None  # every column of a group needs its sub-label
                shown = f"{_display(group)}/{_display(sub)}"
                labels.append(_Label(index, shown, f"{_norm(group)}/{_norm(sub)}", _norm(sub)))
        start = end
    return labels


def _match(labels: list[_Label], spec: _Spec) -> dict[int, tuple[str, bool]]:
    """Column index -> (field, matched on a label that includes the parent row)."""
    names = Counter(label.child or label.full for label in labels)
    found: dict[int, tuple[str, bool]] = {}
    for label in labels:
        field = _lookup(label.full, spec)
        if field is not None:
            found[label.index] = (field, True)
        elif label.child is not None and names[label.child] == 1:
            field = _lookup(label.child, spec)
            if field is not None:
                found[label.index] = (field, False)
    return found


# --- body ------------------------------------------------------------------------------------


_SAMPLE = re.compile(
    r"请删除|删除本行|^(?:示例|样例|范例|案例|填写示例|填表示例)(?:\s*[：:（(\d].*)?$"
)
# A text `_SAMPLE` finds holds one of these (every alternative does).
_SAMPLE_NEEDS = ("删除", "例")
_HINT = re.compile(
    r"详见|参数表|YYYY|yyyy|请填写|请选择|请输入|格式[：:为]|必填|选填|单选|多选|下拉|"
    r"以(?:中文|英文)?[逗分顿][号隔]|[分隔]开填写|若.*(?:请|则)|填写|输入|如[：:]|例[：:]"
)
_FOOTER = re.compile(
    r"^(?:注意|注|备注|说明|附注|附件|填表人|制表人|制表|填报人|审核人|审核|负责人|联系人|联系电话|"
    r"合计|总计|共计|小计|数据来源|统计时间|填报日期|制表日期)\s*(?:[：:\d（(、]|$)"
)


def _skip_reason(row: _Row, rownum: int, started: bool) -> tuple[str, str, str] | None:
    """Why a body row is not data, and the cell text that shows it: a template's sample row
    (案例（请删除）), an instruction row under the header (YYYY-MM-DD, 详见参数表) before any
    record, or a footer note (注：, 填表人：) alone on its row after the records. None for a row
    to read."""
    own = [
        cell.value
        for index, cell in enumerate(row)
        if cell is not None and cell.origin == (rownum, index) and isinstance(cell.value, str)
    ]
    if not own:
        return None
    joined = "".join(own)  # nearly every row is data: what `_SAMPLE` needs, looked for once
    if _SAMPLE_NEEDS[0] in joined or _SAMPLE_NEEDS[1] in joined:
        sample = next((value for value in own if _SAMPLE.search(value)), None)
        if sample is not None:
            return ("示例行（模板中的样例）", "a sample row (the template's example)", sample)
    if not started:
        hints = [value for value in own if _HINT.search(value)]
        if hints and len(hints) * 2 >= len(own):
            return ("填写说明行", "an instruction row", hints[0])
    if started and len(own) == 1 and _FOOTER.search(own[0]):
        return ("表尾注释行", "a footer note", own[0])
    return None


# Whether `_records` reads a lone row's record without a draft; tests set it False to compare
# with the draft (the reference).
LONE_RECORDS = True


def _records(
    rows: _Rows,
    columns: tuple[Column, ...],
    spec: _Spec,
    problems: list[Problem],
    notes: list[Note] | None = None,
    unmapped: tuple[Column, ...] = (),
) -> Iterator[Record]:
    keys = [c for wanted in spec.keys for c in columns if c.field == wanted]
    key = keys[0] if keys else None
    # Without a key every row that holds data starts a record and nothing continues one; with
    # no list fields either, a record is its row (`_lone_record`), built without a draft.
    lone = LONE_RECORDS and key is None and not spec.list_fields
    draft: _Draft | None = None
    ready: Record | None = None  # `lone`: the record read, given when the next row starts
    started = False
    at = [(column.field, column.index) for column in columns]
    for rownum, row in rows:
        # {field: _body_cell(row, index)}, inlined: a call per cell cost more than the rest
        width = len(row)
        cells: dict[str, _Cell | None] = {}
        for name, index in at:
            cell = row[index] if index < width else None
            cells[name] = cell if cell is None or cell.origin[1] == index else None
        reason = _skip_reason(row, rownum, started) if notes is not None else None
        if reason is not None or not any(cells.values()):
            if reason is not None and notes is not None:
                shown = reason[2]
                if len(shown) > 40:
                    shown = shown[:40] + "…"
                notes.append(
                    Note(
                        rownum,
                        "",
                        f"第 {rownum} 行是{reason[0]}，已跳过：“{shown}”",
                        f"row {rownum} is {reason[1]}, skipped: “{shown}”",
                        "skipped",
                    )
                )
            if draft is not None:
                yield _record(draft, spec, unmapped)
                draft = None
            if ready is not None:
                yield ready
                ready = None
            continue
        for column in columns:
            cell = cells[column.field]
            if (
                cell is not None
                and isinstance(cell.value, _Bad)
                and cell.origin == (rownum, column.index)
            ):  # a merged one is reported once
                problems.append(_bad(rownum, column, cell.value))
        if key is not None and not any(
            (cell := cells[k.field]) is not None and cell.origin[0] == rownum for k in keys
        ):
            if draft is None:
                problems.append(_orphan(rownum, key))
            elif _varies(draft, rownum, cells, spec):
                yield _record(draft, spec, unmapped)
                draft = _variant(draft, rownum, cells, columns, spec)
                _extra(draft, row, unmapped)
            else:
                _continue(draft, rownum, cells, columns, key, spec, problems)
                _extra(draft, row, unmapped)
        elif lone:
            if ready is not None:
                yield ready
            ready = _lone_record(rownum, row, cells, columns, spec, unmapped)
            started = True
        else:
            if draft is not None:
                yield _record(draft, spec, unmapped)
            draft = _start(rownum, cells, columns, spec)
            _extra(draft, row, unmapped)
            started = True
    if draft is not None:
        yield _record(draft, spec, unmapped)
    if ready is not None:
        yield ready


def _lone_record(
    rownum: int,
    row: _Row,
    cells: dict[str, _Cell | None],
    columns: tuple[Column, ...],
    spec: _Spec,
    unmapped: tuple[Column, ...],
) -> Record:
    """The record `_record` makes of a draft that `_start` began at this row and `_extra`
    filled, when no row can continue it (no key) and no field is a list: a registry
    export's every row, so without the draft's lists, origins and taken cells."""
    values: dict[str, Value] = dict.fromkeys(spec.fields)
    for column in columns:
        cell = cells[column.field]
        values[column.field] = (
            cell.value if cell is not None and isinstance(cell.value, str) else None
        )
    extra: dict[str, str] = {}
    if unmapped:
        _extra_into(extra, set(), row, unmapped)
    return Record((rownum,), values, extra)


def _extra(draft: _Draft, row: _Row, unmapped: tuple[Column, ...]) -> None:
    """Unmapped columns' values: a continuation row's own values join the record's."""
    _extra_into(draft.extra, draft.taken, row, unmapped)


def _extra_into(
    extra: dict[str, str], taken: set[tuple[int, int]], row: _Row, unmapped: tuple[Column, ...]
) -> None:
    for column in unmapped:
        cell = _body_cell(row, column.index)
        text = _text(cell)
        if text is None or cell is None or cell.origin in taken:
            continue
        taken.add(cell.origin)
        before = extra.get(column.label)
        extra[column.label] = text if before is None else f"{before}\n{text}"


def _body_cell(row: _Row, index: int) -> _Cell | None:
    """In the body a merged value fills down its first column only (see module docstring)."""
    cell = row[index] if index < len(row) else None
    return cell if cell is not None and cell.origin[1] == index else None


def _text(cell: _Cell | None) -> str | None:
    return cell.value if cell is not None and isinstance(cell.value, str) else None


def _start(
    rownum: int, cells: dict[str, _Cell | None], columns: tuple[Column, ...], spec: _Spec
) -> _Draft:
    draft = _Draft(
        rows=[rownum],
        values={field: None for field in spec.fields if field not in spec.list_fields},
        origins={},
        lists={field: [] for field in spec.fields if field in spec.list_fields},
        taken=set(),
    )
    for column in columns:
        if column.field not in spec.list_fields:
            cell = cells[column.field]
            draft.values[column.field] = _text(cell)
            draft.origins[column.field] = cell.origin if cell is not None else None
    _add_entry(draft, cells, columns, spec)
    return draft


def _own_text(cell: _Cell | None, rownum: int) -> str | None:
    """A cell's text when the cell starts on this row (not merged down from above)."""
    return _text(cell) if cell is not None and cell.origin[0] == rownum else None


def _varies(draft: _Draft, rownum: int, cells: dict[str, _Cell | None], spec: _Spec) -> bool:
    """A continuation row naming its own, different value of a variant field (an item list
    repeats an item for a second 检查对象 with its own 事项类别) is a variant, not a
    continuation."""
    return any(
        (text := _own_text(cells[field], rownum)) is not None and text != draft.values.get(field)
        for field in spec.variant_fields
        if field in cells
    )


def _variant(
    base: _Draft,
    rownum: int,
    cells: dict[str, _Cell | None],
    columns: tuple[Column, ...],
    spec: _Spec,
) -> _Draft:
    """The base record's values and lists, with this row's own values over them."""
    draft = _Draft(
        rows=[rownum],
        values=dict(base.values),
        origins=dict(base.origins),
        lists={field: list(values) for field, values in base.lists.items()},
        taken=set(base.taken),
        variant_of=base.variant_of or base.rows[0],
    )
    for column in columns:
        cell = cells[column.field]
        if column.field not in spec.list_fields and cell is not None and cell.origin[0] == rownum:
            draft.values[column.field] = _text(cell)
            draft.origins[column.field] = cell.origin
    _add_entry(draft, cells, columns, spec)
    return draft


def _continue(
    draft: _Draft,
    rownum: int,
    cells: dict[str, _Cell | None],
    columns: tuple[Column, ...],
    key: Column,
    spec: _Spec,
    problems: list[Problem],
) -> None:
    draft.rows.append(rownum)
    for column in columns:
        if column is key or column.field in spec.list_fields:
            continue
        cell = cells[column.field]
        if (
            cell is not None
            and _text(cell) is not None
            and cell.origin != draft.origins[column.field]
        ):
            if column.field in spec.joined_fields:
                if cell.origin not in draft.taken:
                    before = draft.values.get(column.field)
                    text = _text(cell)
                    draft.values[column.field] = f"{before}、{text}" if before else text
                    draft.taken.add(cell.origin)
                    draft.joined.add(column.field)
                continue
            allowed = [
                c.label
                for c in columns
                if c.field in spec.list_fields or c.field in spec.joined_fields
            ]
            problems.append(_intruder(rownum, draft.rows[0], column, key, allowed))
    _add_entry(draft, cells, columns, spec)


def _add_entry(
    draft: _Draft, cells: dict[str, _Cell | None], columns: tuple[Column, ...], spec: _Spec
) -> None:
    listed = [column for column in columns if column.field in spec.list_fields]
    fresh = [cells[c.field] for c in listed]
    if not any(cell is not None and cell.origin not in draft.taken for cell in fresh):
        return
    for column, cell in zip(listed, fresh, strict=True):
        draft.lists[column.field].append(_text(cell))
        if cell is not None:
            draft.taken.add(cell.origin)


def _record(draft: _Draft, spec: _Spec, unmapped: tuple[Column, ...] = ()) -> Record:
    values: dict[str, Value] = {
        name: draft.lists[name] if name in draft.lists else draft.values[name]
        for name in spec.fields
    }
    return Record(
        tuple(draft.rows),
        values,
        draft.extra if unmapped else {},
        draft.variant_of,
        frozenset(draft.joined),
    )


# --- problems --------------------------------------------------------------------------------


def _where(row: int, column: Column) -> tuple[str, str]:
    return (
        f"第 {row} 行 {column.letter} 列（{column.label}）",
        f"row {row} column {column.letter} ({column.label})",
    )


def _bad(row: int, column: Column, bad: _Bad) -> Problem:
    zh, en = _where(row, column)
    if bad.kind == "formula":
        zh, en = (
            f"{zh}是公式，应为数值（{bad.text}）",
            f"{en} holds a formula, a value is expected ({bad.text})",
        )
    elif bad.kind == "error":
        zh, en = f"{zh}是错误值 {bad.text}", f"{en} holds the error value {bad.text}"
    elif bad.kind == "precision":
        zh = f"{zh}的数字 {bad.text} 超过 15 位，Excel 可能已改变其末尾数字；请把该列设为文本后重新填写"
        en = f"{en} holds the number {bad.text}, longer than the 15 digits Excel keeps exactly; format the column as text and re-enter it"
    else:
        zh, en = f"{zh}的日期无法读取（{bad.text}）", f"{en} holds an unreadable date ({bad.text})"
    return Problem(row, column.letter, zh, en)


def _orphan(row: int, key: Column) -> Problem:
    zh, en = _where(row, key)
    return Problem(
        row,
        key.letter,
        f"{zh}为空，且上方没有可以续接的记录；请填写{key.label}",
        f"{en} is empty and there is no record above to continue; fill in {key.label}",
    )


def _intruder(row: int, first: int, column: Column, key: Column, allowed: list[str]) -> Problem:
    return Problem(
        row,
        column.letter,
        f"第 {row} 行没有新的{key.label}（为空或与上方合并），是第 {first} 行记录的续行，"
        f"但 {column.letter} 列（{column.label}）有值；续行只能填写：{'、'.join(allowed) or '（无）'}",
        f"row {row} has no {key.label} of its own (empty or merged from above) and continues the "
        f"record at row {first}, but column {column.letter} ({column.label}) has a value; a "
        f"continuation row may only fill: {', '.join(allowed) or '(nothing)'}",
    )

"""The plain-row fast path (`ssj.imports.plainrows`) gives exactly what the expat reference
(`Workbook.reference_rows`) gives: the same rows and values, the same limits and the same
errors, whatever the sheet holds; and it reads plain sheets without the reference."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssj.config import ImportLimits
from ssj.errors import SsjError
from ssj.imports import ooxml, plainrows, xlsx
from tests.conftest import examples
from tests.real_corpus import manifest, real_file

PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas'
    '.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType='
    '"application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
    'ContentType="application/xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
    'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/'
    'workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.'
    'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/>'
    "</sheets></workbook>",
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns='
    '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxml'
    'formats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/styles" Target="styles.xml"/></Relationships>',
    # styles 0 general, 1 a date, 2 a percent, 3 a duration, 4 a custom date
    "xl/styles.xml": '<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.'
    'openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" '
    'formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/></numFmts><cellXfs count="5">'
    '<xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="9"/><xf numFmtId="46"/>'
    '<xf numFmtId="164"/></cellXfs></styleSheet>',
    "xl/sharedStrings.xml": '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.'
    'openxmlformats.org/spreadsheetml/2006/main" uniqueCount="6"><si><t>企业名称</t></si><si>'
    "<t>a &amp; b &lt;c&gt;</t></si><si><t>_x0041__x005F_x0041_</t></si><si><t/></si><si><r>"
    '<t>富</t></r><r><t xml:space="preserve"> 文本</t></r></si><si><t>91330000668306747T</t>'
    "</si></sst>",
}
HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas'
    '.openxmlformats.org/spreadsheetml/2006/main" xmlns:x14ac="http://schemas.microsoft.com/'
    'office/spreadsheetml/2009/9/ac">'
)


def write(path: Path, sheet: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in PARTS.items():
            book.writestr(name, text.encode())
        book.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def outcome(
    path: Path, limits: ImportLimits, reference: bool, index: int = 0
) -> tuple[list[Any], str | None]:
    """Every row of sheet `index` given, then the error (type and both languages) if reading
    stopped on one."""
    got: list[Any] = []
    try:
        book = xlsx.Workbook(path, limits)
    except SsjError as e:
        return got, f"{type(e).__name__}: {e}"
    try:
        sheet = book.sheets[index]
        rows = book.reference_rows(sheet) if reference else book.rows(sheet)
        for row in rows:
            got.append(row)
    except SsjError as e:
        return got, f"{type(e).__name__}: {e}"
    finally:
        book.close()
    return got, None


def assert_same(path: Path, limits: ImportLimits | None = None) -> tuple[list[Any], str | None]:
    limits = limits or ImportLimits()
    new = outcome(path, limits, reference=False)
    old = outcome(path, limits, reference=True)
    assert new == old
    return new


# --- generated sheets ------------------------------------------------------------------------

LETTERS = ["A", "B", "C", "D", "Z", "AA", "XFD"]
TEXTS = {
    "s": ["0", "1", "2", "3", "4", "5", "6", "-1", " 1 ", "", "1.5", "x"],
    "n": ["0", "7", "-3", "1.5", "1e3", "2.5E-1", "45000", "45000.75", "1e400", "", "x", " 4 "],
    "str": ["abc", "_x0041_", "a b", "", "12", "\t1\n"],
    "b": ["0", "1", "true", " 1", "", "2"],
    "e": ["#N/A", "#DIV/0!", "#REF!", ""],
    "d": ["2020-01-02", "2020-01-02T03:04:05", "nonsense", ""],
    "": ["1", "2.5", "", "x"],
}
PLAIN_TYPES = ["s", "n", "str", "b", "e", "d", ""]


@st.composite
def plain_cell(draw: st.DrawFn, row: int) -> str:
    kind = draw(st.sampled_from(PLAIN_TYPES))
    ref = draw(st.sampled_from(["", *LETTERS]))
    r = f' r="{ref}{row}"' if ref else ""
    style = draw(st.sampled_from(["", "0", "1", "2", "3", "4"]))
    s = f' s="{style}"' if style else ""
    t = f' t="{kind}"' if kind else ""
    form = draw(st.sampled_from(["v", "v", "v", "empty", "self", "self-space", "spaced"]))
    text = draw(st.sampled_from(TEXTS[kind]))
    if form == "self":
        return f"<c{r}{s}{t}/>"
    if form == "self-space":
        return f"<c{r}{s}{t} />"
    if form == "empty":
        return f"<c{r}{s}{t}></c>"
    if form == "spaced":
        return f"<c{r}{s}{t}>\n  <v>{text}</v>\n</c>"
    return f"<c{r}{s}{t}><v>{text}</v></c>"


ODD_CELLS = [
    '<c r="A{n}"><f>1+1</f><v>2</v></c>',
    '<c r="B{n}" t="str"><f>"x"</f><v>x</v></c>',
    '<c r="A{n}" t="inlineStr"><is><t>行内 &amp; 文本</t></is></c>',
    '<c r="C{n}" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r><rPh><t>ふ</t></rPh></is></c>',
    '<c r="A{n}" t="inlineStr"/>',
    '<c r="A{n}" t="inlineStr"><v>1</v></c>',
    '<c r="A{n}"><v>1&#48;</v></c>',
    '<c r="A{n}" t="str"><v>a &amp; b</v></c>',
    '<c r="A{n}"><v><![CDATA[12]]></v></c>',
    '<c r="A{n}"><!-- note --><v>3</v></c>',
    "<c r='A{n}'><v>4</v></c>",
    '<c t="n" r="B{n}"><v>5</v></c>',
    '<c r="b{n}"><v>6</v></c>',
    '<c r="A{n}" t="s" s="1"><v>1</v></c>',
    '<c  r="A{n}"><v>7</v></c>',
    '<c r="A{n}" cm="1"><v>8</v></c>',
    '<c r="A{n}" t="str"><v>中文</v></c>',
    '<c r="A{n}" t="str"><v>a\rb</v></c>',
    '<c r="A{n}" t="str"><v>a > b</v></c>',
    '<c r="A{n}" t="x"><v>1</v></c>',
    '<c r="A{n}" t="s"><v/></c>',
    '<c r=""><v>9</v></c>',
    '<c r="1A"><v>9</v></c>',
    '<c r="AAAA{n}"><v>9</v></c>',
    '<c r="A{n}" t="n"><v>1</v><extLst/></c>',
    '<x:c r="A{n}"><x:v>1</x:v></x:c>',
    '<c r="A{n}"><v>1</c>',  # malformed
    '<c r="A{n}" r="B{n}"><v>1</v></c>',  # malformed
    '<c r="A{n}"><v>1\x01</v></c>',  # malformed
]


@st.composite
def row_xml(draw: st.DrawFn, number: int, plain: bool) -> str:
    count = draw(st.integers(0, 5))
    cells = []
    for _ in range(count):
        if not plain and draw(st.integers(0, 9)) == 0:
            cells.append(draw(st.sampled_from(ODD_CELLS)).format(n=number))
        else:
            cells.append(draw(plain_cell(number)))
    sep = draw(st.sampled_from(["", "", "", "\n", " \r\n  "]))
    body = sep.join(cells)
    forms = ["r", "r", "r", "spans", "none", "self"]
    if not plain:
        forms += ["late-r", "dup", "prefix", "quote", "big"]
    form = draw(st.sampled_from(forms))
    if form == "self":
        return f'<row r="{number}"/>'
    start = {
        "r": f'<row r="{number}">',
        "spans": f'<row r="{number}" spans="1:4" ht="15" x14ac:dyDescent="0.25">',
        "none": "<row>",
        "late-r": f'<row spans="1:2" r="{number}">',
        "dup": f'<row r="{number}" ht="1" ht="2">',
        "prefix": f'<row r="{number}">',
        "quote": f"<row r='{number}'>",
        "big": f'<row r="{number}.0">',
    }[form]
    if form == "prefix":
        return f'<x:row r="{number}">{body}</x:row>'
    return f"{start}{body}</row>"


@st.composite
def sheet_xml(draw: st.DrawFn) -> bytes:
    """Half of them plain throughout (rows in order, cells of the plain forms, well-formed)."""
    plain = draw(st.booleans())
    rows = []
    number = 0
    steps = [1, 1, 1, 2, 5] if plain else [1, 1, 1, 2, 5, 0, -1, 1_048_576]
    for _ in range(draw(st.integers(0, 12))):
        number += draw(st.sampled_from(steps))
        rows.append(draw(row_xml(number, plain)))
    if plain:
        text = HEAD + "<sheetData>" + "".join(rows) + "</sheetData></worksheet>"
        return text.encode()
    prefix = draw(
        st.sampled_from(
            [
                "",
                '<sheetPr/><dimension ref="A1:D4"/><cols><col min="1" max="2" width="9"/></cols>',
                "<!-- <sheetData> -->",
                "<row/>",
            ]
        )
    )
    between = draw(st.sampled_from(["", "", "\n", "\n  "]))
    end = draw(
        st.sampled_from(
            [
                "</sheetData></worksheet>",
                '</sheetData><mergeCells count="1"><mergeCell ref="A1:B2"/></mergeCells>'
                "</worksheet>",
                "</sheetData><oops></worksheet>",
                "</sheetData>",
                "",
                "</sheetdata></worksheet>",
            ]
        )
    )
    head = HEAD
    if draw(st.integers(0, 19)) == 0:
        head = '<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "b">]><worksheet>'
    if draw(st.integers(0, 19)) == 0:
        head = HEAD.replace("UTF-8", "ISO-8859-1")
    start = draw(st.sampled_from(["<sheetData>", "<sheetData>", "<sheetData >"]))
    text = head + prefix + start + between.join(rows) + between + end
    return text.encode("utf-8") if "ISO-8859-1" not in head else text.encode("latin-1", "replace")


LIMITS = st.one_of(
    st.just(ImportLimits()),
    st.builds(
        ImportLimits,
        rows=st.integers(1, 12),
        columns=st.integers(1, 30),
        cell_chars=st.integers(1, 12),
    ),
)


@settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sheet=sheet_xml(), limits=LIMITS, chunk=st.sampled_from([ooxml.CHUNK, 1, 7, 64]))
def test_generated_sheets_read_as_the_reference_reads_them(
    tmp_path: Path, sheet: bytes, limits: ImportLimits, chunk: int
) -> None:
    path = write(tmp_path / "generated.xlsx", sheet)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ooxml, "CHUNK", chunk)
        patch.setattr(plainrows, "MAX_TOKEN", 200)  # a row longer than this goes to expat
        assert_same(path, limits)


# --- openpyxl workbooks ------------------------------------------------------------------------

VALUES = st.one_of(
    st.none(),
    st.text(alphabet="ab &<>_x0041中文\"'", max_size=8),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.dates(min_value=date(1900, 3, 1), max_value=date(2100, 1, 1)),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)),
    st.times().map(lambda t: t.replace(microsecond=0)),
    st.sampled_from(["=1+1", '=A1&"x"', "#N/A"]),
)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    grid=st.lists(st.lists(VALUES, max_size=5), max_size=6),
    percent=st.booleans(),
    merge=st.booleans(),
)
def test_openpyxl_workbooks_read_as_the_reference_reads_them(
    tmp_path: Path, grid: list[list[Any]], percent: bool, merge: bool
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for r, values in enumerate(grid, start=1):
        for c, value in enumerate(values, start=1):
            if value is not None:
                cell = sheet.cell(row=r * 2 - 1, column=c * 2 - 1, value=value)
                if percent and isinstance(value, float):
                    cell.number_format = "0%"
    if merge:
        sheet.merge_cells("A1:B2")
    path = tmp_path / "openpyxl.xlsx"
    book.save(path)
    assert_same(path)
    assert_same(path, ImportLimits(rows=3, columns=3, cell_chars=3))


# --- plain sheets, real files, malformed bytes ---------------------------------------------------


def plain_sheet(rows: int) -> bytes:
    """A sheet as Excel writes one, shared strings, numbers, dates and percents."""
    lines = [HEAD, '<dimension ref="A1:E9"/><sheetData>']
    for n in range(1, rows + 1):
        lines.append(
            f'<row r="{n}" spans="1:5" x14ac:dyDescent="0.25"><c r="A{n}" t="s"><v>{n % 6}</v>'
            f'</c><c r="B{n}" s="1"><v>{40000 + n}</v></c><c r="C{n}" s="2"><v>0.{n}</v></c>'
            f'<c r="D{n}" s="3"/><c r="E{n}" t="b"><v>1</v></c></row>'
        )
    lines.append("</sheetData></worksheet>")
    return "".join(lines).encode()


def test_a_plain_sheet_is_read_without_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "plain.xlsx", plain_sheet(3000))
    rows, error = assert_same(path)
    assert error is None and len(rows) == 3000
    assert rows[0] == (1, ["a & b <c>", datetime(2009, 7, 7), xlsx.Percent(0.1), None, True])
    assert rows[3][1][0] == "富 文本" and rows[1][1][0] == "A_x0041_"

    def refused(*_: object) -> Iterator[Any]:
        raise AssertionError("the reference was used")

    monkeypatch.setattr(xlsx.Workbook, "reference_rows", refused)
    assert outcome(path, ImportLimits(), reference=False) == (rows, None)


@pytest.mark.parametrize(
    "tail",
    [
        b"",  # truncated after the rows
        b"</sheetdata></worksheet>",  # mismatched
        b'<row r="9"><c r="A9"><v>1</v></c>',  # never closed
        b'<row r="9"><c r="A9"><v>1\x00</v></c></row></sheetData></worksheet>',
        b'<row r="9" r="9"/></sheetData></worksheet>',
        b'<row r="9"><c r="A9"><v>\xff</v></c></row></sheetData></worksheet>',
    ],
)
def test_malformed_bytes_after_plain_rows_are_refused_as_before(
    tmp_path: Path, tail: bytes
) -> None:
    sheet = plain_sheet(5).replace(b"</sheetData></worksheet>", tail)
    path = write(tmp_path / "broken.xlsx", sheet)
    rows, error = assert_same(path)
    assert error is not None and error.startswith("ImportFileError: 无法读取")
    assert len(rows) <= 5


def test_time_values_and_gaps_as_the_reference(tmp_path: Path) -> None:
    sheet = (
        HEAD + '<sheetData><row r="2"><c r="C2" s="3"><v>0.5</v></c><c s="4"><v>45000</v></c>'
        '<c r="B2"><v>1</v></c></row><row r="7"/></sheetData></worksheet>'
    ).encode()
    rows, error = assert_same(write(tmp_path / "gaps.xlsx", sheet))
    assert error is None
    assert rows == [(2, [None, 1, timedelta(hours=12), datetime(2023, 3, 15)]), (7, [])]


XLSX_FILES = [name for name, entry in manifest().items() if entry.get("format") == "xlsx"]


@pytest.mark.parametrize("name", XLSX_FILES)
def test_real_files_read_as_the_reference_reads_them(name: str) -> None:
    path = real_file(name)
    for limits in (ImportLimits(), ImportLimits(rows=100, columns=3, cell_chars=8)):
        book = xlsx.Workbook(path, limits)
        try:
            sheets = list(book.sheets)
        finally:
            book.close()
        for index in range(len(sheets)):
            new = outcome(path, limits, reference=False, index=index)
            old = outcome(path, limits, reference=True, index=index)
            assert new == old


def test_the_bench_export_is_read_by_the_fast_path(tmp_path: Path) -> None:
    """ops.bench.registry's XLSX (shared strings, no styles) never needs the reference."""
    from ops.bench.registry import write_xlsx

    path = tmp_path / "export.xlsx"
    write_xlsx(path, [["企业名称", "代码"], ["甲 & 乙", "91330000668306747T"], ["", 3]])
    buffer = io.BytesIO(path.read_bytes())
    assert zipfile.ZipFile(buffer).testzip() is None
    book = xlsx.Workbook(path, ImportLimits())
    try:
        sheet = book.sheets[0]
        strings = book.strings()
        handler = xlsx._SheetHandler(book, strings)
        plain = plainrows.PlainRows(strings, handler.plain, 10, 10, 100)
        rows = [
            row
            for batch in plain.batches(book.package.chunks(sheet.part), xlsx._entering(handler))
            for row in batch
        ]
        assert plain.finished
        assert rows == list(book.reference_rows(sheet))
    finally:
        book.close()


@pytest.mark.parametrize("chunk", [64, 1000])
def test_a_part_over_its_limit_midway_gives_the_reference_rows_first(
    tmp_path: Path, chunk: int
) -> None:
    """The rows given before a part's limit stops the reading are the reference's."""
    sheet = plain_sheet(300)
    path = write(tmp_path / "over.xlsx", sheet)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ooxml, "CHUNK", chunk)
        rows, error = assert_same(path, ImportLimits(member_bytes=len(sheet) // 2, ratio=0))
    assert error is not None and "ImportLimitError" in error and 0 < len(rows) < 300


# --- shared strings ------------------------------------------------------------------------------

PLAIN_SI = [
    "<si><t>{text}</t></si>",
    '<si><t xml:space="preserve">{text}</t></si>',
    "<si><t/></si>",
    "<si><t></t></si>",
]
ODD_SI = [
    "<si><r><t>富</t></r><r><t>{text}</t></r></si>",
    '<si><t>{text}</t><rPh sb="0" eb="1"><t>ふり</t></rPh></si>',
    "<si><t>a &amp; b</t></si>",
    "<si><t><![CDATA[x<y]]></t></si>",
    "<si><!-- c --><t>{text}</t></si>",
    "<si><t>a\rb</t></si>",
    "<si><t>a > b</t></si>",
    "<x:si><x:t>{text}</x:t></x:si>",
    "<si><t>a\x01b</t></si>",  # malformed
    "<si><t>a\uffffb</t></si>",  # malformed
    "<si><t>{text}</t>",  # malformed
    "<si>\n<t>{text}</t>\n</si>",
]
TEXT = st.text(alphabet="ab 中文_x0041\t\n", max_size=12)


@st.composite
def strings_xml(draw: st.DrawFn) -> bytes:
    plain = draw(st.booleans())
    items = [
        draw(st.sampled_from(PLAIN_SI)).format(text=draw(TEXT))
        for _ in range(draw(st.integers(0, 8)))
    ]
    if not plain:  # one odd string among plain ones
        odd = draw(st.sampled_from(ODD_SI)).format(text=draw(TEXT))
        items.insert(draw(st.integers(0, len(items))), odd)
    sep = draw(st.sampled_from(["", "", "\n"]))
    declared = draw(st.sampled_from(["", ' uniqueCount="3"', ' count="9" uniqueCount="99"']))
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    if not plain and draw(st.integers(0, 9)) == 0:
        head = '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "b">]>'
    end = "</sst>"
    if not plain:
        end = draw(
            st.sampled_from(["</sst>", "</sst>", "</sst><!-- after -->\n", "</sst><junk/>", ""])
        )
    text = (
        head + '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        f"{declared}>" + sep.join(items) + end
    )
    data = text.encode("utf-8", "surrogatepass")
    if not plain and draw(st.integers(0, 9)) == 0:
        data = data.replace("中".encode(), b"\xe4\xb8")  # invalid UTF-8
    return data


def strings_outcome(path: Path, limits: ImportLimits, reference: bool) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        if reference:
            patch.setattr(xlsx.Workbook, "_plain_strings", lambda *_: False)
        try:
            book = xlsx.Workbook(path, limits)
        except SsjError as e:
            return f"{type(e).__name__}: {e}"
        try:
            store = book.strings()
            return [store[i] for i in range(len(store))]
        except SsjError as e:
            return f"{type(e).__name__}: {e}"
        finally:
            book.close()


@settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    table=strings_xml(),
    limits=st.one_of(
        st.just(ImportLimits()),
        st.builds(ImportLimits, shared_strings=st.integers(1, 12), cell_chars=st.integers(1, 12)),
    ),
    chunk=st.sampled_from([ooxml.CHUNK, 1, 7, 64]),
)
def test_shared_strings_read_as_the_reference_reads_them(
    tmp_path: Path, table: bytes, limits: ImportLimits, chunk: int
) -> None:
    parts = dict(PARTS)
    path = tmp_path / "strings.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in parts.items():
            if name != "xl/sharedStrings.xml":
                book.writestr(name, text.encode())
        book.writestr("xl/sharedStrings.xml", table)
        book.writestr("xl/worksheets/sheet1.xml", plain_sheet(2))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ooxml, "CHUNK", chunk)
        patch.setattr(plainrows, "MAX_TOKEN", 200)
        assert strings_outcome(path, limits, False) == strings_outcome(path, limits, True)


def test_plain_shared_strings_are_read_without_the_reference(tmp_path: Path) -> None:
    from ops.bench.registry import write_xlsx

    path = tmp_path / "export.xlsx"
    write_xlsx(path, [["企业名称", "代码"], ["甲 乙_x0041_", "91330000668306747T"]])
    book = xlsx.Workbook(path, ImportLimits())
    store = xlsx.SharedStrings(ImportLimits().member_bytes)
    try:
        assert book._strings_part is not None
        assert book._plain_strings(book._strings_part, store)
        store.finish()
        assert [store[i] for i in range(len(store))] == [
            "企业名称",
            "代码",
            "甲 乙A",
            "91330000668306747T",
        ]
    finally:
        store.close()
        book.close()
    assert strings_outcome(path, ImportLimits(), False) == strings_outcome(
        path, ImportLimits(), True
    )


@pytest.mark.parametrize(
    "odd", ["a\uffffb", "a\ufffeb", "a\x01b", "a\rb", "a &amp; b", "a<!-- c -->b"]
)
def test_a_string_expat_refuses_or_rewrites_is_left_to_it(tmp_path: Path, odd: str) -> None:
    table = (
        '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="x"><si><t>ok</t></si>'
        f"<si><t>{odd}</t></si><si><t>end</t></si></sst>"
    ).encode()
    path = tmp_path / "odd.xlsx"
    with zipfile.ZipFile(path, "w") as book:
        for name, text in PARTS.items():
            if name != "xl/sharedStrings.xml":
                book.writestr(name, text.encode())
        book.writestr("xl/sharedStrings.xml", table)
        book.writestr("xl/worksheets/sheet1.xml", plain_sheet(2))
    got = strings_outcome(path, ImportLimits(), False)
    assert got == strings_outcome(path, ImportLimits(), True)
    malformed = any(c in odd for c in "\x01\ufffe\uffff")
    assert isinstance(got, str) if malformed else got[0] == "ok"

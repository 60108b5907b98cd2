"""The spreadsheet reader on real files shaped like those provincial authorities publish."""

from __future__ import annotations

import codecs
import re
import tracemalloc
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from itertools import islice
from pathlib import Path

import openpyxl
import pytest
import xlwt
from openpyxl.utils.cell import range_boundaries

from ssj.errors import ValidationError
from ssj.imports.spreadsheet import (
    ImportFileError,
    Problem,
    Record,
    Table,
    read_table,
)

ITEMS = {
    "code": ["事项编码", "抽查事项编码", "编码"],
    "name": ["事项名称", "抽查事项名称"],
    "category": ["抽查类别"],
    "law": ["抽查依据／法律依据"],  # full-width slash: labels compare after NFKC
    "article": ["条款"],  # the sub-column's label alone
    "published": ["发布日期"],
}
SIMPLE = {"code": ["事项编码"], "name": ["事项名称"], "law": ["法律依据"]}

TITLE = "XX省市场监管局随机抽查事项清单"
# The layout officials use: title and date lines, a two-level header, a category merged over
# several items, legal bases one per row, a code merged over its continuation row.
GRID: list[list[object]] = [
    [TITLE],
    ["发布日期：2024年3月1日"],
    ["序号", "抽查类别", "事项编码", "事项名称", "抽查依据", None, "发布日期"],
    [None, None, None, None, "法律依据", "条款", None],
    [1, "类别甲", 1.0, "\u3000市场主体登记\u00a0", "《公司法》", "第六条", date(2024, 3, 1)],
    [None, None, None, None, "《市场主体登记管理条例》", "第三条"],
    [2, None, 12345678901234, "年报公示", None, None, datetime(2024, 3, 2, 9, 30)],
    [3, None, "S-003", "广告监测", "《广告法》", "第十二条"],
    [4, None, "S-004", None, "《广告法》", "第十六条"],
    [],
    ["注：本清单自发布之日起施行"],
    [5, "类别乙", "S-005", "合同行为检查", "《民法典》", "第四百六十四条"],
    [None, None, None, None, None, "第四百六十五条"],
]
MERGES = ["A1:G1", "A3:A4", "B3:B4", "C3:C4", "D3:D4", "E3:F3", "G3:G4", "B5:B9", "D8:D9"]
MERGES += ["A11:G11", "C12:C13", "E12:E13"]
EXPECTED_RECORDS = [
    Record(
        (5, 6),
        {
            "code": "1",
            "name": "市场主体登记",
            "category": "类别甲",
            "law": ["《公司法》", "《市场主体登记管理条例》"],
            "article": ["第六条", "第三条"],
            "published": "2024-03-01",
        },
    ),
    Record(
        (7,),
        {
            "code": "12345678901234",
            "name": "年报公示",
            "category": "类别甲",
            "law": [],
            "article": [],
            "published": "2024-03-02T09:30:00",
        },
    ),
    Record(
        (8,),
        {
            "code": "S-003",
            "name": "广告监测",
            "category": "类别甲",
            "law": ["《广告法》"],
            "article": ["第十二条"],
            "published": None,
        },
    ),
    Record(
        (9,),
        {
            "code": "S-004",
            "name": "广告监测",
            "category": "类别甲",
            "law": ["《广告法》"],
            "article": ["第十六条"],
            "published": None,
        },
    ),
    Record(
        (12, 13),
        {
            "code": "S-005",
            "name": "合同行为检查",
            "category": "类别乙",
            "law": ["《民法典》", "《民法典》"],
            "article": ["第四百六十四条", "第四百六十五条"],
            "published": None,
        },
    ),
]


def write_xlsx(path: Path, grid: Sequence[Sequence[object]], merges: Sequence[str] = ()) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for r, row in enumerate(grid, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(r, c, value)
    for merge in merges:
        sheet.merge_cells(merge)
    book.save(path)
    return path


def write_xls(path: Path, grid: Sequence[Sequence[object]], merges: Sequence[str] = ()) -> Path:
    book = xlwt.Workbook()
    sheet = book.add_sheet("清单")
    styles = {
        date: xlwt.easyxf(num_format_str="YYYY-MM-DD"),
        datetime: xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM"),
    }
    anchors: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    covered: set[tuple[int, int]] = set()
    for merge in merges:
        first_col, first_row, last_col, last_row = (n - 1 for n in range_boundaries(merge))
        anchors[(first_row, first_col)] = (first_row, last_row, first_col, last_col)
        covered.update(
            (r, c) for r in range(first_row, last_row + 1) for c in range(first_col, last_col + 1)
        )
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            style = styles.get(type(value), xlwt.Style.default_style)
            if (r, c) in anchors:
                sheet.write_merge(*anchors[(r, c)], "" if value is None else value, style)
            elif (r, c) not in covered and value is not None:
                sheet.write(r, c, value, style)
    book.save(str(path))
    return path


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def read_all(table: Table) -> tuple[list[Record], list[Problem]]:
    records = list(table.records)
    return records, table.problems


def read_items(path: Path) -> tuple[Table, list[Record], list[Problem]]:
    table = read_table(
        path, expected=ITEMS, key="code", list_fields=("law", "article"), optional=("published",)
    )
    records, problems = read_all(table)
    return table, records, problems


def read_simple(path: Path) -> tuple[list[Record], list[Problem]]:
    return read_all(read_table(path, expected=SIMPLE, key="code", list_fields=("law",)))


# --- XLSX and XLS layouts ----------------------------------------------------------------------


def test_xlsx_layout_with_titles_two_level_header_merges_and_continuations(tmp_path: Path) -> None:
    table, records, problems = read_items(write_xlsx(tmp_path / "清单.xlsx", GRID, MERGES))
    assert table.format == "xlsx"
    assert table.sheet == "Sheet"
    assert table.header_rows == (3, 4)
    assert [(c.field, c.letter, c.label) for c in table.columns] == [
        ("category", "B", "抽查类别"),
        ("code", "C", "事项编码"),
        ("name", "D", "事项名称"),
        ("law", "E", "抽查依据/法律依据"),
        ("article", "F", "抽查依据/条款"),
        ("published", "G", "发布日期"),
    ]
    assert table.fields == ("category", "code", "name", "law", "article", "published")
    assert records == EXPECTED_RECORDS
    assert problems == []


def test_xls_layout_reads_like_xlsx(tmp_path: Path) -> None:
    table, records, problems = read_items(write_xls(tmp_path / "清单.xls", GRID, MERGES))
    assert (table.format, table.sheet, table.header_rows) == ("xls", "清单", (3, 4))
    assert records == EXPECTED_RECORDS
    assert problems == []


def test_xls_error_cell_is_a_problem(tmp_path: Path) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("清单")
    for c, label in enumerate(["事项编码", "事项名称", "法律依据"]):
        sheet.write(0, c, label)
    sheet.write(1, 0, "A-1")
    sheet.row(1).set_cell_error(1, 0x2A)  # #N/A
    path = tmp_path / "错误.xls"
    book.save(str(path))
    records, problems = read_simple(path)
    assert records == [Record((2,), {"code": "A-1", "name": None, "law": []})]
    assert problems == [
        Problem(
            2,
            "B",
            "第 2 行 B 列（事项名称）是错误值 #N/A",
            "row 2 column B (事项名称) holds the error value #N/A",
        )
    ]


def test_xlsx_formulas_errors_and_long_numbers_are_problems(tmp_path: Path) -> None:
    grid = [
        ["序号", "事项编码", "事项名称", "法律依据", "备注"],
        ["=ROW()-1", '="A"&1', "名称一", "#REF!", "=NOW()"],  # formulas in unread columns are fine
        [2, 1.2345678901234567e17, "名称二", "《法》"],
        [3, "C-3", "=说明", 0.1 + 0.2],
    ]
    path = write_xlsx(tmp_path / "公式.xlsx", grid)
    book = openpyxl.load_workbook(path)
    book.active["C4"].data_type = "s"  # a text cell that starts with "=": text, as typed
    book.save(path)
    records, problems = read_simple(path)
    assert records == [
        Record((2,), {"code": None, "name": "名称一", "law": [None]}),
        Record((3,), {"code": None, "name": "名称二", "law": ["《法》"]}),
        Record((4,), {"code": "C-3", "name": "=说明", "law": ["0.3"]}),
    ]
    assert problems == [
        Problem(
            2,
            "B",
            '第 2 行 B 列（事项编码）是公式，应为数值（="A"&1）',
            'row 2 column B (事项编码) holds a formula, a value is expected (="A"&1)',
        ),
        Problem(
            2,
            "D",
            "第 2 行 D 列（法律依据）是错误值 #REF!",
            "row 2 column D (法律依据) holds the error value #REF!",
        ),
        Problem(
            3,
            "B",
            "第 3 行 B 列（事项编码）的数字 123456789012346000 超过 15 位，Excel 可能已改变其末尾数字；"
            "请把该列设为文本后重新填写",
            "row 3 column B (事项编码) holds the number 123456789012346000, longer than the 15 digits "
            "Excel keeps exactly; format the column as text and re-enter it",
        ),
    ]


def test_merged_formula_is_reported_once(tmp_path: Path) -> None:
    grid = [
        ["事项编码", "事项名称", "法律依据"],
        ["A-1", "=B9", "《法一》"],
        ["A-2", None, "《法二》"],
    ]
    records, problems = read_simple(write_xlsx(tmp_path / "合并.xlsx", grid, ["B2:B3"]))
    assert [r.values["name"] for r in records] == [None, None]
    assert [(p.row, p.column) for p in problems] == [(2, "B")]


def test_title_directly_above_a_single_header_is_not_a_parent(tmp_path: Path) -> None:
    grid = [[TITLE], ["事项编码", "事项名称", "法律依据"], ["A-1", "名称", "《法》"]]
    table = read_table(write_xlsx(tmp_path / "t.xlsx", grid, ["A1:C1"]), expected=SIMPLE)
    records, _ = read_all(table)
    assert table.header_rows == (2,)
    assert [c.label for c in table.columns] == ["事项编码", "事项名称", "法律依据"]
    assert records == [Record((3,), {"code": "A-1", "name": "名称", "law": "《法》"})]


def test_values_are_cleaned(tmp_path: Path) -> None:
    grid = [
        ["事项编码", "事项名称", "法律依据"],
        [7.0, "e\u0301\u200b", True],
        [-0.5, datetime(2024, 1, 31, 23, 59, 59, 700_000), 2.5],
        [time(0), time(9, 30), timedelta(hours=26, minutes=5)],
    ]
    table = read_table(write_xlsx(tmp_path / "v.xlsx", grid), expected=SIMPLE)
    records, problems = read_all(table)
    assert [r.values for r in records] == [
        {"code": "7", "name": "é", "law": "TRUE"},
        {"code": "-0.5", "name": "2024-02-01", "law": "2.5"},
        {"code": "00:00:00", "name": "09:30:00", "law": "26:05:00"},
    ]
    assert problems == []


def test_sheet_selection_skips_hidden_sheets(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "字典"
    book.active.sheet_state = "hidden"
    book.active.append(["编码"])
    sheet = book.create_sheet("清单")
    sheet.append(["事项编码", "事项名称", "法律依据"])
    sheet.append(["A-1", "名称", None])
    path = tmp_path / "多表.xlsx"
    book.save(path)
    table = read_table(path, expected=SIMPLE)
    assert table.sheet == "清单"
    assert [r.values["code"] for r in table.records] == ["A-1"]
    with pytest.raises(ImportFileError) as caught:
        read_table(path, expected=SIMPLE, sheet="附表")
    assert caught.value.zh == "找不到工作表“附表”；文件中的工作表：字典、清单"
    with pytest.raises(
        ImportFileError, match="no header row in the first 30 rows of the sheet '字典'"
    ):
        read_table(path, expected=SIMPLE, sheet="字典")


def test_empty_sheet(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError) as caught:
        read_table(write_xlsx(tmp_path / "空.xlsx", []), expected=SIMPLE)
    assert caught.value.en == "空.xlsx: the sheet 'Sheet' is empty"
    assert isinstance(caught.value, ValidationError)


# --- header rules ----------------------------------------------------------------------------


def test_two_level_header_in_csv(tmp_path: Path) -> None:
    text = "序号,事项编码,抽查依据,,备注\n,,法律依据,条款,\n1,A-1,《法》,第一条,x\n"
    expected = {"code": ["事项编码"], "law": ["抽查依据/法律依据"], "article": ["条款"]}
    table = read_table(write_csv(tmp_path / "两级.csv", text), expected=expected)
    records, _ = read_all(table)
    assert table.header_rows == (1, 2)
    assert [c.label for c in table.columns] == ["事项编码", "抽查依据/法律依据", "抽查依据/条款"]
    assert records == [Record((3,), {"code": "A-1", "law": "《法》", "article": "第一条"})]


def test_labels_ignore_spacing_marks_width_and_notes(tmp_path: Path) -> None:
    text = '"事项\n编码","*事项名称",法律依据（必填）,ＡＢＣ\nA,B,C,D\n'
    expected = {**SIMPLE, "abc": ["abc"]}
    table = read_table(write_csv(tmp_path / "l.csv", text), expected=expected)
    records, _ = read_all(table)
    assert [c.label for c in table.columns] == [
        "事项 编码",
        "*事项名称",
        "法律依据（必填）",
        "ＡＢＣ",
    ]
    assert records[0].values == {"code": "A", "name": "B", "law": "C", "abc": "D"}


def test_child_label_alone_must_be_unambiguous(tmp_path: Path) -> None:
    text = "检查机关,,被检查对象,\n名称,编码,名称,编码\n甲,1,乙,2\n"
    path = write_csv(tmp_path / "歧义.csv", text)
    table = read_table(path, expected={"org": ["检查机关/名称"], "org_code": ["检查机关/编码"]})
    assert next(table.records).values == {"org": "甲", "org_code": "1"}
    table.close()
    with pytest.raises(ImportFileError) as caught:
        read_table(path, expected={"org": ["检查机关/名称"], "target": ["名称"]})
    assert caught.value.zh == (
        "歧义.csv：缺少必需的表头 “名称”（可写作：名称）。第 1、2 行的表头是："
        "检查机关/名称、检查机关/编码、被检查对象/名称、被检查对象/编码"
    )


def test_missing_header_names_it_and_lists_what_was_found(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "缺列.csv", f"{TITLE}\n序号,编码,备注\n1,A,x\n")
    with pytest.raises(ImportFileError) as caught:
        read_table(path, expected=ITEMS, optional=("category", "law", "article", "published"))
    assert caught.value.zh == (
        "缺列.csv：缺少必需的表头 “事项名称”（可写作：事项名称、抽查事项名称）。第 2 行的表头是：序号、编码、备注"
    )
    assert caught.value.en == (
        "缺列.csv: missing required header(s) “事项名称” for name (accepted: 事项名称, 抽查事项名称). "
        "The header in row(s) 2 reads: 序号, 编码, 备注"
    )


def test_no_header_found(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "无表头.csv", "a,b\n1,2\n")
    with pytest.raises(ImportFileError) as caught:
        read_table(path, expected=SIMPLE)
    assert (
        caught.value.zh
        == "无表头.csv：在前 30 行中没有找到表头（应有“事项编码”“事项名称”“法律依据”等列）"
    )


def test_duplicate_column_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "重复.csv", "事项编码,编码,事项名称\nA,B,C\n")
    with pytest.raises(ImportFileError, match="A, B; keep one"):
        read_table(path, expected=ITEMS, optional=("category", "law", "article", "published"))


def test_caller_mistakes_are_value_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    with pytest.raises(ValueError, match="accepted for"):
        read_table(path, expected={"a": ["编码"], "b": ["编 码"]})
    with pytest.raises(ValueError, match="not in expected"):
        read_table(path, expected=SIMPLE, key="id")
    with pytest.raises(ValueError, match="key field"):
        read_table(path, expected=SIMPLE, key="code", list_fields=("code",))


# --- continuation rows -----------------------------------------------------------------------


def test_continuation_rows_orphans_and_intruders(tmp_path: Path) -> None:
    text = (
        "事项编码,事项名称,法律依据\n"
        ",孤儿,《法一》\n"
        "A-1,名称一,《法一》\n"
        ",,《法二》\n"
        ",多余,《法三》\n"
        ",,\n"
        ",,《法四》\n"
        "B-2,名称二,\n"
    )
    records, problems = read_simple(write_csv(tmp_path / "续行.csv", text))
    assert records == [
        Record(
            (3, 4, 5),
            {"code": "A-1", "name": "名称一", "law": ["《法一》", "《法二》", "《法三》"]},
        ),
        Record((8,), {"code": "B-2", "name": "名称二", "law": []}),
    ]
    assert problems == [
        Problem(
            2,
            "A",
            "第 2 行 A 列（事项编码）为空，且上方没有可以续接的记录；请填写事项编码",
            "row 2 column A (事项编码) is empty and there is no record above to continue; fill in 事项编码",
        ),
        Problem(
            5,
            "B",
            "第 5 行没有新的事项编码（为空或与上方合并），是第 3 行记录的续行，但 B 列（事项名称）有值；"
            "续行只能填写：法律依据",
            "row 5 has no 事项编码 of its own (empty or merged from above) and continues the record "
            "at row 3, but column B (事项名称) has a value; a continuation row may only fill: 法律依据",
        ),
        Problem(
            7,
            "A",
            "第 7 行 A 列（事项编码）为空，且上方没有可以续接的记录；请填写事项编码",
            "row 7 column A (事项编码) is empty and there is no record above to continue; fill in 事项编码",
        ),
    ]


def test_list_fields_stay_aligned_row_by_row(tmp_path: Path) -> None:
    text = "编码,法律依据,条款\nA,L1,1\n,L2,\n,,3\n"
    expected = {"code": ["编码"], "law": ["法律依据"], "article": ["条款"]}
    table = read_table(
        write_csv(tmp_path / "对齐.csv", text),
        expected=expected,
        key="code",
        list_fields=("law", "article"),
    )
    assert list(table.records) == [
        Record((2, 3, 4), {"code": "A", "law": ["L1", "L2", None], "article": ["1", None, "3"]})
    ]


def test_without_key_every_row_is_a_record(tmp_path: Path) -> None:
    text = "事项编码,事项名称,法律依据\nA,名称,《法一》\n,,《法二》\n"
    table = read_table(write_csv(tmp_path / "k.csv", text), expected=SIMPLE, list_fields=("law",))
    assert list(table.records) == [
        Record((2,), {"code": "A", "name": "名称", "law": ["《法一》"]}),
        Record((3,), {"code": None, "name": None, "law": ["《法二》"]}),
    ]


def test_problems_wait_for_the_last_record(tmp_path: Path) -> None:
    table = read_table(
        write_csv(tmp_path / "p.csv", "事项编码,事项名称,法律依据\nA,B,C\n"), expected=SIMPLE
    )
    with pytest.raises(RuntimeError):
        _ = table.problems
    with table:
        assert next(table.records).values["code"] == "A"


# --- CSV -------------------------------------------------------------------------------------

CSV_TEXT = (
    f"{TITLE}\n"
    "事项编码,事项名称,法律依据\n"
    'A-1,"多行\n名称",《公司法》\n'
    "B-2,Cafe\u0301 ,\u3000《广告法》第十二条\u3000\n"
)
CSV_RECORDS = [
    Record((3,), {"code": "A-1", "name": "多行\n名称", "law": ["《公司法》"]}),
    Record((4,), {"code": "B-2", "name": "Café", "law": ["《广告法》第十二条"]}),
]


@pytest.mark.parametrize(
    ("encoding", "found"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030")]
)
def test_csv_encodings(tmp_path: Path, encoding: str, found: str) -> None:
    text = CSV_TEXT if encoding != "gbk" else CSV_TEXT.replace("Cafe\u0301", "Café")
    table = read_table(
        write_csv(tmp_path / "清单.csv", text, encoding),
        expected=SIMPLE,
        key="code",
        list_fields=("law",),
    )
    records, problems = read_all(table)
    assert (table.format, table.encoding, table.delimiter, table.header_rows) == (
        "csv",
        found,
        ",",
        (2,),
    )
    assert records == CSV_RECORDS
    assert problems == []


def test_csv_bom_before_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bom.csv", "事项编码,事项名称,法律依据\nA,B,C\n", "utf-8-sig")
    table = read_table(path, expected=SIMPLE)
    assert [r.values for r in table.records] == [{"code": "A", "name": "B", "law": "C"}]


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_csv_delimiters(tmp_path: Path, delimiter: str) -> None:
    rows = [[TITLE], ["事项编码", "事项名称", "法律依据"], ["A-1", "名称", "第一条,第二条"]]
    text = "\n".join(delimiter.join(row) for row in rows) + "\n"
    table = read_table(write_csv(tmp_path / "t.csv", text, "gbk"), expected=SIMPLE)
    assert table.delimiter == delimiter
    assert [r.values for r in table.records] == [
        {"code": "A-1", "name": "名称", "law": "第一条,第二条"}
    ]


def test_csv_undecodable_names_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "乱码.csv"
    path.write_bytes("事项,x\n".encode() + b"A,\xff\xfe\n")
    with pytest.raises(ImportFileError) as caught:
        read_table(path, expected=SIMPLE)
    assert caught.value.en == (
        "cannot decode 乱码.csv: as UTF-8 it fails at line 2 (byte offset 11), as GB18030/GBK at "
        "line 2 (byte offset 11), offsets counting from 0; save it as CSV UTF-8 and import that"
    )


def test_csv_with_bom_but_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "坏.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\n" + "编码".encode("gbk") + b"\n")
    with pytest.raises(ImportFileError, match=r"line 2 \(byte offset 7, counting from 0\)"):
        read_table(path, expected=SIMPLE)


def test_whitespace_only_csv_is_empty(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError) as caught:
        read_table(write_csv(tmp_path / "空白.csv", "\n \n,,\n"), expected=SIMPLE)
    assert caught.value.zh == "空白.csv：文件没有内容"


@pytest.mark.slow
def test_large_csv_streams_in_constant_memory(tmp_path: Path) -> None:
    path = tmp_path / "大.csv"
    line = "A-{:06d},某某市场主体登记事项名称（示例）{:06d},《中华人民共和国某某管理条例》第十二条第一款\n"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("事项编码,事项名称,法律依据\n")
        handle.writelines(line.format(i, i) for i in range(100_000))
    assert path.stat().st_size > 10_000_000
    table = read_table(path, expected=SIMPLE)
    records = iter(table.records)
    assert sum(1 for _ in islice(records, 90_000)) == 90_000
    tracemalloc.start()  # tracing all 100k rows would be slow; the last 10k show any growth
    try:
        assert sum(1 for _ in records) == 10_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert table.problems == []
    assert peak < 1_000_000  # 10k records kept in memory would take several MB


# --- wrong files -----------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "空.xlsx").write_bytes(b"")
    with pytest.raises(ImportFileError) as caught:
        read_table(tmp_path / "空.xlsx", expected=SIMPLE)
    assert (caught.value.zh, caught.value.en) == ("空.xlsx 是空文件", "空.xlsx is an empty file")


def test_pdf_renamed_to_xlsx(tmp_path: Path) -> None:
    (tmp_path / "清单.xlsx").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    with pytest.raises(ImportFileError) as caught:
        read_table(tmp_path / "清单.xlsx", expected=SIMPLE)
    assert caught.value.zh == (
        "清单.xlsx 的内容是PDF 文档，无法读取；请用 Excel 打开后另存为 .xlsx 或“CSV UTF-8”再导入"
    )
    assert caught.value.en == (
        "清单.xlsx holds a PDF document, which cannot be read; open it in Excel, save it as .xlsx "
        "or CSV UTF-8 and import that"
    )


@pytest.mark.parametrize(
    ("name", "content", "holds"),
    [
        ("清单.xls", b"<html><body><table><tr><td>1</td></tr></table>", "an HTML page"),
        ("清单.xls", b"PK\x03\x04broken", "a ZIP archive"),
        ("清单.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "binary data"),
        ("清单.xml", b"<?xml version='1.0'?><svg/>", "an XML file"),
    ],
)
def test_unreadable_content_is_named(tmp_path: Path, name: str, content: bytes, holds: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImportFileError, match=re.escape(f"holds {holds}")):
        read_table(tmp_path / name, expected=SIMPLE)


@pytest.mark.parametrize(
    ("name", "content", "holds"),
    [
        ("清单.xlsx", "事项编码,事项名称,法律依据\nA,B,C\n".encode(), "plain text (CSV)"),
        ("清单.xls", "事项编码\t事项名称\t法律依据\nA\tB\tC\n".encode("gbk"), "plain text (CSV)"),
        ("清单.csv", "事项编码,事项名称,法律依据\nA,B,C\n".encode("utf-16"), None),
        ("清单.txt", "事项编码\t事项名称\t法律依据\nA\tB\tC\n".encode("utf-16-le"), None),
        ("清单", "事项编码,事项名称,法律依据\nA,B,C\n".encode("utf-8-sig"), "plain text (CSV)"),
    ],
)
def test_text_is_read_whatever_the_name(
    tmp_path: Path, name: str, content: bytes, holds: str | None
) -> None:
    if name.endswith(".txt"):
        content = codecs.BOM_UTF16_LE + content
    (tmp_path / name).write_bytes(content)
    with read_table(tmp_path / name, expected=SIMPLE) as table:
        records = list(table.records)
        assert records == [Record((2,), {"code": "A", "name": "B", "law": "C"})]
        notes = [n.en for n in table.notes if n.kind == "format"]
    if holds is None:
        assert notes == []
    else:
        assert len(notes) == 1 and f"holds {holds}; read as such" in notes[0]


def test_xlsx_renamed_to_csv_is_read_and_noted(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "清单.xlsx", [["事项编码", "事项名称", "法律依据"], ["A", "B", "C"]]
    )
    path = path.rename(tmp_path / "清单.csv")
    with read_table(path, expected=SIMPLE) as table:
        assert table.format == "xlsx"
        assert [r.values["code"] for r in table.records] == ["A"]
        assert [n.zh for n in table.notes] == [
            "文件名是 .csv，但内容是Excel 工作簿（.xlsx），已按实际格式读取"
        ]
    with pytest.raises(ImportFileError, match="cannot read"):
        read_table(tmp_path / "不存在.csv", expected=SIMPLE)


def test_xlsx_with_a_wrong_used_range_is_read_whole(tmp_path: Path) -> None:
    grid = [
        ["事项编码", "事项名称", "法律依据"],
        ["A-1", "名称", "《法一》"],
        [None, None, "《法二》"],
    ]
    path = write_xlsx(tmp_path / "维度.xlsx", grid, ["A2:A3"])
    broken = tmp_path / "维度错误.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', data)
            target.writestr(item, data)
    records, problems = read_simple(broken)
    assert records == [
        Record((2, 3), {"code": "A-1", "name": "名称", "law": ["《法一》", "《法二》"]})
    ]
    assert problems == []


def test_close_stops_reading_early(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", "事项编码,事项名称,法律依据\nA,B,C\nD,E,F\n")
    table = read_table(path, expected=SIMPLE)
    assert next(table.records).rows == (2,)
    table.close()
    assert list(table.records) == []
    with pytest.raises(RuntimeError):
        _ = table.problems

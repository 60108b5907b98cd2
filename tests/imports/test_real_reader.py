"""The reader on the real corpus (tests/data/real/README.md): every file opens as what its
bytes are, with the header, sheet, counts and spot cells the manifest gives."""

from __future__ import annotations

import pytest

from ssj.imports.spreadsheet import read_table
from tests.real_corpus import manifest, real_file

TARGETS = {
    "identifier": ["注册号/统一社会信用代码", "统一社会信用代码/注册号"],
    "name": ["企业名称"],
    "authority": ["登记机关", "RegOrgName"],
    "unit": ["管辖单位"],
}
TARGET_FILES = [
    "zj17_targets_478.xlsx",
    "zj17_targets_478_ooxml.xlsx",
    "zj17_targets_2883.xlsx",
    "zj17_targets_42782.xlsx",
    "zj17_targets_5.xlsx",
]
FORMATS = {"excel2003-xml": "xml2003", "xlsx": "xlsx", "xls-biff8": "xls"}


@pytest.mark.parametrize("name", TARGET_FILES)
def test_target_lists(name: str) -> None:
    entry = manifest()[name]
    with read_table(real_file(name), expected=TARGETS, keep_unmapped=True) as table:
        records = list(table.records)
        assert table.format == FORMATS[entry["format"]]
        assert table.sheet == entry["sheet"]
        assert table.header_rows == (entry["header_row"],)
        assert [c.label for c in table.columns] == entry["header"]
        assert table.unmapped == ()
        assert table.problems == []
        lies = [n for n in table.notes if n.kind == "format"]
        assert bool(lies) == entry["extension_lies"]
    assert len(records) == entry["expected_count"]["value"]
    assert records[0].rows == (entry["first_data_row"],)
    assert records[-1].rows == (entry["last_data_row"],)
    fields = {"A": "name", "B": "identifier", "C": "authority", "D": "unit"}
    by_row = {r.rows[0]: r for r in records}
    for spot in entry["spot"]:
        row = int(spot["cell"][1:])
        if row == 1:
            continue
        value = by_row[row].values[fields[spot["cell"][0]]]
        assert value == spot["text"].strip(" \u3000"), spot  # ends are stripped when read
    assert len({r.values["authority"] for r in records}) == entry["distinct"]["登记机关"]
    assert len({r.values["unit"] for r in records}) == entry["distinct"]["管辖单位"]


def test_the_two_copies_of_the_478_list_read_the_same() -> None:
    values = []
    for name in ("zj17_targets_478.xlsx", "zj17_targets_478_ooxml.xlsx"):
        with read_table(real_file(name), expected=TARGETS) as table:
            values.append([(r.rows, r.values) for r in table.records])
    assert values[0] == values[1]


@pytest.mark.parametrize("name", ["zj17_targets_tpl.xls", "zj17_speclib_tpl.xlsx"])
def test_target_templates_hold_no_targets(name: str) -> None:
    entry = manifest()[name]
    expected = {"identifier": TARGETS["identifier"], "name": TARGETS["name"]}
    with read_table(real_file(name), expected=expected, keep_unmapped=True) as table:
        assert list(table.records) == []
        assert table.header_rows == (entry["header_row"],)
        assert table.format == "xlsx"
        skipped = [n.row for n in table.notes if n.kind == "skipped"]
        assert skipped == [r for r in entry.get("instruction_rows", []) if r > entry["header_row"]]
        unmapped = [c.label for c in table.unmapped]
        assert unmapped == [
            h for h in entry["header"] if h not in ("企业名称",) and "注册号" not in h
        ]


@pytest.mark.parametrize("name", ["zj17_roster_tpl_scjg.xls", "zj17_roster_tpl_dept.xls"])
def test_roster_templates_skip_instruction_and_sample_rows(name: str) -> None:
    entry = manifest()[name]
    roster = {
        "name": ["姓名"],
        "certificate_no": ["执法证编号", "工商执法证编号"],
        "department": ["所在业务部门（机构）"],
    }
    with read_table(real_file(name), expected=roster, keep_unmapped=True) as table:
        assert list(table.records) == []
        assert table.sheet == "人员名录库" and table.header_rows == (2,)
        skipped = [(n.row, n.kind) for n in table.notes if n.kind == "skipped"]
        assert skipped == [(r, "skipped") for r in entry["instruction_rows"] + entry["sample_rows"]]
        assert "案例（请删除）" in table.notes[-1].zh


def test_department_table_is_biff8_written_by_wps() -> None:
    name = "zj16_dept_codes.xls"
    entry = manifest()[name]
    expected = {"name": ["DEPT_NAME"], "code": ["DEPT_CODE"]}
    with read_table(real_file(name), expected=expected, keep_unmapped=True) as table:
        records = list(table.records)
        assert table.format == "xls" and table.sheet == "SQL Results"
        assert table.notes[0].kind == "unmapped"
    assert len(records) == entry["expected_count"]["value"]
    assert records[0].values == {
        "name": "浙江省发展和改革委员会（发改委）",
        "code": "330000000M001",
    }
    assert records[-1].values == {"name": "宗教局", "code": "330000000M091"}
    assert records[0].extra["ROWID"]


REGISTRATION_FILES = ["cnreg_js_1990.csv", "cnreg_xj_2016.csv", "cnreg_xz_2019.csv"]


@pytest.mark.parametrize("name", REGISTRATION_FILES)
def test_registration_compilations_read_as_utf8_csv(name: str) -> None:
    entry = manifest()[name]
    expected = {"identifier": ["统一社会信用代码"], "name": ["企业名称"]}
    with read_table(real_file(name), expected=expected, keep_unmapped=True) as table:
        records = list(table.records)
        assert (table.format, table.encoding) == ("csv", "utf-8")
        assert table.header_rows == (1,) and table.problems == []
        assert [c.label for c in table.unmapped] == [
            h for h in entry["header"] if h not in ("企业名称", "统一社会信用代码")
        ]
    assert len(records) == entry["expected_count"]["value"]
    assert records[-1].rows == (entry["last_data_row"],)
    by_row = {r.rows[0]: r for r in records}
    for spot in entry["spot"]:
        record = by_row[int(spot["cell"][1:])]
        column = entry["header"][ord(spot["cell"][0]) - ord("A")]
        found = {"A": record.values["name"], "B": record.values["identifier"]}
        assert found.get(spot["cell"][0], record.extra.get(column)) == spot["text"], spot


HAINAN = {
    "hn20_items.xlsx": ("xlsx", "Sheet1", (2, 3)),
    "hn19_joint_items.xls": ("xls", "Sheet1", (3,)),
    "hn21_wanning_targets.xls": ("xls", "20210318市场主体", (1,)),
    "hn16_roster_sample.xls": ("xls", "Sheet1", (2,)),
    "hn16_targets_sample.xls": ("xls", "Sheet1", (2,)),
}


@pytest.mark.parametrize("name", sorted(HAINAN))
def test_hainan_files_read_as_laid_out(name: str) -> None:
    """Row by row (no key): the header found where the manifest says, every spot cell where
    it is; the record counts under the importers' rules are in tests/services/test_real_hainan.py."""
    entry = manifest()[name]
    fmt, sheet, header_rows = HAINAN[name]
    leaves = [label.rsplit("/", 1)[-1] for label in entry["header"]]
    expected = {f"c{i}": [label] for i, label in enumerate(leaves)}
    optional = list(expected)[1:]
    with read_table(real_file(name), expected=expected, optional=optional) as table:
        records = {r.rows[0]: r for r in table.records}
        assert (table.format, table.sheet, table.header_rows) == (fmt, sheet, header_rows)
        assert [c.label for c in table.columns] == entry["header"]
    for spot in entry["spot"]:
        row = int(spot["cell"][1:])
        if row > header_rows[-1]:
            field = f"c{ord(spot['cell'][0]) - ord('A')}"
            assert records[row].values[field] == spot["text"], spot
    assert entry["last_data_row"] in records

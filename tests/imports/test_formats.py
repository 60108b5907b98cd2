"""Files as they are (issue #11 item 5): formats sniffed from the bytes, Excel 2003 XML, percent
cells, the sheet that holds the table, template rows skipped, unreadable formats named. Built
on synthetic fixtures (tests/data/real/synthetic.py) that copy the real corpus's quirks."""

from __future__ import annotations

import codecs
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
import xlwt

from ssj.imports.spreadsheet import ImportFileError, read_table
from tests.data.real import synthetic

TARGETS = {
    "identifier": ["注册号/统一社会信用代码", "统一社会信用代码/注册号"],
    "name": ["企业名称"],
    "authority": ["登记机关", "RegOrgName"],
    "unit": ["管辖单位"],
}
OPTIONAL = ("authority", "unit")


def read(path: Path, **options: object) -> tuple[list, object]:
    options.setdefault("optional", OPTIONAL)
    with read_table(path, expected=TARGETS, **options) as table:  # type: ignore[arg-type]
        records = list(table.records)
        return records, table


def test_excel_2003_xml_named_xlsx_reads_like_its_ooxml_copy(tmp_path: Path) -> None:
    xml, xml_table = read(synthetic.targets_xml2003(tmp_path))
    ooxml, ooxml_table = read(synthetic.targets_ooxml(tmp_path))
    assert xml_table.format == "xml2003" and ooxml_table.format == "xlsx"
    assert [r.values for r in xml] == [r.values for r in ooxml]
    assert [r.rows for r in xml] == [(n,) for n in range(2, 2 + len(synthetic.TARGET_ROWS))]
    # the reader strips the ends of cells: U+3000 after a name, an ASCII space after a unit
    assert xml[2].values["name"] == "合成示范贸易有限公司"
    assert xml[2].values["unit"] == "机场分局"
    assert xml[4].values["identifier"] == synthetic.REGNO14_CJK
    assert [n.en for n in xml_table.notes] == [
        "the file is named .xlsx but holds an Excel 2003 XML spreadsheet; read as such"
    ]
    assert ooxml_table.notes == []


def test_excel_2003_xml_addressing_merges_types_and_hidden_sheets(tmp_path: Path) -> None:
    path = tmp_path / "synthetic_addressing.xml"
    path.write_text(
        '<?xml version="1.0"?><?mso-application progid="Excel.Sheet"?>'
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:x="urn:schemas-microsoft-com:office:excel">'
        '<Styles><Style ss:ID="p"><NumberFormat ss:Format="Percent"/></Style>'
        '<Style ss:ID="d"><NumberFormat ss:Format="Short Date"/></Style></Styles>'
        '<Worksheet ss:Name="参数表"><Table><Row><Cell><Data ss:Type="String">企业名称</Data>'
        "</Cell></Row></Table></Worksheet>"
        '<Worksheet ss:Name="隐藏"><Table/><WorksheetOptions xmlns="urn:schemas-microsoft-com:'
        'office:excel"><Visible>SheetHidden</Visible></WorksheetOptions></Worksheet>'
        '<Worksheet ss:Name="名单"><Table>'
        '<Row><Cell ss:MergeAcross="1"><Data ss:Type="String">标题</Data></Cell></Row>'
        '<Row ss:Index="3"><Cell><Data ss:Type="String">企业名称</Data></Cell>'
        '<Cell ss:Index="3"><Data ss:Type="String">注册号/统一社会信用代码</Data></Cell>'
        '<Cell><Data ss:Type="String">登记机关</Data></Cell></Row>'
        '<Row><Cell><ss:Data ss:Type="String" xmlns="http://www.w3.org/TR/REC-html40">'
        "<B>富</B>文本</ss:Data><Comment><Data>批注</Data></Comment></Cell>"
        '<Cell ss:Index="3"><Data ss:Type="Number">469006600187440</Data></Cell>'
        '<Cell ss:MergeDown="1"><Data ss:Type="String">合并机关</Data></Cell></Row>'
        '<Row><Cell><Data ss:Type="String">第二家</Data></Cell>'
        '<Cell ss:Index="3" ss:StyleID="p"><Data ss:Type="Number">0.1</Data></Cell></Row>'
        "</Table></Worksheet></Workbook>",
        encoding="utf-8",
    )
    records, table = read(path)
    assert table.sheet == "名单" and table.header_rows == (3,)
    assert [r.values for r in records] == [
        {"identifier": "469006600187440", "name": "富文本", "authority": "合并机关", "unit": None},
        {"identifier": "10%", "name": "第二家", "authority": "合并机关", "unit": None},
    ]


def test_percent_cells_read_as_excel_shows_them(tmp_path: Path) -> None:
    path = tmp_path / "synthetic_percent.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["企业名称", "注册号/统一社会信用代码"])
    for value, code in [(0.1, "0%"), (0.025, "0.0%"), (0.05, "General"), (3, "0.00%")]:
        sheet.append(["甲", value])
        sheet.cell(sheet.max_row, 2).number_format = code
    book.save(path)
    records, _ = read(path)
    assert [r.values["identifier"] for r in records] == ["10%", "2.5%", "0.05", "300%"]
    xls = tmp_path / "synthetic_percent.xls"
    workbook = xlwt.Workbook()
    ws = workbook.add_sheet("Sheet1")
    ws.write(0, 0, "企业名称")
    ws.write(0, 1, "注册号/统一社会信用代码")
    ws.write(1, 0, "甲")
    ws.write(1, 1, 0.3, xlwt.easyxf(num_format_str="0%"))
    workbook.save(str(xls))
    records, _ = read(xls)
    assert records[0].values["identifier"] == "30%"


def test_templates_title_note_instruction_and_sample_rows_are_skipped(tmp_path: Path) -> None:
    records, table = read(synthetic.targets_template(tmp_path))
    assert records == [] and table.header_rows == (2,) and table.format == "xlsx"
    records, table = read(synthetic.speclib_template(tmp_path))
    assert records == [] and table.header_rows == (2,)
    assert [(n.row, n.kind) for n in table.notes] == [(3, "skipped")]
    assert table.notes[0].zh.startswith("第 3 行是填写说明行，已跳过：“从27个专项库名称中进行单选”")
    roster = {"name": ["姓名"], "certificate_no": ["执法证编号"], "valid_to": ["执法证有效期"]}
    filled = [
        [
            "0011",
            "合成甲",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            "消保分局",
            None,
            "ZJ-0001",
            synthetic.date(2027, 1, 1),
        ]
    ]
    with read_table(synthetic.roster_template(tmp_path, filled), expected=roster) as table:
        records = list(table.records)
        assert table.sheet == "人员名录库" and table.header_rows == (2,)
        assert [r.values for r in records] == [
            {"name": "合成甲", "certificate_no": "ZJ-0001", "valid_to": "2027-01-01"}
        ]
        assert [(n.row, n.en.split(",")[0]) for n in table.notes if n.kind == "skipped"] == [
            (3, "row 3 is an instruction row"),
            (4, "row 4 is a sample row (the template's example)"),
        ]


def test_footer_notes_after_the_records_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "synthetic_footer.xlsx"
    rows = [
        list(synthetic.TARGET_HEADER),
        list(synthetic.TARGET_ROWS[0]),
        ["注：本表由系统导出"],
        ["填表人：张三", None, None, None],
    ]
    synthetic.write_ooxml(path, [("Sheet1", rows)], {"Sheet1": ["A3:D3"]})
    records, table = read(path)
    assert len(records) == 1
    assert [(n.row, n.kind) for n in table.notes] == [(3, "skipped"), (4, "skipped")]
    assert "a footer note" in table.notes[0].en


def test_the_sheet_that_holds_the_table_is_picked(tmp_path: Path) -> None:
    path = tmp_path / "synthetic_sheets.xlsx"
    sheets = [
        ("说明", [["填表说明：每行一家企业"]]),
        ("封面", [["2026 年检查对象名录"]]),
        ("名录", [list(synthetic.TARGET_HEADER), list(synthetic.TARGET_ROWS[0])]),
    ]
    synthetic.write_ooxml(path, sheets)
    records, table = read(path)
    assert table.sheet == "名录" and len(records) == 1
    assert [n.kind for n in table.notes] == ["sheet"]
    assert "sheet(s) '封面'" in table.notes[0].en
    with pytest.raises(ImportFileError, match="no header row"):
        read(path, sheet="封面")


def test_gbk_and_utf16_text_whatever_the_extension(tmp_path: Path) -> None:
    text = "\r\n".join(
        ",".join(row) for row in [synthetic.TARGET_HEADER, *synthetic.TARGET_ROWS[:2]]
    )
    for name, data in [
        ("synthetic_gbk.xls", text.encode("gbk")),
        ("synthetic_gb18030.csv", (text + "\r\n合成㐀,1,2,3").encode("gb18030")),
        ("synthetic_utf8sig.txt", codecs.BOM_UTF8 + text.encode()),
        ("synthetic_utf16.csv", text.replace(",", "\t").encode("utf-16")),
    ]:
        (tmp_path / name).write_bytes(data)
        records, table = read(tmp_path / name)
        assert table.format == "csv"
        assert records[0].values["name"] == "合成示范科技有限公司", name


@pytest.mark.parametrize(
    ("make", "named", "says"),
    [
        (synthetic.xlsb, "synthetic.xlsb", "an Excel binary workbook (.xlsb)"),
        (None, "synthetic_encrypted.xlsx", "a password-protected Office file"),
        (None, "synthetic.et", "a WPS Spreadsheets file (.et)"),
    ],
)
def test_unreadable_formats_are_named(tmp_path: Path, make: object, named: str, says: str) -> None:
    if make is not None:
        path = make(tmp_path)  # type: ignore[operator]
    else:
        path = tmp_path / named
        ole = tmp_path / "ole.xls"
        workbook = xlwt.Workbook()
        workbook.add_sheet("Sheet1").write(0, 0, "企业名称")
        workbook.save(str(ole))
        if named.endswith(".et"):
            shutil.copy(ole, path)
        else:
            path.write_bytes(_encrypted_package())
    with pytest.raises(ImportFileError, match=re.escape(f"holds {says}")):
        read(path)


def _encrypted_package() -> bytes:
    """An OLE2 compound file with EncryptionInfo and EncryptedPackage streams: the container
    Office writes for a password-protected .xlsx (the streams' content is not needed here)."""
    import struct

    sector = 512
    names = ["Root Entry", "EncryptionInfo", "EncryptedPackage"]
    entries = b""
    for index, name in enumerate(names):
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        kind = 5 if index == 0 else 2
        child = 1 if index == 0 else 0xFFFFFFFF
        right = 2 if index == 1 else 0xFFFFFFFF
        entry = encoded.ljust(64, b"\x00") + struct.pack("<HBB", len(encoded), kind, 1)
        entry += struct.pack("<III", 0xFFFFFFFF, right, child) + b"\x00" * 16 + b"\x00" * 4
        entry += b"\x00" * 16 + struct.pack("<II", 0xFFFFFFFE if index == 0 else 0, 0) + b"\x00" * 4
        entries += entry
    entries = entries.ljust(sector, b"\x00")
    fat = struct.pack("<II", 0xFFFFFFFD, 0xFFFFFFFE).ljust(sector, b"\xff")
    header = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 16
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
    header += struct.pack("<IIIIIIIII", 0, 1, 1, 0, 0x1000, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    header += struct.pack("<I", 0) + b"\xff" * (436 - 4)
    return header.ljust(sector, b"\x00") + fat + entries

"""Synthetic fixtures (`synthetic_*`) that reproduce each quirk of the real corpus, and the
quirks no real file here shows, so the rules are tested even where the corpus is absent.

Nothing written here is real: names, codes and people are made up (valid USCCs are computed
with `make_uscc`; the 15-digit registration number and the 14-character form only copy the
shapes the real files show). `python -m tests.data.real.synthetic DIR` writes them all.
"""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl

from ssj.domain.identifiers import make_uscc, organization_code_check_character


def uscc(prefix: str, body: str) -> str:
    """A valid USCC from its 8-character prefix and 8-character organisation-code body."""
    return make_uscc(prefix + body + organization_code_check_character(body))


USCC_A = uscc("91330100", "MA27XK1L")
USCC_B = uscc("92330106", "MA2H0000")  # an individual business (9 2)
USCC_C = uscc("91330000", "MA280000")
# as B18943 of the 42,782 file: a lower-case letter, and a wrong check character
BAD_USCC = USCC_A[:8] + USCC_A[8].lower() + USCC_A[9:17] + ("0" if USCC_A[17] != "0" else "1")
REGNO15 = "330327000099999"  # 15 digits; its MOD 11,10 check digit fails, as some real ones do
REGNO13 = "3301062099999"
REGNO14_CJK = "企合浙绍总字第009999号"

# (企业名称, 注册号/统一社会信用代码, 登记机关, 管辖单位), as the Zhejiang lists have them.
TARGET_ROWS: list[tuple[str, str, str, str]] = [
    ("合成示范科技有限公司", USCC_A, "杭州市市场监督管理局", "朝晖工商所"),
    ("合成示范小吃店", USCC_B, "杭州市西湖区市场监督管理局", "文新市场监管所"),
    ("合成示范贸易有限公司\u3000", REGNO15, "平阳县工商行政管理局", "机场分局 "),
    ("合成示范加工场", REGNO13, "杭州市西湖区市场监督管理局", "翠苑工商所"),
    ("合成示范合资公司", REGNO14_CJK, "浙江省工商行政管理局", "浙江省工商行政管理局"),
    ("合成示范广告有限公司", BAD_USCC, "宁波市市场监督管理局", "高新区分局"),
    ("合成示范物流有限公司", USCC_C, "浙江省工商行政管理局", "浙江省工商行政管理局直属分局"),
]
TARGET_HEADER = ("企业名称", "注册号/统一社会信用代码", "登记机关", "管辖单位")


def _xml_cell(value: object, index: int | None = None, across: int = 0) -> str:
    attrs = f' ss:Index="{index}"' if index else ""
    attrs += f' ss:MergeAcross="{across}"' if across else ""
    if value is None:
        return f"<Cell{attrs}/>"
    if isinstance(value, bool):
        kind, text = "Boolean", "1" if value else "0"
    elif isinstance(value, int | float):
        kind, text = "Number", repr(value)
    elif isinstance(value, date):
        kind, text = "DateTime", f"{value.isoformat()}T00:00:00.000"
    else:
        kind, text = "String", escape(str(value))
    return f'<Cell{attrs}><Data ss:Type="{kind}">{text}</Data></Cell>'


def write_xml2003(
    path: Path,
    sheets: Sequence[tuple[str, Sequence[Sequence[object]]]],
    *,
    extra_column: bool = False,
) -> Path:
    """An Excel 2003 XML workbook as WPS writes it (one Data per cell, no ss:Index), whatever
    the name: the Zhejiang system served these as .xlsx."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
        '<?mso-application progid="Excel.Sheet"?>\n',
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:o="urn:schemas-microsoft-com:office:office" '
        'xmlns:x="urn:schemas-microsoft-com:office:excel" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:html="http://www.w3.org/TR/REC-html40">',
        '<Styles><Style ss:ID="Default" ss:Name="Normal"><Font ss:FontName="宋体"/></Style>'
        '<Style ss:ID="pct"><NumberFormat ss:Format="0%"/></Style></Styles>',
    ]
    for name, rows in sheets:
        width = max((len(r) for r in rows), default=0) + (1 if extra_column else 0)
        parts.append(
            f'<Worksheet ss:Name="{escape(name)}"><Table ss:ExpandedColumnCount="{width}">'
        )
        parts.extend('<Column ss:Width="80"/>' for _ in range(width))
        for row in rows:
            parts.append("<Row>" + "".join(_xml_cell(v) for v in row) + "</Row>")
        parts.append("</Table></Worksheet>")
    parts.append("</Workbook>")
    path.write_text("".join(parts), encoding="utf-8")
    return path


def write_ooxml(
    path: Path,
    sheets: Sequence[tuple[str, Sequence[Sequence[object]]]],
    merges: dict[str, Sequence[str]] | None = None,
    formats: dict[str, str] | None = None,
) -> Path:
    """An OOXML workbook under any name (the Zhejiang templates are .xlsx content named .xls).
    `formats` gives number formats by cell (e.g. {"I4": "yyyy/m/d;@"})."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets:
        sheet = book.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is not None:
                    sheet.cell(r, c, value)
        for merge in (merges or {}).get(name, ()):
            sheet.merge_cells(merge)
        if name == sheets[0][0]:
            for ref, code in (formats or {}).items():
                sheet[ref].number_format = code
    temporary = path.with_name(path.name + ".tmp.xlsx")
    book.save(temporary)
    temporary.replace(path)
    return path


def targets_xml2003(folder: Path) -> Path:
    """As `zj17_targets_478.xlsx`: Excel 2003 XML named .xlsx, third column `RegOrgName`, a
    fifth empty declared column as in the 2,883 file."""
    header = (TARGET_HEADER[0], TARGET_HEADER[1], "RegOrgName", TARGET_HEADER[3])
    rows = [header, *TARGET_ROWS]
    return write_xml2003(
        folder / "synthetic_targets_xml2003.xlsx", [("Sheet1", rows)], extra_column=True
    )


def targets_ooxml(folder: Path) -> Path:
    """As `zj17_targets_42782.xlsx`: OOXML, three sheets, the list on Sheet1."""
    sheets = [("Sheet1", [TARGET_HEADER, *TARGET_ROWS]), ("Sheet2", []), ("Sheet3", [])]
    return write_ooxml(folder / "synthetic_targets.xlsx", sheets)


def targets_template(folder: Path) -> Path:
    """As `zj17_targets_tpl.xls`: OOXML named .xls, merged title, header in row 2, no data."""
    rows = [["待抽检库导入模板", None], ["统一社会信用代码/注册号", "企业名称"]]
    sheets = [("Sheet1", rows), ("Sheet2", []), ("Sheet3", [])]
    return write_ooxml(folder / "synthetic_targets_tpl.xls", sheets, {"Sheet1": ["A1:B1"]})


ROSTER_HEADER = (
    "单位工号",
    "姓名",
    "性别",
    "身份证号",
    "手机号",
    "学历",
    "学历专业",
    "岗位大类",
    "从事本岗起始日期",
    "岗位资质资格",
    "执法事项范围",
    "地区",
    "层级",
    "担任职务",
    "具体职务",
    "所在业务部门（机构）",
    "是否专家",
    "执法证编号",
    "执法证有效期",
    "执法证发证机关",
    "执法人员状态",
)


def roster_template(folder: Path, filled: Sequence[Sequence[object]] = ()) -> Path:
    """As `zj17_roster_tpl_dept.xls`: OOXML named .xls; sheets 人员名录库, 参数表, Sheet3; title
    merged over A1:U1, header row 2, instruction row 3 (YYYY-MM-DD, …详见参数表), sample row 4
    (案例（请删除）) with a number certificate and date serials. `filled` rows follow (made up)."""
    hint = "【多个以中文逗号分开填写】详见参数表"
    instruction: list[object] = [None] * len(ROSTER_HEADER)
    instruction[7] = "工商行政管理类，食品药品管理类" + hint
    instruction[8] = "YYYY-MM-DD"
    instruction[9] = "保化检查员，药品检查员" + hint
    instruction[10] = "按照抽查事项清单" + hint
    instruction[16] = "保化组长,药品GSP" + hint
    instruction[18] = "YYYY-MM-DD"
    sample: list[object] = [
        "0010",
        "案例（请删除）",
        "男",
        "330521199109220532",
        "18788888888",
        "高中",
        "食品",
        "工商行政管理类，食品药品管理类",
        date(2017, 3, 7),
        "保化检查员，药品检查员",
        "A01.直销违法行为检查，B01.获证食品生产企业监管,B02.保健食品生产企业证后监督",
        "省本级",
        "市级",
        "科员",
        None,
        "消保分局",
        "保化组长，药品GSP",
        4541321,
        date(1989, 7, 19),
        None,
        "有效",
    ]
    rows = [["市场监管领域执法人员数据库"], list(ROSTER_HEADER), instruction, sample, *filled]
    vocabulary = [["岗位大类", None, "岗位资质资格"], ["工商行政管理类", None, "保化检查员"]]
    formats = {f"I{r}": "yyyy/m/d;@" for r in range(4, 5 + len(filled))}
    formats |= {f"S{r}": "yyyy/m/d;@" for r in range(4, 5 + len(filled))}
    sheets = [("人员名录库", rows), ("参数表", vocabulary), ("Sheet3", [])]
    name = "synthetic_roster_filled.xls" if filled else "synthetic_roster_tpl.xls"
    return write_ooxml(folder / name, sheets, {"人员名录库": ["A1:U1"]}, formats)


def speclib_template(folder: Path) -> Path:
    """As `zj17_speclib_tpl.xlsx`: a note above the header, hints below it, no data."""
    rows = [
        ["注意:请将信息填写完整,否则可能导致上传失败。"],
        ["专项库名称", "统一社会信用代码/注册号", "企业名称", "有效期至"],
        ["从27个专项库名称中进行单选", None, None, "年月日，若长期有效输入9999-09-09"],
    ]
    return write_ooxml(folder / "synthetic_speclib_tpl.xlsx", [("Sheet1", rows)])


def xlsb(folder: Path) -> Path:
    """A ZIP with xl/workbook.bin: the shape of an Excel binary workbook (no real content)."""
    path = folder / "synthetic.xlsb"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.bin", b"\x83\x01\x00")
    return path


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        targets_xml2003(folder),
        targets_ooxml(folder),
        targets_template(folder),
        roster_template(folder),
        speclib_template(folder),
        item_list(folder),
        joint_item_list(folder),
        xlsb(folder),
    ]


if __name__ == "__main__":
    for written in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(written)


ITEM_LIST_HEADER = (
    "序号",
    "抽查类别",
    "抽查事项",
    "抽查子项",
    "检查对象",
    "抽查依据",
    "检查方式",
    "抽查比例",
    "抽查频次",
    "编制单位名称",
    "配合部门",
    "备注",
)


def item_list(folder: Path) -> Path:
    """An item list as provinces publish them (made up, in their shape): a title row, 序号
    numbering categories (merged down), several 抽查事项 per category with 抽查子项, legal bases
    on continuation rows, 编制单位名称 merged down a unit's rows, free text in every column
    (现场检查或书面检查, 根据实际情况确定, 不超过30%/年, 2‰, 1—2次/年), a percent-formatted
    ratio cell, a blank ratio, a 备注 column ssj does not map, and a footer note."""
    rows: list[list[object]] = [
        ["合成省市场监管局随机抽查事项清单（2026年版）"],
        list(ITEM_LIST_HEADER),
        [
            1,
            "特种设备",
            "特种设备使用单位检查",
            "电梯使用单位检查",
            "各类电梯使用单位",
            "《中华人民共和国特种设备安全法》第五十七条",
            "现场检查",
            0.05,
            "每年2次",
            "合成省市场监督管理局",
            "",
            "重点",
        ],
        [
            None,
            None,
            None,
            "锅炉使用单位检查",
            "锅炉使用单位",
            "《中华人民共和国特种设备安全法》第五十七条",
            "现场检查或书面检查",
            "不超过30%/年",
            "1—2次/年",
            None,
            "生态环境部门、合成应急管理局",
            None,
        ],
        [
            None,
            None,
            None,
            None,
            None,
            "《特种设备安全监察条例》第五十条",
            None,
            None,
            None,
            None,
            None,
            None,
        ],
        [
            2,
            "食品安全",
            "学校食堂检查",
            None,
            "中小学校",
            "《中华人民共和国食品安全法》第一百一十条",
            "现场抽查、文件查阅",
            "抽查比例不少于2‰",
            "根据实际情况确定",
            None,
            None,
            None,
        ],
        [
            None,
            None,
            "旅馆卫生检查",
            None,
            "各类宾馆、旅店",
            "《公共场所卫生管理条例》",
            "网络监测",
            None,
            None,
            None,
            None,
            None,
        ],
        [
            None,
            None,
            "食品生产企业检查",
            None,
            "食品生产企业",
            None,
            "飞行检查",
            "根据实际情况确定",
            "每年不少于1次",
            None,
            None,
            None,
        ],
        ["注：本清单自发布之日起施行"],
    ]
    path = folder / "synthetic_item_list.xlsx"
    merges = {"Sheet1": ["A1:L1", "A3:A5", "B3:B5", "C3:C5", "J3:J8", "A6:A8", "B6:B8", "A9:L9"]}
    write_ooxml(path, [("Sheet1", rows)], merges, {"H3": "0%"})
    return path


def joint_item_list(folder: Path) -> Path:
    """A joint-inspection list (部门联合抽查事项清单) in its usual shape (made up): 发起部门 and
    配合部门 by name, several per cell, no method or legal-basis column, 编号 per row."""
    rows = [
        [
            "编号",
            "抽查领域",
            "抽查事项",
            "检查对象",
            "发起部门",
            "配合部门",
            "抽查比例",
            "抽查频次",
        ],
        [
            "LH-1",
            "校园安全",
            "学校食品安全联合检查",
            "中小学校",
            "合成省市场监督管理局",
            "教育部门、卫生健康部门",
            "5%",
            "每年1次",
        ],
        [
            "LH-2",
            "旅游市场",
            "旅游市场联合检查",
            "旅行社",
            "合成省市场监督管理局",
            "文化和旅游部门",
            "",
            "",
        ],
    ]
    return write_ooxml(folder / "synthetic_joint_list.xlsx", [("联合抽查事项清单", rows)])

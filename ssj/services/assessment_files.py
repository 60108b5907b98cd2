"""The annual assessment as files reviewers open: an XLSX workbook with Chinese headers (a
summary sheet per department, a sheet per drill-down) and a PNG chart per department. Both are
byte-for-byte reproducible from the same figures: no timestamps, no software metadata."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ssj.domain.assessment import FIGURE_LABELS, FIGURES, Assessment, headline
from ssj.presentation.sheets import xlsx_row

# Rendering: labels, XLSX and PNG ---------------------------------------------------------------

SUMMARY_LABELS: dict[str, dict[str, str]] = {
    "plans": {
        "plans": "计划数",
        "published": "已公布",
        "completed": "已完成",
        "in_progress": "实施中",
        "not_completed": "未完成",
        "not_drawn": "未抽取",
        "not_published": "未公布",
        "cancelled": "已撤销",
        "share": "完成率",
    },
    "coverage": {
        "cycle_years": "覆盖周期（年）",
        "from": "周期起",
        "to": "周期止",
        "in_scope": "名录库对象数（事项范围内）",
        "covered": "已检查对象数",
        "share": "覆盖率",
    },
    "caps": {
        "over_cap": "超上限对象数",
        "tasks": "超上限任务数",
        "department": "超本部门上限",
        "all": "超各部门合计上限",
    },
    "participation": {"inspectors": "执法检查人员数", "took_part": "参与人数", "share": "参与率"},
    "joint": {"tasks": "抽查任务数", "joint": "联合抽查任务数", "share": "联合抽查占比"},
    "publication": {
        "results": "已检查任务数",
        "on_time": "按期公示",
        "late": "逾期公示",
        "overdue": "逾期未公示",
        "pending": "未到期",
        "withheld": "不予公示或暂缓公示",
        "unknown": "期限未知",
        "share_on_time": "按期公示率",
        "median_working_days": "公示用时中位数（工作日）",
        "median_working_days_late": "逾期工作日中位数",
    },
    "delivery": {
        "records": "应归集记录数（按平台）",
        "on_time": "按期送达",
        "late": "逾期送达",
        "overdue": "逾期未送达",
        "pending": "未到期",
        "unknown": "期限未知",
        "dead_letters": "死信",
        "share_on_time": "按期归集率",
    },
    "rectifications": {
        "orders": "责令整改数",
        "closed": "按期复查通过",
        "closed_late": "逾期复查通过",
        "overdue": "逾期未复查通过",
        "open": "整改期限内",
        "share_closed": "整改闭环率",
    },
    "recusals": {
        "total": "回避人次",
        "declared": "检查人员自行回避",
        "requested": "检查对象申请回避",
        "pending": "待决定的回避申请",
    },
    "abandoned_draws": {"count": "作废的抽取", "reasons": "作废原因"},
}
RATIO_LABELS = {
    "credit_class": "信用风险分类",
    "population": "符合条件的对象数",
    "required": "应抽取数",
    "drawn": "已抽取数",
    "inspected": "已检查数",
    "required_ratio": "应抽查比例",
    "achieved_ratio": "实际抽查比例",
    "met": "是否达标",
}
DETAIL_LABELS: dict[str, dict[str, str]] = {
    "plans": {
        "code": "计划编号",
        "title": "计划名称",
        "kind": "计划类型",
        "status": "计划状态",
        "window_start": "实施开始日期",
        "window_end": "实施结束日期",
        "draws": "抽取次数",
        "tasks": "抽查任务数",
        "inspected_in_window": "期限内已检查",
        "inspected_after_window": "期限后检查",
        "not_inspected": "未检查",
        "state_zh": "完成情况",
    },
    "ratios": {
        "draw": "抽取",
        "drawn_on": "抽取日期",
        "credit_class": "信用风险分类",
        "ratio": "计划比例（%）",
        "fixed_count": "固定抽取数量",
        "population": "符合条件的对象数",
        "required": "应抽取数",
        "drawn": "已抽取数",
        "inspected": "已检查数",
    },
    "coverage": {
        "identifier": "检查对象",
        "target_type": "对象类型",
        "status": "状态",
        "inspections": "周期内检查次数",
        "last_inspected_on": "最近检查完成日期",
        "covered": "已覆盖",
    },
    "caps": {
        "identifier": "检查对象",
        "draw": "抽取",
        "drawn_on": "抽取日期",
        "earlier_department": "本年度本部门此前抽查次数",
        "cap_department": "本部门上限",
        "earlier_all": "本年度各部门此前抽查次数",
        "cap_all": "各部门合计上限",
        "earlier_draws": "此前的抽取",
    },
    "participation": {
        "certificate_no": "执法证号",
        "name": "姓名",
        "status": "状态",
        "inspected_tasks": "参与已检查任务数",
        "took_part": "是否参与",
    },
    "joint": {
        "draw": "抽取",
        "identifier": "检查对象",
        "departments": "参与部门",
        "status": "任务状态",
        "joint": "联合抽查",
    },
    "publication": {
        "draw": "抽取",
        "identifier": "检查对象",
        "completed_on": "检查完成日期",
        "within_working_days": "公示期限（工作日）",
        "due_on": "应公示日期",
        "published_on": "公示日期",
        "state_zh": "公示情况",
        "working_days": "公示用时（工作日）",
        "working_days_late": "逾期工作日",
        "reason_zh": "说明",
    },
    "delivery": {
        "subscriber": "接收平台",
        "kind_zh": "记录",
        "seq": "账本序号",
        "identifier": "检查对象",
        "case_no": "案件编号",
        "start": "起算日期",
        "due_on": "应归集日期",
        "done_on": "送达日期",
        "state_zh": "归集情况",
        "working_days_late": "逾期工作日",
        "tries": "尝试次数",
    },
    "rectifications": {
        "identifier": "检查对象",
        "rectification": "整改序号",
        "ordered_on": "责令整改日期",
        "deadline": "整改期限",
        "rechecks": "复查次数",
        "passed_on": "复查通过日期",
        "state_zh": "整改情况",
    },
    "recusals": {
        "draw": "抽取",
        "identifier": "检查对象",
        "certificate_no": "回避人员执法证号",
        "kind_zh": "回避方式",
        "reason": "回避理由",
        "replacement": "替补人员执法证号",
    },
    "abandoned_draws": {
        "draw": "抽取",
        "drawn_on": "抽取日期",
        "committed_by": "封存人",
        "reason": "作废原因",
    },
}


def cell(value: Any) -> Any:
    """A value as officials read it in a cell (numbers stay numbers)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith("=") else text


def summary_lines(figures: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(figure, measure, value) for every summary number, Chinese labels."""
    lines: list[tuple[str, str, Any]] = []
    for name in FIGURES:
        figure = figures[name]
        zh = FIGURE_LABELS[name][0]
        if name == "ratios":
            for c in figure["classes"]:
                for key, label in RATIO_LABELS.items():
                    if key != "credit_class":
                        lines.append((zh, f"{c['credit_class']} 类：{label}", cell(c[key])))
            continue
        for key, label in SUMMARY_LABELS[name].items():
            lines.append((zh, label, cell(figure[key])))
    return lines


def _sheet_name(text: str, used: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in text)[:31]
    name, n = clean, 2
    while name in used:
        suffix = f"~{n}"
        name, n = clean[: 31 - len(suffix)] + suffix, n + 1
    used.add(name)
    return name


def workbook(found: Assessment, departments: Sequence[str], header: Mapping[str, Any]) -> bytes:
    """One summary sheet per department (考核汇总), then one sheet per drill-down per
    department, headers in Chinese. Fixed workbook properties: same figures, same bytes."""
    import openpyxl
    from openpyxl.packaging.core import DocumentProperties

    book = openpyxl.Workbook(write_only=True)
    fixed = datetime(header["year"], 12, 31)
    book.properties = DocumentProperties(creator="ssj", created=fixed, modified=fixed)
    used: set[str] = set()
    note = f"{header['year']} 年度考核；截至 {header['on']}；账本序号 {header['as_of']}"
    for department in departments:
        result = found.department(department)
        sheet = book.create_sheet(_sheet_name(f"{department} 汇总", used))
        sheet.append(xlsx_row(sheet, [f"{result['name']}（{department}）", note]))
        sheet.append(xlsx_row(sheet, ["考核指标", "项目", "数值"]))
        for line in summary_lines(result["figures"]):
            sheet.append(xlsx_row(sheet, list(line)))
    for department in departments:
        for name in FIGURES:
            labels = DETAIL_LABELS[name]
            sheet = book.create_sheet(_sheet_name(f"{department} {FIGURE_LABELS[name][0]}", used))
            sheet.append(xlsx_row(sheet, list(labels.values())))
            for row in found.detail(name, department):
                sheet.append(xlsx_row(sheet, [cell(row.get(k)) for k in labels]))
    buffer = io.BytesIO()
    book.save(buffer)
    return _fixed_zip(buffer.getvalue(), fixed.isoformat().encode() + b"Z")


_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)([^<]*)(</dcterms:)")


def _fixed_zip(data: bytes, stamp: bytes) -> bytes:
    """The same archive with every timestamp fixed: the zip entries' and the document's."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time
                content = _STAMP.sub(rb"\g<1>" + stamp + rb"\g<3>", content)
            target.writestr(fixed, content)
    return out.getvalue()


# The chart ------------------------------------------------------------------------------------

CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC")
_warned: list[bool] = []


def cjk_font() -> str | None:
    """A font with Chinese glyphs that matplotlib can find, or None. matplotlib lists fonts
    from a cache written on its first run; a font installed after that (apt-get install
    fonts-wqy-microhei) is found by scanning the system's font folders once."""
    from matplotlib import font_manager

    def known() -> str | None:
        available = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in available), None)

    found = known()
    if found is None and not _rescanned:
        _rescanned.append(True)
        listed = {f.fname for f in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in listed:
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = known()
    return found


_rescanned: list[bool] = []  # the system's fonts were scanned once in this process


CHART_BARS = (
    ("plans", "计划完成率", "plans completed"),
    ("ratios", "抽查数/应抽查数", "inspected / required"),
    ("coverage", "名录库覆盖率", "registry coverage"),
    ("participation", "检查人员参与率", "inspector participation"),
    ("joint", "联合抽查占比", "joint inspections"),
    ("publication", "按期公示率", "published on time"),
    ("rectifications", "整改闭环率", "rectifications closed"),
)


def chart(result: Mapping[str, Any], year: int, seq: int) -> bytes:
    """A PNG: the department's shares as bars, and achieved vs required ratio per credit-risk
    class. Chinese labels with a CJK font; without one, English labels (said once on stderr),
    never boxes for missing glyphs. No timestamp or software version in the file: the same
    figures give the same bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = cjk_font()
    zh = font is not None
    if not zh and not _warned:
        _warned.append(True)
        print(
            "没有找到中文字体，图表使用英文标签 / no CJK font found (e.g. fonts-wqy-microhei): "
            "the chart uses English labels",
            file=sys.stderr,
        )
    figures = result["figures"]
    shares = headline(figures)
    style: Any = {
        "font.family": [font] if font else ["DejaVu Sans"],
        "svg.hashsalt": "ssj",
    }
    with plt.rc_context(style):
        fig, (bars, ratios) = plt.subplots(
            1, 2, figsize=(12, 5), dpi=100, gridspec_kw={"width_ratios": [3, 2]}
        )
        labels = [zh_label if zh else en for _, zh_label, en in CHART_BARS]
        values = [shares[name] for name, _, _ in CHART_BARS]
        plotted = [0.0 if v is None else min(v, 1.5) for v in values]
        positions = list(range(len(labels)))
        bars.barh(positions, plotted, color="#2f6f9f")
        bars.set_yticks(positions, labels)
        bars.invert_yaxis()
        bars.set_xlim(0, 1.15)
        bars.axvline(1.0, color="#999999", linewidth=0.8)
        for y, v in zip(positions, values, strict=True):
            text = ("无数据" if zh else "n/a") if v is None else f"{v:.0%}"
            bars.text(min(0.0 if v is None else v, 1.0) + 0.01, y, text, va="center")
        classes = figures["ratios"]["classes"]
        names = [c["credit_class"] for c in classes]
        x = list(range(len(names)))
        required = [100 * (c["required_ratio"] or 0) for c in classes]
        achieved = [100 * (c["achieved_ratio"] or 0) for c in classes]
        ratios.bar(
            [i - 0.2 for i in x],
            required,
            0.4,
            color="#bbbbbb",
            label="应抽查比例" if zh else "required",
        )
        ratios.bar(
            [i + 0.2 for i in x],
            achieved,
            0.4,
            color="#2f6f9f",
            label="实际抽查比例" if zh else "achieved",
        )
        ratios.set_xticks(x, [f"{n} 类" if zh and n != "all" else n for n in names])
        ratios.set_ylabel("%")
        ratios.legend(loc="upper left")
        ratios.set_title("按信用风险分类的抽查比例" if zh else "ratio per credit-risk class")
        name = result.get("name") or result["department"]
        title = (
            f"{name}（{result['department']}）{year} 年度考核（账本序号 {seq}）"
            if zh
            else f"{result['department']} assessment {year} (ledger seq {seq})"
        )
        fig.suptitle(title)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", metadata={"Software": None})
        plt.close(fig)
    return buffer.getvalue()


def chart_files(charts: Mapping[str, bytes], year: int) -> Iterable[tuple[str, bytes]]:
    """File names for charts written to a directory."""
    for department in sorted(charts):
        yield f"assessment-{year}-{department}.png", charts[department]

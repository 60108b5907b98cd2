"""`ssj overdue`: what is past its deadline, per department (逾期监测).

Tasks not inspected by the end of their plan's window; results not published within the plan's
working days of completion (or published late, with the working days late); rectifications past
their deadline without a passed re-check; penalty information not published within 7 working
days of the decision; records not delivered to a credit platform by those deadlines (measured to
its acknowledgement), and dead letters. "Today" is
`--as-of-date` (default: today, Beijing time); `--at-seq SEQ` reads the ledger as it stood then.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ssj.cli.common import (
    AsUser,
    DeprecatedAsOf,
    current_principal,
    either_seq,
    out,
    print_json,
    services_session,
)
from ssj.cli.draws import ListFormat, ListFormatOption

SUMMARY_LABELS = {
    "department": "部门",
    "uninspected": "逾期未检查",
    "inspected_late": "逾期完成检查",
    "publication_overdue": "逾期未公示",
    "published_late": "逾期公示",
    "deadline_unknown": "公示期限未知",
    "rectification_overdue": "整改逾期未复查通过",
    "penalty_overdue": "处罚信息逾期未公示",
    "penalty_published_late": "处罚信息逾期公示",
    "penalty_deadline_unknown": "处罚信息公示期限未知",
    "delivery_overdue": "逾期未归集",
    "delivered_late": "逾期归集",
    "delivery_deadline_unknown": "归集期限未知",
    "dead_letters": "归集死信",
}
UNINSPECTED_LABELS = {
    "draw": "抽取",
    "identifier": "检查对象",
    "status_zh": "状态",
    "window_end": "实施结束日期",
    "completed_on": "检查完成日期",
    "days_past": "超出天数",
}
PUBLICATION_LABELS = {
    "draw": "抽取",
    "identifier": "检查对象",
    "start": "检查完成日期",
    "within_working_days": "公示期限（工作日）",
    "due_on": "应公示日期",
    "done_on": "公示日期",
    "state_zh": "情况",
    "working_days_late": "逾期工作日",
    "reason_zh": "说明",
}

RECTIFICATION_LABELS = {
    "identifier": "检查对象",
    "rectification": "整改序号",
    "ordered_on": "责令整改日期",
    "deadline": "整改期限",
    "passed_on": "复查通过日期",
    "rechecks": "复查次数",
    "days_past": "超出天数",
}
PENALTY_LABELS = {
    "identifier": "检查对象",
    "case_no": "案件编号",
    "start": "处罚决定日期",
    "due_on": "应公示日期",
    "done_on": "公示日期",
    "state_zh": "情况",
    "working_days_late": "逾期工作日",
    "reason_zh": "说明",
}


DELIVERY_LABELS = {
    "subscriber": "接收平台",
    "kind_zh": "记录",
    "seq": "账本序号",
    "identifier": "检查对象",
    "case_no": "案件编号",
    "start": "起算日期",
    "due_on": "应归集日期",
    "done_on": "送达日期",
    "state_zh": "情况",
    "working_days_late": "逾期工作日",
    "tries": "已尝试",
}
DEAD_LETTER_LABELS = {
    "subscriber": "接收平台",
    "kind_zh": "记录",
    "seq": "账本序号",
    "identifier": "检查对象",
    "tries": "已尝试",
    "last_error": "最近错误",
}


def _table(title: str, labels: dict[str, str], rows: list[dict[str, Any]]) -> None:
    table = Table(title=title, header_style="bold", highlight=False)
    for label in labels.values():
        table.add_column(label, overflow="fold")
    for row in rows:
        cells = ("" if row.get(name) is None else str(row[name]) for name in labels)
        table.add_row(*(Text(c) for c in cells))
    out.print(table)


def overdue(
    department: Annotated[
        str | None, typer.Option(help="牵头或参与的部门 / a department leading or joining")
    ] = None,
    as_of_date: Annotated[
        str | None,
        typer.Option(
            "--as-of-date",
            metavar="YYYY-MM-DD",
            help="以此日期为“今天”（默认今天，北京时间）/ the day to report on (default: today)",
        ),
    ] = None,
    at_seq: Annotated[
        int | None,
        typer.Option("--at-seq", metavar="SEQ", help="账本序号（默认最新）/ ledger seq"),
    ] = None,
    as_of: DeprecatedAsOf = None,
    fmt: ListFormatOption = ListFormat.table,
    as_user: AsUser = None,
) -> None:
    """逾期监测：逾期未检查、逾期未公示或逾期公示 / what is overdue, per department."""
    from ssj.services.overdue import OverdueService

    at_seq = either_seq(at_seq, as_of)
    with services_session() as services:
        principal = current_principal(services, as_user)
        report = OverdueService(services).report(principal, department, as_of_date, at_seq)
    if fmt is ListFormat.json:
        print_json(report)
        return
    scope = report["department"] or "全部部门"
    out.print(f"逾期监测 / overdue: {scope}，截至 {report['on']}（账本序号 {report['as_of']}）")
    _table("汇总 / summary", SUMMARY_LABELS, report["summary"])
    _table(
        "逾期未检查 / not inspected by the window end", UNINSPECTED_LABELS, report["uninspected"]
    )
    _table("结果公示 / publication deadlines", PUBLICATION_LABELS, report["publication"])
    _table(
        "整改 / rectifications past their deadline", RECTIFICATION_LABELS, report["rectifications"]
    )
    _table("处罚信息公示 / penalty information", PENALTY_LABELS, report["penalties"])
    _table(
        "归集到信用平台 / delivery to the credit platforms", DELIVERY_LABELS, report["deliveries"]
    )
    _table(
        "归集死信（ssj deliver retry 重新推送）/ dead letters",
        DEAD_LETTER_LABELS,
        report["dead_letters"],
    )

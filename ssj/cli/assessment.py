"""`ssj assessment`: the annual assessment (考核) per department and year.

    ssj assessment show 2026 [--department CZ-SJJ-TZ] [--json]
    ssj assessment detail 2026 CZ-SJJ-TZ publication [--offset N --limit N] [--json]
    ssj assessment export 2026 --output 考核2026.xlsx [--department CODE]
    ssj assessment chart 2026 CZ-SJJ-TZ --output tz.png  |  ssj assessment chart 2026 --output-dir DIR

`--on` is the day things not yet done are judged on (default: the year's last day, or today
while the year runs); `--at-seq SEQ` reads the ledger as it stood then; `--cycle-years` is the
coverage cycle (default 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ssj.cli.common import (
    AsUser,
    DeprecatedAsOf,
    current_principal,
    either_seq,
    fail,
    out,
    print_json,
    services_session,
)
from ssj.errors import ValidationError

assessment_app = typer.Typer(
    help="考核：各部门年度指标、明细、导出与图表 / the annual assessment per department",
    no_args_is_help=True,
)

On = Annotated[
    str | None,
    typer.Option(
        "--on",
        metavar="YYYY-MM-DD",
        help="判断“逾期”的日期（默认年末，年度未结束时为今天）/ the day things not yet done "
        "are judged on (default: the year's last day, or today)",
    ),
]
AtSeq = Annotated[
    int | None, typer.Option("--at-seq", metavar="SEQ", help="账本序号（默认最新）/ ledger seq")
]
Cycle = Annotated[
    int | None,
    typer.Option("--cycle-years", help="覆盖周期（年，默认 1）/ coverage cycle in years"),
]
Json = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]

SUMMARY_COLUMNS = (
    ("department", "部门"),
    ("name", "名称"),
    ("tasks", "抽查任务"),
    ("plans", "计划完成"),
    ("ratios", "实抽/应抽"),
    ("coverage", "覆盖率"),
    ("caps", "超上限对象"),
    ("participation", "人员参与率"),
    ("joint", "联合抽查占比"),
    ("publication", "按期公示率"),
    ("median", "公示用时中位数（工作日）"),
    ("rectifications", "整改闭环率"),
    ("recusals", "回避"),
    ("abandoned", "作废抽取"),
)


SHARE_LABELS = ("率", "比例", "占比")  # measures that are shares, shown as percentages


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return _percent(value) if 0 <= value <= 1.5 and value != int(value) else f"{value:g}"
    if isinstance(value, list):
        return "；".join(str(v) for v in value) or "—"
    return str(value)


def summary_row(result: dict[str, Any]) -> list[str]:
    from ssj.domain.assessment import headline

    figures = result["figures"]
    shares = headline(figures)
    plans = figures["plans"]
    return [
        result["department"],
        result["name"],
        str(result["tasks"]),
        f"{plans['completed']}/{plans['published']}",
        _percent(shares["ratios"]),
        _percent(shares["coverage"]),
        str(figures["caps"]["over_cap"]),
        _percent(shares["participation"]),
        _percent(shares["joint"]),
        _percent(shares["publication"]),
        _number(figures["publication"]["median_working_days"]),
        _percent(shares["rectifications"]),
        str(figures["recusals"]["total"]),
        str(figures["abandoned_draws"]["count"]),
    ]


def _header(report: dict[str, Any]) -> str:
    return (
        f"{report['year']} 年度考核 / assessment：截至 {report['on']}，账本序号 {report['as_of']}，"
        f"覆盖周期 {report['cycle_years']} 年"
    )


@assessment_app.command("show")
def show(
    year: Annotated[int, typer.Argument(help="考核年度 / the year")],
    department: Annotated[
        str | None, typer.Option("--department", help="只看该部门 / one department")
    ] = None,
    as_json: Json = False,
    on: On = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    cycle_years: Cycle = None,
    as_user: AsUser = None,
) -> None:
    """各部门考核汇总，或一个部门的全部指标 / every department's figures, or one's in full."""
    at_seq = either_seq(at_seq, as_of)
    from ssj.services.assessment import AssessmentService
    from ssj.services.assessment_files import summary_lines

    with services_session() as services:
        principal = current_principal(services, as_user)
        service = AssessmentService(services)
        options: dict[str, Any] = {"on": on, "at_seq": at_seq, "cycle_years": cycle_years}
        if department:
            report = service.department(principal, year, department, **options)
        else:
            report = service.year(principal, year, **options)
    if as_json:
        print_json(report)
        return
    out.print(_header(report))
    if department:
        out.print(f"{report['name']}（{report['department']}）")
        table = Table(header_style="bold", highlight=False)
        for label in ("考核指标", "项目", "数值"):
            table.add_column(label, overflow="fold")
        for figure, measure, value in summary_lines(report["figures"]):
            if isinstance(value, str):
                shown = value
            elif measure.endswith(SHARE_LABELS) and isinstance(value, (int, float)):
                shown = _percent(value)  # a share of 1 is 100.0 %, not "1"
            else:
                shown = _number(value)
            table.add_row(Text(figure), Text(measure), Text(shown))
        out.print(table)
        return
    table = Table(title="各部门考核汇总 / every department", header_style="bold", highlight=False)
    for _, label in SUMMARY_COLUMNS:
        table.add_column(label, overflow="fold")
    for result in report["departments"]:
        table.add_row(*(Text(c) for c in summary_row(result)))
    out.print(table)


@assessment_app.command("detail")
def detail(
    year: Annotated[int, typer.Argument(help="考核年度 / the year")],
    department: Annotated[str, typer.Argument(help="部门编码 / department code")],
    figure: Annotated[
        str,
        typer.Argument(
            help="指标 / figure: plans, ratios, coverage, caps, participation, joint, "
            "publication, delivery, rectifications, recusals, abandoned_draws"
        ),
    ],
    offset: Annotated[int, typer.Option(min=0, help="跳过的条数 / rows to skip")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="条数 / rows")] = 100,
    as_json: Json = False,
    on: On = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    cycle_years: Cycle = None,
    as_user: AsUser = None,
) -> None:
    """一项指标背后的计划、抽取、对象、任务或人员 / the rows behind one figure."""
    at_seq = either_seq(at_seq, as_of)
    from ssj.services.assessment import AssessmentService
    from ssj.services.assessment_files import DETAIL_LABELS

    with services_session() as services:
        principal = current_principal(services, as_user)
        page = AssessmentService(services).detail(
            principal,
            year,
            department,
            figure,
            offset=offset,
            limit=limit,
            on=on,
            at_seq=at_seq,
            cycle_years=cycle_years,
        )
    if as_json:
        print_json(page)
        return
    out.print(_header(page))
    shown = f"{page['offset'] + 1}–{page['offset'] + len(page['items'])}" if page["items"] else "0"
    table = Table(
        title=f"{department} {page['label_zh']}：第 {shown} 条，共 {page['total']} 条",
        header_style="bold",
        highlight=False,
    )
    labels = DETAIL_LABELS[page["figure"]]
    for label in labels.values():
        table.add_column(label, overflow="fold")
    for row in page["items"]:
        table.add_row(*(Text(_number(row.get(k))) for k in labels))
    out.print(table)


@assessment_app.command("export")
def export(
    year: Annotated[int, typer.Argument(help="考核年度 / the year")],
    output: Annotated[Path, typer.Option("--output", "-o", help="XLSX 文件 / the XLSX file")],
    department: Annotated[
        str | None, typer.Option("--department", help="只导出该部门 / one department")
    ] = None,
    on: On = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    cycle_years: Cycle = None,
    as_user: AsUser = None,
) -> None:
    """导出 XLSX：每个部门一张汇总表，每项明细一张表 / the workbook: a summary sheet per
    department and a sheet per drill-down, headers in Chinese."""
    at_seq = either_seq(at_seq, as_of)
    from ssj.services.assessment import AssessmentService

    if output.suffix.lower() != ".xlsx":
        fail(ValidationError("输出文件应以 .xlsx 结尾", "the output file must end in .xlsx"))
    with services_session() as services:
        principal = current_principal(services, as_user)
        body = AssessmentService(services).workbook(
            principal, year, department, on=on, at_seq=at_seq, cycle_years=cycle_years
        )
    output.write_bytes(body)
    out.print(f"已导出 / written: {output}（{len(body):,} 字节 / bytes）")


@assessment_app.command("chart")
def chart(
    year: Annotated[int, typer.Argument(help="考核年度 / the year")],
    department: Annotated[
        str | None, typer.Argument(help="部门编码（省略则用 --output-dir）/ department code")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="PNG 文件 / the PNG file")
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", help="每个部门一张图写入此目录 / one chart per department"),
    ] = None,
    on: On = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    cycle_years: Cycle = None,
    as_user: AsUser = None,
) -> None:
    """部门考核图表（PNG）/ a PNG chart of a department's figures (or of every department)."""
    at_seq = either_seq(at_seq, as_of)
    from ssj.services.assessment import AssessmentService
    from ssj.services.assessment_files import chart_files

    if (department is None) == (output_dir is None) or (department and output is None):
        fail(
            ValidationError(
                "请给出 部门 --output 文件.png，或 --output-dir 目录（每个部门一张）",
                "give DEPARTMENT --output FILE.png, or --output-dir DIR (one per department)",
            )
        )
    if output is not None and output.suffix.lower() != ".png":
        fail(ValidationError("输出文件应以 .png 结尾", "the output file must end in .png"))
    options: dict[str, Any] = {"on": on, "at_seq": at_seq, "cycle_years": cycle_years}
    with services_session() as services:
        principal = current_principal(services, as_user)
        service = AssessmentService(services)
        if department is not None:
            assert output is not None
            output.write_bytes(service.chart(principal, year, department, **options))
            out.print(f"已写入 / written: {output}")
            return
        charts = service.charts(principal, year, **options)
    assert output_dir is not None
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, body in chart_files(charts, year):
        (output_dir / name).write_bytes(body)
    out.print(f"已写入 / written: {len(charts)} 张图表 / charts in {output_dir}")

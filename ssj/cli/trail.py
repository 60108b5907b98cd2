"""`ssj audit trail KIND ID` (one command per kind): a subject's complete history (全程留痕), who did what when, each
row's signature checked against the ledger; a Chinese table by default, or JSON, CSV, XLSX.

KIND is target (USCC or other identifier), inspector (certificate number), item (DEPT/CODE),
plan (DEPT/CODE), draw (id or DEPT/PLAN/第N轮), task (id or DRAW/IDENTIFIER) or user (username).
`--format csv|xlsx` writes every matching row (no paging) to `--output FILE` (CSV: stdout if none).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from ssj.cli.common import (
    AsUser,
    current_principal,
    fail,
    out,
    print_json,
    services_session,
)
from ssj.domain.trail import KIND_LABELS_ZH, KINDS
from ssj.errors import ValidationError

if TYPE_CHECKING:
    from typer import _click as click  # typer vendors click: the types TyperGroup is declared with


class KindGroup(TyperGroup):
    """An unknown kind is bad input like any other: one bilingual line, exit 2."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            from ssj.services.trail import parse_kind

            try:
                parse_kind(args[0])
            except ValidationError as e:
                fail(e)
        return super().resolve_command(ctx, args)


trail_app = typer.Typer(
    cls=KindGroup,
    help="全程留痕：对象的完整操作记录 / a subject's audit trail",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

TABLE_COLUMNS = {
    "seq": "序号",
    "time_beijing": "时间（北京）",
    "actor": "操作人",
    "role_zh": "角色",
    "department": "部门",
    "kind_zh": "事件",
    "summary": "摘要",
    "signature_zh": "签名",
}


class TrailFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


RefArg = Annotated[
    str,
    typer.Argument(
        metavar="ID",
        help="对象标识：统一社会信用代码、执法证号、部门/编号、抽取或任务编号、用户名 / "
        "the subject's id",
        show_default=False,
    ),
]
ActorOpt = Annotated[str | None, typer.Option(help="操作人（用户名）/ actor")]
DepartmentOpt = Annotated[
    str | None, typer.Option(help="操作人所代表的部门 / the actor's department")
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        metavar="DATE|TIME",
        help="记录时间起（含；日期按北京时间全天）/ recorded from (inclusive; a date is a "
        "Beijing day)",
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(metavar="DATE|TIME", help="记录时间止（含）/ recorded until (inclusive)"),
]
FromSeqOpt = Annotated[
    int | None, typer.Option("--from-seq", metavar="SEQ", help="账本序号起（含）/ from seq")
]
ToSeqOpt = Annotated[
    int | None, typer.Option("--to-seq", metavar="SEQ", help="账本序号止（含）/ to seq")
]
LimitOpt = Annotated[int, typer.Option(help="每页条数（最多 1000）/ page size")]
OffsetOpt = Annotated[int, typer.Option(help="跳过的条数 / rows to skip")]
FormatOpt = Annotated[TrailFormat, typer.Option("--format", "-f", help="输出格式 / output format")]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="写入文件（csv、xlsx）/ file to write (csv, xlsx)"),
]


def _command(kind: str) -> Callable[..., None]:
    def command(
        ref: RefArg,
        actor: ActorOpt = None,
        department: DepartmentOpt = None,
        since: SinceOpt = None,
        until: UntilOpt = None,
        from_seq: FromSeqOpt = None,
        to_seq: ToSeqOpt = None,
        limit: LimitOpt = 100,
        offset: OffsetOpt = 0,
        fmt: FormatOpt = TrailFormat.table,
        output: OutputOpt = None,
        as_user: AsUser = None,
    ) -> None:
        show(
            kind,
            ref,
            actor=actor,
            department=department,
            since=since,
            until=until,
            from_seq=from_seq,
            to_seq=to_seq,
            limit=limit,
            offset=offset,
            fmt=fmt,
            output=output,
            as_user=as_user,
        )

    command.__doc__ = f"{KIND_LABELS_ZH[kind]}的全程留痕 / the audit trail of one {kind}"
    return command


def show(
    kind: str,
    ref: str,
    *,
    actor: str | None,
    department: str | None,
    since: str | None,
    until: str | None,
    from_seq: int | None,
    to_seq: int | None,
    limit: int,
    offset: int,
    fmt: TrailFormat,
    output: Path | None,
    as_user: str | None,
) -> None:
    """对象的全程留痕 / a subject's complete history, who did what when."""
    from ssj.services.trail import TrailService, make_filters

    if fmt is TrailFormat.xlsx and output is None:
        fail(ValidationError("xlsx 格式须用 --output 指定文件", "xlsx needs --output FILE"))
    with services_session() as services:
        principal = current_principal(services, as_user)
        service = TrailService(services)
        filters = make_filters(
            actor=actor,
            department=department,
            since=since,
            until=until,
            from_seq=from_seq,
            to_seq=to_seq,
        )
        if fmt in (TrailFormat.csv, TrailFormat.xlsx):
            body = service.export(principal, kind, ref, filters, fmt.value)
        else:
            page = service.page(principal, kind, ref, filters, offset=offset, limit=limit)
    if fmt in (TrailFormat.csv, TrailFormat.xlsx):
        if output is None:
            sys.stdout.buffer.write(body)
        else:
            output.write_bytes(body)
            out.print(f"已写入 / written: {output}", highlight=False)
        return
    if fmt is TrailFormat.json:
        print_json(page)
        return
    subject = page["subject"]
    shown = len(page["items"])
    out.print(
        f"{subject['kind_zh']} {subject['id']} 的全程留痕 / audit trail of {subject['kind']} "
        f"{subject['id']}：共 {page['total']} 条，显示第 {offset + 1 if shown else 0}–"
        f"{offset + shown} 条（读模型至账本序号 {page['as_of']}）",
        highlight=False,
    )
    table = Table(header_style="bold", highlight=False)
    for label in TABLE_COLUMNS.values():
        table.add_column(label, overflow="fold")
    for row in page["items"]:
        cells = [Text(str(row.get(name, ""))) for name in TABLE_COLUMNS]
        if row.get("signature") != "valid":
            cells[-1].stylize("bold red")
        table.add_row(*cells)
    out.print(table)
    bad = [r for r in page["items"] if r.get("signature") != "valid"]
    if bad:
        out.print(
            f"[bold red]{len(bad)} 条记录签名核验未通过 / {len(bad)} row(s) failed the "
            "signature check: run `ssj verify`[/]"
        )


for _kind in KINDS:
    trail_app.command(_kind)(_command(_kind))

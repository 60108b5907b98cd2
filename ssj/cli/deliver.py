"""Delivery to the credit platforms (归集): `ssj subscribers …` registers the receiving platforms,
`ssj deliver` posts the records to them (a long-running worker, or `--once` for cron), and
`ssj deliver retry|status|export` handles dead letters, shows the outbox and writes the files
platforms take through a front-end exchange server (前置机).

`ssj deliver --once` exits 0 when nothing is left undelivered, 1 when some record still waits
(a later try, a paused platform, a dead letter), 2 on bad input.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ssj.cli.common import (
    AsUser,
    current_principal,
    err,
    fail,
    out,
    print_json,
    services_session,
)
from ssj.cli.draws import ListFormat, ListFormatOption, _line
from ssj.cli.registry import USER_HELP
from ssj.domain.subscribers import (
    AUTH_LABELS_ZH,
    RECORD_KIND_LABELS_ZH,
    SUBSCRIBER_STATUS_LABELS_ZH,
    AuthMethod,
    RecordKind,
    SubscriberStatus,
)
from ssj.errors import SsjError, ValidationError

if TYPE_CHECKING:
    from ssj.services.context import Services
    from ssj.services.delivery import SubscriberService

EXIT_UNDELIVERED = 1

subscribers_app = typer.Typer(
    help=f"接收平台（信用网、公示系统、互联网+监管）/ receiving credit platforms {USER_HELP}",
    no_args_is_help=True,
)
deliver_app = typer.Typer(
    help="归集：向信用平台推送检查结果与行政处罚记录 / deliver records to the credit platforms",
    invoke_without_command=True,
)

Reason = Annotated[str, typer.Option(help="原因（记入账本）/ reason (recorded in the ledger)")]
SecretFile = Annotated[
    Path | None,
    typer.Option(
        "--secret-file",
        help="HMAC 共享密钥文件（不给则生成并显示一次）/ the HMAC shared secret (else generated)",
    ),
]
AuthOption = Annotated[
    str | None,
    typer.Option(
        "--auth", help="认证方式：hmac、mtls 或 none / authentication: hmac, mtls or none"
    ),
]
CertOption = Annotated[
    str | None, typer.Option("--cert", help="双向 TLS 客户端证书 / mTLS client certificate")
]
KeyOption = Annotated[
    str | None, typer.Option("--key", help="双向 TLS 客户端私钥 / mTLS client key")
]
CaOption = Annotated[
    str | None, typer.Option("--ca", help="校验平台证书的 CA（可选）/ CA for the platform's cert")
]
MaxTries = Annotated[
    int | None,
    typer.Option("--max-tries", help="失败多少次后转入死信（默认 10）/ tries before dead letter"),
]
BatchOption = Annotated[
    int | None,
    typer.Option(
        "--batch",
        help="每次请求的记录数（1：单条结构化模式；更多：批量模式）/ records per request",
    ),
]

SUBSCRIBER_LABELS = {
    "name": "平台",
    "status_zh": "状态",
    "endpoint": "接收地址",
    "kinds_zh": "记录",
    "departments_zh": "部门",
    "auth_zh": "认证",
    "max_tries": "最多尝试",
    "batch": "每次条数",
    "pending": "待推送",
    "delivered": "已送达",
    "dead": "死信",
    "cancelled": "已取消",
}
OUTBOX_LABELS = {
    "subscriber": "平台",
    "seq": "账本序号",
    "kind_zh": "记录",
    "status_zh": "状态",
    "tries": "已尝试",
    "next_at": "下次尝试（UTC）",
    "delivered_at": "送达时间（UTC）",
    "reference": "回执",
    "last_error": "最近错误",
}


def _service(services: Services) -> SubscriberService:
    from ssj.services.delivery import SubscriberService

    return SubscriberService(services)


def _secret(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as e:
        fail(ValidationError(f"无法读取密钥文件 {path}：{e.strerror}", f"cannot read {path}"))


def _table(labels: dict[str, str], rows: list[dict[str, Any]], title: str | None = None) -> None:
    table = Table(title=title, header_style="bold", highlight=False)
    for label in labels.values():
        table.add_column(label, overflow="fold")
    for row in rows:
        table.add_row(*(Text("" if row.get(k) is None else str(row[k])) for k in labels))
    out.print(table)


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    counts = row.get("counts", {})
    return {
        **row,
        "status_zh": SUBSCRIBER_STATUS_LABELS_ZH[SubscriberStatus(row["status"])],
        "kinds_zh": "、".join(RECORD_KIND_LABELS_ZH[RecordKind(k)] for k in row["kinds"]),
        "departments_zh": "、".join(row["departments"]) or "全部",
        "auth_zh": AUTH_LABELS_ZH[AuthMethod(row["auth"]["method"])],
        **{k: counts.get(k, 0) for k in ("pending", "delivered", "dead", "cancelled")},
    }


def _generated(secret: bytes | None) -> None:
    if secret is not None:
        _line("HMAC 共享密钥（仅显示这一次，请交给接收平台）/ the shared secret, shown once:")
        _line(secret.decode())


# ssj subscribers ---------------------------------------------------------------------------------


@subscribers_app.command("add")
def subscribers_add(
    name: Annotated[str, typer.Argument(help="平台名称，如 信用常州 / the platform's name")],
    endpoint: Annotated[str, typer.Argument(help="接收地址 http(s)://… / its endpoint")],
    kinds: Annotated[
        str,
        typer.Option(help="记录种类：results（检查结果）、penalties（行政处罚），逗号分隔 / kinds"),
    ],
    department: Annotated[
        list[str] | None,
        typer.Option(
            "--department", help="只推送这些部门的记录（可重复；默认全部）/ only these departments"
        ),
    ] = None,
    auth: AuthOption = None,
    secret_file: SecretFile = None,
    cert: CertOption = None,
    key: KeyOption = None,
    ca: CaOption = None,
    max_tries: MaxTries = None,
    batch: BatchOption = None,
    from_seq: Annotated[
        int | None,
        typer.Option(
            "--from-seq",
            help="从此账本序号起的记录（默认只推送登记之后的；0：全部历史）/ records from this seq",
        ),
    ] = None,
    full_ids: Annotated[
        bool,
        typer.Option(
            "--full-ids",
            help="在“证件号码”中报送完整身份证号码（须 https 与法律依据）/ full identity numbers",
        ),
    ] = False,
    legal_basis: Annotated[
        str, typer.Option("--legal-basis", help="报送完整号码的法律依据 / the legal basis")
    ] = "",
    as_user: AsUser = None,
) -> None:
    """登记接收平台（管理员）/ register a receiving platform (administrators)."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        subscriber, generated = _service(services).add(
            principal,
            name,
            endpoint,
            kinds,
            departments=department or [],
            auth=auth,
            secret=_secret(secret_file),
            cert=cert,
            key=key,
            ca=ca,
            max_tries=max_tries,
            batch=batch,
            from_seq=from_seq,
            full_ids=full_ids,
            legal_basis=legal_basis,
        )
    _line(f"已登记接收平台 / registered: {subscriber.name} → {subscriber.endpoint}")
    _line(f"起始账本序号 / from seq: {subscriber.from_seq}")
    _generated(generated)


@subscribers_app.command("update")
def subscribers_update(
    name: Annotated[str, typer.Argument(help="平台名称 / the platform")],
    reason: Reason,
    endpoint: Annotated[str | None, typer.Option(help="新接收地址 / new endpoint")] = None,
    auth: AuthOption = None,
    secret_file: SecretFile = None,
    cert: CertOption = None,
    key: KeyOption = None,
    ca: CaOption = None,
    max_tries: MaxTries = None,
    batch: BatchOption = None,
    as_user: AsUser = None,
) -> None:
    """修改接收地址、认证方式或推送设置（记录种类与部门不变）/ update a platform."""
    settings: dict[str, object] = {}
    if max_tries is not None:
        settings["max_tries"] = max_tries
    if batch is not None:
        settings["batch"] = batch
    with services_session() as services:
        principal = current_principal(services, as_user)
        subscriber, generated = _service(services).update(
            principal,
            name,
            reason=reason,
            endpoint=endpoint,
            auth=auth,
            secret=_secret(secret_file),
            cert=cert,
            key=key,
            ca=ca,
            settings=settings,
        )
    _line(f"已修改接收平台 / updated: {subscriber.name} → {subscriber.endpoint}")
    _generated(generated)


@subscribers_app.command("list")
def subscribers_list(fmt: ListFormatOption = ListFormat.table, as_user: AsUser = None) -> None:
    """接收平台及其推送情况 / the platforms and their outbox counts."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        rows = _service(services).listing(principal)
    if fmt is ListFormat.json:
        print_json(rows)
        return
    _table(SUBSCRIBER_LABELS, [_shown(r) for r in rows], "接收平台 / platforms")


@subscribers_app.command("show")
def subscribers_show(
    name: Annotated[str, typer.Argument(help="平台名称 / the platform")],
    as_user: AsUser = None,
) -> None:
    """一个接收平台（JSON）/ one platform, as JSON."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        print_json(_service(services).show(principal, name))


DONE = {"pause": "已暂停", "resume": "已恢复", "remove": "已移除"}


def _change(verb: str) -> Any:
    def command(
        name: Annotated[str, typer.Argument(help="平台名称 / the platform")],
        reason: Reason = "",
        as_user: AsUser = None,
    ) -> None:
        with services_session() as services:
            principal = current_principal(services, as_user)
            getattr(_service(services), verb)(principal, name, reason)
        _line(f"{DONE[verb]} / {verb}: {name}")

    return command


subscribers_app.command(
    "pause", help="暂停推送（记录留在队列中）/ pause: records wait in the queue"
)(_change("pause"))
subscribers_app.command("resume", help="恢复推送 / resume delivery")(_change("resume"))
subscribers_app.command(
    "remove", help="移除平台（待推送记录取消，留痕）/ remove: pending records are cancelled"
)(_change("remove"))


# ssj deliver -------------------------------------------------------------------------------------


@deliver_app.callback()
def deliver(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="推送当前待推送的记录后退出（用于定时任务）/ deliver what is due, then exit",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="单次请求超时（秒）/ request timeout, s")] = 10.0,
    backoff: Annotated[
        float, typer.Option(help="首次重试等待（秒，指数增长带抖动）/ first backoff, s")
    ] = 2.0,
    backoff_max: Annotated[
        float, typer.Option("--backoff-max", help="最长重试等待（秒）/ backoff cap, s")
    ] = 3600.0,
    chunk: Annotated[
        int,
        typer.Option(
            help="每次从平台队列读取的记录数（一轮最长 5 秒，可连续多批）/ records read from a "
            "platform's queue at once (its turn, up to 5 s, goes on chunk after chunk)"
        ),
    ] = 500,
    poll: Annotated[float, typer.Option(help="轮询间隔（秒）/ poll interval, s")] = 1.0,
) -> None:
    """推送归集记录：常驻运行，或 --once 推送后退出（仍有未送达记录时退出码为 1）/ run the
    delivery worker; with --once, exit 1 if any record is still undelivered."""
    if ctx.invoked_subcommand is not None:
        return
    from ssj.services.delivery import DeliveryWorker

    with services_session() as services:
        worker = DeliveryWorker(
            services,
            timeout=timeout,
            backoff_base=backoff,
            backoff_cap=backoff_max,
            chunk=chunk,
        )
        stop = threading.Event()
        if not once:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())

        def report(done: Any) -> None:
            if done.attempted and not once:
                err.print(
                    f"送达 {done.delivered}，失败 {done.failed}，死信 {done.dead} / delivered "
                    f"{done.delivered}, failed {done.failed}, dead {done.dead}",
                    highlight=False,
                )

        total = worker.run(once=once, stop=stop, poll=poll, on_pass=report)
        left = worker.undelivered()
    _line(
        f"送达 {total.delivered} 条，失败 {total.failed} 次，转入死信 {total.dead} 条，"
        f"未送达 {left} 条 / delivered {total.delivered}, failed {total.failed}, "
        f"dead-lettered {total.dead}, undelivered {left}"
    )
    if once and left:
        raise typer.Exit(EXIT_UNDELIVERED)


@deliver_app.command("retry")
def deliver_retry(
    name: Annotated[str, typer.Argument(help="平台名称 / the platform")],
    seq: Annotated[
        list[int] | None,
        typer.Option("--seq", help="只重推这些账本序号的死信（可重复；默认全部）/ these only"),
    ] = None,
    reason: Reason = "",
    as_user: AsUser = None,
) -> None:
    """死信重新排队推送（管理员）/ put dead letters back in the queue."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        retried = _service(services).retry(principal, name, seq or [], reason)
    _line(f"已重新排队 {len(retried)} 条 / requeued: {', '.join(map(str, retried))}")


@deliver_app.command("status")
def deliver_status(
    subscriber: Annotated[str | None, typer.Option(help="平台 / the platform")] = None,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="pending、delivered、dead、cancelled（可重复）/ statuses"),
    ] = None,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    fmt: ListFormatOption = ListFormat.table,
    as_user: AsUser = None,
) -> None:
    """推送队列：每个平台每条记录的状态（死信：--status dead）/ the outbox."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        total, rows = _service(services).deliveries(
            principal, subscriber=subscriber, statuses=status or [], offset=offset, limit=limit
        )
    if fmt is ListFormat.json:
        print_json({"total": total, "offset": offset, "limit": limit, "items": rows})
        return
    shown = [{**r, "kind_zh": RECORD_KIND_LABELS_ZH[RecordKind(r["kind"])]} for r in rows]
    _table(OUTBOX_LABELS, shown, f"推送队列 / outbox（共 {total} 条）")


@deliver_app.command("export")
def deliver_export(
    kind: Annotated[str, typer.Option(help="results 或 penalties / the record kind")],
    start: Annotated[str, typer.Option("--from", metavar="YYYY-MM-DD", help="起始日期 / from")],
    end: Annotated[str, typer.Option("--to", metavar="YYYY-MM-DD", help="截止日期 / to")],
    output: Annotated[Path, typer.Option("--output", "-o", help="输出文件 / output file")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="xlsx 或 csv（默认按文件名）/ xlsx or csv")
    ] = None,
    as_user: AsUser = None,
) -> None:
    """按标准中文表头导出记录（前置机上传）：成为记录的日期（北京时间）在起止日期内 / export the
    records (standard Chinese headers) for a front-end exchange server."""
    from ssj.services.delivery import FeedService

    chosen = fmt or (output.suffix.lstrip(".").lower() or "xlsx")
    with services_session() as services:
        principal = current_principal(services, as_user)
        try:
            data, count = FeedService(services).export(principal, kind, start, end, chosen)
        except SsjError as e:
            fail(e)
    output.write_bytes(data)
    _line(f"已导出 {count} 条记录到 {output} / wrote {count} records")

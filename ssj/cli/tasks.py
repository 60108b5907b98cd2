"""Inspection-task commands (抽查任务): notify the target, record results (drafted by one team
member, signed by another), complete, inform the target, its confirmation or objection and a
leader's decision, publish or withhold, close; list and show.

A task is named by its id, or by its draw and target: `DRAW/IDENTIFIER`, the draw by its id or
label (`CZ-SJJ-TZ/2026-01/第1轮/91320402MA…`). Dates are YYYY-MM-DD, today (Beijing time) if left
out. Who acts: `--as USER` or `SSJ_USER`; results only as an inspector on the task's team, by
the certificate the user is linked to (`ssj users link-certificate`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ssj.cli.common import AsUser, current_principal, fail, services_session
from ssj.cli.draws import (
    ListFormat,
    ListFormatOption,
    _check_paging,
    _line,
    _people,
    _scope,
    _when,
)
from ssj.cli.registry import (
    USER_HELP,
    Limit,
    Offset,
    Reason,
    _print_table,
    _write_json_array,
)
from ssj.domain.access import Command
from ssj.domain.tasks import (
    CATEGORY_LABELS_ZH,
    EVENT_LABELS_ZH,
    METHOD_NAMES_ZH,
    STATUS_LABELS_ZH,
    Task,
)
from ssj.errors import ValidationError
from ssj.presentation.views import View
from ssj.services import draw_records as records

if TYPE_CHECKING:
    from ssj.services.context import Services
    from ssj.services.tasks import TaskService

tasks_app = typer.Typer(
    help=f"抽查任务：通知、检查结果、告知、异议、公示、办结 / inspection tasks {USER_HELP}",
    no_args_is_help=True,
)

TaskRef = Annotated[
    str,
    typer.Argument(
        metavar="TASK",
        help="任务编号，或 抽取/检查对象标识（如 CZ-SJJ-TZ/2026-01/第1轮/统一社会信用代码）/ the "
        "task id, or DRAW/IDENTIFIER",
        show_default=False,
    ),
]
ItemArg = Annotated[
    str, typer.Argument(metavar="ITEM", help="抽查事项 部门/事项编码 / the item as DEPT/CODE")
]
DateOption = Annotated[
    str | None,
    typer.Option("--date", metavar="YYYY-MM-DD", help="日期（默认今天）/ date (default: today)"),
]

STATUS_VALUES = {s.value: zh for s, zh in STATUS_LABELS_ZH.items()}
CATEGORY_VALUES = {c.value: zh for c, zh in CATEGORY_LABELS_ZH.items()}

TASKS = View(
    table="tasks",
    labels={
        "label": "抽取",
        "identifier": "检查对象",
        "status": "状态",
        "category": "检查结果",
        "notified_on": "通知日期",
        "completed_on": "检查完成日期",
        "published_on": "公示日期",
        "closed_on": "办结日期",
        "task_id": "任务编号",
    },
    columns=(
        "label",
        "identifier",
        "status",
        "category",
        "notified_on",
        "completed_on",
        "published_on",
        "closed_on",
        "task_id",
    ),
    values={"status": STATUS_VALUES, "category": CATEGORY_VALUES},
)


def _service(services: Services) -> TaskService:
    from ssj.services.tasks import TaskService

    return TaskService(services)


def status_label(status: str) -> str:
    return f"{STATUS_VALUES.get(status, status)} {status}"


def category_label(category: str | None) -> str:
    return "—" if category is None else f"{CATEGORY_VALUES.get(category, category)} {category}"


def _done(what: str, task: Task) -> None:
    _line(f"{what}: {task.identifier}（{status_label(task.status.value)}）")
    _line(f"任务编号 / task id: {task.id}")


# Notification and results ----------------------------------------------------------------------


@tasks_app.command("notify")
def tasks_notify(
    task_ref: TaskRef,
    how: Annotated[
        str, typer.Option(help="通知方式（如 电话通知、书面通知、现场告知）/ how notified")
    ],
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """通知检查对象，任务开始 / notify the target: the task begins."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        task = _service(services).notify(principal, task_ref, on, how)
    _done("已通知 / notified", task)
    _line(f"抽查事项 / items: {'、'.join(task.item_keys)}")


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as e:
        raise ValidationError(
            f"无法读取证据文件 {path}：{e.strerror}",
            f"cannot read evidence file {path}: {e.strerror}",
        ) from None
    return h.hexdigest()


@tasks_app.command("result")
def tasks_result(
    task_ref: TaskRef,
    item: ItemArg,
    method: Annotated[
        str, typer.Option(help="检查方式：现场检查、书面检查、网络检查、专业机构核查 / method")
    ],
    findings: Annotated[str, typer.Option(help="检查情况 / what was found")],
    category: Annotated[
        str,
        typer.Option(
            help="检查结果类别（中文或代码，如 未发现问题、发现问题已责令改正）/ result category"
        ),
    ],
    evidence: Annotated[
        list[str] | None,
        typer.Option(
            "--evidence",
            metavar="SHA256",
            help="证据文件的 SHA-256 摘要，可多次 / an evidence file's SHA-256 (repeat)",
        ),
    ] = None,
    evidence_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--evidence-file",
            metavar="FILE",
            help="证据文件（只记录其 SHA-256，文件留在账本外），可多次 / an evidence file: only "
            "its SHA-256 is recorded (repeat)",
        ),
    ] = None,
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """起草一项检查结果（检查组成员，第一签）/ draft an item's result (team member: 1st sign-off)."""
    with services_session() as services:
        digests = [*(evidence or []), *(_digest(p) for p in evidence_file or [])]
        principal = current_principal(services, as_user)
        task, outcome = _service(services).draft_result(
            principal,
            task_ref,
            item,
            method=method,
            inspected_on=on,
            findings=findings,
            evidence=digests,
            category=category,
        )
    key = item.strip().replace(" ", "")
    result = task.results[key]
    if outcome == "unchanged":
        _done(
            f"相同的检查结果草稿已有记录，未重复写入 / an identical draft is on record, nothing "
            f"written: {key} {category_label(result['category'])}",
            task,
        )
    else:
        _done(f"已起草 / drafted: {key} {category_label(result['category'])}", task)
    _line(
        f"待检查组另一名成员签署 / awaiting a second team member's signature: "
        f"ssj tasks sign {task.id} {key}"
    )


@tasks_app.command("sign")
def tasks_sign(task_ref: TaskRef, item: ItemArg, as_user: AsUser = None) -> None:
    """签署一项检查结果（检查组中起草人以外的成员）/ countersign an item's result."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        task = _service(services).sign_result(principal, task_ref, item)
    key = item.strip().replace(" ", "")
    result = task.results[key]
    _done(
        f"已签署 / signed: {key}，起草 drafted by {result['drafted_by']}，签署 signed by "
        f"{result['signed_by']}",
        task,
    )
    if not task.unsigned():
        _line(
            f"全部事项已两人签署，可办结检查 / every item is signed by two: "
            f"ssj tasks complete {task.id} --date YYYY-MM-DD"
        )


@tasks_app.command("complete")
def tasks_complete(task_ref: TaskRef, on: DateOption = None, as_user: AsUser = None) -> None:
    """检查完成（统一离场；各事项须已两人签署）/ the inspection is complete."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        task = _service(services).complete(principal, task_ref, on)
    _done(f"检查完成 / inspected: {task.completed_on}", task)


# The target's say ------------------------------------------------------------------------------


@tasks_app.command("inform")
def tasks_inform(task_ref: TaskRef, on: DateOption = None, as_user: AsUser = None) -> None:
    """告知检查对象检查结果 / inform the target of the result."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        task = _service(services).inform(principal, task_ref, on)
    _done(f"已告知 / informed: {task.informed_on}", task)


@tasks_app.command("confirm")
def tasks_confirm(task_ref: TaskRef, as_user: AsUser = None) -> None:
    """登记检查对象无异议 / record the target's confirmation."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        task = _service(services).confirm(principal, task_ref)
    _done("已登记无异议 / confirmed", task)


@tasks_app.command("object")
def tasks_object(task_ref: TaskRef, reason: Reason, as_user: AsUser = None) -> None:
    """登记检查对象的异议及理由，待领导决定 / record the target's objection, for a leader."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        task = _service(services).record_objection(principal, task_ref, reason)
    _done("已登记异议 / objection recorded", task)
    _line(
        f"待领导决定 / for a leader to decide: ssj tasks decide-objection {task.id} "
        "--uphold|--reject --reason …"
    )


@tasks_app.command("decide-objection")
def tasks_decide_objection(
    task_ref: TaskRef,
    reason: Reason,
    uphold: Annotated[
        bool | None,
        typer.Option(
            "--uphold/--reject",
            help="异议成立（结果重新录入）或不成立（维持结果）/ uphold (results reopened) or reject",
            show_default=False,
        ),
    ] = None,
    as_user: AsUser = None,
) -> None:
    """决定异议（领导）/ decide the target's objection (leader)."""
    if uphold is None:
        fail(ValidationError("请用 --uphold 或 --reject 指明决定", "give --uphold or --reject"))
    with services_session() as services:
        principal = current_principal(services, as_user)
        task = _service(services).decide_objection(principal, task_ref, uphold, reason)
    if uphold:
        _done("异议成立，检查结果须重新录入 / objection upheld: the results are reopened", task)
    else:
        _done("异议不成立，维持检查结果 / objection rejected: the result stands", task)


# Publication (一公开) and closure --------------------------------------------------------------


@tasks_app.command("publish")
def tasks_publish(
    task_ref: TaskRef,
    summary: Annotated[str, typer.Option(help="公示内容 / the public summary")],
    redact: Annotated[
        list[str] | None,
        typer.Option(
            "--redact",
            metavar="FIELD",
            help="不公开的字段（商业秘密、个人信息），可多次 / a field withheld from the public "
            "(repeat)",
        ),
    ] = None,
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """公示检查结果 / publish the result."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        task = _service(services).publish(
            principal, task_ref, public_summary=summary, redacted_fields=redact or [], on=on
        )
    assert task.publication is not None
    _done(f"已公示 / published: {task.publication['on']}", task)


@tasks_app.command("withhold")
def tasks_withhold(
    task_ref: TaskRef,
    reason: Reason,
    until_final: Annotated[
        bool | None,
        typer.Option(
            "--until-final/--for-good",
            help="暂缓至结果最终确定后公示（如待检验检测结果），或不予公示 / withhold until the "
            "result is final (it may be published then), or for good",
            show_default=False,
        ),
    ] = None,
    as_user: AsUser = None,
) -> None:
    """暂不公示检查结果（须说明理由）/ withhold the result, with a reason."""
    if until_final is None:
        fail(
            ValidationError(
                "请用 --until-final 或 --for-good 指明暂缓公示还是不予公示",
                "give --until-final or --for-good",
            )
        )
    with services_session() as services:
        principal = current_principal(services, as_user)
        task = _service(services).withhold(principal, task_ref, reason, until_final)
    kind = (
        "暂缓公示，待结果最终确定 / withheld until final"
        if until_final
        else "不予公示 / withheld for good"
    )
    _done(kind, task)


@tasks_app.command("close")
def tasks_close(task_ref: TaskRef, on: DateOption = None, as_user: AsUser = None) -> None:
    """办结任务（已公示，或不予公示）/ close the task (published, or withheld for good)."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        task = _service(services).close(principal, task_ref, on)
    _done(f"已办结 / closed: {task.closed_on}", task)


# Reading ---------------------------------------------------------------------------------------


def _all(service: TaskService, **filters: Any) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        page = service.page(**filters, offset=offset, limit=1000)
        yield from page.rows
        offset += len(page.rows)
        if not page.rows or offset >= page.total:
            return


@tasks_app.command("list")
def tasks_list(
    draw: Annotated[
        str | None,
        typer.Option("--draw", metavar="DRAW", help="抽取编号或标签 / the draw, id or label"),
    ] = None,
    department: Annotated[
        str | None, typer.Option(help="牵头或参与的部门 / a department leading or joining")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(help="状态（中文或代码，如 待检查、已办结、closed）/ status, label or code"),
    ] = None,
    category: Annotated[
        str | None, typer.Option(help="检查结果类别（中文或代码）/ result category")
    ] = None,
    target: Annotated[str | None, typer.Option(help="检查对象标识 / target identifier")] = None,
    fmt: ListFormatOption = ListFormat.table,
    offset: Offset = 0,
    limit: Limit = 100,
    as_user: AsUser = None,
) -> None:
    """列出抽查任务 / list tasks (your department's, or all for supervisors and reviewers)."""
    with services_session() as services:
        _check_paging(offset, limit)
        principal = current_principal(services, as_user)
        involving = _scope(services, principal, department)
        service = _service(services)
        filters: dict[str, Any] = {
            "draw": draw,
            "status": status,
            "category": category,
            "identifier": target,
            "involving": involving,
        }
        if fmt is ListFormat.json:
            _write_json_array(_all(service, **filters))
            return
        page = service.page(**filters, offset=offset, limit=limit)
    _print_table(TASKS, page.rows, page.total, offset, None)


@tasks_app.command("show")
def tasks_show(task_ref: TaskRef, as_user: AsUser = None) -> None:
    """查看一项抽查任务：检查组、各事项结果与签署、告知、异议、公示、经过 / show one task."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        service = _service(services)
        row = service.row(task_ref)
        services.authorise(principal, Command.READ_REGISTRY, row["departments"])
        events = service.events(row["task_id"])
        results = row["results"]
        people = records.names(
            services,
            "inspectors",
            [
                *row["inspectors"],
                *row["experts"],
                *(c for r in results.values() for c in (r["drafted_by"], r["signed_by"]) if c),
            ],
        )
        target = records.names(services, "targets", [row["identifier"]])[row["identifier"]]
    _print_task(row, people, target)
    if events:
        _line("经过 / events:")
    for e in events:
        name = type(e.event).__name__
        _line(
            f"  序号 seq {e.seq}  {_when(e.recorded_at)}  {EVENT_LABELS_ZH.get(name, name)} {name}  "
            f"{e.actor.user}（{e.actor.department}，{e.actor.role}）"
        )


def _print_task(row: Mapping[str, Any], people: Mapping[str, str], target: str) -> None:
    _line(f"抽查任务 / task: {row['label']} {row['identifier']} {target}")
    _line(f"任务编号 / task id: {row['task_id']}")
    _line(f"状态 / status: {status_label(row['status'])}")
    _line(
        f"抽取日期 / drawn on: {row['drawn_on']}；参与部门 / departments: "
        f"{'、'.join(row['departments'])}"
    )
    experts = f"；专家 / experts: {_people(people, row['experts'])}" if row["experts"] else ""
    _line(f"检查组 / team: {_people(people, row['inspectors'])}{experts}")
    if row["notified_on"]:
        _line(f"通知 / notified: {row['notified_on']}，{row['notified_how']}")
    _line(f"检查结果 / result: {category_label(row['category'])}")
    results: Mapping[str, Any] = row["results"]
    for item in row["items"]:
        r = results.get(item)
        if r is None:
            _line(f"  {item}：尚未录入 / no result yet")
            continue
        signed = (
            f"签署 signed {_people(people, [r['signed_by']])}"
            if r["signed_by"]
            else "待第二人签署 / awaiting the second signature"
        )
        method = METHOD_NAMES_ZH.get(r["method"], r["method"])
        _line(
            f"  {item}：{category_label(r['category'])}；{method}，{r['inspected_on']}；"
            f"起草 drafted {_people(people, [r['drafted_by']])}，{signed}"
        )
        _line(f"    检查情况 / findings: {r['findings']}")
        for digest in r["evidence"]:
            _line(f"    证据 / evidence SHA-256: {digest}")
    dated: Sequence[tuple[str, str]] = (
        ("completed_on", "检查完成 / completed"),
        ("informed_on", "告知 / informed"),
    )
    for key, label in dated:
        if row[key]:
            _line(f"{label}: {row[key]}")
    objection = row["objection"]
    if objection:
        decided = {
            None: "待领导决定 / pending",
            True: f"异议成立 / upheld：{objection['decision']}",
            False: f"异议不成立 / rejected：{objection['decision']}",
        }[objection["upheld"]]
        _line(f"异议 / objection: {objection['reason']}；{decided}")
    if row["withheld"]:
        w = row["withheld"]
        kind = "暂缓至结果最终确定 / until final" if w["until_final"] else "不予公示 / for good"
        _line(f"暂不公示 / withheld: {kind}；理由 reason: {w['reason']}")
    if row["published_on"]:
        redacted = "、".join(row["redacted_fields"]) or "无 none"
        _line(
            f"公示 / published: {row['published_on']}；不公开字段 / redacted: {redacted}；"
            f"公示内容 / summary: {row['public_summary']}"
        )
    if row["closed_on"]:
        _line(f"办结 / closed: {row['closed_on']}")

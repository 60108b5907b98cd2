"""Draw commands (随机抽取): the seed ceremony — commit, dice, drand, reveal — abandonment and
recusal (回避), and the auditors' tools: list, show, verify, export.

A draw is named by its id (a UUID) or by its label, `DEPT/CODE/第N轮` (or `DEPT/CODE/N`): the id
follows from the plan and the round. Who acts: `--as USER` or `SSJ_USER`, as for the registries.
Nothing printed before the reveal helps anyone guess the seed: the server's nonce stays in its
file, and only its SHA-256 commitment is shown, until the reveal records it.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import orjson
import typer
from rich.table import Table
from rich.text import Text

from ssj.cli.common import (
    EXIT_DAMAGE,
    AsUser,
    current_principal,
    err,
    fail,
    out,
    print_json,
    services_session,
)
from ssj.cli.registry import (
    USER_HELP,
    Limit,
    Offset,
    Reason,
    _atomic_write,
    _print_table,
    _write_json_array,
)
from ssj.domain import fields
from ssj.domain.access import ALLOWED, Command, Principal
from ssj.domain.draws import STATUS_LABELS_ZH, Draw, DrawStatus
from ssj.domain.tasks import STATUS_LABELS_ZH as TASK_STATUS_LABELS_ZH
from ssj.draw.facts import Pools, Stratum
from ssj.errors import ValidationError
from ssj.presentation.views import View
from ssj.services import draw_records as records

if TYPE_CHECKING:
    from ssj.services.context import Services
    from ssj.services.draws import DrawService, Verification

draws_app = typer.Typer(
    help=f"随机抽取：封存、骰子、揭示、回避、核验 / draws: the seed ceremony {USER_HELP}",
    no_args_is_help=True,
)

CHINA = ZoneInfo("Asia/Shanghai")
LARGE_POPULATION = 100_000  # a spinner while verifying a registry this large (or replaying)
STATUS_CHOICES = {zh: status for status, zh in STATUS_LABELS_ZH.items()}
TASK_STATUS_LABELS = {s.value: zh for s, zh in TASK_STATUS_LABELS_ZH.items()}

DrawRef = Annotated[
    str,
    typer.Argument(
        metavar="DRAW",
        help="抽取编号，或 部门/计划编号/第N轮 / the draw id, or its label DEPT/CODE/第N轮",
        show_default=False,
    ),
]
TargetArg = Annotated[
    str, typer.Argument(metavar="TARGET", help="检查对象标识 / the drawn target's identifier")
]
CertificateArg = Annotated[
    str, typer.Argument(metavar="CERT", help="执法证号 / the team member's certificate number")
]


class ListFormat(StrEnum):
    table = "table"
    json = "json"


ListFormatOption = Annotated[
    ListFormat, typer.Option("--format", "-f", help="输出格式 / output: table or json")
]

DRAWS = View(
    table="draws",
    labels={
        "label": "抽取",
        "status": "状态",
        "drawn_on": "抽取日期",
        "as_of_seq": "名录序号",
        "sample_size": "抽取数",
        "recusals": "回避",
        "pending_requests": "待决回避申请",
        "draw_id": "抽取编号",
    },
    columns=(
        "label",
        "status",
        "drawn_on",
        "as_of_seq",
        "sample_size",
        "recusals",
        "pending_requests",
        "draw_id",
    ),
    values={"status": {s.value: zh for s, zh in STATUS_LABELS_ZH.items()}},
)


def _service(services: Services) -> DrawService:
    from ssj.services.draws import DrawService

    return DrawService(services)


def _line(text: str) -> None:
    out.print(text, highlight=False, markup=False)


def _when(recorded_at: str | None) -> str:
    """A ledger time (UTC) as officials read it: Beijing time."""
    if not recorded_at:
        return ""
    local = datetime.fromisoformat(recorded_at).astimezone(CHINA)
    return f"{local:%Y-%m-%d %H:%M:%S} 北京时间"


def _person(names: Mapping[str, str], certificate_no: str) -> str:
    name = names.get(certificate_no) or "?"
    return f"{name}（{certificate_no}）"


def _people(names: Mapping[str, str], members: Sequence[str]) -> str:
    return "、".join(_person(names, c) for c in members) or "—"


def _short(root: str) -> str:
    return root[:16] + "…"


def _check_paging(offset: int, limit: int) -> None:
    if offset < 0 or not 1 <= limit <= 1000:
        raise ValidationError(
            "分页参数无效（offset ≥ 0，1 ≤ limit ≤ 1000）",
            "invalid paging (offset >= 0, 1 <= limit <= 1000)",
        )


# What a commit fixed -----------------------------------------------------------------------------


def _strata_table(strata: Sequence[Stratum], *, short: bool) -> None:
    table = Table(header_style="bold", highlight=False)
    for header in ("层", "名称", "总体数", "抽取数", "默克尔根 / Merkle root"):
        table.add_column(header, overflow="fold")
    for s in strata:
        root = _short(s.root) if short else s.root
        table.add_row(
            Text(s.name),
            Text(records.stratum_label(s.name)),
            str(s.size),
            str(s.k),
            Text(root),
        )
    out.print(table)


def _exclusions(exclusions: Mapping[str, int]) -> None:
    total = sum(exclusions.values())
    if not total:
        _line("排除 / excluded: 无 none")
        return
    _line(f"排除 / excluded: {total}")
    for reason, count in exclusions.items():
        _line(f"  {records.reason_label(reason)}（{reason}）：{count}")


def _pools(pools: Pools, *, short: bool) -> None:
    for department, pool in pools.inspectors.items():
        root = _short(pool.root) if short else pool.root
        _line(f"检查人员库 / inspector pool {department}：{pool.size} 人，根 root {root}")
    experts = pools.experts
    if experts.size:
        root = _short(experts.root) if short else experts.root
        _line(f"专家库 / expert pool：{experts.size} 人，根 root {root}")


def _awaiting(draw: Draw) -> None:
    """What the reveal still waits for, and the command that gives it."""
    ref = str(draw.id)
    missing = draw.entropy_missing()
    if not missing:
        _line(f"熵源已齐备，可以揭示 / entropy complete, ready to reveal: ssj draws reveal {ref}")
        return
    _line("待录入 / awaiting: " + "；".join(missing))
    named = draw.committed.entropy.drand
    if any(w not in dict(draw.dice) for w in draw.witnesses):
        _line(f"  ssj draws dice {ref} --witness 见证人 --digits 点数")
    if named is not None and draw.drand is None:
        at = datetime.fromtimestamp(named.round_time, CHINA)
        _line(
            f"  drand 第 {named.round} 轮于 {at:%Y-%m-%d %H:%M:%S} 北京时间产生 / published at "
            f"{at.isoformat()}: 取得信标后 ssj draws drand {ref} 信标.json"
        )


def _print_commit(draw: Draw) -> None:
    facts = draw.committed
    _line(f"已封存 / draw committed: {facts.label}")
    _line(f"抽取编号 / draw id: {draw.id}")
    _line(
        f"抽取日期 / drawn on: {facts.drawn_on}；实施期限 / window: "
        f"{facts.window[0]} – {facts.window[1]}"
    )
    _line(
        f"名录 / registry as of seq {facts.as_of_seq}：考虑 considered {facts.considered}，"
        f"符合条件 eligible {facts.eligible}"
    )
    _strata_table(facts.strata, short=True)
    _exclusions(facts.exclusions)
    _pools(facts.pools, short=True)
    _line(f"见证人 / witnesses: {'、'.join(draw.witnesses)}")
    _line(f"服务器随机数承诺 / nonce commitment (SHA-256): {facts.nonce_commitment}")
    _awaiting(draw)


# The ceremony ----------------------------------------------------------------------------------


@draws_app.command("commit")
def draws_commit(
    department: Annotated[str, typer.Argument(help="牵头部门编码 / lead department code")],
    code: Annotated[str, typer.Argument(metavar="PLAN_CODE", help="计划编号 / plan code")],
    witness: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            metavar="NAME",
            help="见证人姓名，可多次（1–10 人）/ a witness who will give dice (repeat)",
        ),
    ] = None,
    drand_round: Annotated[
        int | None,
        typer.Option(
            "--drand-round",
            metavar="N",
            help="同时采用 drand quicknet 未来第 N 轮的随机数 / also use future drand round N",
        ),
    ] = None,
    drawn_on: Annotated[
        str | None,
        typer.Option("--date", metavar="YYYY-MM-DD", help="抽取日期（默认今天）/ draw date"),
    ] = None,
    as_user: AsUser = None,
) -> None:
    """封存：冻结名录、人员库与规则，承诺服务器随机数 / commit a draw of a published plan."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        draw, outcome = _service(services).commit(
            principal, department, code, list(witness or []), drand_round, drawn_on
        )
    if outcome == "unchanged":
        _line(
            f"相同的抽取已封存、尚未揭示：{draw.committed.label}（{draw.id}），未重复封存 / an "
            f"identical draw is committed and not yet revealed: {draw.id}; nothing written"
        )
    _print_commit(draw)


@draws_app.command("dice")
def draws_dice(
    draw_ref: DrawRef,
    witness: Annotated[str, typer.Option(help="见证人姓名（封存时登记的）/ the witness")],
    digits: Annotated[str, typer.Option(help="骰子点数（十进制数字）/ the dice, decimal digits")],
    as_user: AsUser = None,
) -> None:
    """录入见证人的骰子点数 / record a witness's dice."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        draw = _service(services).record_dice(principal, records.resolve(draw_ref), witness, digits)
    given, recorded = draw.dice[-1]
    _line(
        f"已录入 / dice recorded: {draw.committed.label} 见证人 witness {given}："
        f"{len(recorded)} 位 digits"
    )
    _awaiting(draw)


@draws_app.command("drand")
def draws_drand(
    draw_ref: DrawRef,
    beacon: Annotated[
        str,
        typer.Argument(
            metavar="BEACON.json",
            help="drand 信标 JSON 文件，- 为标准输入 / the beacon's JSON file, - for stdin",
        ),
    ],
    as_user: AsUser = None,
) -> None:
    """录入 drand 信标（离线校验）/ record the drand beacon (checked offline)."""
    with services_session() as services:
        raw = _read_input(beacon)
        principal = current_principal(services, as_user)
        draw = _service(services).record_drand(principal, records.resolve(draw_ref), raw)
    assert draw.drand is not None
    bls = (
        "BLS 签名已验证 / BLS signature verified"
        if draw.drand["bls_verified"]
        else "BLS 签名未验证（未安装 drand-verify）/ BLS signature not checked"
    )
    _line(
        f"已录入 / drand recorded: 第 {draw.drand['round']} 轮 round，"
        f"randomness {draw.drand['randomness']}；{bls}"
    )
    _awaiting(draw)


def _read_input(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as e:
        raise ValidationError(
            f"无法读取 {source}：{e.strerror}", f"cannot read {source}: {e.strerror}"
        ) from None


@draws_app.command("reveal")
def draws_reveal(draw_ref: DrawRef, as_user: AsUser = None) -> None:
    """揭示：计算种子，抽取检查对象并选派检查组 / reveal: the seed, the targets, the teams."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        draw = _service(services).reveal(principal, records.resolve(draw_ref))
        entries = records.drawn(services, draw)
    _line(f"已揭示 / draw revealed: {draw.committed.label}")
    _line(f"抽取编号 / draw id: {draw.id}")
    _line(f"种子 / seed: {draw.seed}")
    _drawn_table(entries)
    _line(f"共抽取 {len(entries)} 个检查对象 / {len(entries)} targets drawn")


def _drawn_table(entries: Sequence[Mapping[str, Any]]) -> None:
    table = Table(header_style="bold", highlight=False)
    for header in ("层", "统一社会信用代码/标识", "名称", "检查人员（执法证号）", "专家"):
        table.add_column(header, overflow="fold")
    for e in entries:
        table.add_row(
            Text(records.stratum_label(e["stratum"])),
            Text(e["identifier"]),
            Text(e["name"] or ""),
            Text(_members(e["inspectors"])),
            Text(_members(e["experts"])),
        )
    out.print(table)


def _members(members: Sequence[Mapping[str, str]]) -> str:
    return "、".join(f"{m['name'] or '?'}（{m['certificate_no']}）" for m in members) or "—"


@draws_app.command("abandon")
def draws_abandon(draw_ref: DrawRef, reason: Reason, as_user: AsUser = None) -> None:
    """作废未揭示的抽取（领导，须说明理由）/ abandon an unrevealed draw (leader, with reason)."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        draw = _service(services).abandon(principal, records.resolve(draw_ref), reason)
    _line(f"已作废 / draw abandoned: {draw.committed.label}；理由 reason: {reason.strip()}")


# Recusal (回避) ---------------------------------------------------------------------------------


@draws_app.command("recuse")
def draws_recuse(
    draw_ref: DrawRef,
    target: TargetArg,
    certificate_no: CertificateArg,
    reason: Reason,
    as_user: AsUser = None,
) -> None:
    """检查人员自行回避，按排序替补 / an inspector's own recusal; the next ranked replaces."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        replacement = _service(services).recuse(
            principal, records.resolve(draw_ref), target, certificate_no, reason
        )
        people = records.names(services, "inspectors", [certificate_no, replacement])
        target_name = records.names(services, "targets", [target])[target]
    _line(
        f"已回避 / recused: {_person(people, certificate_no)} 不再检查 {target_name}（{target}）；"
        f"替补 / replacement: {_person(people, replacement)}"
    )


@draws_app.command("request-recusal")
def draws_request_recusal(
    draw_ref: DrawRef,
    target: TargetArg,
    certificate_no: CertificateArg,
    reason: Reason,
    as_user: AsUser = None,
) -> None:
    """登记检查对象的回避申请，待领导决定；标准输出为申请编号 / file a target's request."""
    ref = records.resolve(draw_ref)
    with services_session() as services:
        principal = current_principal(services, as_user)
        request_id, outcome = _service(services).request_recusal(
            principal, ref, target, certificate_no, reason
        )
    typer.echo(request_id)
    if outcome == "unchanged":
        err.print(
            f"相同的回避申请已登记、待决定：第 {request_id} 号，未重复登记 / an identical recusal "
            f"request is on file undecided: {request_id}; nothing written",
            highlight=False,
            markup=False,
        )
        return
    err.print(
        f"已登记回避申请 / recusal request filed: 第 {request_id} 号，待领导决定 / for a leader "
        f"to decide: ssj draws decide {ref} {request_id} --approve|--reject --reason …",
        highlight=False,
        markup=False,
    )


@draws_app.command("decide")
def draws_decide(
    draw_ref: DrawRef,
    request_id: Annotated[str, typer.Argument(metavar="REQUEST_ID", help="申请编号 / request id")],
    reason: Reason,
    approve: Annotated[
        bool | None,
        typer.Option(
            "--approve/--reject", help="批准或驳回 / approve or reject", show_default=False
        ),
    ] = None,
    as_user: AsUser = None,
) -> None:
    """决定回避申请（领导）/ decide a target's recusal request (leader)."""
    if approve is None:
        fail(ValidationError("请用 --approve 或 --reject 指明决定", "give --approve or --reject"))
    with services_session() as services:
        principal = current_principal(services, as_user)
        service = _service(services)
        ref = records.resolve(draw_ref)
        replacement = service.decide_recusal(principal, ref, request_id, approve, reason)
        request = service.draw(ref).requests[request_id]
        people = records.names(
            services,
            "inspectors",
            [request["certificate_no"], *([replacement] if replacement else [])],
        )
    if replacement is None:
        _line(
            f"已驳回回避申请 / request rejected: 第 {request_id} 号；理由 reason: {reason.strip()}"
        )
        return
    _line(
        f"已批准回避申请 / request approved: 第 {request_id} 号，"
        f"{_person(people, request['certificate_no'])} 回避；替补 / replacement: "
        f"{_person(people, replacement)}"
    )


# Reading ---------------------------------------------------------------------------------------


def _scope(services: Services, principal: Principal, department: str | None) -> str | None:
    """The department whose draws (led or joined) a list shows; None: every department.
    Supervisors, reviewers and administrators read all; everyone else their own department."""
    if department:
        services.authorise(principal, Command.READ_REGISTRY, [department])
        return department
    if principal.roles & ALLOWED[Command.READ_ALL]:
        services.authorise(principal, Command.READ_ALL)
        return None
    services.authorise(principal, Command.READ_REGISTRY, [principal.department])
    return principal.department


@draws_app.command("list")
def draws_list(
    plan: Annotated[str | None, typer.Option(metavar="DEPT/CODE", help="计划 / plan")] = None,
    department: Annotated[
        str | None, typer.Option(help="牵头或参与的部门 / a department leading or joining")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(help="状态 / committed (已封存待揭示), revealed (已抽取), abandoned (已作废)"),
    ] = None,
    fmt: ListFormatOption = ListFormat.table,
    offset: Offset = 0,
    limit: Limit = 100,
    as_user: AsUser = None,
) -> None:
    """列出抽取 / list draws (your department's, or all for supervisors and reviewers)."""
    with services_session() as services:
        _check_paging(offset, limit)
        filters = {
            "plan_id": records.plan_filter(plan),
            "status": fields.choice("status", status, DrawStatus, STATUS_CHOICES).value
            if status
            else None,
        }
        principal = current_principal(services, as_user)
        involving = _scope(services, principal, department)
        services.refresh()
        rows = records.all_draws(services, filters, involving=involving)
    if fmt is ListFormat.json:
        _write_json_array(rows)
        return
    _print_table(DRAWS, rows[offset : offset + limit], len(rows), offset, None)


@draws_app.command("show")
def draws_show(
    draw_ref: DrawRef,
    offset: Offset = 0,
    limit: Limit = 100,
    as_user: AsUser = None,
) -> None:
    """查看一次抽取及其抽查任务 / show one draw and its tasks (paged)."""
    with services_session() as services:
        _check_paging(offset, limit)
        principal = current_principal(services, as_user)
        row = records.draw_row(services, draw_ref)
        services.authorise(principal, Command.READ_REGISTRY, row["departments"])
        draw = _service(services).draw(row["draw_id"])
        tasks = _tasks(services, draw)
        shown = tasks[offset : offset + limit]
        targets = records.names(services, "targets", (t["identifier"] for t in shown))
        people = records.names(
            services,
            "inspectors",
            (c for t in shown for c in (*t["inspectors"], *t["experts"], *t.get("recused", []))),
        )
    _print_summary(row, draw)
    if not tasks:
        return
    table = Table(header_style="bold", highlight=False)
    for header in (
        "序号",
        "层",
        "统一社会信用代码/标识",
        "名称",
        "检查人员",
        "专家",
        "已回避",
        "状态",
    ):
        table.add_column(header, overflow="fold")
    for n, t in enumerate(shown, start=offset + 1):
        table.add_row(
            str(n),
            Text(records.stratum_label(t["stratum"])),
            Text(t["identifier"]),
            Text(targets.get(t["identifier"], "")),
            Text(_people(people, t["inspectors"])),
            Text(_people(people, t["experts"])),
            Text(_people(people, t.get("recused", [])) if t.get("recused") else ""),
            Text(TASK_STATUS_LABELS.get(t["status"], t["status"])),
        )
    out.print(table)
    if shown:
        _line(
            f"抽查任务第 {offset + 1}–{offset + len(shown)} 条，共 {len(tasks)} 条 / tasks "
            f"{offset + 1}-{offset + len(shown)} of {len(tasks)}"
        )
    else:
        _line(f"此页无任务（共 {len(tasks)} 条）/ no tasks here ({len(tasks)} in all)")


def _tasks(services: Services, draw: Draw) -> list[dict[str, Any]]:
    """The draw's tasks (read model) in draw order."""
    found: list[dict[str, Any]] = []
    while True:
        page = services.draw_queries.list(
            "tasks", {"draw_id": str(draw.id)}, offset=len(found), limit=1000
        )
        found.extend(page.rows)
        if len(page.rows) < 1000:
            break
    if draw.outcome is None:
        return found
    order = {i: n for n, i in enumerate(i for s in draw.outcome["strata"] for i in s["sample"])}
    return sorted(found, key=lambda t: order.get(t["identifier"], len(order)))


def _print_summary(row: Mapping[str, Any], draw: Draw) -> None:
    _line(f"抽取 / draw: {row['label']}（{records.status_label(row['status'])}）")
    _line(f"抽取编号 / draw id: {row['draw_id']}")
    _line(
        f"抽取日期 / drawn on: {row['drawn_on']}；实施期限 / window: "
        f"{row['window'][0]} – {row['window'][1]}；参与部门 / departments: "
        f"{'、'.join(row['departments'])}"
    )
    _line(
        f"封存 / committed: 序号 seq {row['committed_seq']}，{_when(row['committed_at'])}，"
        f"{row['committed_by']}；名录序号 / registry as of seq {row['as_of_seq']}"
    )
    _line(f"见证人 / witnesses: {'、'.join(row['witnesses'])}")
    if row["dice"]:
        dice = "；".join(f"{d['witness']} {d['digits']}" for d in row["dice"])
        _line(f"骰子点数 / dice: {dice}")
    if row["drand_round"] is not None:
        _line(
            f"drand: 第 {row['drand_round']} 轮 round，randomness {row['drand_randomness'] or '—'}"
        )
    if row["status"] == DrawStatus.REVEALED:
        _line(
            f"揭示 / revealed: 序号 seq {row['revealed_seq']}，{_when(row['revealed_at'])}；"
            f"种子 / seed: {row['seed']}"
        )
        _line(f"抽取数 / drawn: {row['sample_size']}；回避 / recusals: {row['recusals']}")
        for request_id, r in draw.requests.items():
            if r["decision"] is None:
                _line(
                    f"待决回避申请 / pending request 第 {request_id} 号：{r['target']} "
                    f"{r['certificate_no']}，理由 {r['reason']}"
                )
    elif row["status"] == DrawStatus.ABANDONED:
        _line(f"作废理由 / abandoned: {row['abandoned_reason']}")
    else:
        _awaiting(draw)


# Verification ----------------------------------------------------------------------------------


@contextmanager
def _working(label: str, show: bool) -> Iterator[None]:
    """A spinner on stderr for long work (only on a terminal)."""
    with err.status(label) if show and err.is_terminal else nullcontext():
        yield


@draws_app.command("verify")
def draws_verify(
    draw_ref: DrawRef,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="只信任账本：从账本重放重建名录后核验 / trust the ledger alone: rebuild the "
            "registries from it",
        ),
    ] = False,
    json_out: Annotated[
        str | None,
        typer.Option(
            "--json",
            metavar="FILE|-",
            help="同时写出 JSON 核验证明（- 为标准输出）/ also write the JSON proof (- : stdout)",
        ),
    ] = None,
    as_user: AsUser = None,
) -> None:
    """核验一次抽取：重算每个记录值；全部通过退出码 0，否则 1 / re-run a draw and check it."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        service = _service(services)
        draw = service.draw(records.resolve(draw_ref))
        facts = draw.committed
        services.authorise(principal, Command.READ_REGISTRY, list(facts.departments))
        slow = replay or facts.considered >= LARGE_POPULATION
        with _working("核验中 / verifying…", slow):
            verification = service.verify(str(draw.id), replay=replay)
        proof = records.proof(services, draw, verification, replay=replay)
        if json_out != "-":
            _print_record(services, draw, verification, proof, replay)
        if json_out == "-":
            print_json(proof)
        elif json_out is not None:
            data = orjson.dumps(proof, option=orjson.OPT_INDENT_2) + b"\n"
            _atomic_write(Path(json_out), lambda target: target.write_bytes(data))
            _line(f"核验证明已写入 / proof written: {json_out}")
    failed = next((c for c in verification.checks if not c.ok), None)
    if failed is not None:
        err.print(
            f"[bold red]核验未通过 / FAILED[/] 第一项未通过 / first failed check: "
            f"{records.check_label(failed.name)}（{failed.name}）{failed.detail}",
            highlight=False,
        )
        raise typer.Exit(EXIT_DAMAGE)


def _print_record(
    services: Services,
    draw: Draw,
    v: Verification,
    proof: Mapping[str, Any],
    replay: bool,
) -> None:
    """The draw record (抽取记录) an auditor reads and files."""
    facts = draw.committed
    plan = facts.plan
    _line(f"抽取记录 / draw record: {facts.label}（{records.status_label(v.status)}）")
    _line(f"抽取编号 / draw id: {draw.id}")
    _line(
        f"计划 / plan: {plan.department}/{plan.code} 第 {plan.version} 版 version，"
        f"{plan.year} 年度；第 {facts.round} 轮 round"
    )
    _line(
        f"抽取日期 / drawn on: {facts.drawn_on}；实施期限 / window: {facts.window[0]} – "
        f"{facts.window[1]}；参与部门 / departments: {'、'.join(facts.departments)}"
    )
    if replay:
        _line(
            "核验依据 / checked against: 只信任账本，名录由账本重放重建 / the ledger alone (replayed)"
        )
    else:
        _line(
            "核验依据 / checked against: 读模型；加 --replay 则只信任账本，从账本重放重建名录 / the "
            "read models; --replay trusts the ledger alone"
        )

    _line("\n经过 / events:")
    for e in proof["draw"]["events"]:
        _line(
            f"  序号 seq {e['seq']}  {_when(e['recorded_at'])}  {e['event_zh']} {e['event']}  "
            f"{e['user']}（{e['department']}，{e['role']}）"
        )

    _line(
        f"\n总体 / population: 账本序号 {facts.as_of_seq} 时的名录 / registry as of seq "
        f"{facts.as_of_seq}：考虑 considered {facts.considered}，符合条件 eligible "
        f"{facts.eligible}"
    )
    _strata_table(facts.strata, short=False)
    _exclusions(facts.exclusions)
    _pools(facts.pools, short=False)
    for department, needed in facts.specialties.items():
        if needed:
            _line(f"所需专业 / specialties {department}：{'、'.join(needed)}")

    _line("\n熵源 / entropy:")
    dice = dict(draw.dice)
    for witness in draw.witnesses:
        _line(f"  见证人 / witness {witness}：{dice.get(witness, '（未录入 / not given）')}")
    named = facts.entropy.drand
    if named is not None:
        if draw.drand is None:
            _line(f"  drand 第 {named.round} 轮 round：未录入 / not recorded")
        else:
            bls = "已验证 verified" if draw.drand["bls_verified"] else "未验证 not checked"
            _line(
                f"  drand 第 {named.round} 轮 round：randomness {draw.drand['randomness']}，"
                f"BLS 签名 signature {bls}"
            )
    _line(f"  服务器随机数承诺 / nonce commitment: {facts.nonce_commitment}")
    if draw.nonce is not None:
        _line(f"  服务器随机数 / nonce: {draw.nonce}")

    if draw.outcome is not None:
        _print_outcome(services, draw)
    if draw.abandoned_reason is not None:
        _line(f"\n作废理由 / abandoned: {draw.abandoned_reason}")

    _line("\n核验 / checks:")
    for c in v.checks:
        mark = "✓" if c.ok else "✗"
        detail = f"  {c.detail}" if c.detail else ""
        _line(f"  {mark} {records.check_label(c.name)}（{c.name}）{detail}")
    if v.ok:
        _line(f"\n结论 / result: 全部 {len(v.checks)} 项通过 / all {len(v.checks)} checks pass")


def _print_outcome(services: Services, draw: Draw) -> None:
    assert draw.outcome is not None
    teams = draw.outcome["teams"]
    targets = records.names(services, "targets", teams)
    people = records.names(
        services,
        "inspectors",
        [
            *(c for t in teams.values() for c in (*t["inspectors"], *t["experts"])),
            *(r["replacement"] for r in draw.recusals),
        ],
    )
    _line(f"\n种子 / seed: {draw.seed}")
    _line("分层抽取与检查组 / samples and teams:")
    for s in draw.outcome["strata"]:
        _line(f"  {records.stratum_label(s['name'])}：派生种子 / derived seed {s['seed']}")
        for n, target in enumerate(s["sample"], start=1):
            team = teams[target]
            experts = (
                f"；专家 experts {_people(people, team['experts'])}" if team["experts"] else ""
            )
            _line(
                f"    {n}. {target} {targets.get(target, '')}：检查组 team "
                f"{_people(people, team['inspectors'])}{experts}"
            )
    if draw.recusals:
        _line("回避 / recusals:")
    kinds = records.RECUSAL_KIND_LABELS
    for n, r in enumerate(draw.recusals, start=1):
        _line(
            f"  {n}. {targets.get(r['target'], '')}（{r['target']}）：{_person(people, r['certificate_no'])}"
            f" 回避，{kinds.get(r['kind'], r['kind'])}，理由 reason {r['reason']}；替补 replacement "
            f"{_person(people, r['replacement'])}"
        )


# Export ----------------------------------------------------------------------------------------


@draws_app.command("export")
def draws_export(
    draw_ref: DrawRef,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="导出文件（默认 ssj-draw-<编号>.json）/ file to write"),
    ] = None,
    as_user: AsUser = None,
) -> None:
    """导出复核文件：不依赖 ssj 即可重算种子、抽取与排序 / export a draw for independent checks."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        row = records.draw_row(services, draw_ref)
        services.authorise(principal, Command.READ_REGISTRY, row["departments"])
        exported = _service(services).export(row["draw_id"])
        path = output or Path(f"ssj-draw-{row['draw_id']}.json")
        text = orjson.dumps(exported, option=orjson.OPT_INDENT_2) + b"\n"
        _atomic_write(path, lambda target: target.write_bytes(text))
    where = shlex.quote(str(path))
    _line(f"已导出 / exported: {row['label']} → {path}")
    _line("复核（只需 Python 3.9 以上的标准库）/ check it (Python 3.9+, standard library only):")
    _line(f"  python3 ops/reproduce_draw.py {where}")
    _line(
        "用参考实现复算每个分层 / redo every stratum with the reference package "
        "(pip install consistent-sampler==1.0.10):"
    )
    _line(
        '  python3 -c "import json,sys; from consistent_sampler import sampler; '
        "e=json.load(open(sys.argv[1], encoding='utf-8')); print(all(list(sampler(s['ids'], "
        "s['seed'], with_replacement=False, take=s['k'], output='id')) == s['sample'] "
        f"for s in e['strata']))\" {where}"
    )

"""Plan commands (抽查计划): draft, amend, submit, approve, return, publish, cancel, list, show.

A plan's fields come from a JSON file (`--file plan.json`, one object with the fields of
`ssj.domain.plans.FIELD_LABELS`), from options for the common ones, and from `--set KEY=VALUE`
for any field (VALUE is read as JSON when it parses, else as text: `--set team_size=3`,
`--set 'ratios={"D": "40"}'`, `--set workload_cap=null`); later sources win. `amend` takes
only the fields that change. Who acts: `--as USER` or `SSJ_USER`, as for the registries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from projections.registry import MAX_LIMIT
from ssj.cli.common import (
    AsUser,
    DeprecatedAsOf,
    current_principal,
    either_seq,
    out,
    print_json,
    services_session,
)
from ssj.cli.registry import (
    USER_HELP,
    AtSeq,
    Limit,
    Offset,
    Reason,
    Search,
    _check_at_seq,
    _choice,
    _print_table,
    _write_json_array,
)
from ssj.domain.access import ALLOWED, Command, Principal
from ssj.domain.plans import (
    FIELD_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    STATUS_LABELS_ZH,
    PlanKind,
    PlanStatus,
)
from ssj.domain.targets import TARGET_TYPE_LABELS
from ssj.errors import NotFoundError, ValidationError
from ssj.presentation.views import View
from ssj.presentation.views import names as _names

if TYPE_CHECKING:
    from ssj.services.context import Services
    from ssj.services.plans import PlanService

plans_app = typer.Typer(help=f"抽查计划 / inspection plans {USER_HELP}", no_args_is_help=True)

PLANS = View(
    table="plans",
    labels={
        **FIELD_LABELS,
        "status": "状态",
        "version": "版本",
        "drafted_by": "起草人",
        "approved_by": "批准人",
        "approved_at": "批准时间",
        "approval_comment": "批准意见",
        "published_at": "公布时间",
        "return_reason": "退回理由",
        "cancel_reason": "撤销理由",
        "amendments": "修改次数",
    },
    columns=("department", "code", "title", "year", "kind", "month", "status", "version"),
    values={
        "kind": _names(KIND_LABELS),
        "status": {s.value: zh for s, zh in STATUS_LABELS_ZH.items()},
        "target_types": _names(TARGET_TYPE_LABELS),
    },
)


class ListFormat(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[
    ListFormat, typer.Option("--format", "-f", help="输出格式 / output: table or json")
]
Department = Annotated[str, typer.Argument(help="牵头部门编码 / lead department code")]
Code = Annotated[str, typer.Argument(help="计划编号 / plan code")]
PlanFile = Annotated[
    Path | None,
    typer.Option("--file", help="计划 JSON 文件（一个对象）/ the plan as one JSON object"),
]
Sets = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="任一字段（值按 JSON 读取，否则为文本），可多次 / any field (VALUE as JSON, else "
        "text); repeat",
    ),
]
Title = Annotated[str | None, typer.Option(help="计划名称 / title")]
Year = Annotated[int | None, typer.Option(help="年度 / year")]
Kind = Annotated[str | None, typer.Option(help="计划类型 / annual (年度) or monthly (月度)")]
Month = Annotated[int | None, typer.Option(help="月份（月度计划）/ month (monthly plans)")]
Items = Annotated[
    list[str] | None,
    typer.Option("--item", help="本部门抽查事项编码，可多次或用逗号分隔 / item code (repeat)"),
]
Cooperating = Annotated[
    list[str] | None,
    typer.Option(
        "--cooperating",
        metavar="DEPT=ITEM,ITEM",
        help="联合抽查的配合部门及其事项，可多次 / a cooperating department and its items",
    ),
]
Ratios = Annotated[
    list[str] | None,
    typer.Option(
        "--ratio",
        metavar="CLASS=PERCENT",
        help="信用风险分类抽查比例，如 D=30，可多次 / percent drawn from a credit class",
    ),
]
FixedCount = Annotated[
    int | None, typer.Option(help="固定抽取数量（代替比例）/ a fixed count instead of ratios")
]
TeamSize = Annotated[int | None, typer.Option(help="检查组人数（2–10）/ team size (2-10)")]


def _service(services: Services) -> PlanService:
    from ssj.services.plans import PlanService

    return PlanService(services)


def _pairs(option: str, values: Sequence[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise ValidationError(
                f"{option} 应写成 键=值，实际为“{value}”",
                f"{option} takes KEY=VALUE, got {value!r}",
            )
        pairs[key.strip()] = rest.strip()
    return pairs


def _json_value(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _read_file(path: Path) -> dict[str, Any]:
    try:
        found = orjson.loads(path.read_bytes())
    except OSError as e:
        raise ValidationError(
            f"无法读取 {path}：{e.strerror}", f"cannot read {path}: {e.strerror}"
        ) from None
    except orjson.JSONDecodeError as e:
        raise ValidationError(
            f"{path} 不是有效的 JSON：{e}", f"{path} is not valid JSON: {e}"
        ) from None
    if not isinstance(found, dict):
        raise ValidationError(f"{path} 应为一个 JSON 对象", f"{path} must hold one JSON object")
    return found


def _raw(
    file: Path | None,
    options: Mapping[str, Any],
    items: Sequence[str] | None,
    cooperating: Sequence[str] | None,
    ratios: Sequence[str] | None,
    sets: Sequence[str] | None,
) -> dict[str, Any]:
    """The plan's fields from the file, then the options given, then --set."""
    raw = _read_file(file) if file is not None else {}
    raw.update({k: v for k, v in options.items() if v is not None})
    if items:
        raw["items"] = ",".join(items)
    if cooperating:
        raw["cooperating"] = _pairs("--cooperating", cooperating)
    if ratios:
        raw["ratios"] = _pairs("--ratio", ratios)
    raw.update({k: _json_value(v) for k, v in _pairs("--set", sets or []).items()})
    return raw


def _done(verb_zh: str, verb_en: str, plan: Mapping[str, Any]) -> None:
    status = PlanStatus(plan["status"])
    out.print(
        f"{verb_zh} / {verb_en}: {plan['label']}（{STATUS_LABELS_ZH[status]} {status.value}，"
        f"版本 version {plan['version']}）",
        highlight=False,
        markup=False,
    )


# Writing ---------------------------------------------------------------------------------------


@plans_app.command("draft")
def plans_draft(
    file: PlanFile = None,
    department: Annotated[str | None, typer.Option(help="牵头部门 / lead department")] = None,
    code: Annotated[str | None, typer.Option(help="计划编号 / plan code")] = None,
    title: Title = None,
    year: Year = None,
    kind: Kind = None,
    month: Month = None,
    item: Items = None,
    cooperating: Cooperating = None,
    ratio: Ratios = None,
    fixed_count: FixedCount = None,
    team_size: TeamSize = None,
    sets: Sets = None,
    as_user: AsUser = None,
) -> None:
    """起草抽查计划 / draft a plan (target types default to its items')."""
    options = {
        "department": department,
        "code": code,
        "title": title,
        "year": year,
        "kind": kind,
        "month": month,
        "fixed_count": fixed_count,
        "team_size": team_size,
    }
    with services_session() as services:
        raw = _raw(file, options, item, cooperating, ratio, sets)
        principal = current_principal(services, as_user)
        plan = _service(services).draft(principal, raw)
    if plan["outcome"] == "unchanged":
        _done("相同的抽查计划已存在，未重复起草", "an identical plan exists: nothing written", plan)
        return
    _done("已起草抽查计划", "plan drafted", plan)


@plans_app.command("amend")
def plans_amend(
    department: Department,
    code: Code,
    file: PlanFile = None,
    title: Title = None,
    year: Year = None,
    kind: Kind = None,
    month: Month = None,
    item: Items = None,
    cooperating: Cooperating = None,
    ratio: Ratios = None,
    fixed_count: FixedCount = None,
    team_size: TeamSize = None,
    sets: Sets = None,
    reason: Annotated[
        str,
        typer.Option(help="理由（已批准或已公布的计划必填）/ reason (required once approved)"),
    ] = "",
    as_user: AsUser = None,
) -> None:
    """修改抽查计划（只给出要改的字段）/ amend a plan (give only the fields that change)."""
    options = {
        "title": title,
        "year": year,
        "kind": kind,
        "month": month,
        "fixed_count": fixed_count,
        "team_size": team_size,
    }
    with services_session() as services:
        raw = _raw(file, options, item, cooperating, ratio, sets)
        principal = current_principal(services, as_user)
        before = services.ledger.size()
        plan = _service(services).amend(principal, department, code, raw, reason)
        changed = services.ledger.size() != before
    if changed:
        _done("已修改抽查计划", "plan amended", plan)
    else:
        _done("无变化，未写入", "nothing changed", plan)


@plans_app.command("submit")
def plans_submit(department: Department, code: Code, as_user: AsUser = None) -> None:
    """提交审批 / submit a draft for approval."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        plan = _service(services).submit(principal, department, code)
    _done("已提交审批", "plan submitted", plan)


@plans_app.command("approve")
def plans_approve(
    department: Department,
    code: Code,
    comment: Annotated[str, typer.Option(help="批准意见 / comment")] = "",
    as_user: AsUser = None,
) -> None:
    """批准（领导）/ approve a submitted plan (leader)."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        plan = _service(services).approve(principal, department, code, comment)
    _done("已批准", "plan approved", plan)


@plans_app.command("return")
def plans_return(
    department: Department, code: Code, reason: Reason, as_user: AsUser = None
) -> None:
    """退回修改（领导）/ return a submitted plan to draft (leader)."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        plan = _service(services).return_plan(principal, department, code, reason)
    _done("已退回", "plan returned", plan)


@plans_app.command("publish")
def plans_publish(department: Department, code: Code, as_user: AsUser = None) -> None:
    """公布已批准的计划 / publish an approved plan."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        plan = _service(services).publish(principal, department, code)
    _done("已公布", "plan published", plan)


@plans_app.command("cancel")
def plans_cancel(
    department: Department, code: Code, reason: Reason, as_user: AsUser = None
) -> None:
    """撤销计划（领导）/ cancel a plan (leader)."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        plan = _service(services).cancel(principal, department, code, reason)
    _done("已撤销", "plan cancelled", plan)


# Reading ---------------------------------------------------------------------------------------


def _scope(services: Services, principal: Principal, department: str | None) -> str | None:
    """The department whose plans (led or joined) a list shows; None: every department.
    Supervisors, reviewers and administrators read all; everyone else their own department."""
    if department:
        services.authorise(principal, Command.READ_REGISTRY, [department])
        return department
    if principal.roles & ALLOWED[Command.READ_ALL]:
        services.authorise(principal, Command.READ_ALL)
        return None
    services.authorise(principal, Command.READ_REGISTRY, [principal.department])
    return principal.department


@plans_app.command("list")
def plans_list(
    department: Annotated[
        str | None, typer.Option(help="牵头或参与的部门 / a department leading or joining")
    ] = None,
    year: Year = None,
    kind: Kind = None,
    status: Annotated[
        str | None, typer.Option(help="状态 / draft (草稿), submitted, approved, published, …")
    ] = None,
    search: Search = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    fmt: FormatOption = ListFormat.table,
    offset: Offset = 0,
    limit: Limit = 100,
    as_user: AsUser = None,
) -> None:
    """列出抽查计划 / list plans (your department's, or all for supervisors and reviewers)."""
    at_seq = either_seq(at_seq, as_of)
    filters = {
        "year": year,
        "kind": _choice("kind", kind, PlanKind, KIND_LABELS),
        "status": _choice("status", status, PlanStatus, STATUS_LABELS),
    }
    with services_session() as services:
        principal = current_principal(services, as_user)
        involving = _scope(services, principal, department)
        seq = _check_at_seq(services, at_seq)
        queries = services.plan_queries
        if fmt is ListFormat.table:
            page = queries.list(filters, offset, limit, seq, involving=involving, search=search)
            _print_table(PLANS, page.rows, page.total, offset, seq)
            return
        if seq is None:  # every page as of one seq
            seq = services.runner.seq("plans")
        first = queries.list(filters, 0, MAX_LIMIT, seq, involving=involving, search=search)
        rows = first.rows
        while len(rows) < first.total:
            more = queries.list(
                filters, len(rows), MAX_LIMIT, seq, involving=involving, search=search
            )
            rows.extend(more.rows)
            if not more.rows:
                break
        _write_json_array(rows)


def _shown(name: str, value: Any) -> str:
    if name == "cooperating" and isinstance(value, dict):
        return "；".join(f"{d}：{'、'.join(codes)}" for d, codes in value.items())
    if name == "ratios" and isinstance(value, dict):
        return "；".join(f"{c} 类 {r}%" for c, r in value.items())
    return PLANS.cell(name, value)


@plans_app.command("show")
def plans_show(
    department: Department,
    code: Code,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    fmt: FormatOption = ListFormat.table,
    as_user: AsUser = None,
) -> None:
    """查看一个抽查计划 / show one plan."""
    at_seq = either_seq(at_seq, as_of)
    with services_session() as services:
        principal = current_principal(services, as_user)
        seq = _check_at_seq(services, at_seq)
        plan = services.plan_queries.get(department, code, at_seq=seq)
        if plan is None:
            raise NotFoundError(
                f"抽查计划 {department}/{code} 不存在", f"plan {department}/{code} not found"
            )
        departments = [plan["department"], *plan["cooperating"]]
        services.authorise(principal, Command.READ_REGISTRY, departments)
    if fmt is ListFormat.json:
        print_json(plan)
        return
    table = Table("字段", "内容", header_style="bold", highlight=False, show_header=True)
    for name, label in PLANS.labels.items():
        table.add_row(Text(label), Text(_shown(name, plan.get(name))))
    out.print(table)

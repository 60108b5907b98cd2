"""Follow-up commands (后续处置) on an inspected task: rectification orders and re-checks,
reminders, penalty cases and their publication, referrals; show.

A task is named as in `ssj tasks` (its id, or `DRAW/IDENTIFIER`). Dates are YYYY-MM-DD, today
(Beijing time) if left out. Who acts: `--as USER` or `SSJ_USER`; re-checks only as an inspector
on the task's team, by the certificate the user is linked to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ssj.cli.common import AsUser, current_principal, print_json, services_session
from ssj.cli.draws import _line
from ssj.cli.registry import USER_HELP
from ssj.cli.tasks import DateOption, TaskRef
from ssj.domain.access import Command
from ssj.domain.followup import REFERRAL_LABELS_ZH, FollowUp, ReferralTo

if TYPE_CHECKING:
    from ssj.services.context import Services
    from ssj.services.followups import FollowUpService

followups_app = typer.Typer(
    help=f"后续处置：整改、复查、催告、立案处罚、移送 / follow-up of inspections {USER_HELP}",
    no_args_is_help=True,
)


def _service(services: Services) -> FollowUpService:
    from ssj.services.followups import FollowUpService

    return FollowUpService(services)


def _done(what: str, follow: FollowUp) -> None:
    _line(f"{what}: {follow.identifier}")
    _line(f"任务编号 / task id: {follow.task_id}")


def _identical(outcome: str, zh: str, en: str, follow: FollowUp) -> bool:
    """Say so, and True, when the command found its identical entry on record already."""
    if outcome != "unchanged":
        return False
    _done(
        f"相同的{zh}已有记录，未重复写入 / an identical {en} is on record: nothing written", follow
    )
    return True


@followups_app.command("rectify")
def followup_rectify(
    task_ref: TaskRef,
    deadline: Annotated[
        str, typer.Option(metavar="YYYY-MM-DD", help="整改期限 / the rectification deadline")
    ],
    requirement: Annotated[str, typer.Option(help="整改要求 / what must be rectified")],
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """责令整改（附整改期限）/ order a rectification with a deadline."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        follow, number, outcome = _service(services).order_rectification(
            principal, task_ref, deadline=deadline, requirement=requirement, on=on
        )
    if _identical(outcome, f"整改（第 {number} 项）", f"rectification {number}", follow):
        return
    _done("已责令整改 / rectification ordered", follow)
    _line(f"整改序号 / rectification: {number}，期限 / deadline: {deadline}")


@followups_app.command("recheck")
def followup_recheck(
    task_ref: TaskRef,
    rectification: Annotated[int, typer.Argument(help="整改序号 / the rectification's number")],
    passed: Annotated[
        str, typer.Option("--result", help="复查结论：通过 或 未通过 / passed or failed")
    ],
    notes: Annotated[str, typer.Option(help="复查情况 / notes")] = "",
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """检查组成员复查整改 / a team member re-checks a rectification."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        follow = _service(services).recheck(
            principal, task_ref, rectification, passed, notes=notes, on=on
        )
    order = follow.rectifications[rectification - 1]
    outcome = f"通过 passed（{order['passed_on']}）" if order["passed_on"] else "未通过 failed"
    _done("已复查 / re-checked", follow)
    _line(f"整改 {rectification}：{outcome}")


@followups_app.command("remind")
def followup_remind(
    task_ref: TaskRef,
    text: Annotated[str, typer.Option(help="催告内容 / the reminder's text")],
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """催告 / record a reminder."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        follow, number, outcome = _service(services).remind(principal, task_ref, text, on)
    if _identical(outcome, f"催告（第 {number} 项）", f"reminder {number}", follow):
        return
    _done("已催告 / reminded", follow)


@followups_app.command("case")
def followup_case(
    task_ref: TaskRef,
    case_no: Annotated[
        str, typer.Option("--case-no", help="行政处罚决定书文号 / the decision's document number")
    ],
    decision: Annotated[str, typer.Option(help="处罚内容 / what the penalty is")],
    violation_type: Annotated[
        str, typer.Option("--violation-type", help="违法行为类型 / kind of violation")
    ],
    facts: Annotated[str, typer.Option(help="违法事实 / the facts")],
    basis: Annotated[str, typer.Option(help="处罚依据 / the legal basis")],
    penalty_type: Annotated[
        list[str],
        typer.Option(
            "--penalty-type",
            help="处罚类别，可重复：警告、通报批评、罚款、没收违法所得、没收非法财物、暂扣许可证件、"
            "降低资质等级、吊销许可证件、限制开展生产经营活动、责令停产停业、责令关闭、限制从业、"
            "行政拘留、其他 / penalty type (repeatable)",
        ),
    ],
    authority_code: Annotated[
        str,
        typer.Option("--authority-code", help="处罚机关统一社会信用代码 / the authority's USCC"),
    ],
    fine: Annotated[str, typer.Option(help="罚款金额（万元）/ fine in 10,000 yuan")] = "",
    confiscated: Annotated[
        str, typer.Option(help="没收违法所得、没收非法财物的金额（万元）/ amount confiscated")
    ] = "",
    licence: Annotated[
        str, typer.Option(help="暂扣或吊销证照名称及编号 / licence suspended or revoked")
    ] = "",
    valid_until: Annotated[
        str | None,
        typer.Option("--valid-until", metavar="YYYY-MM-DD", help="处罚有效期 / penalty ends"),
    ] = None,
    publicity_until: Annotated[
        str | None,
        typer.Option(
            "--publicity-until",
            metavar="YYYY-MM-DD",
            help="公示截止期（默认决定日期后一年）/ publicity ends (default: a year)",
        ),
    ] = None,
    authority: Annotated[
        str | None,
        typer.Option(help="处罚机关（部门编码，默认本人部门）/ deciding department"),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="数据来源单位（默认处罚机关）/ data source department")
    ] = None,
    source_code: Annotated[
        str | None,
        typer.Option("--source-code", help="数据来源单位统一社会信用代码 / its USCC"),
    ] = None,
    legal_representative: Annotated[
        str,
        typer.Option(
            "--legal-representative", help="法定代表人（负责人、经营者）/ legal representative"
        ),
    ] = "",
    notes: Annotated[str, typer.Option(help="备注 / notes")] = "",
    credit_class: Annotated[
        str | None,
        typer.Option(
            "--credit-class", help="调低后的信用风险分类（B/C/D）/ lower the credit class to"
        ),
    ] = None,
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """立案处罚，按双公示标准登记处罚决定（可调低信用风险分类）；处罚信息须在决定后 7 个工作日内
    公示 / file a penalty case in the fields of the 双公示 standard."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        follow, number, outcome = _service(services).file_case(
            principal,
            task_ref,
            case_no=case_no,
            decision=decision,
            decided_on=on,
            credit_class=credit_class,
            violation_type=violation_type,
            facts=facts,
            basis=basis,
            penalty_types=penalty_type,
            fine=fine,
            confiscated=confiscated,
            licence=licence,
            valid_until=valid_until,
            publicity_until=publicity_until,
            authority=authority,
            authority_code=authority_code,
            source=source,
            source_code=source_code,
            legal_representative=legal_representative,
            notes=notes,
        )
    case = follow.cases[number - 1]
    if _identical(outcome, f"案件（{case['case_no']}）", f"case {case['case_no']}", follow):
        return
    _done("已立案 / case filed", follow)
    _line(f"案件 / case: {case['case_no']}，决定日期 / decided on: {case['decided_on']}")
    if case["credit_class"]:
        _line(f"信用风险分类 / credit class: {case['previous_class']} → {case['credit_class']}")


@followups_app.command("correct-case")
def followup_correct_case(
    task_ref: TaskRef,
    case: Annotated[str, typer.Argument(help="案件编号或序号 / the case number")],
    change: Annotated[
        list[str],
        typer.Option(
            "--set",
            metavar="FIELD=VALUE",
            help="更正的字段（字段名或中文名，如 fine=1.5、罚款金额（万元）=1.5；处罚类别用 、 分隔），"
            "可重复 / a corrected field (repeatable)",
        ),
    ],
    reason: Annotated[str, typer.Option(help="更正原因（随更正记录报送）/ why")],
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """更正处罚信息（已公示的另生成更正记录报送信用平台）/ correct a penalty case."""
    from ssj.domain.fields import FieldError
    from ssj.domain.followup import CASE_FIELDS_BY_LABEL

    changes: dict[str, Any] = {}
    for item in change:
        name, sep, value = item.partition("=")
        name = CASE_FIELDS_BY_LABEL.get(name.strip(), name.strip())
        if not sep or not name:
            from ssj.cli.common import fail

            fail(
                FieldError(
                    "set", f"应写成 字段=值，实际为“{item}”", f"expected FIELD=VALUE, got {item!r}"
                )
            )
        changes[name] = value
    with services_session() as services:
        principal = current_principal(services, as_user)
        follow = _service(services).correct_case(principal, task_ref, case, changes, reason, on)
    _done("已更正处罚信息 / case corrected", follow)


@followups_app.command("revoke-case")
def followup_revoke_case(
    task_ref: TaskRef,
    case: Annotated[str, typer.Argument(help="案件编号或序号 / the case number")],
    reason: Annotated[str, typer.Option(help="撤销原因（随撤回记录报送）/ why")],
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """登记处罚决定被撤销（如经行政复议）；已公示的另生成撤回记录 / a revoked decision."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        follow = _service(services).revoke_case(principal, task_ref, case, reason, on)
    _done("已登记撤销 / revocation recorded", follow)


@followups_app.command("publish-case")
def followup_publish_case(
    task_ref: TaskRef,
    case: Annotated[str, typer.Argument(help="案件编号或序号 / the case number")],
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """公示处罚信息 / publish a penalty case's information."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        follow = _service(services).publish_case(principal, task_ref, case, on)
    _done("已公示处罚信息 / case published", follow)


@followups_app.command("refer")
def followup_refer(
    task_ref: TaskRef,
    to_kind: Annotated[
        str,
        typer.Option(
            "--to-kind", help="移送对象：其他部门 或 公安机关 / department or public_security"
        ),
    ],
    reason: Annotated[str, typer.Option(help="移送理由 / reason")],
    to: Annotated[str, typer.Option("--to", help="接收部门 / the receiving department")] = "",
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """移送其他部门或公安机关 / refer to another department or to public security."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        follow, number, outcome = _service(services).refer(
            principal, task_ref, to_kind=to_kind, reason=reason, to=to, on=on
        )
    if _identical(outcome, f"移送（第 {number} 项）", f"referral {number}", follow):
        return
    _done("已移送 / referred", follow)
    _line(f"移送至 / to: {follow.referrals[number - 1]['to']}")


@followups_app.command("show")
def followup_show(
    task_ref: TaskRef,
    json_out: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
    as_user: AsUser = None,
) -> None:
    """查看一项任务的后续处置 / show a task's follow-up."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        row = _service(services).row(task_ref)
        services.authorise(principal, Command.READ_REGISTRY, row["departments"])
    if json_out:
        print_json(row)
        return
    _print(row)


def _print(row: dict[str, Any]) -> None:
    _line(f"后续处置 / follow-up: {row['identifier']}（检查完成 {row['completed_on']}）")
    for n, order in enumerate(row["rectifications"], start=1):
        passed = f"复查通过 {order['passed_on']}" if order["passed_on"] else "未复查通过"
        _line(
            f"整改 {n}: {order['ordered_on']} 责令，期限 {order['deadline']}，{passed}；"
            f"{order['requirement']}"
        )
        for check in order["rechecks"]:
            verdict = "通过" if check["passed"] else "未通过"
            _line(f"  复查 {check['on']} {verdict}（{check['by']}）{check['notes']}")
    for reminder in row["reminders"]:
        _line(f"催告 {reminder['on']}: {reminder['text']}")
    for case in row["cases"]:
        published = f"公示 {case['published_on']}" if case["published_on"] else "未公示"
        _line(f"立案 {case['case_no']}: 决定 {case['decided_on']}，{published}；{case['decision']}")
    for referral in row["referrals"]:
        kind = REFERRAL_LABELS_ZH[ReferralTo(referral["to_kind"])]
        _line(f"移送 {referral['on']} {kind} {referral['to']}: {referral['reason']}")

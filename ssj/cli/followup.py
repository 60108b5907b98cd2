"""Follow-up commands (后续处置) on an inspected task: rectification orders and re-checks,
reminders, penalty cases and their publication, referrals; show.

A task is named as in `ssj task` (its id, or `DRAW/IDENTIFIER`). Dates are YYYY-MM-DD, today
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
    from ssj.services.followup import FollowUpService

followup_app = typer.Typer(
    help=f"后续处置：整改、复查、催告、立案处罚、移送 / follow-up of inspections {USER_HELP}",
    no_args_is_help=True,
)


def _service(services: Services) -> FollowUpService:
    from ssj.services.followup import FollowUpService

    return FollowUpService(services)


def _done(what: str, follow: FollowUp) -> None:
    _line(f"{what}: {follow.identifier}")
    _line(f"任务编号 / task id: {follow.task_id}")


@followup_app.command("rectify")
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
        follow = _service(services).order_rectification(
            principal, task_ref, deadline=deadline, requirement=requirement, on=on
        )
    _done("已责令整改 / rectification ordered", follow)
    _line(f"整改序号 / rectification: {len(follow.rectifications)}，期限 / deadline: {deadline}")


@followup_app.command("recheck")
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


@followup_app.command("remind")
def followup_remind(
    task_ref: TaskRef,
    text: Annotated[str, typer.Option(help="催告内容 / the reminder's text")],
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """催告 / record a reminder."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        follow = _service(services).remind(principal, task_ref, text, on)
    _done("已催告 / reminded", follow)


@followup_app.command("case")
def followup_case(
    task_ref: TaskRef,
    case_no: Annotated[str, typer.Option("--case-no", help="案件编号 / the case number")],
    decision: Annotated[str, typer.Option(help="处罚决定 / the decision")],
    credit_class: Annotated[
        str | None,
        typer.Option(
            "--credit-class", help="调低后的信用风险分类（B/C/D）/ lower the credit class to"
        ),
    ] = None,
    on: DateOption = None,
    as_user: AsUser = None,
) -> None:
    """立案处罚（可调低信用风险分类）；处罚信息须在决定后 7 个工作日内公示 / file a penalty case."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        follow = _service(services).file_case(
            principal,
            task_ref,
            case_no=case_no,
            decision=decision,
            decided_on=on,
            credit_class=credit_class,
        )
    case = follow.cases[-1]
    _done("已立案 / case filed", follow)
    _line(f"案件 / case: {case['case_no']}，决定日期 / decided on: {case['decided_on']}")
    if case["credit_class"]:
        _line(f"信用风险分类 / credit class: {case['previous_class']} → {case['credit_class']}")


@followup_app.command("publish-case")
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


@followup_app.command("refer")
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
        follow = _service(services).refer(
            principal, task_ref, to_kind=to_kind, reason=reason, to=to, on=on
        )
    _done("已移送 / referred", follow)
    _line(f"移送至 / to: {follow.referrals[-1]['to']}")


@followup_app.command("show")
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

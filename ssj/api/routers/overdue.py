"""Overdue monitoring (逾期监测): tasks not inspected by their plan's window end, results not
published within the plan's working days of completion (or published late), per department.

Scoped like other reads: your department's, or any one's (or all) for supervisors, reviewers
and administrators. `on` is the day reported on (default today, Beijing time), so a report is
reproducible; `at_seq` reads the ledger as it stood at that seq.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import Field

from ssj.api.deps import AtSeq, PrincipalDep, ServicesDep, make_router
from ssj.api.schemas import AS_OF, Schema
from ssj.services.overdue import OverdueService

TAG = "逾期监测 / Overdue"
router = make_router(TAG)


def get_overdue(services: ServicesDep) -> OverdueService:
    return OverdueService(services)


OverdueDep = Annotated[OverdueService, Depends(get_overdue)]


# Responses ---------------------------------------------------------------------------------------


class DeadlineFields(Schema):
    """A deadline's state (`deadlines.Deadline.as_state`)."""

    start: str = Field(description="期限起算日 / counted from (YYYY-MM-DD)")
    within_working_days: int = Field(description="期限（工作日）/ working days allowed")
    due_on: str | None = Field(description="到期日（未知为空）/ due on, or null when unknown")
    state: str = Field(
        description="状态：on_time|late|overdue|pending|unknown（按期、逾期完成、逾期未完成、未到期"
        "、期限未知）/ state"
    )
    state_zh: str = Field(description="状态（中文）/ state in Chinese")
    done_on: str | None = Field(description="完成日期 / done on, or null")
    working_days_late: int | None = Field(
        description="逾期工作日数（无法计算为空）/ working days late (null: cannot be counted)"
    )
    reason_zh: str = Field(description="期限未知的原因（中文）/ why the deadline is unknown (zh)")
    reason_en: str = Field(description="期限未知的原因（英文）/ why the deadline is unknown (en)")


class TaskFields(Schema):
    task_id: str = Field(description="任务编号 / task id")
    draw: str = Field(description="抽取名称 / draw label")
    identifier: str = Field(description="检查对象标识 / target identifier")
    department: str = Field(description="牵头部门 / lead department")
    departments: list[str] = Field(description="参与部门 / departments")
    status: str = Field(description="任务状态 / task status")
    status_zh: str = Field(description="任务状态（中文）/ task status in Chinese")


class Uninspected(TaskFields):
    """A task not inspected by its plan's window end (or inspected after it)."""

    window_end: str = Field(description="实施结束日期 / window end")
    completed_on: str | None = Field(description="检查完成日期 / completed on, or null")
    days_past: int = Field(description="超过的天数 / days past the window end")


class PublicationOverdue(DeadlineFields, TaskFields):
    """A result not published in time (or published late, or its deadline unknown)."""


class FollowUpFields(Schema):
    task_id: str = Field(description="任务编号 / task id")
    identifier: str = Field(description="检查对象标识 / target identifier")
    department: str = Field(description="牵头部门 / lead department")
    departments: list[str] = Field(description="参与部门 / departments")


class RectificationOverdue(FollowUpFields):
    """A rectification past its deadline without a passed re-check."""

    rectification: int = Field(description="第几次责令整改 / which order (1, 2 …)")
    ordered_on: str = Field(description="责令整改日期 / ordered on")
    deadline: str = Field(description="整改期限 / deadline")
    requirement: str = Field(description="整改要求 / requirement")
    passed_on: str | None = Field(description="复查通过日期 / re-check passed on, or null")
    rechecks: int = Field(description="复查次数 / re-checks")
    days_past: int = Field(description="超过期限的天数 / days past the deadline")


class _PenaltyCase(FollowUpFields):
    case_no: str = Field(description="案件编号 / case number")


class PenaltyOverdue(DeadlineFields, _PenaltyCase):
    """Penalty information not published within 7 working days of the decision."""


class DeadLetter(Schema):
    """A record a platform never took (an outbox row given up on)."""

    subscriber: str = Field(description="接收平台 / platform")
    seq: int = Field(description="记录的账本序号 / the record's seq")
    kind: str = Field(description="记录类型：results|penalties / record kind")
    kind_zh: str = Field(description="记录类型（中文）/ record kind in Chinese")
    action: str = Field(description="动作：publish|correct|withdraw… / action")
    task_id: str = Field(description="任务编号 / task id")
    identifier: str = Field(description="检查对象标识 / target identifier")
    department: str = Field(description="牵头部门 / lead department")
    status: str = Field(description="推送状态 / delivery status")
    tries: int = Field(description="已尝试次数 / tries")
    last_error: str | None = Field(description="最近的错误 / last error, or null")


class _DeliveryCase(DeadLetter):
    case_no: str | None = Field(description="案件编号（行政处罚）/ case number (penalties)")
    drawn_or_decided: str = Field(description="抽取或处罚决定日期 / drawn or decided on")


class DeliveryOverdue(DeadlineFields, _DeliveryCase):
    """A record not delivered to a platform in time (or its deadline unknown)."""


class OverdueCounts(Schema):
    """Counts per (lead) department."""

    department: str = Field(description="部门编码 / department")
    uninspected: int = Field(description="逾期未检查 / not inspected in time")
    inspected_late: int = Field(description="逾期检查 / inspected late")
    publication_overdue: int = Field(description="逾期未公示 / results overdue")
    published_late: int = Field(description="逾期公示 / results published late")
    deadline_unknown: int = Field(description="公示期限未知 / deadline unknown")
    rectification_overdue: int = Field(description="逾期未整改 / rectifications overdue")
    penalty_overdue: int = Field(description="处罚信息逾期未公示 / penalties overdue")
    penalty_published_late: int = Field(description="处罚信息逾期公示 / published late")
    penalty_deadline_unknown: int = Field(description="处罚公示期限未知 / deadline unknown")
    delivery_overdue: int = Field(description="逾期未归集 / deliveries overdue")
    delivered_late: int = Field(description="逾期归集 / delivered late")
    delivery_deadline_unknown: int = Field(description="归集期限未知 / deadline unknown")
    dead_letters: int = Field(description="死信 / dead letters")


class OverdueReport(Schema):
    on: str = Field(description="报告日期 / the day reported on (YYYY-MM-DD)")
    as_of: int = Field(description=AS_OF)
    department: str | None = Field(description="部门范围（空：全部）/ department, or null: all")
    uninspected: list[Uninspected] = Field(description="逾期未检查 / not inspected in time")
    publication: list[PublicationOverdue] = Field(
        description="逾期未公示、逾期公示、公示期限未知 / results overdue, late or unknown"
    )
    rectifications: list[RectificationOverdue] = Field(description="逾期未整改 / rectifications")
    penalties: list[PenaltyOverdue] = Field(description="处罚信息公示 / penalty publication")
    deliveries: list[DeliveryOverdue] = Field(description="归集到信用平台 / deliveries")
    dead_letters: list[DeadLetter] = Field(description="死信 / dead letters")
    summary: list[OverdueCounts] = Field(description="按部门汇总 / counts per department")


@router.get(
    "/overdue",
    summary="逾期监测 / What is overdue",
    response_model=OverdueReport,
    response_model_exclude_unset=True,
)
def get_report(
    overdue: OverdueDep,
    principal: PrincipalDep,
    department: Annotated[
        str | None, Query(description="牵头或参与的部门 / a department leading or joining")
    ] = None,
    on: Annotated[
        str | None,
        Query(
            description="以此日期为“今天”（YYYY-MM-DD，默认今天，北京时间）/ the day reported on"
        ),
    ] = None,
    at_seq: AtSeq = None,
) -> dict[str, Any]:
    """逾期未检查、逾期未公示、逾期公示（逾期工作日数）与公示期限未知（附原因），按部门汇总。/
    Tasks not inspected by the window end, results overdue or published late (with the working
    days late), deadlines unknown (with the reason), and counts per department."""
    return overdue.report(principal, department, on, at_seq)

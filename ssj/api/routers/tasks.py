"""Inspection tasks (抽查任务): notification, results and their two sign-offs, the target's say,
publication (一公开) or withholding, closure; reads.

A task is addressed by its id (`GET /tasks?draw=…&target=…` finds it; the id is known from the
draw's reveal on). Every write returns the ledger head after it and the task as the read model
now holds it. Results are recorded only by inspectors on the task's team, as the certificate
their user is linked to.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import (
    AtSeq,
    PrincipalDep,
    ReasonIn,
    ServicesDep,
    WindowDep,
    authorise_read,
    make_router,
    read_at,
    read_scope,
    render_page,
)
from ssj.api.schemas import AS_OF, OUTCOME, SEQ, Outcome, Schema, TaskPage, TaskRow
from ssj.domain.tasks import EVENT_LABELS_ZH, Task
from ssj.services.context import Services
from ssj.services.tasks import TaskService

TAG = "抽查任务 / Tasks"
router = make_router(TAG)


def get_tasks(services: ServicesDep) -> TaskService:
    return TaskService(services)


TasksDep = Annotated[TaskService, Depends(get_tasks)]

DATE = "日期 YYYY-MM-DD（默认今天，北京时间）/ date (default: today, Beijing time)"


class NotifyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"on": "2026-03-03", "how": "电话通知"}]}
    )

    how: str = Field(description="通知方式（如 电话通知、书面通知、现场告知）/ how notified")
    on: str | None = Field(None, description=DATE)


class ResultIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "item": "CZ-SJJ-TZ/TZ-001",
                    "method": "现场检查",
                    "inspected_on": "2026-03-05",
                    "findings": "安全附件未定期校验，已责令改正",
                    "evidence": [
                        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                    ],
                    "category": "发现问题已责令改正",
                }
            ]
        },
    )

    item: str = Field(description="抽查事项 部门/事项编码 / the item as DEPT/CODE")
    method: str = Field(description="检查方式 / method: 现场检查、书面检查、网络检查、专业机构核查")
    inspected_on: str | None = Field(None, description=f"检查日期 / inspected on: {DATE}")
    findings: str = Field(description="检查情况 / what was found")
    evidence: list[str] = Field(
        default_factory=list,
        description="证据文件的 SHA-256 摘要（文件留在账本外）/ SHA-256 of evidence files kept "
        "outside the ledger",
    )
    category: str = Field(description="检查结果类别（中文或代码）/ result category, label or code")


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str = Field(description="抽查事项 部门/事项编码 / the item as DEPT/CODE")


class DateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: str | None = Field(None, description=DATE)


class ObjectionDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upheld: bool = Field(description="异议成立（结果重新录入）或不成立 / upheld (results reopened)")
    reason: str = Field(description="理由（记入账本）/ reason (recorded in the ledger)")


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public_summary: str = Field(description="公示内容 / the public summary")
    redacted_fields: list[str] = Field(
        default_factory=list,
        description="不公开的字段（商业秘密、个人信息）/ fields withheld from the public",
    )
    on: str | None = Field(None, description=DATE)


class WithholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="理由（记入账本）/ reason (recorded in the ledger)")
    until_final: bool = Field(
        description="true：暂缓至结果最终确定后公示（如待检验检测结果）；false：不予公示 / true: "
        "until the result is final (may be published then); false: for good"
    )


class TaskWritten(Schema):
    seq: int = Field(description=SEQ)
    task: TaskRow = Field(description="写入后的任务 / the task as now read")


class ResultDrafted(TaskWritten):
    outcome: Outcome = Field(description=OUTCOME)


class TaskEvent(Schema):
    """One event of the task, from its envelope."""

    seq: int = Field(description="账本序号 / ledger seq")
    recorded_at: str = Field(description="记录时间 / recorded at (ISO 8601)")
    event: str = Field(description="事件 / event name")
    event_zh: str = Field(description="事件（中文）/ the event in Chinese")
    user: str = Field(description="操作者 / by (username)")
    department: str = Field(description="操作者部门 / the actor's department")
    role: str = Field(description="操作者角色 / the actor's role")


class TaskShown(Schema):
    as_of: int = Field(description=AS_OF)
    task: TaskRow = Field(description="抽查任务 / the task")
    events: list[TaskEvent] = Field(description="任务经过（账本序号顺序）/ its events in seq order")


def _written(services: Services, task: Task) -> dict[str, Any]:
    """What a write returns: the ledger head after it and the task as now read."""
    seq = read_at(services, None)
    return {"seq": seq, "task": services.draw_queries.get("tasks", [str(task.id)], at_seq=seq)}


# Notification and results ----------------------------------------------------------------------


@router.post(
    "/tasks/{task_id}/notify",
    response_model=TaskWritten,
    response_model_exclude_unset=True,
    summary="通知检查对象 / Notify the target",
    description="任务自此开始；任务编号在抽取揭示时即已确定（见 `GET /draws/{draw_id}/tasks`）。/ "
    "The task begins; its id is known from the draw's reveal (`GET /draws/{draw_id}/tasks`).",
)
def notify(
    services: ServicesDep, tasks: TasksDep, principal: PrincipalDep, task_id: str, body: NotifyIn
) -> dict[str, Any]:
    return _written(services, tasks.notify(principal, task_id, body.on, body.how))


@router.post(
    "/tasks/{task_id}/results",
    response_model=ResultDrafted,
    response_model_exclude_unset=True,
    summary="起草检查结果（第一签）/ Draft an item's result (first sign-off)",
    description="仅限本任务检查组成员（用户须关联本人执法证号）；他人被拒绝并记录。第二签之前可重新"
    "起草（替换草稿），之后不能。/ Team members only (the user linked to their certificate); "
    "anyone else is refused, and the refusal recorded. A draft may be replaced until the second "
    "signature, not after.",
)
def draft_result(
    services: ServicesDep, tasks: TasksDep, principal: PrincipalDep, task_id: str, body: ResultIn
) -> dict[str, Any]:
    task, outcome = tasks.draft_result(
        principal,
        task_id,
        body.item,
        method=body.method,
        inspected_on=body.inspected_on,
        findings=body.findings,
        evidence=body.evidence,
        category=body.category,
    )
    return {**_written(services, task), "outcome": outcome}


@router.post(
    "/tasks/{task_id}/signatures",
    response_model=TaskWritten,
    response_model_exclude_unset=True,
    summary="签署检查结果（第二签）/ Countersign an item's result",
    description="须为检查组中起草人以外的成员。/ By a team member other than the drafter.",
)
def sign_result(
    services: ServicesDep, tasks: TasksDep, principal: PrincipalDep, task_id: str, body: SignIn
) -> dict[str, Any]:
    return _written(services, tasks.sign_result(principal, task_id, body.item))


@router.post(
    "/tasks/{task_id}/complete",
    response_model=TaskWritten,
    response_model_exclude_unset=True,
    summary="检查完成 / Complete the inspection",
    description="各事项须已两人签署；记录检查完成日期（公示期限自此计算）。/ Every item's result "
    "signed by two; records the completion date (publication deadlines count from it).",
)
def complete(
    services: ServicesDep, tasks: TasksDep, principal: PrincipalDep, task_id: str, body: DateIn
) -> dict[str, Any]:
    return _written(services, tasks.complete(principal, task_id, body.on))


# The target's say ------------------------------------------------------------------------------


@router.post(
    "/tasks/{task_id}/inform",
    response_model=TaskWritten,
    response_model_exclude_unset=True,
    summary="告知检查对象 / Inform the target",
)
def inform(
    services: ServicesDep, tasks: TasksDep, principal: PrincipalDep, task_id: str, body: DateIn
) -> dict[str, Any]:
    return _written(services, tasks.inform(principal, task_id, body.on))


@router.post(
    "/tasks/{task_id}/confirm",
    response_model=TaskWritten,
    response_model_exclude_unset=True,
    summary="检查对象无异议 / The target confirms",
)
def confirm(
    services: ServicesDep, tasks: TasksDep, principal: PrincipalDep, task_id: str
) -> dict[str, Any]:
    return _written(services, tasks.confirm(principal, task_id))


@router.post(
    "/tasks/{task_id}/objection",
    response_model=TaskWritten,
    response_model_exclude_unset=True,
    summary="检查对象提出异议 / The target objects",
)
def record_objection(
    services: ServicesDep, tasks: TasksDep, principal: PrincipalDep, task_id: str, body: ReasonIn
) -> dict[str, Any]:
    return _written(services, tasks.record_objection(principal, task_id, body.reason))


@router.post(
    "/tasks/{task_id}/objection/decision",
    response_model=TaskWritten,
    response_model_exclude_unset=True,
    summary="决定异议（领导）/ Decide the objection (leader)",
    description="成立：检查结果重新录入、签署、告知；不成立：维持结果，可公示。/ Upheld: the results "
    "are reopened, to be drafted, signed and informed again; rejected: the result stands.",
)
def decide_objection(
    services: ServicesDep,
    tasks: TasksDep,
    principal: PrincipalDep,
    task_id: str,
    body: ObjectionDecisionIn,
) -> dict[str, Any]:
    task = tasks.decide_objection(principal, task_id, body.upheld, body.reason)
    return _written(services, task)


# Publication (一公开) and closure --------------------------------------------------------------


@router.post(
    "/tasks/{task_id}/publish",
    response_model=TaskWritten,
    response_model_exclude_unset=True,
    summary="公示检查结果 / Publish the result",
)
def publish(
    services: ServicesDep, tasks: TasksDep, principal: PrincipalDep, task_id: str, body: PublishIn
) -> dict[str, Any]:
    task = tasks.publish(
        principal,
        task_id,
        public_summary=body.public_summary,
        redacted_fields=body.redacted_fields,
        on=body.on,
    )
    return _written(services, task)


@router.post(
    "/tasks/{task_id}/withhold",
    response_model=TaskWritten,
    response_model_exclude_unset=True,
    summary="暂不公示 / Withhold the result",
    description="`until_final`：暂缓至结果最终确定，之后可公示；否则不予公示，只能办结。/ "
    "`until_final`: until the result is final, then it may be published; otherwise for good: "
    "never published, only closed.",
)
def withhold(
    services: ServicesDep, tasks: TasksDep, principal: PrincipalDep, task_id: str, body: WithholdIn
) -> dict[str, Any]:
    return _written(services, tasks.withhold(principal, task_id, body.reason, body.until_final))


@router.post(
    "/tasks/{task_id}/close",
    response_model=TaskWritten,
    response_model_exclude_unset=True,
    summary="办结 / Close the task",
    description="已公示，或不予公示的任务才能办结；办结后不再作为未办结任务排除于后续抽取。/ Only "
    "once published, or withheld for good; a closed task no longer excludes its target from "
    "later draws as an open task.",
)
def close(
    services: ServicesDep, tasks: TasksDep, principal: PrincipalDep, task_id: str, body: DateIn
) -> dict[str, Any]:
    return _written(services, tasks.close(principal, task_id, body.on))


# Reads -----------------------------------------------------------------------------------------


@router.get(
    "/tasks",
    response_model=TaskPage,
    response_model_exclude_unset=True,
    summary="列出抽查任务 / List tasks",
)
def list_tasks(
    services: ServicesDep,
    tasks: TasksDep,
    principal: PrincipalDep,
    window: WindowDep,
    draw: Annotated[str | None, Query(description="抽取编号或标签 / the draw, id or label")] = None,
    department: Annotated[
        str | None, Query(description="牵头或参与的部门 / a department leading or joining")
    ] = None,
    status: Annotated[
        str | None, Query(description="状态（中文或代码，如 待检查、已办结）/ status")
    ] = None,
    category: Annotated[
        str | None, Query(description="检查结果类别（中文或代码）/ result category")
    ] = None,
    target: Annotated[str | None, Query(description="检查对象标识 / target identifier")] = None,
) -> dict[str, Any]:
    """本部门牵头或参与的任务，最近的抽取在前；纪检监察、考核人员与管理员可看全部。/ Tasks your
    department leads or joins, newest draw first; supervisors, reviewers and administrators see
    all."""
    involving = read_scope(services, principal, department)
    seq = read_at(services, window.at_seq)
    found = tasks.page(
        draw=draw,
        status=status,
        category=category,
        identifier=target,
        involving=involving,
        at_seq=seq,
        offset=window.offset,
        limit=window.limit,
    )
    return render_page(found.rows, found.total, window, seq)


@router.get(
    "/tasks/{task_id}",
    response_model=TaskShown,
    response_model_exclude_unset=True,
    summary="查看抽查任务 / Get a task",
)
def get_task(
    services: ServicesDep,
    tasks: TasksDep,
    principal: PrincipalDep,
    task_id: str,
    at_seq: AtSeq = None,
) -> dict[str, Any]:
    """任务及其经过（每个事件的账本序号、时间与操作者）。/ The task and its events (each with its
    ledger seq, time and actor)."""
    seq = read_at(services, at_seq)
    row = tasks.row(task_id, at_seq=seq)
    authorise_read(services, principal, row["departments"])
    events = [
        {
            "seq": e.seq,
            "recorded_at": e.recorded_at,
            "event": type(e.event).__name__,
            "event_zh": EVENT_LABELS_ZH.get(type(e.event).__name__, ""),
            "user": e.actor.user,
            "department": e.actor.department,
            "role": e.actor.role,
        }
        for e in tasks.events(row["task_id"])
        if e.seq <= seq
    ]
    return {"as_of": seq, "task": row, "events": events}

"""Follow-up of inspected tasks (后续处置): rectification orders and re-checks, reminders,
penalty cases and their publication, referrals; read.

A follow-up is addressed by its task's id (`/followups/{task_id}`). Every write returns the
ledger head after it and the follow-up as the read model now holds it. Re-checks are recorded
only by inspectors on the task's team, as the certificate their user is linked to. A penalty
case that lowers the credit class changes the target in the same save.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import AsOf, PrincipalDep, ServicesDep, authorise_read, make_router, snapshot
from ssj.domain.followup import FollowUp
from ssj.services.context import Services
from ssj.services.followup import FollowUpService

TAG = "后续处置 / Follow-up"
router = make_router(TAG)


def get_followups(services: ServicesDep) -> FollowUpService:
    return FollowUpService(services)


FollowUpsDep = Annotated[FollowUpService, Depends(get_followups)]

DATE = "日期 YYYY-MM-DD（默认今天，北京时间）/ date (default: today, Beijing time)"


class RectificationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"deadline": "2026-03-20", "requirement": "安全阀限期校验", "on": "2026-03-06"}
            ]
        },
    )

    deadline: str = Field(description="整改期限 YYYY-MM-DD / the deadline")
    requirement: str = Field(description="整改要求 / what must be rectified")
    on: str | None = Field(None, description=f"责令整改日期 / ordered on: {DATE}")


class RecheckIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"passed": True, "notes": "已校验"}]}
    )

    passed: bool = Field(description="复查是否通过 / passed (true) or failed (false)")
    notes: str = Field("", description="复查情况 / notes")
    on: str | None = Field(None, description=DATE)


class ReminderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="催告内容 / the reminder's text")
    on: str | None = Field(None, description=DATE)


class CaseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "case_no": "常市监罚〔2026〕1号",
                    "decision": "罚款人民币2万元",
                    "decided_on": "2026-03-09",
                    "credit_class": "D",
                }
            ]
        },
    )

    case_no: str = Field(description="案件编号 / the case number")
    decision: str = Field(description="处罚决定 / the decision")
    decided_on: str | None = Field(None, description=f"处罚决定日期 / decided on: {DATE}")
    credit_class: str | None = Field(
        None, description="调低后的信用风险分类（只能调低）/ the lowered credit class"
    )


class DateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: str | None = Field(None, description=DATE)


class ReferralIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"to_kind": "公安机关", "reason": "涉嫌伪造检验报告"}]},
    )

    to_kind: str = Field(
        description="移送对象：其他部门 或 公安机关 / department or public_security"
    )
    to: str = Field("", description="接收部门（移送其他部门时必填）/ the receiving department")
    reason: str = Field(description="移送理由 / reason")
    on: str | None = Field(None, description=DATE)


def _written(services: Services, followups: FollowUpService, follow: FollowUp) -> dict[str, Any]:
    seq = snapshot(services, None)
    return {"seq": seq, "followup": followups.row(follow.task_id, as_of=seq)}


@router.get("/followups/{task_id}", summary="查看后续处置 / Get a task's follow-up")
def get_followup(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    as_of: AsOf = None,
) -> dict[str, Any]:
    seq = snapshot(services, as_of)
    # The task first: another department's task is 403 whether or not it has a follow-up yet.
    task = followups.tasks.row(task_id, as_of=seq)
    authorise_read(services, principal, task["departments"])
    return {"as_of": seq, "followup": followups.row(task_id, as_of=seq)}


@router.post("/followups/{task_id}/rectifications", summary="责令整改 / Order a rectification")
def rectify(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    body: RectificationIn,
) -> dict[str, Any]:
    follow = followups.order_rectification(
        principal, task_id, deadline=body.deadline, requirement=body.requirement, on=body.on
    )
    return _written(services, followups, follow)


@router.post(
    "/followups/{task_id}/rectifications/{number}/rechecks",
    summary="复查整改 / Re-check a rectification",
    description="仅限本任务检查组成员；他人被拒绝并记录。/ Team members only; anyone else is "
    "refused, and the refusal recorded.",
)
def recheck(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    number: Annotated[int, Path(ge=1, le=1000, description="整改令序号 / rectification number")],
    body: RecheckIn,
) -> dict[str, Any]:
    follow = followups.recheck(
        principal, task_id, number, body.passed, notes=body.notes, on=body.on
    )
    return _written(services, followups, follow)


@router.post("/followups/{task_id}/reminders", summary="催告 / Record a reminder")
def remind(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    body: ReminderIn,
) -> dict[str, Any]:
    return _written(services, followups, followups.remind(principal, task_id, body.text, body.on))


@router.post("/followups/{task_id}/cases", summary="立案处罚 / File a penalty case")
def file_case(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    body: CaseIn,
) -> dict[str, Any]:
    follow = followups.file_case(
        principal,
        task_id,
        case_no=body.case_no,
        decision=body.decision,
        decided_on=body.decided_on,
        credit_class=body.credit_class,
    )
    return _written(services, followups, follow)


@router.post(
    "/followups/{task_id}/cases/{case}/publication",
    summary="公示处罚信息 / Publish a penalty case's information",
)
def publish_case(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    case: str,
    body: DateIn,
) -> dict[str, Any]:
    follow = followups.publish_case(principal, task_id, case, body.on)
    return _written(services, followups, follow)


@router.post("/followups/{task_id}/referrals", summary="移送 / Refer")
def refer(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    body: ReferralIn,
) -> dict[str, Any]:
    follow = followups.refer(
        principal, task_id, to_kind=body.to_kind, reason=body.reason, to=body.to, on=body.on
    )
    return _written(services, followups, follow)

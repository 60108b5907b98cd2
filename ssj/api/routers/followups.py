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

from ssj.api.deps import AtSeq, PrincipalDep, ServicesDep, authorise_read, make_router, read_at
from ssj.api.schemas import AS_OF, SEQ, Outcome, Schema
from ssj.domain.followup import FollowUp
from ssj.services.context import Services
from ssj.services.followups import FollowUpService, Made

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
    """A penalty decision in the fields of the 双公示 administrative-penalty data standard."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "case_no": "常市监罚〔2026〕1号",
                    "decision": "罚款人民币2万元",
                    "decided_on": "2026-03-09",
                    "credit_class": "D",
                    "violation_type": "未按规定定期检验特种设备",
                    "facts": "在用压力容器超过检验有效期仍继续使用",
                    "basis": "《中华人民共和国特种设备安全法》第八十四条",
                    "penalty_types": ["罚款"],
                    "fine": "2",
                    "authority_code": "11320400MB1234567X",
                    "legal_representative": "王某",
                }
            ]
        },
    )

    case_no: str = Field(description="行政处罚决定书文号 / the decision's document number")
    decision: str = Field(description="处罚内容 / what the penalty is")
    decided_on: str | None = Field(None, description=f"处罚决定日期 / decided on: {DATE}")
    credit_class: str | None = Field(
        None, description="调低后的信用风险分类（只能调低）/ the lowered credit class"
    )
    violation_type: str = Field(description="违法行为类型 / kind of violation")
    facts: str = Field(description="违法事实 / the facts")
    basis: str = Field(description="处罚依据 / the legal basis")
    penalty_types: list[str] = Field(
        description="处罚类别（可多选：警告、通报批评、罚款、没收违法所得、没收非法财物、"
        "暂扣许可证件、降低资质等级、吊销许可证件、限制开展生产经营活动、责令停产停业、"
        "责令关闭、限制从业、行政拘留、其他）/ penalty types (《行政处罚法》 art. 9)"
    )
    fine: str = Field("", description="罚款金额（万元）/ fine in 10,000 yuan")
    confiscated: str = Field(
        "", description="没收违法所得、没收非法财物的金额（万元）/ amount confiscated"
    )
    licence: str = Field("", description="暂扣或吊销证照名称及编号 / licence suspended or revoked")
    valid_until: str | None = Field(None, description="处罚有效期 / the penalty's end date")
    publicity_until: str | None = Field(
        None, description="公示截止期（默认决定日期后一年）/ publicity ends (default: a year)"
    )
    authority: str | None = Field(
        None, description="处罚机关（部门编码，默认本人部门）/ deciding department"
    )
    authority_code: str = Field(description="处罚机关统一社会信用代码 / its USCC")
    source: str | None = Field(None, description="数据来源单位（默认处罚机关）/ data source")
    source_code: str | None = Field(
        None, description="数据来源单位统一社会信用代码（默认同上）/ its USCC"
    )
    legal_representative: str = Field(
        "", description="法定代表人（负责人、经营者）/ legal representative"
    )
    notes: str = Field("", description="备注 / notes")


class CorrectionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"changes": {"fine": "1.5"}, "reason": "罚款金额笔误", "on": "2026-03-20"}]
        },
    )

    changes: dict[str, Any] = Field(
        description="更正的字段与新值（字段名同立案）/ fields and their corrected values"
    )
    reason: str = Field(description="更正原因（随更正记录报送）/ why (sent with the record)")
    on: str | None = Field(None, description=DATE)


class RevocationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "经行政复议撤销"}]}
    )

    reason: str = Field(description="撤销原因（随撤回记录报送）/ why (sent with the record)")
    on: str | None = Field(None, description=DATE)


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


class Recheck(Schema):
    on: str = Field(description="复查日期 / re-checked on")
    passed: bool = Field(description="是否通过 / passed")
    by: str = Field(description="复查人执法证号 / by (certificate number)")
    notes: str = Field(description="复查情况 / notes")


class Rectification(Schema):
    ordered_on: str = Field(description="责令整改日期 / ordered on")
    deadline: str = Field(description="整改期限 / deadline")
    requirement: str = Field(description="整改要求 / what must be rectified")
    rechecks: list[Recheck] = Field(description="复查记录 / re-checks")
    passed_on: str | None = Field(description="复查通过日期（未通过为空）/ passed on, or null")


class Reminder(Schema):
    on: str = Field(description="催告日期 / reminded on")
    text: str = Field(description="催告内容 / the reminder's text")


class Correction(Schema):
    on: str = Field(description="更正日期 / corrected on")
    reason: str = Field(description="更正原因 / why")
    fields: list[str] = Field(description="更正的字段 / the fields corrected")


class PenaltyCase(Schema):
    """A penalty case in the fields of the 双公示 administrative-penalty data standard."""

    case_no: str = Field(description="行政处罚决定书文号 / the decision's document number")
    decided_on: str = Field(description="处罚决定日期 / decided on")
    decided_seq: int = Field(description="立案事件的账本序号 / the filing's ledger seq")
    decision: str = Field(description="处罚内容 / what the penalty is")
    credit_class: str | None = Field(description="调低后的信用风险分类 / lowered class, or null")
    previous_class: str | None = Field(description="调低前的分类 / the class before, or null")
    published_on: str | None = Field(description="公示日期 / published on, or null")
    published_seq: int | None = Field(description="公示事件的账本序号 / its seq, or null")
    violation_type: str = Field(description="违法行为类型 / kind of violation")
    facts: str = Field(description="违法事实 / the facts")
    basis: str = Field(description="处罚依据 / the legal basis")
    penalty_types: list[str] = Field(description="处罚类别 / penalty types")
    fine: str = Field(description="罚款金额（万元）/ fine in 10,000 yuan")
    confiscated: str = Field(description="没收金额（万元）/ amount confiscated")
    licence: str = Field(description="暂扣或吊销证照 / licence suspended or revoked")
    valid_until: str | None = Field(description="处罚有效期 / the penalty's end date, or null")
    publicity_until: str | None = Field(description="公示截止期 / publicity ends, or null")
    authority: str = Field(description="处罚机关 / deciding department")
    authority_code: str = Field(description="处罚机关统一社会信用代码 / its USCC")
    source: str = Field(description="数据来源单位 / data source")
    source_code: str = Field(description="数据来源单位统一社会信用代码 / its USCC")
    legal_representative: str = Field(description="法定代表人 / legal representative")
    notes: str = Field(description="备注 / notes")
    target_type: str | None = Field(description="检查对象类型 / target type, or null")
    corrections: list[Correction] = Field(description="更正记录 / corrections")
    revoked_on: str | None = Field(description="撤销日期 / revoked on, or null")
    revocation: str | None = Field(description="撤销原因 / why revoked, or null")


class Referral(Schema):
    on: str = Field(description="移送日期 / referred on")
    to_kind: str = Field(description="移送对象 department|public_security / referred to")
    to: str = Field(description="接收部门（移送公安机关时为空）/ receiving department, or empty")
    reason: str = Field(description="移送理由 / reason")


class FollowUpRow(Schema):
    """A task's follow-up as the followups read model holds it (projections.followups)."""

    followup_id: str = Field(description="后续处置编号（UUID）/ the follow-up's id")
    task_id: str = Field(description="任务编号 / the task's id")
    identifier: str = Field(description="检查对象标识 / the target's identifier")
    departments: list[str] = Field(description="任务的部门 / the task's departments")
    completed_on: str = Field(description="检查完成日期 / the inspection's completion date")
    rectifications: list[Rectification] = Field(description="整改令（序号从 1 起）/ orders")
    reminders: list[Reminder] = Field(description="催告 / reminders")
    cases: list[PenaltyCase] = Field(description="立案处罚（序号从 1 起）/ penalty cases")
    referrals: list[Referral] = Field(description="移送 / referrals")


class FollowUpShown(Schema):
    as_of: int = Field(description=AS_OF)
    followup: FollowUpRow = Field(description="后续处置 / the follow-up")


class FollowUpWritten(Schema):
    seq: int = Field(description=SEQ)
    followup: FollowUpRow = Field(description="写入后的后续处置 / the follow-up as now read")


class EntryWritten(FollowUpWritten):
    number: int = Field(description="该记录的序号（从 1 起）/ the entry's number (from 1)")
    outcome: Outcome = Field(
        description="created：已记录；unchanged：相同记录已存在，未写入 / created, or unchanged: "
        "identical already, nothing written"
    )


def _written(
    services: Services, followups: FollowUpService, follow: FollowUp, **extra: Any
) -> dict[str, Any]:
    seq = read_at(services, None)
    return {"seq": seq, "followup": followups.row(follow.task_id, at_seq=seq), **extra}


def _entry(services: Services, followups: FollowUpService, made: Made) -> dict[str, Any]:
    """An entry's answer: its number, and `outcome` "unchanged" when the identical entry was on
    record already (nothing written), else "created"."""
    follow, number, outcome = made
    return _written(services, followups, follow, number=number, outcome=outcome)


@router.get(
    "/followups/{task_id}",
    response_model=FollowUpShown,
    response_model_exclude_unset=True,
    summary="查看后续处置 / Get a task's follow-up",
)
def get_followup(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    at_seq: AtSeq = None,
) -> dict[str, Any]:
    seq = read_at(services, at_seq)
    # The task first: another department's task is 403 whether or not it has a follow-up yet.
    task = followups.tasks.row(task_id, at_seq=seq)
    authorise_read(services, principal, task["departments"])
    return {"as_of": seq, "followup": followups.row(task_id, at_seq=seq)}


@router.post(
    "/followups/{task_id}/rectifications",
    response_model=EntryWritten,
    response_model_exclude_unset=True,
    summary="责令整改 / Order a rectification",
)
def rectify(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    body: RectificationIn,
) -> dict[str, Any]:
    made = followups.order_rectification(
        principal, task_id, deadline=body.deadline, requirement=body.requirement, on=body.on
    )
    return _entry(services, followups, made)


@router.post(
    "/followups/{task_id}/rectifications/{number}/rechecks",
    response_model=FollowUpWritten,
    response_model_exclude_unset=True,
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


@router.post(
    "/followups/{task_id}/reminders",
    response_model=EntryWritten,
    response_model_exclude_unset=True,
    summary="催告 / Record a reminder",
)
def remind(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    body: ReminderIn,
) -> dict[str, Any]:
    return _entry(services, followups, followups.remind(principal, task_id, body.text, body.on))


@router.post(
    "/followups/{task_id}/cases",
    response_model=EntryWritten,
    response_model_exclude_unset=True,
    summary="立案处罚 / File a penalty case",
)
def file_case(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    body: CaseIn,
) -> dict[str, Any]:
    values = body.model_dump()
    return _entry(services, followups, followups.file_case(principal, task_id, **values))


@router.post(
    "/followups/{task_id}/cases/{case}/publication",
    response_model=FollowUpWritten,
    response_model_exclude_unset=True,
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


@router.post(
    "/followups/{task_id}/cases/{case}/corrections",
    response_model=FollowUpWritten,
    response_model_exclude_unset=True,
    summary="更正处罚信息 / Correct a penalty case",
    description="一次更正即一条账本事件；已公示的案件另生成一条更正记录报送信用平台。/ Each "
    "correction is an event; for a published case it is also a correction record for the "
    "credit platforms.",
)
def correct_case(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    case: str,
    body: CorrectionIn,
) -> dict[str, Any]:
    follow = followups.correct_case(principal, task_id, case, body.changes, body.reason, body.on)
    return _written(services, followups, follow)


@router.post(
    "/followups/{task_id}/cases/{case}/revocation",
    response_model=FollowUpWritten,
    response_model_exclude_unset=True,
    summary="撤销处罚决定 / Record a revoked penalty decision",
)
def revoke_case(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    case: str,
    body: RevocationIn,
) -> dict[str, Any]:
    follow = followups.revoke_case(principal, task_id, case, body.reason, body.on)
    return _written(services, followups, follow)


@router.post(
    "/followups/{task_id}/referrals",
    response_model=EntryWritten,
    response_model_exclude_unset=True,
    summary="移送 / Refer",
)
def refer(
    services: ServicesDep,
    followups: FollowUpsDep,
    principal: PrincipalDep,
    task_id: str,
    body: ReferralIn,
) -> dict[str, Any]:
    made = followups.refer(
        principal, task_id, to_kind=body.to_kind, reason=body.reason, to=body.to, on=body.on
    )
    return _entry(services, followups, made)

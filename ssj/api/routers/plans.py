"""Inspection plans (抽查计划): draft, amend, submit, approve or return, publish, cancel, read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import (
    IDENTICAL,
    AtSeq,
    PrincipalDep,
    ReasonIn,
    ServicesDep,
    WindowDep,
    authorise_read,
    constructed,
    make_router,
    read_at,
    read_scope,
    render_page,
)
from ssj.api.schemas import AS_OF, OUTCOME, SEQ, Outcome, Page, Schema, answers
from ssj.domain import fields
from ssj.domain.plans import KIND_LABELS, STATUS_LABELS, PlanKind, PlanStatus
from ssj.errors import NotFoundError
from ssj.services.context import Services
from ssj.services.plans import PlanService

TAG = "抽查计划 / Plans"
router = make_router(TAG)


def get_plans(services: ServicesDep) -> PlanService:
    return PlanService(services)


PlansDep = Annotated[PlanService, Depends(get_plans)]

Count = int | str | None


class PlanFields(BaseModel):
    """The fields a plan may set; values may be the canonical codes or the Chinese labels."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, description="计划名称 / title")
    year: int | str | None = Field(None, description="年度（2000–2100）/ year")
    kind: str | None = Field(None, description="annual|monthly 或 年度、月度（默认年度）/ kind")
    month: Count = Field(None, description="月份（仅月度计划）/ month (monthly plans only)")
    items: list[str] | str | None = Field(
        None, description="牵头部门的抽查事项编码 / the lead department's item codes"
    )
    cooperating: dict[str, list[str] | str] | None = Field(
        None,
        description="联合抽查：配合部门编码 → 其抽查事项编码 / joint plans: cooperating "
        "department -> its item codes",
    )
    target_types: list[str] | str | None = Field(
        None, description="检查对象类型（空：按所列事项）/ target types (empty: the items')"
    )
    region_codes: list[str] | str | None = Field(
        None, description="行政区划代码前缀（空：全辖区）/ region-code prefixes (empty: all)"
    )
    tags: list[str] | str | None = Field(None, description="对象标签（空：不限）/ target tags")
    ratios: dict[str, str | float] | None = Field(
        None,
        description="按信用风险分类的抽查比例（%，0 < r ≤ 100），未给出的类别取默认 A 1、B 3、"
        "C 10、D 30 / percent per credit class; classes not given keep the defaults",
    )
    fixed_count: Count = Field(
        None, description="固定抽取数量（与比例二选一）/ a fixed count instead of ratios"
    )
    minimum: Count = Field(None, description="每层最少抽取数（默认 0）/ minimum per stratum")
    window_start: str | None = Field(None, description="实施开始日期 / window start (YYYY-MM-DD)")
    window_end: str | None = Field(None, description="实施结束日期 / window end (YYYY-MM-DD)")
    team_size: Count = Field(None, description="检查组人数（2–10，默认 2）/ team size")
    experts: Count = Field(None, description="每组专家人数（0–5）/ experts per team")
    yearly_cap_department: Count = Field(
        None, description="本部门每年对同一对象抽查上限（默认 2）/ yearly cap, this department"
    )
    yearly_cap_all: Count = Field(
        None, description="各部门每年对同一对象抽查上限（默认 4）/ yearly cap, all departments"
    )
    exclusion_days: Count = Field(
        None, description="排除近若干天已检查的对象（默认 90，0 关闭）/ exclusion window in days"
    )
    workload_cap: Count = Field(
        None, description="每名检查人员任务上限（空：不限）/ tasks per inspector (empty: none)"
    )
    priority_uncovered: bool | str | None = Field(
        None, description="优先抽取未覆盖对象 / draw not-yet-covered targets first"
    )
    coverage_years: Count = Field(None, description="全覆盖周期（1–3 年）/ coverage period")


class PlanIn(PlanFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "2026-A1",
                    "department": "CZ-SJJ-TZ",
                    "title": "2026 年度特种设备使用单位双随机抽查计划",
                    "year": 2026,
                    "kind": "年度",
                    "items": ["TZ-001"],
                    "ratios": {"A": "1", "B": "3", "C": "10", "D": "30"},
                }
            ]
        },
    )

    code: str = Field(description="计划编号 / plan code")
    department: str = Field(description="牵头部门编码 / lead department code")
    title: str = Field(description="计划名称 / title")
    year: int | str = Field(description="年度 / year")
    items: list[str] | str = Field(
        description="牵头部门的抽查事项编码 / the lead department's item codes"
    )


class PlanPatch(PlanFields):
    """Only the fields that change (null clears an optional one), and why."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"team_size": 3, "reason": "增加特种设备检验人员"}]},
    )

    reason: str | None = Field(
        None, description="理由（已批准或已公布的计划必填）/ reason (required once approved)"
    )


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(None, description="批准意见 / comment")


class PlanFilters:
    def __init__(
        self,
        department: Annotated[
            str | None, Query(description="牵头或参与的部门 / a department leading or joining")
        ] = None,
        code: Annotated[str | None, Query(description="计划编号 / plan code")] = None,
        year: Annotated[int | None, Query(ge=2000, le=2100, description="年度 / year")] = None,
        kind: Annotated[str | None, Query(description="annual|monthly 或 年度、月度")] = None,
        status: Annotated[
            str | None,
            Query(description="draft|submitted|approved|published|cancelled 或 草稿、已公布…"),
        ] = None,
    ) -> None:
        self.department = department
        self.columns: dict[str, object] = {
            "code": code,
            "year": year,
            "kind": fields.choice("kind", kind, PlanKind, KIND_LABELS) if kind else None,
            "status": fields.choice("status", status, PlanStatus, STATUS_LABELS)
            if status
            else None,
        }


FiltersDep = Annotated[PlanFilters, Depends(constructed(PlanFilters))]


class PlanRow(Schema):
    """A plan as the plans read model holds it (projections.plans): its fields, its workflow
    status, and who drafted and approved it when."""

    code: str = Field(description="计划编号 / plan code")
    department: str = Field(description="牵头部门编码 / lead department code")
    title: str = Field(description="计划名称 / title")
    year: int = Field(description="年度 / year")
    kind: PlanKind = Field(description="annual 年度 | monthly 月度 / kind")
    month: int | None = Field(description="月份（月度计划）/ month (monthly plans; else null)")
    items: list[str] = Field(description="牵头部门的抽查事项编码 / the lead department's items")
    cooperating: dict[str, list[str]] = Field(
        description="联合抽查：配合部门编码 → 其事项编码 / cooperating department -> its items"
    )
    target_types: list[str] = Field(description="检查对象类型 / target types")
    region_codes: list[str] = Field(description="行政区划代码前缀（空：全辖区）/ region prefixes")
    tags: list[str] = Field(description="对象标签（空：不限）/ target tags (empty: any)")
    ratios: dict[str, str] = Field(
        description="按信用风险分类的抽查比例（%）/ percent per credit class (empty with a fixed "
        "count)"
    )
    fixed_count: int | None = Field(description="固定抽取数量（无则为空）/ fixed count, or null")
    minimum: int = Field(description="每层最少抽取数 / minimum per stratum")
    window_start: str = Field(description="实施开始日期 / window start (YYYY-MM-DD)")
    window_end: str = Field(description="实施结束日期 / window end (YYYY-MM-DD)")
    team_size: int = Field(description="检查组人数 / team size")
    experts: int = Field(description="每组专家人数 / experts per team")
    yearly_cap_department: int = Field(description="本部门每年上限 / yearly cap, this department")
    yearly_cap_all: int = Field(description="各部门每年上限 / yearly cap, all departments")
    exclusion_days: int = Field(description="排除近若干天已检查的对象 / exclusion window (days)")
    workload_cap: int | None = Field(description="每名检查人员任务上限（空：不限）/ per inspector")
    priority_uncovered: bool = Field(description="优先抽取未覆盖对象 / not-yet-covered first")
    coverage_years: int = Field(description="全覆盖周期（年）/ coverage period (years)")
    publish_within_days: int = Field(
        description="检查结果公示期限（工作日）/ working days to publish a result"
    )
    status: PlanStatus = Field(
        description="draft 草稿 | submitted 已提交 | approved 已批准 | published 已公布 | "
        "cancelled 已撤销 / workflow status"
    )
    plan_id: str = Field(description="计划的聚合编号（UUID）/ the plan's id")
    version: int = Field(description="版本（每个事件加一）/ version (one per event)")
    drafted_by: str = Field(description="起草人 / drafted by (username)")
    drafted_at: str = Field(description="起草时间 / drafted at (ISO 8601)")
    approved_by: str | None = Field(description="批准人（未批准为空）/ approved by, or null")
    approved_at: str | None = Field(description="批准时间 / approved at, or null")
    approval_comment: str | None = Field(description="批准意见 / approval comment, or null")
    published_at: str | None = Field(description="公布时间 / published at, or null")
    return_reason: str | None = Field(description="退回理由 / why it was returned, or null")
    cancel_reason: str | None = Field(description="撤销理由 / why it was cancelled, or null")
    amendments: int = Field(description="修改次数 / number of amendments")


class PlanPage(Page[PlanRow]):
    pass


class PlanShown(Schema):
    as_of: int = Field(description=AS_OF)
    plan: PlanRow = Field(description="抽查计划 / the plan")


class PlanWritten(Schema):
    outcome: Outcome = Field(description=OUTCOME)
    seq: int = Field(description=SEQ)
    plan: PlanRow = Field(description="写入后的计划 / the plan as now read")


def _written(
    services: Services, response: Response, outcome: str, department: str, code: str
) -> dict[str, Any]:
    """What a write returns: its outcome, the ledger head after it, the plan as now read."""
    response.status_code = 201 if outcome == "created" else 200
    seq = read_at(services, None)
    plan = services.plan_queries.get(department, code, at_seq=seq)
    return {"outcome": outcome, "seq": seq, "plan": plan}


@router.get(
    "/plans",
    response_model=PlanPage,
    response_model_exclude_unset=True,
    summary="列出抽查计划 / List plans",
)
def list_plans(
    services: ServicesDep, principal: PrincipalDep, window: WindowDep, filters: FiltersDep
) -> dict[str, Any]:
    """本部门牵头或参与的计划；纪检监察、考核人员与管理员可看全部。`search` 匹配编号或名称。/
    Plans your department leads or joins; supervisors, reviewers and administrators see all.
    `search` matches the code or title."""
    involving = read_scope(services, principal, filters.department)
    seq = read_at(services, window.at_seq)
    found = services.plan_queries.list(
        filters.columns,
        window.offset,
        window.limit,
        seq,
        involving=involving,
        search=window.search,
    )
    return render_page(found.rows, found.total, window, seq)


@router.get(
    "/plans/{department}/{code}",
    response_model=PlanShown,
    response_model_exclude_unset=True,
    summary="查看抽查计划 / Get a plan",
)
def get_plan(
    services: ServicesDep, principal: PrincipalDep, department: str, code: str, at_seq: AtSeq = None
) -> dict[str, Any]:
    seq = read_at(services, at_seq)
    plan = services.plan_queries.get(department, code, at_seq=seq)
    if plan is None:
        raise NotFoundError(
            f"抽查计划 {department}/{code} 不存在（账本序号 {seq}）",
            f"plan {department}/{code} not found (as of seq {seq})",
        )
    authorise_read(services, principal, [plan["department"], *plan["cooperating"]])
    return {"as_of": seq, "plan": plan}


@router.post(
    "/plans",
    response_model=PlanWritten,
    response_model_exclude_unset=True,
    summary="起草抽查计划 / Draft a plan",
    description="所列事项须在相应部门的事项清单中且未废止；未给出检查对象类型时取所列事项的类型。"
    "/ Every item must be on its department's list and not retired; target types default to "
    "the items'.",
    status_code=201,
    responses=answers(PlanWritten, IDENTICAL),
)
def draft_plan(
    services: ServicesDep,
    plans: PlansDep,
    principal: PrincipalDep,
    body: PlanIn,
    response: Response,
) -> dict[str, Any]:
    plan = plans.draft(principal, body.model_dump(exclude_none=True))
    return _written(services, response, plan["outcome"], plan["department"], plan["code"])


@router.patch(
    "/plans/{department}/{code}",
    response_model=PlanWritten,
    response_model_exclude_unset=True,
    summary="修改抽查计划 / Amend a plan",
    description="只记录变化的字段。已批准或已公布的计划须说明理由，修改后退回草稿，须重新提交审批。"
    "/ Records only the changed fields. An approved or published plan needs a reason and goes "
    "back to draft, to be submitted and approved again.",
)
def amend_plan(
    services: ServicesDep,
    plans: PlansDep,
    principal: PrincipalDep,
    department: str,
    code: str,
    body: PlanPatch,
    response: Response,
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    reason = changes.pop("reason", None) or ""
    before = services.ledger.size()
    plans.amend(principal, department, code, changes, reason)
    outcome = "updated" if services.ledger.size() != before else "unchanged"
    return _written(services, response, outcome, department, code)


@router.post(
    "/plans/{department}/{code}/submit",
    response_model=PlanWritten,
    response_model_exclude_unset=True,
    summary="提交审批 / Submit for approval",
)
def submit_plan(
    services: ServicesDep,
    plans: PlansDep,
    principal: PrincipalDep,
    department: str,
    code: str,
    response: Response,
) -> dict[str, Any]:
    plans.submit(principal, department, code)
    return _written(services, response, "updated", department, code)


@router.post(
    "/plans/{department}/{code}/approve",
    response_model=PlanWritten,
    response_model_exclude_unset=True,
    summary="批准（领导）/ Approve (leader)",
)
def approve_plan(
    services: ServicesDep,
    plans: PlansDep,
    principal: PrincipalDep,
    department: str,
    code: str,
    response: Response,
    body: CommentIn | None = None,
) -> dict[str, Any]:
    comment = body.comment if body is not None else None
    plans.approve(principal, department, code, comment or "")
    return _written(services, response, "updated", department, code)


@router.post(
    "/plans/{department}/{code}/return",
    response_model=PlanWritten,
    response_model_exclude_unset=True,
    summary="退回（领导）/ Return (leader)",
)
def return_plan(
    services: ServicesDep,
    plans: PlansDep,
    principal: PrincipalDep,
    department: str,
    code: str,
    body: ReasonIn,
    response: Response,
) -> dict[str, Any]:
    plans.return_plan(principal, department, code, body.reason)
    return _written(services, response, "updated", department, code)


@router.post(
    "/plans/{department}/{code}/publish",
    response_model=PlanWritten,
    response_model_exclude_unset=True,
    summary="公布 / Publish",
)
def publish_plan(
    services: ServicesDep,
    plans: PlansDep,
    principal: PrincipalDep,
    department: str,
    code: str,
    response: Response,
) -> dict[str, Any]:
    plans.publish(principal, department, code)
    return _written(services, response, "updated", department, code)


@router.post(
    "/plans/{department}/{code}/cancel",
    response_model=PlanWritten,
    response_model_exclude_unset=True,
    summary="撤销（领导）/ Cancel (leader)",
)
def cancel_plan(
    services: ServicesDep,
    plans: PlansDep,
    principal: PrincipalDep,
    department: str,
    code: str,
    body: ReasonIn,
    response: Response,
) -> dict[str, Any]:
    plans.cancel(principal, department, code, body.reason)
    return _written(services, response, "updated", department, code)

"""The annual assessment (考核): per department and year, figures, the rows behind each figure,
an XLSX workbook with Chinese headers and a PNG chart per department.

Reviewers, supervisors and administrators read every department; a department's leader its
own. `on` is the day things not yet done are judged on (default: the year's last day, or today
while the year runs); `at_seq` reads the ledger as it stood at that seq; `cycle_years` is the
coverage cycle (default 1).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Response
from pydantic import Field

from ssj.api.deps import (
    AtSeq,
    Limit,
    Offset,
    PrincipalDep,
    ServicesDep,
    make_router,
)
from ssj.api.schemas import AS_OF, Schema
from ssj.domain.assessment import FIGURES
from ssj.presentation.sheets import XLSX
from ssj.services.assessment import MAX_CYCLE_YEARS, AssessmentService

TAG = "考核 / Assessment"
router = make_router(TAG)


def get_assessment(services: ServicesDep) -> AssessmentService:
    return AssessmentService(services)


AssessmentDep = Annotated[AssessmentService, Depends(get_assessment)]
Year = Annotated[int, Path(ge=2000, le=2100, description="考核年度 / the year assessed")]
Department = Annotated[str, Path(max_length=64, description="部门编码 / department code")]
On = Annotated[
    str | None,
    Query(
        description="判断“逾期”的日期（YYYY-MM-DD；默认年末，年度未结束时为今天）/ the day "
        "things not yet done are judged on (default: the year's last day, or today)"
    ),
]
Cycle = Annotated[
    int | None,
    Query(ge=1, le=MAX_CYCLE_YEARS, description="覆盖周期（年，默认 1）/ coverage cycle in years"),
]


# Responses ---------------------------------------------------------------------------------------

SHARE = "比率（0–1，保留 4 位小数；无分母时为空）/ share, 0-1 rounded to 4 places (null: nothing to divide by)"


class PlansFigure(Schema):
    """计划完成 / plans completed."""

    plans: int = Field(description="年度计划数 / plans of the year")
    published: int = Field(description="已公布 / published")
    completed: int = Field(description="已完成 / completed")
    in_progress: int = Field(description="实施中 / in progress")
    not_completed: int = Field(description="未完成 / not completed")
    not_drawn: int = Field(description="未抽取 / not drawn")
    not_published: int = Field(description="未公布 / not published")
    cancelled: int = Field(description="已撤销 / cancelled")
    share: float | None = Field(description=f"已完成 / 已公布；{SHARE}")


class RatioClass(Schema):
    credit_class: str = Field(description="信用风险分类 / credit-risk class")
    population: int = Field(description="总体数量 / population")
    required: int = Field(description="应抽数量 / required")
    drawn: int = Field(description="实抽数量 / drawn")
    inspected: int = Field(description="已检查数量 / inspected")
    required_ratio: float | None = Field(description=f"应抽比例；{SHARE}")
    achieved_ratio: float | None = Field(description=f"实际检查比例；{SHARE}")
    met: bool = Field(description="是否达到 / met")


class RatiosFigure(Schema):
    """抽查比例（按信用风险分类）/ ratio achieved vs required."""

    classes: list[RatioClass] = Field(description="各信用风险分类 / per credit-risk class")
    met: bool | None = Field(description="全部达到（无分类时为空）/ all met (null: no class)")


class CoverageFigure(Schema):
    """名录库覆盖率 / registry coverage."""

    cycle_years: int = Field(description="覆盖周期（年）/ coverage cycle (years)")
    from_: str = Field(alias="from", description="周期开始 / cycle from (YYYY-MM-DD)")
    to: str = Field(description="周期结束 / cycle to (YYYY-MM-DD)")
    in_scope: int = Field(description="应覆盖的检查对象 / targets in scope")
    covered: int = Field(description="已覆盖 / covered")
    share: float | None = Field(description=f"覆盖率；{SHARE}")


class CapsFigure(Schema):
    """超过年度抽查上限 / over the yearly cap."""

    over_cap: int = Field(description="超过上限的检查对象 / targets over a cap")
    tasks: int = Field(description="超过上限的任务 / tasks over a cap")
    department: int = Field(description="超过本部门上限 / over this department's cap")
    all: int = Field(description="超过各部门合计上限 / over the all-departments cap")


class ParticipationFigure(Schema):
    """检查人员参与率 / inspector participation."""

    inspectors: int = Field(description="检查人员 / inspectors")
    took_part: int = Field(description="参与检查的 / who took part")
    share: float | None = Field(description=f"参与率；{SHARE}")


class JointFigure(Schema):
    """联合抽查占比 / joint inspections."""

    tasks: int = Field(description="任务 / tasks")
    joint: int = Field(description="联合抽查任务 / joint tasks")
    share: float | None = Field(description=f"占比；{SHARE}")


class PublicationFigure(Schema):
    """结果按时公示 / results published on time."""

    results: int = Field(description="检查结果 / results")
    on_time: int = Field(description="按期公示 / on time")
    late: int = Field(description="逾期公示 / late")
    overdue: int = Field(description="逾期未公示 / overdue")
    pending: int = Field(description="未到期 / not yet due")
    withheld: int = Field(description="不予公示或暂缓公示 / withheld")
    unknown: int = Field(description="期限未知 / deadline unknown")
    share_on_time: float | None = Field(description=f"按期公示率；{SHARE}")
    median_working_days: float | None = Field(
        description="公示用时中位数（工作日）/ median working days to publish"
    )
    median_working_days_late: float | None = Field(
        description="逾期工作日数中位数 / median working days late"
    )


class DeliveryFigure(Schema):
    """按时归集到信用平台 / records delivered to the credit platforms on time."""

    records: int = Field(description="应归集记录 / records")
    on_time: int = Field(description="按期送达 / on time")
    late: int = Field(description="逾期送达 / late")
    overdue: int = Field(description="逾期未送达 / overdue")
    pending: int = Field(description="未到期 / not yet due")
    unknown: int = Field(description="期限未知 / deadline unknown")
    dead_letters: int = Field(description="死信 / dead letters")
    share_on_time: float | None = Field(description=f"按期送达率；{SHARE}")


class RectificationsFigure(Schema):
    """整改闭环 / rectification closure."""

    orders: int = Field(description="责令整改 / rectification orders")
    closed: int = Field(description="复查通过（按期）/ closed on time")
    closed_late: int = Field(description="复查通过（逾期）/ closed late")
    overdue: int = Field(description="逾期未复查通过 / overdue")
    open: int = Field(description="整改期限内 / open, not yet due")
    share_closed: float | None = Field(description=f"闭环率；{SHARE}")


class RecusalsFigure(Schema):
    """回避 / recusals."""

    total: int = Field(description="回避总数 / recusals")
    declared: int = Field(description="检查人员自行回避 / declared by inspectors")
    requested: int = Field(description="检查对象申请回避 / requested by targets")
    pending: int = Field(description="待处理的回避申请 / requests pending")


class AbandonedFigure(Schema):
    """作废的抽取 / abandoned draws."""

    count: int = Field(description="作废的抽取数 / abandoned draws")
    reasons: list[str] = Field(description="作废理由 / their reasons")


class Figures(Schema):
    """The department's figures (FIGURES), each a summary of its drill-down rows."""

    plans: PlansFigure = Field(description="计划完成 / plans completed")
    ratios: RatiosFigure = Field(
        description="抽查比例（按信用风险分类） / ratio achieved vs required"
    )
    coverage: CoverageFigure = Field(description="名录库覆盖率 / registry coverage")
    caps: CapsFigure = Field(description="超过年度抽查上限 / over the yearly cap")
    participation: ParticipationFigure = Field(
        description="检查人员参与率 / inspector participation"
    )
    joint: JointFigure = Field(description="联合抽查占比 / joint inspections")
    publication: PublicationFigure = Field(description="结果按时公示 / results published on time")
    delivery: DeliveryFigure = Field(description="按时归集到信用平台 / records delivered on time")
    rectifications: RectificationsFigure = Field(description="整改闭环 / rectification closure")
    recusals: RecusalsFigure = Field(description="回避 / recusals")
    abandoned_draws: AbandonedFigure = Field(description="作废的抽取 / abandoned draws")


class DepartmentFigures(Schema):
    department: str = Field(description="部门编码 / department code")
    name: str = Field(description="部门名称 / department name")
    tasks: int = Field(description="牵头的任务数 / tasks it led")
    figures: Figures = Field(description="考核指标 / the figures")


class AssessedYear(Schema):
    """What every assessment answer starts with: the year, the day judged on, the seq."""

    year: int = Field(description="考核年度 / year")
    on: str = Field(description="判断逾期的日期 / the day judged on (YYYY-MM-DD)")
    as_of: int = Field(description=AS_OF)
    cycle_years: int = Field(description="覆盖周期（年）/ coverage cycle (years)")


class YearFigures(AssessedYear):
    """Every department's figures for a year."""

    departments: list[DepartmentFigures] = Field(description="各部门 / every department")


class OneDepartmentFigures(DepartmentFigures, AssessedYear):
    """One department's figures for a year (the year's fields first, as sent)."""


class FigureDetail(AssessedYear):
    """A page of the rows behind one figure: plans, draw strata, targets, tasks or inspectors,
    each figure with its own columns (as in the XLSX export's sheet of that figure)."""

    department: str = Field(description="部门编码 / department code")
    figure: str = Field(description=f"指标 / figure: {', '.join(FIGURES)}")
    label_zh: str = Field(description="指标名称 / the figure's Chinese name")
    summary: dict[str, Any] = Field(
        description="该指标的汇总（与 figures 中同名指标相同）/ the figure's summary, as in figures"
    )
    total: int = Field(description="明细总条数 / rows in all")
    offset: int = Field(description="跳过的条数 / rows skipped")
    limit: int = Field(description="每页条数 / page size")
    items: list[dict[str, Any]] = Field(description="本页的明细 / this page's rows")


@router.get(
    "/assessment/{year}",
    summary="各部门考核汇总 / Every department's figures",
    response_model=YearFigures,
    response_model_exclude_unset=True,
)
def get_year(
    assessment: AssessmentDep,
    principal: PrincipalDep,
    year: Year,
    on: On = None,
    at_seq: AtSeq = None,
    cycle_years: Cycle = None,
) -> dict[str, Any]:
    """各部门的考核指标（审核、监督人员与管理员）/ every department's figures (reviewers,
    supervisors, administrators)."""
    return assessment.year(principal, year, on=on, at_seq=at_seq, cycle_years=cycle_years)


@router.get(
    "/assessment/{year}/export.xlsx",
    summary="考核导出（XLSX）/ Export the assessment (XLSX)",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def get_workbook(
    assessment: AssessmentDep,
    principal: PrincipalDep,
    year: Year,
    department: Annotated[
        str | None, Query(max_length=64, description="只导出该部门 / only this department")
    ] = None,
    on: On = None,
    at_seq: AtSeq = None,
    cycle_years: Cycle = None,
) -> Response:
    """每个部门一张汇总表，每项指标的明细各一张表，中文表头 / a summary sheet per department
    and a sheet per drill-down, headers in Chinese."""
    body = assessment.workbook(
        principal, year, department or None, on=on, at_seq=at_seq, cycle_years=cycle_years
    )
    name = f"assessment-{year}" + (f"-{department}" if department else "")
    return Response(
        content=body,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


@router.get(
    "/assessment/{year}/{department}",
    summary="部门考核指标 / One department's figures",
    response_model=OneDepartmentFigures,
    response_model_exclude_unset=True,
)
def get_department(
    assessment: AssessmentDep,
    principal: PrincipalDep,
    year: Year,
    department: Department,
    on: On = None,
    at_seq: AtSeq = None,
    cycle_years: Cycle = None,
) -> dict[str, Any]:
    """一个部门的考核指标 / one department's figures."""
    return assessment.department(
        principal, year, department, on=on, at_seq=at_seq, cycle_years=cycle_years
    )


@router.get(
    "/assessment/{year}/{department}/chart.png",
    summary="部门考核图表（PNG）/ One department's chart (PNG)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def get_chart(
    assessment: AssessmentDep,
    principal: PrincipalDep,
    year: Year,
    department: Department,
    on: On = None,
    at_seq: AtSeq = None,
    cycle_years: Cycle = None,
) -> Response:
    """各项比率与按信用风险分类的应抽/实抽比例 / the shares, and ratio required vs achieved
    per credit-risk class."""
    body = assessment.chart(
        principal, year, department, on=on, at_seq=at_seq, cycle_years=cycle_years
    )
    return Response(content=body, media_type="image/png")


@router.get(
    "/assessment/{year}/{department}/{figure}",
    summary="考核指标明细 / The rows behind one figure",
    response_model=FigureDetail,
    response_model_exclude_unset=True,
)
def get_detail(
    assessment: AssessmentDep,
    principal: PrincipalDep,
    year: Year,
    department: Department,
    figure: Annotated[str, Path(description=f"指标 / figure: {', '.join(FIGURES)}")],
    offset: Offset = 0,
    limit: Limit = 100,
    on: On = None,
    at_seq: AtSeq = None,
    cycle_years: Cycle = None,
) -> dict[str, Any]:
    """一项指标背后的计划、抽取、检查对象、任务或人员（分页）/ a page of the plans, draws,
    targets, tasks or inspectors behind one figure."""
    return assessment.detail(
        principal,
        year,
        department,
        figure,
        offset=offset,
        limit=limit,
        on=on,
        at_seq=at_seq,
        cycle_years=cycle_years,
    )

"""The annual assessment (考核): per department and year, figures, the rows behind each figure,
an XLSX workbook with Chinese headers and a PNG chart per department.

Reviewers, supervisors and administrators read every department; a department's leader its
own. `on` is the day things not yet done are judged on (default: the year's last day, or today
while the year runs); `as_of` reads the ledger as it stood at that seq; `cycle_years` is the
coverage cycle (default 1).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Response

from ssj.api.deps import (
    AsOf,
    Limit,
    Offset,
    PrincipalDep,
    ServicesDep,
    make_router,
)
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


@router.get("/assessment/{year}", summary="各部门考核汇总 / Every department's figures")
def get_year(
    assessment: AssessmentDep,
    principal: PrincipalDep,
    year: Year,
    on: On = None,
    as_of: AsOf = None,
    cycle_years: Cycle = None,
) -> dict[str, Any]:
    """各部门的考核指标（审核、监督人员与管理员）/ every department's figures (reviewers,
    supervisors, administrators)."""
    return assessment.year(principal, year, on=on, as_of=as_of, cycle_years=cycle_years)


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
    as_of: AsOf = None,
    cycle_years: Cycle = None,
) -> Response:
    """每个部门一张汇总表，每项指标的明细各一张表，中文表头 / a summary sheet per department
    and a sheet per drill-down, headers in Chinese."""
    body = assessment.workbook(
        principal, year, department or None, on=on, as_of=as_of, cycle_years=cycle_years
    )
    name = f"assessment-{year}" + (f"-{department}" if department else "")
    return Response(
        content=body,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


@router.get("/assessment/{year}/{department}", summary="部门考核指标 / One department's figures")
def get_department(
    assessment: AssessmentDep,
    principal: PrincipalDep,
    year: Year,
    department: Department,
    on: On = None,
    as_of: AsOf = None,
    cycle_years: Cycle = None,
) -> dict[str, Any]:
    """一个部门的考核指标 / one department's figures."""
    return assessment.department(
        principal, year, department, on=on, as_of=as_of, cycle_years=cycle_years
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
    as_of: AsOf = None,
    cycle_years: Cycle = None,
) -> Response:
    """各项比率与按信用风险分类的应抽/实抽比例 / the shares, and ratio required vs achieved
    per credit-risk class."""
    body = assessment.chart(
        principal, year, department, on=on, as_of=as_of, cycle_years=cycle_years
    )
    return Response(content=body, media_type="image/png")


@router.get(
    "/assessment/{year}/{department}/{figure}",
    summary="考核指标明细 / The rows behind one figure",
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
    as_of: AsOf = None,
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
        as_of=as_of,
        cycle_years=cycle_years,
    )

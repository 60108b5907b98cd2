"""Overdue monitoring (逾期监测): tasks not inspected by their plan's window end, results not
published within the plan's working days of completion (or published late), per department.

Scoped like other reads: your department's, or any one's (or all) for supervisors, reviewers
and administrators. `on` is the day reported on (default today, Beijing time), so a report is
reproducible; `as_of` reads the ledger as it stood at that seq.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from ssj.api.deps import AsOf, PrincipalDep, ServicesDep, make_router
from ssj.services.overdue import OverdueService

TAG = "逾期监测 / Overdue"
router = make_router(TAG)


def get_overdue(services: ServicesDep) -> OverdueService:
    return OverdueService(services)


OverdueDep = Annotated[OverdueService, Depends(get_overdue)]


@router.get("/overdue", summary="逾期监测 / What is overdue")
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
    as_of: AsOf = None,
) -> dict[str, Any]:
    """逾期未检查、逾期未公示、逾期公示（逾期工作日数）与公示期限未知（附原因），按部门汇总。/
    Tasks not inspected by the window end, results overdue or published late (with the working
    days late), deadlines unknown (with the reason), and counts per department."""
    return overdue.report(principal, department, on, as_of)

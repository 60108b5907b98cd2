"""Working days (工作日): deadlines and the yearly holiday arrangements they follow.

Reads need no token: the arrangements are public State Council notices, and officials' scripts
ask for deadlines. Registering or amending a year is an administrator's command.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import MAY_CREATE, AsOf, PrincipalDep, ServicesDep, make_router
from ssj.domain.calendar import parse_day, parse_working_days
from ssj.services.calendar import CalendarService

TAG = "工作日 / Working days"
router = make_router(TAG)


def get_calendar(services: ServicesDep) -> CalendarService:
    return CalendarService(services)


CalendarDep = Annotated[CalendarService, Depends(get_calendar)]

Days = list[str] | str


class ArrangementIn(BaseModel):
    """A year's arrangement as the State Council's notice gives it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "document": "国办发明电〔2030〕X号 国务院办公厅关于2031年部分节假日安排的通知",
                    "holidays": ["2031-01-01", "2031-01-22..2031-01-28", "2031-10-01..2031-10-07"],
                    "workdays": ["2031-01-19", "2031-02-08", "2031-09-28", "2031-10-11"],
                }
            ]
        },
    )

    document: str = Field(description="通知文号及标题 / the notice's number and title")
    holidays: Days = Field(
        description="放假日期（YYYY-MM-DD，或范围 A..B）/ days off (dates, or ranges A..B)"
    )
    workdays: Days = Field(
        default_factory=list,
        description="调休上班日（周六或周日）/ make-up working days (weekend days)",
    )
    reason: str | None = Field(
        None, description="修改理由（再次登记时必填）/ reason (required to amend a year)"
    )


def _public(shown: dict[str, Any]) -> dict[str, Any]:
    """An arrangement without who recorded it (the public sees what and when, not who)."""
    versions = [{k: v for k, v in s.items() if k != "recorded_by"} for s in shown["versions"]]
    return {**shown, "versions": versions}


@router.get(
    "/calendar/deadline",
    summary="工作日期限 / Deadline in working days",
    description="无需令牌。起算日后第 n 个工作日（起算日不计；n = 0 即起算日）：法定节假日、"
    "调休与调休上班日按账本登记的安排，未登记的年份按 chinesecalendar。/ No token needed. The "
    "n-th working day after `start` (`start` not counted; n = 0: `start`), by the arrangements "
    "registered in the ledger, else chinesecalendar's. A year neither knows: 409 "
    "`calendar_year_unknown`.",
)
def deadline(
    calendar: CalendarDep,
    start: Annotated[str, Query(description="起算日 / start date (YYYY-MM-DD)")],
    n: Annotated[str, Query(description="工作日天数 / working days (0 or more)")],
    as_of: AsOf = None,
) -> dict[str, Any]:
    seq, working = calendar.pinned(as_of)
    day, days = parse_day("start", start), parse_working_days(n)
    found = working.add_working_days(day, days)
    return {"start": day.isoformat(), "n": days, "deadline": found.isoformat(), "as_of": seq}


@router.get(
    "/calendar/{year}",
    summary="一年的节假日安排 / A year's holiday arrangement",
    description="无需令牌。放假与调休上班日、来源（ledger 账本登记优先，否则 package 程序包）及"
    "账本中的各版本。/ No token needed. Days off and make-up working days, the source (`ledger` "
    "wins, else `package`) and the ledger's versions.",
)
def get_year(calendar: CalendarDep, year: int, as_of: AsOf = None) -> dict[str, Any]:
    return _public(calendar.year(year, as_of))


@router.post(
    "/calendar/{year}",
    responses=MAY_CREATE,
    summary="登记节假日安排（管理员）/ Register a year's arrangement (administrator)",
    description="首次登记为版本 1；再次登记即修改，须说明理由，记为新版本；与现行安排相同则不写入。"
    "/ The first registration is version 1; registering again amends it (a new version) and "
    "needs a reason; the same arrangement again writes nothing.",
)
def register_year(
    calendar: CalendarDep,
    principal: PrincipalDep,
    year: int,
    body: ArrangementIn,
    response: Response,
) -> dict[str, Any]:
    done = calendar.register_year(
        principal, year, body.document, body.holidays, body.workdays, body.reason or ""
    )
    if done["outcome"] == "created":
        response.status_code = 201
    shown = calendar.year(year)
    return {"outcome": done["outcome"], "seq": shown["as_of"], "arrangement": shown}

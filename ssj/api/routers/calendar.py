"""Working days (工作日): deadlines and the yearly holiday arrangements they follow.

Reads need no token: the arrangements are public State Council notices, and officials' scripts
ask for deadlines. Registering or amending a year is an administrator's command.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import MAY_CREATE, AtSeq, PrincipalDep, ServicesDep, make_router
from ssj.api.schemas import AS_OF, OUTCOME, SEQ, Outcome, Schema, answers
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


class DeadlineOut(Schema):
    start: str = Field(description="起算日 / start date (YYYY-MM-DD)")
    n: int = Field(description="工作日天数 / working days")
    deadline: str = Field(description="期限日 / the deadline (YYYY-MM-DD)")
    as_of: int = Field(description=AS_OF)


HOLIDAYS = "放假日期 / days off (YYYY-MM-DD)"
WORKDAYS = "调休上班日 / make-up working days (YYYY-MM-DD)"
SOURCE = (
    "ledger：账本登记；package：chinesecalendar 程序包 / registered in the ledger, or the package"
)


class CalendarVersion(Schema):
    """One version of a year's arrangement in the ledger (without who recorded it)."""

    year: int = Field(description="年度 / year")
    document: str = Field(description="通知文号及标题 / the notice")
    holidays: list[str] = Field(description=HOLIDAYS)
    workdays: list[str] = Field(description=WORKDAYS)
    reason: str | None = Field(description="修改理由（版本 1 为空）/ reason (null for version 1)")
    version: int = Field(description="版本 / version")
    seq: int = Field(description="登记事件的账本序号 / the ledger seq of this version")
    recorded_at: str = Field(description="登记时间 / recorded at (ISO 8601)")


class CalendarVersionRecorded(Schema):
    """One version as the administrator who registered it reads it back: with who recorded it."""

    year: int = Field(description="年度 / year")
    document: str = Field(description="通知文号及标题 / the notice")
    holidays: list[str] = Field(description=HOLIDAYS)
    workdays: list[str] = Field(description=WORKDAYS)
    reason: str | None = Field(description="修改理由（版本 1 为空）/ reason (null for version 1)")
    version: int = Field(description="版本 / version")
    seq: int = Field(description="登记事件的账本序号 / the ledger seq of this version")
    recorded_by: str = Field(description="登记人 / recorded by (username)")
    recorded_at: str = Field(description="登记时间 / recorded at (ISO 8601)")


class YearOut(Schema):
    """The arrangement that applies to a year, and the ledger's versions of it."""

    as_of: int = Field(description=AS_OF)
    year: int = Field(description="年度 / year")
    document: str = Field(description="通知文号及标题 / the notice")
    holidays: list[str] = Field(description=HOLIDAYS)
    workdays: list[str] = Field(description=WORKDAYS)
    source: Literal["ledger", "package"] = Field(description=SOURCE)
    versions: list[CalendarVersion] = Field(description="账本中的各版本 / the ledger's versions")


class YearRecorded(YearOut):
    """The same as read back by the administrator who registered it: versions name who."""

    versions: list[CalendarVersionRecorded] = Field(  # type: ignore[assignment]
        description="账本中的各版本 / versions"
    )


class YearWritten(Schema):
    outcome: Outcome = Field(description=OUTCOME)
    seq: int = Field(description=SEQ)
    arrangement: YearRecorded = Field(description="登记后的安排 / the arrangement as now read")


def _public(shown: dict[str, Any]) -> dict[str, Any]:
    """An arrangement without who recorded it (the public sees what and when, not who)."""
    versions = [{k: v for k, v in s.items() if k != "recorded_by"} for s in shown["versions"]]
    return {**shown, "versions": versions}


@router.get(
    "/calendar/deadline",
    response_model=DeadlineOut,
    response_model_exclude_unset=True,
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
    at_seq: AtSeq = None,
) -> dict[str, Any]:
    seq, working = calendar.pinned(at_seq)
    day, days = parse_day("start", start), parse_working_days(n)
    found = working.add_working_days(day, days)
    return {"start": day.isoformat(), "n": days, "deadline": found.isoformat(), "as_of": seq}


@router.get(
    "/calendar/{year}",
    response_model=YearOut,
    response_model_exclude_unset=True,
    summary="一年的节假日安排 / A year's holiday arrangement",
    description="无需令牌。放假与调休上班日、来源（ledger 账本登记优先，否则 package 程序包）及"
    "账本中的各版本。/ No token needed. Days off and make-up working days, the source (`ledger` "
    "wins, else `package`) and the ledger's versions.",
)
def get_year(calendar: CalendarDep, year: int, at_seq: AtSeq = None) -> dict[str, Any]:
    return _public(calendar.year(year, at_seq))


@router.post(
    "/calendar/{year}",
    responses=answers(YearWritten, MAY_CREATE),
    response_model=YearWritten,
    response_model_exclude_unset=True,
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

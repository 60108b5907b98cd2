"""The annual assessment (考核) as a service: authorise, load the read models' rows as of one
seq, compute the figures (ssj.domain.assessment), and render them for reviewers (XLSX, PNG).

Who may read: reviewers, supervisors and administrators every department (READ_ASSESSMENT,
and READ_ALL for the all-department summary); a department's leader its own department. The
rows are read as of one ledger seq (default: the head), so the figures are those of the ledger
then, whenever they are computed again. Publication deadlines come from the overdue service
(the plan's working days, the calendar as of the completion's seq): one rule, one place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any
from uuid import UUID

from projections.draws import draw_rows, task_rows
from projections.followups import followup_rows
from ssj.domain.access import ALLOWED, Command, Principal
from ssj.domain.assessment import (
    FIGURE_LABELS,
    Assessment,
    Rows,
    departments_of,
    parse_figure,
)
from ssj.domain.calendar import CalendarYearUnknown
from ssj.domain.draws import Draw
from ssj.domain.fields import iso_date
from ssj.errors import NotFoundError, ValidationError
from ssj.services.assessment_files import chart, workbook
from ssj.services.base import Service
from ssj.services.calendar import CalendarService
from ssj.services.context import Services
from ssj.services.delivery import delivery_deadlines
from ssj.services.draws import today
from ssj.services.overdue import OverdueService

DEFAULT_CYCLE_YEARS = 1
MAX_CYCLE_YEARS = 5
TARGET_COLUMNS = ("identifier", "department", "target_type", "status")


class _Deadlines(OverdueService):
    """The overdue service's publication deadlines, with the working days to publication."""

    def state(self, row: Mapping[str, Any], on: date, seq: int) -> dict[str, Any]:
        """The task's publication deadline as of `on`, and the working days from completion to
        publication (None when unpublished or the calendar cannot count them)."""
        found = self.publication_deadline(dict(row), on, seq)
        assert found is not None
        state = found.as_state()
        state["working_days"] = None
        published = row.get("published_on")
        if published:
            completed_seq = row.get("completed_seq")
            calendar = self.calendar(seq if completed_seq is None else int(completed_seq))
            with contextlib.suppress(CalendarYearUnknown):
                state["working_days"] = calendar.working_days_between(
                    date.fromisoformat(row["completed_on"]), date.fromisoformat(published)
                )
        return state


class AssessmentService(Service):
    def __init__(self, services: Services, clock: Callable[[], date] = today) -> None:
        super().__init__(services)
        self.today = clock

    # Who may read ------------------------------------------------------------------------------

    def authorise(self, principal: Principal, department: str | None) -> None:
        """Every department: READ_ALL; one: READ_ASSESSMENT for it (a leader: its own)."""
        if department is None:
            self.s.authorise(principal, Command.READ_ALL)
        else:
            self.s.authorise(principal, Command.READ_ASSESSMENT, [department])

    @staticmethod
    def reads_all(principal: Principal) -> bool:
        return bool(principal.roles & ALLOWED[Command.READ_ALL])

    # Loading -----------------------------------------------------------------------------------

    def _parameters(
        self, year: object, on: str | date | None, cycle_years: object
    ) -> tuple[int, date, int]:
        try:
            number = int(str(year))
        except ValueError:
            number = 0
        if not 2000 <= number <= 2100:
            raise ValidationError(
                f"考核年度应为 2000–2100 的整数，实际为“{year}”",
                f"the year must be a whole number 2000-2100, got {year!r}",
            )
        try:
            cycle = int(str(cycle_years if cycle_years is not None else DEFAULT_CYCLE_YEARS))
        except ValueError:
            cycle = 0
        if not 1 <= cycle <= MAX_CYCLE_YEARS:
            raise ValidationError(
                f"覆盖周期应为 1–{MAX_CYCLE_YEARS} 年，实际为“{cycle_years}”",
                f"the coverage cycle must be 1-{MAX_CYCLE_YEARS} years, got {cycle_years!r}",
            )
        if on is None:
            day = min(date(number, 12, 31), self.today())
        elif isinstance(on, date):
            day = on
        else:
            raw = iso_date("on", on)
            assert raw is not None
            day = date.fromisoformat(raw)
        return number, day, cycle

    def rows(
        self,
        year: object,
        *,
        on: str | date | None = None,
        at_seq: int | None = None,
        cycle_years: object = None,
    ) -> tuple[int, Rows]:
        """The seq read at and the rows the figures are computed from (no authorisation)."""
        number, day, cycle = self._parameters(year, on, cycle_years)
        seq = CalendarService(self.s).seq(at_seq)  # refreshes; checks at_seq
        store, queries = self.s.store, self.s.queries
        draws = list(draw_rows(store, seq).values())
        tasks = task_rows(store, at_seq=seq)
        rows = Rows(
            year=number,
            on=day,
            cycle_years=cycle,
            departments=departments_of(queries.states("departments", at_seq=seq)),
            plans=self.s.plan_queries.all({"year": number}, seq),
            draws=draws,
            tasks=tasks,
            followups=followup_rows(store, at_seq=seq),
            targets=queries.states("targets", at_seq=seq, columns=TARGET_COLUMNS),
            items=queries.states("items", at_seq=seq),
            inspectors=queries.states("inspectors", at_seq=seq),
        )
        prefix = f"{number:04d}-"
        for draw in draws:
            if not draw["drawn_on"].startswith(prefix):
                continue
            stored = self._get(Draw, UUID(draw["draw_id"]), f"抽取 {draw['label']}")
            rows.rules[draw["draw_id"]] = dict(stored.committed.rules)
            rows.recusals[draw["draw_id"]] = list(stored.recusals)
        deadlines = _Deadlines(self.s)
        for task in tasks:
            if task["drawn_on"].startswith(prefix) and task.get("completed_on"):
                rows.publication[task["task_id"]] = deadlines.state(task, day, seq)
        found, _ = delivery_deadlines(self.s, deadlines, None, day, seq)
        rows.deliveries = [r for r in found if r["drawn_or_decided"].startswith(prefix)]
        return seq, rows

    # Reads -------------------------------------------------------------------------------------

    def year(
        self,
        principal: Principal,
        year: object,
        *,
        on: str | date | None = None,
        at_seq: int | None = None,
        cycle_years: object = None,
    ) -> dict[str, Any]:
        """Every department's figures for the year (READ_ALL)."""
        found, seq, rows, departments = self._assess(principal, year, None, on, at_seq, cycle_years)
        return {**_header(seq, rows), "departments": [found.department(d) for d in departments]}

    def department(
        self,
        principal: Principal,
        year: object,
        department: str,
        *,
        on: str | date | None = None,
        at_seq: int | None = None,
        cycle_years: object = None,
    ) -> dict[str, Any]:
        """One department's figures for the year."""
        found, seq, rows, _ = self._assess(principal, year, department, on, at_seq, cycle_years)
        return {**_header(seq, rows), **found.department(department)}

    def detail(
        self,
        principal: Principal,
        year: object,
        department: str,
        figure: str,
        *,
        offset: int = 0,
        limit: int = 100,
        on: str | date | None = None,
        at_seq: int | None = None,
        cycle_years: object = None,
    ) -> dict[str, Any]:
        """A page of the rows behind one figure of one department."""
        name = parse_figure(figure)
        if offset < 0 or not 1 <= limit <= 1000:
            raise ValidationError(
                "分页参数无效（offset ≥ 0，1 ≤ limit ≤ 1000）",
                "invalid paging (offset >= 0, 1 <= limit <= 1000)",
            )
        found, seq, rows, _ = self._assess(principal, year, department, on, at_seq, cycle_years)
        everything = found.detail(name, department)
        return {
            **_header(seq, rows),
            "department": department,
            "figure": name,
            "label_zh": FIGURE_LABELS[name][0],
            "summary": found.figures(department)[name],
            "total": len(everything),
            "offset": offset,
            "limit": limit,
            "items": everything[offset : offset + limit],
        }

    def workbook(
        self,
        principal: Principal,
        year: object,
        department: str | None = None,
        *,
        on: str | date | None = None,
        at_seq: int | None = None,
        cycle_years: object = None,
    ) -> bytes:
        """The XLSX export: a summary sheet per department and a sheet per drill-down."""
        found, seq, rows, departments = self._assess(
            principal, year, department, on, at_seq, cycle_years
        )
        return workbook(found, departments, _header(seq, rows))

    def chart(
        self,
        principal: Principal,
        year: object,
        department: str,
        *,
        on: str | date | None = None,
        at_seq: int | None = None,
        cycle_years: object = None,
    ) -> bytes:
        """A PNG chart of one department's figures."""
        found, seq, rows, _ = self._assess(principal, year, department, on, at_seq, cycle_years)
        return chart(found.department(department), rows.year, seq)

    def charts(
        self,
        principal: Principal,
        year: object,
        *,
        on: str | date | None = None,
        at_seq: int | None = None,
        cycle_years: object = None,
    ) -> dict[str, bytes]:
        """A PNG chart per department (READ_ALL)."""
        found, seq, rows, departments = self._assess(principal, year, None, on, at_seq, cycle_years)
        return {d: chart(found.department(d), rows.year, seq) for d in departments}

    def _assess(
        self,
        principal: Principal,
        year: object,
        department: str | None,
        on: str | date | None,
        at_seq: int | None,
        cycle_years: object,
    ) -> tuple[Assessment, int, Rows, list[str]]:
        """Authorised for one department (None: every one, READ_ALL), the assessment, the seq
        it was read at, its rows and the departments it covers."""
        self.authorise(principal, department)
        seq, rows = self.rows(year, on=on, at_seq=at_seq, cycle_years=cycle_years)
        found = Assessment(rows)
        if department is None:
            return found, seq, rows, found.departments()
        if department not in rows.departments:
            raise NotFoundError(f"部门 {department} 不存在", f"unknown department {department}")
        return found, seq, rows, [department]


def _header(seq: int, rows: Rows) -> dict[str, Any]:
    return {
        "year": rows.year,
        "on": rows.on.isoformat(),
        "as_of": seq,
        "cycle_years": rows.cycle_years,
    }

"""Overdue monitoring: per department, what was not done by its deadline.

- Tasks not inspected by the end of their plan's implementation window (still open after it, or
  completed after it: calendar days past the window).
- Records not delivered to a credit platform by the same deadlines (results; penalty
  information within 7 working days of the decision), measured to the platform's
  acknowledgement, and records dead-lettered after repeated failures (`ssj.services.delivery`).
- Results not published within `publish_within_days` working days of the inspection's
  completion (the shortest the task's items set, else the plan's, default 20): overdue (not yet published, nor withheld) or published late, with the
  working days late. The due date is counted under the calendar as the ledger stood at the
  completion event (replayable); a year it does not know makes the deadline unknown, with the
  reason, never a guess.

"Today" is a parameter (default: today in Asia/Shanghai), so a report is deterministic. Reads
are scoped like other lists: a department given needs READ_REGISTRY for it; without one,
supervisors, reviewers and administrators read every department, everyone else their own.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

from projections.draws import draw_rows, task_rows
from projections.followups import followup_rows
from ssj.domain.access import ALLOWED, Command, Principal
from ssj.domain.calendar import WorkingCalendar
from ssj.domain.deadlines import Deadline, DeadlineState, deadline, publication_days
from ssj.domain.draws import Draw
from ssj.domain.fields import iso_date
from ssj.domain.followup import PENALTY_PUBLISH_WITHIN_DAYS
from ssj.domain.plans import Plan
from ssj.domain.tasks import STATUS_LABELS_ZH, TaskStatus
from ssj.errors import ValidationError
from ssj.services.base import Service
from ssj.services.calendar import CalendarService
from ssj.services.context import Services
from ssj.services.delivery import late_deliveries
from ssj.services.draws import today

# Statuses of a task not yet inspected (no completion recorded).
NOT_INSPECTED = frozenset({TaskStatus.DRAWN, TaskStatus.NOTIFIED, TaskStatus.INSPECTING})


class OverdueService(Service):
    def __init__(self, services: Services, clock: Callable[[], date] = today) -> None:
        super().__init__(services)
        self.today = clock
        self.calendars = CalendarService(services)
        self._within: dict[str, int] = {}
        self._calendar: dict[int, WorkingCalendar] = {}  # by span of unchanged arrangements
        self._changes: list[int] | None = None  # seqs at which an arrangement was registered

    def scope(self, principal: Principal, department: str | None) -> str | None:
        """The department reported on (None: every one), authorised like other reads."""
        if department:
            self.s.authorise(principal, Command.READ_REGISTRY, [department])
            return department
        if principal.roles & ALLOWED[Command.READ_ALL]:
            self.s.authorise(principal, Command.READ_ALL)
            return None
        self.s.authorise(principal, Command.READ_REGISTRY, [principal.department])
        return principal.department

    def publish_within(self, draw_id: str) -> int:
        """The working days allowed for publication: the items' and the plan's settings as the
        draw froze them (the plan's version it recorded, the items as of its population)."""
        if draw_id not in self._within:
            draw = self._get(Draw, UUID(draw_id), f"抽取 {draw_id}")
            facts = draw.committed
            plan: Plan = self.s.ledger.repository.get(
                UUID(facts.plan.id), version=facts.plan.version
            )
            items = [
                self.s.queries.get("items", (department, code), at_seq=facts.as_of_seq)
                for department, codes in facts.items.items()
                for code in codes
            ]
            self._within[draw_id] = publication_days(
                plan.state.get("publish_within_days"),
                [(item or {}).get("publish_within_days") for item in items],
            )
        return self._within[draw_id]

    def calendar(self, seq: int) -> WorkingCalendar:
        """The working days as the ledger stood at `seq`: one calendar per span of seqs in which
        the registered arrangements did not change, not one per completion seq."""
        if self._changes is None:
            queries = self.calendars.queries
            self._changes = sorted(
                {int(v["seq"]) for y in queries.all() for v in queries.versions(y["year"])}
            )
        span = bisect.bisect_right(self._changes, seq)
        if span not in self._calendar:
            self._calendar[span] = self.calendars.calendar(seq)
        return self._calendar[span]

    def publication_deadline(self, row: dict[str, Any], on: date, seq: int) -> Deadline | None:
        """A completed task's publication deadline; None before completion."""
        if not row.get("completed_on"):
            return None
        completed_seq = row.get("completed_seq")
        due_calendar = self.calendar(seq if completed_seq is None else int(completed_seq))
        published = row.get("published_on")
        return deadline(
            due_calendar,
            date.fromisoformat(row["completed_on"]),
            self.publish_within(row["draw_id"]),
            date.fromisoformat(published) if published else None,
            on,
            count_calendar=self.calendar(seq),
        )

    def report(
        self,
        principal: Principal,
        department: str | None = None,
        on: str | date | None = None,
        at_seq: int | None = None,
    ) -> dict[str, Any]:
        """What is overdue on `on` (default today), per department, as the ledger stood at
        `at_seq` (default now)."""
        day = self._day(on)
        scope = self.scope(principal, department)
        seq = self.calendars.seq(at_seq)  # refreshes; checks at_seq
        draws = draw_rows(self.s.store, seq)
        uninspected: list[dict[str, Any]] = []
        publication: list[dict[str, Any]] = []
        for row in task_rows(self.s.store, involving=scope, at_seq=seq):
            if row["drawn_on"] > day.isoformat():
                continue
            base = {
                "task_id": row["task_id"],
                "draw": row["label"],
                "identifier": row["identifier"],
                "department": row["department"],
                "departments": row["departments"],
                "status": row["status"],
                "status_zh": STATUS_LABELS_ZH[TaskStatus(row["status"])],
            }
            window_end = date.fromisoformat(draws[row["draw_id"]]["window"][1])
            completed = row.get("completed_on")
            done = date.fromisoformat(completed) if completed else None
            status = TaskStatus(row["status"])
            if (done is None and status in NOT_INSPECTED and day > window_end) or (
                done is not None and done > window_end
            ):
                uninspected.append(
                    {
                        **base,
                        "window_end": window_end.isoformat(),
                        "completed_on": completed,
                        "days_past": ((done or day) - window_end).days,
                    }
                )
            if row.get("withheld") and not row.get("published_on"):
                continue  # a decision not to publish (yet): not overdue
            found = self.publication_deadline(row, day, seq)
            if found is not None and (found.late or found.state is DeadlineState.UNKNOWN):
                publication.append({**base, **found.as_state()})
        rectifications, penalties = self._followups(scope, day, seq)
        deliveries, dead_letters = late_deliveries(self.s, self, scope, day, seq)
        summary = _summary(uninspected, publication, rectifications, penalties)
        _delivery_summary(summary, deliveries, dead_letters)
        return {
            "on": day.isoformat(),
            "as_of": seq,
            "department": scope,
            "uninspected": uninspected,
            "publication": publication,
            "rectifications": rectifications,
            "penalties": penalties,
            "deliveries": deliveries,
            "dead_letters": dead_letters,
            "summary": summary,
        }

    def _followups(
        self, scope: str | None, day: date, seq: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Rectifications past their deadline without a passed re-check (by `day`), and penalty
        information not published within 7 working days of the decision."""
        rectifications: list[dict[str, Any]] = []
        penalties: list[dict[str, Any]] = []
        for row in followup_rows(self.s.store, involving=scope, at_seq=seq):
            base = {
                "task_id": row["task_id"],
                "identifier": row["identifier"],
                "department": row["departments"][0],
                "departments": row["departments"],
            }
            for n, order in enumerate(row["rectifications"], start=1):
                if order["ordered_on"] > day.isoformat():
                    continue
                deadline_on = date.fromisoformat(order["deadline"])
                passed = order["passed_on"]
                passed_on = (
                    date.fromisoformat(passed) if passed and passed <= day.isoformat() else None
                )
                if (passed_on or day) <= deadline_on:
                    continue
                rectifications.append(
                    {
                        **base,
                        "rectification": n,
                        "ordered_on": order["ordered_on"],
                        "deadline": order["deadline"],
                        "requirement": order["requirement"],
                        "passed_on": passed_on.isoformat() if passed_on else None,
                        "rechecks": len(order["rechecks"]),
                        "days_past": ((passed_on or day) - deadline_on).days,
                    }
                )
            for case in row["cases"]:
                if case["decided_on"] > day.isoformat():
                    continue
                published = case["published_on"]
                found = deadline(
                    self.calendar(int(case["decided_seq"])),
                    date.fromisoformat(case["decided_on"]),
                    PENALTY_PUBLISH_WITHIN_DAYS,
                    date.fromisoformat(published) if published else None,
                    day,
                    count_calendar=self.calendar(seq),
                )
                if found.late or found.state is DeadlineState.UNKNOWN:
                    penalties.append({**base, "case_no": case["case_no"], **found.as_state()})
        return rectifications, penalties

    def _day(self, on: str | date | None) -> date:
        if on is None:
            return self.today()
        if isinstance(on, date):
            return on
        raw = iso_date("on", on)
        if raw is None:
            raise ValidationError("日期不能为空", "the date must not be empty")
        return date.fromisoformat(raw)


COUNTERS = (
    "uninspected",
    "inspected_late",
    "publication_overdue",
    "published_late",
    "deadline_unknown",
    "rectification_overdue",
    "penalty_overdue",
    "penalty_published_late",
    "penalty_deadline_unknown",
    "delivery_overdue",
    "delivered_late",
    "delivery_deadline_unknown",
    "dead_letters",
)


def _zero(department: str) -> dict[str, Any]:
    return {"department": department, **dict.fromkeys(COUNTERS, 0)}


def _summary(
    uninspected: list[dict[str, Any]],
    publication: list[dict[str, Any]],
    rectifications: list[dict[str, Any]],
    penalties: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Counts per (lead) department."""
    counts: dict[str, dict[str, Any]] = {}

    def of(department: str) -> dict[str, Any]:
        return counts.setdefault(department, _zero(department))

    for row in uninspected:
        of(row["department"])["inspected_late" if row["completed_on"] else "uninspected"] += 1
    key = {
        DeadlineState.OVERDUE.value: "publication_overdue",
        DeadlineState.LATE.value: "published_late",
        DeadlineState.UNKNOWN.value: "deadline_unknown",
    }
    for row in publication:
        of(row["department"])[key[row["state"]]] += 1
    for row in rectifications:
        of(row["department"])["rectification_overdue"] += 1
    for row in penalties:
        of(row["department"])["penalty_" + key[row["state"]].replace("publication_", "")] += 1
    return [counts[d] for d in sorted(counts)]


DELIVERY_COUNTERS = {
    DeadlineState.OVERDUE.value: "delivery_overdue",
    DeadlineState.LATE.value: "delivered_late",
    DeadlineState.UNKNOWN.value: "delivery_deadline_unknown",
}


def _delivery_summary(
    summary: list[dict[str, Any]],
    deliveries: list[dict[str, Any]],
    dead_letters: list[dict[str, Any]],
) -> None:
    """Add the deliveries past their deadline (one per record and platform) and the dead
    letters to the departments' counts."""
    rows = {row["department"]: row for row in summary}

    def of(department: str) -> dict[str, Any]:
        if department not in rows:
            rows[department] = _zero(department)
            summary.append(rows[department])
        return rows[department]

    for row in deliveries:
        of(row["department"])[DELIVERY_COUNTERS[row["state"]]] += 1
    for row in dead_letters:
        of(row["department"])["dead_letters"] += 1
    summary.sort(key=lambda r: r["department"])

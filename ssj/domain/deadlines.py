"""Deadlines counted in working days, and how late something is (pure: no clock, no I/O).

A result is published (一公开) within N working days of the inspection's completion (N: the
shortest `publish_within_days` any of the task's items sets, else the plan's, 20 by default). The due date is `add_working_days(completed_on, N)`
under the calendar as the ledger stood at the completion event, so a report replayed later gives
the same date. A year the calendar does not know makes the deadline *unknown*, with the reason
(Chinese and English): it is never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from ssj.domain.calendar import CalendarYearUnknown, WorkingCalendar
from ssj.domain.plans import PUBLISH_WITHIN_DAYS


class DeadlineState(StrEnum):
    PENDING = "pending"  # not done, not yet due
    ON_TIME = "on_time"
    LATE = "late"  # done after the due date
    OVERDUE = "overdue"  # not done, past the due date
    UNKNOWN = "unknown"  # the calendar does not know a year the count needs


STATE_LABELS_ZH = {
    DeadlineState.PENDING: "未到期",
    DeadlineState.ON_TIME: "按期完成",
    DeadlineState.LATE: "逾期完成",
    DeadlineState.OVERDUE: "已逾期未完成",
    DeadlineState.UNKNOWN: "期限未知",
}


@dataclass(frozen=True)
class Deadline:
    """A deadline's due date and state; `working_days_late` > 0 when late or overdue (None
    when it cannot be counted); `reason_zh` / `reason_en` say why a date is unknown."""

    start: date
    within: int
    due: date | None
    state: DeadlineState
    done_on: date | None = None
    working_days_late: int | None = None
    reason_zh: str = ""
    reason_en: str = ""

    @property
    def late(self) -> bool:
        return self.state in (DeadlineState.LATE, DeadlineState.OVERDUE)

    def as_state(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "within_working_days": self.within,
            "due_on": self.due.isoformat() if self.due else None,
            "state": self.state.value,
            "state_zh": STATE_LABELS_ZH[self.state],
            "done_on": self.done_on.isoformat() if self.done_on else None,
            "working_days_late": self.working_days_late,
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
        }


def publication_days(plan_days: int | None, item_days: Iterable[int | None]) -> int:
    """Working days allowed to publish a task's result: an item's own setting wins over the
    plan's, and a task of several items takes the shortest (one visit, the strictest rule)."""
    own = [int(d) for d in item_days if d]
    return min(own) if own else int(plan_days or PUBLISH_WITHIN_DAYS)


def deadline(
    due_calendar: WorkingCalendar,
    start: date,
    within: int,
    done_on: date | None,
    today: date,
    count_calendar: WorkingCalendar | None = None,
) -> Deadline:
    """Whether something due `within` working days after `start` was done on time.

    `due_calendar` fixes the due date (the calendar when the clock started); `count_calendar`
    (default the same) counts how many working days late it is, up to `done_on` or `today`."""
    try:
        due = due_calendar.add_working_days(start, within)
    except CalendarYearUnknown as unknown:
        return Deadline(
            start, within, None, DeadlineState.UNKNOWN, done_on, None, unknown.zh, unknown.en
        )
    end = done_on or today
    if end <= due:
        state = DeadlineState.ON_TIME if done_on else DeadlineState.PENDING
        return Deadline(start, within, due, state, done_on, 0)
    state = DeadlineState.LATE if done_on else DeadlineState.OVERDUE
    try:
        late = (count_calendar or due_calendar).working_days_between(due, end)
    except CalendarYearUnknown as unknown:
        return Deadline(start, within, due, state, done_on, None, unknown.zh, unknown.en)
    if late <= 0:  # after the due date, but only on days off: still on time
        state = DeadlineState.ON_TIME if done_on else DeadlineState.PENDING
        return Deadline(start, within, due, state, done_on, 0)
    return Deadline(start, within, due, state, done_on, late)

"""Working days: registering a year's holiday arrangement, and deadlines counted in working days.

`register_year` validates the arrangement (domain), authorises the administrator
(MANAGE_CALENDAR), loads the year, decides (register, or amend with a reason) and saves with the
actor; bad input and refusals write nothing (a refusal records itself). Reads take the
arrangements the ledger held as of a seq (the calendar read model), so a deadline computed as
of a seq comes out the same whenever it is replayed: a registered arrangement wins over the
`chinesecalendar` package for its year (see ssj.domain.calendar).

Reading needs no user: the arrangements are public State Council notices.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from projections.calendar import CalendarQueries
from ssj.config import Settings
from ssj.domain.access import Command, Principal
from ssj.domain.calendar import (
    Arrangement,
    CalendarYear,
    Source,
    WorkingCalendar,
    arrangements,
    calendar_year_id,
    parse_day,
    parse_working_days,
)
from ssj.errors import ValidationError
from ssj.services.base import Service
from ssj.services.context import Services

PROJECTION = "calendar"


def ledger_exists(settings: Settings) -> bool:
    """False only for an SQLite ledger whose file does not exist yet (a fresh machine before
    `ssj init`); a PostgreSQL database is configured on purpose, so it must be reachable."""
    return settings.database.is_postgres or Path(settings.database.path).exists()


def open_for_reading(settings: Settings | None = None) -> Services | None:
    """Services that read the ledger without changing it, or None when there is no ledger yet
    (then nothing is created, and only the package's years are known).

    The ledger is opened with table creation off, so no DDL runs on it; the read models are
    brought up to date as by any read (they are derived data beside the ledger)."""
    found = settings or Settings.from_env()
    if not ledger_exists(found):
        return None
    return Services(replace(found, create_tables=False))


def summary(year: CalendarYear, outcome: str) -> dict[str, Any]:
    """A registration as commands return it: the arrangement, its version and what happened."""
    return {
        **year.arrangement.as_state(),
        "version": year.version,
        "outcome": outcome,
        "source": Source.LEDGER.value,
    }


def arrangement_state(found: Arrangement) -> dict[str, Any]:
    return {**found.as_state(), "source": found.source.value}


class CalendarService(Service):
    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.queries = CalendarQueries(services.store)

    # Commands ----------------------------------------------------------------------------------

    def register_year(
        self,
        principal: Principal,
        year: object,
        document: object,
        holidays: object,
        workdays: object,
        reason: str = "",
    ) -> dict[str, Any]:
        """Register the State Council's arrangement for `year`, or amend the registered one
        (a new version; `reason` required). The same arrangement again writes nothing. The
        reason of a first registration is not recorded: there is nothing it changes."""
        arrangement = Arrangement.parse(year, document, holidays, workdays)
        actor = self.s.authorise(principal, Command.MANAGE_CALENDAR)
        year_id = calendar_year_id(arrangement.year)
        if not self._exists(year_id):
            registered = CalendarYear.register(arrangement)
            self._save(actor, registered)
            return summary(registered, "created")
        current = self._get(CalendarYear, year_id, f"{arrangement.year} 年节假日安排")
        if not current.amend(arrangement, reason):
            return summary(current, "unchanged")
        self._save(actor, current)
        return summary(current, "updated")

    # Reads -------------------------------------------------------------------------------------

    def seq(self, at_seq: int | None = None) -> int:
        """Refresh the read model; the seq to read at (`at_seq`, checked, or the seq reached)."""
        self.s.refresh()
        reached = self.s.runner.seq(PROJECTION)
        if at_seq is None:
            return reached
        if not 0 <= at_seq <= reached:
            raise ValidationError(
                f"账本序号 {at_seq} 不存在（账本序号 0–{reached}）",
                f"there is no ledger seq {at_seq} (seq 0-{reached})",
            )
        return at_seq

    def pinned(self, at_seq: int | None = None) -> tuple[int, WorkingCalendar]:
        """The seq read at and the working days as the ledger stood then (see `calendar`)."""
        seq = self.seq(at_seq)
        return seq, WorkingCalendar(arrangements(self.queries.all(seq)))

    def calendar(self, at_seq: int | None = None) -> WorkingCalendar:
        """Working days as the ledger stood at `at_seq` (None: now): the arrangements registered
        by then, and the package for the other years."""
        return self.pinned(at_seq)[1]

    def deadline(self, start: date | str, n: int | str, at_seq: int | None = None) -> date:
        """The `n`-th working day after `start` (`start` itself not counted; n = 0: `start`)."""
        day = parse_day("start", start)
        return self.calendar(at_seq).add_working_days(day, parse_working_days(n))

    def year(self, year: int, at_seq: int | None = None) -> dict[str, Any]:
        """The arrangement that applies to `year` (its source says whose) and the ledger's
        versions of it, as of `at_seq`; CalendarYearUnknown if neither source knows it."""
        seq, calendar = self.pinned(at_seq)
        found = calendar.arrangement(year)
        return {
            "as_of": seq,
            **arrangement_state(found),
            "versions": self.queries.versions(year, seq),
        }

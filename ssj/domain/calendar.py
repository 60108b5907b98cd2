"""Working days (工作日): the State Council's yearly holiday arrangement, as the ledger holds it.

Deadlines count Chinese working days: Monday to Friday, less the statutory holidays and the
weekdays given off in lieu (调休), plus the weekend days worked to make up for them (调休上班).
Each year's arrangement is published by the General Office of the State Council late in the
year before (《国务院办公厅关于 YYYY 年部分节假日安排的通知》).

Two sources know arrangements:

- the `chinesecalendar` package, consulted only through `package_arrangement` (the adapter),
  for the years it ships (2004–2026 in 1.11.0);
- the ledger: an administrator registers a year's notice (`CalendarYear`, one aggregate per
  year) with its document number and title, its rest days and its make-up working days, and
  registers it again, with a reason, to amend it (a new version, never an edit).

**A registered arrangement wins.** For a year the ledger holds, the package is not consulted
at all: the ledger is what an auditor replays, and a deadline computed as of a seq must come out
the same whichever package version is installed then. The package answers only for the years the
ledger does not hold; a year neither knows is an error (`CalendarYearUnknown`), never a guess.

Each arrangement covers exactly its own calendar year: a notice's day that falls in the
neighbouring year (the 2012 notice made Saturday 2011-12-31 a working day) belongs to that
neighbouring year's arrangement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import chinese_calendar
from eventsourcing.domain import Aggregate, event

from ssj.domain import fields, trail
from ssj.errors import ConflictError

CALENDAR_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:calendar-year")
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_WORKING_DAYS = 3650  # about 14 years of working days: no real deadline is longer
RANGE_SEPARATOR = ".."
WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
PACKAGE_VERSION: str = chinese_calendar.__version__

FIELD_LABELS = {
    "year": "年度",
    "document": "通知文号及标题",
    "holidays": "放假日期",
    "workdays": "调休上班日期",
    "reason": "修改理由",
}


class Source(StrEnum):
    LEDGER = "ledger"  # registered by an administrator: wins
    PACKAGE = "package"  # chinesecalendar, for the years the ledger does not hold


SOURCE_LABELS_ZH = {Source.LEDGER: "账本登记", Source.PACKAGE: "chinesecalendar 程序包"}


class CalendarYearUnknown(ConflictError):
    """A day in a year whose holiday arrangement neither the ledger nor the package knows."""

    code = "calendar_year_unknown"

    def __init__(self, year: int) -> None:
        super().__init__(
            f"{year} 年的节假日安排未知（chinesecalendar {PACKAGE_VERSION} 与账本均无此年），无法"
            f"计算工作日。请管理员按国务院办公厅关于 {year} 年部分节假日安排的通知登记："
            f"ssj calendar register {year} --document 文号及标题 --holiday 日期 … --workday 日期 …"
            f"（或 POST /calendar/{year}）",
            f"the holiday arrangement of {year} is unknown (neither chinesecalendar "
            f"{PACKAGE_VERSION} nor the ledger holds that year), so working days cannot be "
            f"counted. An administrator registers the State Council's notice for {year}: "
            f"ssj calendar register {year} --document TEXT --holiday DATE ... --workday DATE ... "
            f"(or POST /calendar/{year})",
        )
        self.year = year


def calendar_year_id(year: int) -> UUID:
    return uuid5(CALENDAR_NAMESPACE, str(year))


# Validation --------------------------------------------------------------------------------------


def _year(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise fields.FieldError("year", "应为年份", "must be a year")
    try:
        year = int(value)
    except ValueError:
        raise fields.FieldError(
            "year", f"应为年份，实际为“{value}”", f"must be a year, got {value!r}"
        ) from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise fields.FieldError(
            "year",
            f"应为 {FIRST_YEAR}–{LAST_YEAR} 年，实际为 {year}",
            f"must be {FIRST_YEAR}-{LAST_YEAR}, got {year}",
        )
    return year


def parse_day(field: str, value: object) -> date:
    """One date from user input (YYYY-MM-DD), or FieldError."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    found = fields.iso_date(field, value)
    assert found is not None
    return date.fromisoformat(found)


def _entries(field: str, values: object) -> list[object]:
    """Dates as a list, or as text separated by 、，,;； or whitespace."""
    if values is None:
        return []
    if isinstance(values, (str, date)):
        values = [values]
    if not isinstance(values, (list, tuple)):
        raise fields.FieldError(field, "应为日期列表", "must be a list of dates")
    entries: list[object] = []
    for value in values:
        if isinstance(value, str):
            normalised = value
            for separator in "、，,;；":
                normalised = normalised.replace(separator, " ")
            entries.extend(normalised.split())
        else:
            entries.append(value)
    return entries


def parse_days(field: str, values: object, year: int) -> tuple[date, ...]:
    """Dates of `year`, sorted; an entry may be a range `2031-02-10..2031-02-17` (both ends
    included), as notices write "2月10日至17日放假". A date listed twice is refused."""
    days: list[date] = []
    for entry in _entries(field, values):
        if isinstance(entry, str) and RANGE_SEPARATOR in entry:
            first_raw, _, last_raw = entry.partition(RANGE_SEPARATOR)
            first, last = parse_day(field, first_raw), parse_day(field, last_raw)
            if last < first:
                raise fields.FieldError(
                    field,
                    f"日期范围“{entry}”的结束早于开始",
                    f"the range {entry!r} ends before it starts",
                )
            days.extend(first + timedelta(days=i) for i in range((last - first).days + 1))
        else:
            days.append(parse_day(field, entry))
    seen: set[date] = set()
    for day in days:
        if day.year != year:
            raise fields.FieldError(
                field,
                f"日期 {day.isoformat()} 不在 {year} 年内（每年的安排只含当年的日期）",
                f"{day.isoformat()} is not in {year} (a year's arrangement holds only its own "
                "days)",
            )
        if day in seen:
            raise fields.FieldError(
                field, f"日期 {day.isoformat()} 重复列出", f"{day.isoformat()} is listed twice"
            )
        seen.add(day)
    return tuple(sorted(days))


def _weekday_zh(day: date) -> str:
    return WEEKDAYS_ZH[day.weekday()]


@dataclass(frozen=True)
class Arrangement:
    """One year's holiday arrangement: the days off (statutory holidays and the days given off
    in lieu, weekends inside a holiday block included, as notices list them) and the weekend
    days worked instead (调休上班)."""

    year: int
    document: str
    holidays: tuple[date, ...]
    workdays: tuple[date, ...]
    source: Source = Source.LEDGER

    @classmethod
    def parse(
        cls, year: object, document: object, holidays: object, workdays: object
    ) -> Arrangement:
        """Validate an administrator's input; raises FieldError naming the first bad field."""
        checked_year = _year(year)
        text = fields.text("document", document)
        off = parse_days("holidays", holidays, checked_year)
        worked = parse_days("workdays", workdays, checked_year)
        if not off:
            raise fields.FieldError(
                "holidays",
                "至少列出一个放假日期（每年都有元旦、春节等法定节假日）",
                "list at least one day off (every year has New Year's Day, the Spring "
                "Festival, ...)",
            )
        if all(day.weekday() >= 5 for day in off):
            raise fields.FieldError(
                "holidays",
                "所列放假日期都是周末，与平常无异：请核对通知",
                "every day off listed is a weekend day, which changes nothing: check the notice",
            )
        both = sorted(set(off) & set(worked))
        if both:
            raise fields.FieldError(
                "workdays",
                f"日期 {both[0].isoformat()} 既列为放假又列为上班",
                f"{both[0].isoformat()} is listed both as a day off and as a working day",
            )
        for day in worked:
            if day.weekday() < 5:
                raise fields.FieldError(
                    "workdays",
                    f"调休上班日应为周六或周日，{day.isoformat()} 是{_weekday_zh(day)}",
                    f"a make-up working day must be a Saturday or Sunday; {day.isoformat()} is "
                    f"a {day.strftime('%A')}",
                )
        return cls(checked_year, text, off, worked)

    @classmethod
    def from_state(cls, state: Mapping[str, Any], source: Source = Source.LEDGER) -> Arrangement:
        return cls(
            year=int(state["year"]),
            document=str(state["document"]),
            holidays=tuple(date.fromisoformat(d) for d in state["holidays"]),
            workdays=tuple(date.fromisoformat(d) for d in state["workdays"]),
            source=source,
        )

    def as_state(self) -> dict[str, Any]:
        """JSON-ready values, as recorded in events."""
        return {
            "year": self.year,
            "document": self.document,
            "holidays": [d.isoformat() for d in self.holidays],
            "workdays": [d.isoformat() for d in self.workdays],
        }


# The chinesecalendar package: one adapter -----------------------------------------------------


@cache
def _package_years() -> dict[int, tuple[list[date], list[date]]]:
    years: dict[int, tuple[list[date], list[date]]] = {}
    for day in chinese_calendar.holidays:
        years.setdefault(day.year, ([], []))[0].append(day)
    for day in chinese_calendar.workdays:
        years.setdefault(day.year, ([], []))[1].append(day)
    return years


def package_arrangement(year: int) -> Arrangement | None:
    """The year's arrangement as `chinesecalendar` ships it, or None for a year it has no data
    for (its own `is_workday` raises NotImplementedError outside 2004–2026 in 1.11.0).

    The package's `holidays` table lists every day off of a holiday block, weekends included, as
    the notices do; its `workdays` table lists the make-up working days (all weekend days in
    1.11.0). Only this function reads the package: the rest of ssj asks it through
    `WorkingCalendar`.
    """
    found = _package_years().get(year)
    if found is None or not found[0]:
        return None
    holidays, workdays = found
    return Arrangement(
        year=year,
        document=f"国务院办公厅关于{year}年部分节假日安排的通知（据 chinesecalendar "
        f"{PACKAGE_VERSION}）",
        holidays=tuple(sorted(holidays)),
        workdays=tuple(sorted(workdays)),
        source=Source.PACKAGE,
    )


def package_years() -> tuple[int, int]:
    """The first and last year the package knows."""
    years = [y for y, (holidays, _) in _package_years().items() if holidays]
    return min(years), max(years)


# Working days ------------------------------------------------------------------------------------

PackageLookup = Callable[[int], Arrangement | None]


def parse_working_days(value: object) -> int:
    """A number of working days from user input: a whole number, 0 ≤ n ≤ MAX_WORKING_DAYS."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise fields.FieldError("n", "应为工作日天数（整数）", "must be a number of working days")
    try:
        n = int(value)
    except ValueError:
        raise fields.FieldError(
            "n",
            f"工作日天数应为整数，实际为“{value}”",
            f"the number of working days must be a whole number, got {value!r}",
        ) from None
    if not 0 <= n <= MAX_WORKING_DAYS:
        raise fields.FieldError(
            "n",
            f"工作日天数应为 0–{MAX_WORKING_DAYS}，实际为 {n}",
            f"the number of working days must be 0-{MAX_WORKING_DAYS}, got {n}",
        )
    return n


class WorkingCalendar:
    """Which days are working days, from the registered arrangements and the package.

    `registered` maps years to the arrangements the ledger holds (they win); `package` is asked
    for any other year (by default the `chinesecalendar` adapter; tests pass their own). Every
    question about a day in a year neither knows raises `CalendarYearUnknown`.
    """

    def __init__(
        self,
        registered: Mapping[int, Arrangement] | None = None,
        package: PackageLookup = package_arrangement,
    ) -> None:
        self.registered = dict(registered or {})
        self.package = package
        self._days: dict[int, tuple[frozenset[date], frozenset[date]]] = {}

    def arrangement(self, year: int) -> Arrangement:
        """The arrangement that applies to `year`: the ledger's, else the package's."""
        found = self.registered.get(year)
        if found is None:
            found = self.package(year)
        if found is None:
            raise CalendarYearUnknown(year)
        return found

    def _year(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        days = self._days.get(year)
        if days is None:
            found = self.arrangement(year)
            days = self._days[year] = (frozenset(found.holidays), frozenset(found.workdays))
        return days

    def is_working_day(self, day: date) -> bool:
        """A make-up working day works; a listed day off does not; otherwise Monday–Friday."""
        holidays, workdays = self._year(day.year)
        if day in workdays:
            return True
        return day.weekday() < 5 and day not in holidays

    def add_working_days(self, day: date, n: int) -> date:
        """The `n`-th working day after `day` (0 ≤ n ≤ MAX_WORKING_DAYS): `day` itself is not
        counted, whether or not it is a working day, so a result "within 20 working days of the
        inspection" is `add_working_days(inspected_on, 20)`. For n = 0 it is `day` itself (its
        year must still be known: every deadline is computed under a known arrangement)."""
        count = parse_working_days(n)
        self._year(day.year)
        current = day
        while count:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end`, negative when `end` is before
        `start`: the inverse of `add_working_days`, so a publication on `published` is
        `working_days_between(deadline, published)` working days late when that is above 0."""
        if end < start:
            return -self.working_days_between(end, start)
        self._year(start.year)
        return sum(
            self.is_working_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1)
        )


def arrangements(states: Iterable[Mapping[str, Any]]) -> dict[int, Arrangement]:
    """Registered arrangements by year, from their recorded states."""
    found = (Arrangement.from_state(s) for s in states)
    return {a.year: a for a in found}


# The aggregate ----------------------------------------------------------------------------------


class CalendarYear(Aggregate):
    """One year's arrangement as registered in the ledger; each amendment is a new version."""

    @staticmethod
    def create_id(year: int, **_: Any) -> UUID:
        return calendar_year_id(year)

    class Registered(Aggregate.Created):
        year: int
        document: str
        holidays: list[str]
        workdays: list[str]

    @event(Registered)
    def __init__(self, year: int, document: str, holidays: list[str], workdays: list[str]) -> None:
        self.year = year
        self.document = document
        self.holidays = list(holidays)
        self.workdays = list(workdays)

    @classmethod
    def register(cls, arrangement: Arrangement) -> CalendarYear:
        state = arrangement.as_state()
        return cls(
            year=arrangement.year,
            document=state["document"],
            holidays=state["holidays"],
            workdays=state["workdays"],
        )

    @property
    def arrangement(self) -> Arrangement:
        return Arrangement.from_state(
            {
                "year": self.year,
                "document": self.document,
                "holidays": self.holidays,
                "workdays": self.workdays,
            }
        )

    def amend(self, arrangement: Arrangement, reason: str) -> bool:
        """Record the new version of the whole arrangement with its reason (required); False
        (nothing recorded) if it is the arrangement already registered."""
        if arrangement.year != self.year:
            raise ConflictError(
                f"{self.year} 年的安排不能改为 {arrangement.year} 年",
                f"the arrangement of {self.year} cannot become {arrangement.year}'s",
            )
        if arrangement == self.arrangement:
            return False
        why = fields.prose("reason", reason, required=False)
        if not why:
            raise fields.FieldError(
                "reason",
                f"{self.year} 年的安排已登记：再次登记即修改，须说明理由（如更正通知）",
                f"the arrangement of {self.year} is registered already: registering it again "
                "amends it and needs a reason (such as a corrected notice)",
            )
        state = arrangement.as_state()
        self._amended(
            document=state["document"],
            holidays=state["holidays"],
            workdays=state["workdays"],
            reason=why,
        )
        return True

    class Amended(Aggregate.Event):
        document: str
        holidays: list[str]
        workdays: list[str]
        reason: str

    @event(Amended)
    def _amended(
        self, document: str, holidays: list[str], workdays: list[str], reason: str
    ) -> None:
        self.document = document
        self.holidays = list(holidays)
        self.workdays = list(workdays)


# The audit trail (全程留痕): what the holiday arrangements say --------------------------------


@trail.describes(CalendarYear.Registered, CalendarYear.Amended)
def _trail_calendar(event: Any, recall: trail.Recall) -> trail.Described:
    zh = "登记节假日安排" if isinstance(event, CalendarYear.Registered) else "修改节假日安排"
    return trail.Described(
        trail.kind_of(event),
        zh,
        f"{zh}：{trail.attr(event, 'document', '')}"[: trail.MAX_VALUE * 2],
    )

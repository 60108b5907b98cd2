"""Working days without storage: the package adapter, deadline arithmetic across the Spring
Festival and National Day with their make-up working days (2024-2026, hand-computed from the
State Council's notices), unknown years, registered arrangements winning, validation and the
year aggregate."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ssj.domain.calendar import (
    Arrangement,
    CalendarYear,
    CalendarYearUnknown,
    Source,
    WorkingCalendar,
    calendar_year_id,
    package_arrangement,
    package_years,
)
from ssj.domain.fields import FieldError

D = date.fromisoformat

# A made-up arrangement for a year no package knows (weekdays checked by the validation).
Y2031 = {
    "year": 2031,
    "document": "国办发明电〔2030〕99号 国务院办公厅关于2031年部分节假日安排的通知",
    "holidays": ["2031-01-01", "2031-01-22..2031-01-28", "2031-10-01..2031-10-07"],
    "workdays": ["2031-01-19", "2031-02-08", "2031-09-28", "2031-10-11"],
}


def arrangement_2031(**overrides: object) -> Arrangement:
    raw = {**Y2031, **overrides}
    return Arrangement.parse(raw["year"], raw["document"], raw["holidays"], raw["workdays"])


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


# The package ------------------------------------------------------------------------------------


def test_package_knows_2004_to_2026() -> None:
    assert package_years() == (2004, 2026)
    assert package_arrangement(2003) is None and package_arrangement(2027) is None
    found = package_arrangement(2026)
    assert found is not None and found.source is Source.PACKAGE
    assert "2026" in found.document and "chinesecalendar" in found.document


def test_package_2026_is_the_state_councils_notice() -> None:
    """国务院办公厅关于2026年部分节假日安排的通知, as chinesecalendar 1.11.0 records it."""
    found = package_arrangement(2026)
    assert found is not None
    spring = [d for d in found.holidays if d.month == 2]
    assert spring == [D("2026-02-15") + timedelta(days=i) for i in range(9)]  # Sun..Mon
    national = [d for d in found.holidays if d.month == 10]
    assert national == [D(f"2026-10-0{i}") for i in range(1, 8)]
    assert [d for d in found.holidays if d.month == 9] == [
        D("2026-09-25"),
        D("2026-09-26"),
        D("2026-09-27"),
    ]
    assert found.workdays == (
        D("2026-01-04"),
        D("2026-02-14"),
        D("2026-02-28"),
        D("2026-05-09"),
        D("2026-09-20"),
        D("2026-10-10"),
    )
    assert all(d.weekday() >= 5 for d in found.workdays)  # make-up days fall on weekends


# Deadlines ---------------------------------------------------------------------------------------

DEADLINES = [
    # 2024 Spring Festival: 02-10..17 off, Sunday 02-04 and Sunday 02-18 worked.
    ("2024-02-02", 1, "2024-02-04"),  # Friday -> the make-up Sunday
    ("2024-02-08", 1, "2024-02-09"),
    ("2024-02-08", 2, "2024-02-18"),  # over the whole holiday to the make-up Sunday
    ("2024-02-08", 3, "2024-02-19"),
    ("2024-02-01", 20, "2024-03-05"),
    # 2024 National Day: 10-01..07 off, Sunday 09-29 and Saturday 10-12 worked.
    ("2024-09-27", 1, "2024-09-29"),
    ("2024-09-27", 2, "2024-09-30"),
    ("2024-09-27", 3, "2024-10-08"),
    ("2024-09-30", 20, "2024-11-01"),
    # 2025 Spring Festival: 01-28..02-04 off, Sunday 01-26 and Saturday 02-08 worked.
    ("2025-01-24", 1, "2025-01-26"),
    ("2025-01-24", 2, "2025-01-27"),
    ("2025-01-24", 3, "2025-02-05"),
    ("2025-01-24", 20, "2025-02-27"),
    # 2025 National Day (with Mid-Autumn): 10-01..08 off, Sunday 09-28 and Saturday 10-11 worked.
    ("2025-09-26", 1, "2025-09-28"),
    ("2025-09-30", 1, "2025-10-09"),
    ("2025-09-26", 20, "2025-10-30"),
    # 2026 (the package): Spring Festival 02-15..23 off, Saturdays 02-14 and 02-28 worked;
    # Mid-Autumn 09-25..27 and National Day 10-01..07 off, Sunday 09-20 and Saturday 10-10 worked.
    ("2026-02-13", 1, "2026-02-14"),
    ("2026-02-13", 2, "2026-02-24"),
    ("2026-02-12", 20, "2026-03-18"),
    ("2026-09-18", 1, "2026-09-20"),
    ("2026-09-24", 1, "2026-09-28"),
    ("2026-09-30", 20, "2026-11-03"),
    # Across the year end: 2026-01-01..03 off, Sunday 2026-01-04 worked.
    ("2025-12-31", 1, "2026-01-04"),
    ("2025-12-31", 2, "2026-01-05"),
]


@pytest.mark.parametrize(("start", "n", "expected"), DEADLINES)
def test_deadlines(calendar: WorkingCalendar, start: str, n: int, expected: str) -> None:
    assert calendar.add_working_days(D(start), n) == D(expected)
    # The inverse: exactly n working days after start, up to and including the deadline.
    assert calendar.working_days_between(D(start), D(expected)) == n


def test_make_up_days_work_and_holidays_do_not(calendar: WorkingCalendar) -> None:
    for worked in ("2024-02-04", "2024-02-18", "2024-09-29", "2024-10-12", "2025-10-11"):
        assert calendar.is_working_day(D(worked)), worked
    for off in ("2024-02-12", "2024-10-07", "2025-01-28", "2025-10-08", "2026-02-23"):
        assert not calendar.is_working_day(D(off)), off
    assert calendar.is_working_day(D("2025-03-03"))  # an ordinary Monday
    assert not calendar.is_working_day(D("2025-03-08"))  # an ordinary Saturday


def test_zero_days_is_the_day_itself_and_negative_is_refused(calendar: WorkingCalendar) -> None:
    assert calendar.add_working_days(D("2024-02-10"), 0) == D("2024-02-10")  # even a holiday
    for bad in (-1, "x", 1.5, 100_000):
        with pytest.raises(FieldError) as info:
            calendar.add_working_days(D("2024-02-10"), bad)  # type: ignore[arg-type]
        assert info.value.field == "n" and info.value.zh and info.value.en
    assert calendar.add_working_days(D("2024-02-08"), "2") == D("2024-02-18")  # type: ignore[arg-type]


def test_working_days_between_says_how_late(calendar: WorkingCalendar) -> None:
    deadline = calendar.add_working_days(D("2024-02-01"), 20)
    assert calendar.working_days_between(deadline, D("2024-03-08")) == 3  # 3 working days late
    assert calendar.working_days_between(deadline, deadline) == 0
    assert calendar.working_days_between(D("2024-03-08"), deadline) == -3
    # Published on the holiday's last day: not a working day later than the Friday before.
    assert calendar.working_days_between(D("2024-02-09"), D("2024-02-17")) == 0


def test_a_year_nobody_knows_is_an_error(calendar: WorkingCalendar) -> None:
    for call in (
        lambda: calendar.is_working_day(D("2031-01-06")),
        lambda: calendar.add_working_days(D("2031-01-06"), 0),
        lambda: calendar.add_working_days(D("2026-12-30"), 5),  # runs into 2027
        lambda: calendar.working_days_between(D("2026-12-01"), D("2027-01-04")),
        lambda: calendar.arrangement(2031),
    ):
        with pytest.raises(CalendarYearUnknown) as info:
            call()
        error = info.value
        assert error.code == "calendar_year_unknown"
        assert str(error.year) in error.zh and str(error.year) in error.en
        assert f"ssj calendar register {error.year}" in error.zh
        assert f"ssj calendar register {error.year}" in error.en
    assert calendar.add_working_days(D("2026-12-30"), 1) == D("2026-12-31")


def test_a_registered_arrangement_wins_over_the_package() -> None:
    # Say a corrected notice had put 2025-10-08 back to work: the ledger's answer applies.
    package = package_arrangement(2025)
    assert package is not None
    holidays = [d.isoformat() for d in package.holidays if d != D("2025-10-08")]
    workdays = [d.isoformat() for d in package.workdays]
    registered = Arrangement.parse(2025, "更正通知", holidays, workdays)
    calendar = WorkingCalendar({2025: registered})
    assert calendar.add_working_days(D("2025-09-30"), 1) == D("2025-10-08")
    assert WorkingCalendar().add_working_days(D("2025-09-30"), 1) == D("2025-10-09")
    assert calendar.arrangement(2025).source is Source.LEDGER
    assert calendar.arrangement(2024).source is Source.PACKAGE  # other years: the package
    # A registered year the package does not know.
    known = WorkingCalendar({2031: arrangement_2031()})
    assert known.add_working_days(D("2031-01-17"), 1) == D("2031-01-19")  # make-up Sunday
    assert known.add_working_days(D("2031-01-17"), 4) == D("2031-01-29")


def test_the_package_is_consulted_only_through_the_adapter() -> None:
    asked: list[int] = []

    def nothing(year: int) -> Arrangement | None:
        asked.append(year)
        return None

    with pytest.raises(CalendarYearUnknown):
        WorkingCalendar(package=nothing).add_working_days(D("2024-02-08"), 2)
    assert asked == [2024]
    fake = WorkingCalendar(package=lambda year: arrangement_2031() if year == 2031 else None)
    assert fake.add_working_days(D("2031-09-26"), 1) == D("2031-09-28")
    # A registered year never reaches the package.
    WorkingCalendar({2024: Arrangement.parse(2024, "通知", ["2024-01-01"], [])}, nothing)
    assert asked == [2024]


# Validation ----------------------------------------------------------------------------------------


def test_ranges_and_lists_are_read() -> None:
    found = arrangement_2031()
    assert len(found.holidays) == 15 and found.holidays[0] == D("2031-01-01")
    assert found.workdays == (D("2031-01-19"), D("2031-02-08"), D("2031-09-28"), D("2031-10-11"))
    text = Arrangement.parse("2031", "通知", "2031-01-01、2031-01-02", "")
    assert text.holidays == (D("2031-01-01"), D("2031-01-02")) and text.workdays == ()
    assert Arrangement.from_state(found.as_state()) == found


@pytest.mark.parametrize(
    ("overrides", "field", "zh"),
    [
        ({"holidays": ["2030-12-31", "2031-01-01"]}, "holidays", "不在 2031 年内"),
        ({"workdays": ["2032-01-03"]}, "workdays", "不在 2031 年内"),
        ({"holidays": ["2031-01-01", "2031-01-01"]}, "holidays", "重复"),
        ({"holidays": ["2031-10-01..2031-10-07", "2031-10-07"]}, "holidays", "重复"),
        ({"holidays": ["2031-10-07..2031-10-01"]}, "holidays", "结束早于开始"),
        ({"holidays": ["2031-02-30"]}, "holidays", "日期无效"),
        ({"workdays": ["2031-01-01"]}, "workdays", "既列为放假又列为上班"),
        ({"workdays": ["2031-01-20"]}, "workdays", "周六或周日"),  # a Monday
        ({"holidays": []}, "holidays", "至少列出一个"),
        ({"holidays": ["2031-01-04", "2031-01-05"]}, "holidays", "都是周末"),
        ({"document": " "}, "document", "不能为空"),
        ({"year": 1999}, "year", "2000–2100"),
        ({"year": "二〇三一"}, "year", "应为年份"),
        ({"holidays": {"a": 1}}, "holidays", "日期列表"),
    ],
)
def test_bad_arrangements_are_refused(overrides: dict[str, object], field: str, zh: str) -> None:
    with pytest.raises(FieldError) as info:
        arrangement_2031(**overrides)
    assert info.value.field == field
    assert zh in info.value.zh and info.value.en


# The aggregate -------------------------------------------------------------------------------------


def test_registering_again_is_an_amendment_with_a_reason() -> None:
    year = CalendarYear.register(arrangement_2031())
    assert year.id == calendar_year_id(2031) and year.version == 1
    assert year.arrangement == arrangement_2031()
    year.collect_events()
    assert year.amend(arrangement_2031(), "") is False  # the same: nothing to record
    corrected = arrangement_2031(workdays=["2031-01-19", "2031-02-08", "2031-09-28"])
    with pytest.raises(FieldError) as info:
        year.amend(corrected, "  ")
    assert info.value.field == "reason" and "理由" in info.value.zh
    assert year.collect_events() == []
    assert year.amend(corrected, "国办发明电〔2030〕100号更正") is True
    (amended,) = year.collect_events()
    assert isinstance(amended, CalendarYear.Amended)  # type: ignore[attr-defined]
    assert amended.reason == "国办发明电〔2030〕100号更正"
    assert year.version == 2 and year.arrangement == corrected

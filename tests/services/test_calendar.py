"""Working days through CalendarService on both backends: an unknown year fails until an
administrator registers it, deadlines as of an earlier seq replay what was known then (also
after the read model is rebuilt), amendments are new versions, a registered year overrides the
package, and bad input or a non-administrator writes nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ssj.config import Settings
from ssj.domain.access import Forbidden, Refusal
from ssj.domain.calendar import CalendarYearUnknown
from ssj.domain.fields import FieldError
from ssj.domain.organisation import Role
from ssj.errors import SsjError, ValidationError
from ssj.services.calendar import CalendarService
from ssj.services.context import Services
from tests.services.conftest import Jurisdiction

D = date.fromisoformat
DOCUMENT = "国办发明电〔2030〕99号 国务院办公厅关于2031年部分节假日安排的通知"
HOLIDAYS = ["2031-01-01", "2031-01-22..2031-01-28", "2031-10-01..2031-10-07"]
WORKDAYS = ["2031-01-19", "2031-02-08", "2031-09-28", "2031-10-11"]


@pytest.fixture
def calendar(jurisdiction: Jurisdiction) -> CalendarService:
    return CalendarService(jurisdiction.services)


def register(
    j: Jurisdiction, calendar: CalendarService, reason: str = "", **overrides: Any
) -> dict[str, Any]:
    raw: dict[str, Any] = {"document": DOCUMENT, "holidays": HOLIDAYS, "workdays": WORKDAYS}
    raw.update(overrides)
    return calendar.register_year(
        j.root, 2031, raw["document"], raw["holidays"], raw["workdays"], reason
    )


def unchanged(j: Jurisdiction, call: Any, error: type[SsjError]) -> SsjError:
    """The error, bilingual, and nothing written."""
    size = j.services.ledger.size()
    with pytest.raises(error) as info:
        call()
    assert info.value.zh and info.value.en
    assert j.services.ledger.size() == size
    return info.value


def test_unknown_year_until_registered_and_replayable(
    jurisdiction: Jurisdiction, calendar: CalendarService
) -> None:
    j = jurisdiction
    error = unchanged(j, lambda: calendar.deadline("2031-01-17", 4), CalendarYearUnknown)
    assert "2031" in error.zh and "ssj calendar register 2031" in error.en
    before = j.services.ledger.head_seq()  # the last seq before the registration

    done = register(j, calendar)
    assert done["outcome"] == "created" and done["version"] == 1
    assert done["holidays"][:2] == ["2031-01-01", "2031-01-22"] and len(done["holidays"]) == 15
    registered_seq = j.services.ledger.head_seq()

    assert calendar.deadline("2031-01-17", 1) == D("2031-01-19")  # the make-up Sunday
    assert calendar.deadline("2031-01-17", 4) == D("2031-01-29")  # over the Spring Festival
    assert calendar.deadline(D("2031-09-26"), "1", at_seq=registered_seq) == D("2031-09-28")
    # As of a seq before the registration the year was unknown, and stays so on replay.
    unchanged(j, lambda: calendar.deadline("2031-01-17", 4, at_seq=before), CalendarYearUnknown)
    assert calendar.deadline("2024-02-08", 2, at_seq=before) == D("2024-02-18")  # the package

    # The read model rebuilt from the ledger alone gives the same answers.
    j.services.runner.rebuild()
    unchanged(j, lambda: calendar.deadline("2031-01-17", 4, at_seq=before), CalendarYearUnknown)
    assert calendar.deadline("2031-01-17", 4, at_seq=registered_seq) == D("2031-01-29")


def test_registering_again_is_a_new_version(
    jurisdiction: Jurisdiction, calendar: CalendarService
) -> None:
    j = jurisdiction
    register(j, calendar)
    first_seq = j.services.ledger.head_seq()
    # The same arrangement again: nothing written.
    size = j.services.ledger.size()
    assert register(j, calendar, reason="重复提交")["outcome"] == "unchanged"
    assert j.services.ledger.size() == size
    # A change needs a reason.
    corrected = ["2031-01-19", "2031-02-08", "2031-09-28"]  # 10-11 no longer worked
    error = unchanged(j, lambda: register(j, calendar, workdays=corrected), FieldError)
    assert "理由" in error.zh and "reason" in error.en
    amended = register(j, calendar, reason="国办发明电〔2030〕100号更正", workdays=corrected)
    assert amended["outcome"] == "updated" and amended["version"] == 2

    assert calendar.deadline("2031-10-10", 1) == D("2031-10-13")  # 10-11 is a Saturday again
    assert calendar.deadline("2031-10-10", 1, at_seq=first_seq) == D("2031-10-11")
    shown = calendar.year(2031)
    assert shown["source"] == "ledger" and shown["workdays"] == corrected
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["versions"][0]["reason"] is None
    assert shown["versions"][1]["reason"] == "国办发明电〔2030〕100号更正"
    assert shown["versions"][1]["recorded_by"] == "root"
    assert [v["version"] for v in calendar.year(2031, at_seq=first_seq)["versions"]] == [1]


def test_a_registered_year_overrides_the_package(
    jurisdiction: Jurisdiction, calendar: CalendarService
) -> None:
    j = jurisdiction
    assert calendar.deadline("2025-09-30", 1) == D("2025-10-09")  # the package: 10-01..08 off
    package = calendar.year(2025)
    assert package["source"] == "package" and package["versions"] == []
    holidays = [d for d in package["holidays"] if d != "2025-10-08"]
    calendar.register_year(j.root, 2025, "更正通知（测试）", holidays, package["workdays"])
    assert calendar.deadline("2025-09-30", 1) == D("2025-10-08")
    assert calendar.year(2025)["source"] == "ledger"
    assert calendar.deadline("2024-09-30", 20) == D("2024-11-01")  # other years: the package


def test_bad_input_and_non_administrators_write_nothing(
    jurisdiction: Jurisdiction, calendar: CalendarService
) -> None:
    j = jurisdiction
    unchanged(j, lambda: register(j, calendar, holidays=["2030-12-31"]), FieldError)
    unchanged(j, lambda: register(j, calendar, workdays=["2031-01-01"]), FieldError)
    unchanged(j, lambda: register(j, calendar, workdays=["2031-01-20"]), FieldError)
    unchanged(j, lambda: calendar.deadline("2024-02-08", -1), FieldError)
    unchanged(j, lambda: calendar.deadline("2024-02-30", 1), FieldError)
    unchanged(j, lambda: calendar.deadline("2024-02-08", 1, at_seq=10**6), ValidationError)
    for role in (Role.OPERATOR, Role.LEADER, Role.SUPERVISOR):
        size = j.services.ledger.size()
        with pytest.raises(Forbidden):
            calendar.register_year(j.as_role(role), 2031, DOCUMENT, HOLIDAYS, WORKDAYS)
        logged = j.services.ledger.read(size, 10)  # only the refusal, naming the command
        assert len(logged) == 1 and isinstance(logged[0].event, Refusal.Recorded)  # type: ignore[attr-defined]
        assert logged[0].event.command == "manage_calendar"
    unchanged(j, lambda: calendar.deadline("2031-01-17", 1), CalendarYearUnknown)


def test_an_empty_ledger_knows_the_package_years(settings: Settings) -> None:
    services = Services(settings)  # not even initialised
    try:
        calendar = CalendarService(services)
        assert calendar.pinned()[0] == -1
        assert calendar.deadline("2026-02-12", 20) == D("2026-03-18")
        assert calendar.year(2026)["source"] == "package"
        with pytest.raises(ValidationError):
            calendar.deadline("2026-02-12", 20, at_seq=0)
    finally:
        services.close()

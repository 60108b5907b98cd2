"""Publication deadlines and overdue monitoring through the services, on SQLite and PostgreSQL:
a deadline across the National Day holiday, a late publication with its working-day lateness,
an unknown calendar year reported (never guessed), tasks past their plan's window, the plan's
own publication period, and scoping by department."""

from __future__ import annotations

from datetime import date

import pytest

from ssj.domain.access import Forbidden
from ssj.domain.fields import FieldError
from ssj.domain.organisation import Role
from ssj.services.overdue import OverdueService
from ssj.services.tasks import TaskService
from tests.services.conftest import OTHER, OWN, Jurisdiction, item_row
from tests.services.test_draws import World, unchanged
from tests.services.test_tasks import ITEM, Tasks

LATE_IN_2025 = date(2025, 12, 31)


@pytest.fixture
def w(jurisdiction: Jurisdiction) -> World:
    return World(jurisdiction)


def tasks_in(world: World, year: int, today: date, **plan: object) -> Tasks:
    """A plan of `year` drawn on March 2nd of that year; its tasks with the clock at `today`."""
    world.publish(year=year, **plan)
    run = world.run
    world.run = lambda code="2026-01", **kw: run(code, drawn_on=f"{year}-03-02", **kw)  # type: ignore[method-assign]
    t = Tasks(world)
    t.tasks = TaskService(world.s, clock=lambda: today)
    return t


def completed(t: Tasks, ref: str, on: str) -> None:
    first, second = t.team(ref)
    t.tasks.notify(t.operator, ref, "2025-03-03" if on < "2026" else "2026-03-03", "电话通知")
    t.draft(first, ref, inspected_on=on)
    t.tasks.sign_result(second, ref, ITEM)
    t.tasks.complete(first, ref, on)


def published(t: Tasks, ref: str, completed_on: str, published_on: str) -> None:
    completed(t, ref, completed_on)
    t.tasks.inform(t.operator, ref, completed_on)
    t.tasks.confirm(t.operator, ref)
    t.tasks.publish(t.operator, ref, on=published_on, public_summary="未发现问题")


def test_publication_deadline_across_national_day_and_lateness(w: World) -> None:
    t = tasks_in(w, 2025, LATE_IN_2025)
    on_time, late, overdue = t.ref_of(0), t.ref_of(1), t.ref_of(2)
    published(t, on_time, "2025-09-26", "2025-10-30")  # due 2025-10-30: the holiday skipped
    published(t, late, "2025-09-26", "2025-11-04")  # Oct 31, Nov 3, Nov 4: 3 working days late
    completed(t, overdue, "2025-09-26")
    overdue_service = OverdueService(w.s, clock=lambda: date(2025, 11, 7))
    report = overdue_service.report(w.operator)
    assert report["on"] == "2025-11-07" and report["department"] == OWN
    by_id = {r["identifier"]: r for r in report["publication"]}
    assert t.targets[0] not in by_id  # on time: not reported
    row = by_id[t.targets[1]]
    assert (row["due_on"], row["state"], row["working_days_late"]) == ("2025-10-30", "late", 3)
    assert row["state_zh"] == "逾期完成" and row["within_working_days"] == 20
    row = by_id[t.targets[2]]
    assert (row["due_on"], row["state"], row["working_days_late"]) == ("2025-10-30", "overdue", 6)
    assert report["summary"] == [
        {
            "department": OWN,
            "uninspected": 0,
            "inspected_late": 0,
            "publication_overdue": 1,
            "published_late": 1,
            "deadline_unknown": 0,
            "rectification_overdue": 0,
            "penalty_overdue": 0,
            "penalty_published_late": 0,
            "penalty_deadline_unknown": 0,
            "delivery_overdue": 0,
            "delivered_late": 0,
            "delivery_deadline_unknown": 0,
            "dead_letters": 0,
        }
    ]
    # On the due date the unpublished result is not overdue yet; "today" is a parameter.
    earlier = OverdueService(w.s).report(w.operator, on="2025-10-30")["publication"]
    assert [r["identifier"] for r in earlier] == [t.targets[1]]
    # A report as of an earlier seq is the ledger then: nothing published late yet.
    before = OverdueService(w.s).report(w.operator, on="2025-11-07", at_seq=report["as_of"])
    assert before == report


def test_plan_sets_its_own_publication_period(w: World) -> None:
    t = tasks_in(w, 2025, LATE_IN_2025, publish_within_days=5)
    completed(t, t.ref_of(0), "2025-09-26")
    assert OverdueService(w.s).report(w.operator, on="2025-10-10")["publication"] == []
    (row,) = OverdueService(w.s).report(w.operator, on="2025-10-14")["publication"]
    # Sunday Sep 28 (a make-up working day), Sep 29, 30, Oct 9, 10; then Saturday Oct 11
    # (make-up), Oct 13, 14.
    assert row["within_working_days"] == 5 and row["due_on"] == "2025-10-10"
    assert (row["state"], row["working_days_late"]) == ("overdue", 3)
    bad = {"code": "x", "department": OWN, "title": "t", "year": 2025, "items": ["TZ-001"]}
    unchanged(w, lambda: w.plans.draft(w.operator, {**bad, "publish_within_days": 61}), FieldError)


def test_an_items_own_publication_period_wins_over_the_plans(w: World) -> None:
    w.j.registry.save_item(w.j.root, item_row("TZ-001", publish_within_days="5"))
    t = tasks_in(w, 2025, LATE_IN_2025, publish_within_days=15)
    completed(t, t.ref_of(0), "2025-09-26")
    (row,) = OverdueService(w.s).report(w.operator, on="2025-10-14")["publication"]
    assert row["within_working_days"] == 5 and row["due_on"] == "2025-10-10"
    # Set after the draw froze its items: this draw's deadline does not move.
    w.j.registry.save_item(w.j.root, item_row("TZ-001", publish_within_days="3"))
    (row,) = OverdueService(w.s).report(w.operator, on="2025-10-14")["publication"]
    assert row["within_working_days"] == 5
    bad = item_row("TZ-002", publish_within_days="0")
    unchanged(w, lambda: w.j.registry.save_item(w.j.root, bad), FieldError)


def test_unknown_calendar_year_is_reported_not_guessed(w: World) -> None:
    t = tasks_in(w, 2026, date(2026, 12, 31))
    completed(t, t.ref_of(0), "2026-12-15")  # 20 working days later is in 2027
    report = OverdueService(w.s).report(w.operator, on="2027-03-01")
    (row,) = report["publication"]
    assert row["state"] == "unknown" and row["due_on"] is None
    assert "2027" in row["reason_zh"] and "2027" in row["reason_en"]
    assert report["summary"][0]["deadline_unknown"] == 1


def test_tasks_not_inspected_by_the_window_end(w: World) -> None:
    t = tasks_in(w, 2025, LATE_IN_2025, window_end="2025-06-30")
    completed(t, t.ref_of(0), "2025-06-20")
    completed(t, t.ref_of(1), "2025-07-03")
    report = OverdueService(w.s).report(w.operator, on="2025-07-10")
    by_id = {r["identifier"]: r for r in report["uninspected"]}
    assert t.targets[0] not in by_id
    assert by_id[t.targets[1]]["days_past"] == 3 and by_id[t.targets[1]]["completed_on"]
    open_row = by_id[t.targets[2]]
    assert open_row["status"] == "drawn" and open_row["days_past"] == 10
    assert open_row["window_end"] == "2025-06-30"
    summary = report["summary"][0]
    assert summary["inspected_late"] == 1 and summary["uninspected"] == len(t.targets) - 2
    assert (
        OverdueService(w.s).report(w.operator, on="2025-06-30")["uninspected"][0]["identifier"]
        == t.targets[1]
    )


def test_reports_are_scoped_by_department(w: World) -> None:
    t = tasks_in(w, 2025, LATE_IN_2025, window_end="2025-06-30")
    service = OverdueService(w.s)
    assert service.report(w.j.as_role(Role.SUPERVISOR), on="2025-07-01")["department"] is None
    assert service.report(w.j.as_role(Role.SUPERVISOR), OTHER, "2025-07-01")["uninspected"] == []
    unchanged(w, lambda: service.report(w.operator, OTHER, "2025-07-01"), Forbidden)
    with pytest.raises(FieldError):
        service.report(w.operator, on="2025-13-01")
    assert len(service.report(w.operator, on="2025-07-01")["uninspected"]) == len(t.targets)

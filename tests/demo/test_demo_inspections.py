"""The demo's inspections on a small jurisdiction, on SQLite and PostgreSQL: the drawn tasks go
through their lifecycle as far as `today` allows, with a mix of result categories, publications
on time, late and withheld, objections decided by the leader; a later day takes them further, a
second run on the same day writes nothing, every draw still verifies and so does `ssj verify`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from projections.followups import TABLES as FOLLOWUP_TABLES
from projections.registry import RegistryQueries
from ssj.config import Settings
from ssj.demo import draws, followups, inspections
from ssj.demo.jurisdiction import ADMIN
from ssj.domain.draws import draw_id
from ssj.domain.plans import plan_id
from ssj.domain.tasks import TaskStatus
from ssj.ledger.audit import verify_ledger
from ssj.services.calendar import CalendarService
from ssj.services.context import Services
from ssj.services.overdue import OverdueService
from tests import worlds
from tests.cli.inprocess import run_ssj
from tests.conftest import settings_env

pytestmark = pytest.mark.slow  # a demo-sized year

SMALL, SEED = worlds.SMALL, worlds.SEED
MIDYEAR = date(2026, 7, 15)
NOVEMBER = worlds.NOVEMBER
STAGES = ("notified_on", "completed_on", "informed_on", "published_on", "closed_on")


@pytest.fixture(params=worlds.BACKENDS)
def drawn(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """A copy of the small jurisdiction with the demo's draws (`tests/worlds.py`)."""
    with worlds.copied(request.param, "drawn", tmp_path, tmp_path_factory) as settings:
        yield settings


@pytest.fixture
def services(drawn: Settings) -> Iterator[Services]:
    s = Services(drawn)
    try:
        yield s
    finally:
        s.close()


def rows(services: Services) -> list[dict]:
    services.refresh()
    return services.draw_queries.states("tasks")


def check_dates(services: Services, today: date) -> None:
    """Every date is on or before today and follows the lifecycle's order."""
    for row in rows(services):
        days = [row[k] for k in STAGES if row.get(k)]
        days += [r["inspected_on"] for r in row["results"].values()]
        assert all(d <= today.isoformat() for d in days), row
        assert row["drawn_on"] <= (row["notified_on"] or "9999")
        present = [row[k] for k in STAGES if row.get(k)]
        assert present == sorted(present), row
        for result in row["results"].values():
            assert row["notified_on"] <= result["inspected_on"] <= (row["completed_on"] or "9999")
            if result["signed_by"]:
                assert result["signed_by"] != result["drafted_by"]
                assert {result["drafted_by"], result["signed_by"]} <= set(row["inspectors"])


def test_the_years_inspections(services: Services, drawn: Settings) -> None:
    # Midyear: tasks at every stage; the September draw's targets are not even notified.
    size = services.ledger.size()
    first = inspections.run(services, seed=SEED, today=MIDYEAR)
    assert first.tasks > 0 and first.events_written == services.ledger.size() - size > 0
    midyear = inspections.summarise(services)
    assert midyear.statuses.get(TaskStatus.DRAWN.value, 0) > 0
    assert len(midyear.statuses) >= 3, midyear.statuses
    check_dates(services, MIDYEAR)

    # November: the same tasks, further on; a second run on the same day writes nothing.
    later = inspections.run(services, seed=SEED, today=NOVEMBER)
    assert later.tasks == first.tasks and later.events_written > 0
    size = services.ledger.size()
    again = inspections.run(services, seed=SEED, today=NOVEMBER)
    assert (again.events_written, again.tasks_advanced, again.relinks) == (0, 0, 0)
    assert services.ledger.size() == size
    check_dates(services, NOVEMBER)

    found = inspections.summarise(services)
    assert sum(found.statuses.values()) == first.tasks
    assert found.statuses.get(TaskStatus.CLOSED.value, 0) > first.tasks // 2, found.statuses
    # Mostly 未发现问题 among the tasks not forced into a case (seven are, of ~25; the drawn
    # targets vary with the secret nonce): 70 % of ~18, so at least a fifth of all, by far.
    forced = len(inspections.forced_cases(inspections.work(services), SEED))
    assert forced >= 7
    assert found.categories.get("no_problem", 0) > sum(found.categories.values()) // 5
    assert len(found.categories) >= 3, found.categories
    assert found.on_time > found.late >= 1
    assert found.withheld >= 1 and found.final_published >= 1
    assert found.objections.get("rejected", 0) >= 1 and found.objections.get("upheld", 0) >= 1

    # Publications, checked on the read models against the calendar.
    calendar = CalendarService(services)
    states = rows(services)
    late = [
        r
        for r in states
        if r["published_on"]
        and not r["withheld"]
        and r["published_on"] > calendar.deadline(r["completed_on"], 20).isoformat()
    ]
    assert len(late) == found.late
    withheld = [r for r in states if r["withheld"] and not r["withheld"]["until_final"]]
    assert withheld and all(r["withheld"]["reason"] for r in withheld)
    assert all(r["published_on"] is None for r in withheld)
    assert all(r["status"] == TaskStatus.CLOSED.value for r in withheld if r["closed_on"])
    (final,) = [r for r in states if r["withheld"] and r["withheld"]["until_final"]]
    assert final["published_on"] and final["department"].endswith("-ZL")

    # An upheld objection: the task was inspected again and the new result published.
    upheld = [r for r in states if r["objection"] and r["objection"]["upheld"]]
    assert upheld and all(r["results"] for r in upheld)

    # A first round's tasks were open when the second round was drawn: none closed before it.
    for code, second in (("2026-TZ-01", "2026-05-18"), ("2026-XY-01", "2026-06-15")):
        round_one = str(draw_id(plan_id(f"CZ-SJJ-{code.split('-')[1]}", code), 1))
        closed = [r["closed_on"] for r in states if r["draw_id"] == round_one and r["closed_on"]]
        assert closed and min(closed) >= second

    # Every draw still verifies, and so does the ledger, also through `ssj verify`.
    checked = draws.verify_all(services)
    assert len(checked) == 8 and all(c.ok for c in checked), [c.failed for c in checked]
    assert verify_ledger(services.ledger, jobs=1).ok
    result = run_ssj(["verify"], settings_env(drawn))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_years_follow_up(services: Services) -> None:
    inspections.run(services, seed=SEED, today=MIDYEAR)
    midyear = followups.run(services, seed=SEED, today=MIDYEAR)
    inspections.run(services, seed=SEED, today=NOVEMBER)
    later = followups.run(services, seed=SEED, today=NOVEMBER)
    assert later.tasks >= midyear.tasks and later.events_written > 0
    size = services.ledger.size()
    again = followups.run(services, seed=SEED, today=NOVEMBER)
    assert (again.steps, again.events_written) == (0, 0) and services.ledger.size() == size

    services.refresh()
    rows = RegistryQueries(services.store, FOLLOWUP_TABLES).states("followups")
    tasks = {r["task_id"]: r for r in services.draw_queries.states("tasks")}
    for row in rows:  # every step after the task's completion, none after today
        days = [r["ordered_on"] for r in row["rectifications"]]
        days += [c["on"] for r in row["rectifications"] for c in r["rechecks"]]
        days += [r["on"] for r in row["reminders"] + row["referrals"]]
        days += [c["decided_on"] for c in row["cases"]]
        days += [c["published_on"] for c in row["cases"] if c["published_on"]]
        assert all(tasks[row["task_id"]]["completed_on"] <= d <= NOVEMBER.isoformat() for d in days)
    orders = [r for row in rows for r in row["rectifications"]]
    rechecks = [c for r in orders for c in r["rechecks"]]
    assert any(c["passed"] for c in rechecks) and any(not c["passed"] for c in rechecks)
    cases = [c for row in rows for c in row["cases"]]
    assert any(c["credit_class"] for c in cases)
    assert any(row["reminders"] for row in rows)
    assert {r["to_kind"] for row in rows for r in row["referrals"]} == {"public_security"}
    # A lowered credit class reached the registry through the target's own events.
    lowered = next(row for row in rows for c in row["cases"] if c["credit_class"])
    target = services.queries.get("targets", [lowered["identifier"]])
    assert target is not None and target["credit_class"] >= lowered["cases"][0]["credit_class"]

    # Overdue monitoring sees the rectification never re-checked and the late penalty notice.
    admin = services.principal(ADMIN)
    summary = OverdueService(services, clock=lambda: NOVEMBER).report(admin)["summary"]
    assert sum(d["rectification_overdue"] for d in summary) >= 1
    assert sum(d["penalty_published_late"] for d in summary) >= 1
    assert verify_ledger(services.ledger, jobs=1).ok
    assert all(c.ok for c in draws.verify_all(services))


def test_demo_prints_the_inspections_and_writes_nothing_the_second_time(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssj.cli.demo import run

    for name, value in settings_env(settings).items():
        if name.startswith("SSJ_"):
            monkeypatch.setenv(name, value)
    run(targets=SMALL, seed=SEED)
    first = capsys.readouterr().out
    assert "检查与公示 / inspections" in first and "8/8 通过 / passed" in first
    for label in (
        "已办结 / closed",
        "未发现问题 / no_problem",
        "逾期 / late",
        "不予公示",
        "后续处置 / follow-up",
        "责令整改 / rectification orders",
    ):
        assert label in first
    run(targets=SMALL, seed=SEED)
    second = capsys.readouterr().out
    assert "0 条事件 / events" in second and "8/8 通过 / passed" in second
    assert "完好 / intact" in second

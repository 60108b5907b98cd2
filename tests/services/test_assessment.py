"""The annual assessment through the services, on SQLite and PostgreSQL: a small year built with
the real services (a draw with both kinds of recusal, an abandoned draw, tasks inspected and
published on time, late, withheld and not yet, a rectification closed and one overdue) gives
the expected figures; who may read them; as-of reads; bad input writes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ssj.domain.access import Forbidden
from ssj.domain.organisation import Role
from ssj.errors import NotFoundError, ValidationError
from ssj.services.assessment import AssessmentService
from ssj.services.calendar import CalendarService
from ssj.services.context import Services
from ssj.services.followups import FollowUpService
from tests import worlds
from tests.conftest import IN_CI
from tests.services.conftest import OTHER, OWN
from tests.services.test_draws import World, unchanged, world
from tests.services.test_tasks import TODAY, Tasks

__all__ = ["world"]

ON = "2026-06-30"
ABANDON_REASON = "见证人未到场，经负责人批准作废"


class Year:
    """The world's plan drawn, recusals, a second plan's draw abandoned, four tasks inspected."""

    def __init__(self, world: World) -> None:
        self.t = t = Tasks(world)
        self.w = world
        draws = world.draws
        # An inspector's own declared conflict (recorded by the leader) and a target's request.
        declared_on, requested_on = t.targets[5], t.targets[6]
        leaving = t.tasks.row(t.ref_of(5))["inspectors"][0]
        draws.recuse(world.leader, t.draw_id, declared_on, leaving, "本人配偶在该单位任职")
        other = t.tasks.row(t.ref_of(6))["inspectors"][1]
        request, _ = draws.request_recusal(
            world.operator, t.draw_id, requested_on, other, "曾有纠纷"
        )
        draws.decide_recusal(world.leader, t.draw_id, request, True, "理由成立")
        # A second plan: its draw abandoned after the commit.
        world.publish("2026-02")
        abandoned = world.commit("2026-02")
        draws.abandon(world.leader, abandoned, ABANDON_REASON)
        f = FollowUpService(t.s, clock=lambda: TODAY)
        tasks = t.tasks
        self.refs = [t.ref_of(n) for n in range(4)]
        on_time, late, withheld, open_ = self.refs
        for ref in self.refs:
            t.confirmed(ref)  # completed 2026-03-05, informed 03-06, confirmed
        tasks.publish(t.operator, on_time, on="2026-03-10", public_summary="未发现问题")
        self.before_late = t.s.ledger.head_seq()
        tasks.publish(t.operator, late, on="2026-05-20", public_summary="未发现问题")
        tasks.withhold(t.operator, withheld, "涉及商业秘密", until_final=False)
        # A rectification re-checked and passed by its deadline; one never re-checked.
        first, _ = t.team(on_time)
        f.order_rectification(
            t.operator, on_time, deadline="2026-03-20", requirement="整改", on="2026-03-06"
        )
        f.recheck(first, on_time, 1, "通过", on="2026-03-18")
        f.order_rectification(
            t.operator, open_, deadline="2026-04-30", requirement="整改", on="2026-03-06"
        )
        self.service = AssessmentService(t.s, clock=lambda: date(2026, 11, 20))


@pytest.fixture
def year(world: World) -> Year:
    return Year(world)


def test_figures_of_a_small_year(year: Year) -> None:
    t, s = year.t, year.service
    result = s.department(t.leader, 2026, OWN, on=ON)
    assert (result["year"], result["on"], result["department"]) == (2026, ON, OWN)
    figures = result["figures"]
    assert result["tasks"] == len(t.targets) == 11
    # Two plans published: 2026-01 drawn, its window (to 12-31) still open on 06-30 with 7
    # tasks not inspected: in progress; 2026-02's only draw was abandoned: not drawn.
    plans = figures["plans"]
    assert (plans["published"], plans["completed"], plans["in_progress"]) == (2, 0, 1)
    assert (plans["not_drawn"], plans["share"]) == (1, 0.0)
    # Ratios (A 12 x 10% → 2, B 36 x 10% → 4, C 6 x 20% → 2, D 6 x 50% → 3): required = drawn;
    # inspected: the four tasks, counted in their own strata.
    classes = {c["credit_class"]: c for c in figures["ratios"]["classes"]}
    assert {c: (v["population"], v["required"], v["drawn"]) for c, v in classes.items()} == {
        "A": (12, 2, 2),
        "B": (36, 4, 4),
        "C": (6, 2, 2),
        "D": (6, 3, 3),
    }
    strata = [t.tasks.row(ref)["stratum"] for ref in year.refs]
    assert {c: v["inspected"] for c, v in classes.items()} == {c: strata.count(c) for c in "ABCD"}
    assert figures["ratios"]["met"] is False  # 4 of 11 inspected by June 30th
    # Coverage: 60 enterprises of the registry in TZ-001's scope, 4 inspected.
    assert figures["coverage"] == {
        "cycle_years": 1,
        "from": "2026-01-01",
        "to": "2026-12-31",
        "in_scope": 60,
        "covered": 4,
        "share": round(4 / 60, 4),
    }
    assert figures["caps"]["over_cap"] == 0
    # Participation: the 6 certified inspectors; those on the four inspected tasks' teams.
    teams = {c for ref in year.refs for c in t.tasks.row(ref)["inspectors"]}
    assert figures["participation"] == {
        "inspectors": 6,
        "took_part": len(teams),
        "share": round(len(teams) / 6, 4),
    }
    assert figures["joint"] == {"tasks": 11, "joint": 0, "share": 0.0}
    # Publication: completed 03-05, due 20 working days later. On time (03-10: Mar 6, 9, 10 =
    # 3 working days); late (05-20); withheld for good; the fourth not published and past due
    # on 06-30: overdue. Share on time 1 / 3.
    calendar = CalendarService(t.s).calendar()
    completed, due = date(2026, 3, 5), calendar.add_working_days(date(2026, 3, 5), 20)
    to_late = calendar.working_days_between(completed, date(2026, 5, 20))
    publication = figures["publication"]
    assert {k: publication[k] for k in ("results", "on_time", "late", "withheld", "overdue")} == {
        "results": 4,
        "on_time": 1,
        "late": 1,
        "withheld": 1,
        "overdue": 1,
    }
    assert (publication["pending"], publication["unknown"]) == (0, 0)
    assert publication["share_on_time"] == 0.3333
    assert publication["median_working_days"] == (3 + to_late) / 2
    assert publication["median_working_days_late"] == to_late - 20
    rows = s.detail(t.leader, 2026, OWN, "publication", on=ON)["items"]
    by_state = {r["state"]: r for r in rows}
    assert by_state["late"]["due_on"] == due.isoformat()
    assert by_state["late"]["working_days_late"] == to_late - 20
    # Rectifications: one passed on 03-18 (deadline 03-20), one past 04-30 without a re-check.
    assert figures["rectifications"] == {
        "orders": 2,
        "closed": 1,
        "closed_late": 0,
        "overdue": 1,
        "open": 0,
        "share_closed": 0.5,
    }
    assert figures["recusals"] == {"total": 2, "declared": 1, "requested": 1, "pending": 0}
    assert figures["abandoned_draws"] == {"count": 1, "reasons": [ABANDON_REASON]}
    recusals = s.detail(t.leader, 2026, OWN, "recusals", on=ON)["items"]
    assert {r["kind"] for r in recusals} == {"declared", "requested"}


def test_drill_down_pages_and_as_of(year: Year) -> None:
    t, s = year.t, year.service
    page = s.detail(t.leader, 2026, OWN, "coverage", on=ON, offset=0, limit=10)
    assert (page["total"], len(page["items"]), page["figure"]) == (60, 10, "coverage")
    last = s.detail(t.leader, 2026, OWN, "名录库覆盖率", on=ON, offset=55, limit=10)
    assert [r["covered"] for r in last["items"]] == [False] + [True] * 4  # covered sort last
    # As of the seq before the late publication: that result was overdue, not late, and so was
    # the one not yet withheld then (with the never-published one: 3).
    before = s.department(t.leader, 2026, OWN, on=ON, at_seq=year.before_late)
    publication = before["figures"]["publication"]
    assert (publication["late"], publication["overdue"], before["as_of"]) == (
        0,
        3,
        year.before_late,
    )
    # The same ledger, year and day: the same figures.
    again = s.department(t.leader, 2026, OWN, on=ON, at_seq=year.before_late)
    assert again == before


def test_who_may_read(year: Year) -> None:
    t, s, w = year.t, year.service, year.w
    reviewer = t.j.as_role(Role.REVIEWER)
    supervisor = t.j.as_role(Role.SUPERVISOR)
    everything = s.year(reviewer, 2026, on=ON)
    codes = [d["department"] for d in everything["departments"]]
    assert OWN in codes
    own = next(d for d in everything["departments"] if d["department"] == OWN)
    assert own["figures"] == s.department(supervisor, 2026, OWN, on=ON)["figures"]
    assert s.department(reviewer, 2026, OTHER, on=ON)["tasks"] == 0
    # A leader reads their own department only, not the summary; operators and inspectors
    # not at all. Each refusal is recorded, nothing else written.
    for call in (
        lambda: s.department(t.leader, 2026, OTHER, on=ON),
        lambda: s.year(t.leader, 2026, on=ON),
        lambda: s.department(t.operator, 2026, OWN, on=ON),
        lambda: s.department(t.j.as_role(Role.INSPECTOR), 2026, OWN, on=ON),
    ):
        unchanged(w, call, Forbidden)


def test_bad_input_writes_nothing(year: Year) -> None:
    t, s, w = year.t, year.service, year.w
    for bad in ("二〇二六", 1999, "26"):
        error = unchanged(w, lambda b=bad: s.department(t.leader, b, OWN), ValidationError)
        assert error.zh and error.en
    unchanged(w, lambda: s.department(t.leader, 2026, OWN, cycle_years=9), ValidationError)
    unchanged(w, lambda: s.department(t.leader, 2026, OWN, on="六月"), ValidationError)
    unchanged(w, lambda: s.detail(t.leader, 2026, OWN, "速度"), ValidationError)
    unchanged(w, lambda: s.detail(t.leader, 2026, OWN, "caps", limit=0), ValidationError)
    unchanged(w, lambda: s.department(t.leader, 2026, OWN, at_seq=10**9), ValidationError)
    admin = t.j.root
    unchanged(w, lambda: s.department(admin, 2026, "CZ-NOPE"), NotFoundError)


@pytest.mark.slow
def test_exports_are_reproducible(year: Year) -> None:
    t, s = year.t, year.service
    first = s.workbook(t.leader, 2026, OWN, on=ON)
    assert first == s.workbook(t.leader, 2026, OWN, on=ON)
    png = s.chart(t.leader, 2026, OWN, on=ON)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png == s.chart(t.leader, 2026, OWN, on=ON)


@pytest.mark.slow
def test_chart_without_a_cjk_font_uses_english_labels(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssj.domain.assessment import Assessment
    from ssj.services import assessment_files as files
    from tests.domain.test_assessment import D1, fixture

    if files.cjk_font() is None:  # make system installs fonts-wqy-microhei
        message = "no CJK font installed (apt-get install fonts-wqy-microhei)"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    result = Assessment(fixture()).department(D1)
    chinese = files.chart(result, 2026, 7)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(files, "cjk_font", lambda: None)
    monkeypatch.setattr(files, "_warned", [])
    english = files.chart(result, 2026, 7)
    assert english.startswith(b"\x89PNG") and english != chinese
    assert "no CJK font" in capsys.readouterr().err
    files.chart(result, 2026, 7)
    assert capsys.readouterr().err == ""  # said once


@pytest.mark.slow
@pytest.mark.parametrize("backend", worlds.BACKENDS)
def test_over_everything_the_demo_writes(
    backend: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The demo's year (plans, draws with recusals, an abandoned draw, a joint plan, the
    inspections to 2026-11-20; a copy of `tests/worlds.py`'s): every department assessed, and
    no target over its yearly cap."""
    from ssj.demo.jurisdiction import ADMIN

    with worlds.copied(backend, "inspected", tmp_path, tmp_path_factory) as settings:
        services = Services(settings)
        try:
            report = AssessmentService(services, clock=lambda: date(2026, 11, 20)).year(
                services.principal(ADMIN), 2026, on="2026-11-20"
            )
        finally:
            services.close()
    by_code = {d["department"]: d["figures"] for d in report["departments"]}
    assert all(f["caps"]["over_cap"] == 0 for f in by_code.values())
    assert by_code["CZ-SJJ-ZL"]["abandoned_draws"]["count"] == 1
    assert by_code["CZ-SJJ-TZ"]["recusals"]["total"] == 2
    assert by_code["CZ-SJJ-JL"]["joint"]["share"] == 1.0
    assert by_code["CZ-SJJ-JG"]["joint"]["joint"] > 0  # cooperating in the joint plan
    published = sum(f["plans"]["published"] for f in by_code.values())
    assert published == 5
    results = sum(f["publication"]["results"] for f in by_code.values())
    assert results > 0 and sum(f["publication"]["late"] for f in by_code.values()) >= 1

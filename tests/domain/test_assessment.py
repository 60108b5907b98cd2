"""The assessment's figures on a small fixture of plain rows, each expected number worked out by
hand in the comments (ssj.domain.assessment states the definitions)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ssj.domain.assessment import FIGURES, Assessment, Rows, headline, parse_figure
from ssj.errors import ValidationError

D1, D2 = "CZ-SJJ-TZ", "CZ-SJJ-JG"
ON = date(2026, 12, 31)
CAPS = {"yearly_cap_department": 2, "yearly_cap_all": 4}


def plan(code: str, status: str, end: str = "2026-12-31", department: str = D1) -> dict[str, Any]:
    return {
        "plan_id": f"plan-{code}",
        "department": department,
        "code": code,
        "title": f"计划{code}",
        "year": "2026",
        "kind": "annual",
        "status": status,
        "window_start": "2026-01-01",
        "window_end": end,
    }


def draw(
    draw_id: str,
    plan_code: str,
    drawn_on: str,
    seq: int,
    strata: list[tuple[str, int, int]],
    *,
    department: str = D1,
    status: str = "revealed",
    reason: str | None = None,
    pending: int = 0,
) -> dict[str, Any]:
    return {
        "draw_id": draw_id,
        "plan_id": f"plan-{plan_code}",
        "department": department,
        "label": f"{department}/{plan_code}/{draw_id}",
        "status": status,
        "drawn_on": drawn_on,
        "committed_seq": seq,
        "committed_by": "operator",
        "strata": [{"name": n, "size": size, "k": k} for n, size, k in strata],
        "abandoned_reason": reason,
        "pending_requests": pending,
    }


def task(
    task_id: str,
    draw_id: str,
    identifier: str,
    stratum: str,
    inspectors: list[str],
    drawn_on: str,
    *,
    departments: tuple[str, ...] = (D1,),
    completed_on: str | None = None,
    published_on: str | None = None,
    withheld: dict[str, Any] | None = None,
    recused: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "draw_id": draw_id,
        "label": f"label-{draw_id}",
        "identifier": identifier,
        "department": departments[0],
        "departments": list(departments),
        "drawn_on": drawn_on,
        "stratum": stratum,
        "status": "closed" if completed_on else "drawn",
        "inspectors": inspectors,
        "completed_on": completed_on,
        "published_on": published_on,
        "withheld": withheld,
        "recused": recused or [],
    }


def inspector(
    certificate_no: str,
    department: str = D1,
    *,
    pool: str = "inspector",
    status: str = "active",
    valid_to: str = "2028-12-31",
) -> dict[str, Any]:
    return {
        "certificate_no": certificate_no,
        "name": f"检查员{certificate_no}",
        "department": department,
        "pool": pool,
        "status": status,
        "certificate_valid_from": "2024-01-01",
        "certificate_valid_to": valid_to,
    }


def target(identifier: str, target_type: str = "enterprise", status: str = "active") -> dict:
    return {
        "identifier": identifier,
        "department": D1,
        "target_type": target_type,
        "status": status,
    }


def order(deadline: str, passed_on: str | None = None, rechecks: int = 0) -> dict[str, Any]:
    return {
        "ordered_on": "2026-07-06",
        "deadline": deadline,
        "requirement": "限期整改",
        "rechecks": [{"on": "x", "passed": False}] * rechecks,
        "passed_on": passed_on,
    }


def fixture(on: date = ON, cycle_years: int = 1) -> Rows:
    return Rows(
        year=2026,
        on=on,
        cycle_years=cycle_years,
        departments={D1: "特种设备安全监察科", D2: "价格监督检查科", "CZ-SJJ": "市局"},
        plans=[
            plan("P1", "published", end="2026-06-30"),
            plan("P2", "published"),
            plan("P3", "draft"),
            plan("P4", "cancelled"),
            plan("P5", "published"),
            plan("Q1", "published", department=D2),
        ],
        draws=[
            draw("d1", "P1", "2026-03-02", 10, [("A", 10, 1), ("B", 20, 2)], pending=1),
            draw(
                "d2", "P2", "2026-07-01", 20, [("C:priority", 5, 1), ("C:rest", 5, 0), ("D", 2, 1)]
            ),
            draw(
                "d3",
                "P2",
                "2026-06-30",
                15,
                [("C", 9, 1)],
                status="abandoned",
                reason="见证人未到场",
            ),
            draw("d4", "Q1", "2026-04-01", 12, [("B", 4, 1)], department=D2),
            draw("d5", "P0", "2025-05-01", 5, [("A", 3, 1)]),
        ],
        rules={
            "d1": {"ratios": {"A": "10", "B": "10"}, **CAPS},
            "d2": {
                "ratios": {"C": "10", "D": "50"},
                "yearly_cap_department": 1,
                "yearly_cap_all": 4,
            },
            "d4": {"ratios": {"B": "25"}, "yearly_cap_department": 2, "yearly_cap_all": 1},
        },
        recusals={
            "d1": [
                {
                    "target": "X1",
                    "certificate_no": "I9",
                    "kind": "declared",
                    "reason": "亲属",
                    "replacement": "I2",
                },
                {
                    "target": "X2",
                    "certificate_no": "I4",
                    "kind": "requested",
                    "reason": "申请",
                    "replacement": "I3",
                },
                # recorded after the rows' seq: X3's row has no recusal yet
                {
                    "target": "X3",
                    "certificate_no": "I5",
                    "kind": "declared",
                    "reason": "后来",
                    "replacement": "I4",
                },
            ]
        },
        tasks=[
            task("t0", "d5", "X2", "A", ["I1", "I2"], "2025-05-01", completed_on="2025-06-01"),
            task(
                "t1",
                "d1",
                "X1",
                "A",
                ["I1", "I2"],
                "2026-03-02",
                completed_on="2026-04-10",
                published_on="2026-04-20",
                recused=["I9"],
            ),
            task(
                "t2",
                "d1",
                "X2",
                "B",
                ["I1", "I3"],
                "2026-03-02",
                completed_on="2026-07-05",
                published_on="2026-08-10",
                recused=["I4"],
            ),
            task("t3", "d1", "X3", "B", ["I2", "I4"], "2026-03-02"),
            task(
                "t4",
                "d2",
                "X4",
                "C:priority",
                ["I2", "J1"],
                "2026-07-01",
                departments=(D1, D2),
                completed_on="2026-08-01",
                withheld={"reason": "商业秘密", "until_final": False},
            ),
            task(
                "t5",
                "d2",
                "X1",
                "D",
                ["I1", "J1"],
                "2026-07-01",
                departments=(D1, D2),
                completed_on="2026-08-03",
            ),
            task(
                "t6",
                "d4",
                "X1",
                "B",
                ["J1", "J2"],
                "2026-04-01",
                departments=(D2,),
                completed_on="2026-04-15",
                published_on="2026-04-20",
            ),
        ],
        publication={
            "t1": {
                "state": "on_time",
                "due_on": "2026-05-08",
                "working_days": 8,
                "working_days_late": 0,
                "within_working_days": 20,
            },
            "t2": {
                "state": "late",
                "due_on": "2026-08-02",
                "working_days": 25,
                "working_days_late": 5,
                "within_working_days": 20,
            },
            "t4": {
                "state": "overdue",
                "due_on": "2026-08-29",
                "working_days": None,
                "working_days_late": 70,
                "within_working_days": 20,
            },
            "t5": {
                "state": "unknown",
                "due_on": None,
                "working_days": None,
                "working_days_late": None,
                "reason_zh": "2027 年未知",
                "reason_en": "2027",
            },
            "t6": {
                "state": "on_time",
                "due_on": "2026-05-15",
                "working_days": 3,
                "working_days_late": 0,
            },
        },
        followups=[
            {
                "task_id": "t2",
                "identifier": "X2",
                "departments": [D1],
                "rectifications": [
                    order("2026-07-31", "2026-07-30", rechecks=2),
                    order("2026-08-15", "2026-08-20", rechecks=1),
                ],
            },
            {
                "task_id": "t5",
                "identifier": "X1",
                "departments": [D1, D2],
                "rectifications": [
                    order("2026-09-01"),
                    order("2027-01-31"),
                ],
            },
            {
                "task_id": "t0",
                "identifier": "X2",
                "departments": [D1],
                "rectifications": [
                    order("2025-07-01"),
                ],
            },
        ],
        targets=[
            target("X1"),
            target("X2"),
            target("X3"),
            target("X4", status="abnormal"),  # inspected, then put on the abnormal list
            target("X5", status="deregistered"),  # never inspected: not in scope
            target("X6", target_type="product"),  # its only item is retired: not in scope
            target("X7"),
        ],
        items=[
            {"department": D1, "code": "TZ-1", "target_type": "enterprise"},
            {"department": D1, "code": "TZ-2", "target_type": "product", "retired_reason": "废止"},
            {"department": D2, "code": "JG-1", "target_type": "enterprise"},
        ],
        inspectors=[
            inspector("I1"),
            inspector("I2"),
            inspector("I3", status="retired"),  # retired since, but took part: counted
            inspector("I4"),
            inspector("I5", status="suspended"),  # not certified to work, took no part
            inspector("E1", pool="expert"),
            inspector("I6", valid_to="2025-12-31"),  # certificate expired before the year
            inspector("J1", D2),
            inspector("J2", D2),
        ],
    )


@pytest.fixture
def a() -> Assessment:
    return Assessment(fixture())


def test_departments_assessed(a: Assessment) -> None:
    # Every open department, the bureau too (it has done nothing: a finding).
    assert a.departments() == ["CZ-SJJ", D2, D1]
    assert a.department("CZ-SJJ")["figures"]["plans"]["share"] is None
    result = a.department(D1)
    assert result["name"] == "特种设备安全监察科"
    assert result["tasks"] == 5  # t1–t5 (t0 is 2025's, t6 is D2's)
    assert list(result["figures"]) == list(FIGURES)


def test_plans_completed(a: Assessment) -> None:
    # P1: 3 tasks, t1 inspected in the window (06-30), t2 after it, t3 never: window over →
    # not completed. P2: t4 and t5 inspected by 12-31 → completed (the abandoned d3 has no
    # tasks). P5: published, nothing drawn. P3 draft, P4 cancelled: listed, not counted.
    # Published 3 (P1, P2, P5), completed 1: 1/3.
    assert a.figures(D1)["plans"] == {
        "plans": 5,
        "published": 3,
        "completed": 1,
        "in_progress": 0,
        "not_completed": 1,
        "not_drawn": 1,
        "not_published": 1,
        "cancelled": 1,
        "share": 0.3333,
    }
    p1 = a.detail("plans", D1)[0]
    assert (p1["tasks"], p1["inspected_in_window"], p1["inspected_after_window"]) == (3, 1, 1)
    assert p1["not_inspected"] == 1 and p1["state_zh"] == "未完成"
    # Judged on June 15th, P1's window has not ended: in progress.
    early = Assessment(fixture(on=date(2026, 6, 15))).figures(D1)["plans"]
    assert (early["in_progress"], early["not_completed"]) == (1, 0)


def test_ratio_achieved_vs_required_per_class(a: Assessment) -> None:
    # d1: A 10 eligible, k 1, t1 inspected; B 20 eligible, k 2, t2 inspected, t3 not.
    # d2: C 5 + 5 eligible, k 1 + 0, t4 inspected; D 2 eligible, k 1, t5 inspected.
    classes = {c["credit_class"]: c for c in a.figures(D1)["ratios"]["classes"]}
    assert classes["A"] == {
        "credit_class": "A",
        "population": 10,
        "required": 1,
        "drawn": 1,
        "inspected": 1,
        "required_ratio": 0.1,
        "achieved_ratio": 0.1,
        "met": True,
    }
    b = classes["B"]  # 1 inspected of 2 required: 1/20 = 0.05 achieved vs 2/20 = 0.1
    assert (b["population"], b["required"], b["drawn"], b["inspected"]) == (20, 2, 2, 1)
    assert (b["required_ratio"], b["achieved_ratio"], b["met"]) == (0.1, 0.05, False)
    c = classes["C"]  # the priority and rest strata are one class: 10 eligible, 1 required
    assert (c["population"], c["required"], c["inspected"], c["met"]) == (10, 1, 1, True)
    d = classes["D"]  # 1 of 2: 0.5 both
    assert (d["required_ratio"], d["achieved_ratio"]) == (0.5, 0.5)
    assert a.figures(D1)["ratios"]["met"] is False  # B is short
    rows = a.detail("ratios", D1)
    assert [(r["draw"], r["credit_class"], r["ratio"]) for r in rows] == [
        (f"{D1}/P1/d1", "A", "10"),
        (f"{D1}/P1/d1", "B", "10"),
        (f"{D1}/P2/d2", "C", "10"),
        (f"{D1}/P2/d2", "D", "50"),
    ]


def test_coverage_over_the_cycle(a: Assessment) -> None:
    # In scope (enterprise: TZ-1; TZ-2 for products is retired): X1, X2, X3, X7 active, and X4
    # (abnormal now, but inspected); X5 deregistered and never inspected is out, X6 a product.
    # Inspected in 2026 by a task involving D1: X1 (t1, t5), X2 (t2), X4 (t4) → 3 of 5.
    assert a.figures(D1)["coverage"] == {
        "cycle_years": 1,
        "from": "2026-01-01",
        "to": "2026-12-31",
        "in_scope": 5,
        "covered": 3,
        "share": 0.6,
    }
    rows = {r["identifier"]: r for r in a.detail("coverage", D1)}
    assert rows["X1"]["inspections"] == 2 and rows["X1"]["last_inspected_on"] == "2026-08-03"
    assert not rows["X3"]["covered"] and not rows["X7"]["covered"]
    # Over two years, 2025's t0 also counts: X2 inspected twice, still 3 targets covered.
    two = Assessment(fixture(cycle_years=2))
    assert {r["identifier"]: r for r in two.detail("coverage", D1)}["X2"]["inspections"] == 2
    assert two.figures(D1)["coverage"]["from"] == "2025-01-01"


def test_targets_over_the_yearly_cap(a: Assessment) -> None:
    # X1 in draw order: t1 (d1, 03-02, D1), t6 (d4, 04-01, D2), t5 (d2, 07-01, D1+D2).
    # t6 under d4's rules (cap across departments 1): 1 earlier task → over, for D2.
    # t5 under d2's rules (department cap 1): t1 and t6 both involve D1 or D2 → 2 ≥ 1 → over
    # the department cap, for D1; 2 tasks < 4 across departments.
    assert a.figures(D1)["caps"] == {"over_cap": 1, "tasks": 1, "department": 1, "all": 0}
    assert a.figures(D2)["caps"] == {"over_cap": 1, "tasks": 1, "department": 0, "all": 1}
    (row,) = a.detail("caps", D1)
    assert (row["identifier"], row["earlier_department"], row["cap_department"]) == ("X1", 2, 1)
    assert row["earlier_draws"] == ["label-d1", "label-d4"]


def test_inspector_participation(a: Assessment) -> None:
    # D1's inspectors: I1, I2, I4 certified and active, I3 retired but took part; I5 suspended,
    # I6's certificate expired in 2025, E1 an expert: left out. Inspected tasks involving D1:
    # t1 (I1, I2), t2 (I1, I3), t4 (I2, J1), t5 (I1, J1) → I1 3, I2 2, I3 1, I4 0: 3 of 4.
    assert a.figures(D1)["participation"] == {"inspectors": 4, "took_part": 3, "share": 0.75}
    rows = {r["certificate_no"]: r["inspected_tasks"] for r in a.detail("participation", D1)}
    assert rows == {"I1": 3, "I2": 2, "I3": 1, "I4": 0}
    # D2: J1 on t4, t5, t6; J2 on t6 → 2 of 2.
    assert a.figures(D2)["participation"]["share"] == 1.0


def test_joint_share(a: Assessment) -> None:
    # Tasks involving D1: t1–t5, of which t4 and t5 are joint: 2/5. D2: t4, t5, t6: 2/3.
    assert a.figures(D1)["joint"] == {"tasks": 5, "joint": 2, "share": 0.4}
    assert a.figures(D2)["joint"]["share"] == 0.6667


def test_publication_on_time(a: Assessment) -> None:
    # Inspected tasks D1 led: t1 on time (8 working days), t2 late (25, 5 late), t4 withheld
    # for good (never overdue, whatever the deadline says), t5 unknown (2027 not known).
    # On time 1 of (1 on time + 1 late + 0 overdue) = 0.5; median working days of 8 and 25 =
    # 16.5; median late of [5] = 5.
    assert a.figures(D1)["publication"] == {
        "results": 4,
        "on_time": 1,
        "late": 1,
        "overdue": 0,
        "pending": 0,
        "withheld": 1,
        "unknown": 1,
        "share_on_time": 0.5,
        "median_working_days": 16.5,
        "median_working_days_late": 5.0,
    }
    unknown = [r for r in a.detail("publication", D1) if r["state"] == "unknown"]
    assert unknown[0]["identifier"] == "X1" and unknown[0]["reason_zh"] == "2027 年未知"


def test_rectification_closure(a: Assessment) -> None:
    # The year's tasks D1 led: t2's two orders (passed 07-30 by its 07-31 deadline; passed
    # 08-20 after 08-15), t5's two (09-01 passed without a pass: overdue; 2027-01-31: open).
    # t0's order is 2025's. Closed 2 of 4.
    assert a.figures(D1)["rectifications"] == {
        "orders": 4,
        "closed": 1,
        "closed_late": 1,
        "overdue": 1,
        "open": 1,
        "share_closed": 0.5,
    }
    # On August 18th the 08-20 pass has not happened: that order is overdue; the 09-01 one open.
    early = Assessment(fixture(on=date(2026, 8, 18))).figures(D1)["rectifications"]
    assert (early["closed"], early["closed_late"], early["overdue"], early["open"]) == (1, 0, 1, 2)


def test_recusals_and_abandoned_draws(a: Assessment) -> None:
    # d1 recorded three recusals, but X3's row shows none as of the rows' seq: 2, one of each
    # kind; one request pending on d1.
    assert a.figures(D1)["recusals"] == {"total": 2, "declared": 1, "requested": 1, "pending": 1}
    assert [r["identifier"] for r in a.detail("recusals", D1)] == ["X1", "X2"]
    assert a.figures(D1)["abandoned_draws"] == {"count": 1, "reasons": ["见证人未到场"]}
    assert a.figures(D2)["abandoned_draws"]["count"] == 0


def test_headline_and_figure_names(a: Assessment) -> None:
    shares = headline(a.figures(D1))
    # inspected 4 of required 5 (A 1, B 2, C 1, D 1).
    assert shares["ratios"] == 0.8 and shares["coverage"] == 0.6
    assert parse_figure("名录库覆盖率") == "coverage" and parse_figure(" caps ") == "caps"
    with pytest.raises(ValidationError) as caught:
        parse_figure("速度")
    assert "速度" in caught.value.zh and "speed" not in caught.value.en


def test_the_same_rows_give_the_same_figures() -> None:
    first, second = Assessment(fixture()), Assessment(fixture())
    for d in (D1, D2):
        assert first.department(d) == second.department(d)

"""Which targets a plan may draw, and how many: hand-computed cases, one rule at a time.

Rules come from a real plan record (`PlanRecord.parse(raw).as_state()`), so the keys and the
canonical values are the ones a draw reads from the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson
import pytest

from ssj.domain.plans import PlanRecord
from ssj.draw.eligibility import REASON_LABELS, Population, population, sizes, years_before
from ssj.draw.registry_view import TargetRow, TaskRow
from ssj.errors import ValidationError

LEAD, PARTNER, OTHER = "D1", "D2", "D9"
DAY = date(2025, 6, 30)  # 90 days earlier is 2025-04-01


def rules(**changes: Any) -> dict[str, Any]:
    """A plan's recorded state; exclusion window off unless a test turns it on."""
    raw: dict[str, Any] = {
        "code": "P1",
        "department": LEAD,
        "title": "计划",
        "year": 2025,
        "items": ["I1"],
        "target_types": ["enterprise"],
        "exclusion_days": 0,
    }
    raw.update(changes)
    return PlanRecord.parse(raw).as_state()


def target(
    identifier: str,
    *,
    department: str = LEAD,
    status: str = "active",
    target_type: str = "enterprise",
    region_code: str = "310101",
    credit_class: str = "B",
    tags: tuple[str, ...] = (),
) -> TargetRow:
    return TargetRow(
        identifier,
        department,
        status,
        target_type,
        region_code,
        credit_class,
        orjson.dumps(list(tags)).decode(),
    )


def task(
    identifier: str, drawn_on: str, *departments: str, open: bool = False, plan_id: str = "old"
) -> TaskRow:
    return TaskRow(identifier, plan_id, departments or (LEAD,), drawn_on, open)


def run(
    plan: dict[str, Any],
    targets: list[TargetRow],
    tasks: Sequence[TaskRow] = (),
    departments: tuple[str, ...] = (LEAD,),
    day: date = DAY,
) -> Population:
    return population(plan, departments, int(plan["year"]), day, targets, list(tasks))


def excluded_for(result: Population) -> dict[str, int]:
    return dict(result.exclusions)


# The exclusion reasons, in order ------------------------------------------------------------

ORDER = [
    "out_of_scope:type",
    "out_of_scope:region",
    "out_of_scope:tags",
    "status:abnormal",
    "open_task",
    "recent_inspection",
    "cap_department",
    "cap_all",
]
# What makes target "T" fail each reason (with the plan of `ordered_rules`).
FAILS: dict[str, tuple[dict[str, Any], list[TaskRow]]] = {
    "out_of_scope:type": ({"target_type": "individual"}, []),
    "out_of_scope:region": ({"region_code": "320101"}, []),
    "out_of_scope:tags": ({"tags": ("drug",)}, []),
    "status:abnormal": ({"status": "abnormal"}, []),
    "open_task": ({}, [task("T", "2025-01-05", open=True)]),
    "recent_inspection": ({}, [task("T", "2025-06-01")]),
    "cap_department": ({}, [task("T", "2025-02-01")]),
    "cap_all": ({}, [task("T", "2025-01-10", OTHER), task("T", "2025-01-20", OTHER)]),
}


def ordered_rules() -> dict[str, Any]:
    return rules(
        region_codes=["3101"],
        tags=["food"],
        exclusion_days=90,
        yearly_cap_department=1,
        yearly_cap_all=2,
    )


@pytest.mark.parametrize("first", range(len(ORDER)), ids=ORDER)
def test_a_target_is_counted_under_the_first_reason_that_applies(first: int) -> None:
    """T fails reason `first` and every later one (but no earlier one): only `first` counts."""
    kwargs: dict[str, Any] = {"tags": ("food",)}
    tasks: list[TaskRow] = []
    for reason in ORDER[first:]:
        more, extra = FAILS[reason]
        kwargs.update(more)
        tasks += extra
    result = run(ordered_rules(), [target("T", **kwargs)], tasks)
    assert excluded_for(result) == {ORDER[first]: 1}
    assert result.considered == 1 and result.strata == {}


def test_a_target_failing_nothing_is_eligible() -> None:
    result = run(ordered_rules(), [target("T", tags=("food",))])
    assert result.strata == {"B": ["T"]} and excluded_for(result) == {}


@pytest.mark.parametrize("status", ["deregistered", "abnormal", "serious_violation"])
def test_each_inactive_status_has_its_own_reason(status: str) -> None:
    result = run(rules(), [target("T", status=status)])
    assert excluded_for(result) == {f"status:{status}": 1}


def test_every_reason_has_a_chinese_label() -> None:
    statuses = ["status:deregistered", "status:serious_violation"]
    assert set(ORDER + statuses) == set(REASON_LABELS)


def test_counts_add_up_to_the_lead_departments_registry() -> None:
    targets = [
        target("A1", credit_class="A"),
        target("B1"),
        target("B2"),
        target("X1", target_type="product"),
        target("X2", status="deregistered"),
        target("X3", status="deregistered"),
        target("X4"),
        target("P1", department=PARTNER),  # a cooperating department's registry: not considered
        target("O1", department=OTHER),
    ]
    tasks = [task("X4", "2025-03-01", open=True)]
    result = run(rules(cooperating={PARTNER: ["J1"]}), targets, tasks, (LEAD, PARTNER))
    assert result.considered == 7
    assert excluded_for(result) == {
        "out_of_scope:type": 1,
        "status:deregistered": 2,
        "open_task": 1,
    }
    assert result.strata == {"A": ["A1"], "B": ["B1", "B2"]}
    eligible = sum(len(v) for v in result.strata.values())
    assert eligible + sum(result.exclusions.values()) == result.considered


# Scope --------------------------------------------------------------------------------------


def test_target_types() -> None:
    plan = rules(target_types=["enterprise", "individual"])
    targets = [
        target("E"),
        target("I", target_type="individual"),
        target("P", target_type="project"),
    ]
    result = run(plan, targets)
    assert result.strata == {"B": ["E", "I"]}
    assert excluded_for(result) == {"out_of_scope:type": 1}


def test_region_codes_are_prefixes() -> None:
    plan = rules(region_codes=["3101", "320201"])
    targets = [
        target("IN1", region_code="310105"),
        target("IN2", region_code="320201"),
        target("OUT1", region_code="320101"),
        target("OUT2", region_code="330101"),
    ]
    result = run(plan, targets)
    assert result.strata == {"B": ["IN1", "IN2"]}
    assert excluded_for(result) == {"out_of_scope:region": 2}


def test_no_region_codes_means_every_region() -> None:
    result = run(rules(), [target("A", region_code="310101"), target("B", region_code="650101")])
    assert result.strata == {"B": ["A", "B"]}


def test_tags_need_one_in_common() -> None:
    plan = rules(tags=["food", "cold-chain"])
    targets = [
        target("BOTH", tags=("food", "cold-chain")),
        target("ONE", tags=("cold-chain", "drug")),
        target("OTHER", tags=("drug",)),
        target("NONE"),
    ]
    result = run(plan, targets)
    assert result.strata == {"B": ["BOTH", "ONE"]}
    assert excluded_for(result) == {"out_of_scope:tags": 2}


def test_no_tags_in_the_plan_means_any_tags() -> None:
    targets = [target("T", tags=("drug",)), target("U")]
    assert run(rules(), targets).strata == {"B": ["T", "U"]}


def test_tags_json_may_be_empty_text() -> None:
    row = TargetRow("T", LEAD, "active", "enterprise", "310101", "B", "")
    assert excluded_for(run(rules(tags=["food"]), [row])) == {"out_of_scope:tags": 1}


# History: open tasks, the exclusion window, caps ---------------------------------------------


def test_open_task_excludes_closed_does_not() -> None:
    tasks = [task("OPEN", "2024-11-01", open=True), task("DONE", "2024-11-01")]
    result = run(rules(), [target("OPEN"), target("DONE")], tasks)
    assert result.strata == {"B": ["DONE"]}
    assert excluded_for(result) == {"open_task": 1}


def test_exclusion_window_includes_the_day_exactly_n_days_ago() -> None:
    plan = rules(exclusion_days=90, yearly_cap_department=12, yearly_cap_all=24)
    tasks = [
        task("N", "2025-04-01"),  # exactly 90 days before 2025-06-30
        task("N1", "2025-03-31"),  # 91 days before
        task("TODAY", "2025-06-30"),
    ]
    result = run(plan, [target("N"), target("N1"), target("TODAY"), target("NEVER")], tasks)
    assert result.strata == {"B": ["N1", "NEVER"]}
    assert excluded_for(result) == {"recent_inspection": 2}


def test_exclusion_window_uses_the_latest_task() -> None:
    plan = rules(exclusion_days=90, yearly_cap_department=12, yearly_cap_all=24)
    tasks = [task("T", "2025-05-01", OTHER), task("T", "2024-12-01")]
    result = run(plan, [target("T")], tasks)
    assert excluded_for(result) == {"recent_inspection": 1}


def test_zero_exclusion_days_disables_the_window() -> None:
    plan = rules(exclusion_days=0, yearly_cap_department=12, yearly_cap_all=24)
    result = run(plan, [target("T")], [task("T", "2025-06-30")])
    assert result.strata == {"B": ["T"]} and excluded_for(result) == {}


def test_department_cap_counts_this_years_tasks_of_the_department() -> None:
    plan = rules(yearly_cap_department=2, yearly_cap_all=4)
    tasks = [
        task("AT_CAP", "2025-01-10"),
        task("AT_CAP", "2025-03-10"),
        task("BELOW", "2025-01-10"),
        task("LAST_YEAR", "2024-05-01"),
        task("LAST_YEAR", "2024-12-31"),
        task("OTHERS", "2025-01-10", OTHER),
        task("OTHERS", "2025-03-10", OTHER),
    ]
    ids = ["AT_CAP", "BELOW", "LAST_YEAR", "OTHERS"]
    result = run(plan, [target(i) for i in ids], tasks)
    assert result.strata == {"B": ["BELOW", "LAST_YEAR", "OTHERS"]}
    assert excluded_for(result) == {"cap_department": 1}


def test_joint_plan_counts_any_participating_departments_tasks() -> None:
    plan = rules(cooperating={PARTNER: ["J1"]}, yearly_cap_department=2, yearly_cap_all=4)
    tasks = [
        task("MIXED", "2025-01-10", LEAD),
        task("MIXED", "2025-02-10", OTHER, PARTNER),  # joint with someone else: D2 took part
        task("PARTNER_ONLY", "2025-01-10", PARTNER),
        task("PARTNER_ONLY", "2025-02-10", PARTNER),
        task("ONE_JOINT", "2025-01-10", LEAD, PARTNER),  # one task, counted once
        task("OUTSIDERS", "2025-01-10", OTHER),
        task("OUTSIDERS", "2025-02-10", OTHER),
    ]
    ids = ["MIXED", "PARTNER_ONLY", "ONE_JOINT", "OUTSIDERS"]
    result = run(plan, [target(i) for i in ids], tasks, (LEAD, PARTNER))
    assert result.strata == {"B": ["ONE_JOINT", "OUTSIDERS"]}
    assert excluded_for(result) == {"cap_department": 2}


def test_cap_across_all_departments() -> None:
    plan = rules(yearly_cap_department=2, yearly_cap_all=3)
    tasks = [
        task("T3", "2025-01-10"),
        task("T3", "2025-02-10", OTHER),
        task("T3", "2025-03-10", "D8"),
        task("T2", "2025-02-10", OTHER),
        task("T2", "2025-03-10", "D8"),
        task("OLD", "2024-02-10", OTHER),
        task("OLD", "2024-03-10", "D8"),
        task("OLD", "2024-04-10", "D7"),
    ]
    result = run(plan, [target("T3"), target("T2"), target("OLD")], tasks)
    assert result.strata == {"B": ["T2", "OLD"]}
    assert excluded_for(result) == {"cap_all": 1}


def test_caps_count_the_plans_year_not_the_draw_days() -> None:
    """A 2025 plan drawn on 2025-01-02 ignores 2024's tasks."""
    plan = rules(yearly_cap_department=1, yearly_cap_all=1)
    tasks = [task("T", "2024-12-31")]
    result = run(plan, [target("T")], tasks, day=date(2025, 1, 2))
    assert result.strata == {"B": ["T"]}


# Strata -------------------------------------------------------------------------------------


def test_strata_by_credit_class() -> None:
    targets = [
        target("A1", credit_class="A"),
        target("D1", credit_class="D"),
        target("B1"),
        target("A2", credit_class="A"),
        target("C1", credit_class="C"),
    ]
    result = run(rules(), targets)
    assert result.strata == {"A": ["A1", "A2"], "D": ["D1"], "B": ["B1"], "C": ["C1"]}


def test_fixed_count_has_one_stratum() -> None:
    targets = [target("A1", credit_class="A"), target("B1"), target("D1", credit_class="D")]
    result = run(rules(fixed_count=2), targets)
    assert result.strata == {"all": ["A1", "B1", "D1"]}


def test_priority_uncovered_splits_each_class_by_coverage() -> None:
    plan = rules(priority_uncovered=True, coverage_years=1)  # covered since 2024-06-30
    targets = [
        target("NEVER"),
        target("EDGE"),
        target("BEFORE"),
        target("RECENT"),
        target("A_NEW", credit_class="A"),
    ]
    tasks = [
        task("EDGE", "2024-06-30"),
        task("BEFORE", "2024-06-29"),
        task("RECENT", "2025-01-15", OTHER),  # any department's task covers it
    ]
    result = run(plan, targets, tasks)
    assert result.strata == {
        "B:priority": ["NEVER", "BEFORE"],
        "B:rest": ["EDGE", "RECENT"],
        "A:priority": ["A_NEW"],
    }


def test_priority_uncovered_with_two_coverage_years() -> None:
    plan = rules(priority_uncovered=True, coverage_years=2)  # covered since 2023-06-30
    tasks = [task("IN", "2023-06-30"), task("OUT", "2023-06-29")]
    result = run(plan, [target("IN"), target("OUT")], tasks)
    assert result.strata == {"B:rest": ["IN"], "B:priority": ["OUT"]}


def test_priority_uncovered_with_a_fixed_count() -> None:
    plan = rules(priority_uncovered=True, fixed_count=1)
    targets = [target("NEW", credit_class="A"), target("SEEN", credit_class="D")]
    result = run(plan, targets, [task("SEEN", "2025-01-15")])
    assert result.strata == {"all:priority": ["NEW"], "all:rest": ["SEEN"]}


def test_coverage_from_29_february() -> None:
    """One year before 2024-02-29 is 2023-02-28 (not 2023-03-01, not 365 days)."""
    plan = rules(year=2024, priority_uncovered=True, coverage_years=1)
    tasks = [task("EDGE", "2023-02-28"), task("BEFORE", "2023-02-27")]
    result = run(plan, [target("EDGE"), target("BEFORE")], tasks, day=date(2024, 2, 29))
    assert result.strata == {"B:rest": ["EDGE"], "B:priority": ["BEFORE"]}


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (date(2024, 2, 29), 1, date(2023, 2, 28)),
        (date(2024, 2, 29), 3, date(2021, 2, 28)),
        (date(2024, 2, 29), 4, date(2020, 2, 29)),
        (date(2025, 3, 1), 1, date(2024, 3, 1)),
        (date(2025, 6, 30), 2, date(2023, 6, 30)),
    ],
)
def test_years_before(day: date, years: int, expected: date) -> None:
    assert years_before(day, years) == expected


# Sizes --------------------------------------------------------------------------------------


def ids(n: int, stem: str = "T") -> list[str]:
    return [f"{stem}{i}" for i in range(n)]


@pytest.mark.parametrize(
    ("ratio", "size", "k"),
    [
        ("2.5", 3, 1),  # 0.075 -> 1
        ("5", 20, 1),  # exactly 1
        ("5", 21, 2),  # 1.05 -> 2
        ("0.1", 1000, 1),  # exactly 1 (no binary-float surprise)
        ("0.1", 1001, 2),
        ("33.3", 3, 1),  # 0.999 -> 1
        ("100", 7, 7),
    ],
)
def test_k_is_the_ceiling_of_the_ratio(ratio: str, size: int, k: int) -> None:
    assert sizes(rules(ratios={"B": ratio}), {"B": ids(size)}) == {"B": k}


def test_each_class_has_its_own_ratio() -> None:
    plan = rules(ratios={"A": "1", "B": "3", "C": "10", "D": "30"})
    strata = {"A": ids(150), "B": ids(100), "C": ids(25), "D": ids(4)}
    assert sizes(plan, strata) == {"A": 2, "B": 3, "C": 3, "D": 2}


def test_minimum_per_stratum_is_capped_at_its_size() -> None:
    plan = rules(ratios={"B": "1", "C": "50"}, minimum=3)
    assert sizes(plan, {"B": ids(10), "C": ids(10)}) == {"B": 3, "C": 5}
    assert sizes(plan, {"B": ids(2)}) == {"B": 2}


def test_fixed_count() -> None:
    assert sizes(rules(fixed_count=3), {"all": ids(5)}) == {"all": 3}
    assert sizes(rules(fixed_count=5), {"all": ids(5)}) == {"all": 5}


def test_fixed_count_larger_than_the_population_is_refused_in_both_languages() -> None:
    with pytest.raises(ValidationError) as caught:
        sizes(rules(fixed_count=6), {"all": ids(5)})
    assert "6" in caught.value.zh and "5" in caught.value.zh and "抽取数量" in caught.value.zh
    assert "fixed count 6" in caught.value.en and "population 5" in caught.value.en


def test_fixed_count_counts_both_coverage_parts() -> None:
    plan = rules(fixed_count=4, priority_uncovered=True)
    assert sizes(plan, {"all:priority": ids(2, "P"), "all:rest": ids(3, "R")}) == {
        "all:priority": 2,
        "all:rest": 2,
    }
    with pytest.raises(ValidationError):
        sizes(
            rules(fixed_count=6, priority_uncovered=True),
            {"all:priority": ids(2), "all:rest": ids(3)},
        )


def test_priority_part_is_taken_first() -> None:
    plan = rules(ratios={"B": "50"}, priority_uncovered=True)
    # k = ceil(6 x 50%) = 3 per class; the not-yet-covered part gives what it has first
    assert sizes(plan, {"B:priority": ids(2, "P"), "B:rest": ids(4, "R")}) == {
        "B:priority": 2,
        "B:rest": 1,
    }
    assert sizes(plan, {"B:priority": ids(5, "P"), "B:rest": ids(1, "R")}) == {
        "B:priority": 3,
        "B:rest": 0,
    }


def test_priority_split_with_one_part_only() -> None:
    plan = rules(ratios={"B": "50", "C": "50"}, priority_uncovered=True)
    assert sizes(plan, {"B:rest": ids(4), "C:priority": ids(3)}) == {"B:rest": 2, "C:priority": 2}


def test_priority_split_uses_the_minimum_of_the_whole_class() -> None:
    plan = rules(ratios={"B": "1"}, minimum=3, priority_uncovered=True)
    assert sizes(plan, {"B:priority": ids(1, "P"), "B:rest": ids(9, "R")}) == {
        "B:priority": 1,
        "B:rest": 2,
    }


def test_no_strata_no_sizes() -> None:
    assert sizes(rules(), {}) == {}

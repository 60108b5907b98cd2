"""Inspector teams: pools, conflicts, feasibility, team picks and replacements, by hand.

Rankings are the reference sampler's order under the team (or expert) seed; a few are pinned
below as known answers, and the expected teams are read off them by the rules in the module
docstring of `ssj.draw.teams`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pytest

from ssj.domain.inspectors import InspectorRecord
from ssj.draw import teams
from ssj.draw.registry_view import TargetRow
from ssj.draw.sampler import ranked
from ssj.draw.seed import expert_seed, team_seed
from ssj.draw.teams import Conflicts, Pools, Staffing, _pick, check_feasible
from ssj.errors import ConflictError

LEAD, PARTNER, OTHER = "D1", "D2", "D9"
DAY = date(2025, 6, 30)
WINDOW = (date(2025, 7, 1), date(2025, 9, 30))
SEED = "ab" * 32
L = ["L1", "L2", "L3", "L4"]
C = ["C1", "C2", "C3", "C4"]
E = ["E1", "E2", "E3", "E4"]
NOT_OWN = {"not_own_district": True}


def person(
    certificate_no: str,
    department: str = LEAD,
    *,
    pool: str = "inspector",
    specialties: Sequence[str] = (),
    valid_from: str = "2020-01-01",
    valid_to: str = "2030-12-31",
    status: str = "active",
    leave: tuple[str, str] | None = None,
    home: str | None = None,
) -> dict[str, Any]:
    """An inspector's recorded state, as the registry projection holds it."""
    raw: dict[str, Any] = {
        "certificate_no": certificate_no,
        "name": f"姓名{certificate_no}",
        "department": department,
        "pool": pool,
        "specialties": list(specialties),
        "certificate_valid_from": valid_from,
        "certificate_valid_to": valid_to,
        "status": status,
        "home_region_code": home,
    }
    if leave is not None:
        raw["leave_from"], raw["leave_to"] = leave
    return InspectorRecord.parse(raw).as_state()


def target(identifier: str, region_code: str = "310101") -> TargetRow:
    return TargetRow(identifier, LEAD, "active", "enterprise", region_code, "B")


def declaration(
    certificate_no: str,
    target_identifier: str,
    valid_from: str = "2025-01-01",
    valid_to: str | None = None,
    relation: str = "kinship",
) -> dict[str, Any]:
    return {
        "certificate_no": certificate_no,
        "target_identifier": target_identifier,
        "relation": relation,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "reason": "申报",
        "withdrawn": False,
    }


def make_pools(
    inspectors: Sequence[dict[str, Any]],
    departments: Sequence[str] = (LEAD,),
    specialties: Mapping[str, Sequence[str]] | None = None,
    with_experts: bool = True,
) -> Pools:
    return teams.pools(departments, specialties or {}, WINDOW, inspectors, with_experts)


def staff(
    inspectors: Sequence[dict[str, Any]],
    departments: Sequence[str] = (LEAD,),
    *,
    team_size: int = 2,
    experts: int = 0,
    declarations: Sequence[dict[str, Any]] = (),
    rules: Mapping[str, Mapping[str, Any]] | None = None,
    workload_cap: int | None = None,
    loads: Mapping[str, int] | None = None,
) -> Staffing:
    pools = make_pools(inspectors, departments)
    conflicts = Conflicts.of(DAY, declarations, rules or {}, pools.states)
    return Staffing(
        SEED,
        pools,
        conflicts,
        departments,
        team_size,
        experts,
        workload_cap,
        Counter(loads or {}),
    )


def lead(*certificates: str) -> list[dict[str, Any]]:
    return [person(c) for c in certificates]


def joint() -> list[dict[str, Any]]:
    return [person(c) for c in L] + [person(c, PARTNER) for c in C]


def experts_pool() -> list[dict[str, Any]]:
    return [person(c, OTHER, pool="expert") for c in E]


# Known rankings (pinned: the reference sampler's order under SEED) ------------------------------


def test_pinned_rankings() -> None:
    assert ranked(team_seed(SEED, "T1"), L + C) == ["C2", "C3", "L1", "L2", "C1", "L3", "C4", "L4"]
    assert ranked(team_seed(SEED, "T2"), L + C) == ["L2", "L1", "C1", "C4", "C3", "L4", "C2", "L3"]
    assert ranked(team_seed(SEED, "T3"), L) == ["L3", "L2", "L4", "L1"]
    assert ranked(expert_seed(SEED, "T2"), E) == ["E4", "E1", "E2", "E3"]


# Pools --------------------------------------------------------------------------------------


def test_certificate_must_cover_the_whole_window() -> None:
    pools = make_pools(
        [
            person("EXACT", valid_from="2025-07-01", valid_to="2025-09-30"),
            person("ENDS_EARLY", valid_to="2025-09-29"),
            person("STARTS_LATE", valid_from="2025-07-02"),
            person("EXPIRED", valid_to="2025-06-30"),
        ]
    )
    assert pools.inspectors == {LEAD: ["EXACT"]}


@pytest.mark.parametrize("status", ["suspended", "transferred", "retired"])
def test_inactive_inspectors_are_left_out(status: str) -> None:
    assert make_pools([person("X", status=status), person("OK")]).inspectors == {LEAD: ["OK"]}


@pytest.mark.parametrize(
    ("leave", "in_pool"),
    [
        (("2025-06-01", "2025-06-30"), True),  # over before the window
        (("2025-10-01", "2025-10-31"), True),  # starts after it
        (("2025-06-20", "2025-07-01"), False),  # covers the first day
        (("2025-09-30", "2025-10-10"), False),  # covers the last day
        (("2025-06-01", "2025-10-31"), False),  # covers all of it
    ],
)
def test_on_leave_at_either_end_is_left_out(leave: tuple[str, str], in_pool: bool) -> None:
    pools = make_pools([person("X", status="on_leave", leave=leave)])
    assert pools.inspectors == {LEAD: ["X"] if in_pool else []}


def test_on_leave_inside_the_window_is_left_out() -> None:
    pools = make_pools([person("X", status="on_leave", leave=("2025-08-01", "2025-08-10"))])
    assert pools.inspectors == {LEAD: []}


def test_inspectors_need_every_specialty_of_their_departments_items() -> None:
    inspectors = [
        person("ALL", specialties=["food", "cold-chain", "extra"]),
        person("SOME", specialties=["food"]),
        person("NONE"),
        person("P_DRUG", PARTNER, specialties=["drug"]),
        person("P_FOOD", PARTNER, specialties=["food"]),
    ]
    needed = {LEAD: ["food", "cold-chain"], PARTNER: ["drug"]}
    pools = make_pools(inspectors, (LEAD, PARTNER), needed)
    assert pools.inspectors == {LEAD: ["ALL"], PARTNER: ["P_DRUG"]}


def test_no_specialty_required_admits_every_inspector_of_the_department() -> None:
    pools = make_pools(lead("B", "A", "C"))
    assert pools.inspectors == {LEAD: ["A", "B", "C"]}  # sorted


def test_experts_need_any_required_specialty_of_any_department() -> None:
    inspectors = [
        person("EX_FOOD", OTHER, pool="expert", specialties=["food"]),
        person("EX_DRUG", LEAD, pool="expert", specialties=["drug", "x"]),
        person("EX_X", pool="expert", specialties=["x"]),
        person("EX_NONE", pool="expert"),
    ]
    needed = {LEAD: ["food", "cold-chain"], PARTNER: ["drug"]}
    pools = make_pools(inspectors, (LEAD, PARTNER), needed)
    assert pools.experts == ["EX_DRUG", "EX_FOOD"]
    assert pools.inspectors == {LEAD: [], PARTNER: []}


def test_any_expert_when_no_specialty_is_required() -> None:
    inspectors = [
        person("EX_B", OTHER, pool="expert", specialties=["x"]),
        person("EX_A", pool="expert"),
        person("EX_OLD", pool="expert", valid_to="2025-08-01"),
    ]
    assert make_pools(inspectors).experts == ["EX_A", "EX_B"]


def test_no_experts_unless_the_plan_asks_for_them() -> None:
    pools = make_pools([*lead("L1"), *experts_pool()], with_experts=False)
    assert pools.experts == [] and set(pools.states) == {"L1"}


def test_other_departments_inspectors_are_ignored() -> None:
    pools = make_pools([person("MINE"), person("THEIRS", OTHER), person("P1", PARTNER)])
    assert pools.inspectors == {LEAD: ["MINE"]}
    assert set(pools.states) == {"MINE"}
    assert pools.department_of == {"MINE": LEAD}


def test_states_hold_exactly_the_pool_members() -> None:
    inspectors = [*joint(), *experts_pool(), person("OUT", valid_to="2025-07-15")]
    pools = make_pools(inspectors, (LEAD, PARTNER))
    assert set(pools.states) == set(L + C + E)
    assert pools.department_of == {**dict.fromkeys(L, LEAD), **dict.fromkeys(C, PARTNER)}


# Conflicts ----------------------------------------------------------------------------------


def conflicts_of(
    inspectors: Sequence[dict[str, Any]],
    declarations: Sequence[dict[str, Any]] = (),
    rules: Mapping[str, Mapping[str, Any]] | None = None,
    departments: Sequence[str] = (LEAD,),
) -> Conflicts:
    pools = make_pools(inspectors, departments)
    return Conflicts.of(DAY, declarations, rules or {}, pools.states)


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "barred"),
    [
        ("2025-01-01", None, True),
        ("2025-06-30", "2025-06-30", True),  # both ends inclusive
        ("2025-07-01", None, False),  # not yet in force on the draw day
        ("2024-01-01", "2025-06-29", False),  # lapsed
    ],
)
def test_declarations_bar_within_their_validity(
    valid_from: str, valid_to: str | None, barred: bool
) -> None:
    conflicts = conflicts_of(lead("L1", "L2"), [declaration("L1", "T1", valid_from, valid_to)])
    assert conflicts.barred(target("T1"), conflicts.own_district()) == ({"L1"} if barred else set())


def test_a_declaration_bars_from_its_target_only() -> None:
    conflicts = conflicts_of(lead("L1", "L2"), [declaration("L1", "T1")])
    own = conflicts.own_district()
    assert conflicts.barred(target("T1"), own) == {"L1"}
    assert conflicts.barred(target("T2"), own) == set()


def test_declarations_of_people_outside_the_pools_are_dropped() -> None:
    conflicts = conflicts_of(lead("L1"), [declaration("GONE", "T1"), declaration("L1", "T2")])
    assert conflicts.declarations == {"T2": [declaration("L1", "T2")]}


def test_past_employment_bars_for_the_departments_years() -> None:
    ended = declaration("L1", "T1", "2015-01-01", "2023-12-31", relation="employment")
    with_rule = conflicts_of(lead("L1"), [ended], {LEAD: {"employment_within_years": 3}})
    assert with_rule.barred(target("T1"), {}) == {"L1"}
    without = conflicts_of(lead("L1"), [ended])
    assert without.barred(target("T1"), {}) == set()


def test_own_district_rule_bars_by_home_region() -> None:
    inspectors = [
        person("L1", home="310101"),
        person("L2", home="320101"),
        person("L3"),
        person("C1", PARTNER, home="310101"),  # their department has no such rule
        person("EX", OTHER, pool="expert", home="310101"),
    ]
    conflicts = conflicts_of(inspectors, rules={LEAD: NOT_OWN}, departments=(LEAD, PARTNER))
    own = conflicts.own_district()
    assert own == {"310101": {"L1"}, "320101": {"L2"}}
    assert conflicts.barred(target("T1", "310101"), own) == {"L1"}
    assert conflicts.barred(target("T2", "320101"), own) == {"L2"}
    assert conflicts.barred(target("T3", "330101"), own) == set()


def test_own_district_rule_applies_to_experts_of_departments_that_set_it() -> None:
    inspectors = [person("EX", OTHER, pool="expert", home="310101")]
    conflicts = conflicts_of(inspectors, rules={OTHER: NOT_OWN})
    assert conflicts.barred(target("T1", "310101"), conflicts.own_district()) == {"EX"}


def test_declarations_and_own_district_add_up() -> None:
    inspectors = [person("L1", home="310101"), person("L2"), person("L3")]
    conflicts = conflicts_of(inspectors, [declaration("L2", "T1")], {LEAD: NOT_OWN})
    assert conflicts.barred(target("T1", "310101"), conflicts.own_district()) == {"L1", "L2"}


# Feasibility --------------------------------------------------------------------------------


def feasible(
    inspectors: Sequence[dict[str, Any]],
    targets: Sequence[TargetRow],
    *,
    departments: Sequence[str] = (LEAD,),
    declarations: Sequence[dict[str, Any]] = (),
    rules: Mapping[str, Mapping[str, Any]] | None = None,
    team_size: int = 2,
    experts: int = 0,
) -> list[str]:
    pools = make_pools(inspectors, departments)
    conflicts = Conflicts.of(DAY, declarations, rules or {}, pools.states)
    return check_feasible(pools, targets, conflicts, team_size, experts)


def test_feasible_pool_has_no_problems() -> None:
    assert feasible(lead("L1", "L2"), [target("T1")]) == []
    assert feasible([*joint(), *experts_pool()], [target("T1")], departments=(LEAD, PARTNER)) == []


def test_empty_department_pool_is_a_problem() -> None:
    problems = feasible(lead("L1", "L2"), [target("T1")], departments=(LEAD, PARTNER))
    assert len(problems) == 1
    assert f"部门 {PARTNER}" in problems[0] and f"no eligible inspector in {PARTNER}" in problems[0]


def test_too_few_inspectors_is_a_problem() -> None:
    problems = feasible(lead("L1", "L2"), [target("T1")], team_size=3)
    assert problems == [
        "符合条件的执法检查人员仅 2 人，少于每组 3 人 / only 2 eligible inspectors for teams of 3"
    ]


def test_too_few_experts_is_a_problem() -> None:
    problems = feasible([*lead("L1", "L2"), *experts_pool()[:1]], [target("T1")], experts=2)
    assert problems == [
        "符合条件的专家仅 1 人，少于每组 2 人 / only 1 eligible experts for 2 per team"
    ]


def test_pool_problems_are_all_reported() -> None:
    problems = feasible([], [target("T1")], experts=1)
    assert len(problems) == 3


def test_a_declaration_leaving_a_target_without_a_team_is_a_problem() -> None:
    problems = feasible(
        lead("L1", "L2", "L3"),
        [target("T1"), target("T2"), target("T3")],
        declarations=[declaration("L1", "T1"), declaration("L2", "T1"), declaration("L1", "T2")],
    )
    assert len(problems) == 1
    assert problems[0].startswith("1 个检查对象因利害关系回避后无法组成合法检查组：T1 / ")
    assert problems[0].endswith("1 targets would have no lawful team after conflicts")


def test_own_district_leaving_a_region_without_a_team_is_a_problem() -> None:
    inspectors = [person("L1", home="310101"), person("L2", home="310101"), person("L3")]
    targets = [target("T1", "310101"), target("T2", "320101"), target("T3", "310101")]
    problems = feasible(inspectors, targets, rules={LEAD: NOT_OWN})
    assert len(problems) == 1 and "无法组成合法检查组：T1、T3 /" in problems[0]
    assert "2 targets" in problems[0]


def test_joint_plan_needs_someone_of_every_department_after_conflicts() -> None:
    inspectors = [*lead("L1", "L2", "L3"), person("C1", PARTNER)]
    problems = feasible(
        inspectors,
        [target("T1"), target("T2")],
        departments=(LEAD, PARTNER),
        declarations=[declaration("C1", "T2")],
    )
    assert len(problems) == 1 and "：T2 /" in problems[0]


def test_experts_barred_by_conflicts_leave_a_target_short() -> None:
    inspectors = [*lead("L1", "L2"), *experts_pool()[:2]]
    problems = feasible(
        inspectors,
        [target("T1"), target("T2")],
        declarations=[declaration("E1", "T1"), declaration("E2", "T2")],
        experts=2,
    )
    assert len(problems) == 1 and "T1、T2" in problems[0]


def test_long_lists_of_short_targets_are_abbreviated() -> None:
    targets = [target(f"T{i:02d}", "310101") for i in range(12)]
    inspectors = [person("L1", home="310101"), person("L2")]
    problems = feasible(inspectors, targets, rules={LEAD: NOT_OWN})
    shown = "、".join(f"T{i:02d}" for i in range(10))
    assert f"12 个检查对象因利害关系回避后无法组成合法检查组：{shown} 等 /" in problems[0]


# _pick ----------------------------------------------------------------------------------------

DEPARTMENT_OF = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"}


@pytest.mark.parametrize(
    ("ranking", "departments", "size", "full", "team"),
    [
        (["a1", "a2", "b1", "a3"], ["A"], 2, [], ["a1", "a2"]),
        (["a1", "a2", "b1", "a3"], ["A", "B"], 2, [], ["a1", "b1"]),
        (["a1", "a2", "b1", "a3"], ["A", "B"], 3, [], ["a1", "a2", "b1"]),
        (["b2", "a1", "b1", "a2"], ["A", "B"], 3, [], ["b2", "a1", "b1"]),
        (["a1", "a2", "b1", "a3"], ["A", "B"], 2, ["a1"], ["a2", "b1"]),
        (["a1", "a2", "b1", "a3"], ["A"], 2, ["a2"], ["a1", "b1"]),
        (["a1", "a2", "b1", "a3"], ["A", "B"], 2, ["b1"], None),  # no B left
        (["a1", "a2", "a3"], ["A", "B"], 2, [], None),  # B not in the prefix
        (["a1", "b1"], ["A"], 3, [], None),  # too short
        (["a1", "a2", "b1"], ["A"], 2, ["a1", "a2"], None),  # every A member is full
    ],
)
def test_pick(
    ranking: list[str],
    departments: list[str],
    size: int,
    full: list[str],
    team: list[str] | None,
) -> None:
    picked = _pick(ranking, DEPARTMENT_OF, departments, size, Counter(dict.fromkeys(full, 1)))
    assert picked == team


# Staffing.team ------------------------------------------------------------------------------


def test_team_is_the_best_ranked_pair() -> None:
    s = staff(lead(*L))
    assert s.team(target("T2")) == {"inspectors": ["L2", "L1"], "experts": []}
    assert s.team(target("T3")) == {"inspectors": ["L3", "L2"], "experts": []}


@pytest.mark.parametrize("size", [2, 3, 4])
def test_team_size_and_distinct_members(size: int) -> None:
    s = staff(lead(*L, "L5", "L6"), team_size=size)
    for i in range(20):
        members = s.team(target(f"T{i}"))["inspectors"]
        assert len(members) == size == len(set(members))
        ranking = ranked(team_seed(SEED, f"T{i}"), [*L, "L5", "L6"])
        assert members == ranking[:size]


def test_joint_team_takes_one_from_each_department_first() -> None:
    # T2 ranks L2, L1, C1, ...: the lead's second-best yields to the partner's best
    s = staff(joint(), (LEAD, PARTNER))
    assert s.team(target("T2"))["inspectors"] == ["L2", "C1"]
    # T1 ranks C2, C3, L1, ...
    assert s.team(target("T1"))["inspectors"] == ["C2", "L1"]


def test_joint_team_fills_the_rest_by_rank_in_rank_order() -> None:
    s = staff(joint(), (LEAD, PARTNER), team_size=3)
    assert s.team(target("T2"))["inspectors"] == ["L2", "L1", "C1"]
    assert s.team(target("T1"))["inspectors"] == ["C2", "C3", "L1"]


def test_joint_team_beyond_the_fast_prefix() -> None:
    """T5 ranks the partner's only inspector 10th of 11, past the prefix of 8 tried first."""
    many = [f"L{i:02d}" for i in range(1, 11)]
    ranking = ranked(team_seed(SEED, "T5"), [*many, "C1"])
    assert ranking.index("C1") == 9
    s = staff([*lead(*many), person("C1", PARTNER)], (LEAD, PARTNER))
    assert s.team(target("T5"))["inspectors"] == [ranking[0], "C1"]


def test_teams_avoid_conflicts() -> None:
    s = staff(lead(*L), declarations=[declaration("L2", "T2")])
    assert s.team(target("T2"))["inspectors"] == ["L1", "L4"]
    assert s.team(target("T3"))["inspectors"] == ["L3", "L2"]


def test_teams_avoid_own_district() -> None:
    inspectors = [person("L1"), person("L2", home="310101"), person("L3"), person("L4")]
    s = staff(inspectors, rules={LEAD: NOT_OWN})
    assert s.team(target("T2", "310101"))["inspectors"] == ["L1", "L4"]
    assert s.team(target("T2b", "320101"))["inspectors"] == ranked(team_seed(SEED, "T2b"), L)[:2]


def test_experts_are_ranked_under_their_own_seed() -> None:
    s = staff([*lead(*L), *experts_pool()], experts=2)
    assert s.team(target("T2")) == {"inspectors": ["L2", "L1"], "experts": ["E4", "E1"]}
    s = staff([*lead(*L), *experts_pool()], experts=1, declarations=[declaration("E4", "T2")])
    assert s.team(target("T2"))["experts"] == ["E1"]


def test_team_equals_the_ranking_of_the_lawful_candidates() -> None:
    declarations = [declaration("L3", "T7"), declaration("C2", "T7")]
    s = staff(joint(), (LEAD, PARTNER), team_size=3, declarations=declarations)
    eligible = [c for c in L + C if c not in ("L3", "C2")]
    ranking = ranked(team_seed(SEED, "T7"), eligible)
    first_l = next(c for c in ranking if c.startswith("L"))
    first_c = next(c for c in ranking if c.startswith("C"))
    third = next(c for c in ranking if c not in (first_l, first_c))
    expected = sorted({first_l, first_c, third}, key=ranking.index)
    assert s.team(target("T7"))["inspectors"] == expected


def test_workload_cap_skips_full_inspectors() -> None:
    s = staff(lead(*L), workload_cap=1, loads={"L2": 1})
    assert s.team(target("T2"))["inspectors"] == ["L1", "L4"]
    assert s.loads == Counter({"L2": 1, "L1": 1, "L4": 1})


def test_loads_count_only_under_a_cap() -> None:
    s = staff(lead(*L), loads={"L2": 5})
    assert s.team(target("T2"))["inspectors"] == ["L2", "L1"]


def test_workload_cap_exhausted_raises() -> None:
    s = staff(lead("L1", "L2", "L3"), workload_cap=1)
    assert s.team(target("T2"))["inspectors"] == ["L2", "L1"]
    with pytest.raises(ConflictError) as caught:
        s.team(target("T3"))  # ranks L3, L2, L1: only L3 is free
    assert "T3" in caught.value.zh and "no lawful team for T3" in caught.value.en


def test_joint_workload_cap_exhausted_in_one_department_raises() -> None:
    s = staff([*lead("L1", "L2"), person("C1", PARTNER)], (LEAD, PARTNER), workload_cap=1)
    s.team(target("T2"))
    with pytest.raises(ConflictError):
        s.team(target("T3"))


def test_no_candidates_raises() -> None:
    s = staff(lead("L1", "L2"), declarations=[declaration("L1", "T1")])
    with pytest.raises(ConflictError):
        s.team(target("T1"))


# Staffing.replacement -----------------------------------------------------------------------


def test_replacement_is_the_next_ranked_of_the_department() -> None:
    s = staff(lead(*L))  # T2 ranks L2, L1, L4, L3
    team = s.team(target("T2"))["inspectors"]
    assert team == ["L2", "L1"]
    assert s.replacement(target("T2"), team, "L2") == "L4"
    assert s.replacement(target("T2"), team, "L1") == "L4"


def test_replacement_skips_earlier_leavers() -> None:
    s = staff(lead(*L))
    t = target("T2")
    assert s.replacement(t, ["L2", "L1"], "L2") == "L4"  # team now L4, L1
    assert s.replacement(t, ["L2", "L1", "L4"], "L1") == "L3"  # team now L4, L3
    with pytest.raises(ConflictError) as caught:
        s.replacement(t, ["L2", "L1", "L4", "L3"], "L4")
    assert "T2" in caught.value.zh and caught.value.en == "no replacement left for T2"


def test_replacement_in_a_joint_team_stays_in_the_department() -> None:
    s = staff(joint(), (LEAD, PARTNER))  # T2 ranks L2, L1, C1, C4, C3, L4, C2, L3
    team = s.team(target("T2"))["inspectors"]
    assert team == ["L2", "C1"]
    assert s.replacement(target("T2"), team, "C1") == "C4"
    assert s.replacement(target("T2"), team, "L2") == "L1"
    assert s.replacement(target("T2"), [*team, "C4", "C3"], "C3") == "C2"


def test_replacement_skips_the_conflicted_and_the_full() -> None:
    s = staff(lead(*L), declarations=[declaration("L4", "T2")])
    assert s.replacement(target("T2"), ["L2", "L1"], "L2") == "L3"
    s = staff(lead(*L), workload_cap=1, loads={"L4": 1})
    team = s.team(target("T2"))["inspectors"]
    assert team == ["L2", "L1"]
    assert s.replacement(target("T2"), team, "L2") == "L3"


def test_expert_replacement_is_the_next_ranked_expert() -> None:
    s = staff([*lead(*L), *experts_pool()], experts=1)  # T2's experts rank E4, E1, E2, E3
    team = s.team(target("T2"))
    assert team["experts"] == ["E4"]
    members = [*team["inspectors"], *team["experts"]]
    assert s.replacement(target("T2"), members, "E4") == "E1"
    assert s.replacement(target("T2"), [*members, "E1"], "E1") == "E2"


def test_expert_replacement_skips_current_experts() -> None:
    s = staff([*lead(*L), *experts_pool()], experts=2)
    team = s.team(target("T2"))
    assert team["experts"] == ["E4", "E1"]
    members = [*team["inspectors"], *team["experts"]]
    assert s.replacement(target("T2"), members, "E1") == "E2"
    assert s.replacement(target("T2"), members, "E4") == "E2"


@pytest.mark.parametrize(
    ("departments", "workload_cap", "experts"),
    [((LEAD,), None, 0), ((LEAD,), None, 1), ((LEAD,), 7, 0), ((LEAD, PARTNER), None, 1)],
)
def test_teams_at_once_equal_teams_one_by_one(
    departments: tuple[str, ...], workload_cap: int | None, experts: int
) -> None:
    """`teams` (with its shortcut for one department without a cap) assigns what `team`
    assigns target by target, loads included."""
    people = [*joint(), *experts_pool()]
    targets = [target(f"T{i:03d}") for i in range(12)]
    at_once = staff(people, departments, experts=experts, workload_cap=workload_cap)
    one_by_one = staff(people, departments, experts=experts, workload_cap=workload_cap)
    try:
        expected = {t.identifier: one_by_one.team(t) for t in targets}
    except ConflictError:
        with pytest.raises(ConflictError):
            at_once.teams(targets)
        return
    assert at_once.teams(targets) == expected
    assert at_once.loads == one_by_one.loads

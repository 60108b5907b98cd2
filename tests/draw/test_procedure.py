"""`freeze` and `select` on a tiny hand-built registry view: the facts a commit records, and an
outcome anyone can reproduce with the reference `consistent_sampler` package."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from typing import Any

import consistent_sampler as reference
import pytest

from ssj.domain.inspectors import InspectorRecord
from ssj.domain.plans import Plan, PlanRecord
from ssj.draw import procedure
from ssj.draw.population import population_root
from ssj.draw.procedure import RULE_KEYS, PlanView, freeze, select
from ssj.draw.registry_view import RegistryView, TargetRow, TaskRow
from ssj.draw.sampler import ranked
from ssj.draw.seed import stratum_seed, team_seed
from ssj.errors import ValidationError

LEAD, PARTNER = "D1", "D2"
DAY = date(2025, 6, 30)
SEED = "5e" * 32
NONCE_COMMITMENT = "cc" * 32
ENTROPY = {"witnesses": ["张三"], "min_dice_digits": 20, "drand": None}
INSPECTORS = ["L1", "L2", "L3", "L4", "L5", "L6"]
A_IDS = ["A3", "A1", "A2"]  # registry order is not canonical order
B_IDS = [f"B{i:02d}" for i in range(40, 0, -1)]


def raw_plan(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "code": "P1",
        "department": LEAD,
        "title": "计划",
        "year": 2025,
        "items": ["I1"],
        "target_types": ["enterprise"],
        "ratios": {"A": "50", "B": "10"},
        "exclusion_days": 0,
        "window_start": "2025-07-01",
        "window_end": "2025-09-30",
    }
    raw.update(changes)
    return raw


def plan_view(**changes: Any) -> PlanView:
    state = PlanRecord.parse(raw_plan(**changes)).as_state()
    items = {LEAD: list(state["items"]), **state["cooperating"]}
    return PlanView(
        plan_id="plan-1",
        department=LEAD,
        code="P1",
        version=5,
        year=state["year"],
        departments=tuple(items),
        items=items,
        rules={k: state[k] for k in RULE_KEYS},
        window=(state["window_start"], state["window_end"]),
    )


def person(certificate_no: str, department: str = LEAD, **more: Any) -> dict[str, Any]:
    raw = {
        "certificate_no": certificate_no,
        "name": certificate_no,
        "department": department,
        "certificate_valid_from": "2020-01-01",
        "certificate_valid_to": "2030-12-31",
        **more,
    }
    return InspectorRecord.parse(raw).as_state()


def row(identifier: str, credit_class: str, status: str = "active") -> TargetRow:
    return TargetRow(identifier, LEAD, status, "enterprise", "310101", credit_class)


def item(department: str, code: str, *specialties: str) -> dict[str, Any]:
    return {
        "department": department,
        "code": code,
        "required_specialties": list(specialties),
        "retired_reason": None,
    }


def registry_view() -> RegistryView:
    return RegistryView(
        seq=42,
        targets=[
            *(row(i, "A") for i in A_IDS),
            row("X1", "B", "deregistered"),
            *(row(i, "B") for i in B_IDS),
        ],
        tasks=[TaskRow("X1", "old-plan", (LEAD,), "2024-05-01", False, ("L1", "L2"))],
        inspectors=[person(c) for c in INSPECTORS] + [person("Z1", "D9")],
        items={(LEAD, "I1"): item(LEAD, "I1")},
    )


def frozen(plan: PlanView | None = None, snap: RegistryView | None = None) -> procedure.Frozen:
    return freeze(plan or plan_view(), 1, DAY, snap or registry_view(), ENTROPY, NONCE_COMMITMENT)


def ref_sample(ids: list[str], seed: str, k: int) -> list[str]:
    return list(reference.sampler(ids, seed, take=k, output="id"))


# freeze -------------------------------------------------------------------------------------


def test_frozen_strata_are_sorted_ids() -> None:
    assert frozen().strata == {"A": ["A1", "A2", "A3"], "B": sorted(B_IDS)}


def test_facts() -> None:
    facts = frozen().facts.as_dict()
    assert facts == {
        "algorithm": "ssj-draw/1",
        "sampler": procedure.SAMPLER,
        "plan": {"id": "plan-1", "department": LEAD, "code": "P1", "version": 5, "year": 2025},
        "round": 1,
        "drawn_on": "2025-06-30",
        "window": ["2025-07-01", "2025-09-30"],
        "as_of_seq": 42,
        "departments": [LEAD],
        "items": {LEAD: ["I1"]},
        "specialties": {LEAD: []},
        "rules": plan_view().rules,
        "registry": {"considered": 44, "eligible": 43},
        "exclusions": {"status:deregistered": 1},
        "strata": [
            # A: ceil(3 x 50%) = 2; B: ceil(40 x 10%) = 4
            {"name": "A", "size": 3, "k": 2, "root": population_root(["A1", "A2", "A3"])},
            {"name": "B", "size": 40, "k": 4, "root": population_root(sorted(B_IDS))},
        ],
        "pools": {
            "inspectors": {LEAD: {"size": 6, "root": population_root(INSPECTORS)}},
            "experts": {"size": 0, "root": population_root([])},
        },
        "entropy": ENTROPY,
        "nonce_commitment": NONCE_COMMITMENT,
    }


def test_stratum_root_is_rfc_9162_over_the_sorted_ids() -> None:
    """MTH of three leaves, by hand: H(0x01 || H(0x01 || h(A1) || h(A2)) || h(A3))."""

    def h(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    leaf = {i: h(b"\x00" + i.encode()) for i in ("A1", "A2", "A3")}
    expected = h(b"\x01" + h(b"\x01" + leaf["A1"] + leaf["A2"]) + leaf["A3"]).hex()
    assert frozen().facts.as_dict()["strata"][0]["root"] == expected


def test_registry_order_does_not_change_the_facts() -> None:
    snap = registry_view()
    shuffled = replace(snap, targets=snap.targets[::-1], inspectors=snap.inspectors[::-1])
    assert frozen(snap=shuffled).facts == frozen().facts


def test_window_starts_no_earlier_than_the_draw() -> None:
    facts = freeze(
        plan_view(), 2, date(2025, 8, 1), registry_view(), ENTROPY, NONCE_COMMITMENT
    ).facts.as_dict()
    assert facts["window"] == ["2025-08-01", "2025-09-30"] and facts["round"] == 2


def test_no_draw_after_the_window() -> None:
    with pytest.raises(ValidationError) as caught:
        freeze(plan_view(), 1, date(2025, 10, 1), registry_view(), ENTROPY, NONCE_COMMITMENT)
    assert "2025-09-30" in caught.value.zh and "no more draws" in caught.value.en


def test_joint_plan_facts() -> None:
    plan = plan_view(cooperating={PARTNER: ["J1"]}, experts=1)
    snap = registry_view()
    snap.items[(PARTNER, "J1")] = item(PARTNER, "J1", "drug", "food")
    snap.inspectors += [
        person("C1", PARTNER, specialties=["drug", "food"]),
        person("C2", PARTNER, specialties=["drug"]),
        person("EX1", "D9", pool="expert", specialties=["food"]),
        person("EX2", "D9", pool="expert", specialties=["x"]),
    ]
    facts = frozen(plan, snap).facts.as_dict()
    assert facts["departments"] == [LEAD, PARTNER]
    assert facts["items"] == {LEAD: ["I1"], PARTNER: ["J1"]}
    assert facts["specialties"] == {LEAD: [], PARTNER: ["drug", "food"]}
    assert facts["pools"] == {
        "inspectors": {
            LEAD: {"size": 6, "root": population_root(INSPECTORS)},
            PARTNER: {"size": 1, "root": population_root(["C1"])},
        },
        "experts": {"size": 1, "root": population_root(["EX1"])},
    }


def test_fixed_count_facts() -> None:
    facts = frozen(plan_view(ratios=None, fixed_count=5)).facts.as_dict()
    assert [(s["name"], s["size"], s["k"]) for s in facts["strata"]] == [("all", 43, 5)]


def test_priority_facts() -> None:
    snap = registry_view()
    snap.tasks.append(TaskRow("A1", "old-plan", (LEAD,), "2025-01-10", False))
    facts = frozen(plan_view(priority_uncovered=True), snap).facts.as_dict()
    # A: k = ceil(3 x 50%) = 2, both from the uncovered A2, A3; none from the covered A1
    assert [(s["name"], s["size"], s["k"]) for s in facts["strata"]] == [
        ("A:priority", 2, 2),
        ("A:rest", 1, 0),
        ("B:priority", 40, 4),
    ]


@pytest.mark.parametrize(
    ("change", "en"),
    [
        ({"items": ["NOPE"]}, "item D1/NOPE does not exist or is retired"),
        ({"target_types": ["project"]}, "no eligible target"),
        ({"ratios": None, "fixed_count": 44}, "fixed count 44 is larger"),
        ({"team_size": 7}, "only 6 eligible inspectors for teams of 7"),
        ({"experts": 1}, "only 0 eligible experts for 1 per team"),
        ({"cooperating": {PARTNER: ["I1"]}}, "item D2/I1 does not exist"),
    ],
)
def test_freeze_refuses(change: dict[str, Any], en: str) -> None:
    with pytest.raises(ValidationError) as caught:
        frozen(plan_view(**change))
    assert en in caught.value.en


def test_retired_item_is_refused() -> None:
    snap = registry_view()
    snap.items[(LEAD, "I1")]["retired_reason"] = "废止"
    with pytest.raises(ValidationError, match="I1"):
        frozen(snap=snap)


def test_workload_capacity_counts_this_plans_tasks() -> None:
    # 6 targets x 2 places = 12 needed; a cap of 2 gives 12 places, less what the plan holds
    plan = plan_view(workload_cap=2)
    assert frozen(plan).facts.as_dict()["rules"]["workload_cap"] == 2
    snap = registry_view()
    snap.tasks.append(TaskRow("B40", "plan-1", (LEAD,), "2025-01-10", False, ("L1",)))
    with pytest.raises(ValidationError) as caught:
        frozen(plan, snap)
    assert "workload capacity 11 is below the 12 places needed" in caught.value.en


def test_infeasible_conflicts_are_refused() -> None:
    snap = registry_view()
    snap.declarations = [
        {
            "certificate_no": c,
            "target_identifier": "A1",
            "relation": "kinship",
            "valid_from": "2025-01-01",
            "valid_to": None,
            "reason": "r",
            "withdrawn": False,
        }
        for c in INSPECTORS[:5]
    ]
    with pytest.raises(ValidationError) as caught:
        frozen(snap=snap)
    assert "1 targets would have no lawful team" in caught.value.en
    assert "：A1" in caught.value.zh


# select -------------------------------------------------------------------------------------


def test_every_sample_is_the_reference_samplers() -> None:
    f = frozen()
    outcome = select(f.facts, f.strata, SEED, registry_view(), plan_view())
    assert [s["name"] for s in outcome["strata"]] == ["A", "B"]
    for s, fact in zip(outcome["strata"], f.facts.as_dict()["strata"], strict=True):
        assert s["seed"] == stratum_seed(SEED, s["name"]) == f"{SEED}/{s['name']}"
        assert s["sample"] == ref_sample(f.strata[s["name"]], s["seed"], fact["k"])
        assert len(s["sample"]) == fact["k"]


def test_teams_follow_the_sample_in_order() -> None:
    f = frozen()
    outcome = select(f.facts, f.strata, SEED, registry_view(), plan_view())
    order = [i for s in outcome["strata"] for i in s["sample"]]
    assert list(outcome["teams"]) == order
    for identifier, team in outcome["teams"].items():
        assert team == {
            "inspectors": ranked(team_seed(SEED, identifier), INSPECTORS)[:2],
            "experts": [],
        }


def test_select_is_deterministic() -> None:
    f = frozen()
    first = select(f.facts, f.strata, SEED, registry_view(), plan_view())
    again = frozen()
    assert select(again.facts, again.strata, SEED, registry_view(), plan_view()) == first
    snap = registry_view()
    shuffled = replace(snap, targets=snap.targets[::-1], inspectors=snap.inspectors[::-1])
    assert select(f.facts, f.strata, SEED, shuffled, plan_view()) == first


def test_another_seed_another_outcome() -> None:
    f = frozen()
    one = select(f.facts, f.strata, SEED, registry_view(), plan_view())
    other = select(f.facts, f.strata, "7a" * 32, registry_view(), plan_view())
    assert [s["sample"] for s in one["strata"]] != [s["sample"] for s in other["strata"]]


def test_select_respects_the_workload_cap() -> None:
    plan = plan_view(workload_cap=2)
    f = frozen(plan)
    outcome = select(f.facts, f.strata, SEED, registry_view(), plan)
    loads: dict[str, int] = {}
    for team in outcome["teams"].values():
        for c in team["inspectors"]:
            loads[c] = loads.get(c, 0) + 1
    assert sum(loads.values()) == 12 and max(loads.values()) <= 2


# PlanView.of --------------------------------------------------------------------------------


def test_plan_view_of_a_plan() -> None:
    plan = Plan.draft(PlanRecord.parse(raw_plan(cooperating={PARTNER: ["J1", "J2"]})))
    view = PlanView.of(plan)
    assert view.plan_id == str(plan.id) and view.version == plan.version
    assert view.departments == (LEAD, PARTNER)
    assert view.items == {LEAD: ["I1"], PARTNER: ["J1", "J2"]}
    assert set(view.rules) == set(RULE_KEYS)
    assert view.window == ("2025-07-01", "2025-09-30")

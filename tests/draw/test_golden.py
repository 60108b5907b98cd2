"""A draw gives the same commit facts, samples, teams, replacements and rankings as it always did.

The digests below were computed by the draw code as it stood before it was made faster (issue
#13), on a synthetic registry of 3,000 targets that exercises every rule: strata per credit
class split by coverage priority, exclusions for scope, status, open tasks, the exclusion window
and both caps, a joint plan with experts, declared conflicts, the own-district rule, a workload
cap that binds, earlier loads, and ids outside ASCII. Samples also match the reference
`consistent-sampler` (tests/draw/test_sampler.py); this pins everything built on them.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date
from typing import Any

import orjson

from ssj.domain.inspectors import InspectorRecord
from ssj.draw import procedure, sampler
from ssj.draw.procedure import PlanView
from ssj.draw.registry_view import RegistryView, TargetRow, TaskRow
from ssj.draw.seed import expert_seed, team_seed
from ssj.services.draws import replacement_for
from tests.draw.test_procedure import plan_view as procedure_plan_view

LEAD, PARTNER = "D1", "D2"
DAY = date(2025, 6, 30)
SEED = hashlib.sha256(b"ssj golden draw").hexdigest()
NONCE_COMMITMENT = "cc" * 32
ENTROPY = {"witnesses": ["张三", "李四"], "min_dice_digits": 20, "drand": None}
REGIONS = ("320402", "320404", "320411", "320412", "320481")
TARGETS = 3000

# Digests of the canonical JSON of (facts, strata), outcome, replacements and rankings.
GOLDEN = {
    "joint": {
        "facts": "30162ae4626535a8a132c8940952c130beb593c8d005c7c353a41f56cdf74a40",
        "outcome": "822d123a129f7429e8b4419a3570dbbd501f839e2f9730326e0be94cbf5a73b5",
        "recusals": "badb403dbd45d025ad584dc6bcc7f1ce681dd9ecf81e080854aee4bb1a8af2ce",
        "rankings": "b77c07679b30ff50a6ddd7b3f6cc52eeff2457aec392210363ec9c49f756591d",
    },
    "fixed": {
        "facts": "c4ef3439a2280c6e0717631af334579a25a0875c9830be5376a3142892dd9d3e",
        "outcome": "715c2a417941855035140aa44ffa92e7d20676b6a0796f6283347253031f8cc2",
        "recusals": "955f30056d368df25f4e74241df9c43552ebf0e763b20112065834d3fd134362",
        "rankings": "25533a0228a52a169240142503858f9f0431f249dcbf1a3d8d938f38dcd24af6",
    },
}


def digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def person(
    certificate_no: str, department: str, *, pool: str = "inspector", **more: Any
) -> dict[str, Any]:
    raw = {
        "certificate_no": certificate_no,
        "name": f"姓名{certificate_no}",
        "department": department,
        "pool": pool,
        "specialties": ["特种设备"],
        "certificate_valid_from": "2020-01-01",
        "certificate_valid_to": "2030-12-31",
        **more,
    }
    return InspectorRecord.parse(raw).as_state()


def registry() -> RegistryView:
    rng = random.Random(13)
    targets: list[TargetRow] = []
    for n in range(TARGETS):
        identifier = f"91320402MA{n:07d}X" if n % 97 else f"个体户{n:05d}é"  # NFC, as registered
        targets.append(
            TargetRow(
                identifier,
                LEAD if n % 13 else PARTNER,
                "active" if n % 41 else rng.choice(["deregistered", "abnormal"]),
                "enterprise" if n % 29 else "individual",
                rng.choice(REGIONS),
                rng.choice("AABBBBBBCD"),
                '["lift"]' if n % 3 else '["boiler"]',
            )
        )
    tasks: list[TaskRow] = []
    for n in range(0, TARGETS, 7):
        plan = "plan-1" if n % 10 == 1 else "old-plan"
        drawn_on = rng.choice(["2024-05-01", "2025-01-15", "2025-05-20", "2025-06-25"])
        members = (f"L{n % 20:02d}", f"P{n % 15:02d}")
        tasks.append(TaskRow(targets[n].identifier, plan, (LEAD,), drawn_on, n % 5 == 0, members))
        if n % 3 == 0:
            tasks.append(TaskRow(targets[n].identifier, "other", (PARTNER,), "2025-02-01", False))
    inspectors = [person(f"L{i:02d}", LEAD, home_region_code=REGIONS[i % 5]) for i in range(20)] + [
        person(f"P{i:02d}", PARTNER, home_region_code=REGIONS[i % 3]) for i in range(15)
    ]
    inspectors.append(
        person("L99", LEAD, status="on_leave", leave_from="2025-07-10", leave_to="2025-07-20")
    )
    inspectors += [person(f"E{i:02d}", LEAD, pool="expert") for i in range(8)]
    declarations = []
    for n in range(1, TARGETS, 17):
        declarations.append(
            {
                "certificate_no": rng.choice([f"L{n % 20:02d}", f"P{n % 15:02d}", "E03"]),
                "target_identifier": targets[n].identifier,
                "relation": "kinship",
                "valid_from": "2024-01-01",
                "valid_to": None,
                "reason": "申报",
                "withdrawn": False,
            }
        )
    items = {
        (LEAD, "I1"): {
            "department": LEAD,
            "code": "I1",
            "required_specialties": ["特种设备"],
            "retired_reason": None,
        },
        (PARTNER, "J1"): {
            "department": PARTNER,
            "code": "J1",
            "required_specialties": [],
            "retired_reason": None,
        },
    }
    return RegistryView(
        seq=4242,
        targets=targets,
        tasks=tasks,
        inspectors=inspectors,
        declarations=declarations,
        rules={LEAD: {"not_own_district": True}},
        items=items,
    )


def plan_view(**changes: Any) -> PlanView:
    """test_procedure's plan (D1, items I1, window July to September 2025) with the brief's
    ratios, both target types and a 30-day exclusion window, then `changes`."""
    defaults = {
        "target_types": ["enterprise", "individual"],
        "ratios": {"A": "1", "B": "3", "C": "10", "D": "30"},
        "exclusion_days": 30,
    }
    return procedure_plan_view(**{**defaults, **changes})


PLANS = {
    "joint": {
        "cooperating": {PARTNER: ["J1"]},
        "team_size": 3,
        "experts": 1,
        "workload_cap": 16,
        "priority_uncovered": True,
        "coverage_years": 2,
        "yearly_cap_department": 1,
        "yearly_cap_all": 2,
        "region_codes": ["3204"],
    },
    "fixed": {"fixed_count": 150, "ratios": None, "tags": ["lift"], "minimum": 2},
}


def outcome_of(name: str) -> dict[str, str]:
    """Digests of everything a draw under plan `name` computes on the golden registry."""
    view = registry()
    plan = plan_view(**PLANS[name])
    frozen = procedure.freeze(plan, 1, DAY, view, ENTROPY, NONCE_COMMITMENT)
    outcome = procedure.select(frozen.facts, frozen.strata, SEED, view, plan)
    drawn = list(outcome["teams"])
    recusals: list[dict[str, Any]] = []
    for target in drawn[::25]:
        leaving = outcome["teams"][target]["inspectors"][-1]
        replacement = replacement_for(
            frozen.facts, SEED, outcome, recusals, view, plan, target, leaving
        )
        recusals.append({"target": target, "certificate_no": leaving, "replacement": replacement})
    staff = procedure.staffing(frozen.facts, SEED, view, plan)
    rows = procedure.target_rows(view, drawn)
    rankings = {}
    for target in drawn[::10]:
        inspectors, experts = staff.candidates(rows[target])
        rankings[target] = [
            sampler.ranked(team_seed(SEED, target), inspectors),
            sampler.ranked(expert_seed(SEED, target), experts),
        ]
    return {
        "facts": digest([frozen.facts.as_dict(), frozen.strata]),
        "outcome": digest(outcome),
        "recusals": digest(recusals),
        "rankings": digest(rankings),
    }


def test_joint_draw_is_unchanged() -> None:
    assert outcome_of("joint") == GOLDEN["joint"]


def test_fixed_count_draw_is_unchanged() -> None:
    assert outcome_of("fixed") == GOLDEN["fixed"]

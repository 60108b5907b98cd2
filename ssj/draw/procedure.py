"""A draw from start to finish as two pure functions: `freeze` before the seed, `select` after.

`freeze` turns a plan and a registry view into the facts a commit records (strata with their
sizes, k and Merkle roots, exclusion counts, inspector pools, rules, entropy sources). `select`
turns those facts, the frozen strata and a seed into the sample and the teams. Committing,
revealing and verifying all call these same functions, so a verification is a re-run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ssj.draw import eligibility, population, sampler, teams
from ssj.draw import seed as seeds
from ssj.draw.facts import ALGORITHM, SAMPLER, DrawFacts, Entropy, PlanRef, Pool, Pools, Stratum
from ssj.draw.registry_view import RegistryView, TargetRow
from ssj.draw.sampler import Map
from ssj.errors import ValidationError

__all__ = ["ALGORITHM", "SAMPLER", "DrawFacts", "Frozen", "PlanView", "freeze", "select"]

Facts = DrawFacts | Mapping[str, Any]  # typed, or as stored (read with DrawFacts.of)
RULE_KEYS = (
    "target_types",
    "region_codes",
    "tags",
    "ratios",
    "fixed_count",
    "minimum",
    "team_size",
    "experts",
    "yearly_cap_department",
    "yearly_cap_all",
    "exclusion_days",
    "workload_cap",
    "priority_uncovered",
    "coverage_years",
)


@dataclass(frozen=True)
class PlanView:
    """What a draw takes from a plan at one version."""

    plan_id: str
    department: str
    code: str
    version: int
    year: int
    departments: tuple[str, ...]  # the lead first, then cooperating departments
    items: dict[str, list[str]]  # department -> item codes
    rules: dict[str, Any]
    window: tuple[str, str]

    @classmethod
    def of(cls, plan: Any) -> PlanView:
        state = plan.state
        items = {plan.department: list(state["items"])}
        items.update({d: list(codes) for d, codes in state.get("cooperating", {}).items()})
        return cls(
            plan_id=str(plan.id),
            department=plan.department,
            code=plan.code,
            version=int(plan.version),
            year=int(state["year"]),
            departments=tuple(items),
            items=items,
            rules={k: state.get(k) for k in RULE_KEYS},
            window=(state["window_start"], state["window_end"]),
        )


@dataclass
class Frozen:
    facts: DrawFacts
    strata: dict[str, list[str]]  # stratum -> ids in canonical (sorted) order


def specialties(plan: PlanView, registry: RegistryView) -> dict[str, list[str]]:
    """Per department, every specialty its items in the plan require (as of the registry)."""
    out: dict[str, list[str]] = {}
    for department, codes in plan.items.items():
        needed: set[str] = set()
        for code in codes:
            item = registry.items.get((department, code))
            if item is None or item.get("retired_reason"):
                raise ValidationError(
                    f"抽查事项 {department}/{code} 不存在或已废止",
                    f"item {department}/{code} does not exist or is retired",
                )
            needed.update(item.get("required_specialties") or ())
        out[department] = sorted(needed)
    return out


def inspection_window(plan: PlanView, drawn_on: date) -> tuple[date, date]:
    start, end = (date.fromisoformat(d) for d in plan.window)
    if drawn_on > end:
        raise ValidationError(
            f"计划检查期限已于 {end} 结束，不能再抽取",
            f"the plan's window ended on {end}: no more draws",
        )
    return max(start, drawn_on), end


def plan_loads(registry: RegistryView, plan_id: str) -> Counter[str]:
    """Tasks each inspector already holds under this plan (the workload cap counts these)."""
    loads: Counter[str] = Counter()
    for t in registry.tasks:
        if t.plan_id == plan_id:
            loads.update(t.members)
    return loads


def _pools(
    plan: PlanView, registry: RegistryView, drawn_on: date
) -> tuple[teams.Pools, teams.Conflicts]:
    window = inspection_window(plan, drawn_on)
    pools = teams.pools(
        plan.departments,
        specialties(plan, registry),
        window,
        registry.inspectors,
        with_experts=int(plan.rules["experts"] or 0) > 0,
    )
    conflicts = teams.Conflicts.of(drawn_on, registry.declarations, registry.rules, pools.states)
    return pools, conflicts


def freeze(
    plan: PlanView,
    round: int,
    drawn_on: date,
    registry: RegistryView,
    entropy: Entropy | Mapping[str, Any],
    nonce_commitment: str,
    run: Map = map,
) -> Frozen:
    """The commit's facts, or a ValidationError naming why no lawful draw is possible.
    `run` maps the Merkle hashing of large strata (the built-in map: here)."""
    window = inspection_window(plan, drawn_on)
    eligible = eligibility.population_of(
        plan.rules,
        plan.departments,
        plan.year,
        drawn_on,
        registry.target_groups(),
        registry.tasks,
    )
    ks = eligibility.sizes(plan.rules, eligible.strata)
    names = sorted(eligible.strata)
    strata = dict(
        zip(names, population.frozen_all([eligible.strata[n] for n in names], run), strict=True)
    )
    if not strata:
        raise ValidationError(
            "没有符合条件的检查对象，不能抽取", "no eligible target: nothing to draw"
        )
    pools, conflicts = _pools(plan, registry, drawn_on)
    team_size = int(plan.rules["team_size"])
    experts = int(plan.rules["experts"] or 0)
    problems = teams.check_feasible_groups(pools, eligible.groups, conflicts, team_size, experts)
    cap = plan.rules.get("workload_cap")
    if cap is not None:
        loads = plan_loads(registry, plan.plan_id)
        capacity = sum(max(0, int(cap) - loads[c]) for m in pools.inspectors.values() for c in m)
        needed = sum(ks.values()) * team_size
        if capacity < needed:
            problems.append(
                f"工作量上限下可用人次 {capacity} 少于所需 {needed} / "
                f"workload capacity {capacity} is below the {needed} places needed"
            )
    if problems:
        raise ValidationError("；".join(p.split(" / ")[0] for p in problems), "; ".join(problems))
    roots = population.population_roots(
        [*strata.values(), *pools.inspectors.values(), pools.experts], run
    )
    stratum_roots = dict(zip(strata, roots, strict=False))
    pool_roots = dict(zip(pools.inspectors, roots[len(strata) :], strict=False))
    facts = DrawFacts(
        plan=PlanRef(plan.plan_id, plan.department, plan.code, plan.version, plan.year),
        round=round,
        drawn_on=drawn_on.isoformat(),
        window=(window[0].isoformat(), window[1].isoformat()),
        as_of_seq=registry.seq,
        departments=tuple(plan.departments),
        items={d: tuple(codes) for d, codes in plan.items.items()},
        specialties={k: tuple(v) for k, v in specialties(plan, registry).items()},
        rules=plan.rules,
        considered=eligible.considered,
        eligible=sum(map(len, strata.values())),
        exclusions=dict(sorted(eligible.exclusions.items())),
        strata=tuple(
            Stratum(name, len(ids), ks[name], stratum_roots[name]) for name, ids in strata.items()
        ),
        pools=Pools(
            {d: Pool(len(m), pool_roots[d]) for d, m in pools.inspectors.items()},
            Pool(len(pools.experts), roots[-1]),
        ),
        entropy=entropy if isinstance(entropy, Entropy) else Entropy.of(dict(entropy)),
        nonce_commitment=nonce_commitment,
    )
    return Frozen(facts, strata)


def refreeze(
    plan: PlanView, round: int, facts: Facts, registry: RegistryView, run: Map = map
) -> Frozen:
    """`freeze` again with what a commit recorded (its date, entropy sources, commitment):
    equal facts prove the read registry is the one the commit froze."""
    facts = DrawFacts.of(facts)
    return freeze(
        plan,
        round,
        date.fromisoformat(facts.drawn_on),
        registry,
        facts.entropy,
        facts.nonce_commitment,
        run,
    )


def staffing(facts: Facts, seed: str, registry: RegistryView, plan: PlanView) -> teams.Staffing:
    facts = DrawFacts.of(facts)
    pools, conflicts = _pools(plan, registry, date.fromisoformat(facts.drawn_on))
    rules = facts.rules
    return teams.Staffing(
        seed,
        pools,
        conflicts,
        list(facts.departments),
        int(rules["team_size"]),
        int(rules["experts"] or 0),
        rules.get("workload_cap"),
        plan_loads(registry, plan.plan_id),
    )


def target_rows(registry: RegistryView, ids: Sequence[str]) -> dict[str, TargetRow]:
    return registry.target_rows(ids)


def select(
    facts: Facts,
    strata: Mapping[str, Sequence[str]],
    seed: str,
    registry: RegistryView,
    plan: PlanView,
    run: Map = map,
) -> dict[str, Any]:
    """The outcome a seed gives: each stratum's sample in ticket order, then a team for each
    drawn target in that order (strata in recorded order). `run` maps the hashing of large
    strata and of the teams' rankings (the built-in map: here)."""
    facts = DrawFacts.of(facts)
    drawn: list[dict[str, Any]] = []
    for s in facts.strata:
        stratum_seed = seeds.stratum_seed(seed, s.name)
        chosen = sampler.first(stratum_seed, strata[s.name], s.k, run)  # frozen
        drawn.append({"name": s.name, "seed": stratum_seed, "sample": chosen})
    order = [i for s in drawn for i in s["sample"]]
    rows = target_rows(registry, order)
    staff = staffing(facts, seed, registry, plan)
    return {"strata": drawn, "teams": staff.teams([rows[i] for i in order], run)}

"""Inspector teams (随机选派): pools fixed at commit, then a ranking per drawn target.

Each drawn target ranks the inspectors who may inspect it (valid certificate through the
inspection window, the specialties its items need, a participating department, no conflict with
that target) by ticket under its own seed. The team takes the best-ranked member of every
participating department first (joint inspections: one from each), then the best-ranked of the
rest, skipping anyone at the plan's workload cap. Experts are ranked likewise under a second seed.
A recusal's replacement is the next-ranked available member of the same department (or expert
pool): deterministic, so an auditor gets the same name.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ssj.domain.conflicts import RuleKind, conflicts_on
from ssj.domain.inspectors import InspectorStatus, Pool, eligible_on
from ssj.draw import sampler
from ssj.draw import seed as seeds
from ssj.draw.registry_view import TargetGroup, TargetRow, grouped
from ssj.errors import ConflictError


@dataclass
class Pools:
    """Who may be drawn: inspectors per participating department, and experts."""

    inspectors: dict[str, list[str]]
    experts: list[str]
    states: dict[str, dict[str, Any]]

    @property
    def department_of(self) -> dict[str, str]:
        return {c: d for d, members in self.inspectors.items() for c in members}


def _available(state: Mapping[str, Any], start: date, end: date) -> bool:
    """A valid certificate and an active status for every day of the window (leave that
    overlaps it at all rules the inspector out)."""
    if not eligible_on(state, start) or state["certificate_valid_to"] < end.isoformat():
        return False
    if state["status"] == InspectorStatus.ON_LEAVE:
        leave = (state.get("leave_from") or "", state.get("leave_to") or "")
        return leave[1] < start.isoformat() or leave[0] > end.isoformat()
    return True


def pools(
    departments: Sequence[str],
    specialties: Mapping[str, Sequence[str]],
    window: tuple[date, date],
    inspectors: Iterable[Mapping[str, Any]],
    with_experts: bool,
) -> Pools:
    """Inspectors of each department who hold every specialty its items require and are
    available for the whole window; experts holding any required specialty (or any expert)."""
    start, end = window
    needed = {d: frozenset(specialties.get(d, ())) for d in departments}
    all_needed = frozenset().union(*needed.values())
    result = Pools({d: [] for d in departments}, [], {})
    for s in inspectors:
        if not _available(s, start, end):
            continue
        held = frozenset(s.get("specialties") or ())
        if s["pool"] == Pool.INSPECTOR and s["department"] in needed:
            if needed[s["department"]] <= held:
                result.inspectors[s["department"]].append(s["certificate_no"])
                result.states[s["certificate_no"]] = dict(s)
        elif s["pool"] == Pool.EXPERT and with_experts and (not all_needed or held & all_needed):
            result.experts.append(s["certificate_no"])
            result.states[s["certificate_no"]] = dict(s)
    for members in result.inspectors.values():
        members.sort()
    result.experts.sort()
    return result


@dataclass
class Conflicts:
    """Who may not inspect which target on the draw day: declarations and structural rules."""

    day: date
    declarations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by target
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # by department
    states: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        day: date,
        declarations: Iterable[Mapping[str, Any]],
        rules: Mapping[str, Mapping[str, Any]],
        states: Mapping[str, dict[str, Any]],
    ) -> Conflicts:
        by_target: dict[str, list[dict[str, Any]]] = {}
        for d in declarations:
            if d["certificate_no"] in states:
                by_target.setdefault(d["target_identifier"], []).append(dict(d))
        return cls(day, by_target, {k: dict(v) for k, v in rules.items()}, dict(states))

    def own_district(self) -> dict[str, set[str]]:
        """Region code -> inspectors barred there by their department's own-district rule."""
        barred: dict[str, set[str]] = {}
        for cert, s in self.states.items():
            home = s.get("home_region_code")
            if home and self.rules.get(s["department"], {}).get(RuleKind.NOT_OWN_DISTRICT):
                barred.setdefault(home, set()).add(cert)
        return barred

    def barred(self, target: TargetRow, own_district: Mapping[str, set[str]]) -> set[str]:
        """Who may not inspect `target`: its region's own-district bars plus declarations."""
        out = set(own_district.get(target.region_code, ()))
        state = {"region_code": target.region_code}
        for d in self.declarations.get(target.identifier, ()):
            s = self.states[d["certificate_no"]]
            rules = self.rules.get(s["department"], {})
            if conflicts_on(self.day, s, state, [d], rules):
                out.add(d["certificate_no"])
        return out


def check_feasible(
    pools: Pools,
    targets: Iterable[TargetRow],
    conflicts: Conflicts,
    team_size: int,
    experts: int,
) -> list[str]:
    """`check_feasible_groups` for targets listed row by row."""
    return check_feasible_groups(pools, grouped(targets), conflicts, team_size, experts)


def check_feasible_groups(
    pools: Pools,
    groups: Iterable[TargetGroup],
    conflicts: Conflicts,
    team_size: int,
    experts: int,
) -> list[str]:
    """Problems that would leave some eligible target without a lawful team; empty if none.
    Checked at commit, before the seed exists, so a short pool is refused, never worked round.
    Targets without declarations of their own are decided once per region."""
    problems: list[str] = []
    for d, members in pools.inspectors.items():
        if not members:
            problems.append(f"部门 {d} 没有符合条件的执法检查人员 / no eligible inspector in {d}")
    everyone = sum(len(m) for m in pools.inspectors.values())
    if everyone < team_size:
        problems.append(
            f"符合条件的执法检查人员仅 {everyone} 人，少于每组 {team_size} 人 / "
            f"only {everyone} eligible inspectors for teams of {team_size}"
        )
    if len(pools.experts) < experts:
        problems.append(
            f"符合条件的专家仅 {len(pools.experts)} 人，少于每组 {experts} 人 / "
            f"only {len(pools.experts)} eligible experts for {experts} per team"
        )
    if problems:
        return problems
    own = conflicts.own_district()
    verdicts: dict[str, bool] = {}  # region -> staffable, for targets without declarations

    def staffable(barred: set[str]) -> bool:
        left = {d: [c for c in m if c not in barred] for d, m in pools.inspectors.items()}
        enough = all(left.values()) and sum(map(len, left.values())) >= team_size
        return enough and len([c for c in pools.experts if c not in barred]) >= experts

    short: list[str] = []
    declared = conflicts.declarations.keys()
    for g in groups:
        ids = g.identifiers
        with_declarations = declared & ids if declared else set()
        for identifier in sorted(with_declarations):
            target = TargetRow(identifier, *g[:-1])
            if not staffable(conflicts.barred(target, own)):
                short.append(identifier)
        if g.region_code in own and len(with_declarations) < len(ids):
            ok = verdicts.get(g.region_code)
            if ok is None:
                target = TargetRow("", *g[:-1])
                ok = verdicts[g.region_code] = staffable(conflicts.barred(target, own))
            if not ok:
                short += [i for i in ids if i not in with_declarations]
    if short:
        short.sort()
        shown = "、".join(short[:10]) + (" 等" if len(short) > 10 else "")
        problems.append(
            f"{len(short)} 个检查对象因利害关系回避后无法组成合法检查组：{shown} / "
            f"{len(short)} targets would have no lawful team after conflicts"
        )
    return problems


def _pick(
    ranking: Sequence[str],
    department_of: Mapping[str, str],
    departments: Sequence[str],
    size: int,
    full: Collection[str],
) -> list[str] | None:
    """The team from a ranking prefix, or None if the prefix cannot decide it: the first
    member of every department who is not at the workload cap (in `full`), then the first of
    the rest, in ranking order."""
    free = [c for c in ranking if c not in full] if full else list(ranking)
    if len(departments) == 1 and len(free) >= size and department_of[free[0]] == departments[0]:
        return free[:size]  # the common case: the first is of the department, the rest follow
    chosen: list[str] = []
    for d in departments:
        member = next((c for c in free if department_of[c] == d), None)
        if member is None:
            return None
        chosen.append(member)
    for c in free:
        if len(chosen) >= size:
            break
        if c not in chosen:
            chosen.append(c)
    if len(chosen) < size:
        return None
    return sorted(chosen, key=free.index)


class Staffing:
    """Assigns teams target by target, keeping the plan's workload counts."""

    def __init__(
        self,
        seed: str,
        pools: Pools,
        conflicts: Conflicts,
        departments: Sequence[str],
        team_size: int,
        experts: int,
        workload_cap: int | None,
        loads: Counter[str],
    ) -> None:
        self.seed = seed
        self.pools = pools
        self.conflicts = conflicts
        self.departments = list(departments)
        self.team_size = team_size
        self.experts = experts
        self.workload_cap = workload_cap
        self.loads = Counter(loads)
        self.department_of = pools.department_of
        self.own = conflicts.own_district()
        self._by_region: dict[str, tuple[list[str], list[str]]] = {}

    def _full(self) -> Collection[str]:
        """Who is at the plan's workload cap now."""
        if self.workload_cap is None:
            return ()
        return {c for c, n in self.loads.items() if n >= self.workload_cap}

    def candidates(self, target: TargetRow) -> tuple[list[str], list[str]]:
        """Inspectors and experts free of conflict with `target` (shared by its region when it
        has no declarations of its own)."""
        declared = target.identifier in self.conflicts.declarations
        if not declared and target.region_code in self._by_region:
            return self._by_region[target.region_code]
        barred = self.conflicts.barred(target, self.own)
        inspectors = [c for m in self.pools.inspectors.values() for c in m if c not in barred]
        experts = [c for c in self.pools.experts if c not in barred]
        if not declared:
            self._by_region[target.region_code] = (inspectors, experts)
        return inspectors, experts

    def rankings(
        self, targets: Sequence[TargetRow], run: sampler.Map = map
    ) -> list[tuple[list[str], list[str]]]:
        """(the first of each target's inspector ranking, its experts), for many targets at
        once: the hashing is independent per target, so `run` may spread it over processes.
        The first team_size + departments + 4 of a ranking decide a team unless workload caps
        skip members (then `team` ranks the whole pool)."""
        n = len(targets)
        pools = [self.candidates(t) for t in targets]
        size = max(1, -(-n // 8))  # a few calls, each still thousands of targets
        prefix = self.team_size + len(self.departments) + 4
        calls = [
            (
                [seeds.team_seed(self.seed, t.identifier) for t in targets[i : i + size]],
                [p[0] for p in pools[i : i + size]],
                prefix,
            )
            for i in range(0, n, size)
        ]
        if self.experts:
            calls += [
                (
                    [seeds.expert_seed(self.seed, t.identifier) for t in targets[i : i + size]],
                    [p[1] for p in pools[i : i + size]],
                    self.experts,
                )
                for i in range(0, n, size)
            ]
        ranked = [r for chunk in run(rank_chunk, calls) for r in chunk]
        experts = ranked[n:] if self.experts else [[] for _ in targets]
        return list(zip(ranked[:n], experts, strict=True))

    def teams(
        self, targets: Sequence[TargetRow], run: sampler.Map = map
    ) -> dict[str, dict[str, list[str]]]:
        """A team for each target, in order (workloads count the teams before it)."""
        rankings = self.rankings(targets, run)
        # Without a workload cap, a one-department team is the ranking's first team_size when
        # the first is of that department (as `_pick` decides): tens of thousands of targets
        # take this path without a call per target; every other case goes through `team`.
        simple = self.workload_cap is None and len(self.departments) == 1
        lead = self.departments[0] if simple else None
        size, department_of = self.team_size, self.department_of
        out: dict[str, dict[str, list[str]]] = {}
        picked: list[list[str]] = []  # counted once at the end: nothing reads loads uncapped
        for t, ranked in zip(targets, rankings, strict=True):
            prefix = ranked[0]
            if simple and len(prefix) >= size and department_of[prefix[0]] == lead:
                chosen = prefix[:size]
                picked.append(chosen)
                out[t.identifier] = {"inspectors": chosen, "experts": ranked[1]}
            else:
                out[t.identifier] = self.team(t, ranked)
        self.loads.update(itertools.chain.from_iterable(picked))
        return out

    def team(
        self, target: TargetRow, ranked: tuple[list[str], list[str]] | None = None
    ) -> dict[str, list[str]]:
        """The team of one target, from its rankings (computed here unless given)."""
        if ranked is None:
            ranked = self.rankings([target])[0]
        prefix, picked_experts = ranked
        full = self._full()
        chosen = _pick(prefix, self.department_of, self.departments, self.team_size, full)
        if chosen is None:
            inspectors = self.candidates(target)[0]
            seed = seeds.team_seed(self.seed, target.identifier)
            chosen = _pick(
                sampler.first(seed, inspectors, len(inspectors)),
                self.department_of,
                self.departments,
                self.team_size,
                full,
            )
        if chosen is None:
            raise ConflictError(
                f"检查对象 {target.identifier} 无法组成合法检查组（工作量上限或回避）："
                "本次抽取须作废并说明理由",
                f"no lawful team for {target.identifier} (workload caps or conflicts): "
                "the draw must be abandoned with a reason",
            )
        loads = self.loads
        for c in chosen:
            loads[c] += 1
        return {"inspectors": chosen, "experts": picked_experts}

    def replacement(self, target: TargetRow, team: Sequence[str], leaving: str) -> str:
        """The next-ranked available member of the leaving member's department (or of the
        expert pool), skipping the current team and everyone already recused for this target
        (`team` still includes them: pass the team before the recusal plus earlier leavers)."""
        inspectors, experts = self.candidates(target)
        if leaving in self.pools.experts:
            same = sampler.ranked(seeds.expert_seed(self.seed, target.identifier), experts)
        else:
            ranking = sampler.ranked(seeds.team_seed(self.seed, target.identifier), inspectors)
            department = self.department_of.get(leaving)
            same = [c for c in ranking if self.department_of[c] == department]
        full = self._full()
        for c in same:
            if c not in team and c != leaving and c not in full:
                return c
        raise ConflictError(
            f"检查对象 {target.identifier} 没有可递补的人员",
            f"no replacement left for {target.identifier}",
        )


def rank_chunk(job: tuple[list[str], list[Sequence[str]], int]) -> list[list[str]]:
    """A map call's unit: the first k of each pool's ranking under its seed."""
    seed_list, pools, k = job
    return sampler.firsts(seed_list, pools, k)

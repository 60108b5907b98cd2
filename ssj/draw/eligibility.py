"""Which targets may be drawn under a plan on a day, and how many from each stratum.

Pure: the plan's rules, the department's targets and earlier tasks as of the commit seq in, the
strata and a count per exclusion reason out. Each target is excluded for the first reason that
applies, in a fixed order, so the counts are reproducible and add up to the registry considered.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import orjson

from ssj.domain.targets import TargetStatus
from ssj.draw.registry_view import TargetGroup, TargetRow, TaskRow, grouped
from ssj.errors import ValidationError

ALL = "all"  # the one stratum of a fixed-count draw
PRIORITY, REST = "priority", "rest"

REASON_LABELS = {
    "out_of_scope:type": "对象类型不在计划范围",
    "out_of_scope:region": "区域不在计划范围",
    "out_of_scope:tags": "标签不在计划范围",
    "status:deregistered": "已注销",
    "status:abnormal": "列入经营异常名录",
    "status:serious_violation": "列入严重违法失信名单",
    "open_task": "有未办结的检查任务",
    "recent_inspection": "近期已被抽查（排除期内）",
    "cap_department": "本年度本部门抽查次数已达上限",
    "cap_all": "本年度各部门合计抽查次数已达上限",
}


@dataclass
class Population:
    """The eligible ids per stratum (unsorted) and why the others were left out."""

    strata: dict[str, list[str]] = field(default_factory=dict)
    exclusions: Counter[str] = field(default_factory=Counter)
    considered: int = 0
    groups: list[TargetGroup] = field(default_factory=list)  # the eligible ids, by group


@dataclass(frozen=True)
class History:
    """Earlier tasks per target, reduced to what the rules ask."""

    open: frozenset[str]
    last_drawn: dict[str, str]
    count_department: Counter[str]
    count_all: Counter[str]

    @classmethod
    def of(cls, tasks: Iterable[TaskRow], departments: Sequence[str], year: int) -> History:
        open_ = set()
        last: dict[str, str] = {}
        by_department: Counter[str] = Counter()
        by_all: Counter[str] = Counter()
        prefix = f"{year:04d}-"
        for t in tasks:
            if t.open:
                open_.add(t.identifier)
            if t.drawn_on > last.get(t.identifier, ""):
                last[t.identifier] = t.drawn_on
            if t.drawn_on.startswith(prefix):
                by_all[t.identifier] += 1
                if any(d in t.departments for d in departments):
                    by_department[t.identifier] += 1
        return cls(frozenset(open_), last, by_department, by_all)


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def population(
    rules: Mapping[str, Any],
    departments: Sequence[str],
    year: int,
    day: date,
    targets: Iterable[TargetRow],
    tasks: Iterable[TaskRow],
) -> Population:
    """`population_of` for targets listed row by row."""
    return population_of(rules, departments, year, day, grouped(targets), tasks)


def population_of(
    rules: Mapping[str, Any],
    departments: Sequence[str],
    year: int,
    day: date,
    groups: Iterable[TargetGroup],
    tasks: Iterable[TaskRow],
) -> Population:
    """Eligible targets of the lead department's registry, stratified by credit-risk class
    (or one stratum for a fixed count), split into not-yet-covered and the rest when the plan
    gives priority to coverage.

    Scope and status are decided once per group of alike targets; only targets with earlier
    tasks are looked at one by one."""
    history = History.of(tasks, departments, year)
    lead = departments[0]
    types = frozenset(rules["target_types"])
    regions = tuple(rules["region_codes"])
    tags = frozenset(rules["tags"])
    exclusion_days = int(rules["exclusion_days"])
    recent_from = (day - timedelta(days=exclusion_days)).isoformat() if exclusion_days else None
    cap_department = int(rules["yearly_cap_department"])
    cap_all = int(rules["yearly_cap_all"])
    fixed = rules.get("fixed_count") is not None
    covered_from = None
    if rules.get("priority_uncovered"):
        covered_from = years_before(day, int(rules["coverage_years"])).isoformat()
    result = Population()
    exclusions = result.exclusions
    strata = result.strata
    active = TargetStatus.ACTIVE.value
    seen = history.last_drawn  # every target with an earlier task; most have none

    def members(name: str) -> list[str]:
        found = strata.get(name)
        if found is None:
            found = strata[name] = []
        return found

    for g in groups:
        if g.department != lead:
            continue
        ids = g.identifiers
        result.considered += len(ids)
        if g.target_type not in types:
            exclusions["out_of_scope:type"] += len(ids)
            continue
        if regions and not g.region_code.startswith(regions):
            exclusions["out_of_scope:region"] += len(ids)
            continue
        if tags and tags.isdisjoint(orjson.loads(g.tags_json or "[]")):
            exclusions["out_of_scope:tags"] += len(ids)
            continue
        if g.status != active:
            exclusions[f"status:{g.status}"] += len(ids)
            continue
        name = ALL if fixed else g.credit_class
        uncovered = name if covered_from is None else f"{name}:{PRIORITY}"
        dropped: set[str] = set()
        for identifier in filter(seen.__contains__, ids) if seen else ():
            last = seen[identifier]
            if identifier in history.open:
                exclusions["open_task"] += 1
            elif recent_from is not None and last >= recent_from:
                exclusions["recent_inspection"] += 1
            elif history.count_department[identifier] >= cap_department:
                exclusions["cap_department"] += 1
            elif history.count_all[identifier] >= cap_all:
                exclusions["cap_all"] += 1
            elif covered_from is not None and last >= covered_from:
                members(f"{name}:{REST}").append(identifier)
                result.groups.append(g._replace(identifiers=[identifier]))
            else:
                continue
            dropped.add(identifier)
        kept = [i for i in ids if i not in dropped] if dropped else ids
        if kept:
            members(uncovered).extend(kept)
            result.groups.append(g._replace(identifiers=kept))
    return result


def sizes(rules: Mapping[str, Any], strata: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """k per stratum: ceil(size x ratio%) but at least `minimum` (never more than the size);
    a fixed count for the single stratum; with coverage priority, a class's k is taken from
    its not-yet-covered part first."""
    minimum = int(rules.get("minimum") or 0)
    fixed = rules.get("fixed_count")
    if fixed is not None:
        size = len(strata.get(ALL, ())) + sum(
            len(v) for name, v in strata.items() if name.startswith(f"{ALL}:")
        )
        if int(fixed) > size:
            raise ValidationError(
                f"抽取数量 {fixed} 大于符合条件的检查对象数 {size}",
                f"the fixed count {fixed} is larger than the eligible population {size}",
            )
        return _split({ALL: int(fixed)}, strata)
    ratios = rules["ratios"]
    wanted: dict[str, int] = {}
    for cls in sorted({name.split(":")[0] for name in strata}):
        size = sum(len(v) for name, v in strata.items() if name.split(":")[0] == cls)
        ratio = Decimal(str(ratios[cls]))
        k = math.ceil(Decimal(size) * ratio / 100)
        wanted[cls] = min(size, max(k, minimum))
    return _split(wanted, strata)


def _split(wanted: Mapping[str, int], strata: Mapping[str, Sequence[str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for cls, k in wanted.items():
        if cls in strata:
            out[cls] = k
            continue
        priority = len(strata.get(f"{cls}:{PRIORITY}", ()))
        first = min(k, priority)
        if f"{cls}:{PRIORITY}" in strata:
            out[f"{cls}:{PRIORITY}"] = first
        if f"{cls}:{REST}" in strata:
            out[f"{cls}:{REST}"] = k - first
    return out

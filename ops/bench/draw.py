"""Draw benchmark on PostgreSQL: a stratified draw on a large registry, its verification, and
ssj's sampler against the reference `consistent-sampler` package on the same ids and seeds.

    python -m ops.bench.draw                        (1,000,000 targets: about 15 minutes)
    python -m ops.bench.draw --targets 100000       (quick run)

Set-up (timed, not a target): the demo organisation, items and inspectors (`ssj.demo`), then
--targets targets of one section filled with `Ledger.save` in batches of 1,000, projections
caught up, and an annual plan published with the brief's ratios (A 1 %, B 3 %, C 10 %, D 30 %).

(a) The draw: `DrawService.commit` (population as of the head, eligibility, strata, Merkle roots,
    pools, feasibility), two witnesses' dice, `DrawService.reveal` (seed, samples, a team per
    drawn target, the reveal saved). Target <= 3 s.
(b) `DrawService.verify` on the read models: every check re-run. Target <= 3 s.
(c) The same strata, ids and derived seeds: `ssj.draw.sampler.sample` against the reference
    `consistent_sampler.sampler(ids, seed, take=k, output="id")`, rounds interleaved, each on a
    fresh copy of the ids (so no run profits from string hashes another computed); results
    checked equal. Target: ssj >= 5x faster.

Needs a PostgreSQL server: SSJ_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/
postgres). A scratch database is created, migrated and dropped.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from collections import Counter
from datetime import date
from pathlib import Path

from consistent_sampler import sampler as reference_sampler
from rich.console import Console

from ops.bench.common import bench_services, print_table
from ops.bench.registry import batches
from projections.snapshot import load_snapshot
from ssj.demo import DEFAULT_SEED, MIN_TARGETS
from ssj.demo.jurisdiction import build, iter_targets
from ssj.domain.targets import Target, TargetRecord
from ssj.draw import procedure, sampler
from ssj.draw.seed import stratum_seed
from ssj.ledger.envelope import Actor
from ssj.services.context import Services
from ssj.services.draws import DrawService
from ssj.services.plans import PlanService

console = Console()
ACTOR = Actor("bench", "CZ-SJJ", "admin")
RATIOS = {"A": "1", "B": "3", "C": "10", "D": "30"}
WITNESSES = {"公证员": "31415926535897", "企业代表": "2718281828459"}


def lead_section(services: Services) -> tuple[str, list[str]]:
    """The section with the most inspectors, and its items that those inspectors can staff."""
    inspectors = [i for i in services.queries.states("inspectors") if i["pool"] == "inspector"]
    by_department = Counter(i["department"] for i in inspectors)
    for department, _ in by_department.most_common():
        held = [set(i["specialties"]) for i in inspectors if i["department"] == department]
        items = [
            i["code"]
            for i in services.queries.states("items")
            if i["department"] == department
            and not i.get("retired_reason")
            and sum(set(i["required_specialties"]) <= h for h in held) >= 4
        ]
        if items:
            return department, items[:3]
    raise SystemExit("no section has items its inspectors can staff")


def fill(services: Services, department: str, count: int, seed: int) -> float:
    t0 = time.perf_counter()
    done = 0
    for batch in batches(iter_targets(seed, count, first=10_000_000), 1000):
        aggregates = []
        for row in batch:
            row["department"] = department
            aggregates.append(Target.register(TargetRecord.parse(row)))
        services.ledger.save(*aggregates, actor=ACTOR)
        done += len(batch)
        if done % 100_000 == 0:
            console.print(f"    … {done:,} / {count:,} ({time.perf_counter() - t0:.0f} s)")
    return time.perf_counter() - t0


def fresh(ids: list[str]) -> list[str]:
    """New string objects with the same values: no cached hashes."""
    return [(i + " ")[:-1] for i in ids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--rounds", type=int, default=3, help="sampler rounds (median)")
    parser.add_argument("--profile", action="store_true", help="cProfile the draw and verify")
    parser.add_argument(
        "--keep",
        metavar="NAME",
        help="keep the database NAME and its data directory (/tmp/NAME) and reuse them when "
        "they exist: set-up runs once, each later run draws under a new plan (for profiling; "
        "earlier draws' open tasks then shrink the population)",
    )
    args = parser.parse_args()
    with bench_services("ssj_bench_draw", args.keep) as (services, data_dir, existed):
        rows = run(services, data_dir, args, set_up=not existed)
    title = f"Draw benchmark, PostgreSQL, {args.targets:,} targets"
    print_table(console, title, ("measure", "result", "target", "verdict"), rows)


def run(
    services: Services, tmp: Path, args: argparse.Namespace, set_up: bool
) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    if set_up:
        services.ledger.initialise()
        console.print("set-up: demo organisation, items, inspectors …")
        build(services, tmp / "demo", targets=MIN_TARGETS, seed=args.seed)
    department, items = lead_section(services)
    if set_up:
        console.print(f"set-up: {args.targets:,} targets for {department} …")
        elapsed = fill(services, department, args.targets, args.seed)
        rows.append(("set-up: fill", f"{args.targets / elapsed:,.0f} targets/s", "", ""))
    t0 = time.perf_counter()
    services.refresh()
    rows.append(("set-up: projections catch up", f"{time.perf_counter() - t0:.0f} s", "", ""))
    code = f"BENCH-{services.plan_queries.list(limit=1).total + 1}"
    leader = next(
        u["username"]
        for u in services.queries.states("users")
        if u["department"] == department and "leader" in u["roles"]
    )
    operator = next(
        u["username"]
        for u in services.queries.states("users")
        if u["department"] == department and "operator" in u["roles"]
    )
    plans = PlanService(services)
    op, lead = services.principal(operator), services.principal(leader)
    plans.draft(
        op,
        {
            "code": code,
            "department": department,
            "title": "基准测试年度计划",
            "year": date.today().year,
            "kind": "annual",
            "items": items,
            "ratios": RATIOS,
        },
    )
    plans.submit(op, department, code)
    plans.approve(lead, department, code, "同意")
    plans.publish(op, department, code)
    draws = DrawService(services)
    profile = cProfile.Profile() if args.profile else None
    if profile is not None:
        profile.enable()
    t0 = time.perf_counter()
    draw = draws.commit(op, department, code, list(WITNESSES))
    t_commit = time.perf_counter() - t0
    for witness, digits in WITNESSES.items():
        draws.record_dice(op, str(draw.id), witness, digits)
    t1 = time.perf_counter()
    draw = draws.reveal(op, str(draw.id))
    t_reveal = time.perf_counter() - t1
    t_draw = time.perf_counter() - t0
    assert draw.outcome is not None and draw.seed is not None
    facts = draw.facts
    eligible = facts["registry"]["eligible"]
    drawn = len(draw.outcome["teams"])
    rows.append(
        (
            "(a) draw: commit + dice + reveal",
            f"{t_draw:.2f} s (commit {t_commit:.2f} s, reveal {t_reveal:.2f} s); "
            f"{facts['registry']['considered']:,} considered, {eligible:,} eligible, "
            f"{drawn:,} drawn with teams",
            "<= 3 s",
            "met" if t_draw <= 3 else "MISSED",
        )
    )
    t0 = time.perf_counter()
    verification = DrawService(services).verify(str(draw.id))
    t_verify = time.perf_counter() - t0
    if profile is not None:
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
    if not verification.ok:
        raise SystemExit(f"verification failed: {[c for c in verification.checks if not c.ok]}")
    rows.append(
        (
            "(b) ssj draw verify (read models)",
            f"{t_verify:.2f} s, {len(verification.checks)} checks passed",
            "<= 3 s",
            "met" if t_verify <= 3 else "MISSED",
        )
    )

    snapshot = load_snapshot(services.store, facts["as_of_seq"], department, facts["plan"]["id"])
    plan = draws._plan_at(facts)
    frozen = procedure.refreeze(plan, draw.round, facts, snapshot)
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(args.rounds):
        mine = reference = 0.0
        for s in facts["strata"]:
            seed = stratum_seed(draw.seed, s["name"])
            ids = fresh(frozen.strata[s["name"]])
            t0 = time.perf_counter()
            a = sampler.sample(seed, ids, s["k"])
            mine += time.perf_counter() - t0
            ids = fresh(frozen.strata[s["name"]])
            t0 = time.perf_counter()
            b = list(reference_sampler(ids, seed, take=s["k"], output="id"))
            reference += time.perf_counter() - t0
            if a != b:
                raise SystemExit(f"stratum {s['name']}: ssj and the reference disagree")
        ours.append(mine)
        theirs.append(reference)
    ratio = statistics.median(theirs) / statistics.median(ours)
    rows.append(
        (
            f"(c) sampler, {eligible:,} ids in {len(facts['strata'])} strata, {drawn:,} drawn",
            f"ssj {statistics.median(ours):.2f} s, reference {statistics.median(theirs):.2f} s: "
            f"{ratio:.1f}x (median of {args.rounds}; samples equal)",
            ">= 5x",
            "met" if ratio >= 5 else "MISSED",
        )
    )
    return rows


if __name__ == "__main__":
    main()

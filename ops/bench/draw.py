"""Draw benchmark on PostgreSQL: a stratified draw on a large registry, its verification, and
ssj's sampler against the reference `consistent-sampler` package on the same ids and seeds.

    python -m ops.bench.draw                        (1,000,000 targets: about 15 minutes)
    python -m ops.bench.draw --targets 100000       (quick run)
    python -m ops.bench.draw --keep ssj_bench_draw_1m   (set-up once, then every run measures
                                                     the same first draw on a copy of it)

Set-up (timed, not a target): the demo organisation, items and inspectors (`ssj.demo`), then
--targets targets of one section filled with `Ledger.save` in batches of 1,000, projections
caught up, and an annual plan published with the brief's ratios (A 1 %, B 3 %, C 10 %, D 30 %).

(a) The draw: `DrawService.commit` (population as of the head, eligibility, strata, Merkle roots,
    pools, feasibility), two witnesses' dice, `DrawService.reveal` (seed, samples, a team per
    drawn target, the reveal saved). Target <= 3 s.
(b) `DrawService.verify` on the read models: every check re-run. Target <= 3 s.
(c) The same strata, ids and derived seeds: `ssj.draw.sampler.sample` against the reference
    `consistent_sampler.sampler(ids, seed, take=k, output="id")`, rounds alternating which goes
    first, each on a fresh copy of the ids (so no run profits from string hashes another
    computed); results checked equal. Target: ssj >= 6x faster (median of 5 rounds), shown in
    wall time and in CPU time (both run in this process, one core each: on a shared machine
    wall time also counts the waits for a core).

The server nonce is fixed (bench only) and the draw dated the first of the month, so the
digests printed of the draw's facts and of its outcome (samples and teams) are the same on the
same registry in every run and under every version of the code that must draw alike.

Needs a PostgreSQL server: SSJ_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/
postgres). A scratch database is created, migrated and dropped.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import os
import pstats
import shutil
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import psycopg
from consistent_sampler import sampler as reference_sampler
from rich.console import Console

from ops.bench.common import ADMIN_URL, bench_services, print_table
from ops.bench.registry import batches
from projections.registry_view import load_registry_view
from ssj.demo import DEFAULT_SEED, MIN_TARGETS
from ssj.demo.jurisdiction import build, iter_targets
from ssj.domain.targets import Target, TargetRecord
from ssj.draw import procedure, sampler
from ssj.draw.seed import stratum_seed
from ssj.ledger.envelope import Actor
from ssj.processes import process_cpu
from ssj.services.context import Services
from ssj.services.draws import DrawService
from ssj.services.plans import PlanService

console = Console(width=150)
ACTOR = Actor("bench", "CZ-SJJ", "admin")
RATIOS = {"A": "1", "B": "3", "C": "10", "D": "30"}
WITNESSES = {"公证员": "31415926535897", "企业代表": "2718281828459"}
NONCE = hashlib.sha256(b"ssj draw benchmark nonce").hexdigest()  # bench only: see above


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


def digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_seconds(database: str) -> float:
    """CPU time used so far by this process, its draw workers and the PostgreSQL backends of
    its database (what a busy machine stretches: wall time on an idle one is about this over the
    cores; parallel query workers that have ended are not counted)."""
    times = os.times()
    total = times.user + times.system
    try:
        from ssj.services.workers import pids
    except ImportError:  # the code before draw workers existed, measured for comparison
        pids = list
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        backends = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchall()
    for pid in [*pids(), *(b[0] for b in backends)]:
        total += process_cpu(pid)
    return total


@contextmanager
def copy_of(template: str) -> Iterator[str]:
    """A scratch database and data directory copied from a kept set-up: every run then draws
    first on the same registry (a draw's open tasks would shrink the next one's population)."""
    name = f"{template}_run_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(  # connection pools of the set-up may linger
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (template,),
        )
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    shutil.copytree(f"/tmp/{template}", f"/tmp/{name}")
    try:
        yield name
    finally:
        shutil.rmtree(f"/tmp/{name}", ignore_errors=True)
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> list[tuple[str, ...]]:
    """Runs the benchmark, prints its table and returns its rows (ops.bench all)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--rounds", type=int, default=5, help="sampler rounds (median)")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the draw and verify (CPU time)"
    )
    parser.add_argument(
        "--keep",
        metavar="NAME",
        help="keep the set-up in database NAME and data directory /tmp/NAME, made once; each "
        "run measures on a copy of them, so every run draws first on the same registry",
    )
    args = parser.parse_args(argv)
    rows: list[tuple[str, ...]] = []
    if args.keep:
        ready = Path(f"/tmp/{args.keep}/set-up-complete")
        if not ready.exists():
            with bench_services("ssj_bench_draw", args.keep) as (services, data_dir, existed):
                if existed:
                    raise SystemExit(f"{args.keep}: an unfinished set-up; drop it and run again")
                rows += set_up(services, data_dir, args)
            ready.write_text(f"{args.targets}\n")
        with copy_of(args.keep) as name, bench_services("", name) as (services, data_dir, _):
            rows += run(services, args)
    else:
        with bench_services("ssj_bench_draw", None) as (services, data_dir, _):
            rows += set_up(services, data_dir, args)
            rows += run(services, args)
    title = f"Draw benchmark, PostgreSQL, {args.targets:,} targets"
    print_table(console, title, ("measure", "result", "target", "verdict"), rows)
    return rows


def set_up(services: Services, tmp: Path, args: argparse.Namespace) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    services.ledger.initialise()
    console.print("set-up: demo organisation, items, inspectors …")
    build(services, tmp / "demo", targets=MIN_TARGETS, seed=args.seed)
    department, _ = lead_section(services)
    console.print(f"set-up: {args.targets:,} targets for {department} …")
    elapsed = fill(services, department, args.targets, args.seed)
    rows.append(("set-up: fill", f"{args.targets / elapsed:,.0f} targets/s", "", ""))
    t0 = time.perf_counter()
    services.refresh()
    rows.append(("set-up: projections catch up", f"{time.perf_counter() - t0:.0f} s", "", ""))
    return rows


def run(services: Services, args: argparse.Namespace) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = [("machine", load(), "", "")]
    department, items = lead_section(services)
    services.refresh()
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
    draws.nonces.new = lambda: NONCE  # type: ignore[method-assign]
    first_of_month = date.today().replace(day=1).isoformat()
    profile = cProfile.Profile(time.process_time) if args.profile else None  # CPU: load-proof
    if profile is not None:
        profile.enable()
    c0 = cpu_seconds(services.settings.database.dbname)
    t0 = time.perf_counter()
    draw, _ = draws.commit(op, department, code, list(WITNESSES), drawn_on=first_of_month)
    t_commit = time.perf_counter() - t0
    for witness, digits in WITNESSES.items():
        draws.record_dice(op, str(draw.id), witness, digits)
    t1 = time.perf_counter()
    draw = draws.reveal(op, str(draw.id))
    t_reveal = time.perf_counter() - t1
    t_draw = time.perf_counter() - t0
    c_draw = cpu_seconds(services.settings.database.dbname) - c0
    assert draw.outcome is not None and draw.seed is not None
    facts = draw.facts
    eligible = facts["registry"]["eligible"]
    drawn = len(draw.outcome["teams"])
    rows.append(
        (
            "(a) draw: commit + dice + reveal",
            f"{t_draw:.2f} s (commit {t_commit:.2f} s, reveal {t_reveal:.2f} s; "
            f"CPU {c_draw:.2f} s); "
            f"{facts['registry']['considered']:,} considered, {eligible:,} eligible, "
            f"{drawn:,} drawn with teams",
            "<= 3 s",
            "met" if t_draw <= 3 else "MISSED",
        )
    )
    rows.append(
        (
            "    digests (same registry, same draw: same values)",
            f"facts {digest(draw.facts)[:16]}, seed {draw.seed[:16]}, "
            f"samples and teams {digest(draw.outcome)[:16]}",
            "unchanged",
            "",
        )
    )
    c0 = cpu_seconds(services.settings.database.dbname)
    t0 = time.perf_counter()
    verification = DrawService(services).verify(str(draw.id))
    t_verify = time.perf_counter() - t0
    c_verify = cpu_seconds(services.settings.database.dbname) - c0
    if profile is not None:
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(70)
    if not verification.ok:
        raise SystemExit(f"verification failed: {[c for c in verification.checks if not c.ok]}")
    rows.append(
        (
            "(b) ssj draw verify (read models)",
            f"{t_verify:.2f} s (CPU {c_verify:.2f} s), {len(verification.checks)} checks passed",
            "<= 3 s",
            "met" if t_verify <= 3 else "MISSED",
        )
    )

    registry = load_registry_view(
        services.store, facts["as_of_seq"], department, facts["plan"]["id"]
    )
    plan = draws._plan_at(draw.committed)
    frozen = procedure.refreeze(plan, draw.round, facts, registry)
    ours: list[tuple[float, float]] = []  # (wall, CPU) seconds per round, all strata
    theirs: list[tuple[float, float]] = []
    for n in range(args.rounds):
        mine = [0.0, 0.0]
        reference = [0.0, 0.0]
        for s in facts["strata"]:
            seed = stratum_seed(draw.seed, s["name"])
            calls: list[tuple[list[float], Callable[..., Any]]] = [
                (mine, lambda ids, seed=seed, k=s["k"]: sampler.sample(seed, ids, k)),
                (
                    reference,
                    lambda ids, seed=seed, k=s["k"]: list(
                        reference_sampler(ids, seed, take=k, output="id")
                    ),
                ),
            ]
            samples = []
            for total, call in calls if n % 2 == 0 else calls[::-1]:  # alternate the first
                ids = fresh(frozen.strata[s["name"]])
                w0, c0 = time.perf_counter(), time.process_time()
                samples.append(call(ids))
                total[0] += time.perf_counter() - w0
                total[1] += time.process_time() - c0
            if samples[0] != samples[1]:
                raise SystemExit(f"stratum {s['name']}: ssj and the reference disagree")
        ours.append((mine[0], mine[1]))
        theirs.append((reference[0], reference[1]))
    for clock, label in ((0, "wall time"), (1, "CPU time")):
        mine_median = statistics.median(t[clock] for t in ours)
        reference_median = statistics.median(t[clock] for t in theirs)
        ratio = reference_median / mine_median
        each = ", ".join(f"{r[clock] / m[clock]:.1f}x" for m, r in zip(ours, theirs, strict=True))
        rows.append(
            (
                f"(c) sampler, {label}: {eligible:,} ids in {len(facts['strata'])} strata, "
                f"{drawn:,} drawn",
                f"ssj {mine_median:.2f} s, reference {reference_median:.2f} s: {ratio:.1f}x "
                f"(median of {args.rounds}: {each}; samples equal)",
                ">= 6x",
                "met" if ratio >= 6 else "MISSED",
            )
        )
    rows.append(("machine, after", load(), "", ""))
    return rows


if __name__ == "__main__":
    main()

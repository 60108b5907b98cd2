"""Offline audit bundle benchmark: formats v2 and v1 exported from the same 1,000,000-event ledger
and verified offline, alternating; `ssj verify` on the database once in the same run.

    python -m ops.bench.bundle                       (1,000,000 events, PostgreSQL)
    python -m ops.bench.bundle --events 100000       (quick run)
    python -m ops.bench.bundle --keep NAME           (keep and reuse database NAME, /tmp/NAME)
    python -m ops.bench.bundle --keep ssj_bench_bundle_late   (the figures in docs/operators/benchmarks.md)

Set-up (timed, not a target), laid out as a real ledger is: filler events first
(`ops.bench.ledger.thing`, batches of 1,000 through `Ledger.save`, a checkpoint every 100,000
events), then the demo jurisdiction (`ssj.demo`) with --targets targets (default: half of
--events) imported through the real importer (and its yearly reclassification), then the demo's
eight draws through the seed ceremony, last. So each draw's population is --targets targets
registered by real events, and the offline re-run must replay the registries up to each draw's
`as_of_seq` (most of the ledger). --layout early puts the demo (300 targets) and its draws first and the filler after,
as the first version of this benchmark did (re-runs then replay about 1,000 events).

Measured for bundle formats v2 and v1 from the same ledger, --rounds times alternating (v1
first, then v2 first, ...; medians): (a) `export_bundle` of the whole ledger (bytes/event,
target <= 400 for v2; events/s); (b) `audit_bundle` on that file with no database: file
digests, signatures (in worker processes), chain, Merkle roots, checkpoints, consistency proofs
and every draw re-run, the draws replayed in a second process beside the ledger check (events/s,
target >= 30,000/s for v2; CPU seconds of all processes); (c) `verify_ledger` (`ssj verify`) on
the database, once. The load average is printed before and after: the machine is shared.

Needs PostgreSQL: SSJ_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
a scratch database is created, migrated and dropped (unless --keep). --sqlite uses SQLite.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console

from ops.bench.common import bench_services, print_table
from ops.bench.ledger import ACTOR, signature_bound, thing
from ssj.demo import DEFAULT_SEED, draws
from ssj.demo.jurisdiction import build
from ssj.ledger.application import Ledger
from ssj.ledger.audit import verify_ledger
from ssj.ledger.bundle import FORMAT_V1 as V1
from ssj.ledger.bundle_v2 import FORMAT_V2 as V2
from ssj.services.audit_bundle import audit_bundle, export_bundle
from ssj.services.context import Services

console = Console(width=120)
TARGET = 30_000  # events/s of `ssj audit verify` on 1,000,000 events (issue #13)
BYTES_TARGET = 400  # bundle bytes per event (issue #13)
CHECKPOINT_EVERY = 100_000
BATCH = 1000


def _fill(ledger: Ledger, until: int) -> None:
    """Filler events up to seq `until` - 1, with a checkpoint every CHECKPOINT_EVERY events."""
    i = ledger.size()
    next_checkpoint = (i // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY
    while ledger.size() < until:
        count = min(BATCH, until - ledger.size())
        ledger.save(*[thing(i + j) for j in range(count)], actor=ACTOR)
        i += count
        if ledger.size() >= next_checkpoint:
            ledger.issue_checkpoint()
            next_checkpoint += CHECKPOINT_EVERY
        if i % 100_000 < BATCH:
            console.print(f"    … {ledger.size():,} events")


def set_up(services: Services, data_dir: Path, args: argparse.Namespace) -> float:
    """Build the ledger (resumable: each stage is skipped once its marker file exists);
    returns events/s of this run's set-up, 0 if nothing was done."""
    ledger = services.ledger
    done = data_dir / "setup-done"
    if done.exists() or (args.layout == "early" and ledger.size() >= args.events - 1):
        return 0.0  # (an early-layout ledger is complete once its filler is)
    data_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    have = ledger.size()
    if have == 0:
        ledger.initialise()
    demo = data_dir / "demo"
    if args.layout == "early":
        build(services, demo, targets=300, seed=args.seed)
        draws.run(services, seed=args.seed)
        ledger.issue_checkpoint()
        _fill(ledger, args.events - 1)
    else:
        # About 1.07 events per target (the reclassification), plus organisation, items,
        # inspectors, declarations and the draws: a few thousand.
        filler_to = max(ledger.size(), args.events - int(args.targets * 1.07) - 1_000)
        filled = data_dir / "filler-done"
        if not filled.exists():
            console.print(f"set-up: filler to {filler_to:,} events …")
            _fill(ledger, filler_to)
            ledger.issue_checkpoint()
            filled.touch()
        console.print(f"set-up: demo jurisdiction ({args.targets:,} targets) …")
        build(services, demo, targets=args.targets, seed=args.seed)
        console.print("set-up: the demo's draws …")
        result = draws.run(services, seed=args.seed)
        if result.skipped:
            console.print(f"set-up: draws skipped: {[s.label for s in result.skipped]}")
    ledger.issue_checkpoint()
    done.touch()
    return (ledger.size() - have) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> list[tuple[str, ...]]:
    """Runs the benchmark, prints its table and returns its rows (ops.bench all reads column 1,
    the v2 figures, of the rows starting "(a) export" and "(b) offline verify")."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--targets", type=int, default=None, help="targets the draws sample (half of --events)"
    )
    parser.add_argument("--layout", choices=("late", "early"), default="late")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--jobs", type=int, default=None, help="signature processes")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of v1 and v2")
    parser.add_argument("--keep", metavar="NAME", help="keep and reuse database NAME, /tmp/NAME")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--profile", action="store_true", help="cProfile the v2 offline verify")
    args = parser.parse_args(argv)
    if args.targets is None:
        args.targets = args.events // 2
    with bench_services("ssj_bench_bundle", args.keep, sqlite=args.sqlite) as (
        services,
        data_dir,
        _,
    ):
        fill_rate = set_up(services, data_dir, args)  # resumable: marker files say what is done
        with tempfile.TemporaryDirectory() as scratch:  # the bundle files are not kept
            rows = measure(services, Path(scratch), args, fill_rate)
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    title = f"Audit bundle v2 and v1, {backend}, {os.cpu_count()} cores"
    print_table(console, title, ("measure", "v2", "v1", "target (v2)", "met"), rows)
    return rows


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (signature and replay pools)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


Run = tuple[float, int, float, float, int, int]  # export s, bytes, verify s, CPU s, events, draws


def _one(ledger: Ledger, path: Path, fmt: str, jobs: int | None, profile: bool) -> Run:
    t0 = time.perf_counter()
    summary = export_bundle(ledger, path, fmt=fmt)
    export_s = time.perf_counter() - t0
    profiler = cProfile.Profile() if profile else None
    cpu0 = _cpu()
    t0 = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    audit = audit_bundle(path, jobs=jobs)
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    verify_s = time.perf_counter() - t0
    verify_cpu = _cpu() - cpu0
    path.unlink()
    if not audit.ok:
        raise SystemExit(f"the {fmt} bundle failed verification: {audit.result.report.first}")
    passed = sum(d.status == "passed" for d in audit.draws)
    return export_s, summary.bytes, verify_s, verify_cpu, audit.result.events, passed


def measure(
    services: Services, tmp: Path, args: argparse.Namespace, fill_rate: float
) -> list[tuple[str, ...]]:
    """v1 and v2 from the same ledger, alternating (v1 first in even rounds, v2 first in odd
    ones), medians over the rounds; then `ssj verify` on the database once."""
    ledger = services.ledger
    size = ledger.size()
    rows: list[tuple[str, ...]] = []
    if fill_rate:
        rows.append(("set-up: fill", f"{fill_rate:,.0f} events/s", "", "", ""))
    runs: dict[str, list[Run]] = {V1: [], V2: []}
    load_before = _load()
    for r in range(args.rounds):
        for fmt in (V1, V2) if r % 2 == 0 else (V2, V1):
            console.print(f"round {r + 1}: {fmt} export and offline verify (load {_load()}) …")
            path = tmp / "ledger.ssjbundle"
            runs[fmt].append(_one(ledger, path, fmt, args.jobs, args.profile and fmt == V2))
    load_after = _load()

    def med(fmt: str, i: int) -> float:
        return statistics.median(run[i] for run in runs[fmt])

    events = runs[V2][0][4]
    per_event = {f: med(f, 1) / events for f in (V1, V2)}
    rate = {f: events / med(f, 2) for f in (V1, V2)}
    rows.append(
        (
            "ledger",
            f"{size:,} events ({args.layout} layout), {runs[V2][0][5]} draws re-run",
            "",
            "",
            "",
        )
    )
    rows.append(
        (
            "(a) export: bundle size",
            f"{per_event[V2]:,.0f} bytes/event ({med(V2, 1) / 1e6:,.0f} MB)",
            f"{per_event[V1]:,.0f} bytes/event ({med(V1, 1) / 1e6:,.0f} MB)",
            f"<= {BYTES_TARGET} bytes/event",
            "met" if per_event[V2] <= BYTES_TARGET else "MISSED",
        )
    )
    rows.append(
        (
            "(a) export: speed",
            f"{events / med(V2, 0):,.0f} events/s ({med(V2, 0):.1f} s)",
            f"{events / med(V1, 0):,.0f} events/s ({med(V1, 0):.1f} s)",
            "",
            "",
        )
    )
    rows.append(
        (
            "(b) offline verify (ssj audit verify)",
            f"{rate[V2]:,.0f} events/s ({med(V2, 2):.1f} s)",
            f"{rate[V1]:,.0f} events/s ({med(V1, 2):.1f} s)",
            f">= {TARGET:,} events/s",
            "met" if rate[V2] >= TARGET else "MISSED",
        )
    )
    rows.append(
        ("(b) CPU seconds, all processes", f"{med(V2, 3):.1f}", f"{med(V1, 3):.1f}", "", "")
    )
    rows.append(("(b) v2 / v1 speed", f"{rate[V2] / rate[V1]:.2f}x", "", "", ""))
    bound = signature_bound(ledger.suite)
    rows.append(
        (
            "(b) this machine's signature bound (cores x one core's verifies/s)",
            f"{bound:,.0f} events/s (v2 at {rate[V2] / bound:.2f} of it)",
            "",
            "",
            "",
        )
    )
    console.print("ssj verify on the database …")
    t0 = time.perf_counter()
    report = verify_ledger(ledger, jobs=args.jobs)
    db_s = time.perf_counter() - t0
    if not report.ok:
        raise SystemExit(f"the ledger failed verification: {report.first}")
    rows.append(("(c) ssj verify (database)", f"{report.size / db_s:,.0f} events/s", "", "", ""))
    rows.append(("load average 1/5/15 min", f"before {load_before}", f"after {load_after}", "", ""))
    rows.append(("rounds (medians)", str(args.rounds), "", "", ""))
    return rows


if __name__ == "__main__":
    main()

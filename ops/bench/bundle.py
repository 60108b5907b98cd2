"""Offline audit bundle benchmark: export and offline verify of a 1,000,000-event ledger, against
`ssj verify` on the database in the same run.

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

Measured: (a) `export_bundle` of the whole ledger (events/s, file size); (b) `audit_bundle` on
that file with no database: manifest, signatures (in worker processes), chain, Merkle roots,
checkpoints, consistency proofs and every draw re-run, the draws replayed in a second process
beside the ledger check (events/s; target >= 12,000/s on 2 cores);
(c) `verify_ledger` (`ssj verify`) on the database, and the ratio (b)/(c).

Needs PostgreSQL: SSJ_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
a scratch database is created, migrated and dropped (unless --keep). --sqlite uses SQLite.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path

from rich.console import Console

from ops.bench.common import bench_services, print_table
from ops.bench.ledger import ACTOR, thing
from ssj.demo import DEFAULT_SEED, draws
from ssj.demo.jurisdiction import build
from ssj.ledger.application import Ledger
from ssj.ledger.audit import verify_ledger
from ssj.services.audit_bundle import audit_bundle, export_bundle
from ssj.services.context import Services

console = Console(width=120)
TARGET = 12_000
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


def main(argv: list[str] | None = None) -> list[tuple[str, str, str]]:
    """Runs the benchmark, prints its table and returns its rows (ops.bench all)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--targets", type=int, default=None, help="targets the draws sample (half of --events)"
    )
    parser.add_argument("--layout", choices=("late", "early"), default="late")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--jobs", type=int, default=None, help="signature processes")
    parser.add_argument("--keep", metavar="NAME", help="keep and reuse database NAME, /tmp/NAME")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--profile", action="store_true", help="cProfile the offline verify")
    args = parser.parse_args(argv)
    if args.targets is None:
        args.targets = args.events // 2
    with bench_services("ssj_bench_bundle", args.keep, sqlite=args.sqlite) as (
        services,
        data_dir,
        _,
    ):
        fill_rate = set_up(services, data_dir, args)  # resumable: marker files say what is done
        with tempfile.TemporaryDirectory() as scratch:  # the bundle file is not kept
            rows = measure(services, Path(scratch), args, fill_rate)
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    title = f"Audit bundle, {backend}, {os.cpu_count()} cores"
    print_table(console, title, ("measure", "result", "target"), rows)
    return rows


def measure(
    services: Services, tmp: Path, args: argparse.Namespace, fill_rate: float
) -> list[tuple[str, str, str]]:
    ledger = services.ledger
    size = ledger.size()
    rows: list[tuple[str, str, str]] = []
    if fill_rate:
        rows.append(("set-up: fill", f"{fill_rate:,.0f} events/s", ""))
    path = tmp / "ledger.ssjbundle"
    console.print(f"(a) exporting {size:,} events …")
    t0 = time.perf_counter()
    summary = export_bundle(ledger, path)
    export_s = time.perf_counter() - t0
    rows.append(
        (
            "(a) export (whole ledger)",
            f"{summary.events / export_s:,.0f} events/s ({export_s:.1f} s, "
            f"{summary.bytes / 1e6:,.0f} MB)",
            "",
        )
    )
    console.print("(b) offline verify …")
    profiler = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    audit = audit_bundle(path, jobs=args.jobs)
    if profiler is not None:
        profiler.disable()
    bundle_s = time.perf_counter() - t0
    if not audit.ok:
        raise SystemExit(f"the bundle failed verification: {audit.result.report.first}")
    passed = sum(d.status == "passed" for d in audit.draws)
    bundle_rate = audit.result.events / bundle_s
    as_of = sorted(int(d.verification.facts["as_of_seq"]) for d in audit.draws if d.verification)
    if as_of:
        rows.append(
            (
                f"ledger ({args.layout} layout)",
                f"{size:,} events; draws' registries as of seq {as_of[0]:,}–{as_of[-1]:,}; "
                f"{len(audit.result.selected):,} registry, plan and draw events replayed",
                "",
            )
        )
    rows.append(
        (
            f"(b) offline verify, {passed} draws re-run",
            f"{bundle_rate:,.0f} events/s ({bundle_s:.1f} s)",
            f"{'met' if bundle_rate >= TARGET else 'MISSED'} (>= {TARGET:,}/s)",
        )
    )
    console.print("(c) ssj verify on the database …")
    t0 = time.perf_counter()
    report = verify_ledger(ledger, jobs=args.jobs)
    db_s = time.perf_counter() - t0
    if not report.ok:
        raise SystemExit(f"the ledger failed verification: {report.first}")
    db_rate = report.size / db_s
    rows.append(("(c) ssj verify (database)", f"{db_rate:,.0f} events/s ({db_s:.1f} s)", ""))
    rows.append(("(b) / (c)", f"{bundle_rate / db_rate:.2f}x", ""))
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return rows


if __name__ == "__main__":
    main()

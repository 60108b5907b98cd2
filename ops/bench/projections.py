"""Projection catch-up benchmark: every read model rebuilt from seq 0 on a ledger of the real mix
(registry, plans, draws, tasks and follow-ups), on PostgreSQL and SQLite, against a plain write of
the same number of rows on the same backend in the same run.

    python -m ops.bench.projections                     (about 300,000 events per backend)
    python -m ops.bench.projections --targets 30000     (quick run)
    python -m ops.bench.projections --keep ssj_bench_proj   (build once, reuse afterwards)

Set-up (timed, not a target): the assessment benchmark's year (`ops.bench.assessment.set_up`):
the demo jurisdiction with its plans, draws and inspections, --targets more targets, a plan and
a draw per section and every drawn task's lifecycle with follow-ups.

Measured, per backend: (a) `Runner.rebuild` — every read model dropped and the whole ledger
replayed into it (what `ssj projections rebuild` and a daemon starting on fresh read models do);
target >= 25,000 events/s. Baseline, same run: (b) the backend writing as many rows as (a)
applied events, plainly — PostgreSQL COPY, SQLite one executemany — into one table of
(seq, text) rows of a typical read-model row's size; the ratio (a)/(b) says how far catch-up is
from the backend's bulk-write speed. (c) reading and decoding the log alone (`Ledger.read`,
the collector paused as in a catch-up), for where the time goes. The CPU seconds of this
process are printed beside wall time (on a shared machine they move less with the load), those
of the second process a rebuild starts where a core is free ("apart") and, on PostgreSQL,
those of the whole local server ("server": read from /proc, so only where the server runs on
this machine and its processes can be read); where the rebuild's time went (`Runner.phases`:
the replay, the read indexes, the wait for the second process, taking its tables in); the load
average before and after.

Needs a PostgreSQL server for its rows: SSJ_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres); scratch databases are created and dropped.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from ops.bench.common import bench_services, print_table, server_cpu
from projections.runner import REBUILD_PHASES
from ssj import collector
from ssj.demo import DEFAULT_SEED
from ssj.services.context import Services

console = Console()
TARGET = 25_000  # events/s
ROW = "x" * 300  # about a read-model row's state


@dataclass
class Result:
    backend: str
    events: int
    seconds: float
    cpu_seconds: float  # of this process (on PostgreSQL the server's work is not in it)
    baseline_seconds: float
    read_seconds: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    apart_cpu_seconds: float = 0.0  # of a rebuild's second process (`Runner.rebuild`)
    server_cpu_seconds: float | None = None  # of the local PostgreSQL server (`server_cpu`)
    phases: dict[str, float] = field(default_factory=dict)  # of the rebuild (`Runner.phases`)
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def all_cpu_seconds(self) -> float:
        """Of every process the rebuild used that could be counted."""
        return self.cpu_seconds + self.apart_cpu_seconds + (self.server_cpu_seconds or 0.0)

    @property
    def baseline_rate(self) -> float:
        return self.events / self.baseline_seconds

    @property
    def read_rate(self) -> float:
        return self.events / self.read_seconds


def baseline(services: Services, rows: int) -> float:
    """Seconds the read-model database takes to write `rows` plain rows in one transaction."""
    store = services.store
    data = [(i, ROW) for i in range(rows)]
    with store.transaction() as c:
        c.execute("DROP TABLE IF EXISTS bench_baseline")
        c.execute("CREATE TABLE bench_baseline (seq BIGINT PRIMARY KEY, state TEXT NOT NULL)")
    t0 = time.perf_counter()
    if store.is_postgres:
        pool = store.pool  # type: ignore[attr-defined]
        copying = "COPY bench_baseline (seq, state) FROM STDIN"
        with pool.connection() as conn, conn.cursor() as cur, cur.copy(copying) as copy:
            for row in data:
                copy.write_row(row)
    else:
        with store.transaction() as c:
            c.executemany("INSERT INTO bench_baseline (seq, state) VALUES (?, ?)", data)
    elapsed = time.perf_counter() - t0
    with store.transaction() as c:
        c.execute("DROP TABLE bench_baseline")
    return elapsed


def read_all(services: Services) -> float:
    """Seconds to read and decode the whole log, as a catch-up reads it: with the cyclic
    collector paused (`Runner.catch_up`). With it running, the same read took about twice as
    long (the bench ledger read whole on SQLite in batches of 10,000: 5.2-5.3 against 3.1 CPU-s,
    2026-12-07), which this row counted as the log's cost until then."""
    size = services.ledger.size()
    t0 = time.perf_counter()
    start = 0
    with collector.paused():
        while start < size:
            batch = services.ledger.read(start, 5000)
            start = batch[-1].seq + 1
    return time.perf_counter() - t0


def measure(services: Services, backend: str) -> Result:
    load_before = os.getloadavg()
    read_seconds = read_all(services)
    server = server_cpu(services)
    s0 = server() if server else 0.0
    t0, c0, a0 = time.perf_counter(), time.process_time(), children_cpu()
    events = services.runner.rebuild()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    apart = children_cpu() - a0
    served = server() - s0 if server else None
    base = baseline(services, events)
    load_after = os.getloadavg()
    return Result(
        backend,
        events,
        seconds,
        cpu,
        base,
        read_seconds,
        load_before,
        load_after,
        apart_cpu_seconds=apart,
        server_cpu_seconds=served,
        phases=dict(services.runner.phases),
    )


def children_cpu() -> float:
    """CPU seconds of this process's ended children (a rebuild's second process)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def build(services: Services, data_dir: Any, targets: int, seed: int) -> list[tuple[str, ...]]:
    from ops.bench import assessment

    args = argparse.Namespace(targets=targets, seed=seed)
    return [tuple(r) for r in assessment.set_up(services, data_dir, args)]


def run(targets: int, seed: int = DEFAULT_SEED, keep: str | None = None) -> list[Result]:
    """Build (or reuse) a ledger per backend and measure catch-up from zero on each."""
    results: list[Result] = []
    for backend in ("postgresql", "sqlite"):
        name = f"{keep}_{backend}" if keep else None
        sqlite = backend == "sqlite"
        with bench_services("ssj_bench_proj", name, sqlite=sqlite) as (services, data_dir, existed):
            if not existed:
                console.print(f"[{backend}] set-up …")
                t0 = time.perf_counter()
                build(services, data_dir, targets, seed)
                console.print(
                    f"[{backend}] set-up: {services.ledger.size():,} events in "
                    f"{time.perf_counter() - t0:.0f} s"
                )
            results.append(measure(services, backend))
    return results


def load_text(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def rows_of(results: list[Result]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    for r in results:
        rows.append(
            (
                f"{r.backend}: (a) catch-up from zero, {r.events:,} events",
                f"{r.rate:,.0f} events/s ({r.seconds:.1f} s; CPU here {r.cpu_seconds:.1f} s"
                + (f" + {r.apart_cpu_seconds:.1f} s apart" if r.apart_cpu_seconds else "")
                + (
                    f" + {r.server_cpu_seconds:.1f} s server"
                    if r.server_cpu_seconds is not None
                    else ""
                )
                + f": {r.events / r.all_cpu_seconds:,.0f} events per CPU second)",
                f">= {TARGET:,} events/s",
                "met" if r.rate >= TARGET else "MISSED",
            )
        )
        rows.append(
            (
                f"{r.backend}: (a) where its time went",
                ", ".join(
                    f"{REBUILD_PHASES[name][1]} {seconds:.1f} s"
                    for name, seconds in r.phases.items()
                ),
                "",
                "",
            )
        )
        plain = "COPY" if r.backend == "postgresql" else "executemany"
        rows.append(
            (
                f"{r.backend}: (b) baseline: {plain} of {r.events:,} rows",
                f"{r.baseline_rate:,.0f} rows/s",
                "",
                f"(a)/(b) = {r.rate / r.baseline_rate:.2f}x",
            )
        )
        rows.append(
            (
                f"{r.backend}: (c) reading and decoding the log alone",
                f"{r.read_rate:,.0f} events/s",
                "",
                f"load {load_text(r.load_before)} → {load_text(r.load_after)}",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> list[Result]:
    """Runs the benchmark, prints its table and returns its results (ops.bench all)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--keep",
        metavar="NAME",
        help="keep databases NAME_postgresql, NAME_sqlite (data in /tmp/NAME_*) and reuse them",
    )
    args = parser.parse_args(argv)
    results = run(args.targets, args.seed, args.keep)
    print_table(
        console,
        "Projection catch-up benchmark",
        ("measure", "result", "target", "verdict"),
        rows_of(results),
    )
    return results


if __name__ == "__main__":
    main()

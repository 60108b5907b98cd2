"""Ledger benchmark: plain eventsourcing vs the ssj ledger under each cryptographic suite, and
`ssj verify` throughput under each suite.

    python -m ops.bench.ledger            (or: make bench)
    python -m ops.bench.ledger --suite ed25519-sha256     (one suite only)
    python -m ops.bench.ledger --keep     (verify ledgers kept and reused: filled once)

Same machine, same database kind, same workload, interleaved rounds (plain, ed25519-sha256,
sm2-sm3 in turn) after --warm-up uncounted 1-event commits on each (SQLite's WAL at its full
size); the table reports events/s and the ratio ssj / plain (target >= 0.8 for the
default suite, ed25519-sha256; sm2-sm3 rows are reported beside it with their ratio to
ed25519-sha256), then `ssj verify` throughput over a ledger of --verify-events events
(ed25519-sha256, target >= 30,000 events/s) and --sm-verify-events (sm2-sm3, reported), with
the CPU seconds of the verifying process tree beside the wall time and the load average before
and after, and the machine's signature bound measured in the same run: this many cores times one
core's signature verifications per second through the suite's own binding (libsodium for
Ed25519), which no verification of one signature per event can pass. PostgreSQL rows need SSJ_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres; scratch databases are created and dropped unless
--keep). sm2-sm3 needs `pip install 'ssj[sm]'`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from rich.console import Console
from rich.table import Table

from ops.bench.procs import fastest_cpu_seconds
from ssj.config import DatabaseURL, Settings
from ssj.ledger.application import Ledger
from ssj.ledger.audit import verify_ledger
from ssj.ledger.envelope import Actor
from ssj.ledger.migrate import migrate
from ssj.ledger.suite import ED25519_SHA256, NAMES, SM2_SM3, Suite
from ssj.ledger.suite import get as get_suite
from ssj.processes import process_cpu

ACTOR = Actor("bench", "bench-dept", "operator")


class Thing(Aggregate):
    @event("Created")
    def __init__(self, name: str, payload: dict[str, str]) -> None:
        self.name = name
        self.payload = payload


def thing(i: int) -> Thing:
    return Thing(
        f"target-{i}",
        {"uscc": f"91320100MA{i:08d}", "address": "江苏省常州市天宁区某路 1 号", "class": "B"},
    )


class Plain(Application[uuid.UUID]):
    name = "plain"


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(
        database=DatabaseURL.parse(url),
        data_dir=data_dir,
        keys_dir=data_dir / "keys",
        checkpoint_every_events=0,
        checkpoint_every_seconds=10**9,
        create_tables=True,
    )


def plain_env(settings: Settings, sqlite_path: Path) -> dict[str, str]:
    db = settings.database
    if db.is_postgres:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": db.dbname,
            "POSTGRES_HOST": db.host,
            "POSTGRES_PORT": str(db.port),
            "POSTGRES_USER": db.user,
            "POSTGRES_PASSWORD": db.password,
            "POSTGRES_LOCK_TIMEOUT": "10",
        }
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(sqlite_path)}


def save_as(ledger: Ledger, things: list[Thing]) -> object:
    return ledger.save(*things, actor=ACTOR)


def rate(
    save: Callable[[list[Thing]], object],
    commits: int,
    batch: int,
    start: int,
    cpu: Callable[[], float] = lambda: 0.0,
) -> tuple[float, float]:
    """(events/s by the wall clock, CPU microseconds per event by `cpu`)."""
    items = [[thing(start + c * batch + i) for i in range(batch)] for c in range(commits)]
    c0, t0 = cpu(), time.perf_counter()
    for group in items:
        save(group)
    elapsed, used = time.perf_counter() - t0, cpu() - c0
    return commits * batch / elapsed, used * 1e6 / (commits * batch)


def tree_cpu(settings: Settings) -> Callable[[], float]:
    """CPU seconds so far of what an append uses: this process, the signer processes and,
    on PostgreSQL, the server processes serving the database (what a shared machine
    stretches in wall time but not in CPU time)."""
    from ssj.ledger import signing

    db = settings.database

    def backends() -> list[int]:
        if not db.is_postgres:
            return []
        admin = replace(db, dbname="postgres").url()
        with psycopg.connect(admin, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (db.dbname,),
            ).fetchall()
        return [r[0] for r in rows]

    def used() -> float:
        pids = [*signing.pids(), *backends()]
        return time.process_time() + sum(map(process_cpu, pids))

    return used


# backend, workload, plain events/s, {suite: ssj events/s, "CPU " + plain or suite: CPU µs/event}
Row = tuple[str, str, float, dict[str, float]]
CPU = "CPU "


def compare(
    backend: str,
    ledgers: dict[str, Settings],
    plain_settings: Settings,
    tmp: Path,
    rounds: int,
    singles: int,
    batches: int,
    warm_up: int,
) -> list[Row]:
    """Plain eventsourcing and an ssj ledger per suite, rounds interleaved, after `warm_up`
    uncounted 1-event commits on each: SQLite's WAL file grows to its checkpoint size (~4 MiB)
    over the first commits, and a commit that extends the file also syncs its new size. Without
    them plain eventsourcing's first two rounds of 300 ran at half its later rate (ssj, writing
    more pages a commit, reached its own sooner), and a median of three rounds counted that."""
    plain = Plain(env=plain_env(plain_settings, tmp / f"plain-{backend}.sqlite"))
    opened: dict[str, Ledger] = {}
    for name, settings in ledgers.items():
        opened[name] = Ledger(settings)
        opened[name].initialise(suite=get_suite(name))
    rows: list[Row] = []
    n = 0
    rate(lambda g: plain.save(*g), warm_up, 1, n)
    n += warm_up
    for ledger in opened.values():
        rate(partial(save_as, ledger), warm_up, 1, n)
        n += warm_up
    for label, commits, batch in (
        ("1-event commits", singles, 1),
        ("100-event batches", batches, 100),
    ):
        p_rates: list[float] = []
        p_cpu: list[float] = []
        s_rates: dict[str, list[float]] = {name: [] for name in opened}
        s_cpu: dict[str, list[float]] = {name: [] for name in opened}
        for _ in range(rounds):
            wall, cpu = rate(lambda g: plain.save(*g), commits, batch, n, tree_cpu(plain_settings))
            p_rates.append(wall)
            p_cpu.append(cpu)
            n += commits * batch
            for name, ledger in opened.items():
                save = partial(save_as, ledger)
                wall, cpu = rate(save, commits, batch, n, tree_cpu(ledgers[name]))
                s_rates[name].append(wall)
                s_cpu[name].append(cpu)
                n += commits * batch
        medians = {name: statistics.median(r) for name, r in s_rates.items()}
        medians[CPU + "plain"] = statistics.median(p_cpu)
        medians.update({CPU + name: statistics.median(c) for name, c in s_cpu.items()})
        rows.append((backend, label, statistics.median(p_rates), medians))
    plain.close()
    for ledger in opened.values():
        ledger.close()
    return rows


def fill(ledger: Ledger, events: int, suite: Suite) -> None:
    ledger.initialise(suite=suite)
    have = ledger.size()
    i = have
    while i < events:
        count = min(500, events - i)
        ledger.save(*[thing(i + j) for j in range(count)], actor=ACTOR)
        i += count
    ledger.issue_checkpoint()


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the verifier's worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def verify_rate(ledger: Ledger) -> tuple[int, float, float]:
    """(events, events/s, CPU seconds) of one `ssj verify` over the ledger."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    report = verify_ledger(ledger)
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds() - c0
    if not report.ok:
        raise SystemExit(f"benchmark ledger failed verification: {report.first}")
    return report.size, report.size / elapsed, cpu


def signature_bound(suite: Suite, count: int = 2000, size: int = 300, tries: int = 3) -> float:
    """Signatures per second that all cores verify at most: cores x one core's rate
    (`verifies_per_core`). Measured in each run because it is the machine, not ssj, that sets
    it."""
    return (os.cpu_count() or 1) * verifies_per_core(suite, count, size, tries)


def verifies_per_core(suite: Suite, count: int = 2000, size: int = 300, tries: int = 3) -> float:
    """One core's verifications a second (CPU time) through `suite.public_key(...).verify`, on
    `size`-byte messages (an envelope's length), the best of `tries` (other work on the
    machine only lowers it)."""
    private = suite.generate()
    signer = suite.private_key(private)
    public = suite.public_key(suite.public_material(private))
    messages = [os.urandom(size) for _ in range(count)]
    signed = [(m, signer.sign(m)) for m in messages]

    def verify_all() -> None:
        if not all(public.verify(m, sig) for m, sig in signed):
            raise SystemExit("the suite rejected its own signatures")

    return count / fastest_cpu_seconds(verify_all, tries)


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


KEEP_DIR = Path("/tmp/ssj_bench_ledger_verify")
APPEND_TARGET = 0.8
VERIFY_TARGET = 30_000
# backend, suite, events, /s, CPU s, loads before and after, signature bound /s
VerifyRow = tuple[str, str, int, float, float, str, str, float]


def main(
    argv: list[str] | None = None,
) -> tuple[list[Row], list[tuple[str, str, int, float, float]], list[str]]:
    """Runs the benchmark, prints its tables and returns their figures (ops.bench all)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    # Seven rounds of 1,000 commits and of 50 batches (each ~0.2 s on a fast machine): the
    # median of three rounds of 300 and of 20 (~60 ms each) read the SQLite 100-event row at
    # 0.68-1.03x, median 0.75x, where these read 0.75-0.94x, median 0.82x, alternated on the
    # same code (2026-12-06, docs/operators/benchmarks.md, ledger section).
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--singles", type=int, default=1000, help="1-event commits per round")
    parser.add_argument("--batches", type=int, default=50, help="100-event batches per round")
    parser.add_argument(
        "--warm-up", type=int, default=1000, help="uncounted 1-event commits on each side first"
    )
    parser.add_argument("--verify-events", type=int, default=1_000_000)
    parser.add_argument("--sm-verify-events", type=int, default=20_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-append", action="store_true", help="only the verify rows")
    parser.add_argument(
        "--keep",
        action="store_true",
        help=f"keep the verify ledgers ({KEEP_DIR}, databases ssj_bench_ledger_verify_*)",
    )
    parser.add_argument(
        "--suite", action="append", choices=NAMES, help="only these suites (default: both)"
    )
    args = parser.parse_args(argv)
    chosen = args.suite or list(NAMES)
    console = Console(width=140)
    pg_admin = os.environ.get(
        "SSJ_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    rows: list[Row] = []
    verify_rows: list[VerifyRow] = []
    dbnames: list[str] = []
    loads = [("start", load())]
    console.print(f"load average at the start: {loads[0][1]}")

    def pg_database(name: str, keep: bool) -> str:
        dbname = (
            f"ssj_bench_ledger_verify_{name.replace('-', '_')}"
            if keep
            else (f"ssj_bench_{uuid.uuid4().hex[:8]}")
        )
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
            if found.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{dbname}"')
        if not keep:
            dbnames.append(dbname)
        return dbname

    def pg_settings(name: str, data: Path, keep: bool = False) -> Settings:
        pg_url = replace(DatabaseURL.parse(pg_admin), dbname=pg_database(name, keep))
        settings = settings_for(pg_url.url(), data)
        migrate(settings)
        return replace(settings, create_tables=False)

    with tempfile.TemporaryDirectory(prefix="ssj-bench-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            if not args.no_append:
                backends: list[tuple[str, dict[str, Settings]]] = []
                backends.append(
                    (
                        "SQLite",
                        {
                            name: settings_for(
                                f"sqlite:///{tmp / f'ssj-{name}.sqlite'}", tmp / f"data-{name}"
                            )
                            for name in chosen
                        },
                    )
                )
                if not args.no_postgres:
                    pg = {name: pg_settings(name, tmp / f"data-pg-{name}") for name in chosen}
                    backends.append(("PostgreSQL", pg))
                for backend, ledgers in backends:
                    first = next(iter(ledgers.values()))
                    rows += compare(
                        backend,
                        ledgers,
                        first,
                        tmp,
                        args.rounds,
                        args.singles,
                        args.batches,
                        args.warm_up,
                    )
                loads.append(("after appends", load()))
            base = KEEP_DIR if args.keep else tmp / "verify"
            for name in chosen:
                events = args.verify_events if name == ED25519_SHA256 else args.sm_verify_events
                if events <= 0:
                    continue
                targets = [
                    (
                        "SQLite",
                        settings_for(
                            f"sqlite:///{base / f'ssj-{name}.sqlite'}", base / f"data-{name}"
                        ),
                    )
                ]
                if not args.no_postgres:
                    targets.append(
                        ("PostgreSQL", pg_settings(name, base / f"data-pg-{name}", args.keep))
                    )
                for backend, settings in targets:
                    ledger = Ledger(settings)
                    console.print(f"filling the {backend} {name} ledger to {events:,} events …")
                    fill(ledger, events, get_suite(name))
                    bound = signature_bound(get_suite(name))
                    before = load()
                    size, per_s, cpu = verify_rate(ledger)
                    verify_rows.append((backend, name, size, per_s, cpu, before, load(), bound))
                    ledger.close()
        finally:
            for dbname in dbnames:
                with psycopg.connect(pg_admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    loads.append(("end", load()))
    print_tables(console, rows, verify_rows, chosen)
    console.print(
        "load average (1, 5, 15 min): " + "; ".join(f"{label} {value}" for label, value in loads)
    )
    verified = [(b, n, size, per_s, bound) for b, n, size, per_s, *_, bound in verify_rows]
    return rows, verified, chosen


def print_tables(
    console: Console, rows: list[Row], verify_rows: list[VerifyRow], chosen: list[str]
) -> None:
    if rows:
        table = Table(
            title="ledger append: events/s (median of interleaved rounds); CPU µs per event of "
            "the process, its signer processes and the database's server processes, and the "
            "ratio by CPU (plain / ssj: what the wall ratio would be on free cores)"
        )
        columns = ["backend", "workload", "plain eventsourcing"]
        for name in chosen:
            columns += [name, f"{name} / plain", f"{name} CPU µs/event (ratio)"]
        both = ED25519_SHA256 in chosen and SM2_SM3 in chosen
        if both:
            columns.append("sm2-sm3 / ed25519-sha256")
        for col in columns:
            table.add_column(col)
        for backend, label, plain_rate, rates in rows:
            plain_cpu = rates.get(CPU + "plain", 0.0)
            cells = [backend, label, f"{plain_rate:,.0f} ({plain_cpu:,.0f} µs/event CPU)"]
            for name in chosen:
                ratio = rates[name] / plain_rate
                mark = ""
                if name == ED25519_SHA256:
                    mark = " met" if ratio >= APPEND_TARGET else " MISSED"
                    mark += f" (>= {APPEND_TARGET}x)"
                cpu = rates.get(CPU + name, 0.0)
                by_cpu = f"{cpu:,.0f} ({plain_cpu / cpu:.2f}x)" if cpu else "not measured"
                cells += [f"{rates[name]:,.0f}", f"{ratio:.2f}x{mark}", by_cpu]
            if both:
                cells.append(f"{rates[SM2_SM3] / rates[ED25519_SHA256]:.2f}x")
            table.add_row(*cells)
        console.print(table)
    if verify_rows:
        vtable = Table(title=f"ssj verify ({os.cpu_count()} cores)")
        for col in (
            "backend",
            "suite",
            "events",
            "events/s",
            "CPU s",
            "load before / after",
            "signature bound /s (of it)",
            "target",
        ):
            vtable.add_column(col)
        for backend, name, size, per_s, cpu, before, after, bound in verify_rows:
            target = "reported"
            if name == ED25519_SHA256:
                met = per_s >= VERIFY_TARGET
                target = ("met" if met else "MISSED") + f" (>= {VERIFY_TARGET:,}/s)"
            vtable.add_row(
                backend,
                name,
                f"{size:,}",
                f"{per_s:,.0f}",
                f"{cpu:,.1f}",
                f"{before} / {after}",
                f"{bound:,.0f} ({per_s / bound:.2f})",
                target,
            )
        console.print(vtable)


if __name__ == "__main__":
    main()

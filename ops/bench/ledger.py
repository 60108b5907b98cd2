"""Ledger benchmark: plain eventsourcing vs the ssj ledger under each cryptographic suite, and
`ssj verify` throughput under each suite.

    python -m ops.bench.ledger            (or: make bench)
    python -m ops.bench.ledger --suite ed25519-sha256     (one suite only)

Same machine, same database kind, same workload, interleaved rounds (plain, ed25519-sha256,
sm2-sm3 in turn); the table reports events/s, the ratio ssj / plain (target >= 0.7) and the ratio
sm2-sm3 / ed25519-sha256 (target >= 0.5), then verify throughput over a ledger of
--verify-events events per suite (target >= 12,000 events/s; sm2-sm3 >= 0.5x ed25519-sha256).
PostgreSQL rows need SSJ_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres;
scratch databases are created and dropped). sm2-sm3 needs `pip install 'ssj[sm]'`.
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

from ssj.config import DatabaseURL, Settings
from ssj.ledger.application import Ledger
from ssj.ledger.audit import verify_ledger
from ssj.ledger.envelope import Actor
from ssj.ledger.migrate import migrate
from ssj.ledger.suite import ED25519_SHA256, NAMES, SM2_SM3, Suite
from ssj.ledger.suite import get as get_suite

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


def rate(save: Callable[[list[Thing]], object], commits: int, batch: int, start: int) -> float:
    items = [[thing(start + c * batch + i) for i in range(batch)] for c in range(commits)]
    t0 = time.perf_counter()
    for group in items:
        save(group)
    return commits * batch / (time.perf_counter() - t0)


Row = tuple[str, str, float, dict[str, float]]  # backend, workload, plain, suite -> ssj rate


def compare(
    backend: str,
    ledgers: dict[str, Settings],
    plain_settings: Settings,
    tmp: Path,
    rounds: int,
    singles: int,
    batches: int,
) -> list[Row]:
    """Plain eventsourcing and an ssj ledger per suite, rounds interleaved."""
    plain = Plain(env=plain_env(plain_settings, tmp / f"plain-{backend}.sqlite"))
    opened: dict[str, Ledger] = {}
    for name, settings in ledgers.items():
        opened[name] = Ledger(settings)
        opened[name].initialise(suite=get_suite(name))
    rows: list[Row] = []
    n = 0
    for label, commits, batch in (
        ("1-event commits", singles, 1),
        ("100-event batches", batches, 100),
    ):
        p_rates: list[float] = []
        s_rates: dict[str, list[float]] = {name: [] for name in opened}
        for _ in range(rounds):
            p_rates.append(rate(lambda g: plain.save(*g), commits, batch, n))
            n += commits * batch
            for name, ledger in opened.items():
                s_rates[name].append(rate(partial(save_as, ledger), commits, batch, n))
                n += commits * batch
        medians = {name: statistics.median(r) for name, r in s_rates.items()}
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


def verify_rate(ledger: Ledger) -> tuple[int, float]:
    t0 = time.perf_counter()
    report = verify_ledger(ledger)
    elapsed = time.perf_counter() - t0
    if not report.ok:
        raise SystemExit(f"benchmark ledger failed verification: {report.first}")
    return report.size, report.size / elapsed


def main(
    argv: list[str] | None = None,
) -> tuple[list[Row], list[tuple[str, str, int, float]], list[str]]:
    """Runs the benchmark, prints its tables and returns their figures (ops.bench all)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--singles", type=int, default=300, help="1-event commits per round")
    parser.add_argument("--batches", type=int, default=20, help="100-event batches per round")
    parser.add_argument("--verify-events", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--suite", action="append", choices=NAMES, help="only these suites (default: both)"
    )
    args = parser.parse_args(argv)
    chosen = args.suite or list(NAMES)
    console = Console(width=120)
    pg_admin = os.environ.get(
        "SSJ_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    rows: list[Row] = []
    verify_rows: list[tuple[str, str, int, float]] = []  # backend, suite, events, events/s
    dbnames: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ssj-bench-") as tmp_name:
        tmp = Path(tmp_name)
        backends: list[tuple[str, dict[str, Settings]]] = []
        sqlite = {
            name: settings_for(f"sqlite:///{tmp / f'ssj-{name}.sqlite'}", tmp / f"data-{name}")
            for name in chosen
        }
        backends.append(("SQLite", sqlite))
        try:
            if not args.no_postgres:
                pg: dict[str, Settings] = {}
                for name in chosen:
                    dbname = f"ssj_bench_{uuid.uuid4().hex[:8]}"
                    with psycopg.connect(pg_admin, autocommit=True) as conn:
                        conn.execute(f'CREATE DATABASE "{dbname}"')
                    dbnames.append(dbname)
                    pg_url = replace(DatabaseURL.parse(pg_admin), dbname=dbname)
                    settings = settings_for(pg_url.url(), tmp / f"data-pg-{name}")
                    migrate(settings)
                    pg[name] = replace(settings, create_tables=False)
                backends.append(("PostgreSQL", pg))
            for backend, ledgers in backends:
                first = next(iter(ledgers.values()))
                rows += compare(
                    backend, ledgers, first, tmp, args.rounds, args.singles, args.batches
                )
            console.print(f"filling ledgers to {args.verify_events:,} events for verify …")
            for backend, ledgers in backends:
                for name, settings in ledgers.items():
                    ledger = Ledger(settings)
                    fill(ledger, args.verify_events, get_suite(name))
                    size, per_s = verify_rate(ledger)
                    verify_rows.append((backend, name, size, per_s))
                    ledger.close()
        finally:
            for dbname in dbnames:
                with psycopg.connect(pg_admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    print_tables(console, rows, verify_rows, chosen)
    return rows, verify_rows, chosen


def _sm_target(sm: float, ed: float) -> str:
    ratio = sm / ed
    return f"{ratio:.2f}x " + ("ok (>= 0.5x)" if ratio >= 0.5 else "MISSED (< 0.5x)")


def print_tables(
    console: Console,
    rows: list[Row],
    verify_rows: list[tuple[str, str, int, float]],
    chosen: list[str],
) -> None:
    table = Table(title="ledger append: events/s (median of rounds)")
    columns = ["backend", "workload", "plain eventsourcing"]
    for name in chosen:
        columns += [name, f"{name} / plain"]
    both = ED25519_SHA256 in chosen and SM2_SM3 in chosen
    if both:
        columns.append("sm2-sm3 / ed25519-sha256")
    for col in columns:
        table.add_column(col)
    for backend, label, plain_rate, rates in rows:
        cells = [backend, label, f"{plain_rate:,.0f}"]
        for name in chosen:
            ratio = rates[name] / plain_rate
            mark = "ok" if ratio >= 0.7 else "MISSED"
            cells += [f"{rates[name]:,.0f}", f"{ratio:.2f}x {mark} (0.7x)"]
        if both:
            cells.append(_sm_target(rates[SM2_SM3], rates[ED25519_SHA256]))
        table.add_row(*cells)
    console.print(table)
    vtable = Table(title=f"ssj verify ({os.cpu_count()} cores)")
    for col in ("backend", "suite", "events", "events/s", "target", "sm2-sm3 / ed25519-sha256"):
        vtable.add_column(col)
    by = {(b, s): r for b, s, _, r in verify_rows}
    for backend, name, size, per_s in verify_rows:
        versus = ""
        if name == SM2_SM3 and (backend, ED25519_SHA256) in by:
            versus = _sm_target(per_s, by[(backend, ED25519_SHA256)])
        vtable.add_row(
            backend,
            name,
            f"{size:,}",
            f"{per_s:,.0f}",
            "ok (>= 12,000/s)" if per_s >= 12_000 else "MISSED (< 12,000/s)",
            versus,
        )
    console.print(vtable)


if __name__ == "__main__":
    main()

"""Ledger benchmark: plain eventsourcing vs the ssj ledger, and `ssj verify` throughput.

    python -m ops.bench.ledger            (or: make bench)

Same machine, same database, same workload, interleaved rounds; the table reports events/s and
the ratio ssj / plain (target >= 0.7 in every row), then verify throughput over a ledger of
--verify-events events (target >= 12,000 events/s). PostgreSQL rows need SSJ_BENCH_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/postgres; a scratch database is created and dropped).
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


class Plain(Application):
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


def rate(save: Callable[[list[Thing]], object], commits: int, batch: int, start: int) -> float:
    items = [[thing(start + c * batch + i) for i in range(batch)] for c in range(commits)]
    t0 = time.perf_counter()
    for group in items:
        save(group)
    return commits * batch / (time.perf_counter() - t0)


def compare(
    backend: str, settings: Settings, tmp: Path, rounds: int, singles: int, batches: int
) -> list[tuple[str, str, float, float]]:
    plain = Plain(env=plain_env(settings, tmp / f"plain-{backend}.sqlite"))
    ledger = Ledger(settings)
    ledger.initialise()
    rows = []
    n = 0
    for label, commits, batch in (
        ("1-event commits", singles, 1),
        ("100-event batches", batches, 100),
    ):
        p_rates, s_rates = [], []
        for _ in range(rounds):
            p_rates.append(rate(lambda g: plain.save(*g), commits, batch, n))
            n += commits * batch
            s_rates.append(rate(lambda g: ledger.save(*g, actor=ACTOR), commits, batch, n))
            n += commits * batch
        rows.append((backend, label, statistics.median(p_rates), statistics.median(s_rates)))
    plain.close()
    ledger.close()
    return rows


def fill(ledger: Ledger, events: int) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--singles", type=int, default=300, help="1-event commits per round")
    parser.add_argument("--batches", type=int, default=20, help="100-event batches per round")
    parser.add_argument("--verify-events", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    console = Console(width=120)
    pg_admin = os.environ.get(
        "SSJ_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    rows: list[tuple[str, str, float, float]] = []
    verify_rows: list[tuple[str, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="ssj-bench-") as tmp_name:
        tmp = Path(tmp_name)
        sqlite = settings_for(f"sqlite:///{tmp / 'ssj.sqlite'}", tmp / "data-sqlite")
        rows += compare("SQLite", sqlite, tmp, args.rounds, args.singles, args.batches)
        dbname = None
        if not args.no_postgres:
            dbname = f"ssj_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(pg_admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
        try:
            if dbname:
                pg_url = replace(DatabaseURL.parse(pg_admin), dbname=dbname)
                pg = settings_for(pg_url.url(), tmp / "data-pg")
                migrate(pg)
                pg = replace(pg, create_tables=False)
                rows += compare("PostgreSQL", pg, tmp, args.rounds, args.singles, args.batches)
            console.print(f"filling ledgers to {args.verify_events:,} events for verify …")
            for backend, settings in (("SQLite", sqlite), ("PostgreSQL", pg if dbname else None)):
                if settings is None:
                    continue
                ledger = Ledger(settings)
                fill(ledger, args.verify_events)
                size, per_s = verify_rate(ledger)
                verify_rows.append((backend, size, per_s))
                ledger.close()
        finally:
            if dbname:
                with psycopg.connect(pg_admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    table = Table(title="ledger append: events/s (median of rounds)")
    for col in ("backend", "workload", "plain eventsourcing", "ssj ledger", "ratio", "target"):
        table.add_column(col)
    for backend, label, plain_rate, ssj_rate in rows:
        ratio = ssj_rate / plain_rate
        table.add_row(
            backend,
            label,
            f"{plain_rate:,.0f}",
            f"{ssj_rate:,.0f}",
            f"{ratio:.2f}x",
            "ok (>= 0.7x)" if ratio >= 0.7 else "MISSED (< 0.7x)",
        )
    console.print(table)
    vtable = Table(title=f"ssj verify ({os.cpu_count()} cores)")
    for col in ("backend", "events", "events/s", "target"):
        vtable.add_column(col)
    for backend, size, per_s in verify_rows:
        vtable.add_row(
            backend,
            f"{size:,}",
            f"{per_s:,.0f}",
            "ok (>= 12,000/s)" if per_s >= 12_000 else "MISSED (< 12,000/s)",
        )
    console.print(vtable)


if __name__ == "__main__":
    main()

"""What the storage benchmarks share: a database to run in, and their result table."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from ops.bench.ledger import settings_for
from ssj.ledger.migrate import migrate
from ssj.processes import TICKS, cpu_ticks, stat_fields
from ssj.services.context import Services

ADMIN_URL = os.environ.get(
    "SSJ_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def server_cpu(services: Services) -> Callable[[], float] | None:
    """CPU seconds so far of the whole local PostgreSQL server serving `services` (its
    processes, and the ended ones its postmaster reaped: a rebuild's connections come and go),
    read from /proc; None on SQLite, or where the server's processes cannot be read (another
    host, another user's processes). On a machine whose load moves wall times, what the server
    spent moves less."""
    if not services.store.is_postgres:
        return None
    [(backend,)] = services.store.query("SELECT pg_backend_pid()")
    postmaster = stat_fields(int(backend))
    if postmaster is None:
        return None
    pid = int(postmaster[1])  # the backend's parent

    def used() -> float:
        own = stat_fields(pid)  # its own time and its reaped children's
        ticks = 0 if own is None else cpu_ticks(own, reaped=True)
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                fields = stat_fields(int(entry.name))
                if fields is not None and fields[1] == str(pid):
                    ticks += cpu_ticks(fields)
        return ticks / TICKS

    return used if stat_fields(pid) is not None else None


@contextmanager
def scratch_database(prefix: str, admin_url: str = ADMIN_URL) -> Iterator[str]:
    """The URL of a new database `prefix_<random>` on the server of `admin_url`, dropped
    afterwards whatever happened."""
    dbname = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{dbname}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@contextmanager
def bench_services(
    prefix: str, keep: str | None, *, sqlite: bool = False
) -> Iterator[tuple[Services, Path, bool]]:
    """(services, data directory, whether it existed already). A fresh PostgreSQL database
    named `prefix_<random>` in a scratch directory, dropped afterwards (`scratch_database`);
    with `keep`, database `keep` and `/tmp/<keep>`, created once and kept, so set-up runs once
    and later runs only measure. `sqlite`: a SQLite file in the data directory instead."""
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        data_dir = Path(f"/tmp/{keep}") if keep else scratch
        data_dir.mkdir(parents=True, exist_ok=True)
        if sqlite:
            existed = (data_dir / "ssj.sqlite").exists()
            url = f"sqlite:///{data_dir / 'ssj.sqlite'}"
        elif keep:
            existed = _kept_database(keep)
            url = ADMIN_URL.rsplit("/", 1)[0] + f"/{keep}"
        else:
            existed, url = False, stack.enter_context(scratch_database(prefix))
        settings = settings_for(url, data_dir)
        if not sqlite:
            migrate(settings)
        services = Services(settings)
        try:
            yield services, data_dir, existed
        finally:
            services.close()


def _kept_database(dbname: str) -> bool:
    """Whether database `dbname` existed; made if not (kept afterwards)."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            return True
        conn.execute(f'CREATE DATABASE "{dbname}"')
    return False


def stand_in_for_autovacuum(dbname: str, say: Callable[[str], object]) -> None:
    """`VACUUM (ANALYZE)` the database where the cluster runs with autovacuum off (as this
    machine's does), as autovacuum would have after the set-up's bulk writes: without it the
    planner has no statistics (a generic plan chose parallel hash joins for a one-row lookup)
    and no index-only scan skips the heap (no visibility map). A production cluster keeps
    autovacuum on (PostgreSQL's default; docs/operators/production.md)."""
    with psycopg.connect(ADMIN_URL.rsplit("/", 1)[0] + f"/{dbname}", autocommit=True) as conn:
        found = conn.execute("SHOW autovacuum").fetchone()
        if found is not None and found[0] == "off":
            say("autovacuum is off on this cluster: VACUUM (ANALYZE) in its place …")
            conn.execute("VACUUM (ANALYZE)")


def print_table(
    console: Console, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]
) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)

"""This machine against the one issue #13 set its targets on.

    python -m ops.bench.machine

Issue #13 states the hardware limits of the 2-core machine behind its targets: SHA-256 of
1,000,000 short ids in about 0.37 s per core, Ed25519 about 50,000 signatures and 20,000
verifications a second per core with libsodium, PostgreSQL COPY about 150,000 rows/s. Each is
measured here as the issue words it and shown beside the issue's figure with their ratio (above
1: this machine is faster), so that a run's figures can be read against the machine they ran on.
The targets stay the issue's on any machine; on one at two thirds of the issue's rates, a target
met with a third to spare there is only just met here. `python -m ops.bench all` measures this
at its start and its end (the recent machines moved by half within minutes).

- SHA-256: the CPU seconds of one core hashing `IDS` 18-character ids (USCC-shaped, as bytes)
  one call each, scaled to 1,000,000; the fastest of three.
- Ed25519: one core's signatures a second on 300-byte messages (an envelope's length) through
  the default suite's binding (`ssj.ledger.suite`, libsodium), and its verifications a second
  (`ops.bench.ledger.verifies_per_core`); the fastest of three.
- COPY: rows a second of `COPY ... FROM STDIN` of `COPY_ROWS` rows of (seq, 300 characters) into
  a table with a primary key, as the catch-up benchmark's baseline writes them, in a scratch
  database created and dropped here (SSJ_BENCH_POSTGRES_URL); the fastest of three by wall
  time (the server's work is in it). Not measured where no server answers.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from dataclasses import dataclass

import psycopg
from rich.console import Console

from ops.bench.common import ADMIN_URL, print_table, scratch_database
from ops.bench.ledger import verifies_per_core
from ops.bench.procs import fastest_cpu_seconds
from ops.bench.projections import ROW
from ssj.ledger.suite import Suite, get

IDS = 1_000_000
SIGNATURES = 2_000
COPY_ROWS = 200_000
TRIES = 3
TITLE = "This machine against issue #13's"


@dataclass(frozen=True)
class Measure:
    """One hardware limit: the issue's figure and this machine's."""

    what: str
    issue: float
    unit: str
    measured: float | None  # None: not measured here (the reason in `note`)
    higher_is_better: bool
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """This machine over the issue's (above 1: faster)."""
        if self.measured is None:
            return None
        if self.higher_is_better:
            return self.measured / self.issue
        return self.issue / self.measured

    def shown(self, value: float | None) -> str:
        if value is None:
            return f"not measured ({self.note})" if self.note else "not measured"
        return f"{value:,.2f} {self.unit}" if value < 100 else f"{value:,.0f} {self.unit}"


def sha256_seconds(count: int, tries: int) -> float:
    """CPU seconds of one core for SHA-256 of 1,000,000 short ids, from `count` of them."""
    ids = [f"91330100MA{i:08d}".encode() for i in range(count)]
    sha256 = hashlib.sha256

    def hash_all() -> None:
        for identifier in ids:
            sha256(identifier).digest()

    return fastest_cpu_seconds(hash_all, tries) * 1_000_000 / count


def signs_per_second(suite: Suite, count: int, tries: int) -> float:
    """One core's signatures a second on envelope-sized messages."""
    signer = suite.private_key(suite.generate())
    messages = [os.urandom(300) for _ in range(count)]

    def sign_all() -> None:
        for message in messages:
            signer.sign(message)

    return count / fastest_cpu_seconds(sign_all, tries)


def copy_rows_per_second(
    admin_url: str, rows: int, tries: int, prefix: str = "ssj_bench_machine"
) -> float:
    """Rows a second of the fastest of `tries` COPYs of `rows` rows into a fresh table, in a
    scratch database (`prefix_<random>`) dropped afterwards. Raises `psycopg.OperationalError`
    without a server."""
    data = [(i, ROW) for i in range(rows)]
    best = float("inf")
    with scratch_database(prefix, admin_url) as url, psycopg.connect(url) as conn:
        for _ in range(tries):
            conn.execute("DROP TABLE IF EXISTS copied")
            conn.execute("CREATE TABLE copied (seq BIGINT PRIMARY KEY, state TEXT NOT NULL)")
            conn.commit()
            started = time.perf_counter()
            with conn.cursor() as cur, cur.copy("COPY copied (seq, state) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
            conn.commit()
            best = min(best, time.perf_counter() - started)
    return rows / best


def measure(admin_url: str = ADMIN_URL) -> list[Measure]:
    """This machine's figures for the issue's four hardware limits (at the module's sizes,
    read at the call)."""
    suite = get("ed25519-sha256")
    try:
        copied: float | None = copy_rows_per_second(admin_url, COPY_ROWS, TRIES)
        reason = ""
    except psycopg.OperationalError as e:
        copied, reason = None, f"no PostgreSQL: {str(e).splitlines()[0]}"
    return [
        Measure(
            "SHA-256 of 1,000,000 short ids, one core",
            0.37,
            "s",
            sha256_seconds(IDS, TRIES),
            False,
        ),
        Measure(
            "Ed25519 signatures a second, one core (libsodium)",
            50_000,
            "/s",
            signs_per_second(suite, SIGNATURES, TRIES),
            True,
        ),
        Measure(
            "Ed25519 verifications a second, one core (libsodium)",
            20_000,
            "/s",
            verifies_per_core(suite, SIGNATURES, 300, TRIES),
            True,
        ),
        Measure(
            f"PostgreSQL COPY, {COPY_ROWS:,} rows of 300 characters",
            150_000,
            "rows/s",
            copied,
            True,
            reason,
        ),
    ]


def rows(*runs: list[Measure]) -> list[tuple[str, ...]]:
    """One row per limit: the issue's figure, then each run's figure and ratio."""
    table = []
    for found in zip(*runs, strict=True):
        first = found[0]
        row = [first.what, first.shown(first.issue)]
        for m in found:
            ratio = m.ratio
            row += [m.shown(m.measured), "" if ratio is None else f"{ratio:.2f}"]
        table.append(tuple(row))
    return table


def columns(*labels: str) -> tuple[str, ...]:
    """The table's header for `rows` of runs named by `labels`."""
    named = [(f"measured{label}", f"ratio{label}") for label in labels]
    return ("hardware limit", "issue #13's machine", *(c for pair in named for c in pair))


def main(argv: list[str] | None = None) -> list[Measure]:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.machine", description=__doc__)
    parser.parse_args(argv)
    found = measure()
    print_table(Console(), TITLE, columns(""), rows(found))
    return found


if __name__ == "__main__":
    main()

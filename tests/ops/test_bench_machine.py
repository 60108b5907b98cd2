"""`ops.bench.machine`: this machine's figures for the hardware limits issue #13 states, beside
the issue's. (No timing is asserted: only that each is measured, and read the right way up.)"""

from __future__ import annotations

import psycopg
import pytest

from ops.bench import machine
from ssj.ledger.suite import get
from tests.conftest import PG_ADMIN_URL, require_postgres


def test_a_ratio_above_one_is_a_faster_machine() -> None:
    seconds = machine.Measure("SHA-256", 0.37, "s", 0.74, higher_is_better=False)
    rate = machine.Measure("verifications", 20_000, "/s", 30_000, higher_is_better=True)
    assert seconds.ratio == pytest.approx(0.5)
    assert rate.ratio == pytest.approx(1.5)
    missing = machine.Measure("COPY", 150_000, "rows/s", None, True, "no PostgreSQL: refused")
    assert missing.ratio is None
    assert missing.shown(missing.measured) == "not measured (no PostgreSQL: refused)"
    assert rate.shown(rate.issue) == "20,000 /s" and seconds.shown(0.74) == "0.74 s"


def test_the_cpu_limits_are_measured() -> None:
    suite = get("ed25519-sha256")
    # Scaled to the issue's million ids whatever the count: a tenth of the ids, about a tenth
    # of the seconds, so the figure is not the count's.
    assert 0 < machine.sha256_seconds(2_000, 1) < 1_000
    assert machine.signs_per_second(suite, 50, 1) > 0
    assert machine.verifies_per_core(suite, 50, 300, 1) > 0


def test_without_a_server_the_copy_is_not_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    small(monkeypatch)
    found = machine.measure("postgresql://postgres@127.0.0.1:1/postgres")
    assert [m.measured is not None for m in found] == [True, True, True, False]
    assert found[-1].note.startswith("no PostgreSQL: ")
    table = machine.rows(found, found)
    assert table[-1][2].startswith("not measured (no PostgreSQL") and table[-1][3] == ""
    assert len(table[0]) == len(machine.columns(" at the start", " at the end")) == 6


@pytest.mark.postgres
def test_the_copy_is_measured_in_a_database_of_its_own() -> None:
    require_postgres()
    # A prefix of its own: a whole-run test beside it measures the machine too (its scratch
    # database, alive at that moment, would fail this check).
    assert machine.copy_rows_per_second(PG_ADMIN_URL, 1_000, 2, "ssj_test_machine_copy") > 0
    with psycopg.connect(PG_ADMIN_URL) as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'ssj_test_machine_copy_%'"
        ).fetchall()
    assert left == []


def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's sizes for a test: milliseconds, not seconds."""
    monkeypatch.setattr(machine, "IDS", 1_000)
    monkeypatch.setattr(machine, "SIGNATURES", 20)
    monkeypatch.setattr(machine, "COPY_ROWS", 500)
    monkeypatch.setattr(machine, "TRIES", 1)

"""`python -m ops.bench all` reads each target from what a benchmark returns, and judges it.
(No timing is asserted: the figures here are made up.)"""

from __future__ import annotations

import re

import pytest

from ops.bench.__main__ import TARGETS, stated_rows
from ops.bench.projections import Result


def judged(bench: str, results: object) -> list[tuple[str, ...]]:
    return [row for t in TARGETS if t.bench == bench for row in t.rows(results)]


def test_draw_rows_are_read_and_judged() -> None:
    rows = [
        ("(a) draw: commit + dice + reveal", "2.50 s (commit 1.0 s, reveal 1.5 s)", "<= 3 s", ""),
        ("(b) ssj draw verify (read models)", "3.60 s (CPU 3.1 s), 12 checks passed", "", ""),
        ("(c) sampler, wall time: 1,000 ids", "ssj 0.10 s, reference 0.70 s: 7.0x (…)", "", ""),
    ]
    found = {r[0]: r for r in judged("draw", rows)}
    assert found["draw at 1M: commit + dice + reveal"][2:] == ("2.50 s", "1.20", "met")
    assert found["ssj draw verify"][2:] == ("3.60 s", "0.83", "MISSED")
    assert found["sampler vs the reference (wall time)"][-1] == "met"


def test_numeric_results_and_missing_figures() -> None:
    ledger = (
        [("SQLite", "100-event batches", 20_000.0, {"ed25519-sha256": 17_000.0})],
        [("SQLite", "ed25519-sha256", 1_000_001, 31_000.0, 28_000.0)],
        ["ed25519-sha256"],
    )
    judged_rows = judged("ledger", ledger)
    assert [r[-1] for r in judged_rows] == ["met", "met"]  # 0.85x plain; 31,000 events/s
    assert "signature bound 28,000/s" in judged_rows[1][0]
    catch_up = Result("sqlite", 50_000, 1.0, 1.0, 0.5, 0.5, (0, 0, 0), (0, 0, 0))
    assert judged("projections", [catch_up])[0][-1] == "met"
    assert judged("delivery", [])[0][2:] == ("not reported", "", "missed")


def test_a_benchmark_without_listed_targets_shows_its_own() -> None:
    rows = [("requests/s at 64 clients", "812", ">= 500", "met"), ("machine", "load 1.0", "", "")]
    assert stated_rows(rows) == [("requests/s at 64 clients", ">= 500", "812", "", "met")]


def test_the_serving_benchmark_is_read_from_its_report() -> None:
    from ops.bench.__main__ import _load_steps
    from ops.bench.load import Report, Step

    reads = Step("reads 200/s", 200, 30, achieved=199, p99_ms=80, target="p99 <= 100 ms", met=True)
    soak = Step("soak", 100, 600)  # states no target: not a row
    report = Report([reads, soak], {}, 0.25, True, (0, 0, 0), (0, 0, 0))
    assert [r[-1] for r in _load_steps(report)] == ["met", "MISSED"]  # RSS grew 25 %


def test_a_run_states_the_machines_python_pace(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """At the start and in the targets' title: how fast the machine was as the run began and
    ended; after the targets, its figures for the hardware limits issue #13 states, at the
    start and at the end."""
    import ops.bench.__main__ as bench
    from tests.ops.test_bench_machine import small

    monkeypatch.setattr(bench, "PACE_ADDITIONS", 1_000)
    small(monkeypatch)
    bench.main(["all", "--only", "nothing"])
    shown = " ".join(capsys.readouterr().out.split())  # the title wraps to the table's width
    assert re.search(r"Python pace: 1,000 additions in \d+\.\d\d CPU-s", shown)
    assert re.search(r"Targets of the issues .*Python pace \d+\.\d\d → \d+\.\d\d CPU-s\)", shown)
    ended = shown.rsplit("Targets of the issues", 1)[1]
    assert "This machine against issue #13's (ratio above 1: faster than that machine)" in ended
    assert re.search(r"SHA-256 of 1,000,000 short ids, one core │ 0\.37 s │ \d+\.\d\d s", ended)

"""Every benchmark of the project in one process tree, and one table of the issues' targets.

    python -m ops.bench all            (full sizes: an hour or more)
    python -m ops.bench all --quick    (small sizes: minutes; the figures are not the targets')
    python -m ops.bench all --only draw,projections
    make bench                         (the full run)

Each benchmark runs in turn in this process (its own worker processes and receivers as
children), prints its own table and returns its results (`main(argv)` of each module); the
targets are read from those results. The load average is printed before and after each one
(on a shared machine a figure means little without it), and the machine's Python pace at the
start and the end (`python_pace`: how fast it was then), and its figures for the hardware limits
issue #13 states (`ops.bench.machine`: SHA-256, Ed25519, PostgreSQL COPY) at the start and the
end, beside the issue's. A benchmark that fails is reported as such and the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from ops.bench import machine
from ops.bench.common import print_table
from ops.bench.procs import fastest_cpu_seconds

console = Console(width=160)

# Sizes per benchmark: --quick (minutes) and full (the issues' sizes).
RUNS: dict[str, tuple[list[str], list[str]]] = {
    "ledger": (
        [
            *("--rounds", "1", "--singles", "60", "--batches", "5"),
            *("--warm-up", "100", "--verify-events", "20000"),
        ],
        ["--verify-events", "1000000"],
    ),
    "draw": (["--targets", "30000", "--rounds", "3"], []),
    "registry": (["--import-rows", "10000", "--population", "20000", "--repeat", "1"], []),
    "bundle": (["--events", "30000"], []),
    "assessment": (["--targets", "10000"], []),
    "delivery": (["--records", "2000"], []),
    "projections": (["--targets", "10000"], []),
    "load": (["--quick"], []),  # ops.bench.load's run(quick) is called instead (it prints)
}


@dataclass(frozen=True)
class Target:
    """One target of the issues, read from a benchmark's results."""

    bench: str
    what: str
    bound: float
    unit: str
    higher_is_better: bool
    read: Callable[[Any], list[tuple[str, float]]]  # results -> [(detail, measured value)]

    def rows(self, results: Any) -> list[tuple[str, str, str, str, str]]:
        stated = f"{'>=' if self.higher_is_better else '<='} {self.bound:,g} {self.unit}"
        found = self.read(results)
        if not found:
            return [(self.what, stated, "not reported", "", "missed")]
        rows = []
        for detail, value in found:
            ratio = value / self.bound if self.higher_is_better else self.bound / value
            met = value >= self.bound if self.higher_is_better else value <= self.bound
            label = f"{self.what} ({detail})" if detail else self.what
            shown = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
            rows.append(
                (label, stated, f"{shown} {self.unit}", f"{ratio:.2f}", "met" if met else "MISSED")
            )
        return rows


NUMBER = r"([\d,]+(?:\.\d+)?)"


def _number(text: str, pattern: str) -> float | None:
    found = re.search(pattern.replace("#", NUMBER), text)
    return float(found.group(1).replace(",", "")) if found else None


def _rows(prefix: str, pattern: str, column: int = 1) -> Callable[[Any], list[tuple[str, float]]]:
    """Values from (measure, result, ...) rows whose measure starts with `prefix`."""

    def read(rows: Any) -> list[tuple[str, float]]:
        found = []
        for row in rows or []:
            if str(row[0]).strip().startswith(prefix):
                value = _number(str(row[column]), pattern)
                if value is not None:
                    found.append(("", value))
        return found

    return read


def _ledger_ratios(results: Any) -> list[tuple[str, float]]:
    rows, _, _ = results
    return [
        (f"{backend}, {label}", rates["ed25519-sha256"] / plain)
        for backend, label, plain, rates in rows
        if "ed25519-sha256" in rates
    ]


def _ledger_verify(results: Any) -> list[tuple[str, float]]:
    _, verify_rows, _ = results  # the target is the default suite's (sm2-sm3 has its own)
    return [
        (f"{b}, {n:,} events; this machine's signature bound {bound:,.0f}/s", r)
        for b, s, n, r, bound in verify_rows
        if s == "ed25519-sha256"
    ]


def _bundle_bytes(rows: Any) -> list[tuple[str, float]]:
    found = _rows("(a) export", r"# bytes/event")(rows)
    if found:
        return found
    size = next((_number(str(r[1]), r"^#") for r in rows or [] if "layout" in str(r[0])), None)
    megabytes = next(
        (_number(str(r[1]), r"# MB") for r in rows or [] if str(r[0]).startswith("(a)")), None
    )
    return [("", megabytes * 1e6 / size)] if size and megabytes else []


def _delivery(results: Any) -> list[tuple[str, float]]:
    return [(f"{r['run']}, batch {r.get('batch', 1)}", r["per_second"]) for r in results or []]


def _projections(results: Any) -> list[tuple[str, float]]:
    return [(f"{r.backend}, {r.events:,} events", r.rate) for r in results or []]


def _load_steps(report: Any) -> list[tuple[str, str, str, str, str]]:
    """ops.bench.load's steps that state a target, as it judged them."""
    found = []
    for step in getattr(report, "steps", []):
        if step.target:
            shown = f"p99 {step.p99_ms:,.0f} ms, {step.achieved:,.0f}/s, {step.errors} errors"
            verdict = "met" if step.met else "MISSED"
            found.append((f"serving: {step.name}", step.target, shown, "", verdict))
    if getattr(report, "rss_growth", None) is not None:
        growth = report.rss_growth
        verdict = "met" if growth <= 0.10 else "MISSED"
        found.append(("serving: soak, API workers' RSS", "<= +10 %", f"{growth:+.1%}", "", verdict))
    return found


def stated_rows(rows: Any) -> list[tuple[str, str, str, str, str]]:
    """A benchmark without entries in TARGETS (e.g. one added later): its own rows that state a
    target, as it judged them."""
    found = []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, tuple | list) and len(row) >= 4 and str(row[2]).strip():
            found.append((str(row[0]), str(row[2]), str(row[1]), "", str(row[3])))
    return found


TARGETS = [
    Target("ledger", "signed ledger vs plain eventsourcing", 0.8, "x", True, _ledger_ratios),
    Target("ledger", "ssj verify", 30_000, "events/s", True, _ledger_verify),
    Target("draw", "draw at 1M: commit + dice + reveal", 3, "s", False, _rows("(a) draw", r"^#")),
    Target("draw", "ssj draw verify", 3, "s", False, _rows("(b) ssj draw verify", r"^#")),
    Target(
        "draw",
        "sampler vs the reference (wall time)",
        6,
        "x",
        True,
        _rows("(c) sampler, wall", r": #x"),
    ),
    Target("registry", "registry import", 10_000, "rows/s", True, _rows("(a) import", r"# rows/s")),
    Target("projections", "projection catch-up", 25_000, "events/s", True, _projections),
    Target(
        "bundle",
        "ssj audit verify (offline bundle)",
        30_000,
        "events/s",
        True,
        _rows("(b) offline verify", r"^# events/s"),
    ),
    Target("bundle", "bundle size", 400, "bytes/event", False, _bundle_bytes),
    Target(
        "assessment",
        "assessment of a year, every department",
        30,
        "s",
        False,
        _rows("(a) assessment", r"^# s"),
    ),
    Target("delivery", "delivery to a platform", 1_000, "records/s", True, _delivery),
]


def available(name: str) -> bool:
    return importlib.util.find_spec(f"ops.bench.{name}") is not None


def run_one(name: str, argv: list[str]) -> tuple[Any, str | None, float]:
    """(results, error, seconds) of one benchmark's `main(argv)`."""
    t0 = time.perf_counter()
    try:
        module = importlib.import_module(f"ops.bench.{name}")
        if name == "load":  # its run() returns the report, print_report shows it
            report = module.run("--quick" in argv)
            module.print_report(report)
            return report, None, time.perf_counter() - t0
        return module.main(argv), None, time.perf_counter() - t0
    except (Exception, SystemExit) as e:
        traceback.print_exc()
        return None, f"{type(e).__name__}: {e}", time.perf_counter() - t0


def load_text() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


PACE_ADDITIONS = 10_000_000


def python_pace(tries: int = 3) -> float:
    """CPU seconds of the fastest of `tries` loops of `PACE_ADDITIONS` integer additions in a
    function: how fast this machine ran Python as the run started and ended, beside the
    signature bound the ledger and bundle benchmarks measure. It is a record, not a predictor:
    the figures of docs/operators/benchmarks.md were measured at 0.22 to 1.63 CPU-s, and on
    2026-12-07 one machine's loop went from 0.55 to 0.30 CPU-s within an hour while its
    catch-up stayed at 16,500-19,700 events/s."""

    def loop() -> int:
        total = 0
        for i in range(PACE_ADDITIONS):
            total += i
        return total

    return fastest_cpu_seconds(loop, tries)


def run_all(quick: bool, only: list[str] | None = None) -> list[tuple[str, ...]]:
    """Run the benchmarks; returns the target table's rows."""
    chosen = [n for n in RUNS if (only is None or n in only) and available(n)]
    results: dict[str, Any] = {}
    ran: list[tuple[str, str, str, str]] = []
    for name in chosen:
        argv = RUNS[name][0 if quick else 1]
        before = load_text()
        console.rule(f"ops.bench.{name} {' '.join(argv)}  (load {before})")
        found, error, seconds = run_one(name, argv)
        results[name] = found
        ran.append((name, f"{seconds:.0f} s", f"{before} → {load_text()}", error or "ok"))
    print_table(console, "Benchmarks run", ("benchmark", "time", "load average", "outcome"), ran)
    rows: list[tuple[str, ...]] = []
    for target in TARGETS:
        if target.bench in results:
            rows += [(target.bench, *row) for row in target.rows(results[target.bench])]
    for name in results.keys() - {t.bench for t in TARGETS}:
        read = _load_steps if name == "load" else stated_rows
        rows += [(name, *row) for row in read(results[name])]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ops.bench", description=__doc__)
    parser.add_argument("command", choices=["all"])
    parser.add_argument("--quick", action="store_true", help="small sizes (minutes)")
    parser.add_argument("--only", help="comma-separated benchmarks: " + ", ".join(RUNS))
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",")] if args.only else None
    pace = python_pace()
    console.print(f"Python pace: {PACE_ADDITIONS:,} additions in {pace:.2f} CPU-s")
    at_start = machine.measure()
    print_table(console, machine.TITLE, machine.columns(""), machine.rows(at_start))
    started, before = time.perf_counter(), load_text()
    rows = run_all(args.quick, only)
    mode = "quick sizes" if args.quick else "full sizes"
    seconds, after = time.perf_counter() - started, load_text()
    print_table(
        console,
        f"Targets of the issues ({mode}, {os.cpu_count()} cores, load {before} → {after}, "
        f"{seconds:.0f} s in all; Python pace {pace:.2f} → {python_pace():.2f} CPU-s)",
        ("benchmark", "target", "bound", "measured", "ratio", "verdict"),
        rows,
    )
    print_table(
        console,
        f"{machine.TITLE} (ratio above 1: faster than that machine)",
        machine.columns(" at the start", " at the end"),
        machine.rows(at_start, machine.measure()),
    )


if __name__ == "__main__":
    main()

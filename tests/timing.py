"""`--cpu-durations=N`: the N slowest tests with their CPU time beside their wall time.

Why: `--durations` shows where the suite's time goes, not whether a test computes or waits
(sleeps, polls, servers starting, a loaded machine). Here each test's setup, call and teardown
are timed by the wall clock and by CPU time: the test process's own, and its children's that it
waited for (subprocesses, `ssj serve`, import jobs). Wall minus both is time the test spent
waiting (or, on a loaded machine, waiting for a core). The database server's CPU is not counted.
Works under pytest-xdist: the figures travel in each report's user_properties.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Generator
from typing import Any

import pytest

KEY = "ssj_cpu_seconds"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("terminal reporting").addoption(
        "--cpu-durations",
        type=int,
        default=None,
        metavar="N",
        help="show the N slowest tests with wall, own CPU and child CPU seconds (0: all)",
    )


def _clock() -> tuple[float, float, float]:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), time.process_time(), children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    outcome: Any = yield
    start = getattr(item, "_ssj_clock", None)
    if start is None or item.config.getoption("cpu_durations") is None:
        return
    _, cpu, children = _clock()
    figures = (call.duration, cpu - start[1], children - start[2])
    outcome.get_result().user_properties.append((KEY, figures))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None]:
    item._ssj_clock = _clock()  # type: ignore[attr-defined]
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None]:
    item._ssj_clock = _clock()  # type: ignore[attr-defined]
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None]:
    item._ssj_clock = _clock()  # type: ignore[attr-defined]
    yield


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    wanted = config.getoption("cpu_durations")
    if wanted is None:
        return
    totals: dict[str, list[float]] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for key, figures in getattr(report, "user_properties", ()):
                if key == KEY:
                    row = totals.setdefault(report.nodeid, [0.0, 0.0, 0.0])
                    for i, value in enumerate(figures):
                        row[i] += value
    rows = sorted(totals.items(), key=lambda kv: -kv[1][0])
    wall, cpu, children = (sum(r[i] for _, r in rows) for i in range(3))
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", f"slowest {wanted or 'all'} tests: wall and CPU seconds")
    write(f"all {len(rows)} tests: wall {wall:.1f}, own CPU {cpu:.1f}, child CPU {children:.1f}")
    write(f"{'wall':>8} {'cpu':>7} {'child':>7} {'wait':>7}  test")
    for nodeid, (w, c, ch) in rows[: wanted or None]:
        write(f"{w:8.2f} {c:7.2f} {ch:7.2f} {max(w - c - ch, 0.0):7.2f}  {nodeid}")

"""This process's CPU time for the machine's own pace. Other processes' CPU time (what the
benchmarks count beside wall time for their workers and the database's server: a busy machine
stretches wall time, not CPU time) is read from Linux's /proc by `ssj.processes`."""

from __future__ import annotations

import time
from collections.abc import Callable


def fastest_cpu_seconds(work: Callable[[], object], tries: int) -> float:
    """This process's CPU seconds for the fastest of `tries` calls of `work` (other work on the
    machine only slows a call down)."""
    best = float("inf")
    for _ in range(tries):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best

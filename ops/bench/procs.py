"""Other processes' CPU time, from Linux's /proc: what the benchmarks count beside wall time (a
busy machine stretches wall time, not CPU time), for their workers and the database's server;
and this process's, for the machine's own pace."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command's name (the state first, then the
    parent's pid, …; utime and stime at 11 and 12, the reaped children's at 13 and 14), or None
    if the process is gone or cannot be read."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_ticks(fields: list[str], *, reaped: bool = False) -> int:
    """Clock ticks of CPU in a process's `stat_fields` (with `reaped`, its ended children's
    too)."""
    return sum(int(fields[i]) for i in ((11, 12, 13, 14) if reaped else (11, 12)))


def process_cpu(pid: int) -> float:
    """CPU seconds so far of one process (0.0 if it is gone)."""
    fields = stat_fields(pid)
    return 0.0 if fields is None else cpu_ticks(fields) / TICKS


def fastest_cpu_seconds(work: Callable[[], object], tries: int) -> float:
    """This process's CPU seconds for the fastest of `tries` calls of `work` (other work on the
    machine only slows a call down)."""
    best = float("inf")
    for _ in range(tries):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best

"""Worker processes that share CPU-bound work with their caller over a pipe.

What the draw workers (ssj.services.workers) and the signer processes (ssj.ledger.signing) have
in common: each worker is a fresh interpreter (`python -m MODULE`, fork and exec: never a bare
fork beside the API server's or psycopg's threads) running this copy of ssj, says it is ready
with one byte, then answers length-prefixed pickles on stdin/stdout until its input ends.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from ssj.errors import ConfigurationError

READY = b"R"
_SIZE = struct.Struct(">Q")
TICKS = os.sysconf("SC_CLK_TCK")


class WorkerGone(EOFError):
    """The other end of the pipe ended (killed, out of memory, or the input is finished)."""


def worker_count(variable: str, minimum: int) -> int:
    """Workers to run: the environment `variable`, else one less than the usable cores (at
    least `minimum`). Read per process, not from `Settings`: workers belong to the process."""
    configured = os.environ.get(variable, "").strip()
    if not configured:
        return max(minimum, len(os.sched_getaffinity(0)) - 1)
    if not configured.isdigit():
        raise ConfigurationError(
            f"环境变量 {variable} 应为非负整数：{configured!r}",
            f"{variable} must be a whole number of 0 or more: {configured!r}",
        )
    return int(configured)


def read_exact(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise WorkerGone("the worker process ended")
    return data


def send(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_SIZE.pack(len(data)) + data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    (size,) = _SIZE.unpack(read_exact(stream, _SIZE.size))
    return pickle.loads(read_exact(stream, size))


def spawn(module: str) -> subprocess.Popen[bytes]:
    """`python -m module` with pipes, this copy of ssj first on its path (a worker runs the
    same code as its caller whatever its working directory holds)."""
    here = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", module],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        close_fds=True,
        env=env,
    )


def announce_ready() -> tuple[IO[bytes], IO[bytes]]:
    """In a worker: say ready and return its (input, output) pipes; stdout is redirected to
    stderr, so nothing printed by accident can break the protocol."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    out.write(READY)
    out.flush()
    return inp, out


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command's name (the state first, then the
    parent's pid, …; utime and stime at 11 and 12, the reaped children's at 13 and 14), or None
    if the process is gone or cannot be read (another system)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_ticks(fields: list[str], *, reaped: bool = False) -> int:
    """Clock ticks of CPU in a process's `stat_fields` (with `reaped`, its ended children's
    too)."""
    return sum(int(fields[i]) for i in ((11, 12, 13, 14) if reaped else (11, 12)))


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system) so far of one process (0.0 if it is gone or cannot be
    read)."""
    fields = stat_fields(pid)
    return 0.0 if fields is None else cpu_ticks(fields) / TICKS

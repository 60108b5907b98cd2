"""Test-only: holds one uvicorn worker of `ssj serve --workers N` in its start-up, for ever.

On PYTHONPATH with `SSJ_TEST_STALL_DIR` set (tests/api/test_uvicorn_supervisor.py), Python
imports this at start-up in every process; only a multiprocessing spawn child (a uvicorn worker:
`--multiprocessing-fork` in its argv) acts, and only the first to create `stalled` there. It stops
where a real worker is slowest on a busy machine: before the worker has unpickled its config or
started the thread that answers the supervisor's health pings. It writes `pinged` once the
supervisor's ping is waiting unanswered in the worker's end of the pipe (inherited, unread), so
the test can signal at the one moment uvicorn 0.55.0 could not stop for 60 s. The signal's
default action ends the process: no handler of Python's or uvicorn's is installed yet (SIGINT's
KeyboardInterrupt ends it too).
"""

from __future__ import annotations

import os
import sys


def _stall(directory: str) -> None:
    try:
        fd = os.open(os.path.join(directory, "stalled"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return  # another worker is the stalled one: this one starts as usual
    os.write(fd, str(os.getpid()).encode("ascii"))
    os.close(fd)
    import time

    while not _pinged():
        time.sleep(0.02)
    with open(os.path.join(directory, "pinged"), "w"):
        pass
    while True:
        time.sleep(3600)  # until a signal ends this process


def _pinged() -> bool:
    """Whether an inherited Unix socket (the worker's end of uvicorn's pipe) holds a ping."""
    import socket

    for name in os.listdir("/proc/self/fd"):
        try:
            fd = os.dup(int(name))
        except OSError:
            continue  # the listing's own descriptor, closed by now
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            os.close(fd)
            continue  # not a socket
        with sock:
            if sock.family != socket.AF_UNIX:
                continue
            try:
                if b"ping" in sock.recv(256, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                    return True
            except OSError:
                pass  # nothing to read
    return False


if os.environ.get("SSJ_TEST_STALL_DIR") and "--multiprocessing-fork" in sys.argv:
    _stall(os.environ["SSJ_TEST_STALL_DIR"])

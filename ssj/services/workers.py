"""Other processes for a draw's hashing (sorting, Merkle roots, samples, team rankings).

Each worker is a fresh interpreter (`python -m ssj.services.workers`) started by fork and
exec, never a fork that keeps running beside the API server's or psycopg's threads, which
could leave it holding a lock no thread will release. It imports numpy and the draw modules
once, says it is ready, then answers calls read from its stdin: a pure function of `ssj.draw`
and its argument, pickled (the argument is bytes, newline-joined ids, or short lists: nothing
big goes object by object). The caller works too, taking calls from the end of the list while
each worker takes them from the front once it is ready (a worker still starting joins a call
already running), so a busy or still-starting worker never makes a draw slower than working
alone.

`SSJ_DRAW_WORKERS` sets the number of workers (default: one less than the usable cores; 0
keeps all the work in the calling process).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import pickle
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ssj.processes import (
    READY,
    WorkerGone,
    announce_ready,
    read_exact,
    receive,
    send,
    spawn,
    worker_count,
)

T = TypeVar("T")
R = TypeVar("R")

PRELOAD = ("numpy", "ssj.draw.procedure")  # imported by each worker before it says ready
JOIN_POLL = 0.005  # seconds between looks at whether a starting worker is ready


def count() -> int:
    """Worker processes to run: SSJ_DRAW_WORKERS, else one less than the usable cores."""
    return worker_count("SSJ_DRAW_WORKERS", 0)


class _Worker:
    def __init__(self) -> None:
        self.process = spawn("ssj.services.workers")
        self.busy = threading.Lock()  # one caller's calls at a time
        self.ready = threading.Event()
        self.gone = False
        threading.Thread(target=self._await_ready, name="ssj-draw-worker", daemon=True).start()

    def _await_ready(self) -> None:
        try:
            assert self.process.stdout is not None
            if read_exact(self.process.stdout, 1) == READY:
                self.ready.set()
                return
        except (WorkerGone, OSError):
            pass
        self.gone = True

    def call(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            send(self.process.stdin, (fn, arg))
            ok, value = receive(self.process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError):
            self.gone = True
            self.process.kill()
            raise WorkerGone("the worker process ended") from None
        if not ok:
            raise value
        return value

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()  # the worker ends at the end of its input


_lock = threading.Lock()
_workers: list[_Worker] = []


def warm() -> None:
    """Start the workers (if not running), without waiting for them: they import the draw
    modules while the caller reads the registry."""
    wanted = count()
    with _lock:
        _workers[:] = [w for w in _workers if not w.gone]
        while len(_workers) < wanted:
            _workers.append(_Worker())


def ready(timeout: float) -> bool:
    """Start the workers if need be and wait up to `timeout` seconds until all are ready."""
    warm()
    with _lock:
        workers = list(_workers)
    return bool(workers) and all(w.ready.wait(timeout) for w in workers)


def pids() -> list[int]:
    """The worker processes' ids (for accounting, e.g. a benchmark's CPU time)."""
    with _lock:
        return [w.process.pid for w in _workers if not w.gone]


@atexit.register
def _close() -> None:
    with _lock:
        for w in _workers:
            w.close()


def _idle() -> list[_Worker]:
    """Workers no other caller is using, ready or still starting, reserved for this one."""
    with _lock:
        candidates = list(_workers)
    return [w for w in candidates if not w.gone and w.busy.acquire(False)]


def run(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`[fn(item) for item in items]`, the calls shared between the workers (ready ones at
    once, starting ones as soon as they are ready) and the caller."""
    jobs = list(items)
    warm()
    helpers = _idle() if len(jobs) > 1 else []
    if not helpers:
        return [fn(job) for job in jobs]
    results: list[Any] = [None] * len(jobs)
    failed: dict[int, BaseException] = {}
    left: list[int] = []  # calls a worker could not finish: done here at the end
    bounds = [0, len(jobs)]  # the next call from the front, one past the last from the end
    taking = threading.Lock()

    def take(front: bool) -> int | None:
        with taking:
            if bounds[0] >= bounds[1]:
                return None
            if front:
                bounds[0] += 1
                return bounds[0] - 1
            bounds[1] -= 1
            return bounds[1]

    def drive(worker: _Worker) -> None:
        try:
            # A worker still starting (a draw's first call comes a few tenths of a second after
            # `warm`) joins when it is ready, unless the caller has taken every call by then.
            while not worker.ready.wait(JOIN_POLL):
                if worker.gone or bounds[0] >= bounds[1]:
                    return
            while (n := take(front=True)) is not None:
                try:
                    results[n] = worker.call(fn, jobs[n])
                except WorkerGone:
                    left.append(n)
                    return
                except BaseException as e:
                    failed[n] = e
        finally:
            worker.busy.release()

    threads = [threading.Thread(target=drive, args=(w,), daemon=True) for w in helpers]
    for t in threads:
        t.start()
    while (n := take(front=False)) is not None:
        try:
            results[n] = fn(jobs[n])
        except Exception as e:
            failed[n] = e
    for t in threads:
        t.join()
    for n in left:
        try:
            results[n] = fn(jobs[n])
        except Exception as e:
            failed[n] = e
    if failed:
        raise failed[min(failed)]
    return results


def serve() -> None:
    """A worker's life: import, say ready, answer calls until the input ends."""
    for module in PRELOAD:
        importlib.import_module(module)
    inp, out = announce_ready()
    while True:
        try:
            fn, arg = receive(inp)
        except WorkerGone:
            return
        try:
            answer: tuple[bool, Any] = (True, fn(arg))
        except Exception as e:
            answer = (False, e)
        try:
            send(out, answer)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            send(out, (False, RuntimeError(f"{type(e).__name__}: {e}")))


if __name__ == "__main__":
    serve()

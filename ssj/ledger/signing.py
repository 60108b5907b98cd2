"""Signing a large batch's envelopes in other processes, while the writer works with the database.

One signature per envelope stays: Ed25519 in libsodium costs about 20 µs of CPU, as much as half
of what a plain eventsourcing batch spends per event. A thread cannot take that off the writer:
its Python loop needs the GIL between two C calls, and the writer holds it while it encodes and
inserts, so the thread waits out the switch interval for every signature. A process has no GIL
to share. So a writer with a batch of `FROM` envelopes or more sends them, in one write per
worker, to signer processes and collects the signatures after inserting the events.

Each worker is a fresh interpreter (`python -m ssj.ledger.signing`, fork and exec: never a fork
that keeps running beside the API server's or psycopg's threads). It receives the signer key
string with each batch (the same user's private key, over a pipe only its parent holds) and keeps
the parsed key. A worker that is still starting, busy with another writer's batch, or gone is
simply not used: the writer signs that part itself, so a worker never makes an append slower
than signing alone, nor wrong (the signatures are the same bytes wherever they are made).

`SSJ_SIGN_WORKERS` sets the number of workers (default: one less than the usable cores, at
least one; 0 signs everything in the writing process).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import select
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ssj.processes import READY, announce_ready, read_exact, receive, send, spawn, worker_count

FROM = 16  # envelopes in a batch from which workers sign (below, the pipe costs more)


def count() -> int:
    """Signer processes to run: SSJ_SIGN_WORKERS, else one less than the usable cores (at least
    one: on one core the writer still waits on the database while a worker signs)."""
    return worker_count("SSJ_SIGN_WORKERS", 1)


class _Worker:
    def __init__(self) -> None:
        self.process = spawn("ssj.ledger.signing")
        self.busy = threading.Lock()  # one batch at a time
        self.ready = False
        self.gone = False

    def usable(self) -> bool:
        """Ready (its start-up byte arrived, checked without waiting) and not gone."""
        if self.gone:
            return False
        if not self.ready:
            out = self.process.stdout
            assert out is not None
            try:
                if not select.select([out], [], [], 0)[0]:
                    return False
                self.ready = read_exact(out, 1) == READY
            except (OSError, EOFError, ValueError):
                self.ready = False
            self.gone = not self.ready
        return self.ready

    def fail(self) -> None:
        self.gone = True
        with contextlib.suppress(OSError):
            self.process.kill()

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()  # the worker ends at the end of its input


_lock = threading.Lock()
_workers: list[_Worker] = []
_owner = os.getpid()  # a forked child must not write to its parent's signer pipes


def _reserve(wanted: int) -> list[_Worker]:
    """Up to `wanted` ready, idle workers, reserved for the caller; start missing ones (they are
    used from a later batch on, once ready)."""
    global _owner
    with _lock:
        if _owner != os.getpid():
            _owner = os.getpid()
            _workers.clear()  # the parent's: left to it
        _workers[:] = [w for w in _workers if not w.gone]
        while len(_workers) < count():
            _workers.append(_Worker())
        candidates = list(_workers)
    found: list[_Worker] = []
    for w in candidates:
        if len(found) == wanted:
            break
        if w.busy.acquire(False):
            if w.usable():
                found.append(w)
            else:
                w.busy.release()
    return found


def pids() -> list[int]:
    """The worker processes' ids (for accounting, e.g. a benchmark's CPU time)."""
    with _lock:
        return [w.process.pid for w in _workers if not w.gone]


@atexit.register
def _close() -> None:
    with _lock:
        for w in _workers if _owner == os.getpid() else ():
            w.close()


class Signing:
    """Signatures of one batch, being made: by workers (each a contiguous part) and by the
    caller for whatever no worker took. `result()` waits for them (once; later calls return
    the same list) and frees the workers; so does `discard()` for a batch not written."""

    def __init__(self, signer_key: str, sign: Callable[[bytes], bytes], messages: list[bytes]):
        self._sign = sign
        self._messages = messages
        self._parts: list[tuple[_Worker | None, int, int]] = []
        self._result: list[bytes] | None = None
        workers = _reserve(count()) if len(messages) >= FROM and count() else []
        step = -(-len(messages) // max(len(workers), 1))
        for i, w in enumerate(workers):
            lo, hi = i * step, min((i + 1) * step, len(messages))
            assert w.process.stdin is not None
            try:
                send(w.process.stdin, (signer_key, messages[lo:hi]))
            except OSError:
                w.fail()
                w.busy.release()
                w = None  # type: ignore[assignment]
            self._parts.append((w, lo, hi))
        if not workers:
            self._result = [sign(m) for m in messages]

    def result(self) -> list[bytes]:
        if self._result is None:
            out: list[bytes] = []
            for w, lo, hi in self._parts:
                out.extend(self._collect(w, lo, hi))
            self._parts = []
            self._result = out
        return self._result

    def discard(self) -> None:
        for w, _, _ in self._parts:
            if w is not None:
                with contextlib.suppress(Exception):
                    assert w.process.stdout is not None
                    receive(w.process.stdout)
                w.busy.release()
        self._parts = []

    def _collect(self, w: _Worker | None, lo: int, hi: int) -> list[bytes]:
        part = self._messages[lo:hi]
        if w is None:
            return [self._sign(m) for m in part]
        try:
            assert w.process.stdout is not None
            ok, value = receive(w.process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError):
            w.fail()
            ok, value = False, None
        finally:
            w.busy.release()
        if not ok or len(value) != len(part):
            return [self._sign(m) for m in part]  # the worker is gone, or refused the key
        return value  # type: ignore[no-any-return]


def sign_all(signer_key: str, messages: Sequence[bytes], keys: dict[str, Any]) -> list[bytes]:
    """A worker's answer to one batch: every message signed by the signer key's private key."""
    from ssj.ledger import note

    private = keys.get(signer_key)
    if private is None:
        signer = note.parse_signer_key(signer_key)
        private = keys[signer_key] = signer.suite.private_key(signer.seed)
    sign = private.sign
    return [sign(m) for m in messages]


def serve() -> None:
    """A worker's life: import, say ready, sign batches until the input ends."""
    from ssj.ledger import note  # noqa: F401  (imported before saying ready)

    inp, out = announce_ready()
    keys: dict[str, Any] = {}
    while True:
        try:
            signer_key, messages = receive(inp)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, sign_all(signer_key, messages, keys))
        except Exception as e:
            answer = (False, f"{type(e).__name__}: {e}")
        send(out, answer)


if __name__ == "__main__":
    serve()
